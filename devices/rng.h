/* virtio-rng: the [rng] section and its descriptor. */
#ifndef VMSILO_DEVICES_RNG_H
#define VMSILO_DEVICES_RNG_H

#include "devices/registry.h"

extern const struct sandbox_policy rng_policy;
int rng_create(struct vdev *dev, const char *name, const struct guest_mem *mem);

extern const struct device_kind rng_kind;

#endif
