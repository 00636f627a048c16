/*
 * The cross-domain context type (devices/cross_domain*.c) against
 * fake_gpu.c: a guest's command streams, fences and blobs on one side,
 * a scripted compositor on the other end of each host connection. Every
 * message the type writes into a ring is checked byte for byte, and every
 * hostile input gets an error without a hang or a leak.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <linux/virtio_gpu.h>

#include "check.h"
#include "devices/cross_domain.h"
#include "devices/cross_domain_priv.h"
#include "fake_gpu.h"
#include "log_capture.h"
#include "open_fds.h"

#define QRING	1
#define CRING	2
#define PAGE	4096u
#define OK	0
#define EPARAM	VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER
#define ERES	VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID
#define EUNSPEC	VIRTIO_GPU_RESP_ERR_UNSPEC

#define XR24	0x34325258u	/* 'X' 'R' '2' '4' */
#define NV12	0x3231564eu
#define YV12	0x32315659u
#define RG16	0x36314752u

static struct gpu *gpu;

struct env {
	struct gpu_ctx *ctx;
	struct gpu_resource *query, *channel;
	int comp;		/* the compositor's end */
};

static struct cd_ctx *cd_of(struct env *e)
{
	return e->ctx->priv;
}

static uint32_t submit(struct gpu_ctx *ctx, const void *cmd, uint32_t len)
{
	return ctx->type->submit(ctx, cmd, len);
}

static bool fence(struct gpu_ctx *ctx, uint8_t ring, uint64_t id)
{
	return ctx->type->fence(ctx, ring, id);
}

static struct cross_domain_hdr hdr(uint8_t cmd, uint16_t size)
{
	return (struct cross_domain_hdr){ .cmd = cmd, .cmd_size = size };
}

static uint32_t init_cmd(struct gpu_ctx *ctx, uint16_t size, uint32_t q, uint32_t c, uint32_t type)
{
	struct cross_domain_init init = {
		.hdr = hdr(CROSS_DOMAIN_CMD_INIT, size), .query_ring_id = q, .channel_ring_id = c,
		.channel_type = type,
	};

	if (size == CROSS_DOMAIN_INIT_SIZE_LEGACY)
		init.channel_ring_id = type;	/* the legacy layout: ring, then type */
	return submit(ctx, &init, size);
}

static struct gpu_ctx *new_ctx(uint32_t id)
{
	struct gpu_ctx *ctx = fake_ctx_new(gpu, id, &cross_domain_type);

	CHECK(ctx != NULL);
	return ctx;
}

/* A context with its two rings attached and INIT (20 bytes) done. */
static struct env setup(uint32_t id, uint32_t qid, uint32_t cid)
{
	struct env e = { .ctx = new_ctx(id) };

	e.query = fake_res_guest(gpu, qid, PAGE);
	e.channel = fake_res_guest(gpu, cid, PAGE);
	fake_res_attach(e.query, e.ctx);
	fake_res_attach(e.channel, e.ctx);
	CHECK_EQ(init_cmd(e.ctx, CROSS_DOMAIN_INIT_SIZE_V1, qid, cid, CROSS_DOMAIN_CHANNEL_WAYLAND), OK);
	e.comp = fake_gpu_compositor(gpu, fake_gpu_connections(gpu) - 1);
	CHECK(e.comp >= 0);
	return e;
}

static void teardown(struct env *e)
{
	fake_ctx_free(e->ctx);
}

/* Runs the loop until the fences signalled reach want, or 2 s pass. */
static unsigned pump_fences(unsigned want)
{
	const struct fake_fence *f;

	for (int i = 0; i < 200 && fake_gpu_fences(gpu, &f) < want; i++)
		fake_gpu_pump(10);
	return fake_gpu_fences(gpu, &f);
}

static const struct fake_fence *last_fence(void)
{
	const struct fake_fence *f;
	unsigned n = fake_gpu_fences(gpu, &f);

	return n ? &f[n - 1] : NULL;
}

static unsigned nr_fences(void)
{
	const struct fake_fence *f;

	return fake_gpu_fences(gpu, &f);
}

/* Bytes waiting on fd (a socket) unread. */
static int unread(int fd)
{
	int n = -1;

	ioctl(fd, SIOCINQ, &n);
	return n;
}

static ssize_t comp_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	char ctl[CMSG_SPACE(sizeof(int) * 64)] = { 0 };
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *c;

		msg.msg_control = ctl;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

/* What the device sent the compositor: bytes (waits up to 1 s) and fds. */
static ssize_t comp_recv(int sock, void *buf, size_t cap, int *fds, unsigned *nfds)
{
	char ctl[CMSG_SPACE(sizeof(int) * 32)];
	struct iovec iov = { buf, cap };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			      .msg_controllen = sizeof(ctl) };
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	ssize_t n;

	*nfds = 0;
	if (poll(&pfd, 1, 1000) != 1)
		return -1;
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
		unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

		memcpy(fds + *nfds, CMSG_DATA(c), k * sizeof(int));
		*nfds += k;
	}
	return n;
}

struct ident {
	uint32_t type, id;
};

/* A SEND of data with ids, submitted: the guest's status. */
static uint32_t guest_send(struct gpu_ctx *ctx, const void *data, uint32_t len,
			   const struct ident *ids, uint32_t nids)
{
	static uint8_t buf[65536];
	struct cross_domain_send_receive s = {
		.hdr = hdr(CROSS_DOMAIN_CMD_SEND, (uint16_t)(sizeof(s) + len)),
		.num_identifiers = nids, .opaque_data_size = len,
	};

	for (uint32_t i = 0; i < nids && i < CROSS_DOMAIN_MAX_IDENTIFIERS; i++) {
		s.identifier_types[i] = ids[i].type;
		s.identifiers[i] = ids[i].id;
	}
	memcpy(buf, &s, sizeof(s));
	memcpy(buf + sizeof(s), data, len);
	return submit(ctx, buf, (uint32_t)(sizeof(s) + len));
}

static uint32_t guest_write(struct gpu_ctx *ctx, uint32_t id, const void *data, uint32_t len,
			    uint32_t hang_up)
{
	uint8_t buf[sizeof(struct cross_domain_read_write) + 64];
	struct cross_domain_read_write w = {
		.hdr = hdr(CROSS_DOMAIN_CMD_WRITE, (uint16_t)(sizeof(w) + len)),
		.identifier = id, .hang_up = hang_up, .opaque_data_size = len,
	};

	memcpy(buf, &w, sizeof(w));
	memcpy(buf + sizeof(w), data, len);
	return submit(ctx, buf, (uint32_t)(sizeof(w) + len));
}

static uint32_t query(struct gpu_ctx *ctx, uint32_t w, uint32_t h, uint32_t format)
{
	struct cross_domain_get_image_requirements q = {
		.hdr = hdr(CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS, sizeof(q)),
		.width = w, .height = h, .drm_format = format,
	};

	return submit(ctx, &q, sizeof(q));
}

static struct cross_domain_image_requirements reply_of(struct env *e)
{
	struct cross_domain_image_requirements r;

	memcpy(&r, fake_res_data(e->query), sizeof(r));
	return r;
}

/* The channel ring must hold exactly want (header and data), then zeros. */
static void check_channel(struct env *e, const void *want, size_t len)
{
	uint8_t *ring = fake_res_data(e->channel);

	CHECK(!memcmp(ring, want, len));
	memset(ring, 0, PAGE);
}

static void check_receive(struct env *e, const void *data, uint32_t len, uint32_t nids,
			  const uint32_t *types, const uint32_t *sizes)
{
	uint8_t want[PAGE];
	struct cross_domain_send_receive r = {
		.hdr = hdr(CROSS_DOMAIN_CMD_RECEIVE, (uint16_t)(sizeof(r) + len)),
		.num_identifiers = nids, .opaque_data_size = len,
	};
	struct cross_domain_send_receive got;

	memcpy(&got, fake_res_data(e->channel), sizeof(got));
	for (uint32_t i = 0; i < nids; i++) {
		r.identifiers[i] = got.identifiers[i];	/* checked by the caller */
		r.identifier_types[i] = types[i];
		r.identifier_sizes[i] = sizes ? sizes[i] : 0;
	}
	memcpy(want, &r, sizeof(r));
	if (len)
		memcpy(want + sizeof(r), data, len);
	check_channel(e, want, sizeof(r) + len);
}

static struct cross_domain_send_receive channel_receive(struct env *e)
{
	struct cross_domain_send_receive r;

	memcpy(&r, fake_res_data(e->channel), sizeof(r));
	return r;
}

static void check_read(struct env *e, uint32_t id, uint32_t hang_up, const void *data, uint32_t len)
{
	uint8_t want[PAGE];
	struct cross_domain_read_write r = {
		.hdr = hdr(CROSS_DOMAIN_CMD_READ, (uint16_t)(sizeof(r) + len)),
		.identifier = id, .hang_up = hang_up, .opaque_data_size = len,
	};

	memcpy(want, &r, sizeof(r));
	if (len)
		memcpy(want + sizeof(r), data, len);
	check_channel(e, want, sizeof(r) + len);
}

static int sealed_memfd(const char *content, size_t size, unsigned seals)
{
	int fd = memfd_create("comp", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, (off_t)size), 0);
	if (content)
		CHECK_EQ(pwrite(fd, content, strlen(content), 0), (ssize_t)strlen(content));
	if (seals)
		CHECK_EQ(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return !fstat(a, &sa) && !fstat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static uint32_t create_blob(struct env *e, uint64_t blob_id, uint64_t size, int *fd)
{
	uint32_t map_info = 0;
	uint32_t rc = e->ctx->type->create_blob(e->ctx, blob_id, size,
						 VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE, fd, &map_info);

	if (!rc)
		CHECK_EQ(map_info, VIRTIO_GPU_MAP_CACHE_CACHED);
	return rc;
}

/* ---- the tests ---- */

static void test_capset(void)
{
	struct gpu *g = fake_gpu_new(true, true);
	uint32_t caps[4];

	CHECK_EQ(cross_domain_type.capset_id, 5);
	CHECK_EQ(cross_domain_type.capset_max_version, 1);
	CHECK_EQ(cross_domain_type.capset_size, 16);
	memset(caps, 0xaa, sizeof(caps));
	cross_domain_type.capset(gpu, 1, caps);
	CHECK(caps[0] == 1 && caps[1] == 2 && caps[2] == 0 && caps[3] == 0);
	cross_domain_type.capset(g, 1, caps);
	CHECK(caps[0] == 1 && caps[1] == 2 && caps[2] == 1 && caps[3] == 0);
	fake_gpu_free(g);
	g = fake_gpu_new(false, false);
	cross_domain_type.capset(g, 1, caps);
	CHECK_EQ(caps[1], 0);
	fake_gpu_free(g);
}

static void check_layout(uint32_t w, uint32_t h, uint32_t fmt, const uint32_t *strides,
			 const uint32_t *offsets, uint64_t size)
{
	struct cross_domain_image_requirements r;

	CHECK_EQ(cd_image_layout(w, h, fmt, &r), 0);
	for (int p = 0; p < 4; p++) {
		CHECK_EQ(r.strides[p], strides[p]);
		CHECK_EQ(r.offsets[p], offsets[p]);
	}
	CHECK_EQ(r.size, size);
	CHECK_EQ(r.modifier, 0);
	CHECK_EQ(r.map_info, VIRTIO_GPU_MAP_CACHE_CACHED);
	CHECK_EQ(r.memory_idx, -1);
	CHECK_EQ(r.physical_device_idx, -1);
}

static void test_layouts(void)
{
	struct cross_domain_image_requirements r;

	check_layout(10, 10, XR24, (uint32_t[4]){ 40 }, (uint32_t[4]){ 0 }, PAGE);
	check_layout(1280, 800, XR24, (uint32_t[4]){ 5120 }, (uint32_t[4]){ 0 }, 5120 * 800);
	check_layout(3, 1, RG16, (uint32_t[4]){ 8 }, (uint32_t[4]){ 0 }, PAGE);
	check_layout(10, 10, NV12, (uint32_t[4]){ 12, 12 }, (uint32_t[4]){ 0, 120 }, PAGE);
	check_layout(10, 10, YV12, (uint32_t[4]){ 12, 8, 8 }, (uint32_t[4]){ 0, 120, 160 }, PAGE);
	check_layout(1920, 1080, NV12, (uint32_t[4]){ 1920, 1920 }, (uint32_t[4]){ 0, 1920 * 1080 },
		     3112960);
	CHECK_EQ(cd_image_layout(10, 10, 0x12345678, &r), -EINVAL);
	CHECK_EQ(cd_image_layout(0, 10, XR24, &r), -EINVAL);
	CHECK_EQ(cd_image_layout(10, 0, XR24, &r), -EINVAL);
	CHECK_EQ(cd_image_layout(16385, 1, XR24, &r), -EINVAL);
	CHECK_EQ(cd_image_layout(16384, 16384, XR24, &r), -EINVAL);	/* 1 GiB > a blob */
	CHECK_EQ(r.size, 0);
	CHECK_EQ(cd_image_layout(8192, 8192, XR24, &r), 0);		/* 256 MiB, just */
}

static void test_init(void)
{
	struct gpu_ctx *ctx = new_ctx(1), *other = new_ctx(2);
	struct gpu_resource *q = fake_res_guest(gpu, 11, PAGE), *c = fake_res_guest(gpu, 12, PAGE);
	struct gpu_resource *small = fake_res_guest(gpu, 13, PAGE / 2);
	struct gpu_resource *host = fake_res_no_backing(gpu, 14, PAGE);
	struct gpu_resource *theirs = fake_res_guest(gpu, 15, PAGE);
	unsigned conns = fake_gpu_connections(gpu);

	fake_res_attach(q, ctx);
	fake_res_attach(c, ctx);
	fake_res_attach(small, ctx);
	fake_res_attach(host, ctx);
	fake_res_attach(theirs, other);
	CHECK_EQ(init_cmd(ctx, 24, 11, 12, 1), EPARAM);			/* no such size */
	CHECK_EQ(init_cmd(ctx, CROSS_DOMAIN_INIT_SIZE, 11, 12, 2), EPARAM);	/* camera */
	CHECK_EQ(init_cmd(ctx, CROSS_DOMAIN_INIT_SIZE, 11, 12, 0), EPARAM);
	CHECK_EQ(init_cmd(ctx, CROSS_DOMAIN_INIT_SIZE, 11, 12, CD_CHANNEL_INTERNAL), EPARAM);
	CHECK_EQ(init_cmd(ctx, CROSS_DOMAIN_INIT_SIZE, 11, 99, 1), EPARAM);	/* no resource */
	CHECK_EQ(init_cmd(ctx, CROSS_DOMAIN_INIT_SIZE, 11, 13, 1), EPARAM);	/* half a page */
	CHECK_EQ(init_cmd(ctx, CROSS_DOMAIN_INIT_SIZE, 14, 12, 1), EPARAM);	/* no backing */
	CHECK_EQ(init_cmd(ctx, CROSS_DOMAIN_INIT_SIZE, 11, 15, 1), EPARAM);	/* another's */
	fake_gpu_refuse_connect(gpu, ECONNREFUSED);
	CHECK_EQ(init_cmd(ctx, CROSS_DOMAIN_INIT_SIZE, 11, 12, 1), EUNSPEC);
	fake_gpu_refuse_connect(gpu, 0);
	CHECK_EQ(fake_gpu_connections(gpu), conns);
	CHECK_EQ(init_cmd(ctx, CROSS_DOMAIN_INIT_SIZE, 11, 12, 1), OK);
	CHECK_EQ(fake_gpu_connections(gpu), conns + 1);
	CHECK_EQ(init_cmd(ctx, CROSS_DOMAIN_INIT_SIZE, 11, 12, 1), EPARAM);	/* a second INIT */
	CHECK_EQ(fake_gpu_connections(gpu), conns + 1);
	CHECK(((struct cd_ctx *)ctx->priv)->query_ring == 11 &&
	      ((struct cd_ctx *)ctx->priv)->channel_ring == 12);
	fake_ctx_free(ctx);

	ctx = new_ctx(3);	/* legacy: one ring for both */
	fake_res_attach(q, ctx);
	CHECK_EQ(init_cmd(ctx, CROSS_DOMAIN_INIT_SIZE_LEGACY, 11, 0, 1), OK);
	CHECK(((struct cd_ctx *)ctx->priv)->query_ring == 11 &&
	      ((struct cd_ctx *)ctx->priv)->channel_ring == 11);
	fake_ctx_free(ctx);

	ctx = new_ctx(4);
	fake_res_attach(q, ctx);
	fake_res_attach(c, ctx);
	CHECK_EQ(init_cmd(ctx, CROSS_DOMAIN_INIT_SIZE_V1, 11, 12, 1), OK);
	fake_ctx_free(ctx);
	fake_ctx_free(other);

	{
		struct gpu *g = fake_gpu_new(false, false);	/* [gpu] wayland = false */

		ctx = fake_ctx_new(g, 1, &cross_domain_type);
		q = fake_res_guest(g, 11, PAGE);
		fake_res_attach(q, ctx);
		CHECK_EQ(init_cmd(ctx, CROSS_DOMAIN_INIT_SIZE, 11, 11, 1), EPARAM);
		fake_gpu_free(g);
	}
}

static void test_stream(void)
{
	struct env e = setup(5, 21, 22);
	uint8_t buf[64] = { 0 };
	struct cross_domain_hdr h;

	h = hdr(CROSS_DOMAIN_CMD_POLL, 0);
	memcpy(buf, &h, sizeof(h));
	CHECK_EQ(submit(e.ctx, buf, 16), EPARAM);		/* cmd_size 0: no spin */
	h = hdr(CROSS_DOMAIN_CMD_POLL, 7);
	memcpy(buf, &h, sizeof(h));
	CHECK_EQ(submit(e.ctx, buf, 16), EPARAM);
	h = hdr(CROSS_DOMAIN_CMD_POLL, 17);
	memcpy(buf, &h, sizeof(h));
	CHECK_EQ(submit(e.ctx, buf, 16), EPARAM);		/* beyond the stream */
	h = hdr(CROSS_DOMAIN_CMD_POLL, 16);			/* two POLLs back to back */
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + 16, &h, sizeof(h));
	CHECK_EQ(submit(e.ctx, buf, 32), OK);
	CHECK_EQ(submit(e.ctx, buf, 36), EPARAM);		/* 4 stray bytes */
	CHECK_EQ(submit(e.ctx, buf, 0), OK);
	h = hdr(CROSS_DOMAIN_CMD_RECEIVE, 16);			/* host to guest only */
	memcpy(buf, &h, sizeof(h));
	CHECK_EQ(submit(e.ctx, buf, 16), EPARAM);
	h = hdr(8, 32);						/* newer than version 1 */
	memcpy(buf, &h, sizeof(h));
	CHECK_EQ(submit(e.ctx, buf, 32), EPARAM);
	h = hdr(CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS, 16);	/* shorter than its struct */
	memcpy(buf, &h, sizeof(h));
	CHECK_EQ(submit(e.ctx, buf, 16), EPARAM);
	h = hdr(CROSS_DOMAIN_CMD_WRITE, 16);
	memcpy(buf, &h, sizeof(h));
	CHECK_EQ(submit(e.ctx, buf, 16), EPARAM);
	teardown(&e);
}

static void test_image_requirements(void)
{
	struct env e = setup(6, 31, 32);
	struct cross_domain_image_requirements want = {
		.strides = { 400 }, .size = 40960, .map_info = 1, .memory_idx = -1,
		.physical_device_idx = -1,
	};
	struct cross_domain_image_requirements zero = { 0 };
	struct gpu_ctx *early = new_ctx(7);
	int fd = -1, seals;
	struct stat st;

	CHECK(fence(e.ctx, CROSS_DOMAIN_QUERY_RING, 1));	/* signalled at once */
	CHECK_EQ(query(e.ctx, 100, 100, XR24), OK);
	want.blob_id = 2;
	CHECK(!memcmp(fake_res_data(e.query), &want, sizeof(want)));
	CHECK_EQ(query(e.ctx, 100, 100, XR24), OK);		/* the same template */
	CHECK_EQ(reply_of(&e).blob_id, 2);
	CHECK_EQ(query(e.ctx, 10, 10, XR24), OK);
	CHECK_EQ(reply_of(&e).blob_id, 3);
	CHECK_EQ(query(e.ctx, 10, 10, 0xdeadbeef), EPARAM);	/* a zero reply, no stale id */
	CHECK(!memcmp(fake_res_data(e.query), &zero, sizeof(zero)));
	CHECK_EQ(query(e.ctx, 0, 10, XR24), EPARAM);
	CHECK_EQ(query(early, 10, 10, XR24), EPARAM);		/* before INIT */

	CHECK_EQ(create_blob(&e, 2, 40960, &fd), OK);
	CHECK(fd >= 0 && !fstat(fd, &st) && st.st_size == 40960);
	seals = fcntl(fd, F_GET_SEALS);
	CHECK_EQ(seals, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	CHECK_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	close(fd);
	CHECK_EQ(create_blob(&e, 2, 40960, &fd), OK);		/* a template serves again */
	close(fd);
	CHECK_EQ(create_blob(&e, 2, 4096, &fd), EPARAM);	/* not its size */
	CHECK_EQ(create_blob(&e, 99, 4096, &fd), EPARAM);
	CHECK_EQ(create_blob(&e, 1ull << 40, 4096, &fd), EPARAM);

	/* 10,000 queries: the same one is one template; distinct ones are capped. */
	for (int i = 0; i < 10000; i++)
		CHECK_EQ(query(e.ctx, 64, 64, XR24), OK);
	CHECK_EQ(cd_of(&e)->nr_templates, 3);
	for (uint32_t i = 0; i < 10000; i++) {
		CHECK_EQ(query(e.ctx, 1 + i, 7, XR24), OK);
		if (i % 100 == 0) {	/* kept in use: survives the eviction */
			CHECK_EQ(create_blob(&e, 2, 40960, &fd), OK);
			close(fd);
		}
	}
	CHECK_EQ(cd_of(&e)->nr_templates, CD_MAX_TEMPLATES);
	CHECK(cd_template_find(cd_of(&e), 2) != NULL);
	CHECK(cd_template_find(cd_of(&e), 3) == NULL);		/* the least recently used went */
	CHECK_EQ(create_blob(&e, 3, 4096, &fd), EPARAM);
	fake_ctx_free(early);
	teardown(&e);
}

static void test_send(void)
{
	struct env e = setup(8, 41, 42), f = setup(9, 43, 44);
	int memfd = sealed_memfd(NULL, PAGE, F_SEAL_SHRINK);
	struct gpu_resource *blob = fake_res_host(gpu, 45, memfd, PAGE);
	struct gpu_resource *guest_blob = fake_res_guest(gpu, 46, PAGE);
	struct gpu_resource *theirs = fake_res_host(gpu, 47, sealed_memfd(NULL, PAGE, 0), PAGE);
	char got[128];
	int fds[32];
	unsigned nfds;

	fake_res_attach(blob, e.ctx);
	fake_res_attach(guest_blob, e.ctx);
	fake_res_attach(theirs, f.ctx);
	CHECK_EQ(guest_send(e.ctx, "hello", 5, NULL, 0), OK);
	CHECK_EQ(comp_recv(e.comp, got, sizeof(got), fds, &nfds), 5);
	CHECK(!memcmp(got, "hello", 5) && nfds == 0);
	CHECK_EQ(unread(f.comp), 0);				/* each its own connection */

	CHECK_EQ(guest_send(e.ctx, "attach", 6, (struct ident[]){ { 1, 45 } }, 1), OK);
	CHECK_EQ(comp_recv(e.comp, got, sizeof(got), fds, &nfds), 6);
	CHECK_EQ(nfds, 1);
	if (nfds == 1) {
		CHECK(same_file(fds[0], memfd));
		close(fds[0]);
	}

	CHECK_EQ(guest_send(e.ctx, "x", 1, (struct ident[]){ { 1, 47 } }, 1), ERES);	/* another's */
	CHECK_EQ(guest_send(e.ctx, "x", 1, (struct ident[]){ { 1, 99 } }, 1), ERES);
	CHECK_EQ(guest_send(e.ctx, "x", 1, (struct ident[]){ { 1, 46 } }, 1), EPARAM); /* guest memory */
	CHECK_EQ(guest_send(e.ctx, "x", 1, (struct ident[]){ { 2, 45 } }, 1), EPARAM); /* SYNC */
	CHECK_EQ(guest_send(e.ctx, "x", 1, (struct ident[]){ { 77, 45 } }, 1), EPARAM);
	CHECK_EQ(guest_send(e.ctx, "x", 1, (struct ident[]){ { 4, 1234 } }, 1), EPARAM); /* no item */
	CHECK_EQ(guest_send(e.ctx, "x", 1, (struct ident[]){ { 5, 2 } }, 1), EPARAM);
	CHECK_EQ(guest_send(e.ctx, "", 0, (struct ident[]){ { 1, 45 } }, 1), EPARAM);	/* fds, no bytes */
	CHECK_EQ(unread(e.comp), 0);				/* none of those went out */

	{	/* counts beyond the command */
		uint8_t buf[sizeof(struct cross_domain_send_receive) + 8] = { 0 };
		struct cross_domain_send_receive s = {
			.hdr = hdr(CROSS_DOMAIN_CMD_SEND, sizeof(buf)), .num_identifiers = 29,
		};

		memcpy(buf, &s, sizeof(s));
		CHECK_EQ(submit(e.ctx, buf, sizeof(buf)), EPARAM);
		s.num_identifiers = 0;
		s.opaque_data_size = 9;
		memcpy(buf, &s, sizeof(s));
		CHECK_EQ(submit(e.ctx, buf, sizeof(buf)), EPARAM);
		s.opaque_data_size = 8;
		memcpy(buf, &s, sizeof(s));
		CHECK_EQ(submit(e.ctx, buf, sizeof(buf)), OK);
		CHECK_EQ(comp_recv(e.comp, got, sizeof(got), fds, &nfds), 8);
		s.hdr.cmd_size = sizeof(s) - 1;
		memcpy(buf, &s, sizeof(s));
		CHECK_EQ(submit(e.ctx, buf, sizeof(s) - 1), EPARAM);
	}
	{	/* before INIT */
		struct gpu_ctx *early = new_ctx(10);

		CHECK_EQ(guest_send(early, "x", 1, NULL, 0), EUNSPEC);
		fake_ctx_free(early);
	}
	teardown(&f);
	teardown(&e);
}

/* A read pipe: the guest predicts its id; data comes back as READs. */
static void test_read_pipe(void)
{
	struct env e = setup(11, 51, 52);
	uint32_t first = CROSS_DOMAIN_PIPE_READ_START + 1;
	unsigned before = nr_fences();
	char got[64];
	int fds[32];
	unsigned nfds;

	CHECK_EQ(guest_send(e.ctx, "offer", 5, (struct ident[]){ { 3, first + 1 } }, 1), EPARAM);
	CHECK_EQ(guest_send(e.ctx, "offer", 5, (struct ident[]){ { 3, first } }, 1), OK);
	CHECK_EQ(comp_recv(e.comp, got, sizeof(got), fds, &nfds), 5);
	CHECK_EQ(nfds, 1);
	if (nfds != 1)
		goto out;
	CHECK_EQ(fcntl(fds[0], F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_WRONLY);
	CHECK_EQ(write(fds[0], "clipboard", 9), 9);
	fake_gpu_pump(20);
	CHECK_EQ(nr_fences(), before);				/* nothing without a fence */
	CHECK(!fence(e.ctx, CROSS_DOMAIN_CHANNEL_RING, 100));
	CHECK_EQ(pump_fences(before + 1), before + 1);
	CHECK(last_fence() && last_fence()->fence_id == 100 && last_fence()->ring == 1 &&
	      last_fence()->ctx_id == 11);
	check_read(&e, first, 0, "clipboard", 9);
	close(fds[0]);
	CHECK(!fence(e.ctx, CROSS_DOMAIN_CHANNEL_RING, 101));
	CHECK_EQ(pump_fences(before + 2), before + 2);
	check_read(&e, first, 1, NULL, 0);			/* the writer hung up */
	CHECK(cd_item_find(cd_of(&e), first) == NULL);
	/* The next pipe counts on, also past a SEND that failed. */
	CHECK_EQ(guest_send(e.ctx, "x", 1, (struct ident[]){ { 3, first + 1 }, { 1, 999 } }, 2), ERES);
	CHECK_EQ(guest_send(e.ctx, "x", 1, (struct ident[]){ { 3, first + 2 } }, 1), OK);
	CHECK_EQ(comp_recv(e.comp, got, sizeof(got), fds, &nfds), 1);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
out:
	teardown(&e);
}

/* The compositor sends bytes and fds; the guest sees one RECEIVE per fence. */
static void test_receive(void)
{
	struct env e = setup(12, 61, 62);
	unsigned before = nr_fences();
	int unsealed = sealed_memfd("keymap", 5000, 0);
	int sealed = sealed_memfd("pool", 2 * PAGE, F_SEAL_SHRINK | F_SEAL_GROW);
	int ro = sealed_memfd("ro", PAGE, 0), ro_fd;
	int pipe_fds[2], efd = eventfd(0, EFD_CLOEXEC), blob = -1;
	char path[64];
	struct cross_domain_send_receive r;
	uint64_t v;
	char got[16];

	CHECK_EQ(fcntl(ro, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_WRITE), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ro);
	ro_fd = open(path, O_RDONLY | O_CLOEXEC);
	close(ro);
	CHECK_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);

	CHECK_EQ(comp_send(e.comp, "globals", 7, NULL, 0), 7);
	fake_gpu_pump(20);
	CHECK_EQ(unread(cd_of(&e)->sock), 7);			/* not read without a fence */
	CHECK(!fence(e.ctx, 1, 200));
	CHECK_EQ(pump_fences(before + 1), before + 1);
	check_receive(&e, "globals", 7, 0, NULL, NULL);
	CHECK_EQ(unread(cd_of(&e)->sock), 0);

	CHECK_EQ(comp_send(e.comp, "fds", 3,
			   (int[]){ unsealed, sealed, ro_fd, pipe_fds[1], efd }, 5), 3);
	close(pipe_fds[1]);	/* the compositor passed it on */
	CHECK(!fence(e.ctx, 1, 201));
	CHECK_EQ(pump_fences(before + 2), before + 2);
	r = channel_receive(&e);
	check_receive(&e, "fds", 3, 5, (uint32_t[]){ 1, 1, 1, 4, 5 },
		      (uint32_t[]){ 5000, 2 * PAGE, PAGE, 0, 0 });
	for (int i = 0; i < 5; i++)
		CHECK_EQ(r.identifiers[i], 2 + i);

	/* Unsealed memory: a sealed copy of ours, the size page-rounded. */
	CHECK_EQ(create_blob(&e, r.identifiers[0], 8192, &blob), OK);
	CHECK(blob >= 0 && !same_file(blob, unsealed));
	CHECK_EQ(fcntl(blob, F_GET_SEALS) & (F_SEAL_SHRINK | F_SEAL_GROW), F_SEAL_SHRINK | F_SEAL_GROW);
	CHECK_EQ(pread(blob, got, 6, 0), 6);
	CHECK(!memcmp(got, "keymap", 6));
	close(blob);
	CHECK_EQ(create_blob(&e, r.identifiers[0], 8192, &blob), EPARAM);	/* consumed */
	/* Sealed, page-sized memory passes as it is, and read-only stays so. */
	CHECK_EQ(create_blob(&e, r.identifiers[1], 3 * PAGE, &blob), EPARAM);	/* too big */
	CHECK_EQ(create_blob(&e, r.identifiers[1], 2 * PAGE, &blob), OK);
	CHECK(same_file(blob, sealed));
	close(blob);
	CHECK_EQ(create_blob(&e, r.identifiers[2], PAGE, &blob), OK);
	CHECK(same_file(blob, ro_fd));
	CHECK_EQ(fcntl(blob, F_GETFL) & O_ACCMODE, O_RDONLY);
	close(blob);
	CHECK_EQ(create_blob(&e, r.identifiers[3], PAGE, &blob), EPARAM);	/* a pipe */

	/* The write pipe: WRITE fills it, hang_up closes it. */
	CHECK_EQ(guest_write(e.ctx, r.identifiers[3], "paste", 5, 0), OK);
	CHECK_EQ(read(pipe_fds[0], got, sizeof(got)), 5);
	CHECK(!memcmp(got, "paste", 5));
	CHECK_EQ(guest_write(e.ctx, r.identifiers[3], "", 0, 1), OK);
	CHECK_EQ(read(pipe_fds[0], got, sizeof(got)), 0);
	CHECK_EQ(guest_write(e.ctx, r.identifiers[3], "x", 1, 0), EPARAM);	/* gone */
	CHECK_EQ(guest_write(e.ctx, 12345, "x", 1, 0), EPARAM);

	/* The eventfd: polled (READ of its counter), written (8 bytes only). */
	CHECK_EQ(write(efd, &(uint64_t){ 3 }, 8), 8);
	CHECK(!fence(e.ctx, 1, 202));
	CHECK_EQ(pump_fences(before + 3), before + 3);
	check_read(&e, r.identifiers[4], 0, &(uint64_t){ 3 }, 8);
	CHECK_EQ(guest_write(e.ctx, r.identifiers[4], "1234", 4, 0), EPARAM);
	CHECK_EQ(guest_write(e.ctx, r.identifiers[4], &(uint64_t){ 5 }, 8, 0), OK);
	CHECK_EQ(read(efd, &v, 8), 8);
	CHECK_EQ(v, 5);
	CHECK_EQ(guest_send(e.ctx, "e", 1, (struct ident[]){ { 5, r.identifiers[4] } }, 1), OK);
	{
		int fds[32];
		unsigned nfds;

		CHECK_EQ(comp_recv(e.comp, got, sizeof(got), fds, &nfds), 1);
		CHECK(nfds == 1 && same_file(fds[0], efd));
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
	}
	close(unsealed);
	close(sealed);
	close(ro_fd);
	close(pipe_fds[0]);
	close(efd);
	teardown(&e);
}

/* fds of the wrong kind are closed; the message and the context go on. */
static void test_refused_fds(void)
{
	struct env e = setup(13, 71, 72);
	unsigned before = nr_fences();
	int sv[2], p[2], tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	int wronly = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int efd = eventfd(0, EFD_CLOEXEC);
	char tmpl[] = "/tmp/test_cross_domain.XXXXXX";
	int file = mkostemp(tmpl, O_CLOEXEC), file_wo;
	struct log_capture cap;
	char *text;

	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	CHECK_EQ(write(file, "disk", 4), 4);
	file_wo = open(tmpl, O_WRONLY | O_CLOEXEC);	/* memory that cannot be read */
	unlink(tmpl);
	log_capture_begin(&cap);
	CHECK_EQ(comp_send(e.comp, "mixed", 5,
			   (int[]){ sv[0], p[0], tfd, wronly, file_wo, efd, file }, 7), 5);
	CHECK(!fence(e.ctx, 1, 300));
	CHECK_EQ(pump_fences(before + 1), before + 1);
	text = log_capture_end(&cap);
	CHECK_EQ(log_count_lines(text, "a socket"), 1);
	CHECK_EQ(log_count_lines(text, "the read end of a pipe"), 1);
	CHECK_EQ(log_count_lines(text, "a type we do not pass"), 2);	/* timerfd, /dev/null */
	CHECK_EQ(log_count_lines(text, "cannot be read"), 1);
	free(text);
	/* The eventfd and the disk file (copied) remain, in their order. */
	check_receive(&e, "mixed", 5, 2, (uint32_t[]){ 5, 1 }, (uint32_t[]){ 0, 4 });
	CHECK_EQ(cd_of(&e)->nr_items, 2);
	CHECK(cd_of(&e)->sock >= 0);
	CHECK_EQ(guest_send(e.ctx, "still", 5, NULL, 0), OK);
	{
		char got[8];
		int fds[8];
		unsigned nfds;

		CHECK_EQ(comp_recv(e.comp, got, sizeof(got), fds, &nfds), 5);
	}
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
	close(tfd);
	close(wronly);
	close(file_wo);
	close(file);
	close(efd);
	teardown(&e);
}

/* Memory we must copy: write-sealed read-write (a keymap), too big, over budget. */
static void test_copies(void)
{
	struct env e = setup(23, 161, 162);
	struct gpu_ctx *early = new_ctx(24);
	unsigned before = nr_fences();
	int keymap = sealed_memfd("xkb_keymap", PAGE, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
	int huge = sealed_memfd(NULL, CD_MAX_COPY + 1, 0), big[5], blob = -1;
	struct cross_domain_send_receive r;
	char got[10];

	CHECK(fence(early, 1, 1));				/* no channel ring yet */
	CHECK_EQ(comp_send(e.comp, "k", 1, (int[]){ keymap, huge }, 2), 1);
	CHECK(!fence(e.ctx, 1, 1300));
	CHECK_EQ(pump_fences(before + 1), before + 1);
	r = channel_receive(&e);
	CHECK_EQ(r.num_identifiers, 1);				/* the huge one refused */
	CHECK_EQ(r.identifier_sizes[0], PAGE);
	CHECK_EQ(create_blob(&e, r.identifiers[0], PAGE, &blob), OK);
	CHECK(!same_file(blob, keymap));			/* it could not be mapped writable */
	CHECK_EQ(fcntl(blob, F_GETFL) & O_ACCMODE, O_RDWR);
	CHECK_EQ(pread(blob, got, sizeof(got), 0), (ssize_t)sizeof(got));
	CHECK(!memcmp(got, "xkb_keymap", sizeof(got)));
	close(blob);
	for (int i = 0; i < 5; i++)
		big[i] = sealed_memfd("big", CD_MAX_COPY, 0);
	CHECK_EQ(comp_send(e.comp, "b", 1, big, 5), 1);
	CHECK(!fence(e.ctx, 1, 1301));
	CHECK_EQ(pump_fences(before + 2), before + 2);
	CHECK_EQ(channel_receive(&e).num_identifiers, CD_MAX_HELD_COPIES / CD_MAX_COPY);
	CHECK_EQ(cd_of(&e)->held_copies, CD_MAX_HELD_COPIES);
	CHECK_EQ(create_blob(&e, channel_receive(&e).identifiers[0], CD_MAX_COPY, &blob), OK);
	close(blob);
	CHECK_EQ(cd_of(&e)->held_copies, CD_MAX_HELD_COPIES - CD_MAX_COPY);
	for (int i = 0; i < 5; i++)
		close(big[i]);
	close(keymap);
	close(huge);
	fake_ctx_free(early);
	teardown(&e);
}

/* 30 fds at once: the kernel keeps 28 for us; the rest are lost, reported. */
static void test_too_many_fds(void)
{
	struct env e = setup(14, 81, 82);
	unsigned before = nr_fences();
	int fds[30];
	struct cross_domain_send_receive r;

	for (int i = 0; i < 30; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	CHECK_EQ(comp_send(e.comp, "many", 4, fds, 30), 4);
	CHECK(!fence(e.ctx, 1, 400));
	CHECK_EQ(pump_fences(before + 1), before + 1);
	r = channel_receive(&e);
	CHECK_EQ(r.num_identifiers, CROSS_DOMAIN_MAX_IDENTIFIERS);
	CHECK_EQ(r.opaque_data_size, 4);
	CHECK_EQ(cd_of(&e)->nr_items, CROSS_DOMAIN_MAX_IDENTIFIERS);
	for (int i = 0; i < 30; i++)
		close(fds[i]);
	teardown(&e);
}

/* More live items than CD_MAX_ITEMS: the connection ends, cleanly. */
static void test_item_limit(void)
{
	struct env e = setup(15, 91, 92);
	unsigned before = nr_fences(), sent = 0;
	int fds[CROSS_DOMAIN_MAX_IDENTIFIERS];
	uint8_t hang_up[sizeof(struct cross_domain_send_receive)];
	struct cross_domain_send_receive end = {
		.hdr = hdr(CROSS_DOMAIN_CMD_RECEIVE, sizeof(end)),
	};

	memcpy(hang_up, &end, sizeof(end));
	for (int i = 0; i < CROSS_DOMAIN_MAX_IDENTIFIERS; i++)
		fds[i] = sealed_memfd(NULL, PAGE, F_SEAL_SHRINK);
	while (cd_of(&e)->sock >= 0 && sent < 100) {
		CHECK_EQ(comp_send(e.comp, "m", 1, fds, CROSS_DOMAIN_MAX_IDENTIFIERS), 1);
		CHECK(!fence(e.ctx, 1, 500 + sent));
		sent++;
		CHECK_EQ(pump_fences(before + sent), before + sent);
		CHECK(cd_of(&e)->nr_items <= CD_MAX_ITEMS);
	}
	CHECK_EQ(sent, CD_MAX_ITEMS / CROSS_DOMAIN_MAX_IDENTIFIERS + 1);
	check_channel(&e, hang_up, sizeof(hang_up));		/* the end of the stream */
	CHECK_EQ(guest_send(e.ctx, "x", 1, NULL, 0), EUNSPEC);
	{
		char got;

		CHECK_EQ(read(e.comp, &got, 1), 0);		/* the compositor sees the close */
	}
	for (int i = 0; i < CROSS_DOMAIN_MAX_IDENTIFIERS; i++)
		close(fds[i]);
	teardown(&e);
}

/* The compositor hangs up: what it sent first, then a RECEIVE of nothing. */
static void test_host_hang_up(void)
{
	struct env e = setup(16, 101, 102);
	unsigned before = nr_fences();

	CHECK_EQ(comp_send(e.comp, "bye", 3, NULL, 0), 3);
	shutdown(e.comp, SHUT_WR);
	CHECK(!fence(e.ctx, 1, 600));
	CHECK_EQ(pump_fences(before + 1), before + 1);
	check_receive(&e, "bye", 3, 0, NULL, NULL);
	CHECK(!fence(e.ctx, 1, 601));
	CHECK_EQ(pump_fences(before + 2), before + 2);
	check_receive(&e, NULL, 0, 0, NULL, NULL);
	CHECK_EQ(cd_of(&e)->sock, -1);
	CHECK_EQ(guest_send(e.ctx, "x", 1, NULL, 0), EUNSPEC);
	CHECK(!fence(e.ctx, 1, 602));				/* parked: nothing more comes */
	fake_gpu_pump(20);
	CHECK_EQ(nr_fences(), before + 2);
	teardown(&e);
}

/* A guest that never polls: the host reads nothing, however much comes. */
static void test_flood_without_polls(void)
{
	struct env e = setup(17, 111, 112);
	unsigned before = nr_fences();
	static char junk[65536];
	long total = 0;
	int queued;

	fcntl(e.comp, F_SETFL, O_NONBLOCK);
	for (ssize_t n; (n = send(e.comp, junk, sizeof(junk), MSG_DONTWAIT | MSG_NOSIGNAL)) > 0;)
		total += n;
	queued = unread(cd_of(&e)->sock);
	CHECK(total > 0 && queued > 0);
	for (int i = 0; i < 20; i++)
		fake_gpu_pump(5);
	CHECK_EQ(unread(cd_of(&e)->sock), queued);
	CHECK_EQ(nr_fences(), before);
	/* Each fence is worth one RECEIVE, at most 3744 bytes. */
	CHECK(!fence(e.ctx, 1, 700));
	CHECK_EQ(pump_fences(before + 1), before + 1);
	CHECK_EQ(channel_receive(&e).opaque_data_size, CROSS_DOMAIN_RECEIVE_MAX_DATA);
	CHECK_EQ(unread(cd_of(&e)->sock), queued - (int)CROSS_DOMAIN_RECEIVE_MAX_DATA);
	teardown(&e);
}

/* Ring-1 fences queue, bounded; each message signals the oldest. */
static void test_fence_queue(void)
{
	struct env e = setup(18, 121, 122);
	unsigned before = nr_fences();

	for (unsigned i = 0; i < CD_MAX_FENCES; i++)
		CHECK(!fence(e.ctx, 1, 800 + i));
	CHECK(fence(e.ctx, 1, 900));				/* beyond the queue */
	CHECK(fence(e.ctx, 2, 901));				/* a ring cross-domain has not */
	CHECK_EQ(comp_send(e.comp, "a", 1, NULL, 0), 1);
	CHECK_EQ(pump_fences(before + 1), before + 1);
	CHECK(last_fence() && last_fence()->fence_id == 800);
	check_receive(&e, "a", 1, 0, NULL, NULL);
	CHECK_EQ(comp_send(e.comp, "b", 1, NULL, 0), 1);
	CHECK_EQ(pump_fences(before + 2), before + 2);
	CHECK(last_fence() && last_fence()->fence_id == 801);
	check_receive(&e, "b", 1, 0, NULL, NULL);
	CHECK_EQ(cd_of(&e)->nr_fences, CD_MAX_FENCES - 2);
	teardown(&e);
}

/* A detached ring is no longer used: no reads, fences come back at once. */
static void test_detach_ring(void)
{
	struct env e = setup(19, 131, 132);
	unsigned before = nr_fences();

	CHECK_EQ(comp_send(e.comp, "late", 4, NULL, 0), 4);
	fake_res_detach(e.channel, e.ctx);
	CHECK(fence(e.ctx, 1, 1000));
	fake_gpu_pump(20);
	CHECK_EQ(unread(cd_of(&e)->sock), 4);
	CHECK_EQ(nr_fences(), before);
	fake_res_detach(e.query, e.ctx);
	CHECK_EQ(query(e.ctx, 10, 10, XR24), EPARAM);
	teardown(&e);
}

/* A compositor that stops reading: SEND fails in bounded time, the stream ends. */
static void test_send_blocked(void)
{
	struct env e = setup(20, 141, 142);
	static uint8_t big[60000];
	unsigned before = nr_fences();
	struct timespec t0, t1;
	uint32_t rc = OK;
	int tries = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (rc == OK && tries++ < 1000)
		rc = guest_send(e.ctx, big, sizeof(big), NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_EQ(rc, EUNSPEC);
	CHECK(t1.tv_sec - t0.tv_sec < 3);
	CHECK(cd_of(&e)->sock_broken);
	CHECK_EQ(guest_send(e.ctx, "x", 1, NULL, 0), EUNSPEC);
	CHECK(!fence(e.ctx, 1, 1100));				/* the guest sees the end */
	CHECK_EQ(pump_fences(before + 1), before + 1);
	check_receive(&e, NULL, 0, 0, NULL, NULL);
	teardown(&e);
}

/* destroy() closes and unwatches everything; contexts share one watch. */
static void test_destroy(void)
{
	unsigned fds_before = open_fds(), watches_before = fake_gpu_watches();
	struct env e = setup(21, 151, 152), f = setup(22, 153, 154);
	uint32_t first = CROSS_DOMAIN_PIPE_READ_START + 1;
	int efd = eventfd(0, EFD_CLOEXEC), got_fds[8];
	unsigned nfds;
	char got[8];

	CHECK_EQ(watches_before, 0);
	CHECK_EQ(fake_gpu_watches(), 1);			/* one epoll set for both */
	CHECK_EQ(comp_send(e.comp, "e", 1, &efd, 1), 1);
	CHECK(!fence(e.ctx, 1, 1200));
	pump_fences(nr_fences() + 1);
	CHECK_EQ(guest_send(e.ctx, "p", 1, (struct ident[]){ { 3, first } }, 1), OK);
	CHECK_EQ(comp_recv(e.comp, got, sizeof(got), got_fds, &nfds), 1);
	for (unsigned i = 0; i < nfds; i++)
		close(got_fds[i]);
	CHECK(!fence(e.ctx, 1, 1201));				/* parked at destroy */
	CHECK_EQ(query(e.ctx, 10, 10, XR24), OK);
	CHECK_EQ(cd_of(&e)->nr_items, 2);
	teardown(&e);
	teardown(&f);
	close(efd);
	CHECK_EQ(fake_gpu_watches(), watches_before);
	/* The compositor ends are the fake's until it is freed: 2 of them. */
	CHECK_EQ(open_fds(), fds_before + 2);
}

int main(void)
{
	struct rlimit nofile;

	/* test_item_limit holds CD_MAX_ITEMS fds at once. */
	if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_cur < 4096) {
		nofile.rlim_cur = nofile.rlim_max < 4096 ? nofile.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	CHECK_EQ(cross_domain_prepare(), 0);	/* then a dead pipe is EPIPE, not death */
	gpu = fake_gpu_new(true, false);
	test_capset();
	test_layouts();
	test_init();
	test_stream();
	test_image_requirements();
	test_send();
	test_read_pipe();
	test_receive();
	test_refused_fds();
	test_copies();
	test_too_many_fds();
	test_item_limit();
	test_host_hang_up();
	test_flood_without_polls();
	test_fence_queue();
	test_detach_ring();
	test_send_blocked();
	test_destroy();
	fake_gpu_free(gpu);
	return check_report("test_cross_domain");
}
