/*
 * The virtio-fs tag of a config instance, whichever kind serves it: a
 * [[shared_dir]] (and the shared home) or a [[vhost_user]] of type "fs".
 * The config checks tags are unique across all of them.
 */
#ifndef VMSILO_FS_TAG_H
#define VMSILO_FS_TAG_H

#include "devices/registry.h"

/* The tag cfg (a kind's config struct) gives its guest, or NULL for none. */
const char *device_fs_tag(const struct device_kind *kind, const void *cfg);

#endif
