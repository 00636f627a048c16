/*
 * virgl in the real GPU process (jail with the host's /usr, seccomp
 * enforcing, gpu_virgl_policy): virglrenderer starts on surfaceless EGL
 * (llvmpipe here), the capsets VIRGL2 and VIRGL are offered, a context
 * made with context_init 0 is virgl's, a 16x16 RGBA render target is
 * cleared by a virgl command stream and read back through the guest's
 * backing pixel-exact, a fenced command waits for virgl's fence; then
 * hostile input (garbage stream, unknown ids, huge sizes, a transfer
 * past the backing) gets errors and the process lives. Prints SKIP when
 * the jail cannot be made (no root, no user namespaces).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_gpu.h>

#include "boot/guest_mem.h"
#include "check.h"
#include "devices/gpu_internal.h"
#include "tests/unit/fake_driver.h"
#include "vmm/link_child.h"

#define RAM (8 * MIB)
#define CTRL_RING 0x10000ull
#define CURSOR_RING 0x20000ull
#define BUFS 0x100000ull
#define IMAGE 0x200000ull
#define PAGE 4096u
#define WAIT_MS 10000		/* only so a broken test cannot hang */

static uint8_t *ram;
static struct guest_mem mem;
static uint64_t next_buf = BUFS;
static struct fake_vq ctrl, cursor;
static struct vdev dev;
static struct link_child lc;
static unsigned maps, unmaps;
static bool needs_reset;

/* ---- in the VMM (this process) ---- */

static int on_map(void *ctx, uint8_t id, uint64_t offset, int fd, uint64_t fd_offset,
		  uint64_t size, uint32_t prot)
{
	struct stat st;

	(void)ctx, (void)offset, (void)fd_offset;
	CHECK_EQ(id, GPU_SHM_ID_HOST_VISIBLE);
	CHECK(!fstat(fd, &st) && (uint64_t)st.st_size >= size);
	CHECK_EQ(prot, VDEV_SHM_PROT_READ | VDEV_SHM_PROT_WRITE);
	maps++;
	return 0;
}

static int on_unmap(void *ctx, uint8_t id, uint64_t offset)
{
	(void)ctx, (void)id, (void)offset;
	unmaps++;
	return 0;
}

static int on_config(void *ctx, unsigned off, const void *bytes, unsigned len)
{
	(void)ctx, (void)off, (void)bytes, (void)len;
	return 0;
}

static void on_needs_reset(void *ctx, const char *why)
{
	(void)ctx;
	fprintf(stderr, "needs reset: %s\n", why);
	needs_reset = true;
}

static const struct vdev_link_events events = {
	.config_changed = on_config, .needs_reset = on_needs_reset,
	.shm_map = on_map, .shm_unmap = on_unmap,
};

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

static void hdr(uint8_t *b, size_t len, uint32_t type, uint32_t ctx)
{
	memset(b, 0, len);
	put32(b, 0, type);
	put32(b, 16, ctx);
}

/* The VMM's main loop for this link, and the guest's interrupt, until
 * the device used n ctrl chains in all. */
static bool serve_until(uint16_t n)
{
	struct vdev_link_watch w[VDEV_LINK_MAX_WATCHES];
	struct pollfd p[VDEV_LINK_MAX_WATCHES + 1];
	uint64_t count;

	while (fake_vq_used_idx(&ctrl) != n) {
		unsigned k = lc.link.ops->watches(&lc.link, w);

		for (unsigned i = 0; i < k; i++)
			p[i] = (struct pollfd){ w[i].fd, w[i].events, 0 };
		p[k] = (struct pollfd){ lc.link.call_fd[GPU_QUEUE_CTRL], POLLIN, 0 };
		if (poll(p, k + 1, WAIT_MS) <= 0 || lc.dead)
			return false;
		for (unsigned i = 0; i < k; i++)
			if (p[i].revents && w[i].fd >= 0)
				w[i].serve(&lc.link, p[i].revents);
		if (p[k].revents)
			(void)!read(p[k].fd, &count, sizeof(count));
	}
	return true;
}

/* Posts a command with room for its response, kicks; the response's address. */
static uint64_t post(const uint8_t *cmd, uint32_t len)
{
	uint64_t at = next_buf, resp = next_buf + 256;
	struct fake_buf b[2] = { { at, len, false }, { resp, GPU_MAX_RESP, true } };

	next_buf += 256 + GPU_MAX_RESP + 64;
	memcpy(ram + at, cmd, len);
	fake_vq_post(&ctrl, b, 2);
	CHECK_EQ(write(lc.link.kick_fd[GPU_QUEUE_CTRL], &(uint64_t){ 1 }, 8), 8);
	return resp;
}

/* One command answered: its response type, 0 if none came. */
static uint32_t run(const uint8_t *cmd, uint32_t len)
{
	uint64_t resp = post(cmd, len);
	uint32_t type;

	if (!serve_until((uint16_t)(ctrl.used_seen + 1)))
		return 0;
	fake_vq_take(&ctrl);
	memcpy(&type, ram + resp, 4);
	return le32toh(type);
}

static uint32_t run_res(uint32_t type, uint32_t ctx, uint32_t id)
{
	uint8_t b[32];

	hdr(b, sizeof(b), type, ctx);
	put32(b, 24, id);
	return run(b, sizeof(b));
}


#define VIRGL_CMD(cmd, obj, len) ((uint32_t)(cmd) | (uint32_t)(obj) << 8 | (uint32_t)(len) << 16)
#define CCMD_CREATE_OBJECT 1
#define CCMD_SET_FRAMEBUFFER_STATE 5
#define CCMD_CLEAR 7
#define OBJECT_SURFACE 8
#define FORMAT_R8G8B8A8_UNORM 67
#define PIPE_TEXTURE_2D 2
#define BIND_RENDER_TARGET (1u << 1)
#define CLEAR_COLOR0 (1u << 2)
#define W 16u

static uint32_t submit(uint32_t ctx, const uint32_t *dw, uint32_t n, uint32_t flags, uint64_t fence)
{
	uint8_t b[32 + 4 * 64];

	hdr(b, sizeof(b), VIRTIO_GPU_CMD_SUBMIT_3D, ctx);
	put32(b, 4, flags);
	put64(b, 8, fence);
	put32(b, 24, 4 * n);
	for (uint32_t i = 0; i < n; i++)
		put32(b, 32 + 4 * i, dw[i]);
	return run(b, 32 + 4 * n);
}

static uint32_t create_3d(uint32_t id, uint32_t w, uint32_t h)
{
	uint8_t b[72];

	hdr(b, 72, VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, 0);
	put32(b, 24, id);
	put32(b, 28, PIPE_TEXTURE_2D);
	put32(b, 32, FORMAT_R8G8B8A8_UNORM);
	put32(b, 36, BIND_RENDER_TARGET);
	put32(b, 40, w);
	put32(b, 44, h);
	put32(b, 48, 1);
	put32(b, 52, 1);
	return run(b, 72);
}

static uint32_t transfer(uint32_t type, uint32_t ctx, uint32_t id, uint32_t w, uint32_t h,
			 uint64_t offset)
{
	uint8_t b[72];

	hdr(b, 72, type, ctx);
	put32(b, 36, w);
	put32(b, 40, h);
	put32(b, 44, 1);
	put64(b, 48, offset);
	put32(b, 56, id);
	put32(b, 64, w * 4);
	return run(b, 72);
}

static void test_capsets(void)
{
	uint8_t b[32];
	uint32_t id, size;

	hdr(b, 32, VIRTIO_GPU_CMD_GET_CAPSET_INFO, 0);
	CHECK_EQ(run(b, 32), VIRTIO_GPU_RESP_OK_CAPSET_INFO);
	memcpy(&id, ram + next_buf - 64 - GPU_MAX_RESP + 24, 4);
	memcpy(&size, ram + next_buf - 64 - GPU_MAX_RESP + 32, 4);
	CHECK_EQ(le32toh(id), 2);		/* VIRGL2 first: context_init 0 is it */
	CHECK(le32toh(size) > 300);
	hdr(b, 32, VIRTIO_GPU_CMD_GET_CAPSET, 0);
	put32(b, 24, 2);
	put32(b, 28, 2);
	CHECK_EQ(run(b, 32), VIRTIO_GPU_RESP_OK_CAPSET);
}

static void test_clear_and_read_back(void)
{
	const float rgba[4] = { 1.0f, 0.5f, 0.25f, 1.0f };
	uint32_t dw[16], n = 0, fl[4];
	uint8_t b[96];

	memcpy(fl, rgba, sizeof(fl));
	hdr(b, 96, VIRTIO_GPU_CMD_CTX_CREATE, 1);
	CHECK_EQ(run(b, 96), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_3d(5, W, W), VIRTIO_GPU_RESP_OK_NODATA);
	hdr(b, 48, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, 0);
	put32(b, 24, 5);
	put32(b, 28, 1);
	put64(b, 32, IMAGE);
	put32(b, 40, W * W * 4);
	CHECK_EQ(run(b, 48), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(run_res(VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, 1, 5), VIRTIO_GPU_RESP_OK_NODATA);
	dw[n++] = VIRGL_CMD(CCMD_CREATE_OBJECT, OBJECT_SURFACE, 5);
	dw[n++] = 1;				/* surface handle */
	dw[n++] = 5;				/* resource */
	dw[n++] = FORMAT_R8G8B8A8_UNORM;
	dw[n++] = 0;				/* level 0 */
	dw[n++] = 0;				/* layers 0..0 */
	dw[n++] = VIRGL_CMD(CCMD_SET_FRAMEBUFFER_STATE, 0, 3);
	dw[n++] = 1;				/* one colour buffer */
	dw[n++] = 0;				/* no depth */
	dw[n++] = 1;
	CHECK_EQ(submit(1, dw, n, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	n = 0;
	dw[n++] = VIRGL_CMD(CCMD_CLEAR, 0, 8);
	dw[n++] = CLEAR_COLOR0;
	for (int i = 0; i < 4; i++)
		dw[n++] = fl[i];
	dw[n++] = 0;				/* depth: a double */
	dw[n++] = 0;
	dw[n++] = 0;				/* stencil */
	/* Fenced on the global timeline: answered once virgl's fence passed. */
	CHECK_EQ(submit(1, dw, n, VIRTIO_GPU_FLAG_FENCE, 7), VIRTIO_GPU_RESP_OK_NODATA);
	memset(ram + IMAGE, 0, W * W * 4);
	CHECK_EQ(transfer(VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, 1, 5, W, W, 0),
		 VIRTIO_GPU_RESP_OK_NODATA);
	for (unsigned i = 0; i < W * W; i++) {
		const uint8_t *px = ram + IMAGE + 4 * i;

		if (px[0] != 255 || px[1] < 127 || px[1] > 128 || px[2] < 63 || px[2] > 64 ||
		    px[3] != 255) {
			fprintf(stderr, "pixel %u: %u %u %u %u\n", i, px[0], px[1], px[2], px[3]);
			CHECK(false);
			break;
		}
	}
}

static void test_hostile(void)
{
	uint32_t junk[8] = { 0xffffffff, 0x12345678, 0, 0xdeadbeef, 7, 7, 7, 7 };

	CHECK(submit(1, junk, 8, 0, 0) >= VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(create_3d(6, 1u << 20, 1u << 20), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	CHECK_EQ(create_3d(6, 32768, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);	/* too wide */
	CHECK_EQ(create_3d(0, W, W), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* 16384 x 16384 x 4 bytes is 1 GiB, the device's whole budget with 5's. */
	CHECK_EQ(create_3d(6, 16384, 16384), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	CHECK_EQ(transfer(VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, 1, 99, W, W, 0),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK(transfer(VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, 1, 5, W, W, W * W * 4 - 4) >=
	      VIRTIO_GPU_RESP_ERR_UNSPEC);		/* past the backing */
	CHECK(transfer(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, 1, 5, W + 1, W, 0) >=
	      VIRTIO_GPU_RESP_ERR_UNSPEC);		/* outside the resource */
	CHECK_EQ(run_res(VIRTIO_GPU_CMD_RESOURCE_UNREF, 0, 5), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(run_res(VIRTIO_GPU_CMD_CTX_DESTROY, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
}

static bool start(const char *dir)
{
	struct gpu_config cfg = { .host_visible_size = 64ull << 20, .displays = 1, .width = 640,
				  .height = 480, .opengl = true };
	struct device_env env = { .vm_name = "t", .mem = &mem, .rundir_fd = -1, .command_fd = -1,
				  .vsock_fd = -1, .user_uid = getuid() };
	struct device_grant grant = { 0 };
	struct link_child_options opt = { .sandbox = true, .policy = &gpu_policy, .bind_dir = dir };
	struct vdev_vring ring;
	char err[256] = "";
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	CHECK_EQ(gpu_kind.create(&dev, "gpu0", &env, &cfg, &grant, err, sizeof(err)), 0);
	CHECK(dir_fd >= 0 && !sandbox_dir_id(dir_fd, &opt.bind_dir_id));
	close(dir_fd);
	opt.nofile = grant.nofile;
	opt.extra_policy = grant.extra_policy;
	opt.nproc = grant.nproc;
	opt.host_libs = grant.host_libs;
	memset(&lc, 0, sizeof(lc));
	next_buf = BUFS;
	if (link_child_start(&lc, &dev, &opt, err, sizeof(err))) {
		printf("SKIP: the GPU process does not start: %s\n", err);
		return false;
	}
	vdev_link_subscribe(&lc.link, &events, NULL);
	fake_vq_init(&ctrl, ram, CTRL_RING, GPU_QUEUE_SIZE);
	fake_vq_init(&cursor, ram, CURSOR_RING, 16);
	ring = fake_vq_ring(&ctrl);
	CHECK_EQ(lc.link.ops->set_vring(&lc.link, GPU_QUEUE_CTRL, &ring), 0);
	ring = fake_vq_ring(&cursor);
	CHECK_EQ(lc.link.ops->set_vring(&lc.link, GPU_QUEUE_CURSOR, &ring), 0);
	CHECK_EQ(lc.link.ops->activate(&lc.link, lc.link.features), 0);
	return true;
}

int main(void)
{
	char dir[] = "/tmp/test-gpu-virgl-XXXXXX";
	int ram_fd = memfd_create("test-gpu-virgl-ram", MFD_CLOEXEC);

	CHECK(ram_fd >= 0 && !ftruncate(ram_fd, RAM));
	ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
	CHECK(ram != MAP_FAILED);
	guest_mem_layout(&mem, ram, RAM);
	CHECK(mkdtemp(dir) && !chdir(dir));
	if (start(dir)) {
		test_capsets();
		test_clear_and_read_back();
		test_hostile();
		CHECK(!lc.dead);
		CHECK(!needs_reset);
		lc.link.ops->stop(&lc.link);
		vdev_destroy(&dev);
	}
	CHECK(!chdir("/") && !rmdir(dir));
	munmap(ram, RAM);
	close(ram_fd);
	return check_report("test_gpu_virgl");
}
