/*
 * virtio-vsock in one process: the device behind a local link, rings in
 * fake guest memory, this file playing the guest's driver and the host's
 * programs (Unix sockets in a temp directory, the test's working one).
 * The device's io_uring is served here (pump) rather than by
 * link_local_poll, which waits for every SQE: the device keeps polls in
 * flight on its sockets for as long as they live. Then the same streams
 * again with the device in its jail (vmm/link_child.c: seccomp policy,
 * the temp directory as its bind_dir), when this host can make jails.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>

#include "boot/guest_mem.h"
#include "check.h"
#include "devices/vsock_device.h"
#include "devices/link_local.h"
#include "vmm/link_child.h"
#include "vmm/log.h"
#include "tests/unit/fake_driver.h"

#define RAM (32 * MIB)
#define QSIZE 256
#define RINGS(q) (0x10000ull + (q) * 0x4000ull)	/* a queue's rings: fake_vq_bytes(QSIZE) */
#define RX_AREA 0x100000ull
#define RX_STRIDE 0x1100u
#define RX_BUF (4096u + HDR)			/* what Linux posts */
#define TX_AREA 0x400000ull
#define TX_END (RAM - MIB)
#define HDR ((uint32_t)sizeof(struct virtio_vsock_hdr))
#define CID 3
#define RX 0
#define TX 1
#define FIRST_HOST_PORT (1u << 30)
#define WAIT_ROUNDS 1000			/* x 10 ms: a stuck test ends */

enum { SEND = VIRTIO_VSOCK_SHUTDOWN_SEND, RCV = VIRTIO_VSOCK_SHUTDOWN_RCV };

static uint8_t *ram;
static struct guest_mem mem;

struct drv {
	struct vdev_link *link;		/* &ll.link, or &lc.link when jailed */
	struct link_local ll;
	struct link_child lc;
	bool jailed;
	struct vdev dev;
	struct fake_vq vq[3];
	uint64_t tx_next;		/* bump allocator in TX_AREA */
	bool repost;			/* rx buffers go back after use */
	bool rx_posted;			/* since the last kick */
	int listen_fd, command_fd;
};

struct pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len, flags, buf_alloc, fwd_cnt;
	uint16_t type, op;
	uint8_t data[4096];
};

/* The guest's end of a stream. */
struct gs {
	uint32_t gport, hport;
	uint32_t buf_alloc, fwd_cnt, fwd_told;	/* our receive side */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;	/* the device's */
	uint8_t *rx;
	size_t rx_len, rx_cap;
	bool consume;			/* read as data comes (else a stalled reader) */
	bool rst, opened;
	uint32_t shut;			/* SHUTDOWN flags the device sent */
};

static uint8_t pattern(uint32_t seed, size_t i)
{
	return (uint8_t)(i * 131 + seed + (i >> 12) * 7);
}

static bool matches(const uint8_t *p, size_t n, uint32_t seed, size_t from)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pattern(seed, from + i))
			return false;
	return true;
}

/* ---- the guest's driver ---- */

/* Rx buffer i is descriptor i, posted again by its id once used. */
static void post_rx(struct drv *d, uint16_t i, uint32_t len)
{
	fake_vq_post_at(&d->vq[RX], i, &(struct fake_buf){ RX_AREA + i * RX_STRIDE, len, true }, 1);
	d->rx_posted = true;
}

static void setup_queues(struct drv *d, unsigned nr_rx)
{
	for (unsigned q = 0; q < 3; q++) {
		struct vdev_vring ring;

		fake_vq_init(&d->vq[q], ram, RINGS(q), QSIZE);
		ring = fake_vq_ring(&d->vq[q]);
		CHECK_EQ(d->link->ops->set_vring(d->link, q, &ring), 0);
	}
	CHECK_EQ(d->link->ops->activate(d->link, d->link->features), 0);
	for (unsigned i = 0; i < nr_rx; i++)
		post_rx(d, (uint16_t)i, RX_BUF);
}

/* Kicks queued by the device's ring are read here; CQEs handled. Returns CQEs. */
static unsigned pump(struct drv *d, int wait_ms)
{
	struct __kernel_timespec ts = { .tv_nsec = wait_ms * 1000000ll };
	struct io_uring_cqe *cqe;
	unsigned n = 0;
	uint64_t count;

	if (d->rx_posted)		/* a driver kicks after posting rx buffers */
		CHECK_EQ(write(d->link->kick_fd[RX], &(uint64_t){ 1 }, 8), 8);
	d->rx_posted = false;
	if (d->jailed) {		/* the device runs on its own: wait for its interrupt */
		struct pollfd p = { .fd = d->link->call_fd[RX], .events = POLLIN };

		if (poll(&p, 1, wait_ms) == 1)
			(void)!read(p.fd, &count, sizeof(count));
		return 0;
	}
	for (unsigned q = 0; q < 3; q++)
		if (read(d->link->kick_fd[q], &count, sizeof(count)) == sizeof(count) &&
		    d->dev.active)
			d->dev.ops->notify(&d->dev, q);
	io_uring_submit(&d->ll.ring);
	if (wait_ms && io_uring_wait_cqe_timeout(&d->ll.ring, &cqe, &ts))
		return 0;
	while (!io_uring_peek_cqe(&d->ll.ring, &cqe)) {
		uint64_t data = io_uring_cqe_get_data64(cqe);
		int32_t res = cqe->res;

		io_uring_cqe_seen(&d->ll.ring, cqe);
		vdev_uring_complete(&d->dev, data, res);
		n++;
	}
	io_uring_submit(&d->ll.ring);
	return n;
}

/* After a tx kick, waits until the device took every packet: buffers are free again. */
static void kick(struct drv *d, unsigned q)
{
	CHECK_EQ(write(d->link->kick_fd[q], &(uint64_t){ 1 }, 8), 8);
	pump(d, 0);
	for (int i = 0; q == TX && i < WAIT_ROUNDS * 10; i++) {
		if (!fake_vq_unused(&d->vq[TX]))
			break;
		usleep(1000);
	}
	CHECK(q != TX || !fake_vq_unused(&d->vq[TX]));
	d->tx_next = TX_AREA;
}

/* One tx chain: the header, and the payload in a second descriptor. */
static void send_raw(struct drv *d, const void *hdr, uint32_t hdr_len, const void *data,
		     uint32_t len)
{
	uint64_t h = d->tx_next, p = h + 64;
	struct fake_buf b[2] = { { h, hdr_len, false }, { p, len, false } };

	CHECK(p + len <= TX_END);
	memcpy(ram + h, hdr, hdr_len);
	if (len)
		memcpy(ram + p, data, len);
	d->tx_next = (p + len + 63) / 64 * 64;
	fake_vq_post(&d->vq[TX], b, len ? 2 : 1);
	kick(d, TX);
}

static struct virtio_vsock_hdr mkhdr(uint32_t gport, uint32_t hport, uint16_t op,
				     uint32_t flags, uint32_t len, uint32_t buf_alloc,
				     uint32_t fwd_cnt)
{
	return (struct virtio_vsock_hdr){
		.src_cid = htole64(CID), .dst_cid = htole64(2),
		.src_port = htole32(gport), .dst_port = htole32(hport), .len = htole32(len),
		.type = htole16(VIRTIO_VSOCK_TYPE_STREAM), .op = htole16(op),
		.flags = htole32(flags), .buf_alloc = htole32(buf_alloc),
		.fwd_cnt = htole32(fwd_cnt),
	};
}

static void send_pkt(struct drv *d, uint32_t gport, uint32_t hport, uint16_t op, uint32_t flags,
		     const void *data, uint32_t len)
{
	struct virtio_vsock_hdr h = mkhdr(gport, hport, op, flags, len, 65536, 0);

	send_raw(d, &h, HDR, data, len);
}

/* A stream's packet carries its credit. */
static void send_gs(struct drv *d, struct gs *s, uint16_t op, uint32_t flags, const void *data,
		    uint32_t len)
{
	struct virtio_vsock_hdr h = mkhdr(s->gport, s->hport, op, flags, len, s->buf_alloc,
					  s->fwd_cnt);

	s->fwd_told = s->fwd_cnt;
	s->tx_cnt += len;
	send_raw(d, &h, HDR, data, len);
}

/* The next packet on the rx queue, if any. */
static bool recv_pkt(struct drv *d, struct pkt *p)
{
	struct virtio_vsock_hdr h;
	struct vring_used_elem e;
	const uint8_t *buf;

	if (!fake_vq_used(&d->vq[RX], &e))
		return false;
	CHECK(e.id < QSIZE && e.len >= HDR && e.len <= RX_BUF);
	buf = ram + RX_AREA + (e.id % QSIZE) * RX_STRIDE;
	memcpy(&h, buf, HDR);
	*p = (struct pkt){
		.src_cid = le64toh(h.src_cid), .dst_cid = le64toh(h.dst_cid),
		.src_port = le32toh(h.src_port), .dst_port = le32toh(h.dst_port),
		.len = le32toh(h.len), .flags = le32toh(h.flags),
		.buf_alloc = le32toh(h.buf_alloc), .fwd_cnt = le32toh(h.fwd_cnt),
		.type = le16toh(h.type), .op = le16toh(h.op),
	};
	CHECK_EQ(e.len, HDR + p->len);
	if (p->len <= sizeof(p->data) && e.len <= RX_BUF)
		memcpy(p->data, buf + HDR, p->len);
	if (d->repost)
		post_rx(d, e.id % QSIZE, RX_BUF);
	return true;
}

/* Waits (pumping) for the next packet. */
static bool wait_pkt(struct drv *d, struct pkt *p)
{
	for (int i = 0; i < WAIT_ROUNDS; i++) {
		if (recv_pkt(d, p))
			return true;
		pump(d, 10);
	}
	return false;
}

/* Packets for streams in s[0..n): data, credit, half-closes. Others go to *other. */
static unsigned deliver(struct drv *d, struct gs *s, unsigned n, struct pkt *other)
{
	struct pkt p;
	unsigned got = 0;

	while (recv_pkt(d, &p)) {
		struct gs *t = NULL;

		got++;
		CHECK_EQ(p.src_cid, 2);
		CHECK_EQ(p.dst_cid, CID);
		for (unsigned i = 0; i < n && !t; i++)
			if (s[i].gport == p.dst_port && s[i].hport == p.src_port)
				t = &s[i];
		if (!t) {
			if (other)
				*other = p;
			continue;
		}
		t->peer_buf_alloc = p.buf_alloc;
		t->peer_fwd_cnt = p.fwd_cnt;
		if (p.op == VIRTIO_VSOCK_OP_RW) {
			CHECK(t->rx_len + p.len <= t->rx_cap);
			/* Never beyond the credit we gave. */
			CHECK(t->rx_len + p.len - t->fwd_cnt <= t->buf_alloc);
			if (t->rx_len + p.len <= t->rx_cap)
				memcpy(t->rx + t->rx_len, p.data, p.len);
			t->rx_len += p.len;
			if (t->consume)
				t->fwd_cnt = (uint32_t)t->rx_len;
		} else if (p.op == VIRTIO_VSOCK_OP_SHUTDOWN) {
			t->shut |= p.flags;
		} else if (p.op == VIRTIO_VSOCK_OP_RST) {
			t->rst = true;
		} else if (p.op == VIRTIO_VSOCK_OP_RESPONSE) {
			t->opened = true;
		} else if (p.op == VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
			send_gs(d, t, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
		}
		/* Like Linux: tell the device once half our buffer was read. */
		if (t->fwd_cnt - t->fwd_told >= t->buf_alloc / 2 && !t->rst)
			send_gs(d, t, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	}
	return got;
}

static uint32_t peer_credit(const struct gs *s)
{
	return s->peer_buf_alloc - (s->tx_cnt - s->peer_fwd_cnt);
}

static void gs_init(struct gs *s, uint32_t gport, uint32_t hport, size_t cap)
{
	*s = (struct gs){ .gport = gport, .hport = hport, .buf_alloc = 65536, .consume = true,
			  .rx = malloc(cap), .rx_cap = cap };
}

/* ---- the host's programs ---- */

static int unix_listen_backlog(const char *path, int backlog)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	CHECK_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(listen(fd, backlog), 0);
	return fd;
}

static int unix_listen(const char *path)
{
	return unix_listen_backlog(path, 128);
}

static int unix_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	CHECK_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Reads exactly n bytes from a non-blocking socket, pumping the device; or EOF. */
static size_t host_read(struct drv *d, int fd, void *buf, size_t n, struct gs *s, unsigned ns)
{
	size_t got = 0;

	for (int i = 0; i < WAIT_ROUNDS && got < n; i++) {
		ssize_t r = recv(fd, (uint8_t *)buf + got, n - got, MSG_DONTWAIT);

		if (r == 0)
			break;
		if (r > 0) {
			got += (size_t)r;
			i = 0;
			continue;
		}
		pump(d, 10);
		deliver(d, s, ns, NULL);
	}
	return got;
}

/* True once the host side reads EOF (after any data, which must be absent). */
static bool host_sees_eof(struct drv *d, int fd)
{
	char c;

	for (int i = 0; i < WAIT_ROUNDS; i++) {
		ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT);

		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return true;
		if (r > 0)
			return false;
		pump(d, 10);
	}
	return false;
}

/* ---- tests ---- */

static void start(struct drv *d, unsigned hold_ms)
{
	struct vsock_options opt = { .guest_cid = CID, .hold_ms = hold_ms };
	char err[160] = "";

	d->listen_fd = opt.listen_fd = unix_listen("vsock.socket");
	d->command_fd = opt.command_fd = unix_listen("command.socket");
	d->repost = true;
	CHECK_EQ(vsock_create(&d->dev, "vsock", &mem, &opt, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK_EQ(link_local_init(&d->ll, &d->dev), 0);
	d->link = &d->ll.link;
	setup_queues(d, QSIZE);
	d->tx_next = TX_AREA;
}

/* The device in its jail, dir its working directory. False: no jails here. */
static bool start_jailed(struct drv *d, const char *dir)
{
	struct vsock_options opt = { .guest_cid = CID };
	int fds[2];
	struct link_child_options lo = {
		.sandbox = true, .policy = &vsock_policy, .device_fds = fds, .nr_device_fds = 2,
		.bind_dir = dir, .nofile = VSOCK_DEVICE_NOFILE,
	};
	char err[256] = "";
	int dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	CHECK_EQ(sandbox_dir_id(dir_fd, &lo.bind_dir_id), 0);
	close(dir_fd);

	d->listen_fd = fds[0] = opt.listen_fd = unix_listen("vsock.socket");
	d->command_fd = fds[1] = opt.command_fd = unix_listen("command.socket");
	d->repost = true;
	CHECK_EQ(vsock_create(&d->dev, "vsock", &mem, &opt, err, sizeof(err)), 0);
	if (link_child_start(&d->lc, &d->dev, &lo, err, sizeof(err))) {
		printf("SKIP: the jailed device: %s\n", err);
		vdev_destroy(&d->dev);
		close(d->listen_fd);
		close(d->command_fd);
		return false;
	}
	d->jailed = true;
	d->link = &d->lc.link;
	setup_queues(d, QSIZE);
	d->tx_next = TX_AREA;
	return true;
}

static void stop(struct drv *d)
{
	if (d->jailed) {
		CHECK(!link_child_reap(&d->lc));	/* alive: no seccomp kill */
		link_child_stop(&d->lc);
	} else {
		link_local_destroy(&d->ll);
	}
	vdev_destroy(&d->dev);
	close(d->listen_fd);
	close(d->command_fd);
}

static void test_config(struct drv *d)
{
	uint64_t cid;

	CHECK_EQ(d->link->device_id, VIRTIO_ID_VSOCK);
	CHECK_EQ(d->link->device_id, 19);
	CHECK_EQ(d->link->nr_queues, 3);
	CHECK_EQ(d->link->config_size, 8);
	memcpy(&cid, d->link->config, 8);
	CHECK_EQ(le64toh(cid), CID);
	CHECK(!(d->link->features & 1ull << VIRTIO_VSOCK_F_SEQPACKET));
}

static void test_create_errors(void)
{
	static struct vdev dev;
	struct vsock_options opt = { .guest_cid = 2, .listen_fd = -1, .command_fd = -1 };
	char err[160];

	CHECK_EQ(vsock_create(&dev, "vsock9", &mem, &opt, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "vsock9: guest cid 2 is reserved or too large (use 3 to 4294967294)");
	opt.guest_cid = 1ull << 32;
	CHECK_EQ(vsock_create(&dev, "vsock9", &mem, &opt, err, sizeof(err)), -EINVAL);
}

/*
 * vsock.socket: "CONNECT <port>" becomes a REQUEST; the guest's RESPONSE
 * gives the client "OK <host port>"; bytes the client sent right after its
 * line are the stream's first.
 */
static int host_to_guest(struct drv *d, uint32_t gport, struct gs *s, size_t cap)
{
	char line[64], want[32];
	struct pkt p;
	int fd = unix_connect("vsock.socket");
	int len = snprintf(line, sizeof(line), "CONNECT %u\nearly", gport);

	CHECK_EQ(write(fd, line, (size_t)len), len);
	CHECK(wait_pkt(d, &p));
	CHECK_EQ(p.op, VIRTIO_VSOCK_OP_REQUEST);
	CHECK_EQ(p.type, VIRTIO_VSOCK_TYPE_STREAM);
	CHECK_EQ(p.dst_port, gport);
	CHECK(p.src_port >= FIRST_HOST_PORT);
	CHECK_EQ(p.buf_alloc, 256 * 1024);
	gs_init(s, gport, p.src_port, cap);
	s->peer_buf_alloc = p.buf_alloc;
	send_gs(d, s, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
	len = snprintf(want, sizeof(want), "OK %u\n", p.src_port);
	CHECK_EQ(host_read(d, fd, line, (size_t)len, s, 1), len);
	line[len] = '\0';
	CHECK_STR(line, want);
	for (int i = 0; i < WAIT_ROUNDS && s->rx_len < 5; i++) {
		pump(d, 10);
		deliver(d, s, 1, NULL);
	}
	CHECK_EQ(s->rx_len, 5);
	CHECK(!memcmp(s->rx, "early", 5));
	s->rx_len = 0;
	s->fwd_cnt = s->fwd_told = 0;		/* the device counts from 5: rebase */
	return fd;
}

/* Host writes n bytes of seed's pattern; the guest gets them all, in order. */
static void host_sends(struct drv *d, int fd, struct gs *s, size_t n, uint32_t seed)
{
	uint8_t *buf = malloc(n);
	size_t sent = 0, base = s->rx_len;

	for (size_t i = 0; i < n; i++)
		buf[i] = pattern(seed, i);
	for (int i = 0; i < WAIT_ROUNDS && (sent < n || s->rx_len < base + n); i++) {
		ssize_t w = sent < n ? send(fd, buf + sent, n - sent, MSG_DONTWAIT) : 0;

		if (w > 0) {
			sent += (size_t)w;
			i = 0;
		}
		pump(d, w > 0 ? 0 : 10);
		if (deliver(d, s, 1, NULL))
			i = 0;
	}
	CHECK_EQ(s->rx_len, base + n);
	CHECK(s->rx_len == base + n && matches(s->rx + base, n, seed, 0));
	free(buf);
}

/* The guest sends n bytes within the device's credit; the host reads them all. */
static void guest_sends(struct drv *d, int fd, struct gs *s, size_t n, uint32_t seed)
{
	uint8_t *chunk = malloc(65536), *got = malloc(n);
	size_t sent = 0, recvd = 0;

	for (int i = 0; i < WAIT_ROUNDS && recvd < n; i++) {
		uint32_t len = peer_credit(s);

		if (len > 65536)
			len = 65536;
		if (len > n - sent)
			len = (uint32_t)(n - sent);
		if (len) {
			for (uint32_t k = 0; k < len; k++)
				chunk[k] = pattern(seed, sent + k);
			send_gs(d, s, VIRTIO_VSOCK_OP_RW, 0, chunk, len);
			sent += len;
		}
		ssize_t r = recv(fd, got + recvd, n - recvd, MSG_DONTWAIT);

		if (r > 0 || len)
			i = 0;
		if (r > 0)
			recvd += (size_t)r;
		pump(d, len || r > 0 ? 0 : 10);
		deliver(d, s, 1, NULL);
	}
	CHECK_EQ(recvd, n);
	CHECK(recvd == n && matches(got, n, seed, 0));
	free(chunk);
	free(got);
}

static void test_host_initiated(struct drv *d)
{
	struct gs s;
	int fd = host_to_guest(d, 1234, &s, 4 * MIB);

	host_sends(d, fd, &s, 2 * MIB + 123, 1);
	guest_sends(d, fd, &s, 2 * MIB + 77, 2);
	/* The guest closes both ways: the host sees EOF, the guest its RST. */
	send_gs(d, &s, VIRTIO_VSOCK_OP_SHUTDOWN, RCV | SEND, NULL, 0);
	CHECK(host_sees_eof(d, fd));
	for (int i = 0; i < WAIT_ROUNDS && !s.rst; i++) {
		pump(d, 10);
		deliver(d, &s, 1, NULL);
	}
	CHECK(s.rst);
	close(fd);
	free(s.rx);
}

static void test_refused(struct drv *d)
{
	struct pkt p;
	int fd = unix_connect("vsock.socket");

	/* Nobody listens on guest port 99: no OK line, just EOF. */
	CHECK_EQ(write(fd, "CONNECT 99\n", 11), 11);
	CHECK(wait_pkt(d, &p));
	CHECK_EQ(p.op, VIRTIO_VSOCK_OP_REQUEST);
	send_pkt(d, 99, p.src_port, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	CHECK(host_sees_eof(d, fd));
	close(fd);

	/* Bad handshakes are closed without asking the guest. */
	static const char *const bad[] = {
		"HELLO\n", "CONNECT\n", "CONNECT x1\n", "CONNECT 4294967296\n",
		"CONNECT 12345678901234567890", "CONNECT 5", "connect 5\n",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = unix_connect("vsock.socket");
		CHECK_EQ(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
		if (!strchr(bad[i], '\n') && strlen(bad[i]) < 20)
			shutdown(fd, SHUT_WR);		/* an unfinished line, then EOF */
		CHECK(host_sees_eof(d, fd));
		close(fd);
	}
	pump(d, 10);
	CHECK(!recv_pkt(d, &p));
}

/* The guest connects to host port P: vsock.socket_<P> in the working directory. */
static int guest_to_host(struct drv *d, int lfd, struct gs *s, uint32_t gport, uint32_t hport)
{
	int fd = -1;

	gs_init(s, gport, hport, 4 * MIB);
	send_gs(d, s, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	for (int i = 0; i < WAIT_ROUNDS && !s->opened; i++) {
		pump(d, 10);
		deliver(d, s, 1, NULL);
	}
	CHECK(s->opened);
	CHECK_EQ(s->peer_buf_alloc, 256 * 1024);
	for (int i = 0; i < WAIT_ROUNDS && fd < 0; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		pump(d, fd < 0 ? 10 : 0);
	}
	CHECK(fd >= 0);
	return fd;
}

static void test_guest_initiated(struct drv *d)
{
	int lfd = unix_listen("vsock.socket_5001"), fd;
	struct pkt p;
	struct gs s;

	fd = guest_to_host(d, lfd, &s, 40000, 5001);
	guest_sends(d, fd, &s, 1 * MIB + 5, 3);
	host_sends(d, fd, &s, 1 * MIB + 9, 4);
	/* The host closes: the guest gets SHUTDOWN both ways and answers RST. */
	close(fd);
	for (int i = 0; i < WAIT_ROUNDS && s.shut != (RCV | SEND); i++) {
		pump(d, 10);
		deliver(d, &s, 1, NULL);
	}
	CHECK_EQ(s.shut, RCV | SEND);
	send_gs(d, &s, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	pump(d, 10);
	CHECK(!recv_pkt(d, &p));

	/* No vsock.socket_5002: RST. */
	send_pkt(d, 40001, 5002, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	CHECK(wait_pkt(d, &p));
	CHECK_EQ(p.op, VIRTIO_VSOCK_OP_RST);
	CHECK_EQ(p.src_port, 5002);
	CHECK_EQ(p.dst_port, 40001);
	close(lfd);
	unlink("vsock.socket_5001");
	free(s.rx);
}

/*
 * A host listener whose backlog is full: the guest's REQUEST waits (a
 * blocking client would), is answered once the host accepts, and gets an
 * RST if it never does.
 */
static void test_full_backlog(struct drv *d)
{
	int lfd = unix_listen_backlog("vsock.socket_5007", 0), fillers[16], n = 0, fd;
	struct pkt p;
	struct gs s;

	while (n < 16) {		/* fill the backlog from the host */
		fillers[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (connect(fillers[n], (struct sockaddr *)&(struct sockaddr_un){
				    .sun_family = AF_UNIX, .sun_path = "vsock.socket_5007" },
			    sizeof(struct sockaddr_un))) {
			CHECK_EQ(errno, EAGAIN);
			close(fillers[n]);
			break;
		}
		n++;
	}
	CHECK(n >= 1 && n < 16);
	gs_init(&s, 44000, 5007, 64);
	send_gs(d, &s, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	for (int i = 0; i < 5; i++)
		pump(d, 5);
	CHECK(!recv_pkt(d, &p));	/* neither RESPONSE nor RST yet */
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);	/* room for one */
	CHECK(fd >= 0);
	close(fd);
	for (int i = 0; i < WAIT_ROUNDS && !s.opened; i++) {
		pump(d, 10);
		deliver(d, &s, 1, NULL);
	}
	CHECK(s.opened);
	/* Full again, and nobody accepts: RST in the end. */
	send_pkt(d, 44001, 5007, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	CHECK(wait_pkt(d, &p));
	CHECK_EQ(p.op, VIRTIO_VSOCK_OP_RST);
	CHECK_EQ(p.dst_port, 44001);
	send_gs(d, &s, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	for (int i = 0; i < n; i++)
		close(fillers[i]);
	close(lfd);
	unlink("vsock.socket_5007");
	free(s.rx);
}

/*
 * A stalled guest reader: the device sends no more than the guest's
 * buf_alloc, and resumes when the guest says it read. A stalled host
 * reader: the guest sends within the device's credit and all arrives.
 */
static void test_flow_control(struct drv *d)
{
	int lfd = unix_listen("vsock.socket_5003"), fd;
	size_t n = 100 * 1024, sent = 0;
	uint8_t *buf = malloc(n);
	struct gs s;

	fd = guest_to_host(d, lfd, &s, 40002, 5003);
	s.buf_alloc = 16384;
	s.consume = false;
	send_gs(d, &s, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern(5, i);
	while (sent < n) {
		ssize_t w = send(fd, buf + sent, n - sent, MSG_DONTWAIT);

		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	CHECK_EQ(sent, n);			/* the socket holds it all */
	for (size_t stage = 1; s.rx_len < n && stage < 20; stage++) {
		size_t want = stage * 16384 < n ? stage * 16384 : n;

		for (int i = 0; i < WAIT_ROUNDS && s.rx_len < want; i++) {
			pump(d, 10);
			deliver(d, &s, 1, NULL);
		}
		for (int i = 0; i < 5; i++) {	/* and nothing more comes */
			pump(d, 2);
			deliver(d, &s, 1, NULL);
		}
		CHECK_EQ(s.rx_len, want);
		s.fwd_cnt = (uint32_t)s.rx_len;	/* the reader catches up */
		send_gs(d, &s, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	}
	CHECK(s.rx_len == n && matches(s.rx, n, 5, 0));

	/* The host does not read: the guest fills the socket and the device's buffer. */
	{
		uint8_t chunk[4096];
		size_t total = 0, recvd = 0;
		uint8_t *got = malloc(4 * MIB);
		int stalls = 0;

		for (;;) {
			uint32_t len = peer_credit(&s) < sizeof(chunk) ? peer_credit(&s) : sizeof(chunk);

			if (!len) {
				pump(d, 5);
				deliver(d, &s, 1, NULL);
				if (!peer_credit(&s) && ++stalls > 3)
					break;
				continue;
			}
			for (uint32_t k = 0; k < len; k++)
				chunk[k] = pattern(6, total + k);
			send_gs(d, &s, VIRTIO_VSOCK_OP_RW, 0, chunk, len);
			total += len;
			CHECK(total < 4 * MIB);
			if (total >= 4 * MIB)
				break;
		}
		/* Stalled: the socket is full and 256 KiB more wait in the device. */
		CHECK(total >= 256 * 1024);
		recvd = host_read(d, fd, got, total, &s, 1);
		CHECK_EQ(recvd, total);
		CHECK(matches(got, recvd, 6, 0));
		free(got);
	}
	close(fd);
	close(lfd);
	unlink("vsock.socket_5003");
	free(buf);
	free(s.rx);
}

/*
 * Half-close from the guest: SHUTDOWN(SEND) is the host's EOF, and the
 * host's answer still reaches the guest. Half-close from the host: the
 * guest gets SHUTDOWN(SEND) and can still send.
 */
static void test_half_close(struct drv *d)
{
	int lfd = unix_listen("vsock.socket_5004"), fd;
	char buf[64];
	struct gs s;

	fd = guest_to_host(d, lfd, &s, 40003, 5004);
	send_gs(d, &s, VIRTIO_VSOCK_OP_RW, 0, "question", 8);
	send_gs(d, &s, VIRTIO_VSOCK_OP_SHUTDOWN, SEND, NULL, 0);
	CHECK_EQ(host_read(d, fd, buf, sizeof(buf), &s, 1), 8);	/* then EOF */
	CHECK(!memcmp(buf, "question", 8));
	CHECK_EQ(send(fd, "answer", 6, 0), 6);
	close(fd);
	for (int i = 0; i < WAIT_ROUNDS && !s.shut; i++) {
		pump(d, 10);
		deliver(d, &s, 1, NULL);
	}
	CHECK_EQ(s.rx_len, 6);
	CHECK(!memcmp(s.rx, "answer", 6));
	CHECK(s.shut & SEND);
	free(s.rx);

	fd = guest_to_host(d, lfd, &s, 40004, 5004);
	CHECK_EQ(send(fd, "hello", 5, 0), 5);
	CHECK_EQ(shutdown(fd, SHUT_WR), 0);
	for (int i = 0; i < WAIT_ROUNDS && !s.shut; i++) {
		pump(d, 10);
		deliver(d, &s, 1, NULL);
	}
	CHECK_EQ(s.shut, SEND);
	CHECK_EQ(s.rx_len, 5);
	guest_sends(d, fd, &s, 300 * 1024, 7);
	send_gs(d, &s, VIRTIO_VSOCK_OP_SHUTDOWN, SEND, NULL, 0);
	CHECK(host_sees_eof(d, fd));
	/* Both directions done: the device ends the stream. */
	for (int i = 0; i < WAIT_ROUNDS && !s.rst && s.shut != (RCV | SEND); i++) {
		pump(d, 10);
		deliver(d, &s, 1, NULL);
	}
	CHECK(s.rst || s.shut == (RCV | SEND));
	close(fd);
	close(lfd);
	unlink("vsock.socket_5004");
	free(s.rx);
}

/* 64 host clients at once, 64 KiB each way, every stream with its own data. */
static void test_many_streams(struct drv *d)
{
	enum { N = 64, SIZE = 64 * 1024 };
	static struct gs s[N];
	uint8_t *buf = malloc(SIZE), *got = malloc(SIZE);
	int fd[N];
	struct pkt p;

	for (unsigned i = 0; i < N; i++) {
		char line[32];
		int len = snprintf(line, sizeof(line), "CONNECT %u\n", 2000 + i);

		fd[i] = unix_connect("vsock.socket");
		CHECK_EQ(write(fd[i], line, (size_t)len), len);
	}
	for (unsigned i = 0; i < N; i++) {
		CHECK(wait_pkt(d, &p));
		CHECK_EQ(p.op, VIRTIO_VSOCK_OP_REQUEST);
		unsigned k = p.dst_port - 2000;
		CHECK(k < N);
		if (k >= N)
			break;
		gs_init(&s[k], p.dst_port, p.src_port, SIZE);
		s[k].peer_buf_alloc = p.buf_alloc;
	}
	for (unsigned i = 0; i < N; i++) {
		char want[32], line[32];
		int len = snprintf(want, sizeof(want), "OK %u\n", s[i].hport);

		send_gs(d, &s[i], VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
		CHECK_EQ(host_read(d, fd[i], line, (size_t)len, s, N), len);
		CHECK(!memcmp(line, want, (size_t)len));
	}
	for (unsigned i = 0; i < N; i++) {
		for (size_t k = 0; k < SIZE; k++)
			buf[k] = pattern(100 + i, k);
		CHECK_EQ(send(fd[i], buf, SIZE, 0), SIZE);	/* fits the socket */
	}
	for (int r = 0; r < WAIT_ROUNDS; r++) {
		unsigned done = 0;

		pump(d, 5);
		deliver(d, s, N, NULL);
		for (unsigned i = 0; i < N; i++)
			done += s[i].rx_len == SIZE;
		if (done == N)
			break;
	}
	for (unsigned i = 0; i < N; i++) {
		CHECK_EQ(s[i].rx_len, SIZE);
		CHECK(matches(s[i].rx, SIZE, 100 + i, 0));
	}
	for (unsigned i = 0; i < N; i++) {
		for (size_t k = 0; k < SIZE; k += 16384) {
			for (size_t j = 0; j < 16384; j++)
				buf[j] = pattern(200 + i, k + j);
			send_gs(d, &s[i], VIRTIO_VSOCK_OP_RW, 0, buf, 16384);
		}
	}
	for (unsigned i = 0; i < N; i++) {
		CHECK_EQ(host_read(d, fd[i], got, SIZE, s, N), SIZE);
		CHECK(matches(got, SIZE, 200 + i, 0));
		close(fd[i]);
	}
	/* Each close ends its stream: SHUTDOWN both ways, answered with RST. */
	for (int r = 0; r < WAIT_ROUNDS; r++) {
		unsigned done = 0;

		pump(d, 5);
		deliver(d, s, N, NULL);
		for (unsigned i = 0; i < N; i++)
			done += s[i].shut == (RCV | SEND);
		if (done == N)
			break;
	}
	for (unsigned i = 0; i < N; i++) {
		CHECK_EQ(s[i].shut, RCV | SEND);
		send_gs(d, &s[i], VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
		free(s[i].rx);
	}
	free(buf);
	free(got);
}

/*
 * command.socket: a stream to port 5000 without a handshake, held while the
 * guest refuses or has no driver, asked again until it accepts.
 */
static void test_command_socket(struct drv *d)
{
	struct pkt p;
	struct gs s;
	char buf[16];
	int fd = unix_connect("command.socket");

	CHECK_EQ(write(fd, "ping", 4), 4);
	for (int attempt = 0; attempt < 3; attempt++) {
		CHECK(wait_pkt(d, &p));
		CHECK_EQ(p.op, VIRTIO_VSOCK_OP_REQUEST);
		CHECK_EQ(p.dst_port, 5000);
		send_pkt(d, 5000, p.src_port, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	}
	/* A REQUEST from the guest with the held stream's ports: refused, the client waits on. */
	send_pkt(d, 5000, p.src_port, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	{
		struct pkt r = { 0 };

		for (int i = 0; i < 3 && r.op != VIRTIO_VSOCK_OP_RST; i++)
			CHECK(wait_pkt(d, &r));	/* a retried REQUEST may come first */
		CHECK_EQ(r.op, VIRTIO_VSOCK_OP_RST);
		CHECK_EQ(r.src_port, p.src_port);
	}
	/* The driver resets (a guest rebooting): the client still waits. */
	CHECK_EQ(d->link->ops->reset(d->link), 0);
	for (int i = 0; i < 40; i++)
		pump(d, 10);
	setup_queues(d, QSIZE);
	CHECK(wait_pkt(d, &p));
	CHECK_EQ(p.op, VIRTIO_VSOCK_OP_REQUEST);
	CHECK_EQ(p.dst_port, 5000);
	gs_init(&s, 5000, p.src_port, 64);
	s.peer_buf_alloc = p.buf_alloc;
	send_gs(d, &s, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
	for (int i = 0; i < WAIT_ROUNDS && s.rx_len < 4; i++) {
		pump(d, 10);
		deliver(d, &s, 1, NULL);
	}
	CHECK_EQ(s.rx_len, 4);
	CHECK(!memcmp(s.rx, "ping", 4));
	send_gs(d, &s, VIRTIO_VSOCK_OP_RW, 0, "pong", 4);
	CHECK_EQ(host_read(d, fd, buf, 4, &s, 1), 4);	/* no "OK" line first */
	CHECK(!memcmp(buf, "pong", 4));

	/* A driver reset closes the streams the guest knew. */
	CHECK_EQ(d->link->ops->reset(d->link), 0);
	CHECK(host_sees_eof(d, fd));
	setup_queues(d, QSIZE);
	close(fd);
	free(s.rx);
}

/* With a short hold, a guest that never accepts: the client is closed. */
static void test_command_expiry(void)
{
	static struct drv d;
	struct pkt p;
	int fd, refused = 0;

	start(&d, 600);
	fd = unix_connect("command.socket");
	for (int i = 0; i < WAIT_ROUNDS; i++) {
		char c;

		if (recv(fd, &c, 1, MSG_DONTWAIT) == 0)
			break;
		pump(&d, 10);
		while (recv_pkt(&d, &p)) {
			CHECK_EQ(p.op, VIRTIO_VSOCK_OP_REQUEST);
			send_pkt(&d, 5000, p.src_port, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
			refused++;
		}
	}
	CHECK(refused >= 2);
	CHECK(host_sees_eof(&d, fd));
	close(fd);
	stop(&d);
}

/* Without rx buffers the device waits: no CQE keeps coming back. */
static void test_rx_starvation(void)
{
	static struct drv d;
	struct pkt p;
	unsigned cqes = 0;
	int lfd = unix_listen("vsock.socket_5005"), fd = -1;
	struct gs s;

	start(&d, 0);
	fd = guest_to_host(&d, lfd, &s, 40005, 5005);
	s.buf_alloc = 1u << 30;		/* credit is not what stops the device here */
	send_gs(&d, &s, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	d.repost = false;
	while (recv_pkt(&d, &p))
		;
	/* Use up the posted buffers, then keep the host writing. */
	for (unsigned i = 0; i < QSIZE + 10; i++) {
		char chunk[1000];

		memset(chunk, (int)i, sizeof(chunk));
		send(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		pump(&d, 1);
	}
	while (recv_pkt(&d, &p))
		;
	for (int i = 0; i < 50; i++)
		cqes += pump(&d, 2);
	CHECK_EQ(cqes, 0);
	d.repost = true;
	for (unsigned i = 0; i < 8; i++)
		post_rx(&d, (uint16_t)i, RX_BUF);
	kick(&d, RX);
	CHECK(wait_pkt(&d, &p));
	CHECK_EQ(p.op, VIRTIO_VSOCK_OP_RW);
	close(fd);
	close(lfd);
	unlink("vsock.socket_5005");
	free(s.rx);
	stop(&d);
}

/* Rx buffers with room for a header only: credit updates, no data lost. */
static void test_header_only_buffers(struct drv *d)
{
	int lfd = unix_listen("vsock.socket_5008"), fd;
	struct pkt p;
	struct gs s;

	CHECK_EQ(d->link->ops->reset(d->link), 0);
	setup_queues(d, 0);
	d->repost = false;
	for (unsigned i = 0; i < 4; i++)
		post_rx(d, (uint16_t)i, HDR);
	fd = guest_to_host(d, lfd, &s, 41100, 5008);
	CHECK_EQ(send(fd, "abc", 3, 0), 3);
	for (int i = 0; i < 10; i++)
		pump(d, 5);
	while (recv_pkt(d, &p))
		CHECK_EQ(p.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	d->repost = true;
	for (unsigned i = 4; i < 12; i++)
		post_rx(d, (uint16_t)i, RX_BUF);
	for (int i = 0; i < WAIT_ROUNDS && s.rx_len < 3; i++) {
		pump(d, 10);
		deliver(d, &s, 1, NULL);
	}
	CHECK_EQ(s.rx_len, 3);
	CHECK(!memcmp(s.rx, "abc", 3));
	CHECK(!s.shut && !s.rst);
	close(fd);
	close(lfd);
	unlink("vsock.socket_5008");
	free(s.rx);
	CHECK_EQ(d->link->ops->reset(d->link), 0);
	setup_queues(d, QSIZE);
}

static void test_hostile(struct drv *d)
{
	int lfd = unix_listen("vsock.socket_5006"), fd;
	struct virtio_vsock_hdr h;
	uint8_t big[65536] = { 0 };
	struct pkt p;
	struct gs s;

	/* Shorter than a header: dropped. */
	send_raw(d, "short", 5, NULL, 0);
	CHECK(d->dev.active);
	/* Wrong source or destination CID: dropped without an answer. */
	h = mkhdr(41000, 5006, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 65536, 0);
	h.src_cid = htole64(7);
	send_raw(d, &h, HDR, NULL, 0);
	h.src_cid = htole64(CID);
	h.dst_cid = htole64(5);
	send_raw(d, &h, HDR, NULL, 0);
	pump(d, 10);
	CHECK(!recv_pkt(d, &p));
	CHECK_EQ(accept4(lfd, NULL, NULL, SOCK_NONBLOCK), -1);
	/* SEQPACKET, an unknown op, data for no stream: RST. */
	h = mkhdr(41001, 5006, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 65536, 0);
	h.type = htole16(VIRTIO_VSOCK_TYPE_SEQPACKET);
	send_raw(d, &h, HDR, NULL, 0);
	send_pkt(d, 41002, 5006, 99, 0, NULL, 0);
	send_pkt(d, 41003, 5006, VIRTIO_VSOCK_OP_RW, 0, "x", 1);
	for (uint32_t port = 41001; port <= 41003; port++) {
		CHECK(wait_pkt(d, &p));
		CHECK_EQ(p.op, VIRTIO_VSOCK_OP_RST);
		CHECK_EQ(p.dst_port, port);
	}
	/* A length beyond the payload: RST, nothing read past it. */
	h = mkhdr(41004, 5006, VIRTIO_VSOCK_OP_RW, 0, 100000, 65536, 0);
	send_raw(d, &h, HDR, big, 10);
	CHECK(wait_pkt(d, &p));
	CHECK_EQ(p.op, VIRTIO_VSOCK_OP_RST);

	/* Beyond the credit: the stream is reset, nothing is buffered beyond it. */
	fd = guest_to_host(d, lfd, &s, 41005, 5006);
	for (unsigned i = 0; i < 64 && !s.rst; i++) {
		s.tx_cnt = 0;			/* lie: ignore what the device says */
		send_gs(d, &s, VIRTIO_VSOCK_OP_RW, 0, big, sizeof(big));
		pump(d, 0);
		deliver(d, &s, 1, NULL);
	}
	CHECK(s.rst);
	close(fd);
	free(s.rx);
	CHECK(d->dev.active);

	/* RSTs owed while the guest posts no rx buffers: bounded, none lost that fit. */
	d->repost = false;
	while (recv_pkt(d, &p))
		;
	{
		unsigned posted = fake_vq_unused(&d->vq[RX]), rsts = 0;

		for (unsigned i = 0; i < posted + 200; i++)
			send_pkt(d, 42000 + i, 5999, VIRTIO_VSOCK_OP_RW, 0, "x", 1);
		while (recv_pkt(d, &p))
			rsts++;
		CHECK_EQ(rsts, posted);
		d->repost = true;
		for (unsigned i = 0; i < QSIZE; i++)
			post_rx(d, (uint16_t)i, RX_BUF);
		kick(d, RX);
		while (recv_pkt(d, &p))
			rsts++;
		CHECK_EQ(rsts, posted + 64);	/* the rest were dropped */
		CHECK(d->dev.active);
	}

	/* An rx buffer too small for a header: the device needs a reset. */
	CHECK_EQ(d->link->ops->reset(d->link), 0);
	setup_queues(d, 0);
	post_rx(d, 0, 10);
	send_pkt(d, 43000, 5999, VIRTIO_VSOCK_OP_RW, 0, "x", 1);
	CHECK(!d->dev.active);
	CHECK_EQ(d->link->ops->reset(d->link), 0);
	setup_queues(d, QSIZE);
	send_pkt(d, 43001, 5999, VIRTIO_VSOCK_OP_RW, 0, "x", 1);
	CHECK(wait_pkt(d, &p));
	CHECK_EQ(p.op, VIRTIO_VSOCK_OP_RST);
	close(lfd);
	unlink("vsock.socket_5006");
}

int main(void)
{
	static struct drv d, jailed;
	const char *tmp = getenv("TMPDIR");
	char dir[128];

	log_set_level(getenv("VSOCK_LOG") ? LOG_DEBUG : LOG_ERROR);
	/* Shared, like guest RAM: a jailed device sees the rings after the fork. */
	ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(ram != MAP_FAILED);
	guest_mem_layout(&mem, ram, RAM);
	snprintf(dir, sizeof(dir), "%s/test_vsock.XXXXXX", tmp ? tmp : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ(chdir(dir), 0);	/* the device finds vsock.socket_<port> here */

	test_create_errors();
	start(&d, 0);
	test_config(&d);
	test_host_initiated(&d);
	test_refused(&d);
	test_guest_initiated(&d);
	test_full_backlog(&d);
	test_flow_control(&d);
	test_half_close(&d);
	test_many_streams(&d);
	test_command_socket(&d);
	test_hostile(&d);
	test_header_only_buffers(&d);
	stop(&d);
	test_command_expiry();
	test_rx_starvation();

	if (start_jailed(&jailed, dir)) {
		test_host_initiated(&jailed);
		test_guest_initiated(&jailed);
		test_full_backlog(&jailed);
		test_half_close(&jailed);
		test_many_streams(&jailed);
		test_command_socket(&jailed);
		stop(&jailed);
	}

	unlink("vsock.socket");
	unlink("command.socket");
	CHECK_EQ(chdir("/"), 0);
	CHECK_EQ(rmdir(dir), 0);
	return check_report("test_vsock");
}
