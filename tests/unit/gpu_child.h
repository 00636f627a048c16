/*
 * The GPU model in its real jail, driven the way the VMM and a guest
 * would: guest RAM in a memfd, fake ctrl and cursor rings, the link's
 * events, commands posted and their answers awaited. Shared by the
 * tests of the GPU process (test_gpu_jail, test_gpu_virgl); one device
 * per test program, so the state is the program's.
 */
#ifndef VMSILO_TESTS_GPU_CHILD_H
#define VMSILO_TESTS_GPU_CHILD_H

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

__attribute__((unused)) static void put32(uint8_t *p, size_t off, uint32_t v)
{
	v = htole32(v);
	memcpy(p + off, &v, 4);
}

__attribute__((unused)) static void put64(uint8_t *p, size_t off, uint64_t v)
{
	v = htole64(v);
	memcpy(p + off, &v, 8);
}

__attribute__((unused)) static void hdr(uint8_t *b, size_t len, uint32_t type, uint32_t ctx)
{
	memset(b, 0, len);
	put32(b, 0, type);
	put32(b, 16, ctx);
}

/* The VMM's main loop for this link, and the guest's interrupt, until
 * the device used n ctrl chains in all. */
__attribute__((unused)) static bool serve_until(uint16_t n)
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
__attribute__((unused)) static uint64_t post(const uint8_t *cmd, uint32_t len)
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
__attribute__((unused)) static uint32_t run(const uint8_t *cmd, uint32_t len)
{
	uint64_t resp = post(cmd, len);
	uint32_t type;

	if (!serve_until((uint16_t)(ctrl.used_seen + 1)))
		return 0;
	fake_vq_take(&ctrl);
	memcpy(&type, ram + resp, 4);
	return le32toh(type);
}

__attribute__((unused)) static uint32_t run_res(uint32_t type, uint32_t ctx, uint32_t id)
{
	uint8_t b[32];

	hdr(b, sizeof(b), type, ctx);
	put32(b, 24, id);
	return run(b, sizeof(b));
}

/*
 * The GPU model of cfg (NULL: 2D, 640x480, a 64 MiB window) started in
 * its real jail with the runtime directory dir, extra (if not NULL)
 * enabled in it first; the rings set and the device active. false after
 * a SKIP line when the jail cannot be made here.
 */
__attribute__((unused)) static bool gpu_child_start(const char *dir, const struct gpu_config *cfg,
			    const struct gpu_ctx_type *extra)
{
	struct gpu_config def = { .host_visible_size = 64ull << 20, .displays = 1, .width = 640,
				  .height = 480 };
	struct device_env env = { .vm_name = "t", .mem = &mem, .rundir_fd = -1, .command_fd = -1,
				  .vsock_fd = -1, .user_uid = getuid() };
	struct device_grant grant = { 0 };
	struct link_child_options opt = { .sandbox = true, .policy = &gpu_policy, .bind_dir = dir };
	struct vdev_vring ring;
	char err[256] = "";
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	CHECK_EQ(gpu_kind.create(&dev, "gpu0", &env, cfg ? cfg : &def, &grant, err, sizeof(err)), 0);
	if (extra)
		CHECK_EQ(gpu_add_ctx_type(dev.priv, extra), 0);
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

#endif
