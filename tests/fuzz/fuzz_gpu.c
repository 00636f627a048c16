/*
 * libFuzzer harness for virtio-gpu (devices/gpu*.c) driven through its
 * ctrl and cursor queues: descriptor tables, avail rings and every
 * command's bytes are the fuzzer's. A fake context type (capset 9) makes
 * host blobs from memfds and parks fences on ring 1; the host side's
 * bytes signal those fences and take screenshots between the device's
 * turns. The VMM's side of map requests checks what the device asks:
 * page-aligned, inside the window, never over a live mapping, unmaps
 * only of what is mapped. Every used entry fits a response.
 *
 * Input: fuzz_driver.h; features bit 0: 2D only (no context type), bits
 * 1-2: displays - 1. Host bytes: pairs (op, arg): op & 3 == 0 signals
 * fence arg on ring 1 of context (op >> 2) % 4; op == 0xff screenshots
 * scanout arg.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_gpu.h>
#include <linux/virtio_ring.h>

#include "devices/gpu_internal.h"
#include "tests/fuzz/fuzz_driver.h"
#include "vmm/log.h"

#define WINDOW (64ull << 20)
#define PAGE 4096u
#define MAX_MAPS 64
#define NR_CTX 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_driver d;
static struct gpu_ctx *ctxs[NR_CTX];
static struct { uint64_t offset, size; bool used; } maps[MAX_MAPS];
static unsigned map_calls;
static size_t host_off;

static void fake_capset(struct gpu *gpu, uint32_t version, void *buf)
{
	(void)gpu, (void)version;
	memset(buf, 0x5a, 16);
}

static int fake_create(struct gpu_ctx *ctx)
{
	ctxs[ctx->id % NR_CTX] = ctx;
	return ctx->id % 7 == 6 ? -EIO : 0;
}

static void fake_destroy(struct gpu_ctx *ctx)
{
	if (ctxs[ctx->id % NR_CTX] == ctx)
		ctxs[ctx->id % NR_CTX] = NULL;
}

/* The first byte picks what a type does with its resources: write, read. */
static uint32_t fake_submit(struct gpu_ctx *ctx, const uint8_t *cmd, uint32_t len)
{
	struct gpu_resource *res;
	uint32_t id;
	uint8_t buf[64];

	if (len < 9)
		return len ? VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER : 0;
	memcpy(&id, cmd + 1, 4);
	res = gpu_ctx_resource(ctx, id);
	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (cmd[0] & 1)
		return gpu_res_write(res, cmd[5], cmd + 9, len - 9 < 64 ? len - 9 : 64) ?
		       VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER : 0;
	return gpu_res_read(res, cmd[5], buf, cmd[6] % sizeof(buf)) ?
	       VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER : 0;
}

static bool fake_fence(struct gpu_ctx *ctx, uint8_t ring_idx, uint64_t fence_id)
{
	(void)ctx, (void)fence_id;
	return ring_idx != 1;
}

static uint32_t fake_create_blob(struct gpu_ctx *ctx, uint64_t blob_id, uint64_t size,
				 uint32_t blob_flags, int *fd, uint32_t *map_info)
{
	int mfd = memfd_create("fuzz-blob", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	(void)ctx, (void)blob_flags;
	if (mfd < 0 || ftruncate(mfd, (off_t)((size + PAGE - 1) / PAGE * PAGE)) ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		if (mfd >= 0)
			close(mfd);
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	*fd = mfd;
	*map_info = (uint32_t)blob_id;
	return 0;
}

static void fake_detach(struct gpu_ctx *ctx, uint32_t res_id)
{
	(void)ctx, (void)res_id;
}

static const struct gpu_ctx_type fake_type = {
	.name = "fake", .capset_id = 9, .capset_max_version = 1, .capset_size = 16,
	.capset = fake_capset, .create = fake_create, .destroy = fake_destroy,
	.submit = fake_submit, .fence = fake_fence, .create_blob = fake_create_blob,
	.detach = fake_detach,
};

/* ---- the VMM's side of map requests ---- */

static int on_map(void *ctx, uint8_t id, uint64_t offset, int fd, uint64_t fd_offset,
		  uint64_t size, uint32_t prot)
{
	int slot = -1;

	(void)ctx, (void)fd, (void)prot;
	if (id != GPU_SHM_ID_HOST_VISIBLE || fd_offset || !size || (offset | size) % PAGE ||
	    offset > WINDOW || size > WINDOW - offset)
		abort();
	for (int i = 0; i < MAX_MAPS; i++) {
		if (maps[i].used && offset < maps[i].offset + maps[i].size &&
		    maps[i].offset < offset + size)
			abort();	/* over a live mapping */
		if (!maps[i].used && slot < 0)
			slot = i;
	}
	if (slot < 0)
		abort();		/* the device keeps fewer than the VMM allows */
	if (++map_calls % 5 == 0)
		return -ENOSPC;		/* the VMM says no now and then */
	maps[slot].offset = offset;
	maps[slot].size = size;
	maps[slot].used = true;
	return 0;
}

static int on_unmap(void *ctx, uint8_t id, uint64_t offset)
{
	(void)ctx;
	for (int i = 0; i < MAX_MAPS; i++)
		if (maps[i].used && maps[i].offset == offset && id == GPU_SHM_ID_HOST_VISIBLE) {
			maps[i].used = false;
			return 0;
		}
	abort();			/* an unmap of nothing the device mapped */
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

/* ---- the host's turn: fences and screenshots ---- */

static void host_turn(struct fuzz_driver *drv)
{
	uint8_t op, arg;

	if (host_off + 2 > drv->host_len)
		return;
	op = drv->host[host_off];
	arg = drv->host[host_off + 1];
	host_off += 2;
	if (op == 0xff) {
		struct gpu_cmd c = { GPU_CMD_SCREENSHOT, arg % 3 };
		struct gpu_cmd_reply r;
		unsigned len = sizeof(r);

		(void)link_local_command(&drv->ll, &c, sizeof(c), &r, &len);
	} else if (!(op & 3) && ctxs[(op >> 2) % NR_CTX]) {
		gpu_fence_signal(ctxs[(op >> 2) % NR_CTX], 1, arg);
	}
}

/* Every used entry names a descriptor and fits a response. */
static void check_used(const struct fuzz_driver_hdr *hdr)
{
	for (unsigned q = 0; q < 2; q++) {
		const struct vring_used *used = (const void *)(d.ram + FUZZ_RING(q) + 0x1400);
		uint16_t qsize = (uint16_t)(1u << hdr->qsize_log[q] % 9), n = used->idx;

		for (uint16_t i = 0; i < n && i < qsize; i++)
			if (used->ring[i].id >= qsize || used->ring[i].len > GPU_MAX_RESP)
				abort();
	}
}

static void setup(void)
{
	char dir[] = "/tmp/fuzz_gpu.XXXXXX";

	if (!mkdtemp(dir) || chdir(dir))	/* screenshots land here */
		abort();
	log_set_level(LOG_ERROR);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct fuzz_driver_hdr hdr;
	struct gpu_config cfg = { .host_visible_size = WINDOW, .width = 64, .height = 32 };
	struct device_env env = { .vm_name = "fuzz", .mem = &d.mem, .ram_bytes = FUZZ_RAM,
				  .rundir_fd = -1, .command_fd = -1, .vsock_fd = -1 };
	struct device_grant grant = { 0 };
	char err[160];

	if (!ready)
		setup();
	ready = true;
	if (!fuzz_driver_input(&d, data, size, &hdr))
		return 0;
	cfg.displays = 1 + (hdr.features >> 1 & 3);
	if (gpu_kind.create(&d.dev, "gpu0", &env, &cfg, &grant, err, sizeof(err)))
		abort();
	if (!(hdr.features & 1) && gpu_add_ctx_type(d.dev.priv, &fake_type))
		abort();
	memset(maps, 0, sizeof(maps));
	memset(ctxs, 0, sizeof(ctxs));
	host_off = 0;
	d.host_turn = host_turn;
	if (!fuzz_driver_start(&d, &hdr, ~0ull)) {
		vdev_link_subscribe(&d.ll.link, &events, NULL);	/* before any notify */
		fuzz_driver_run(&d, 64);
		while (host_off + 2 <= d.host_len)	/* the rest of the host's turns */
			fuzz_driver_run(&d, 4), host_turn(&d);
		check_used(&hdr);
	}
	fuzz_driver_stop(&d);
	return 0;
}
