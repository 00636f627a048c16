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
#include "tests/unit/gpu_child.h"

#define FAKE_CAPSET 9

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

static bool start_wx(const char *dir)
{
	struct gpu_config cfg = { .host_visible_size = 64ull << 20, .displays = 1, .width = 640,
				  .height = 480, .allow_wx = true };

	return gpu_child_start(dir, &cfg, &fake_type);
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
	if (gpu_child_start(dir, NULL, &fake_type)) {
		test_2d_and_screenshot();
		test_blob_map_fence();
		CHECK(!lc.dead);
		CHECK(!needs_reset);
		lc.link.ops->stop(&lc.link);
		vdev_destroy(&dev);	/* the VMM's copy of the model */
		if (start_wx(dir))
			test_wx();
	}
	unlink("gpu0-scanout0.ppm");
	CHECK(!chdir("/") && !rmdir(dir));
	munmap(ram, RAM);
	close(ram_fd);
	return check_report("test_gpu_jail");
}
