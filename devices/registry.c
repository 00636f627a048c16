/* The table of device kinds: one line per kind, in creation order. */
#include "devices/registry.h"

#include <string.h>

#include "devices/balloon.h"
#include "devices/blk.h"
#include "devices/gpu.h"
#include "devices/net.h"
#include "devices/rng.h"
#include "devices/shared_dir.h"
#include "devices/vhost_user_dev.h"
#include "devices/vsock_device.h"

/*
 * Disks first, so the guest names them /dev/vda, /dev/vdb, ... in config
 * order; then interfaces in config order, vsock, rng, balloon, gpu, then the
 * vhost-user backends' devices (shares, generic). A new kind is one line here.
 */
const struct device_kind *const device_kinds[] = {
	&blk_kind,
	&net_kind,
	&vsock_kind,
	&rng_kind,
	&balloon_kind,
	&gpu_kind,
	&shared_dir_kind,
	&vhost_user_kind,
	NULL,
};

const struct device_kind *device_kind_find(const char *section)
{
	for (const struct device_kind *const *k = device_kinds; *k; k++)
		if (!strcmp((*k)->section, section))
			return *k;
	return NULL;
}

unsigned device_kinds_max_total(void)
{
	unsigned total = 0;

	for (const struct device_kind *const *k = device_kinds; *k; k++)
		total += (*k)->max;
	return total;
}
