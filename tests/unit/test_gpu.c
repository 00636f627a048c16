/*
 * virtio-gpu end to end in one process: the model behind a local link,
 * guest RAM in a memfd, the ctrl and cursor queues driven as Linux's
 * driver drives them, a fake context type (capset 9) registered by the
 * test, and the VMM's side of map requests recorded. Every command's
 * happy path, then hostile variants: bad ids, huge counts, rects and
 * offsets outside, backing outside guest RAM, overlapping maps and
 * offsets outside the window, another context's resources, fences
 * parked and signalled, the budgets, reset, and the screenshot.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_gpu.h>

#include "boot/guest_mem.h"
#include "check.h"
#include "devices/cross_domain_proto.h"
#include "devices/gpu_internal.h"
#include "devices/link_local.h"
#include "tests/unit/fake_driver.h"
#include "vmm/log.h"

#define RAM (32 * MIB)
#define CTRL_RING 0x10000ull
#define CURSOR_RING 0x20000ull
#define SCRATCH 0x100000ull
#define CURSOR_QSIZE 16
#define WINDOW (64ull << 20)
#define FAKE_CAPSET 9
#define PAGE 4096u

static uint8_t *ram;
static struct guest_mem mem;
static uint64_t scratch;
static struct vdev dev;
static struct link_local ll;
static struct fake_vq ctrl, cursor;
static struct gpu *g;
static bool failed;

/* ---- what the VMM sees of map requests ---- */

static struct {
	unsigned maps, unmaps;
	uint64_t offset, size, unmap_offset;
	uint32_t prot;
	int rc;
} shm;

static int on_map(void *ctx, uint8_t id, uint64_t offset, int fd, uint64_t fd_offset,
		  uint64_t size, uint32_t prot)
{
	struct stat st;

	(void)ctx;
	CHECK_EQ(id, GPU_SHM_ID_HOST_VISIBLE);
	CHECK_EQ(fd_offset, 0);
	CHECK(!fstat(fd, &st) && (uint64_t)st.st_size >= size);
	CHECK(offset % PAGE == 0 && size % PAGE == 0 && offset + size <= WINDOW);
	if (shm.rc)
		return shm.rc;
	shm.maps++;
	shm.offset = offset;
	shm.size = size;
	shm.prot = prot;
	return 0;
}

static int on_unmap(void *ctx, uint8_t id, uint64_t offset)
{
	(void)ctx;
	CHECK_EQ(id, GPU_SHM_ID_HOST_VISIBLE);
	shm.unmaps++;
	shm.unmap_offset = offset;
	return 0;
}

static int on_config(void *ctx, unsigned off, const void *bytes, unsigned len)
{
	(void)ctx, (void)off, (void)bytes, (void)len;
	return 0;
}

static void on_needs_reset(void *ctx, const char *why)
{
	(void)ctx, (void)why;
}

static const struct vdev_link_events events = {
	.config_changed = on_config, .needs_reset = on_needs_reset,
	.shm_map = on_map, .shm_unmap = on_unmap,
};

static void on_failed(struct vdev *d, const char *why)
{
	(void)d, (void)why;
	failed = true;
}

/* ---- a fake context type: capset 9 ---- */

static struct {
	unsigned creates, destroys, submits, detaches, blobs;
	uint32_t last_detach;
	uint8_t last[64];
	uint32_t last_len;
	struct gpu_ctx *ctx[8];		/* by ctx id 1..7 */
	uint32_t submit_rc;
	int seen;			/* the last "see" submit: 1 resource visible */
} fk;

static void fake_capset(struct gpu *gpu, uint32_t version, void *buf)
{
	(void)gpu;
	for (unsigned i = 0; i < 16; i++)
		((uint8_t *)buf)[i] = (uint8_t)(0xc0 + i + version);
}

static int fake_create(struct gpu_ctx *ctx)
{
	if (ctx->id == 666)
		return -EIO;
	fk.creates++;
	if (ctx->id < 8)
		fk.ctx[ctx->id] = ctx;
	return 0;
}

static void fake_destroy(struct gpu_ctx *ctx)
{
	fk.destroys++;
	if (ctx->id < 8)
		fk.ctx[ctx->id] = NULL;
}

/* "S" + le32 id: can this context see resource id; "W" + le32 id + bytes:
 * write them at offset 0 of it. */
static uint32_t fake_submit(struct gpu_ctx *ctx, const uint8_t *cmd, uint32_t len)
{
	uint32_t id = 0;

	fk.submits++;
	fk.last_len = len;
	memcpy(fk.last, cmd, len < sizeof(fk.last) ? len : sizeof(fk.last));
	if (len >= 5)
		memcpy(&id, cmd + 1, 4);
	if (len >= 5 && cmd[0] == 'S')
		fk.seen = gpu_ctx_resource(ctx, id) != NULL;
	if (len >= 5 && cmd[0] == 'W') {
		struct gpu_resource *res = gpu_ctx_resource(ctx, id);

		if (!res || gpu_res_write(res, 0, cmd + 5, len - 5))
			return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	}
	return fk.submit_rc;
}

/* Ring 0 is done at once (the query ring), ring 1 waits (the channel). */
static bool fake_fence(struct gpu_ctx *ctx, uint8_t ring_idx, uint64_t fence_id)
{
	(void)ctx, (void)fence_id;
	return ring_idx == 0;
}

/* blob_id 1000: a read-only fd; 1001: too small a memfd; 1002: exactly
 * size bytes (not whole pages); else read-write, whole pages. */
static uint32_t fake_create_blob(struct gpu_ctx *ctx, uint64_t blob_id, uint64_t size,
				 uint32_t blob_flags, int *fd, uint32_t *map_info)
{
	uint64_t bytes = (size + PAGE - 1) / PAGE * PAGE;
	int mfd = memfd_create("fake-blob", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	(void)ctx, (void)blob_flags;
	fk.blobs++;
	if (mfd < 0 || ftruncate(mfd, blob_id == 1001 ? 1 : blob_id == 1002 ? (off_t)size : (off_t)bytes) ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK))
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	if (blob_id == 1000) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
		*fd = open(path, O_RDONLY | O_CLOEXEC);
		close(mfd);
	} else {
		*fd = mfd;
	}
	*map_info = VIRTIO_GPU_MAP_CACHE_CACHED | 0x30;	/* access bits never reach the guest */
	return 0;
}

static void fake_detach(struct gpu_ctx *ctx, uint32_t res_id)
{
	(void)ctx;
	fk.detaches++;
	fk.last_detach = res_id;
}

static const struct gpu_ctx_type fake_type = {
	.name = "fake", .capset_id = FAKE_CAPSET, .capset_max_version = 2, .capset_size = 16,
	.capset = fake_capset, .create = fake_create, .destroy = fake_destroy,
	.submit = fake_submit, .fence = fake_fence, .create_blob = fake_create_blob,
	.detach = fake_detach,
};

/* ---- the driver ---- */

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	v = htole32(v);
	memcpy(p + off, &v, 4);
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	v = htole64(v);
	memcpy(p + off, &v, 8);
}

static uint32_t get32(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, 4);
	return le32toh(v);
}

static uint64_t galloc(uint64_t len)
{
	uint64_t gpa = (scratch + 63) & ~63ull;

	if (gpa + len > RAM)
		gpa = SCRATCH;		/* wrap: earlier buffers are done with */
	scratch = gpa + len;
	return gpa;
}

static void hdr(uint8_t *b, uint32_t type, uint32_t ctx)
{
	memset(b, 0, GPU_HDR_SIZE);
	put32(b, 0, type);
	put32(b, 16, ctx);
}

static void fence(uint8_t *b, uint64_t id, int ring)
{
	put32(b, 4, VIRTIO_GPU_FLAG_FENCE | (ring >= 0 ? VIRTIO_GPU_FLAG_INFO_RING_IDX : 0));
	put64(b, 8, id);
	b[20] = (uint8_t)(ring >= 0 ? ring : 0);
}

struct posted {
	uint16_t head;
	uint64_t resp;
};

/* A command in one readable buffer and room for resp_len bytes of response. */
static struct posted post(const void *cmd, size_t len, size_t resp_len)
{
	struct posted p = { .resp = galloc(resp_len ? resp_len : 1) };
	uint64_t at = galloc(len);
	struct fake_buf b[2] = { { at, (uint32_t)len, false }, { p.resp, (uint32_t)resp_len, true } };

	memcpy(ram + at, cmd, len);
	memset(ram + p.resp, 0xee, resp_len);
	p.head = fake_vq_post(&ctrl, b, resp_len ? 2 : 1);
	return p;
}

static void kick(unsigned q)
{
	CHECK_EQ(write(ll.link.kick_fd[q], &(uint64_t){ 1 }, 8), 8);
	link_local_poll(&ll);
}

/* The next used entry is p's: its used length, or -1. */
static long long used(const struct posted *p)
{
	struct vring_used_elem e;

	if (!fake_vq_used(&ctrl, &e))
		return -1;
	CHECK_EQ(e.id, p->head);
	return e.len;
}

static uint32_t resp_type(const struct posted *p)
{
	return get32(ram, p->resp);
}

/* One command, one kick: the response's type (0 if none came). */
static uint32_t run_resp(const void *cmd, size_t len, size_t resp_len, struct posted *out)
{
	struct posted p = post(cmd, len, resp_len);

	kick(GPU_QUEUE_CTRL);
	if (out)
		*out = p;
	return used(&p) >= GPU_HDR_SIZE ? resp_type(&p) : 0;
}

static uint32_t run(const void *cmd, size_t len)
{
	return run_resp(cmd, len, GPU_MAX_RESP, NULL);
}

static uint32_t create_2d(uint32_t id, uint32_t format, uint32_t w, uint32_t h)
{
	uint8_t b[40];

	hdr(b, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 0);
	put32(b, 24, id);
	put32(b, 28, format);
	put32(b, 32, w);
	put32(b, 36, h);
	return run(b, sizeof(b));
}

static uint32_t res_cmd(uint32_t type, uint32_t id, uint32_t ctx)
{
	uint8_t b[32] = { 0 };

	hdr(b, type, ctx);
	put32(b, 24, id);
	return run(b, sizeof(b));
}

/* ATTACH_BACKING (or CREATE_BLOB's tail) of entries built by the caller. */
static uint32_t attach(uint32_t id, const uint64_t *addr, const uint32_t *len, unsigned n,
		       uint32_t claimed)
{
	static uint8_t b[32 + 16 * 64];

	hdr(b, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, 0);
	put32(b, 24, id);
	put32(b, 28, claimed);
	for (unsigned i = 0; i < n; i++) {
		put64(b, 32 + 16 * i, addr[i]);
		put32(b, 40 + 16 * i, len[i]);
		put32(b, 44 + 16 * i, 0);
	}
	return run(b, 32 + 16 * n);
}

static uint32_t rect_cmd(uint32_t type, uint32_t id, uint32_t x, uint32_t y, uint32_t w,
			 uint32_t h, uint64_t off_or_scanout)
{
	uint8_t b[56] = { 0 };
	size_t len = type == VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D ? 56 : 48;

	hdr(b, type, 0);
	put32(b, 24, x);
	put32(b, 28, y);
	put32(b, 32, w);
	put32(b, 36, h);
	if (type == VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D) {
		put64(b, 40, off_or_scanout);
		put32(b, 48, id);
	} else if (type == VIRTIO_GPU_CMD_SET_SCANOUT) {
		put32(b, 40, (uint32_t)off_or_scanout);
		put32(b, 44, id);
	} else {
		put32(b, 40, id);
	}
	return run(b, len);
}

static uint32_t ctx_create(uint32_t id, uint32_t context_init)
{
	uint8_t b[96] = { 0 };

	hdr(b, VIRTIO_GPU_CMD_CTX_CREATE, id);
	put32(b, 24, 4);
	put32(b, 28, context_init);
	memcpy(b + 32, "test", 4);
	return run(b, sizeof(b));
}

static uint32_t ctx_destroy(uint32_t id)
{
	uint8_t b[24];

	hdr(b, VIRTIO_GPU_CMD_CTX_DESTROY, id);
	return run(b, sizeof(b));
}

/* SUBMIT_3D of stream on ctx, fenced when fence_id (ring -1: global). */
static struct posted submit(uint32_t ctx, const void *stream, uint32_t len, uint64_t fence_id,
			    int ring)
{
	static uint8_t b[32 + 256];

	hdr(b, VIRTIO_GPU_CMD_SUBMIT_3D, ctx);
	if (fence_id)
		fence(b, fence_id, ring);
	put32(b, 24, len);
	put32(b, 28, 0);
	memcpy(b + 32, stream, len);
	return post(b, 32 + len, GPU_HDR_SIZE);
}

static uint32_t blob(uint32_t id, uint32_t ctx, uint32_t mem_type, uint32_t flags,
		     uint64_t blob_id, uint64_t size, uint64_t guest_at, uint32_t nr)
{
	uint8_t b[56 + 16];

	hdr(b, VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB, ctx);
	put32(b, 24, id);
	put32(b, 28, mem_type);
	put32(b, 32, flags);
	put32(b, 36, nr);
	put64(b, 40, blob_id);
	put64(b, 48, size);
	put64(b, 56, guest_at);
	put32(b, 64, PAGE);		/* one page of guest memory */
	put32(b, 68, 0);
	return run(b, nr ? sizeof(b) : 56);
}

static uint32_t map_blob(uint32_t id, uint64_t offset, uint32_t *map_info)
{
	uint8_t b[40] = { 0 };
	struct posted p;
	uint32_t type;

	hdr(b, VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB, 0);
	put32(b, 24, id);
	put64(b, 32, offset);
	type = run_resp(b, sizeof(b), GPU_RESP_MAP_INFO, &p);
	if (map_info)
		*map_info = get32(ram, p.resp + 24);
	return type;
}

static int screenshot(uint32_t scanout, struct gpu_cmd_reply *r)
{
	struct gpu_cmd c = { htole32(GPU_CMD_SCREENSHOT), htole32(scanout) };
	unsigned len = sizeof(*r);
	int rc = link_local_command(&ll, &c, sizeof(c), r, &len);

	if (!rc)
		CHECK_EQ(len, sizeof(*r));
	return rc;
}

/* ---- setup ---- */

static void start(const struct gpu_config *cfg, bool fake, struct device_grant *grant)
{
	struct device_env env = { .vm_name = "t", .mem = &mem, .ram_bytes = RAM, .rundir_fd = -1,
				  .command_fd = -1, .vsock_fd = -1, .user_uid = getuid(),
				  .user_gid = getgid() };
	struct device_grant unused = { 0 };
	struct vdev_vring ring;
	char err[200] = "";

	CHECK_EQ(gpu_kind.create(&dev, "gpu0", &env, cfg, grant ? grant : &unused, err,
				 sizeof(err)), 0);
	CHECK_STR(err, "");
	g = dev.priv;
	if (fake)
		CHECK_EQ(gpu_add_ctx_type(g, &fake_type), 0);
	dev.failed = on_failed;
	CHECK_EQ(link_local_init(&ll, &dev), 0);
	vdev_link_subscribe(&ll.link, &events, NULL);
	fake_vq_init(&ctrl, ram, CTRL_RING, GPU_QUEUE_SIZE);
	fake_vq_init(&cursor, ram, CURSOR_RING, CURSOR_QSIZE);
	ring = fake_vq_ring(&ctrl);
	CHECK_EQ(ll.link.ops->set_vring(&ll.link, GPU_QUEUE_CTRL, &ring), 0);
	ring = fake_vq_ring(&cursor);
	CHECK_EQ(ll.link.ops->set_vring(&ll.link, GPU_QUEUE_CURSOR, &ring), 0);
	CHECK_EQ(ll.link.ops->activate(&ll.link, ll.link.features), 0);
	link_local_poll(&ll);
	scratch = SCRATCH;
	memset(&shm, 0, sizeof(shm));
	memset(&fk, 0, sizeof(fk));
	failed = false;
}

static void stop(void)
{
	link_local_destroy(&ll);
	vdev_destroy(&dev);
}

static const struct gpu_config base_cfg = {
	.wayland = false, .host_visible_size = WINDOW, .displays = 2, .width = 1280, .height = 800,
};

/* The device reset as the transport resets it, then the rings again. */
static void reset_device(void)
{
	struct vdev_vring ring;

	CHECK_EQ(ll.link.ops->reset(&ll.link), 0);
	fake_vq_init(&ctrl, ram, CTRL_RING, GPU_QUEUE_SIZE);
	fake_vq_init(&cursor, ram, CURSOR_RING, CURSOR_QSIZE);
	ring = fake_vq_ring(&ctrl);
	CHECK_EQ(ll.link.ops->set_vring(&ll.link, GPU_QUEUE_CTRL, &ring), 0);
	ring = fake_vq_ring(&cursor);
	CHECK_EQ(ll.link.ops->set_vring(&ll.link, GPU_QUEUE_CURSOR, &ring), 0);
	CHECK_EQ(ll.link.ops->activate(&ll.link, ll.link.features), 0);
	link_local_poll(&ll);
}

/* ---- tests ---- */

static void test_features_config(void)
{
	uint64_t with = 1ull << VIRTIO_GPU_F_VIRGL | 1ull << VIRTIO_GPU_F_RESOURCE_BLOB |
			1ull << VIRTIO_GPU_F_CONTEXT_INIT;
	uint8_t cfg[16];
	uint32_t clear = htole32(1);
	struct device_grant grant = { 0 };
	struct gpu_config wx = base_cfg;

	start(&base_cfg, false, &grant);
	CHECK_EQ(ll.link.features & with, 0);		/* 2D only */
	CHECK(ll.link.features & 1ull << VIRTIO_GPU_F_EDID);
	CHECK_EQ(ll.link.device_id, 16);
	CHECK_EQ(ll.link.nr_shm, 1);
	CHECK_EQ(ll.link.shm[0].id, 1);
	CHECK(ll.link.shm[0].size == WINDOW);
	CHECK(grant.rundir);
	CHECK_EQ(grant.nofile, GPU_NOFILE);
	CHECK(!grant.extra_policy);
	CHECK(!grant.socket_name);
	dev.ops->config(&dev, cfg);
	CHECK_EQ(get32(cfg, 8), 2);
	CHECK_EQ(get32(cfg, 12), 0);
	stop();

	wx.allow_wx = true;
	grant = (struct device_grant){ 0 };
	start(&wx, true, &grant);
	CHECK(grant.extra_policy == &gpu_wx_policy);
	CHECK_EQ(ll.link.features & with, with);
	dev.ops->config(&dev, cfg);
	CHECK_EQ(get32(cfg, 12), 1);
	g->events_read = VIRTIO_GPU_EVENT_DISPLAY;
	CHECK_EQ(ll.link.ops->set_config(&ll.link, 4, &clear, 4), 0);
	CHECK_EQ(g->events_read, 0);
	CHECK(ll.link.ops->set_config(&ll.link, 0, &clear, 4) != 0);	/* events_read: ours */
	CHECK(ll.link.ops->set_config(&ll.link, 8, &clear, 4) != 0);
	stop();
}

static void test_display_and_edid(void)
{
	uint8_t b[32] = { 0 };
	struct posted p;

	start(&base_cfg, false, NULL);
	hdr(b, VIRTIO_GPU_CMD_GET_DISPLAY_INFO, 0);
	CHECK_EQ(run_resp(b, 24, GPU_RESP_DISPLAY_INFO, &p), VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	CHECK_EQ(get32(ram, p.resp + 24 + 8), 1280);
	CHECK_EQ(get32(ram, p.resp + 24 + 12), 800);
	CHECK_EQ(get32(ram, p.resp + 48 + 16), 1);	/* scanout 1 enabled */
	CHECK_EQ(get32(ram, p.resp + 72 + 16), 0);
	/* A response buffer too small: an error in what there is. */
	CHECK_EQ(run_resp(b, 24, 100, &p), VIRTIO_GPU_RESP_ERR_UNSPEC);

	hdr(b, VIRTIO_GPU_CMD_GET_EDID, 0);
	put32(b, 24, 1);
	CHECK_EQ(run_resp(b, 32, GPU_RESP_EDID, &p), VIRTIO_GPU_RESP_OK_EDID);
	CHECK_EQ(get32(ram, p.resp + 24), 128);
	CHECK_EQ(ram[p.resp + 32 + 1], 0xff);
	CHECK_EQ(ram[p.resp + 32 + 12], 2);		/* serial: scanout + 1 */
	put32(b, 24, 2);
	CHECK_EQ(run(b, 32), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	put32(b, 24, 0xffffffff);
	CHECK_EQ(run(b, 32), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK(!failed);
	stop();
}

/* Pixels (x, y) of a 64x16 test image: 4 bytes B, G, R, X. */
static void pattern(uint8_t *px, uint32_t x, uint32_t y)
{
	px[0] = (uint8_t)(x * 3);
	px[1] = (uint8_t)(y * 7);
	px[2] = (uint8_t)(x ^ y);
	px[3] = 0xff;
}

static void check_ppm(const char *name, uint32_t w, uint32_t h, uint32_t x0, uint32_t y0)
{
	char head[32];
	int n = snprintf(head, sizeof(head), "P6\n%u %u\n255\n", w, h);
	FILE *f = fopen(name, "rb");
	uint8_t *img = malloc((size_t)n + w * h * 3);
	bool ok = true;

	CHECK(f && img);
	if (!f || !img)
		return;
	CHECK_EQ(fread(img, 1, (size_t)n + w * h * 3 + 1, f), (size_t)n + w * h * 3);
	CHECK(!memcmp(img, head, (size_t)n));
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			uint8_t px[4], *rgb = img + n + (y * w + x) * 3;

			pattern(px, x0 + x, y0 + y);
			ok &= rgb[0] == px[2] && rgb[1] == px[1] && rgb[2] == px[0];
		}
	CHECK(ok);
	fclose(f);
	free(img);
}

static void test_2d(void)
{
	const uint32_t w = 64, h = 16, bytes = w * h * 4;
	/* The image's backing in three pieces of odd sizes, apart in RAM. */
	uint64_t at[3] = { 0x400000, 0x500000 + 8, 0x600000 + 100 };
	uint32_t len[3] = { 1000, 1500, bytes - 2500 };
	struct gpu_cmd_reply r;
	uint8_t img[64 * 16 * 4];

	start(&base_cfg, false, NULL);
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			pattern(img + (y * w + x) * 4, x, y);
	for (unsigned i = 0, off = 0; i < 3; off += len[i++])
		memcpy(ram + at[i], img + off, len[i]);

	CHECK_EQ(create_2d(1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, w, h), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(attach(1, at, len, 3, 3), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_SET_SCANOUT, 1, 0, 0, w, h, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(screenshot(0, &r), 0);		/* black until a transfer */
	/* The left half, then the right half with its offset into the backing. */
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 1, 0, 0, w / 2, h, 0),
		 VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 1, w / 2, 0, w / 2, h, w / 2 * 4),
		 VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH, 1, 0, 0, w, h, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(!memcmp(gpu_res_find(g, 1)->pixels, img, bytes));
	CHECK_EQ(screenshot(0, &r), 0);
	CHECK_EQ(le32toh(r.width), w);
	CHECK_EQ(le32toh(r.height), h);
	check_ppm("gpu0-scanout0.ppm", w, h, 0, 0);
	/* A scanout showing part of the resource: that part. */
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_SET_SCANOUT, 1, 8, 4, 16, 8, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(screenshot(1, &r), 0);
	check_ppm("gpu0-scanout1.ppm", 16, 8, 8, 4);
	CHECK(access("gpu0-scanout1.ppm.tmp", F_OK));	/* renamed */

	/* Disabled scanouts have nothing to show; scanouts past displays are refused. */
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_SET_SCANOUT, 0, 0, 0, 0, 0, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(screenshot(1, &r), -ENOENT);
	CHECK_EQ(screenshot(2, &r), -EINVAL);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_SET_SCANOUT, 1, 0, 0, w, h, 2),
		 VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_SET_SCANOUT, 9, 0, 0, w, h, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_SET_SCANOUT, 1, 1, 0, w, h, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* No scanout wider than a mode can be: a screenshot of it would hold the VMM. */
	CHECK_EQ(create_2d(2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, GPU_MAX_MODE + 1, 1),
		 VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_SET_SCANOUT, 2, 0, 0, GPU_MAX_MODE + 1, 1, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_SET_SCANOUT, 2, 1, 0, GPU_MAX_MODE, 1, 0),
		 VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF, 2, 0), VIRTIO_GPU_RESP_OK_NODATA);

	/* Rects and offsets outside the resource or its backing. */
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 1, 0, 0, w + 1, h, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 1, 0xffffffff, 0, 2, 1, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 1, 0, 0xfffffff0, 1, 0x20, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 1, 0, 0, w, h, 4),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 1, 0, 0, 1, 1, UINT64_MAX - 2),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 1, 0, 0, 0, 0, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_RESOURCE_FLUSH, 1, 0, 1, w, h, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 7, 0, 0, 1, 1, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);

	/* Backing twice, detached, then transfers have nothing to read. */
	CHECK_EQ(attach(1, at, len, 3, 3), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 1, 0, 0, 1, 1, 0),
		 VIRTIO_GPU_RESP_ERR_UNSPEC);

	/* Unref: the scanout showing it goes dark; the id is free again. */
	CHECK_EQ(rect_cmd(VIRTIO_GPU_CMD_SET_SCANOUT, 1, 0, 0, w, h, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(screenshot(0, &r), -ENOENT);
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(g->nr_resources, 0);
	CHECK_EQ(g->host_bytes, 0);
	CHECK(!failed);
	stop();
}

static void test_2d_hostile(void)
{
	uint64_t at[2] = { 0x400000, RAM - 100 };
	uint32_t len[2] = { 4096, 200 };
	uint64_t huge_at[1] = { UINT64_MAX - 10 };
	uint32_t huge_len[1] = { 100 };

	start(&base_cfg, false, NULL);
	CHECK_EQ(create_2d(0, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 4, 4),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(create_2d(1, 0, 4, 4), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_2d(1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0, 4),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_2d(1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, GPU_MAX_WIDTH + 1, 4),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_2d(1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 4, 4), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_2d(1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 4, 4),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* Backing past the end of guest RAM, or wrapping around. */
	CHECK_EQ(attach(1, at, len, 2, 2), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(1, huge_at, huge_len, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Zero entries, more than allowed, more than the command holds. */
	CHECK_EQ(attach(1, at, len, 0, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(1, at, len, 1, GPU_MAX_BACKING_ENTRIES + 1),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(1, at, len, 1, 1000), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK(!gpu_res_find(g, 1)->iov);
	CHECK_EQ(attach(1, at, len, 1, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(attach(7, at, len, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);

	/* The host-memory budget: 1 GiB of host copies, then no more. */
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_2d(2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, GPU_MAX_WIDTH, GPU_MAX_HEIGHT),
		 VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(g->host_bytes, GPU_MAX_HOST_BYTES);
	CHECK_EQ(create_2d(3, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1),
		 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF, 2, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(g->host_bytes, 0);
	CHECK(!failed);
	stop();
}

/* GPU_MAX_RESOURCES resources, then no more; a queue's worth per kick. */
static void test_resource_limit(void)
{
	uint8_t b[40];
	unsigned made = 0;

	start(&base_cfg, false, NULL);
	while (made < GPU_MAX_RESOURCES + 1) {
		struct posted p[GPU_QUEUE_SIZE / 2];
		unsigned n = 0;

		for (; n < GPU_QUEUE_SIZE / 2 && made + n < GPU_MAX_RESOURCES + 1; n++) {
			hdr(b, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 0);
			put32(b, 24, made + n + 1);
			put32(b, 28, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM);
			put32(b, 32, 1);
			put32(b, 36, 1);
			p[n] = post(b, sizeof(b), GPU_HDR_SIZE);
		}
		kick(GPU_QUEUE_CTRL);
		for (unsigned i = 0; i < n; i++) {
			CHECK_EQ(used(&p[i]), GPU_HDR_SIZE);
			CHECK_EQ(resp_type(&p[i]), made + i < GPU_MAX_RESOURCES
				 ? VIRTIO_GPU_RESP_OK_NODATA : VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
		}
		made += n;
	}
	CHECK_EQ(g->nr_resources, GPU_MAX_RESOURCES);
	CHECK(gpu_res_find(g, GPU_MAX_RESOURCES));
	CHECK(!gpu_res_find(g, GPU_MAX_RESOURCES + 1));
	stop();			/* frees them all (ASan: no leak) */
}

static void test_capsets_contexts(void)
{
	uint8_t b[32] = { 0 };
	struct posted p;

	start(&base_cfg, true, NULL);
	hdr(b, VIRTIO_GPU_CMD_GET_CAPSET_INFO, 0);
	put32(b, 24, 0);
	CHECK_EQ(run_resp(b, 32, GPU_RESP_CAPSET_INFO, &p), VIRTIO_GPU_RESP_OK_CAPSET_INFO);
	CHECK_EQ(get32(ram, p.resp + 24), FAKE_CAPSET);
	CHECK_EQ(get32(ram, p.resp + 28), 2);
	CHECK_EQ(get32(ram, p.resp + 32), 16);
	put32(b, 24, 1);
	CHECK_EQ(run(b, 32), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);

	hdr(b, VIRTIO_GPU_CMD_GET_CAPSET, 0);
	put32(b, 24, FAKE_CAPSET);
	put32(b, 28, 1);
	CHECK_EQ(run_resp(b, 32, GPU_HDR_SIZE + 16, &p), VIRTIO_GPU_RESP_OK_CAPSET);
	CHECK_EQ(ram[p.resp + 24], 0xc1);
	CHECK_EQ(ram[p.resp + 39], 0xd0);
	CHECK_EQ(run_resp(b, 32, GPU_HDR_SIZE + 15, NULL), VIRTIO_GPU_RESP_ERR_UNSPEC);
	put32(b, 28, 3);
	CHECK_EQ(run(b, 32), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	put32(b, 24, CROSS_DOMAIN_CAPSET_ID);	/* not enabled here */
	put32(b, 28, 0);
	CHECK_EQ(run(b, 32), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);

	CHECK_EQ(ctx_create(1, FAKE_CAPSET), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_STR(fk.ctx[1]->debug_name, "test");
	CHECK(fk.ctx[1]->type == &fake_type);
	CHECK_EQ(ctx_create(2, 0), VIRTIO_GPU_RESP_OK_NODATA);	/* the default type */
	CHECK(fk.ctx[2] && fk.ctx[2]->type == &fake_type);
	CHECK_EQ(ctx_create(1, FAKE_CAPSET), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(ctx_create(0, FAKE_CAPSET), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(ctx_create(3, CROSS_DOMAIN_CAPSET_ID), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(ctx_create(3, 0x7f), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(ctx_create(666, FAKE_CAPSET), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(g->nr_ctxs, 2);
	CHECK_EQ(ctx_destroy(2), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(fk.destroys, 1);
	CHECK_EQ(ctx_destroy(2), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(ctx_destroy(0), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);

	/* GPU_MAX_CONTEXTS at once, then no more; a name longer than 64 is refused. */
	for (uint32_t id = 100; id < 100 + GPU_MAX_CONTEXTS - 1; id++)
		CHECK_EQ(ctx_create(id, FAKE_CAPSET), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(ctx_create(500, FAKE_CAPSET), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	CHECK_EQ(ctx_destroy(100), VIRTIO_GPU_RESP_OK_NODATA);
	{
		uint8_t c[96] = { 0 };

		hdr(c, VIRTIO_GPU_CMD_CTX_CREATE, 500);
		put32(c, 24, 65);
		CHECK_EQ(run(c, sizeof(c)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	}
	CHECK_EQ(ctx_create(500, FAKE_CAPSET), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(!failed);
	stop();			/* destroys every context through its type */
	CHECK_EQ(fk.destroys, 2 + GPU_MAX_CONTEXTS);
}

static void test_submit_and_isolation(void)
{
	uint8_t see[5] = { 'S' }, wr[12] = { 'W' };
	uint32_t id = 5;
	uint8_t b[40 + 64];
	struct posted p;

	start(&base_cfg, true, NULL);
	CHECK_EQ(ctx_create(1, FAKE_CAPSET), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(ctx_create(2, FAKE_CAPSET), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_2d(5, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 4, 4), VIRTIO_GPU_RESP_OK_NODATA);
	memcpy(see + 1, &id, 4);

	p = submit(1, see, 5, 0, -1);
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(used(&p), GPU_HDR_SIZE);
	CHECK_EQ(fk.seen, 0);				/* not attached */
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, 5, 1), VIRTIO_GPU_RESP_OK_NODATA);
	p = submit(1, see, 5, 0, -1);
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(used(&p), GPU_HDR_SIZE);
	CHECK_EQ(fk.seen, 1);
	p = submit(2, see, 5, 0, -1);			/* another context: never */
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(used(&p), GPU_HDR_SIZE);
	CHECK_EQ(fk.seen, 0);
	/* No backing: the type's write is refused, and its error passes on. */
	memcpy(wr + 1, &id, 4);
	p = submit(1, wr, sizeof(wr), 0, -1);
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(used(&p), GPU_HDR_SIZE);
	CHECK_EQ(resp_type(&p), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);

	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, 9, 1),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, 5, 9),
		 VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE, 5, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(fk.detaches, 1);
	CHECK_EQ(fk.last_detach, 5);
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE, 5, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(fk.detaches, 1);			/* it was not attached any more */
	/* Unref tells each context it was attached to. */
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, 5, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, 5, 2), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF, 5, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(fk.detaches, 3);

	/* The stream split over two buffers, after two in-fence ids. */
	hdr(b, VIRTIO_GPU_CMD_SUBMIT_3D, 1);
	put32(b, 24, 20);
	put32(b, 28, 2);
	memset(b + 32, 0xff, 16);
	for (unsigned i = 0; i < 20; i++)
		b[48 + i] = (uint8_t)(i + 1);
	{
		uint64_t a1 = galloc(40), a2 = galloc(28), resp = galloc(24);
		struct fake_buf bufs[3] = { { a1, 40, false }, { a2, 28, false }, { resp, 24, true } };
		struct posted q = { .resp = resp };

		memcpy(ram + a1, b, 40);
		memcpy(ram + a2, b + 40, 28);
		q.head = fake_vq_post(&ctrl, bufs, 3);
		kick(GPU_QUEUE_CTRL);
		CHECK_EQ(used(&q), GPU_HDR_SIZE);
		CHECK_EQ(resp_type(&q), VIRTIO_GPU_RESP_OK_NODATA);
		CHECK_EQ(fk.last_len, 20);
		CHECK_EQ(fk.last[0], 1);
		CHECK_EQ(fk.last[19], 20);
	}
	/* Sizes past the command, past the limit; too many in-fences; no context. */
	put32(b, 28, 0);
	put32(b, 24, 100);
	CHECK_EQ(run(b, 60), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	put32(b, 24, GPU_MAX_SUBMIT + 1);
	CHECK_EQ(run(b, 60), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	put32(b, 24, 0);
	put32(b, 28, GPU_MAX_IN_FENCES + 1);
	CHECK_EQ(run(b, 60), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	put32(b, 28, 0);
	put32(b, 16, 9);
	CHECK_EQ(run(b, 60), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	/* What the type says comes back; nonsense becomes ERR_UNSPEC. */
	put32(b, 16, 1);
	fk.submit_rc = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	CHECK_EQ(run(b, 32), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	fk.submit_rc = 12345;
	CHECK_EQ(run(b, 32), VIRTIO_GPU_RESP_ERR_UNSPEC);
	fk.submit_rc = 0;
	CHECK(!failed);
	stop();
}

static uint64_t call_count(void)
{
	uint64_t n = 0;

	return read(ll.link.call_fd[GPU_QUEUE_CTRL], &n, 8) == 8 ? n : 0;
}

static void test_fences(void)
{
	uint8_t poll_cmd[8] = { CROSS_DOMAIN_CMD_POLL, 1, 8, 0 };
	struct posted a, b, c, d, e;

	start(&base_cfg, true, NULL);
	CHECK_EQ(ctx_create(1, FAKE_CAPSET), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(ctx_create(2, FAKE_CAPSET), VIRTIO_GPU_RESP_OK_NODATA);

	/* Ring 1 waits; ring 0 and the global timeline come back at once. */
	a = submit(1, poll_cmd, 8, 5, 1);
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(fake_vq_pending(&ctrl), 0);
	CHECK_EQ(resp_type(&a), VIRTIO_GPU_RESP_OK_NODATA);	/* written at once */
	CHECK_EQ(get32(ram, a.resp + 4), VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX);
	CHECK_EQ(get32(ram, a.resp + 8), 5);
	CHECK_EQ(ram[a.resp + 20], 1);
	b = submit(1, poll_cmd, 8, 6, 0);
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(used(&b), GPU_HDR_SIZE);
	c = submit(1, poll_cmd, 8, 7, -1);
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(used(&c), GPU_HDR_SIZE);
	CHECK_EQ(get32(ram, c.resp + 4), VIRTIO_GPU_FLAG_FENCE);
	/* A failed command is answered at once, fence or not. */
	fk.submit_rc = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	d = submit(1, poll_cmd, 8, 8, 1);
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(used(&d), GPU_HDR_SIZE);
	fk.submit_rc = 0;

	/* Two more on ring 1 and one on context 2's ring 1. */
	b = submit(1, poll_cmd, 8, 9, 1);
	c = submit(1, poll_cmd, 8, 10, 1);
	d = submit(2, poll_cmd, 8, 9, 1);
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(fake_vq_pending(&ctrl), 0);
	call_count();
	gpu_fence_signal(fk.ctx[1], 1, 4);		/* before any of them */
	CHECK_EQ(fake_vq_pending(&ctrl), 0);
	gpu_fence_signal(fk.ctx[1], 0, 100);		/* another ring */
	CHECK_EQ(fake_vq_pending(&ctrl), 0);
	gpu_fence_signal(fk.ctx[1], 1, 9);		/* a and b, with one interrupt */
	CHECK_EQ(fake_vq_pending(&ctrl), 2);
	CHECK_EQ(call_count(), 1);
	{
		struct vring_used_elem u1 = fake_vq_take(&ctrl), u2 = fake_vq_take(&ctrl);

		CHECK((u1.id == a.head && u2.id == b.head) || (u1.id == b.head && u2.id == a.head));
		CHECK_EQ(u1.len, GPU_HDR_SIZE);
	}
	/* A fence its timeline passed already comes back at once. */
	e = submit(1, poll_cmd, 8, 9, 1);
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(used(&e), GPU_HDR_SIZE);
	/* Destroying a context returns what it had parked, before its own
	 * answer; the other context's stays parked. */
	{
		uint8_t x[24];
		struct posted q;
		struct vring_used_elem u;

		hdr(x, VIRTIO_GPU_CMD_CTX_DESTROY, 1);
		q = post(x, sizeof(x), GPU_HDR_SIZE);
		kick(GPU_QUEUE_CTRL);
		u = fake_vq_take(&ctrl);
		CHECK_EQ(u.id, c.head);
		CHECK_EQ(u.len, GPU_HDR_SIZE);
		CHECK_EQ(used(&q), GPU_HDR_SIZE);
		CHECK_EQ(resp_type(&q), VIRTIO_GPU_RESP_OK_NODATA);
		CHECK_EQ(fake_vq_pending(&ctrl), 0);
	}
	gpu_fence_signal(fk.ctx[2], 1, 9);
	CHECK_EQ(used(&d), GPU_HDR_SIZE);

	/* A reset drops parked chains: the rings start over. */
	a = submit(2, poll_cmd, 8, 20, 1);
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(fake_vq_pending(&ctrl), 0);
	reset_device();
	CHECK_EQ(fk.destroys, 2);
	a = post((uint8_t[24]){ 0 }, 24, GPU_HDR_SIZE);	/* type 0: unknown */
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(used(&a), GPU_HDR_SIZE);
	CHECK_EQ(resp_type(&a), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK(!failed);
	stop();
}

static void test_blobs_and_maps(void)
{
	uint64_t ring_at = 0x800000;
	uint8_t wr[5 + 8] = { 'W' }, b[40];
	uint32_t ring_id = 3, info = 0;
	struct posted p;

	start(&base_cfg, true, NULL);
	CHECK_EQ(ctx_create(1, FAKE_CAPSET), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(ctx_create(2, FAKE_CAPSET), VIRTIO_GPU_RESP_OK_NODATA);

	/* A guest blob made on a context is attached to it: the type writes into it. */
	memset(ram + ring_at, 0, PAGE);
	CHECK_EQ(blob(3, 1, VIRTIO_GPU_BLOB_MEM_GUEST, VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE, 0, PAGE,
		      ring_at, 1), VIRTIO_GPU_RESP_OK_NODATA);
	memcpy(wr + 1, &ring_id, 4);
	memcpy(wr + 5, "ringdata", 8);
	p = submit(1, wr, sizeof(wr), 0, -1);
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(used(&p), GPU_HDR_SIZE);
	CHECK_EQ(resp_type(&p), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(!memcmp(ram + ring_at, "ringdata", 8));
	p = submit(2, wr, sizeof(wr), 0, -1);			/* not context 2's */
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(used(&p), GPU_HDR_SIZE);
	CHECK_EQ(resp_type(&p), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(gpu_res_size(gpu_res_find(g, 3)), PAGE);
	CHECK_EQ(gpu_res_host_fd(gpu_res_find(g, 3)), -1);
	CHECK(gpu_res_write(gpu_res_find(g, 3), PAGE - 4, "12345", 5) == -EINVAL);
	/* Guest blobs: bigger than their pages, outside RAM, on an unknown context. */
	CHECK_EQ(blob(4, 1, VIRTIO_GPU_BLOB_MEM_GUEST, 0, 0, PAGE + 1, ring_at, 1),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(blob(4, 1, VIRTIO_GPU_BLOB_MEM_GUEST, 0, 0, PAGE, RAM - 8, 1),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(blob(4, 9, VIRTIO_GPU_BLOB_MEM_GUEST, 0, 0, PAGE, ring_at, 1),
		 VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(blob(4, 1, 7, 0, 0, PAGE, ring_at, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(blob(4, 1, VIRTIO_GPU_BLOB_MEM_GUEST, 0x100, 0, PAGE, ring_at, 1),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(blob(3, 1, VIRTIO_GPU_BLOB_MEM_GUEST, 0, 0, PAGE, ring_at, 1),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);

	/* Host blobs come from the context's type. */
	CHECK_EQ(blob(10, 0, VIRTIO_GPU_BLOB_MEM_HOST3D, 1, 1, PAGE, 0, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(blob(10, 1, VIRTIO_GPU_BLOB_MEM_HOST3D, 1, 1, 0, 0, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(blob(10, 1, VIRTIO_GPU_BLOB_MEM_HOST3D, 1, 1, GPU_MAX_BLOB_SIZE + 1, 0, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(blob(10, 1, VIRTIO_GPU_BLOB_MEM_HOST3D, 1, 1, PAGE, ring_at, 1),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);	/* entries for host memory */
	CHECK_EQ(blob(10, 1, VIRTIO_GPU_BLOB_MEM_HOST3D, 1, 1001, PAGE, 0, 0),
		 VIRTIO_GPU_RESP_ERR_UNSPEC);			/* the type's fd is too small */
	CHECK_EQ(fk.blobs, 1);
	CHECK_EQ(blob(10, 1, VIRTIO_GPU_BLOB_MEM_HOST3D, VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE, 1,
		      5000, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(g->host_bytes, 2 * PAGE);
	CHECK_EQ(blob(11, 1, VIRTIO_GPU_BLOB_MEM_HOST3D, VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE, 1000,
		      PAGE, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(blob(12, 1, VIRTIO_GPU_BLOB_MEM_HOST3D, 0, 1, PAGE, 0, 0),
		 VIRTIO_GPU_RESP_OK_NODATA);			/* not mappable */

	/* MAP_BLOB: the fd's access mode, the cache bits only. */
	CHECK_EQ(map_blob(10, 0x100000, &info), VIRTIO_GPU_RESP_OK_MAP_INFO);
	CHECK_EQ(info, VIRTIO_GPU_MAP_CACHE_CACHED);
	CHECK_EQ(shm.maps, 1);
	CHECK_EQ(shm.offset, 0x100000);
	CHECK_EQ(shm.size, 2 * PAGE);			/* 5000 bytes: two pages */
	CHECK_EQ(shm.prot, VDEV_SHM_PROT_READ | VDEV_SHM_PROT_WRITE);
	CHECK_EQ(map_blob(11, 0x200000, NULL), VIRTIO_GPU_RESP_OK_MAP_INFO);
	CHECK_EQ(shm.prot, VDEV_SHM_PROT_READ);
	/* Refused: twice, over another, unaligned, outside, not mappable, guest pages. */
	CHECK_EQ(map_blob(10, 0x300000, NULL), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB, 11, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(shm.unmaps, 1);
	CHECK_EQ(shm.unmap_offset, 0x200000);
	CHECK_EQ(map_blob(11, 0x101000, NULL), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(map_blob(11, 0x0ff000, NULL), VIRTIO_GPU_RESP_OK_MAP_INFO);	/* just below */
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB, 11, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(map_blob(11, 0x300010, NULL), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(map_blob(11, WINDOW, NULL), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(blob(13, 1, VIRTIO_GPU_BLOB_MEM_HOST3D, VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE, 1,
		      2 * PAGE, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(map_blob(13, WINDOW - PAGE, NULL), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Memory that ends inside its last page cannot be mapped (the VMM maps pages). */
	CHECK_EQ(blob(14, 1, VIRTIO_GPU_BLOB_MEM_HOST3D, VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE, 1002,
		      5000, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(map_blob(14, 0x400000, NULL), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(map_blob(11, UINT64_MAX & ~0xfffull, NULL), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(map_blob(12, 0x400000, NULL), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(map_blob(3, 0x400000, NULL), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(map_blob(99, 0x400000, NULL), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB, 11, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(shm.maps, 3);
	/* The VMM's refusal reaches the guest; nothing is recorded as mapped. */
	shm.rc = -ENOSPC;
	CHECK_EQ(map_blob(11, 0x400000, NULL), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	shm.rc = -EINVAL;
	CHECK_EQ(map_blob(11, 0x400000, NULL), VIRTIO_GPU_RESP_ERR_UNSPEC);
	shm.rc = 0;
	CHECK_EQ(map_blob(11, 0x400000, NULL), VIRTIO_GPU_RESP_OK_MAP_INFO);
	/* A response buffer without room for map_info: refused before mapping. */
	hdr(b, VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB, 0);
	put32(b, 24, 12);
	put64(b, 32, 0x500000);
	CHECK_EQ(run_resp(b, 40, GPU_HDR_SIZE, NULL), VIRTIO_GPU_RESP_ERR_UNSPEC);

	/* Unref of a mapped blob unmaps it and frees its memory. */
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_RESOURCE_UNREF, 10, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(shm.unmaps, 3);
	CHECK_EQ(shm.unmap_offset, 0x100000);
	CHECK_EQ(fk.last_detach, 10);			/* it was context 1's */
	/* A reset forgets mappings without asking the VMM (its transport drops them). */
	reset_device();
	CHECK_EQ(shm.unmaps, 3);
	CHECK_EQ(g->nr_resources, 0);
	CHECK_EQ(g->host_bytes, 0);
	for (unsigned i = 0; i < GPU_MAX_MAPPINGS; i++)
		CHECK(!g->maps[i].used);
	CHECK(!failed);
	stop();
}

/* GPU_MAX_MAPPINGS at once, then the next is refused on our side. */
static void test_mapping_limit(void)
{
	start(&base_cfg, true, NULL);
	CHECK_EQ(ctx_create(1, FAKE_CAPSET), VIRTIO_GPU_RESP_OK_NODATA);
	for (uint32_t i = 0; i <= GPU_MAX_MAPPINGS; i++) {
		CHECK_EQ(blob(100 + i, 1, VIRTIO_GPU_BLOB_MEM_HOST3D,
			      VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE, 1, PAGE, 0, 0),
			 VIRTIO_GPU_RESP_OK_NODATA);
		CHECK_EQ(map_blob(100 + i, (uint64_t)i * PAGE, NULL),
			 i < GPU_MAX_MAPPINGS ? VIRTIO_GPU_RESP_OK_MAP_INFO
					      : VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	}
	CHECK_EQ(shm.maps, GPU_MAX_MAPPINGS);
	CHECK_EQ(res_cmd(VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB, 100, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(map_blob(100 + GPU_MAX_MAPPINGS, 0, NULL), VIRTIO_GPU_RESP_OK_MAP_INFO);
	stop();
	CHECK_EQ(shm.unmaps, 1);			/* destroy: the VMM goes too */
}

static void test_uuid(void)
{
	uint8_t b[32] = { 0 }, u1[16], u2[16];
	struct posted p;

	start(&base_cfg, false, NULL);
	CHECK_EQ(create_2d(1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_2d(2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1), VIRTIO_GPU_RESP_OK_NODATA);
	hdr(b, VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID, 0);
	put32(b, 24, 1);
	CHECK_EQ(run_resp(b, 32, GPU_RESP_UUID, &p), VIRTIO_GPU_RESP_OK_RESOURCE_UUID);
	memcpy(u1, ram + p.resp + 24, 16);
	CHECK_EQ(u1[6] >> 4, 4);
	CHECK_EQ(u1[8] >> 6, 2);
	CHECK_EQ(run_resp(b, 32, GPU_RESP_UUID, &p), VIRTIO_GPU_RESP_OK_RESOURCE_UUID);
	CHECK(!memcmp(u1, ram + p.resp + 24, 16));	/* stable */
	put32(b, 24, 2);
	CHECK_EQ(run_resp(b, 32, GPU_RESP_UUID, &p), VIRTIO_GPU_RESP_OK_RESOURCE_UUID);
	memcpy(u2, ram + p.resp + 24, 16);
	CHECK(memcmp(u1, u2, 16));
	put32(b, 24, 3);
	CHECK_EQ(run(b, 32), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	stop();
}

static void test_cursor(void)
{
	uint8_t b[56] = { 0 };
	uint64_t at;

	start(&base_cfg, false, NULL);
	at = galloc(56);
	hdr(b, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0);
	put32(b, 24, 1);
	put32(b, 28, 10);
	put32(b, 32, 20);
	put32(b, 40, 7);
	memcpy(ram + at, b, 56);
	fake_vq_post(&cursor, &(struct fake_buf){ at, 56, false }, 1);
	kick(GPU_QUEUE_CURSOR);
	CHECK_EQ(fake_vq_take(&cursor).len, 0);
	CHECK_EQ(g->cursor.x, 10);
	CHECK_EQ(g->cursor.resource_id, 7);
	put32(b, 0, VIRTIO_GPU_CMD_MOVE_CURSOR);
	put32(b, 28, 30);
	put32(b, 40, 0);
	memcpy(ram + at, b, 56);
	fake_vq_post(&cursor, &(struct fake_buf){ at, 56, false }, 1);
	kick(GPU_QUEUE_CURSOR);
	CHECK_EQ(fake_vq_take(&cursor).len, 0);
	CHECK_EQ(g->cursor.x, 30);
	CHECK_EQ(g->cursor.resource_id, 7);		/* a move keeps the image */
	/* Junk and ctrl commands on the cursor queue: returned, ignored. */
	put32(b, 0, VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
	memcpy(ram + at, b, 56);
	fake_vq_post(&cursor, &(struct fake_buf){ at, 56, false }, 1);
	fake_vq_post(&cursor, &(struct fake_buf){ at, 3, false }, 1);
	kick(GPU_QUEUE_CURSOR);
	CHECK_EQ(fake_vq_pending(&cursor), 2);
	CHECK(!failed);
	stop();
}

/* Chains that cannot carry a command, or its answer, hurt only themselves. */
static void test_hostile_chains(void)
{
	uint8_t b[96] = { 0 };
	struct posted p;

	start(&base_cfg, true, NULL);
	hdr(b, VIRTIO_GPU_CMD_GET_DISPLAY_INFO, 0);
	p = post(b, 8, GPU_RESP_DISPLAY_INFO);		/* half a header */
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(used(&p), GPU_HDR_SIZE);
	CHECK_EQ(resp_type(&p), VIRTIO_GPU_RESP_ERR_UNSPEC);
	p = post(b, 24, 0);				/* nowhere to answer */
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(used(&p), 0);
	p = post(b, 24, 10);
	kick(GPU_QUEUE_CTRL);
	CHECK_EQ(used(&p), 0);
	CHECK_EQ(ram[p.resp], 0xee);			/* nothing written */
	hdr(b, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 0);	/* cut short */
	CHECK_EQ(run(b, 30), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(g->nr_resources, 0);
	hdr(b, VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, 0);	/* no virgl: opengl is off */
	CHECK_EQ(run(b, 72), VIRTIO_GPU_RESP_ERR_UNSPEC);
	hdr(b, VIRTIO_GPU_CMD_SET_SCANOUT_BLOB, 0);
	CHECK_EQ(run(b, 96), VIRTIO_GPU_RESP_ERR_UNSPEC);
	hdr(b, VIRTIO_GPU_CMD_MOVE_CURSOR, 0);		/* the cursor queue's */
	CHECK_EQ(run(b, 56), VIRTIO_GPU_RESP_ERR_UNSPEC);
	hdr(b, 0xdead, 0);
	CHECK_EQ(run(b, 96), VIRTIO_GPU_RESP_ERR_UNSPEC);
	/* A fenced command with a bad ring index is answered at once. */
	hdr(b, VIRTIO_GPU_CMD_GET_DISPLAY_INFO, 0);
	fence(b, 1, 200);
	CHECK_EQ(run(b, 24), VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	CHECK(!failed);
	/* A broken ring does fail the device. */
	fake_vq_post(&ctrl, &(struct fake_buf){ RAM + PAGE, 24, false }, 1);
	kick(GPU_QUEUE_CTRL);
	CHECK(failed);
	stop();
}

/* Capset 5 with wayland: the cross-domain type, its 16-byte caps. */
static void test_wayland(void)
{
	char dir[] = "/tmp/test-gpu-XXXXXX", path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct gpu_config cfg = base_cfg;
	struct device_grant grant = { 0 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0), c;
	uint8_t b[32] = { 0 };
	struct posted p;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/wayland-0", dir);
	memcpy(sa.sun_path, path, sizeof(path));
	CHECK(s >= 0 && !bind(s, (struct sockaddr *)&sa, sizeof(sa)) && !listen(s, 4));
	cfg.wayland = true;
	cfg.wayland_socket = path;
	start(&cfg, false, &grant);
	CHECK_STR(grant.socket_name, GPU_SOCKET_NAME);
	CHECK(grant.socket_fd > 2);
	close(grant.socket_fd);
	CHECK_EQ(g->nr_types, 1);
	CHECK(ll.link.features & 1ull << VIRTIO_GPU_F_VIRGL);
	hdr(b, VIRTIO_GPU_CMD_GET_CAPSET, 0);
	put32(b, 24, CROSS_DOMAIN_CAPSET_ID);
	CHECK_EQ(run_resp(b, 32, GPU_HDR_SIZE + 16, &p), VIRTIO_GPU_RESP_OK_CAPSET);
	CHECK_EQ(get32(ram, p.resp + 24), CROSS_DOMAIN_VERSION);
	CHECK_EQ(get32(ram, p.resp + 28), 1u << CROSS_DOMAIN_CHANNEL_WAYLAND);
	/* Outside a jail the device reaches the compositor where the VMM found it. */
	dev.ops->init_jailed(&dev);
	c = gpu_host_connect(g);
	CHECK(c >= 0);
	if (c >= 0)
		close(c);
	stop();

	/* No socket there: the VM does not start, with one line saying so. */
	unlink(path);
	{
		struct device_env env = { .mem = &mem, .user_uid = getuid() };
		char err[300] = "";
		struct vdev d2;

		CHECK(gpu_kind.create(&d2, "gpu0", &env, &cfg, &grant, err, sizeof(err)) < 0);
		CHECK(strstr(err, "gpu0: no Wayland compositor socket at") != NULL);
	}
	close(s);
	rmdir(dir);
}

/* The policy stays small: the base list, the device loop's, and ours. */
static void test_policy(void)
{
	size_t n = sandbox_base_policy.nr_rules + gpu_policy.nr_rules;

	CHECK(n <= 45);
	CHECK_EQ(gpu_wx_policy.nr_rules, 2);
	for (size_t i = 0; i < gpu_policy.nr_rules; i++)
		CHECK(gpu_policy.rules[i].reason && *gpu_policy.rules[i].reason);
}

int main(void)
{
	char dir[] = "/tmp/test-gpu-shots-XXXXXX";
	int ram_fd = memfd_create("test-gpu-ram", MFD_CLOEXEC);

	log_set_level(LOG_ERROR);
	CHECK(ram_fd >= 0 && !ftruncate(ram_fd, RAM));
	ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
	CHECK(ram != MAP_FAILED);
	guest_mem_layout(&mem, ram, RAM);
	CHECK(mkdtemp(dir) && !chdir(dir));	/* screenshots land in the working directory */

	test_features_config();
	test_display_and_edid();
	test_2d();
	test_2d_hostile();
	test_resource_limit();
	test_capsets_contexts();
	test_submit_and_isolation();
	test_fences();
	test_blobs_and_maps();
	test_mapping_limit();
	test_uuid();
	test_cursor();
	test_hostile_chains();
	test_wayland();
	test_policy();

	unlink("gpu0-scanout0.ppm");
	unlink("gpu0-scanout1.ppm");
	CHECK(!chdir("/") && !rmdir(dir));
	munmap(ram, RAM);
	close(ram_fd);
	return check_report("test_gpu");
}
