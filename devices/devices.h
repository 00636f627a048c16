/* The device models. */
#ifndef VMSILO_DEVICES_H
#define VMSILO_DEVICES_H

#include "devices/vdev.h"

#include "sandbox/sandbox.h"

extern const struct sandbox_policy rng_policy;
int rng_create(struct vdev *dev, const char *name, const struct guest_mem *mem);

#endif
