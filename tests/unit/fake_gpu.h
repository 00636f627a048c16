/*
 * A fake of what gpu.c gives context types (devices/gpu_ctx.h), for
 * running a type alone: resources with guest-like backing in malloc'ed
 * memory or a host fd, attached to contexts by the test; host connections
 * that are socketpairs whose other end the test plays the compositor on;
 * fences recorded; and the device loop's fd watches (vdev_watch_fd) run
 * by fake_gpu_pump().
 */
#ifndef VMSILO_FAKE_GPU_H
#define VMSILO_FAKE_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/gpu_ctx.h"

#define FAKE_GPU_MAX_RES	64
#define FAKE_GPU_MAX_CONNS	64
#define FAKE_GPU_MAX_FENCES	4096

struct fake_fence {
	uint32_t ctx_id;
	uint8_t ring;
	uint64_t fence_id;
};

struct gpu *fake_gpu_new(bool wayland, bool dmabuf);
/* Destroys contexts the test left, closes every compositor end. */
void fake_gpu_free(struct gpu *gpu);
/* gpu_host_connect fails with -err from now on (0: it works again). */
void fake_gpu_refuse_connect(struct gpu *gpu, int err);
/* The next gpu_host_connect returns fd (a socket the test made) and
 * records peer as its compositor end, for a process that cannot make one. */
void fake_gpu_preset_connection(struct gpu *gpu, int fd, int peer);
/* gpu_host_connect connects to the Unix socket at path (a real
 * compositor) instead; its compositor end is then -1. */
void fake_gpu_connect_path(struct gpu *gpu, const char *path);
/* The compositor's end of the connection made n-th (0 first), or -1. */
int fake_gpu_compositor(struct gpu *gpu, unsigned n);
unsigned fake_gpu_connections(struct gpu *gpu);

/* A context of type (create() called), destroyed by fake_ctx_free. */
struct gpu_ctx *fake_ctx_new(struct gpu *gpu, uint32_t id, const struct gpu_ctx_type *type);
void fake_ctx_free(struct gpu_ctx *ctx);

/* A guest blob of size bytes of zeroed backing, or without backing. */
struct gpu_resource *fake_res_guest(struct gpu *gpu, uint32_t id, size_t size);
struct gpu_resource *fake_res_no_backing(struct gpu *gpu, uint32_t id, size_t size);
/* A host blob holding fd (the resource owns it). */
struct gpu_resource *fake_res_host(struct gpu *gpu, uint32_t id, int fd, uint64_t size);
void fake_res_attach(struct gpu_resource *res, struct gpu_ctx *ctx);
/* Detaches and tells the context's type (its detach op). */
void fake_res_detach(struct gpu_resource *res, struct gpu_ctx *ctx);
uint8_t *fake_res_data(struct gpu_resource *res);

/* Every gpu_fence_signal so far, oldest first. */
unsigned fake_gpu_fences(struct gpu *gpu, const struct fake_fence **fences);

/* One round of the device loop: polls the watched fds up to timeout_ms
 * and runs the callbacks of those ready. The number of callbacks run. */
int fake_gpu_pump(int timeout_ms);
unsigned fake_gpu_watches(void);

#endif
