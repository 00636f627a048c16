/*
 * The GPU model in the real jail under gpu_policy (link_child_start: real
 * loop, seccomp enforcing, the working directory bound in as the runtime
 * directory is): the commands whose syscalls the policy must allow run
 * and the process survives them: display info, a 2D image transferred
 * and written as a screenshot (openat, renameat), ASSIGN_UUID
 * (getrandom), a host blob from a fake context type (memfd_create,
 * ftruncate, F_ADD_SEALS) mapped through the VMM (fstat, F_GETFL, the fd
 * passed with sendmsg) and unmapped, a fence parked then returned by
 * CTX_DESTROY. With allow_wx the instance's extra rules join the kind's
 * and W+X memory can be made. Needs root or unprivileged user namespaces;
 * prints SKIP otherwise.
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
#define FAKE_CAPSET 9
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

/* ---- in the device process: a context type that makes host blobs ---- */

static void fake_capset(struct gpu *gpu, uint32_t version, void *buf)
{
	(void)gpu, (void)version;
	memset(buf, 0xa5, 16);
}

static int fake_create(struct gpu_ctx *ctx)
{
	(void)ctx;
	return 0;
}

static void fake_destroy(struct gpu_ctx *ctx)
{
	(void)ctx;
}

/* "X": make a page writable and executable (allow_wx only). */
static uint32_t fake_submit(struct gpu_ctx *ctx, const uint8_t *cmd, uint32_t len)
{
	void *p;

	(void)ctx;
	if (!len || cmd[0] != 'X')
		return 0;
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	munmap(p, PAGE);
	return 0;
}

static bool fake_fence(struct gpu_ctx *ctx, uint8_t ring_idx, uint64_t fence_id)
{
	(void)ctx, (void)fence_id;
	return ring_idx != 1;
}

static uint32_t fake_create_blob(struct gpu_ctx *ctx, uint64_t blob_id, uint64_t size,
				 uint32_t blob_flags, int *fd, uint32_t *map_info)
{
	int mfd = memfd_create("gpu-blob", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	(void)ctx, (void)blob_id, (void)blob_flags;
	if (mfd < 0 || ftruncate(mfd, (off_t)size) ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW)) {
		if (mfd >= 0)
			close(mfd);
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	*fd = mfd;
	*map_info = VIRTIO_GPU_MAP_CACHE_CACHED;
	return 0;
}

static const struct gpu_ctx_type fake_type = {
	.name = "fake", .capset_id = FAKE_CAPSET, .capset_size = 16, .capset = fake_capset,
	.create = fake_create, .destroy = fake_destroy, .submit = fake_submit,
	.fence = fake_fence, .create_blob = fake_create_blob,
};

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

static void test_2d_and_screenshot(void)
{
	struct gpu_cmd c = { htole32(GPU_CMD_SCREENSHOT), 0 };
	struct gpu_cmd_reply r;
	unsigned len = sizeof(r);
	uint8_t b[56];
	struct stat st;

	hdr(b, 24, VIRTIO_GPU_CMD_GET_DISPLAY_INFO, 0);
	CHECK_EQ(run(b, 24), VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	hdr(b, 40, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 0);
	put32(b, 24, 1);
	put32(b, 28, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
	put32(b, 32, 16);
	put32(b, 36, 16);
	CHECK_EQ(run(b, 40), VIRTIO_GPU_RESP_OK_NODATA);
	hdr(b, 48, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, 0);
	put32(b, 24, 1);
	put32(b, 28, 1);
	put64(b, 32, IMAGE);
	put32(b, 40, 16 * 16 * 4);
	CHECK_EQ(run(b, 48), VIRTIO_GPU_RESP_OK_NODATA);
	memset(ram + IMAGE, 0x7f, 16 * 16 * 4);
	hdr(b, 56, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 0);
	put32(b, 32, 16);
	put32(b, 36, 16);
	put32(b, 48, 1);
	CHECK_EQ(run(b, 56), VIRTIO_GPU_RESP_OK_NODATA);
	hdr(b, 48, VIRTIO_GPU_CMD_SET_SCANOUT, 0);
	put32(b, 32, 16);
	put32(b, 36, 16);
	put32(b, 44, 1);
	CHECK_EQ(run(b, 48), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(lc.link.ops->command(&lc.link, &c, sizeof(c), &r, &len), 0);
	CHECK_EQ(le32toh(r.width), 16);
	CHECK(!stat("gpu0-scanout0.ppm", &st) && st.st_size == 13 + 16 * 16 * 3);
	CHECK_EQ(run_res(VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID, 0, 1), VIRTIO_GPU_RESP_OK_RESOURCE_UUID);
	/* A framebuffer-sized host copy: large allocations are freed differently. */
	hdr(b, 40, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 0);
	put32(b, 24, 3);
	put32(b, 28, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
	put32(b, 32, 1024);
	put32(b, 36, 768);
	CHECK_EQ(run(b, 40), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(run_res(VIRTIO_GPU_CMD_RESOURCE_UNREF, 0, 3), VIRTIO_GPU_RESP_OK_NODATA);
}

static void test_blob_map_fence(void)
{
	uint8_t b[96];

	hdr(b, 96, VIRTIO_GPU_CMD_CTX_CREATE, 1);
	put32(b, 28, FAKE_CAPSET);
	CHECK_EQ(run(b, 96), VIRTIO_GPU_RESP_OK_NODATA);
	hdr(b, 56, VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB, 1);
	put32(b, 24, 2);
	put32(b, 28, VIRTIO_GPU_BLOB_MEM_HOST3D);
	put32(b, 32, VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE);
	put64(b, 40, 1);
	put64(b, 48, 2 * PAGE);
	CHECK_EQ(run(b, 56), VIRTIO_GPU_RESP_OK_NODATA);
	hdr(b, 40, VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB, 0);
	put32(b, 24, 2);
	put64(b, 32, 0x100000);
	CHECK_EQ(run(b, 40), VIRTIO_GPU_RESP_OK_MAP_INFO);
	CHECK_EQ(maps, 1);
	CHECK_EQ(run_res(VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB, 0, 2), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(unmaps, 1);

	/* A fence on ring 1 parks the chain; destroying the context returns it. */
	hdr(b, 40, VIRTIO_GPU_CMD_SUBMIT_3D, 1);
	put32(b, 4, VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX);
	put64(b, 8, 1);
	b[20] = 1;
	put32(b, 24, 8);
	post(b, 40);
	hdr(b, 24, VIRTIO_GPU_CMD_CTX_DESTROY, 1);
	post(b, 24);
	CHECK(serve_until((uint16_t)(ctrl.used_seen + 2)));
	CHECK_EQ(fake_vq_pending(&ctrl), 2);
}

static void test_wx(void)
{
	uint8_t b[96];

	hdr(b, 96, VIRTIO_GPU_CMD_CTX_CREATE, 1);
	put32(b, 28, FAKE_CAPSET);
	CHECK_EQ(run(b, 96), VIRTIO_GPU_RESP_OK_NODATA);
	hdr(b, 33, VIRTIO_GPU_CMD_SUBMIT_3D, 1);
	put32(b, 24, 1);
	b[32] = 'X';
	CHECK_EQ(run(b, 33), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK(!lc.dead);
	CHECK(!needs_reset);
	lc.link.ops->stop(&lc.link);
	vdev_destroy(&dev);
}

static bool start(const char *dir, bool allow_wx)
{
	struct gpu_config cfg = { .host_visible_size = 64ull << 20, .displays = 1, .width = 640,
				  .height = 480, .allow_wx = allow_wx };
	struct device_env env = { .vm_name = "t", .mem = &mem, .rundir_fd = -1, .command_fd = -1,
				  .vsock_fd = -1, .user_uid = getuid() };
	struct device_grant grant = { 0 };
	struct link_child_options opt = { .sandbox = true, .policy = &gpu_policy, .bind_dir = dir };
	struct vdev_vring ring;
	char err[256] = "";
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	CHECK_EQ(gpu_kind.create(&dev, "gpu0", &env, &cfg, &grant, err, sizeof(err)), 0);
	CHECK_EQ(gpu_add_ctx_type(dev.priv, &fake_type), 0);
	CHECK(dir_fd >= 0 && !sandbox_dir_id(dir_fd, &opt.bind_dir_id));
	close(dir_fd);
	opt.nofile = grant.nofile;
	opt.extra_policy = grant.extra_policy;
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
	char dir[] = "/tmp/test-gpu-jail-XXXXXX";
	int ram_fd = memfd_create("test-gpu-jail-ram", MFD_CLOEXEC);

	CHECK(ram_fd >= 0 && !ftruncate(ram_fd, RAM));
	ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
	CHECK(ram != MAP_FAILED);
	guest_mem_layout(&mem, ram, RAM);
	CHECK(mkdtemp(dir) && !chdir(dir));
	if (start(dir, false)) {
		test_2d_and_screenshot();
		test_blob_map_fence();
		CHECK(!lc.dead);
		CHECK(!needs_reset);
		lc.link.ops->stop(&lc.link);
		vdev_destroy(&dev);	/* the VMM's copy of the model */
		if (start(dir, true))
			test_wx();
	}
	unlink("gpu0-scanout0.ppm");
	CHECK(!chdir("/") && !rmdir(dir));
	munmap(ram, RAM);
	close(ram_fd);
	return check_report("test_gpu_jail");
}
