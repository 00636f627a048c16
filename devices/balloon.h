/*
 * virtio-balloon: its config, and the device-specific messages between the
 * VMM (vmm/balloon_ctl.c) and the device process (devices/balloon.c)
 * carried in LINK_DEVICE_CMD / LINK_DEVICE_EVENT. Little-endian; each side
 * decodes with the helpers below, which check exact sizes and values.
 */
#ifndef VMSILO_BALLOON_H
#define VMSILO_BALLOON_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "devices/registry.h"

#define BALLOON_PAGE_SIZE 4096u
#define BALLOON_NR_TAGS 12	/* enum balloon_stat in vmm/balloon_ctl.h */

struct balloon_config {
	bool free_page_reporting;
	bool deflate_on_oom;
	uint64_t stats_interval;	/* seconds, 0: only on request */
};

extern const struct device_kind balloon_kind;
extern const struct sandbox_policy balloon_policy;

enum balloon_cmd_op {
	BALLOON_CMD_SET_TARGET = 1,	/* pages: the balloon's size the driver aims for */
	BALLOON_CMD_REQUEST_STATS = 2,	/* the guest answers with a STATS event; -EAGAIN: no buffer yet */
};

struct balloon_cmd {
	uint32_t op;
	uint32_t pages;
};

enum balloon_event_kind {
	BALLOON_EV_STATS = 1,		/* present, values[] */
	BALLOON_EV_ACTUAL = 2,		/* pages: the driver wrote config "actual" */
	BALLOON_EV_DEFLATED_ON_OOM = 3,	/* pages: the balloon after a deflate the host did not ask for */
};

/* ACTUAL and DEFLATED_ON_OOM send only the header (8 bytes). */
struct balloon_event_msg {
	uint32_t kind;
	uint32_t arg;			/* pages, or the STATS present mask */
	uint64_t values[BALLOON_NR_TAGS];
};
#define BALLOON_EVENT_HDR 8u

static inline int balloon_dec_cmd(const void *buf, unsigned len, struct balloon_cmd *c)
{
	if (len != sizeof(*c))
		return -EINVAL;
	memcpy(c, buf, sizeof(*c));
	c->op = le32toh(c->op);
	c->pages = le32toh(c->pages);
	return c->op == BALLOON_CMD_SET_TARGET || c->op == BALLOON_CMD_REQUEST_STATS ? 0 : -EINVAL;
}

/* The device is hostile: exact sizes, known kinds, known stats only, and
 * page counts within max_pages (guest RAM). */
static inline int balloon_dec_event(const void *buf, unsigned len, uint32_t max_pages,
				    struct balloon_event_msg *e)
{
	memset(e, 0, sizeof(*e));
	if (len < BALLOON_EVENT_HDR || len > sizeof(*e))
		return -EINVAL;
	memcpy(e, buf, len);
	e->kind = le32toh(e->kind);
	e->arg = le32toh(e->arg);
	for (unsigned i = 0; i < BALLOON_NR_TAGS; i++)
		e->values[i] = le64toh(e->values[i]);
	switch (e->kind) {
	case BALLOON_EV_STATS:
		return len == sizeof(*e) && !(e->arg >> BALLOON_NR_TAGS) ? 0 : -EINVAL;
	case BALLOON_EV_ACTUAL:
	case BALLOON_EV_DEFLATED_ON_OOM:
		return len == BALLOON_EVENT_HDR && e->arg <= max_pages ? 0 : -EINVAL;
	}
	return -EINVAL;
}

#endif
