/*
 * libFuzzer harness for virtio-vsock (devices/vsock*.c) driven through its
 * virtqueues: the guest's rings, packet headers and payloads are the
 * fuzzer's, and so is what local programs write on the host: a client of
 * vsock.socket (its "CONNECT <port>" line and data) and whatever answers a
 * guest's connection on vsock.socket_1234 in the working directory (a
 * temp directory). Every packet the guest receives must come from the
 * host's cid to the guest's, be a stream packet, and fit its buffer.
 *
 * Input: fuzz_driver.h; the host bytes are a u16 length n, n bytes the
 * vsock.socket client writes, then what the host port's side writes.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>

#include "devices/vsock_device.h"
#include "tests/fuzz/fuzz_driver.h"
#include "vmm/log.h"

#define GUEST_CID 3
#define HOST_CID 2			/* VMADDR_CID_HOST */
#define HOST_PORT 1234
#define HDR ((uint32_t)sizeof(struct virtio_vsock_hdr))
#define MAX_STREAMS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_driver d;
static int port_listener = -1;		/* vsock.socket_1234 */
static int client = -1;			/* connected to vsock.socket */
static int streams[MAX_STREAMS];	/* accepted on vsock.socket_1234 */
static unsigned nr_streams;
static const uint8_t *client_data, *stream_data;
static size_t client_len, stream_len;

static void setup(void)
{
	char dir[] = "/tmp/fuzz_vsock.XXXXXX";
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	if (!mkdtemp(dir) || chdir(dir))
		abort();
	snprintf(a.sun_path, sizeof(a.sun_path), "vsock.socket_%u", HOST_PORT);
	port_listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (port_listener < 0 || bind(port_listener, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(port_listener, 64))
		abort();
	log_set_level(LOG_ERROR);
}

/* A listening socket with an abstract name of the kernel's choosing. */
static int autobound_listener(struct sockaddr_un *a, socklen_t *len)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	*len = sizeof(*a);
	*a = (struct sockaddr_un){ .sun_family = AF_UNIX };
	/* Binding just the family autobinds to an abstract name. */
	if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof(sa_family_t)) || listen(fd, 16) || getsockname(fd, (struct sockaddr *)a, len))
		abort();
	return fd;
}

static void drain(int fd)
{
	uint8_t buf[4096];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void feed(int fd, const uint8_t **p, size_t *len)
{
	ssize_t n;

	if (!*len)
		return;
	n = send(fd, *p, *len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n > 0) {
		*p += n;
		*len -= (size_t)n;
	}
}

/* The host's programs: take the guest's connections, write, read. */
static void host_turn(struct fuzz_driver *drv)
{
	int fd;

	while (nr_streams < MAX_STREAMS &&
	       (fd = accept4(port_listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		streams[nr_streams++] = fd;
	feed(client, &client_data, &client_len);
	drain(client);
	for (unsigned i = 0; i < nr_streams; i++) {
		feed(streams[i], &stream_data, &stream_len);
		drain(streams[i]);
	}
}

static void split_host(void)
{
	const uint8_t *p = d.host;
	size_t left = d.host_len, n = 0;

	if (left >= 2) {
		n = (size_t)(p[0] | p[1] << 8);
		p += 2;
		left -= 2;
	}
	client_data = p;
	client_len = n < left ? n : left;
	stream_data = p + client_len;
	stream_len = left - client_len;
}

/*
 * Whether the device wrote only into plain buffers away from the rings:
 * then the used ring holds only what it pushed, and each buffer one packet.
 */
static bool plain_buffers(unsigned q, uint16_t qsize)
{
	const struct vring_desc *desc = (const void *)(d.ram + FUZZ_RING(q));

	for (uint16_t i = 0; i < qsize; i++)
		if (desc[i].flags != VRING_DESC_F_WRITE ||
		    desc[i].addr < FUZZ_RING(FUZZ_MAX_QUEUES) || desc[i].addr >= FUZZ_RAM ||
		    desc[i].len > FUZZ_RAM - desc[i].addr)
			return false;
	return true;
}

/* Each used receive buffer holds a packet from the host to the guest. */
static void check_received(const struct fuzz_driver_hdr *hdr)
{
	const struct vring_desc *desc = (const void *)(d.ram + FUZZ_RING(0));
	const struct vring_used *used = (const void *)(d.ram + FUZZ_RING(0) + 0x1400);
	uint16_t qsize = (uint16_t)(1u << hdr->qsize_log[0] % 9), n = used->idx;

	if (!plain_buffers(0, qsize) ||
	    !plain_buffers(2, (uint16_t)(1u << hdr->qsize_log[2] % 9)))
		return;

	for (uint16_t i = 0; i < n && i < qsize; i++) {
		struct vring_used_elem e = used->ring[i];
		struct virtio_vsock_hdr h;
		struct vring_desc dsc;

		if (e.id >= qsize)
			abort();
		dsc = desc[e.id];
		if (e.len > dsc.len || e.len < HDR)
			abort();	/* every packet has a header */
		memcpy(&h, d.ram + dsc.addr, HDR);
		if (le64toh(h.src_cid) != HOST_CID || le64toh(h.dst_cid) != GUEST_CID ||
		    le16toh(h.type) != VIRTIO_VSOCK_TYPE_STREAM || le32toh(h.len) > e.len - HDR)
			abort();
	}
}

static void close_host(int listen_fd, int command_fd)
{
	for (unsigned i = 0; i < nr_streams; i++)
		close(streams[i]);
	nr_streams = 0;
	close(client);
	close(listen_fd);
	close(command_fd);
	while ((client = accept4(port_listener, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(client);
	client = -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vsock_options opt = { .guest_cid = GUEST_CID, .hold_ms = 1000 };
	struct fuzz_driver_hdr hdr;
	struct sockaddr_un a;
	socklen_t alen;
	char err[160];

	if (port_listener < 0)
		setup();
	if (!fuzz_driver_input(&d, data, size, &hdr))
		return 0;
	split_host();
	opt.listen_fd = autobound_listener(&a, &alen);
	opt.command_fd = autobound_listener(&(struct sockaddr_un){ 0 }, &(socklen_t){ 0 });
	client = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (client < 0 || connect(client, (struct sockaddr *)&a, alen))
		abort();
	if (vsock_create(&d.dev, "vsock0", &d.mem, &opt, err, sizeof(err)))
		abort();
	d.host_turn = host_turn;
	if (!fuzz_driver_start(&d, &hdr, ~0ull))
		fuzz_driver_run(&d, 512);
	fuzz_driver_stop(&d);
	check_received(&hdr);
	close_host(opt.listen_fd, opt.command_fd);
	return 0;
}
