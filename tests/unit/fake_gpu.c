/* The fake of gpu.c's side of devices/gpu_ctx.h: see fake_gpu.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/vdev.h"
#include "fake_gpu.h"

#define MAX_CTX 64

struct gpu_resource {
	uint32_t id;
	uint64_t size;
	uint8_t *backing;
	int host_fd;
	struct gpu_ctx *attached[MAX_CTX];
};

struct gpu {
	struct vdev vdev;
	bool wayland, dmabuf;
	int refuse;
	int preset_fd, preset_peer;
	const char *path;
	struct gpu_resource *res[FAKE_GPU_MAX_RES];
	unsigned nr_res;
	struct gpu_ctx *ctx[MAX_CTX];
	int peers[FAKE_GPU_MAX_CONNS];
	unsigned nr_conns;
	struct fake_fence fences[FAKE_GPU_MAX_FENCES];
	unsigned nr_fences;
};

struct fake_watch {
	int fd;
	uint32_t events;
	vdev_fd_cb cb;
	void *arg;
	struct vdev *dev;
};

static struct fake_watch watches[VDEV_MAX_WATCHES];
static bool watches_ready;

static void init_watches(void)
{
	if (watches_ready)
		return;
	for (unsigned i = 0; i < VDEV_MAX_WATCHES; i++)
		watches[i].fd = -1;
	watches_ready = true;
}

struct gpu *fake_gpu_new(bool wayland, bool dmabuf)
{
	struct gpu *gpu = calloc(1, sizeof(*gpu));

	init_watches();
	gpu->wayland = wayland;
	gpu->dmabuf = dmabuf;
	gpu->vdev.name = "fake-gpu";
	gpu->preset_fd = -1;
	return gpu;
}

void fake_gpu_free(struct gpu *gpu)
{
	for (unsigned i = 0; i < MAX_CTX; i++)
		if (gpu->ctx[i])
			fake_ctx_free(gpu->ctx[i]);
	for (unsigned i = 0; i < gpu->nr_res; i++) {
		if (gpu->res[i]->host_fd >= 0)
			close(gpu->res[i]->host_fd);
		free(gpu->res[i]->backing);
		free(gpu->res[i]);
	}
	for (unsigned i = 0; i < gpu->nr_conns; i++)
		if (gpu->peers[i] >= 0)
			close(gpu->peers[i]);
	free(gpu);
}

void fake_gpu_refuse_connect(struct gpu *gpu, int err)
{
	gpu->refuse = err;
}

void fake_gpu_preset_connection(struct gpu *gpu, int fd, int peer)
{
	gpu->preset_fd = fd;
	gpu->preset_peer = peer;
}

void fake_gpu_connect_path(struct gpu *gpu, const char *path)
{
	gpu->path = path;
}

static int connect_path(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int fake_gpu_compositor(struct gpu *gpu, unsigned n)
{
	return n < gpu->nr_conns ? gpu->peers[n] : -1;
}

unsigned fake_gpu_connections(struct gpu *gpu)
{
	return gpu->nr_conns;
}

struct gpu_ctx *fake_ctx_new(struct gpu *gpu, uint32_t id, const struct gpu_ctx_type *type)
{
	struct gpu_ctx *ctx = calloc(1, sizeof(*ctx));

	*ctx = (struct gpu_ctx){ .gpu = gpu, .id = id, .type = type };
	if (type->create(ctx)) {
		free(ctx);
		return NULL;
	}
	for (unsigned i = 0; i < MAX_CTX; i++) {
		if (!gpu->ctx[i]) {
			gpu->ctx[i] = ctx;
			break;
		}
	}
	return ctx;
}

void fake_ctx_free(struct gpu_ctx *ctx)
{
	struct gpu *gpu = ctx->gpu;

	ctx->type->destroy(ctx);
	for (unsigned i = 0; i < MAX_CTX; i++)
		if (gpu->ctx[i] == ctx)
			gpu->ctx[i] = NULL;
	for (unsigned i = 0; i < gpu->nr_res; i++)
		for (unsigned j = 0; j < MAX_CTX; j++)
			if (gpu->res[i]->attached[j] == ctx)
				gpu->res[i]->attached[j] = NULL;
	free(ctx);
}

static struct gpu_resource *res_new(struct gpu *gpu, uint32_t id, uint64_t size)
{
	struct gpu_resource *res;

	if (gpu->nr_res >= FAKE_GPU_MAX_RES)
		abort();
	res = calloc(1, sizeof(*res));
	res->id = id;
	res->size = size;
	res->host_fd = -1;
	gpu->res[gpu->nr_res++] = res;
	return res;
}

struct gpu_resource *fake_res_guest(struct gpu *gpu, uint32_t id, size_t size)
{
	struct gpu_resource *res = res_new(gpu, id, size);

	res->backing = calloc(1, size);
	return res;
}

struct gpu_resource *fake_res_no_backing(struct gpu *gpu, uint32_t id, size_t size)
{
	return res_new(gpu, id, size);
}

struct gpu_resource *fake_res_host(struct gpu *gpu, uint32_t id, int fd, uint64_t size)
{
	struct gpu_resource *res = res_new(gpu, id, size);

	res->host_fd = fd;
	return res;
}

void fake_res_attach(struct gpu_resource *res, struct gpu_ctx *ctx)
{
	for (unsigned i = 0; i < MAX_CTX; i++) {
		if (!res->attached[i]) {
			res->attached[i] = ctx;
			return;
		}
	}
}

void fake_res_detach(struct gpu_resource *res, struct gpu_ctx *ctx)
{
	for (unsigned i = 0; i < MAX_CTX; i++)
		if (res->attached[i] == ctx)
			res->attached[i] = NULL;
	if (ctx->type->detach)
		ctx->type->detach(ctx, res->id);
}

uint8_t *fake_res_data(struct gpu_resource *res)
{
	return res->backing;
}

unsigned fake_gpu_fences(struct gpu *gpu, const struct fake_fence **fences)
{
	*fences = gpu->fences;
	return gpu->nr_fences;
}

/* ---- devices/gpu_ctx.h ---- */

struct vdev *gpu_vdev(struct gpu *gpu)
{
	return &gpu->vdev;
}

bool gpu_wayland_enabled(const struct gpu *gpu)
{
	return gpu->wayland;
}

bool gpu_supports_dmabuf(const struct gpu *gpu)
{
	return gpu->dmabuf;
}

int gpu_host_connect(struct gpu *gpu)
{
	int sv[2];

	if (gpu->refuse)
		return -gpu->refuse;
	if (gpu->nr_conns >= FAKE_GPU_MAX_CONNS)
		return -EMFILE;
	if (gpu->path) {
		int fd = connect_path(gpu->path);

		if (fd >= 0)
			gpu->peers[gpu->nr_conns++] = -1;
		return fd;
	}
	if (gpu->preset_fd >= 0) {
		int fd = gpu->preset_fd;

		gpu->preset_fd = -1;
		gpu->peers[gpu->nr_conns++] = gpu->preset_peer;
		return fd;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	/* The device's end non-blocking, as gpu.c makes it. */
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK)) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	gpu->peers[gpu->nr_conns++] = sv[1];
	return sv[0];
}

struct gpu_resource *gpu_ctx_resource(struct gpu_ctx *ctx, uint32_t res_id)
{
	struct gpu *gpu = ctx->gpu;

	for (unsigned i = 0; i < gpu->nr_res; i++) {
		if (gpu->res[i]->id != res_id)
			continue;
		for (unsigned j = 0; j < MAX_CTX; j++)
			if (gpu->res[i]->attached[j] == ctx)
				return gpu->res[i];
	}
	return NULL;
}

int gpu_res_write(struct gpu_resource *res, uint64_t off, const void *buf, size_t len)
{
	if (!res->backing || off > res->size || len > res->size - off)
		return -EINVAL;
	memcpy(res->backing + off, buf, len);
	return 0;
}

int gpu_res_read(struct gpu_resource *res, uint64_t off, void *buf, size_t len)
{
	if (!res->backing || off > res->size || len > res->size - off)
		return -EINVAL;
	memcpy(buf, res->backing + off, len);
	return 0;
}

uint64_t gpu_res_size(const struct gpu_resource *res)
{
	return res->size;
}

int gpu_res_host_fd(const struct gpu_resource *res)
{
	return res->host_fd;
}

void gpu_fence_signal(struct gpu_ctx *ctx, uint8_t ring_idx, uint64_t fence_id)
{
	struct gpu *gpu = ctx->gpu;

	if (gpu->nr_fences < FAKE_GPU_MAX_FENCES)
		gpu->fences[gpu->nr_fences++] = (struct fake_fence){ ctx->id, ring_idx, fence_id };
}

/* ---- devices/vdev.h: the loop's fd watches ---- */

int vdev_watch_fd(struct vdev *dev, int fd, uint32_t events, vdev_fd_cb cb, void *arg)
{
	init_watches();
	if (fd < 0 || !cb)
		return -EINVAL;
	for (unsigned i = 0; i < VDEV_MAX_WATCHES; i++) {
		if (watches[i].fd >= 0)
			continue;
		watches[i] = (struct fake_watch){ fd, events, cb, arg, dev };
		return (int)i;
	}
	return -ENOSPC;
}

int vdev_unwatch_fd(struct vdev *dev, int id)
{
	if (id < 0 || id >= VDEV_MAX_WATCHES || watches[id].fd < 0)
		return -EINVAL;
	watches[id].fd = -1;
	return 0;
}

unsigned fake_gpu_watches(void)
{
	unsigned n = 0;

	init_watches();
	for (unsigned i = 0; i < VDEV_MAX_WATCHES; i++)
		n += watches[i].fd >= 0;
	return n;
}

int fake_gpu_pump(int timeout_ms)
{
	struct pollfd pfd[VDEV_MAX_WATCHES];
	unsigned idx[VDEV_MAX_WATCHES], n = 0;
	int ran = 0;

	init_watches();
	for (unsigned i = 0; i < VDEV_MAX_WATCHES; i++) {
		if (watches[i].fd < 0)
			continue;
		pfd[n] = (struct pollfd){ .fd = watches[i].fd, .events = (short)watches[i].events };
		idx[n++] = i;
	}
	if (poll(pfd, n, timeout_ms) <= 0)
		return 0;
	for (unsigned k = 0; k < n; k++) {
		struct fake_watch *w = &watches[idx[k]];

		if (!pfd[k].revents || w->fd != pfd[k].fd)
			continue;
		w->cb(w->dev, w->fd, (uint32_t)pfd[k].revents, w->arg);
		ran++;
	}
	return ran;
}
