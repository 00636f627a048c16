/*
 * virgl in the real GPU process (jail with the host's /usr, seccomp
 * enforcing, gpu_virgl_policy): virglrenderer starts on surfaceless EGL
 * (llvmpipe here), the capsets VIRGL2 and VIRGL are offered, a context
 * made with context_init 0 is virgl's, a 16x16 RGBA render target is
 * cleared by a virgl command stream and read back through the guest's
 * backing pixel-exact, a fenced command waits for virgl's fence, no
 * persistent buffer mappings are offered and a HOST3D blob that would
 * need one is refused; then
 * hostile input (garbage stream, unknown ids, huge sizes, a transfer
 * past the backing) gets errors and the process lives. Prints SKIP when
 * the jail cannot be made (no root, no user namespaces).
 */
#include <stdio.h>

#include "tests/unit/gpu_child.h"

#define VIRGL_CMD(cmd, obj, len) ((uint32_t)(cmd) | (uint32_t)(obj) << 8 | (uint32_t)(len) << 16)
#define CCMD_CREATE_OBJECT 1
#define CCMD_SET_FRAMEBUFFER_STATE 5
#define CCMD_CLEAR 7
#define CCMD_PIPE_RESOURCE_CREATE 48
#define OBJECT_SURFACE 8
#define FORMAT_R8G8B8A8_UNORM 67
#define PIPE_TEXTURE_2D 2
#define BIND_RENDER_TARGET (1u << 1)
#define BIND_VERTEX_BUFFER (1u << 4)
#define RESOURCE_FLAG_MAP_PERSISTENT (1u << 1)
#define RESOURCE_FLAG_MAP_COHERENT (1u << 2)
#define FORMAT_R8_UNORM 64
#define CAPS_V2_CAPABILITY_BITS 392	/* virgl_caps_v2's, after v1's 308 bytes */
#define CAP_ARB_BUFFER_STORAGE (1u << 31)
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
	/* Persistent buffer mappings would live in virglrenderer's memory: not offered. */
	memcpy(&id, ram + next_buf - 64 - GPU_MAX_RESP + 24 + CAPS_V2_CAPABILITY_BITS, 4);
	CHECK(le32toh(id) != 0);
	CHECK(!(le32toh(id) & CAP_ARB_BUFFER_STORAGE));
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

static uint32_t create_host3d_blob(uint32_t ctx, uint32_t id, uint64_t blob_id, uint64_t size)
{
	uint8_t b[56];

	hdr(b, sizeof(b), VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB, ctx);
	put32(b, 24, id);
	put32(b, 28, VIRTIO_GPU_BLOB_MEM_HOST3D);
	put32(b, 32, VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE);
	put64(b, 40, blob_id);
	put64(b, 48, size);
	return run(b, sizeof(b));
}

/*
 * A guest that asks for a coherent buffer anyway (as Mesa would with
 * ARB_buffer_storage): the stream makes it, the blob is refused because
 * its memory cannot reach the VMM, and virglrenderer lets go of it.
 */
static void test_host3d_blob(void)
{
	uint32_t dw[12] = { VIRGL_CMD(CCMD_PIPE_RESOURCE_CREATE, 0, 11), 0, FORMAT_R8_UNORM,
			    BIND_VERTEX_BUFFER, 65536, 1, 1, 1, 0, 0,
			    RESOURCE_FLAG_MAP_PERSISTENT | RESOURCE_FLAG_MAP_COHERENT, 9 };

	CHECK_EQ(submit(1, dw, 12, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(create_host3d_blob(1, 20, 9, 65536), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_host3d_blob(1, 20, 9, 65536), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_host3d_blob(1, 21, 1234, 4096), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_host3d_blob(0, 22, 9, 4096), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	CHECK_EQ(run_res(VIRTIO_GPU_CMD_RESOURCE_UNREF, 0, 20), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
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

	return gpu_child_start(dir, &cfg, NULL);
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
		test_host3d_blob();
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
