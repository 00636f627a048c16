/*
 * The DRM side of vmsilo-wl-test: the virtio_gpu node, its ioctls, and one
 * cross-domain context on it (a DRM fd is one virtio-gpu context) with its
 * query and channel rings, as wayland-proxy-virtwl sets them up.
 *
 * Each failing ioctl prints "VMSILO drm-error ioctl=NAME errno=N (text)";
 * the functions return 0 or -errno.
 */
#ifndef VMSILO_VIRTGPU_DEV_H
#define VMSILO_VIRTGPU_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest-agent/wayland/cd_msg.h"

/* vmsilo-wl-test's exit statuses. */
enum {
	WLT_OK = 0,
	WLT_USAGE = 1,
	WLT_PROTOCOL = 2,	/* the host or the compositor said no, or broke the protocol */
	WLT_NO_CROSS_DOMAIN = 3,
	WLT_DRM = 4,
};

#define VGPU_PAGE	4096u

/* A blob buffer object, and where it is mapped (NULL: not mapped). */
struct vgpu_bo {
	uint32_t bo, res;
	void *map;
	size_t map_size;
};

int vgpu_ioctl(int fd, unsigned long req, void *arg, const char *name);
/* The first /dev/dri node (render nodes first) whose driver is virtio_gpu. */
int vgpu_find_node(char *path, size_t cap);
int vgpu_get_caps(int fd, uint32_t capset, void *caps, uint32_t size);
int vgpu_create_blob(int fd, uint32_t mem, uint32_t flags, uint64_t blob_id, uint64_t size,
		     struct vgpu_bo *bo);
int vgpu_map_bo(int fd, struct vgpu_bo *bo, size_t size, int prot);
int vgpu_resource_info(int fd, uint32_t bo, uint32_t *res, uint32_t *size);
void vgpu_free_bo(int fd, struct vgpu_bo *bo);
int vgpu_wait(int fd, uint32_t bo);
/* Another process's dma-buf on this fd: its BO (and resource), not mapped. */
int vgpu_import(int fd, int dmabuf, struct vgpu_bo *bo, uint32_t *size);
/* Rows [y0, y1) of a 3D resource's level 0, width pixels of bpp bytes
 * at offset with stride, copied from the host into the BO's backing. */
int vgpu_transfer_from_host(int fd, uint32_t bo, uint32_t width, uint32_t y0, uint32_t y1,
			    uint32_t offset, uint32_t stride);

/* One cross-domain context. */
struct xd {
	int fd;
	struct vgpu_bo query, channel_bo;
	struct vgpu_bo *channel;	/* &query with the 16-byte INIT */
	uint32_t last_read_pipe;	/* the host's read-pipe counter, predicted */
	bool polling;			/* a ring-1 POLL fence is outstanding */
};

/*
 * Open path as a new context: CONTEXT_INIT (capset 5, two rings, ring 1
 * polled), the rings (one-page GUEST blobs, mapped), then INIT of
 * init_size bytes, or no INIT when init_size is 0. Returns a WLT_* status;
 * xd_close() it either way.
 */
int xd_open(struct xd *x, const char *path, unsigned init_size);
int xd_init(struct xd *x, unsigned init_size, uint32_t query_res, uint32_t channel_res);
void xd_close(struct xd *x);

/* One EXECBUFFER; ring < 0: no ring (a global fence), else fenced on it. */
int xd_submit(struct xd *x, const void *cmd, uint32_t size, int ring);
/* POLL on ring 1: the host writes one channel message, then its fence signals. */
int xd_poll(struct xd *x);
/* Read the DRM fd's events: how many ring-1 fences signalled, or -errno. */
int xd_read_fences(struct xd *x);
/* GET_IMAGE_REQUIREMENTS on ring 0, waited for, the reply copied out. */
int xd_image_req(struct xd *x, uint32_t width, uint32_t height, uint32_t drm_format,
		 uint32_t flags, struct cross_domain_image_requirements *reply);
int xd_send(struct xd *x, const void *data, uint32_t len, const struct cd_item *items,
	    uint32_t n_items);
int xd_write(struct xd *x, uint32_t id, bool hang_up, const void *data, uint32_t len);
/* The id the host will give the next read pipe this context sends. */
uint32_t xd_next_read_pipe(struct xd *x);

#endif
