/*
 * The host tools' side of a VM's control.socket (docs/control-protocol.md):
 * connect, send one command, read its reply, wait for the VMM to go away.
 */
#ifndef VMSILO_CONTROL_CLIENT_H
#define VMSILO_CONTROL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/json.h"
#include "vmm/vm_name.h"	/* vm_name_valid, VMSILO_DEFAULT_RUNTIME_DIR */

#define DEFAULT_CONFIG_DIR "/etc/vmsilo"

struct ctl_conn {
	int fd;
	char path[108];		/* <runtime dir>/<name>/control.socket */
	char buf[JSON_MAX_LINE + 2];
	size_t len;
	char line[JSON_MAX_LINE + 1];	/* the last reply, as sent; nested values point here */
};

/* "<runtime_dir>/<name>/<file>" into out; -1 if it does not fit. */
int vm_runtime_path(char *out, size_t size, const char *runtime_dir, const char *name,
		    const char *file);

/*
 * 0 when connected; -1 with errno (ENOENT or ECONNREFUSED: not running;
 * EPERM: control.socket is not the VM's, see vm_socket.h).
 */
int ctl_connect(struct ctl_conn *c, const char *runtime_dir, const char *name);
/*
 * Sends {"version":1,"command":command} and reads the reply into reply:
 * 1 for "ok":true, 0 for an error reply (see its "error"), -1 when the
 * connection ended or nothing came within timeout_ms (errno set).
 */
int ctl_request(struct ctl_conn *c, const char *command, struct json_object *reply,
		int timeout_ms);
/* The same for a whole request object (without its newline), e.g. one with arguments. */
int ctl_request_json(struct ctl_conn *c, const char *request, struct json_object *reply,
		     int timeout_ms);
/* Reads and drops what comes until the VMM closes the connection (0) or
 * timeout_ms passes (-1). */
int ctl_wait_closed(struct ctl_conn *c, int timeout_ms);
void ctl_close(struct ctl_conn *c);

#endif
