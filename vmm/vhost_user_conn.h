/*
 * One vhost-user connection's bytes and fds: a message sent with its fds
 * (SCM_RIGHTS, MSG_NOSIGNAL), one received with a deadline. The socket is
 * non-blocking; every wait is a poll with what is left of the deadline.
 * Whatever the peer sends is hostile: fds beyond what the caller takes,
 * or cut off (MSG_CTRUNC), are closed and make the receive fail.
 */
#ifndef VMSILO_VHOST_USER_CONN_H
#define VMSILO_VHOST_USER_CONN_H

#include <stddef.h>
#include <sys/types.h>

#include "virtio/vhost_user_proto.h"

/* A non-blocking, close-on-exec stream socket connected to path; -errno. */
/* Connects to the socket at path (no symlink as its last component) and
 * checks the peer: its uid (in *peer) must be 0 or allowed, else -EPERM. */
int vhost_user_connect(const char *path, uid_t allowed, uid_t *peer);

/* 0, -ETIMEDOUT, -EPIPE (the peer is gone) or another -errno. */
int vhost_user_send(int sock, const void *msg, size_t len, const int *fds, unsigned nr_fds,
		    unsigned timeout_ms);

/*
 * One whole message into m: the header, then its payload. At most max_fds
 * fds (close-on-exec) into fds, their count in *nr_fds. 0; -ETIMEDOUT;
 * -EPIPE when the peer closed (even mid-message); -EPROTO for a payload
 * larger than any message's (drained first), more fds than max_fds or
 * cut-off fds. On failure no fd is left open.
 */
int vhost_user_recv(int sock, struct vhost_user_msg *m, int *fds, unsigned max_fds,
		    unsigned *nr_fds, unsigned timeout_ms);

#endif
