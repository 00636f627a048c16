/*
 * The virtio-gpu model's own state, shared by its files (gpu.c: queues
 * and dispatch; gpu_ctx.c: contexts, capsets, fences; gpu_res.c:
 * resources, scanouts, blobs and their mappings; gpu_screenshot.c) and
 * the unit tests. Not a contract: context types use gpu_ctx.h only.
 */
#ifndef VMSILO_GPU_INTERNAL_H
#define VMSILO_GPU_INTERNAL_H

#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/gpu.h"
#include "devices/gpu_ctx.h"
#include "devices/gpu_proto.h"
#include "devices/registry.h"
#include "devices/vdev.h"

#define GPU_QUEUE_CTRL		0
#define GPU_QUEUE_CURSOR	1
/* Both queues: vdev_ops has one size. Linux's driver takes what we offer. */
#define GPU_QUEUE_SIZE		256
#define GPU_MAX_CAPSETS		4
#define GPU_CTX_MAX_RINGS	64	/* Linux's VIRTGPU_CONTEXT_PARAM_NUM_RINGS limit */
#define GPU_MAX_IN_FENCES	64	/* SUBMIT_3D in-fence ids skipped (nothing waits on them) */
#define GPU_MAX_MAPPINGS	64	/* the VMM's limit per shared-memory region */
#define GPU_RES_BUCKETS		4096
#define GPU_PAGE		4096u
/* A scanout's mode at most: Linux's XRES_MAX/YRES_MAX, and what a
 * screenshot must write while the VMM waits. */
#define GPU_MAX_MODE		8192u
/* Fds of the GPU process: its loop, rings and log, each context's
 * compositor connection and pipes, each host blob's memfd. */
#define GPU_NOFILE		4096

struct gpu_resource {
	struct gpu_resource *next;	/* hash chain */
	uint32_t id;
	bool blob;
	bool virgl;			/* virglrenderer has it too, by the same id (3D) */
	/* 2D: the host copy TRANSFER_TO_HOST_2D fills, stride * height bytes */
	uint32_t format, width, height, stride;
	uint8_t *pixels;
	/* Guest pages (ATTACH_BACKING, or a GUEST blob's entries), checked
	 * against guest RAM once: host pointers into its mapping. */
	struct iovec *iov;
	unsigned nr_iov;
	uint64_t backing_len;
	/* Blob */
	uint32_t blob_mem, blob_flags, map_info;
	uint64_t blob_id, size;
	int fd;				/* a host blob's memory, or -1 */
	int map;			/* index in gpu.maps, or -1 */
	uint64_t host_bytes;		/* what it counts in gpu.host_bytes */
	uint64_t ctx_mask;		/* bit i: attached to gpu.ctxs[i] */
	bool has_uuid;
	uint8_t uuid[16];
};

struct gpu_scanout {
	uint32_t resource_id;		/* 0: disabled */
	struct gpu_rect r;
};

struct gpu_mapping {
	bool used;
	uint64_t offset, size;
	uint32_t resource_id;
};

struct gpu_context {
	bool used;
	struct gpu_ctx ctx;
	uint64_t completed[GPU_CTX_MAX_RINGS];	/* per ring: the last fence signalled */
};

/* A parked command's ring on virgl's global timeline (no INFO_RING_IDX). */
#define GPU_RING_GLOBAL		0xff

/* A fenced command's chain, its response written, kept until its fence. */
struct gpu_parked {
	bool used;
	uint16_t head;
	uint32_t written;
	uint32_t ctx_id;
	uint8_t ring;
	uint64_t fence_id;
};

struct gpu {
	struct vdev_ops ops;		/* per instance: the region's size is the config's */
	struct vdev_shm_region shm;
	struct vdev *dev;
	struct gpu_config cfg;		/* cfg.wayland_socket not kept */
	char host_socket[108];		/* the compositor's socket as the VMM found it */
	uid_t socket_user;		/* who may own it (besides root) */
	const char *connect_path;	/* that, or "/" GPU_SOCKET_NAME inside the jail */
	const struct gpu_ctx_type *types[GPU_MAX_CAPSETS];
	unsigned nr_types;
	uint32_t events_read;
	struct gpu_scanout scanouts[GPU_MAX_SCANOUTS];
	struct { uint32_t scanout_id, x, y, resource_id, hot_x, hot_y; } cursor;
	struct gpu_resource *buckets[GPU_RES_BUCKETS];
	unsigned nr_resources;
	uint64_t host_bytes;		/* 2D host copies and host blobs */
	struct gpu_mapping maps[GPU_MAX_MAPPINGS];
	struct gpu_context ctxs[GPU_MAX_CONTEXTS];
	unsigned nr_ctxs;
	struct gpu_parked parked[GPU_QUEUE_SIZE];
	/* virgl's global timeline: the last fence it signalled (its 32 bits). */
	bool virgl;
	uint32_t global_signalled;
	int render_fd;			/* [gpu] render_node's, or -1 */
	struct virtq_chain chain;
	uint8_t resp[GPU_MAX_RESP];
};

/* One command being served: its decoded fixed part and its buffers. */
struct gpu_call {
	struct gpu_req req;
	const struct iovec *out;	/* the chain's readable part: the command */
	unsigned nr_out;
	uint64_t out_len;
	uint64_t room;			/* bytes of the writable part */
	uint8_t *resp;			/* the body goes after the header */
	size_t resp_len;		/* the whole response, header included */
};

typedef uint32_t (*gpu_handler)(struct gpu *g, struct gpu_call *c);

/* ---- gpu_ctx.c: contexts, capsets, fences ---- */
uint32_t gpu_cmd_get_capset_info(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_get_capset(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_ctx_create(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_ctx_destroy(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_ctx_attach(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_ctx_detach(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_submit(struct gpu *g, struct gpu_call *c);
struct gpu_context *gpu_context_find(struct gpu *g, uint32_t ctx_id);
unsigned gpu_context_slot(const struct gpu *g, const struct gpu_context *x);
/* The resource leaves every context it was attached to (type->detach). */
void gpu_contexts_forget(struct gpu *g, struct gpu_resource *res);
void gpu_contexts_destroy_all(struct gpu *g);
/* virgl's global timeline reached fence (the low 32 bits of the guest's ids). */
void gpu_fence_signal_global(struct gpu *g, uint32_t fence);
/* A served fenced command: true if its chain is parked until its fence. */
bool gpu_fence_park(struct gpu *g, const struct gpu_hdr *h, uint16_t head, uint32_t written);
void gpu_fences_drop(struct gpu *g);

/* ---- gpu_res.c: resources, scanouts, blobs ---- */
struct gpu_resource *gpu_res_find(struct gpu *g, uint32_t id);
uint32_t gpu_cmd_create_2d(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_unref(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_attach_backing(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_detach_backing(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_transfer_2d(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_set_scanout(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_flush(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_create_blob(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_map_blob(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_unmap_blob(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_assign_uuid(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_create_3d(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_transfer_to_3d(struct gpu *g, struct gpu_call *c);
uint32_t gpu_cmd_transfer_from_3d(struct gpu *g, struct gpu_call *c);
/* Every resource freed; unmap: ask the VMM to unmap blobs (not on a
 * reset, which drops the mappings on the VMM's side). */
void gpu_res_free_all(struct gpu *g, bool unmap);

/* ---- gpu_screenshot.c ---- */
/* Exactly these: gpu_policy allows openat with them only. */
#define GPU_SCREENSHOT_OPEN_FLAGS (O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC)
/* GPU_CMD_SCREENSHOT: 0 with *reply, -ENOENT (scanout shows nothing), -errno. */
int gpu_screenshot(struct gpu *g, uint32_t scanout, struct gpu_cmd_reply *reply);

/* ---- gpu.c ---- */
/* Enables a context type (its capset), before the link reads the
 * features: [gpu]'s, or a test's. 0, or -ENOSPC / -EINVAL. */
int gpu_add_ctx_type(struct gpu *g, const struct gpu_ctx_type *type);
extern const struct sandbox_policy gpu_policy;
extern const struct sandbox_policy gpu_wx_policy;
extern const struct sandbox_policy gpu_virgl_policy;
extern const struct sandbox_policy gpu_virgl_wx_policy;
/* RLIMIT_NPROC of the GPU process with opengl: llvmpipe's threads (one
 * per CPU, up to 16 here) and virglrenderer's fence thread. */
#define GPU_VIRGL_NPROC		SANDBOX_THREAD_NPROC(32)

#endif
