/*
 * virtio-gpu (virtio 1.2, 5.7): 2D resources and scanouts, blob resources
 * in a host-visible shared-memory region, and 3D contexts whose work a
 * context type does (virgl, cross-domain). Files:
 *   gpu.c         the kind, its config keys, the model's ops, the ctrl and
 *                 cursor queues, command dispatch, contexts and capsets,
 *                 fences and their timelines, the seccomp policy
 *   gpu_proto.c   decoding every command from the guest (sizes, counts,
 *                 ranges), encoding responses
 *   gpu_res.c     resources: 2D, backing pages, transfers, scanouts and
 *                 their screenshots, blobs, MAP_BLOB through vdev_shm_map
 *   gpu_socket.c  (VMM side, create()) finding and checking the host's
 *                 Wayland socket
 *   gpu_virgl.c   virgl: its context types (capsets 1, 2), 3D resources,
 *                 virglrenderer's fences
 *   cross_domain.c  the cross-domain context type (capset 5)
 *
 * CONTRACT (lead, issue 11): the config struct, the device command, the
 * limits and the functions context types call (gpu_ctx.h) hold across
 * the files; the model's own state (struct gpu) is gpu.c's business.
 */
#ifndef VMSILO_GPU_H
#define VMSILO_GPU_H

#include <stdbool.h>
#include <stdint.h>

#define GPU_MAX_SCANOUTS	16
#define GPU_MAX_WIDTH		16384
#define GPU_MAX_HEIGHT		16384
/* Bounds on what one guest can make the GPU process hold. */
#define GPU_MAX_RESOURCES	16384
#define GPU_MAX_CONTEXTS	64
#define GPU_MAX_BACKING_ENTRIES	16384		/* per ATTACH_BACKING / CREATE_BLOB */
#define GPU_MAX_HOST_BYTES	(1ull << 30)	/* host copies of 2D resources + host blobs */
#define GPU_MAX_BLOB_SIZE	(256ull << 20)	/* one host blob */
#define GPU_MAX_SUBMIT		(1u << 20)	/* one SUBMIT_3D command stream */

#define GPU_SHM_ID_HOST_VISIBLE	1
#define GPU_DEFAULT_HOST_VISIBLE (8ull << 30)

/* Where the jail puts the host compositor's socket: "/" GPU_SOCKET_NAME. */
#define GPU_SOCKET_NAME		"wayland-0"

/* [gpu]: see gpu.c's key table and docs/config.md. */
struct gpu_config {
	bool wayland;			/* cross-domain context (capset 5) */
	bool opengl;			/* virgl contexts (capsets 1 and 2) */
	char *render_node;		/* NULL: the first /dev/dri/renderD*, or surfaceless */
	char *wayland_socket;		/* NULL: the VM user's $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY */
	uint64_t host_visible_size;	/* bytes, a power of two */
	bool allow_wx;
	uint64_t displays, width, height;
};

/*
 * LINK_DEVICE_CMD to the GPU (the control socket's "screenshot"): the
 * device writes scanout <scanout>'s current image as a binary PPM (P6)
 * named gpu_screenshot_name() in its working directory (the VM's runtime
 * directory; tmp file + rename) and replies with a gpu_cmd_reply.
 * -ENOENT: the scanout shows nothing (disabled, or no resource).
 */
#define GPU_CMD_SCREENSHOT	1
struct gpu_cmd {
	uint32_t op;			/* GPU_CMD_* */
	uint32_t scanout;
};
struct gpu_cmd_reply {
	uint32_t width, height;
};
/* "gpu0-scanout0.ppm": the file the command writes, in the runtime dir. */
#define GPU_SCREENSHOT_FMT	"%s-scanout%u.ppm"

extern const struct device_kind gpu_kind;

#endif
