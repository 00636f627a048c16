/*
 * virtio-net in one process: the device model behind a local link, rings in
 * fake guest memory, driven like a guest, against a real TAP in a network
 * namespace of the test's own. A packet socket on the TAP (with vnet
 * headers) is the host: it sees what the guest sends and injects what the
 * guest receives, GSO packets included. The test plays the device loop
 * itself (serve()), since the device keeps a poll on the TAP in flight.
 * Needs root (a network namespace and /dev/net/tun); skipped otherwise.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "boot/guest_mem.h"
#include "check.h"
#include "devices/net.h"
#include "devices/link_local.h"
#include "vmm/log.h"
#include "devices/tap.h"
#include "tests/unit/fake_driver.h"

#define SKIP 77
#define RAM (16 * MIB)
#define QSIZE 256
#define RXQ 0
#define TXQ 1
#define RINGS(q) (0x10000ull + (q) * 0x4000ull)	/* a queue's rings: fake_vq_bytes(QSIZE) */
#define SCRATCH 0x100000ull
#define TAP "vmstest0"
#define HDR 12
#define ETH_TEST 0x88b5				/* local experimental ethertype */
#define RXBUF 2048
#define TCP_HDRS 54				/* Ethernet + IPv4 + TCP */
#define MSS 1400
#define BIG 70000

#define F(bit) (1ull << (bit))
#define GUEST_OFFLOADS (F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) | \
			F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN))
#define HOST_OFFLOADS (F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | \
		       F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN))

static uint8_t *ram;
static struct guest_mem mem;
static uint64_t scratch;
static int pkt = -1;		/* packet socket on the TAP: the host */
static int ifindex;
static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct drv {
	struct link_local ll;
	struct vdev dev;
	struct fake_vq vq[2];
	uint64_t rx_gpa[QSIZE];		/* each receive chain's buffer, by head */
};

static uint64_t galloc(uint32_t len, uint32_t align)
{
	uint64_t gpa = (scratch + align - 1) / align * align;

	scratch = gpa + len;
	CHECK(scratch <= RAM);
	return gpa;
}

static void setup_queues(struct drv *d, uint64_t features)
{
	for (unsigned q = 0; q < 2; q++) {
		struct vdev_vring ring;

		fake_vq_init(&d->vq[q], ram, RINGS(q), QSIZE);
		ring = fake_vq_ring(&d->vq[q]);
		CHECK_EQ(d->ll.link.ops->set_vring(&d->ll.link, q, &ring), 0);
	}
	CHECK_EQ(d->ll.link.ops->activate(&d->ll.link, features), 0);
}

/* Posts one chain of bufs on queue q; returns its head. */
static uint16_t post(struct drv *d, unsigned q, const struct fake_buf *b, unsigned n)
{
	return fake_vq_post(&d->vq[q], b, n);
}

static void kick(struct drv *d, unsigned q)
{
	CHECK_EQ(write(d->ll.link.kick_fd[q], &(uint64_t){ 1 }, 8), 8);
}

static unsigned pending_used(struct drv *d, unsigned q)
{
	return fake_vq_pending(&d->vq[q]);
}

/* Takes the next used entry of q (there must be one). */
static struct vring_used_elem take_used(struct drv *d, unsigned q)
{
	return fake_vq_take(&d->vq[q]);
}

/*
 * One turn of the device loop: kicks, submission, completions. False if
 * nothing completed within ms.
 */
static bool serve(struct drv *d, int ms)
{
	struct __kernel_timespec ts = { .tv_nsec = ms * 1000000ll };
	struct io_uring_cqe *cqe;
	uint64_t count;

	for (unsigned q = 0; q < 2; q++)
		if (read(d->ll.link.kick_fd[q], &count, 8) == 8 && d->dev.active)
			d->dev.ops->notify(&d->dev, q);
	io_uring_submit(&d->ll.ring);
	if (io_uring_wait_cqe_timeout(&d->ll.ring, &cqe, &ts))
		return false;
	while (!io_uring_peek_cqe(&d->ll.ring, &cqe)) {
		uint64_t data = io_uring_cqe_get_data64(cqe);
		int32_t res = cqe->res;

		io_uring_cqe_seen(&d->ll.ring, cqe);
		vdev_uring_complete(&d->dev, data, res);
	}
	return true;
}

/* Runs the device until n used entries wait on q; false if they never come. */
static bool wait_used(struct drv *d, unsigned q, unsigned n)
{
	for (int turns = 0, idle = 0; pending_used(d, q) < n && idle < 50 && turns < 5000; turns++)
		idle = serve(d, 100) ? 0 : idle + 1;
	return pending_used(d, q) >= n;
}

/* Runs the device until it is quiet; false if it never is (a busy loop). */
static bool settle(struct drv *d)
{
	for (int i = 0; i < 200; i++)
		if (!serve(d, 200))
			return true;
	return false;
}

/* A reset once the device is idle (a read in flight at a reset loses its packet). */
static void restart(struct drv *d, uint64_t features)
{
	CHECK(settle(d));
	CHECK_EQ(d->ll.link.ops->reset(&d->ll.link), 0);
	setup_queues(d, features);
}

/* ---- frames ---- */

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

static uint32_t eth_frame(uint8_t *f, uint32_t payload, uint8_t seed)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = ETH_TEST >> 8;
	f[13] = ETH_TEST & 0xff;
	fill(f + 14, payload, seed);
	return 14 + payload;
}

static uint16_t ip_checksum(const uint8_t *p, unsigned len)
{
	uint32_t sum = 0;

	for (unsigned i = 0; i < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ethernet + IPv4 + TCP with payload bytes: what TSO hands over. */
static uint32_t tcp_frame(uint8_t *f, uint32_t payload, uint8_t seed)
{
	uint8_t *ip = f + 14, *tcp = ip + 20;
	uint16_t tot = (uint16_t)(40 + payload), csum;

	memcpy(f, guest_mac, 6);
	memcpy(f + 6, (uint8_t[]){ 0x02, 0, 0, 0, 0, 1 }, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(ip, 0, 40);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[6] = 0x40;			/* DF */
	ip[8] = 64;
	ip[9] = 6;			/* TCP */
	memcpy(ip + 12, (uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
	csum = ip_checksum(ip, 20);
	ip[10] = (uint8_t)(csum >> 8);
	ip[11] = (uint8_t)csum;
	tcp[1] = 80;
	tcp[3] = 99;
	tcp[12] = 5 << 4;
	tcp[13] = 0x18;			/* PSH ACK */
	tcp[14] = 0xff;
	fill(tcp + 20, payload, seed);
	return TCP_HDRS + payload;
}

static struct virtio_net_hdr tso_hdr(void)
{
	return (struct virtio_net_hdr){
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = htole16(TCP_HDRS), .gso_size = htole16(MSS),
		.csum_start = htole16(34), .csum_offset = htole16(16),
	};
}

/* ---- the host side: a packet socket on the TAP ---- */

static int host_setup(void)
{
	int one = 1, s, fd;
	struct ifreq ifr = { .ifr_name = TAP };
	struct timeval tv = { .tv_sec = 10 };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	char err[256];

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "test_net: skipped: no network namespace of its own: %s\n",
			strerror(errno));
		return -1;
	}
	/* Keep the kernel's IPv6 chatter (DAD, router solicitations) off the TAP. */
	fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "1", 1);
		close(fd);
	}
	fd = tap_open(TAP, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "test_net: skipped: %s\n", err);
		return -1;
	}
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	CHECK(s >= 0);
	CHECK_EQ(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	CHECK_EQ(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	ifindex = (int)if_nametoindex(TAP);
	sll.sll_ifindex = ifindex;
	CHECK_EQ(setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)), 0);
	CHECK_EQ(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	CHECK_EQ(bind(s, (struct sockaddr *)&sll, sizeof(sll)), 0);
	pkt = s;
	return fd;
}

/*
 * The next frame the host receives from the TAP; -1 if none comes. Frames
 * going out to the guest (segments of what host_send sent) are skipped.
 */
static long host_recv(struct virtio_net_hdr *h, uint8_t *frame, size_t max)
{
	struct iovec iov[2] = { { h, sizeof(*h) }, { frame, max } };
	struct sockaddr_ll from;
	struct msghdr m = { .msg_name = &from, .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	do {
		m.msg_namelen = sizeof(from);
		n = recvmsg(pkt, &m, 0);
	} while (n >= 0 && from.sll_pkttype == PACKET_OUTGOING);
	return n < (ssize_t)sizeof(*h) ? -1 : (long)(n - (ssize_t)sizeof(*h));
}

/* The host sends a frame out of the TAP, towards the guest. */
static void host_send(const struct virtio_net_hdr *h, const uint8_t *frame, uint32_t len)
{
	struct iovec iov[2] = { { (void *)h, sizeof(*h) }, { (void *)frame, len } };
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET, .sll_ifindex = ifindex,
		.sll_protocol = htons((uint16_t)(frame[12] << 8 | frame[13])),
	};
	struct msghdr m = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = iov,
			    .msg_iovlen = 2 };

	CHECK_EQ(sendmsg(pkt, &m, 0), (ssize_t)(sizeof(*h) + len));
}

/* ---- the guest side ---- */

/* The guest transmits header h and frame (split into two buffers at split). */
static uint16_t guest_send(struct drv *d, const struct virtio_net_hdr *h, const uint8_t *frame,
			   uint32_t len, uint32_t split)
{
	uint64_t hdr = galloc(HDR, 16), data = galloc(len, 64);
	struct fake_buf b[3] = { { hdr, HDR, false }, { data, split, false },
			    { data + split, len - split, false } };

	memset(ram + hdr, 0, HDR);
	memcpy(ram + hdr, h, sizeof(*h));
	memcpy(ram + data, frame, len);
	if (!split || split >= len) {
		b[1].len = len;
		return post(d, TXQ, b, 2);
	}
	return post(d, TXQ, b, 3);
}

/* The guest posts n receive chains of one size-byte buffer each. */
static void guest_give(struct drv *d, unsigned n, uint32_t size)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = galloc(size, 64);

		d->rx_gpa[post(d, RXQ, &(struct fake_buf){ gpa, size, true }, 1)] = gpa;
	}
	kick(d, RXQ);
}

/*
 * Takes one received packet: its chains' bytes in order into out (header
 * first); returns the length, checking num_buffers against the chains.
 */
static size_t guest_take(struct drv *d, uint8_t *out)
{
	struct vring_used_elem e = take_used(d, RXQ);
	struct virtio_net_hdr_mrg_rxbuf h;
	size_t total = 0;
	unsigned n;

	memcpy(&h, ram + d->rx_gpa[e.id % QSIZE], sizeof(h));
	n = le16toh(h.num_buffers);
	CHECK(n >= 1 && n <= pending_used(d, RXQ) + 1);
	for (unsigned i = 0; i < n; i++) {
		if (i)
			e = take_used(d, RXQ);
		CHECK(e.len <= RXBUF);
		memcpy(out + total, ram + d->rx_gpa[e.id % QSIZE], e.len);
		total += e.len;
	}
	return total;
}

/* ---- tests ---- */

static void start(struct drv *d, int tap, uint64_t features)
{
	struct net_options opt = { .tap_fd = tap };
	char err[160] = "";

	memcpy(opt.mac, guest_mac, 6);
	CHECK_EQ(net_create(&d->dev, "net0", &mem, &opt, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK_EQ(link_local_init(&d->ll, &d->dev), 0);
	setup_queues(d, features ? features : d->ll.link.features);
}

static void test_config(struct drv *d)
{
	struct virtio_net_config c;
	uint64_t f = d->ll.link.features;

	memcpy(&c, d->ll.link.config, offsetof(struct virtio_net_config, mtu));
	CHECK(!memcmp(c.mac, guest_mac, 6));
	CHECK_EQ(le16toh(c.status), VIRTIO_NET_S_LINK_UP);
	CHECK_EQ(d->ll.link.device_id, VIRTIO_ID_NET);
	CHECK_EQ(d->ll.link.nr_queues, 2);
	CHECK((f & (GUEST_OFFLOADS | HOST_OFFLOADS)) == (GUEST_OFFLOADS | HOST_OFFLOADS));
	CHECK(f & F(VIRTIO_F_VERSION_1) && f & F(VIRTIO_NET_F_MRG_RXBUF));
	CHECK(f & F(VIRTIO_NET_F_MAC) && f & F(VIRTIO_NET_F_STATUS));
	CHECK(!(f & F(VIRTIO_NET_F_CTRL_VQ)) && !(f & F(VIRTIO_NET_F_GUEST_UFO)));
}

/* A plain frame and a TSO frame leave intact, header and all. */
static void test_tx(struct drv *d)
{
	static uint8_t frame[BIG], got[BIG];
	struct virtio_net_hdr h = { 0 }, hh;
	uint32_t len = eth_frame(frame, 200, 1);
	uint64_t count;

	guest_send(d, &h, frame, len, 100);
	kick(d, TXQ);
	CHECK(wait_used(d, TXQ, 1));
	CHECK_EQ(take_used(d, TXQ).len, 0);
	CHECK_EQ(read(d->ll.link.call_fd[TXQ], &count, 8), 8);	/* interrupt raised */
	CHECK_EQ(host_recv(&hh, got, sizeof(got)), len);
	CHECK(!memcmp(got, frame, len));
	CHECK_EQ(hh.gso_type, VIRTIO_NET_HDR_GSO_NONE);

	h = tso_hdr();
	len = tcp_frame(frame, 20000, 2);
	guest_send(d, &h, frame, len, 1000);
	kick(d, TXQ);
	CHECK(wait_used(d, TXQ, 1));
	CHECK_EQ(take_used(d, TXQ).len, 0);
	CHECK_EQ(host_recv(&hh, got, sizeof(got)), len);
	CHECK(!memcmp(got, frame, len));
	CHECK_EQ(hh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ(le16toh(hh.gso_size), MSS);
	CHECK(hh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(le16toh(hh.csum_start), 34);
	CHECK_EQ(le16toh(hh.csum_offset), 16);
}

/* Chains the tap must not see are returned unused; the queue goes on. */
static void test_tx_dropped(struct drv *d)
{
	static uint8_t frame[BIG], got[BIG];
	struct virtio_net_hdr h = { .gso_type = 3 /* UDP: not offered */ }, hh;
	uint32_t len = tcp_frame(frame, 3000, 3);
	uint64_t small = galloc(8, 8), seg = galloc(64 * 65, 64);
	struct fake_buf many[65];

	post(d, TXQ, &(struct fake_buf){ small, 8, false }, 1);	/* no room for the header */
	for (unsigned i = 0; i < 65; i++)
		many[i] = (struct fake_buf){ seg + 64 * i, 64, false };
	memset(ram + seg, 0, 64);
	post(d, TXQ, many, 65);					/* too many buffers */
	guest_send(d, &h, frame, len, 0);
	len = eth_frame(frame, 300, 4);
	h.gso_type = 0;
	guest_send(d, &h, frame, len, 0);
	kick(d, TXQ);
	CHECK(wait_used(d, TXQ, 4));
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(take_used(d, TXQ).len, 0);
	CHECK(d->dev.active);
	CHECK_EQ(host_recv(&hh, got, sizeof(got)), len);	/* only the good one */
	CHECK(!memcmp(got, frame, len));
}

/*
 * The tap gets the header the device checked, not guest memory read again:
 * a guest that sets NEEDS_CSUM (not negotiated) after the check, before the
 * write reaches the tap, does not get it through. The header spans two
 * descriptors, the second one going on with the frame.
 */
static void test_tx_header_read_once(struct drv *d)
{
	static uint8_t frame[BIG], got[BIG];
	uint32_t len = tcp_frame(frame, 1000, 9);
	uint64_t gpa = galloc(HDR + len, 64);
	struct virtio_net_hdr *guest_h = (struct virtio_net_hdr *)(ram + gpa), hh;
	struct fake_buf b[3] = { { gpa, 5, false }, { gpa + 5, HDR - 5 + 100, false },
			    { gpa + HDR + 100, len - 100, false } };

	restart(d, d->ll.link.features & ~HOST_OFFLOADS);
	memset(ram + gpa, 0, HDR);
	memcpy(ram + gpa + HDR, frame, len);
	post(d, TXQ, b, 3);
	d->dev.ops->notify(&d->dev, TXQ);	/* checked and queued, not yet submitted */
	guest_h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	guest_h->csum_start = htole16(34);
	guest_h->csum_offset = htole16(16);
	CHECK(wait_used(d, TXQ, 1));
	CHECK_EQ(take_used(d, TXQ).len, 0);
	CHECK_EQ(host_recv(&hh, got, sizeof(got)), len);
	CHECK(!memcmp(got, frame, len));
	CHECK_EQ(hh.flags, 0);
	restart(d, d->ll.link.features);
}

/*
 * Mergeable buffers: a 64 KiB-capable set of 2 KiB buffers, a small frame
 * in one, a TSO packet across many (offloads negotiated: it arrives whole);
 * then too few buffers: no reading, no polling, until the next kick.
 */
static void test_rx_mergeable(struct drv *d)
{
	static uint8_t frame[BIG], got[BIG];
	struct virtio_net_hdr h = { 0 };
	struct virtio_net_hdr_mrg_rxbuf gh;
	uint32_t len;

	guest_give(d, 40, RXBUF);
	CHECK(settle(d));
	CHECK_EQ(pending_used(d, RXQ), 0);
	CHECK_EQ(d->dev.uring_inflight, 1);			/* a poll on the tap */

	len = eth_frame(frame, 100, 5);
	host_send(&h, frame, len);
	CHECK(wait_used(d, RXQ, 1));
	CHECK_EQ(guest_take(d, got), HDR + len);
	memcpy(&gh, got, sizeof(gh));
	CHECK_EQ(le16toh(gh.num_buffers), 1);
	CHECK_EQ(gh.hdr.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	CHECK(!memcmp(got + HDR, frame, len));

	h = tso_hdr();
	len = tcp_frame(frame, 30000, 6);
	host_send(&h, frame, len);
	CHECK(wait_used(d, RXQ, 15));
	CHECK_EQ(pending_used(d, RXQ), 15);			/* 30066 bytes in 2 KiB */
	CHECK_EQ(guest_take(d, got), HDR + len);
	memcpy(&gh, got, sizeof(gh));
	CHECK_EQ(le16toh(gh.num_buffers), 15);
	CHECK_EQ(gh.hdr.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ(le16toh(gh.hdr.gso_size), MSS);
	CHECK(gh.hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(le16toh(gh.hdr.csum_start), 34);
	CHECK(!memcmp(got + HDR, frame, len));

	/* 24 buffers left: less than a 64 KiB packet needs. */
	CHECK(settle(d));
	CHECK_EQ(d->dev.uring_inflight, 0);
	h = (struct virtio_net_hdr){ 0 };
	len = eth_frame(frame, 500, 7);
	host_send(&h, frame, len);
	CHECK(settle(d));
	CHECK_EQ(pending_used(d, RXQ), 0);
	guest_give(d, 16, RXBUF);
	CHECK(wait_used(d, RXQ, 1));
	CHECK_EQ(guest_take(d, got), HDR + len);
	CHECK(!memcmp(got + HDR, frame, len));
}

/* Without offloads the kernel segments and checksums: the guest gets MSS frames. */
static void test_rx_without_offloads(struct drv *d)
{
	static uint8_t frame[BIG], got[BIG], payload[BIG];
	uint64_t features = d->ll.link.features & ~GUEST_OFFLOADS & ~HOST_OFFLOADS;
	struct virtio_net_hdr h = tso_hdr(), hh;
	struct virtio_net_hdr_mrg_rxbuf gh;
	uint32_t len = tcp_frame(frame, 30000, 8);
	size_t got_len, total = 0;
	unsigned packets = (30000 + MSS - 1) / MSS;

	restart(d, features);
	guest_give(d, 60, RXBUF);
	host_send(&h, frame, len);
	CHECK(wait_used(d, RXQ, packets));
	for (unsigned i = 0; i < packets && pending_used(d, RXQ); i++) {
		got_len = guest_take(d, got);
		memcpy(&gh, got, sizeof(gh));
		CHECK_EQ(le16toh(gh.num_buffers), 1);
		CHECK_EQ(gh.hdr.gso_type, VIRTIO_NET_HDR_GSO_NONE);
		CHECK(!(gh.hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM));
		CHECK(got_len > HDR + TCP_HDRS && got_len <= HDR + TCP_HDRS + MSS);
		memcpy(payload + total, got + HDR + TCP_HDRS, got_len - HDR - TCP_HDRS);
		total += got_len - HDR - TCP_HDRS;
	}
	CHECK_EQ(total, 30000);
	CHECK(!memcmp(payload, frame + TCP_HDRS, 30000));

	/* Checksum offload not negotiated: a NEEDS_CSUM packet is dropped. */
	h = (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				     .csum_start = htole16(34), .csum_offset = htole16(16) };
	len = tcp_frame(frame, 100, 9);
	guest_send(d, &h, frame, len, 0);
	h = (struct virtio_net_hdr){ 0 };
	len = eth_frame(frame, 64, 10);
	guest_send(d, &h, frame, len, 0);
	kick(d, TXQ);
	CHECK(wait_used(d, TXQ, 2));
	CHECK_EQ(host_recv(&hh, got, sizeof(got)), len);
	CHECK(!memcmp(got, frame, len));
}

/* Without MRG_RXBUF: one chain per packet, header and frame in two buffers. */
static void test_rx_single_buffers(struct drv *d)
{
	static uint8_t frame[BIG], got[BIG];
	uint64_t features = d->ll.link.features & ~GUEST_OFFLOADS & ~F(VIRTIO_NET_F_MRG_RXBUF);
	struct virtio_net_hdr h = { 0 };
	struct virtio_net_hdr_mrg_rxbuf gh;
	uint32_t len;

	restart(d, features);
	for (unsigned i = 0; i < 3; i++) {
		uint64_t gpa = galloc(HDR + 1514, 64);
		struct fake_buf b[2] = { { gpa, HDR, true }, { gpa + HDR, 1514, true } };

		d->rx_gpa[post(d, RXQ, b, 2)] = gpa;
	}
	kick(d, RXQ);
	for (unsigned i = 0; i < 2; i++) {
		len = eth_frame(frame, i ? 1500 : 46, (uint8_t)(11 + i));
		host_send(&h, frame, len);
		CHECK(wait_used(d, RXQ, 1));
		CHECK_EQ(guest_take(d, got), HDR + len);
		memcpy(&gh, got, sizeof(gh));
		CHECK_EQ(le16toh(gh.num_buffers), 1);
		CHECK(!memcmp(got + HDR, frame, len));
	}
}

/*
 * Interrupts are checked once per burst: three packets each way, queued
 * before the device runs, raise one interrupt each way (without EVENT_IDX
 * every check the driver does not suppress is an interrupt).
 */
static void test_interrupt_batches(struct drv *d)
{
	static uint8_t frame[256], got[BIG];
	uint64_t features = d->ll.link.features & ~F(VIRTIO_RING_F_EVENT_IDX), count;
	struct virtio_net_hdr h = { 0 }, hh;
	uint32_t len;

	restart(d, features);
	guest_give(d, 40, RXBUF);
	CHECK(settle(d));
	(void)!read(d->ll.link.call_fd[RXQ], &count, 8);
	(void)!read(d->ll.link.call_fd[TXQ], &count, 8);
	for (unsigned i = 0; i < 3; i++) {
		len = eth_frame(frame, 100, (uint8_t)(30 + i));
		host_send(&h, frame, len);
		guest_send(d, &h, frame, len, 0);
	}
	kick(d, TXQ);
	CHECK(wait_used(d, RXQ, 3));
	CHECK(wait_used(d, TXQ, 3));
	CHECK(settle(d));
	CHECK_EQ(read(d->ll.link.call_fd[RXQ], &count, 8), 8);
	CHECK_EQ(count, 1);
	CHECK_EQ(read(d->ll.link.call_fd[TXQ], &count, 8), 8);
	CHECK_EQ(count, 1);
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ(guest_take(d, got), HDR + len);
		CHECK_EQ(host_recv(&hh, got, sizeof(got)), len);
	}
}

/* The device needs a reset, and works again after one. */
static void expect_failed(struct drv *d, uint64_t features)
{
	static uint8_t frame[256], got[BIG];
	struct virtio_net_hdr h = { 0 }, hh;
	uint32_t len = eth_frame(frame, 60, 20);

	serve(d, 10);
	CHECK(!d->dev.active);
	restart(d, features);
	guest_send(d, &h, frame, len, 0);
	kick(d, TXQ);
	CHECK(wait_used(d, TXQ, 1));
	CHECK_EQ(host_recv(&hh, got, sizeof(got)), len);
	CHECK(!memcmp(got, frame, len));
}

static void test_hostile(struct drv *d)
{
	uint64_t f = d->ll.link.features, buf = galloc(4096, 64);
	struct vring_desc *loop;
	uint16_t head;

	restart(d, f);
	post(d, RXQ, &(struct fake_buf){ buf, 0, true }, 1);		/* zero length */
	kick(d, RXQ);
	expect_failed(d, f);
	post(d, RXQ, &(struct fake_buf){ buf, 8, true }, 1);		/* no room for the header */
	kick(d, RXQ);
	expect_failed(d, f);
	post(d, RXQ, (struct fake_buf[]){ { buf, 64, false }, { buf + 64, 4096, true } }, 2);
	kick(d, RXQ);						/* device-readable part */
	expect_failed(d, f);
	post(d, RXQ, &(struct fake_buf){ RAM - 64, 4096, true }, 1);	/* outside RAM */
	kick(d, RXQ);
	expect_failed(d, f);
	post(d, TXQ, &(struct fake_buf){ ~0ull - 100, 200, false }, 1);	/* wraps around */
	kick(d, TXQ);
	expect_failed(d, f);

	/* A descriptor that is its own next: a loop. */
	loop = fake_vq_take_desc(&d->vq[TXQ], &head);
	*loop = (struct vring_desc){ .addr = buf, .len = 64, .flags = VRING_DESC_F_NEXT,
				     .next = head };
	fake_vq_publish(&d->vq[TXQ], head);
	kick(d, TXQ);
	expect_failed(d, f);

	/* A legacy driver (no VERSION_1) cannot activate it. */
	CHECK_EQ(d->ll.link.ops->reset(&d->ll.link), 0);
	CHECK(d->ll.link.ops->activate(&d->ll.link, f & ~F(VIRTIO_F_VERSION_1)) != 0);
	restart(d, f);
}

static void test_create_errors(int tap)
{
	static struct vdev dev;
	struct net_options opt = { .tap_fd = -1, .mac = { 2 } };
	char err[160] = "";
	int p[2];

	CHECK(net_create(&dev, "net9", &mem, &opt, err, sizeof(err)) < 0);
	CHECK_STR(err, "net9: no tap file descriptor");
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	opt.tap_fd = p[0];
	CHECK(net_create(&dev, "net9", &mem, &opt, err, sizeof(err)) < 0);
	CHECK_STR(err, "net9: the file descriptor is not an attached tap");
	close(p[0]);
	close(p[1]);
	opt.tap_fd = tap;
	opt.mac[0] = 1;
	CHECK(net_create(&dev, "net9", &mem, &opt, err, sizeof(err)) < 0);
	CHECK_STR(err, "net9: the MAC address is a multicast address");
}

static void test_tap_and_mac(void)
{
	uint8_t a[6], b[6];
	char err[256];

	CHECK_EQ(tap_open("", err, sizeof(err)), -1);
	CHECK(strstr(err, "not a valid interface name") != NULL);
	CHECK_EQ(tap_open("a-name-that-is-too-long", err, sizeof(err)), -1);
	CHECK(strstr(err, "tap a-name-that-is-too-long: ") == err);
	CHECK_EQ(tap_open(TAP, err, sizeof(err)), -1);		/* attached already */
	CHECK_STR(err, "tap " TAP ": in use by another process");

	net_derive_mac("banking", "upstream", a);
	CHECK(!memcmp(a, (uint8_t[]){ 0x56, 0x90, 0xa2, 0x1a, 0xf2, 0x4a }, 6));	/* docs/config.md */
	net_derive_mac("banking", "upstream", b);
	CHECK(!memcmp(a, b, 6));
	CHECK_EQ(a[0] & 3, 2);					/* local, unicast */
	net_derive_mac("banking", "downstream", b);
	CHECK(memcmp(a, b, 6));
	net_derive_mac("banking/x", "y", a);
	net_derive_mac("banking", "x/y", b);
	CHECK(!memcmp(a, b, 6));				/* the rule hashes "vm/if" */
	/* FNV-1a 64 of "a/b": bytes lowest first, bit 1 set, bit 0 cleared. */
	{
		uint64_t h = 0xcbf29ce484222325ull;
		const char *key = "a/b";

		for (; *key; key++) {
			h ^= (uint8_t)*key;
			h *= 0x100000001b3ull;
		}
		net_derive_mac("a", "b", a);
		CHECK_EQ(a[0], ((h & 0xff) | 2) & ~1ull);
		for (int i = 1; i < 6; i++)
			CHECK_EQ(a[i], (h >> (8 * i)) & 0xff);
	}
}

int main(void)
{
	static struct drv d;
	int tap;

	log_set_level(LOG_ERROR);
	tap = host_setup();
	if (tap < 0)
		return SKIP;
	ram = aligned_alloc(4096, RAM);
	memset(ram, 0, RAM);
	guest_mem_layout(&mem, ram, RAM);
	scratch = SCRATCH;

	test_tap_and_mac();
	test_create_errors(tap);
	start(&d, tap, 0);
	test_config(&d);
	test_tx(&d);
	test_tx_dropped(&d);
	test_tx_header_read_once(&d);
	test_rx_mergeable(&d);
	test_rx_without_offloads(&d);
	test_rx_single_buffers(&d);
	test_interrupt_batches(&d);
	test_hostile(&d);
	link_local_destroy(&d.ll);
	vdev_destroy(&d.dev);
	close(tap);
	close(pkt);
	free(ram);
	return check_report("test_net");
}
