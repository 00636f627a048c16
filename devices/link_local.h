/*
 * A device model in this process behind a vdev_link: for unit tests and
 * debugging. Kicks are served by calling link_local_poll().
 */
#ifndef VMSILO_LINK_LOCAL_H
#define VMSILO_LINK_LOCAL_H

#include "devices/vdev.h"

struct link_local {
	struct vdev_link link;
	struct vdev *dev;
};

int link_local_init(struct link_local *ll, struct vdev *dev);
/* Runs the device for every queue whose kick eventfd is set. */
void link_local_poll(struct link_local *ll);
void link_local_destroy(struct link_local *ll);

#endif
