/*
 * 3D context types of virtio-gpu: what a context created by CTX_CREATE
 * does with SUBMIT_3D, its fences and its host blobs. cross_domain.c is
 * one (capset 5); virgl will be the next. gpu.c owns contexts, resources
 * and fences; a type sees them only through the functions below, and only
 * the resources attached to its own context.
 *
 * CONTRACT (lead, issue 11).
 */
#ifndef VMSILO_GPU_CTX_H
#define VMSILO_GPU_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gpu;
struct gpu_ctx;
struct gpu_resource;
struct vdev;

struct gpu_ctx_type {
	const char *name;		/* "cross-domain" */
	uint32_t capset_id;
	uint32_t capset_max_version;
	uint32_t capset_size;
	/* GET_CAPSET: capset_size bytes of the capset's contents into buf. */
	void (*capset)(struct gpu *gpu, uint32_t version, void *buf);
	/* CTX_CREATE: 0, or -errno (the guest gets ERR_UNSPEC). */
	int (*create)(struct gpu_ctx *ctx);
	/* CTX_DESTROY, a device reset: frees everything the context holds. */
	void (*destroy)(struct gpu_ctx *ctx);
	/*
	 * SUBMIT_3D: the command stream, copied out of guest memory (len at
	 * most GPU_MAX_SUBMIT). 0, or a VIRTIO_GPU_RESP_ERR_* for the guest.
	 */
	uint32_t (*submit)(struct gpu_ctx *ctx, const uint8_t *cmd, uint32_t len);
	/*
	 * A fence on the context's ring ring_idx (INFO_RING_IDX): true if it
	 * is signalled already; else the type calls gpu_fence_signal() later.
	 * A fence with no ring (the global timeline) never comes here.
	 */
	bool (*fence)(struct gpu_ctx *ctx, uint8_t ring_idx, uint64_t fence_id);
	/*
	 * RESOURCE_CREATE_BLOB with blob_mem HOST3D or HOST3D_GUEST: the host
	 * memory for blob_id of size bytes. *fd: a memfd sealed against
	 * shrinking (F_SEAL_SHRINK), at least size bytes, opened O_RDWR or
	 * O_RDONLY (then the guest maps it read-only); the resource owns it.
	 * *map_info: VIRTIO_GPU_MAP_CACHE_*. 0 or a VIRTIO_GPU_RESP_ERR_*.
	 */
	uint32_t (*create_blob)(struct gpu_ctx *ctx, uint64_t blob_id, uint64_t size,
				uint32_t blob_flags, int *fd, uint32_t *map_info);
	/* Optional: the guest attached the resource res_id to the context. */
	void (*attach)(struct gpu_ctx *ctx, uint32_t res_id);
	/* Optional: the resource res_id left the context (detach, unref). */
	void (*detach)(struct gpu_ctx *ctx, uint32_t res_id);
};

struct gpu_ctx {
	struct gpu *gpu;
	uint32_t id;			/* the guest's ctx_id */
	const struct gpu_ctx_type *type;
	void *priv;			/* the type's */
	char debug_name[65];
};

extern const struct gpu_ctx_type cross_domain_type;

/* ---- what gpu.c gives context types ---- */

/* The device the context is on, for watches and timers (vdev_watch_fd). */
struct vdev *gpu_vdev(struct gpu *gpu);
/* [gpu]'s wayland and the host's dma-buf support, for the capset. */
bool gpu_wayland_enabled(const struct gpu *gpu);
bool gpu_supports_dmabuf(const struct gpu *gpu);
/*
 * A new connection to the host compositor (SOCK_STREAM, CLOEXEC,
 * NONBLOCK), the socket the VMM checked and the jail put at
 * "/" GPU_SOCKET_NAME. fd, or -errno (-ENOENT: no socket configured).
 */
int gpu_host_connect(struct gpu *gpu);
/*
 * The resource res_id if the guest attached it to ctx (CTX_ATTACH_RESOURCE,
 * or created it there as a blob), else NULL: a context never reaches
 * another's resources.
 */
struct gpu_resource *gpu_ctx_resource(struct gpu_ctx *ctx, uint32_t res_id);
/* A guest blob's (or 2D resource's) backing pages: bytes [off, off + len)
 * copied in or out. 0, or -EINVAL (out of range, no backing). */
int gpu_res_write(struct gpu_resource *res, uint64_t off, const void *buf, size_t len);
int gpu_res_read(struct gpu_resource *res, uint64_t off, void *buf, size_t len);
uint64_t gpu_res_size(const struct gpu_resource *res);
/* The host memory of a host blob (stays the resource's), or -1. */
int gpu_res_host_fd(const struct gpu_resource *res);
/*
 * Timeline (ctx, ring_idx) reached fence_id: every parked fenced command
 * of it with an id <= fence_id goes back to the guest, with one interrupt.
 */
void gpu_fence_signal(struct gpu_ctx *ctx, uint8_t ring_idx, uint64_t fence_id);

#endif
