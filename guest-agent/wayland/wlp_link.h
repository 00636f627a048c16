/*
 * How one proxied client reaches the host compositor. In a guest: one
 * cross-domain context (wlp_link_xd.c), whose host side turns our SENDs
 * into the compositor's socket and its events into RECEIVEs. On a host,
 * for tests: a plain Wayland socket (wlp_link_loop.c), with memfds where
 * the guest has host-visible blobs and real pipes where it has pipe ids.
 *
 * Items are the cross-domain identifiers (struct cd_item): a blob is host
 * memory the compositor can map, a write pipe is a pipe the compositor
 * reads and we WRITE, a read pipe one the compositor writes and whose
 * data comes back as READ messages.
 */
#ifndef VMSILO_WLP_LINK_H
#define VMSILO_WLP_LINK_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest-agent/wayland/cd_msg.h"

/* Host memory, mapped here; id names it in a blob item. */
struct wlp_blob {
	uint32_t id;
	void *map;
	size_t size;
	uint32_t handle;	/* the link's own: a GEM handle, or an fd */
};

/* What the host sent: Wayland bytes and their items, or pipe data. */
struct wlp_host_msg {
	bool is_read;
	const uint8_t *data;		/* valid until the next take */
	uint32_t len;
	uint32_t n_items;
	struct cd_item items[CROSS_DOMAIN_MAX_IDENTIFIERS];
	uint32_t pipe;			/* READ: the read pipe's id */
	bool hang_up;
};

/* A client's dma-buf, imported to be read back into host memory. */
struct wlp_dmabuf {
	uint32_t handle;
	const uint8_t *map;
	size_t size;
};

#define WLP_LINK_MAX_POLL	8

struct wlp_link;
struct wlp_link_ops {
	int (*send)(struct wlp_link *l, const void *data, uint32_t len,
		    const struct cd_item *items, uint32_t n_items);
	/* Host memory of at least size bytes for the compositor, mapped RW. */
	int (*blob_new)(struct wlp_link *l, uint64_t size, struct wlp_blob *b);
	/* A blob item the host sent, mapped read-only. */
	int (*blob_map)(struct wlp_link *l, const struct cd_item *it, struct wlp_blob *b);
	void (*blob_free)(struct wlp_link *l, struct wlp_blob *b);
	int (*write)(struct wlp_link *l, uint32_t pipe, bool hang_up, const void *data,
		     uint32_t len);
	/* The id of a new read pipe (sent as an item), 0 if none can be made. */
	uint32_t (*read_pipe)(struct wlp_link *l);
	/* The fds to wait on; then take: 1 one message, 0 none yet, -errno. */
	int (*poll_fds)(struct wlp_link *l, struct pollfd *p, int max);
	int (*take)(struct wlp_link *l, const struct pollfd *p, int n, struct wlp_host_msg *m);
	void (*close)(struct wlp_link *l);
	/*
	 * Optional, all four or none (then the proxy offers clients no
	 * zwp_linux_dmabuf_v1): the DRM device clients render on (its
	 * st_rdev); a client's dma-buf imported and mapped read-only; rows
	 * [y0, y1) of it brought up to date in the mapping once the client's
	 * rendering into it is done; the import dropped.
	 */
	uint64_t (*dmabuf_device)(struct wlp_link *l);
	int (*dmabuf_import)(struct wlp_link *l, int fd, struct wlp_dmabuf *d);
	int (*dmabuf_read)(struct wlp_link *l, struct wlp_dmabuf *d, uint32_t width, uint32_t y0,
			   uint32_t y1, uint32_t offset, uint32_t stride);
	void (*dmabuf_free)(struct wlp_link *l, struct wlp_dmabuf *d);
};

struct wlp_link {
	const struct wlp_link_ops *ops;
};

/* A cross-domain context on the virtio_gpu node: NULL with *err set. */
struct wlp_link *wlp_link_xd_open(const char *node, int *err);
/* A connection to the compositor's socket at path. */
struct wlp_link *wlp_link_loop_open(const char *path, int *err);
/* Tests: loop links offer dma-buf, naming device, any mappable fd taken. */
void wlp_link_loop_dmabuf(uint64_t device);

#endif
