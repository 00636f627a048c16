/*
 * The vhost-user frontend: a vdev_link whose device is an external
 * backend on a Unix socket (virtiofsd, qemu-storage-daemon, ...).
 * The handshake (SET_OWNER, features, protocol features, queue count,
 * config, backend request channel) runs in create() and reattach(); the
 * ops send the rest (SET_MEM_TABLE with the guest-RAM fd, SET_VRING_*,
 * GET_VRING_BASE and RESET_DEVICE on reset). The link's kick and call
 * eventfds go to the backend, so the data path is KVM <-> backend.
 * Every reply is hostile: a short, malformed or late one (a bounded
 * wait) puts the device in NEEDS_RESET with one log line.
 * CONTRACT (lead, issue 10).
 */
#ifndef VMSILO_LINK_VHOST_USER_H
#define VMSILO_LINK_VHOST_USER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "boot/guest_mem.h"
#include "virtio/vdev_link.h"

struct vhost_user_options {
	const char *name;		/* "fs0", for messages; copied */
	uint16_t device_id;
	int sock_fd;			/* connected; the link takes it, or -1 */
	const char *socket_path;	/* with sock_fd -1: connect here; also
					 * where reset reconnects a dead backend
					 * (NULL: only reattach() does) */
	unsigned nr_queues;		/* 0: GET_QUEUE_NUM, else type default */
	uint16_t queue_size;
	const struct guest_mem *mem;	/* guest RAM, and the fd that backs it */
	int mem_fd;
	const uint8_t *config;		/* used when the backend lacks CONFIG */
	unsigned config_size;
	uid_t peer_uid;			/* a socket_path backend must run as root or this uid */
	unsigned timeout_ms;		/* per reply; 0: the default (2000) */
};

/*
 * Connects (when sock_fd is -1) and runs the handshake. NULL and one line
 * in err when it cannot connect; a backend that fails the handshake gives
 * a link in NEEDS_RESET (one log line), so the VM boots without it.
 */
struct vdev_link *vhost_user_link_create(const struct vhost_user_options *opt, char *err,
					 size_t errlen);
/*
 * A new connection to a restarted backend (the old one died): the link
 * takes sock_fd and runs the handshake again; the device stays
 * NEEDS_RESET until the guest resets it, then starts anew. -errno.
 */
int vhost_user_link_reattach(struct vdev_link *link, int sock_fd);

#endif
