/*
 * The cross-domain context type's state, shared by its files:
 *   cross_domain.c          the type's ops, the command stream, INIT, fences
 *   cross_domain_image.c    GET_IMAGE_REQUIREMENTS: layouts and templates
 *   cross_domain_items.c    items: the fds held by id, what the compositor sends
 *   cross_domain_send.c     SEND and WRITE, bounded in time
 *   cross_domain_channel.c  the poller, RECEIVE and READ into the channel ring
 * docs/cross-domain.md tells the protocol and the choices made here.
 */
#ifndef VMSILO_CROSS_DOMAIN_PRIV_H
#define VMSILO_CROSS_DOMAIN_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/cross_domain_proto.h"
#include "devices/gpu_ctx.h"
#include "devices/vdev.h"
#include "vmm/log.h"

/* A warning that names the device (gpu0) and the guest's context. */
#define cd_warn(ctx, fmt, ...) \
	log_ratelimited(LOG_WARN, "%s: cross-domain ctx %u: " fmt, \
			gpu_vdev((ctx)->gpu)->name, (ctx)->id, ##__VA_ARGS__)

/* Bounds on what one guest context can make the GPU process hold. */
#define CD_MAX_ITEMS		1024		/* live fds from or for the compositor */
#define CD_MAX_TEMPLATES	1024		/* image-requirement templates (LRU) */
#define CD_MAX_FENCES		16		/* ring-1 fences waiting for a message */
#define CD_MAX_COPY		(16u << 20)	/* one compositor memfd we copy */
#define CD_MAX_HELD_COPIES	(64u << 20)	/* copies not yet made into blobs */
#define CD_IO_WAIT_MS		50		/* a write to the compositor, at most */
#define CD_PAGE			4096u

#define CD_CHANNEL_INTERNAL	0xffffffffu	/* INIT of a socket by uuid: refused */

enum cd_item_kind {
	CD_ITEM_BLOB,		/* a memfd the guest makes a blob of (consumed) */
	CD_ITEM_WRITE_PIPE,	/* host->guest pipe's write end: WRITE fills it */
	CD_ITEM_EVENT,		/* an eventfd: polled (READ), written (WRITE) */
	CD_ITEM_READ_PIPE,	/* guest->host pipe's read end: polled (READ) */
};

struct cd_ctx;
struct cd_item;

/* An fd in the device's poller; item NULL: the host socket. */
struct cd_source {
	struct cd_ctx *cd;
	struct cd_item *item;
	int fd;
	bool added;
};

struct cd_item {
	struct cd_item *next;
	uint32_t id;
	enum cd_item_kind kind;
	int fd;
	uint64_t size;		/* blob: the identifier size the guest saw */
	uint64_t held;		/* blob: bytes the fd holds, page-rounded */
	bool copied;		/* blob: our copy, counted in held_copies */
	struct cd_source src;	/* read pipe, event */
};

struct cd_template {
	struct cd_template *next;
	uint32_t width, height, format;
	uint64_t last_use;
	struct cross_domain_image_requirements reply;	/* blob_id, size */
};

struct cd_poller;

struct cd_ctx {
	struct gpu_ctx *ctx;
	struct cd_poller *poller;
	bool inited;
	uint32_t query_ring, channel_ring;	/* resource ids; 0 once detached */
	int sock;				/* the host connection, or -1 */
	bool sock_broken;			/* shut down by us: SEND refused */
	struct cd_source sock_src;
	struct cd_item *items;
	unsigned nr_items;
	uint64_t held_copies;
	struct cd_template *templates;
	unsigned nr_templates;
	uint64_t clock;				/* template LRU */
	uint32_t next_id;			/* items and templates, from 2 */
	uint32_t next_read_pipe;		/* the id the guest must predict */
	uint64_t fences[CD_MAX_FENCES];		/* parked ring-1 fences, oldest first */
	unsigned nr_fences;
};

/* cross_domain.c */
uint32_t cd_fresh_id(struct cd_ctx *cd);
int cd_ring_write(struct cd_ctx *cd, uint32_t ring, const void *buf, size_t len);

/* cross_domain_image.c */
struct cross_domain_image_requirements;
/* The memfd layout of a w x h image of DRM format fourcc: 0, or -EINVAL. */
int cd_image_layout(uint32_t width, uint32_t height, uint32_t fourcc,
		    struct cross_domain_image_requirements *req);
uint32_t cd_get_image_requirements(struct cd_ctx *cd, const uint8_t *cmd, uint16_t size);
struct cd_template *cd_template_find(struct cd_ctx *cd, uint64_t blob_id);
void cd_templates_free(struct cd_ctx *cd);

/* cross_domain_items.c */
struct cd_item *cd_item_find(struct cd_ctx *cd, uint64_t id);
/* A new item owning fd, or NULL (no id, too many items, no memory). */
struct cd_item *cd_item_new(struct cd_ctx *cd, enum cd_item_kind kind, int fd, uint32_t id);
void cd_item_remove(struct cd_ctx *cd, struct cd_item *item);
void cd_items_free(struct cd_ctx *cd);
/* An fd the compositor sent: a new item that owns it, or NULL (fd closed). */
struct cd_item *cd_item_from_host(struct cd_ctx *cd, int fd);
int cd_memfd_new(uint64_t size);

/* cross_domain_send.c */
uint32_t cd_send(struct cd_ctx *cd, const uint8_t *cmd, uint16_t size);
uint32_t cd_write(struct cd_ctx *cd, const uint8_t *cmd, uint16_t size);

/* cross_domain_channel.c */
int cd_poller_join(struct cd_ctx *cd);
void cd_poller_leave(struct cd_ctx *cd);
int cd_source_add(struct cd_ctx *cd, struct cd_source *src, int fd, struct cd_item *item);
void cd_source_del(struct cd_source *src);
/* Parks a ring-1 fence: false; true if it is signalled at once. */
bool cd_fence_park(struct cd_ctx *cd, uint64_t fence_id);
/* The host connection is done with: unwatched and closed. */
void cd_host_close(struct cd_ctx *cd);

#endif
