/*
 * libFuzzer harness for virtio-net (devices/net.c) driven through its
 * virtqueues: the guest's rings and buffers are the fuzzer's, and so are
 * the packets the "tap" has for the guest. The tap is a datagram socket
 * pair: net.c is compiled with -Dioctl=fuzz_ioctl, which answers the tap
 * ioctls as a vnet-header tap would. Whatever reaches the tap must be a
 * whole header plus frame asking only for offloads that were negotiated.
 *
 * Input: fuzz_driver.h; the host bytes are packets for the guest, each a
 * u16 length and its bytes (vnet header included).
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "devices/net.h"
#include "tests/fuzz/fuzz_driver.h"
#include "vmm/log.h"

#define HDR_LEN 12u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fuzz_ioctl(int fd, unsigned long request, ...);

static struct fuzz_driver d;
static uint8_t packet[70000];
static int host = -1;		/* the host's end of the "tap" */
static size_t injected;		/* of d.host */
static uint64_t negotiated;

/* A tap with IFF_VNET_HDR and a 12-byte header, as devices/tap.c opens it. */
int fuzz_ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	switch (request) {
	case TUNGETIFF:
		((struct ifreq *)arg)->ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		return 0;
	case TUNGETVNETHDRSZ:
		*(int *)arg = HDR_LEN;
		return 0;
	case TUNSETOFFLOAD:
		return 0;
	}
	errno = ENOTTY;
	return -1;
}

#define F(bit) (1ull << (bit))
static const uint64_t feature_of[8] = {
	F(VIRTIO_NET_F_CSUM), F(VIRTIO_NET_F_HOST_TSO4), F(VIRTIO_NET_F_HOST_TSO6),
	F(VIRTIO_NET_F_HOST_ECN), F(VIRTIO_NET_F_MRG_RXBUF), F(VIRTIO_NET_F_GUEST_CSUM),
	0 /* bit 6: no VERSION_1, which the device refuses */, F(VIRTIO_NET_F_GUEST_TSO4),
};

static uint64_t features(uint8_t bits)
{
	uint64_t f = bits & 0x40 ? 0 : F(VIRTIO_F_VERSION_1);

	for (unsigned i = 0; i < 8; i++)
		if (bits & (1u << i))
			f |= feature_of[i];
	return f;
}

/* Sends the guest's packets while the socket takes them. */
static void inject(void)
{
	while (d.host_len - injected >= 2) {
		const uint8_t *p = d.host + injected;
		size_t n = (size_t)(p[0] | p[1] << 8);

		if (n > d.host_len - injected - 2)
			n = d.host_len - injected - 2;
		if (send(host, p + 2, n, MSG_DONTWAIT) < 0 && errno == EAGAIN)
			return;
		injected += 2 + n;
	}
}

/* What the device wrote to the tap is what net_tx_check lets through. */
static void check_transmitted(uint64_t f)
{
	ssize_t n;

	while ((n = recv(host, packet, sizeof(packet), MSG_DONTWAIT)) >= 0) {
		struct virtio_net_hdr h;
		unsigned gso;

		if ((size_t)n < HDR_LEN)
			abort();
		memcpy(&h, packet, sizeof(h));
		gso = h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
		if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM && !(f & F(VIRTIO_NET_F_CSUM))) ||
		    (h.gso_type & VIRTIO_NET_HDR_GSO_ECN && !(f & F(VIRTIO_NET_F_HOST_ECN))) ||
		    (gso == VIRTIO_NET_HDR_GSO_TCPV4 && !(f & F(VIRTIO_NET_F_HOST_TSO4))) ||
		    (gso == VIRTIO_NET_HDR_GSO_TCPV6 && !(f & F(VIRTIO_NET_F_HOST_TSO6))) ||
		    (gso != VIRTIO_NET_HDR_GSO_NONE && gso != VIRTIO_NET_HDR_GSO_TCPV4 &&
		     gso != VIRTIO_NET_HDR_GSO_TCPV6))
			abort();
	}
}

/* The tap's other end keeps up, so the device's writes never wait. */
static void host_turn(struct fuzz_driver *drv)
{
	negotiated = d.dev.features;
	check_transmitted(negotiated);
	inject();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_options opt = { .mac = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 } };
	struct fuzz_driver_hdr hdr;
	char err[160];
	int sv[2];

	log_set_level(LOG_ERROR);
	if (!fuzz_driver_input(&d, data, size, &hdr))
		return 0;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv))
		abort();
	opt.tap_fd = sv[0];
	host = sv[1];
	injected = 0;
	negotiated = 0;
	d.host_turn = host_turn;
	if (net_create(&d.dev, "net0", &d.mem, &opt, err, sizeof(err)))
		abort();
	if (!fuzz_driver_start(&d, &hdr, features(hdr.features)))
		fuzz_driver_run(&d, 512);
	fuzz_driver_stop(&d);
	check_transmitted(negotiated);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
