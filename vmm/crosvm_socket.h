/*
 * crosvm.socket ([control] crosvm_socket = true): a second control socket
 * that speaks crosvm's wire format (crosvm_wire.h) for the requests
 * vmsilo's memory daemon sends, so it can drive this VMM as it drives
 * crosvm. SOCK_SEQPACKET, one request and one reply per datagram; made as
 * control.socket is, and only root and the VM's user are served
 * (SO_PEERCRED). Served from the main loop; docs/crosvm-socket.md.
 */
#ifndef VMSILO_CROSVM_SOCKET_H
#define VMSILO_CROSVM_SOCKET_H

#include <stdbool.h>
#include <sys/types.h>

#include "vmm/crosvm_wire.h"

#define CROSVM_MAX_CLIENTS 8
#define CROSVM_STATS_TIMEOUT_MS 1000	/* then the last stats, however old */
#define CROSVM_ADJUST_WAIT_MS 30000	/* wait_for_success: then {"Err":ETIMEDOUT} */

struct vm;
struct runtime_dir;
struct crosvm_socket;

struct crosvm_client {
	struct crosvm_socket *cs;
	int fd;			/* -1: a free slot */
	uid_t uid;
	bool waiting;		/* for the balloon: stats, or the target reached */
	char reply[CROSVM_REPLY_MAX];	/* not sent yet: the peer's buffer was full */
	size_t reply_len;
};

struct crosvm_socket {
	int listen_fd;		/* -1: not configured */
	uid_t uid;		/* besides root, the one user let in */
	const char *name;	/* the VM's, for messages */
	struct vm *vm;		/* see crosvm_socket_attach */
	struct crosvm_client clients[CROSVM_MAX_CLIENTS];
};

/* Listens on <runtime dir>/crosvm.socket (mode 0660, the user's). */
int crosvm_socket_open(struct crosvm_socket *cs, struct runtime_dir *rd, const char *name,
		       char *err, size_t errlen);
/* Serves through vm's main loop; again after each vm_create (reboot). */
void crosvm_socket_attach(struct crosvm_socket *cs, struct vm *vm);
/* After the VM is destroyed: only closes. */
void crosvm_socket_close(struct crosvm_socket *cs);
/* Takes a connected SOCK_SEQPACKET socket as a client, after the SO_PEERCRED check. */
void crosvm_socket_add_client(struct crosvm_socket *cs, int fd);

#endif
