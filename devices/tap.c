/* TAP devices for virtio-net, and MAC addresses. */
#include "devices/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>

#define TAP_VNET_HDR_LEN 12	/* struct virtio_net_hdr_mrg_rxbuf */
#define TAP_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)

/* The one line for a TUNSETIFF that failed with errno e. */
static void tap_attach_error(const char *ifname, int e, char *err, size_t errlen)
{
	bool exists = if_nametoindex(ifname) != 0;

	if ((e == EPERM || e == EACCES) && exists)
		snprintf(err, errlen, "tap %s: not allowed to use it: it belongs to another user "
			 "(ip tuntap add dev %s mode tap user <you>) and this process lacks "
			 "CAP_NET_ADMIN", ifname, ifname);
	else if (e == EPERM || e == EACCES)
		snprintf(err, errlen, "tap %s: does not exist, and creating it needs CAP_NET_ADMIN "
			 "(or create it first: ip tuntap add dev %s mode tap user <you>)",
			 ifname, ifname);
	else if (e == EBUSY)
		snprintf(err, errlen, "tap %s: in use by another process", ifname);
	else if (e == EINVAL && exists)
		snprintf(err, errlen, "tap %s: exists but is not a single-queue TAP device", ifname);
	else
		snprintf(err, errlen, "tap %s: cannot attach: %s", ifname, strerror(e));
}

int tap_open(const char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	size_t len = strlen(ifname);
	int hdr = TAP_VNET_HDR_LEN, fd;

	/* '%' would make the kernel pick a name; '/' cannot be an interface. */
	if (!len || len >= IFNAMSIZ || strpbrk(ifname, "%/ ")) {
		snprintf(err, errlen, "tap %s: not a valid interface name (1 to 15 characters, "
			 "no '%%', '/' or space)", ifname);
		return -1;
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "tap %s: cannot open /dev/net/tun: %s%s", ifname,
			 strerror(errno), errno == ENOENT ? " (load the tun module)" : "");
		return -1;
	}
	memcpy(ifr.ifr_name, ifname, len);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		tap_attach_error(ifname, errno, err, errlen);
	} else if (ioctl(fd, TUNSETVNETHDRSZ, &hdr)) {
		snprintf(err, errlen, "tap %s: cannot set a 12-byte vnet header: %s", ifname,
			 strerror(errno));
	} else if (ioctl(fd, TUNSETOFFLOAD, TAP_OFFLOADS) || ioctl(fd, TUNSETOFFLOAD, 0)) {
		snprintf(err, errlen, "tap %s: the kernel refuses checksum and segmentation "
			 "offloads: %s", ifname, strerror(errno));
	} else {
		return fd;
	}
	close(fd);
	return -1;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;		/* FNV-1a 64 prime */
	}
	return h;
}

void net_derive_mac(const char *vm_name, const char *ifname, uint8_t mac[6])
{
	uint64_t h = fnv1a(fnv1a(fnv1a(0xcbf29ce484222325ull, vm_name), "/"), ifname);

	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
	mac[0] = (uint8_t)((mac[0] | 0x02) & ~0x01);
}
