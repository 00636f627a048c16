/*
 * control.socket: host programs ask the VMM for its status, to stop, to
 * press the power button, to pause and resume. One JSON object per line
 * both ways, versioned; see docs/control-protocol.md. Only root and the
 * configured user get in (SO_PEERCRED). Served from the main loop.
 */
#ifndef VMSILO_CONTROL_H
#define VMSILO_CONTROL_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "vmm/json.h"

#define CONTROL_PROTOCOL_VERSION 1
#define CONTROL_MAX_CLIENTS 16
#define CONTROL_REPLY_MAX 4096
/* The longest "wait" a balloon request may ask for (vm-balloon --wait too). */
#define CONTROL_BALLOON_MAX_WAIT_S 600

struct vm;
struct runtime_dir;
struct agent_watch;
struct control;

struct control_client {
	struct control *ctl;
	int fd;			/* -1: a free slot */
	uid_t uid;
	char in[JSON_MAX_LINE + 1];	/* a request line and its newline */
	size_t in_len;
	bool overlong;		/* dropping the rest of a too-long line */
	bool closing;		/* the peer finished sending: close once flushed */
	bool pending;		/* a reply is deferred (balloon wait, balloon_stats):
				 * later lines wait for it */
	bool subscribed;	/* gets balloon event lines */
	char out[2 * CONTROL_REPLY_MAX];
	size_t out_len;
};

struct control {
	int listen_fd;
	uid_t uid;		/* besides root, the one user let in */
	const char *name;	/* the VM's, for messages */
	struct timespec started;
	struct vm *vm;		/* the VM being run, see control_attach */
	const struct agent_watch *agent;	/* NULL: no [vsock], no agent */
	struct control_client clients[CONTROL_MAX_CLIENTS];
};

/* Listens on <runtime dir>/control.socket (mode 0660, the user's). */
int control_open(struct control *ctl, struct runtime_dir *rd, const char *name,
		 const struct agent_watch *agent, char *err, size_t errlen);
/* Serves through vm's main loop; again after each vm_create (reboot):
 * then what clients waited for fails ("the VM restarted") and their
 * subscriptions end with a {"event":"vm_restarted"} line. */
void control_attach(struct control *ctl, struct vm *vm);
void control_close(struct control *ctl);

/* Takes a connected socket as a client, after the SO_PEERCRED check. */
void control_add_client(struct control *ctl, int fd);
/* One request line (without its newline) in, one reply line out;
 * returns the reply's length, or 0 when from->pending was set: the reply
 * comes later (a balloon wait, balloon_stats). */
size_t control_handle(struct control *ctl, struct control_client *from,
		      const char *line, size_t len, char *reply, size_t size);

#endif
