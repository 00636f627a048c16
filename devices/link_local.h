/*
 * A device model in this process behind a vdev_link: for unit tests and
 * debugging. Kicks are served by calling link_local_poll(); the device's
 * own I/O goes through an io_uring of the link's (unrestricted); its map
 * requests go straight to the link's shm_map/shm_unmap events.
 */
#ifndef VMSILO_LINK_LOCAL_H
#define VMSILO_LINK_LOCAL_H

#include <liburing.h>

#include "devices/vdev.h"

struct link_local {
	struct vdev_link link;
	struct vdev *dev;
	struct io_uring ring;
	bool has_ring;
};

/*
 * After link_local_init: what the device sends up (events,
 * config changes) goes straight to up, synchronously, from inside the
 * device's op: a callback must not take a lock the caller of that op holds.
 */
void link_local_set_up(struct link_local *ll, const struct vdev_up *up);
/* A LINK_DEVICE_CMD without the rings: the device's command op. */
int link_local_command(struct link_local *ll, const void *req, unsigned len, void *reply,
		       unsigned *reply_len);

int link_local_init(struct link_local *ll, struct vdev *dev);
/*
 * Runs the device for every queue whose kick eventfd is set, submits the
 * I/O it prepared and reaps completions until none is in flight.
 */
void link_local_poll(struct link_local *ll);
/*
 * Waits up to timeout_ms for a completion (a watched fd ready, a timer
 * expired, device I/O) and routes every one there is. 1 if any came, 0
 * on timeout.
 */
int link_local_wait(struct link_local *ll, unsigned timeout_ms);
void link_local_destroy(struct link_local *ll);

#endif
