/* virtio-net: the [[net]] section, the model's options, its descriptor. */
#ifndef VMSILO_DEVICES_NET_H
#define VMSILO_DEVICES_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/registry.h"

#define NET_MAX_IFS 4
#define NET_IFNAME_MAX 15	/* a Linux interface name, IFNAMSIZ - 1 */

/* One [[net]] table. */
struct net_config {
	char *name;			/* the interface name the guest sees */
	char *tap;			/* host TAP; NULL: "<vm name>-<index>" */
	uint8_t mac[6];
	bool mac_set;			/* else derived from the VM and interface names */
};

struct net_options {
	int tap_fd;		/* IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, vnet header size 12 */
	uint8_t mac[6];		/* unicast */
};

/*
 * virtio-net over the tap opt->tap_fd (see devices/tap.c). Runs in the VMM
 * before the fork: checks the tap, makes it non-blocking and turns its
 * offloads off until a driver accepts them; on failure returns -errno with
 * one line in err. The device process must keep opt->tap_fd.
 */
extern const struct sandbox_policy net_policy;
int net_create(struct vdev *dev, const char *name, const struct guest_mem *mem,
	       const struct net_options *opt, char *err, size_t errlen);

/* [[net]]: the VMM opens the TAP; the guest learns the interface's name
 * from the kernel parameter vmsilo.ifname=<name>,<mac>. */
extern const struct device_kind net_kind;

#endif
