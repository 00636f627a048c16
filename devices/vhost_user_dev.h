/*
 * [[vhost_user]]: a virtio device served by a vhost-user backend that
 * someone else started, reached through its socket (vmsilo's vhostUser).
 */
#ifndef VMSILO_VHOST_USER_DEV_H
#define VMSILO_VHOST_USER_DEV_H

#include <stdint.h>

#include "devices/registry.h"

#define VHOST_USER_DEV_MAX 8
#define VHOST_USER_DEV_MAX_QUEUES 16

struct vhost_user_config {
	int type;			/* index in vhost_user_types; its virtio id by
					 * vhost_user_device_id() */
	char *socket;			/* the backend's; need not exist at config time */
	uint64_t queues;		/* 0: as many as the backend says (GET_QUEUE_NUM) */
	uint64_t queue_size;		/* per queue, a power of two, default 256 */
	char *tag;			/* type "fs" only: the config when the backend has none */
};

/* The virtio device id of a type index; 0 for none. */
uint16_t vhost_user_device_id(int type);

/* cfg's tag when its type is "fs", else NULL. */
const char *vhost_user_fs_tag(const struct vhost_user_config *cfg);

extern const struct device_kind vhost_user_kind;

#endif
