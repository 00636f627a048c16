/*
 * virtio-balloon: its config, and the device-specific messages between the
 * VMM (vmm/balloon_ctl.c) and the device process (devices/balloon.c)
 * carried in LINK_DEVICE_CMD / LINK_DEVICE_EVENT. Little-endian; each side
 * decodes with the helpers below, which check exact sizes and values.
 */
#ifndef VMSILO_BALLOON_H
#define VMSILO_BALLOON_H

#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "devices/registry.h"

#define BALLOON_PAGE_SIZE 4096u

/*
 * The stats the device passes on: virtio 1.2 5.5.6.3 tags 0..9 (their own
 * index), then crosvm's shmem (65534) and unevictable (65535). Newer specs
 * add tags from 10 (Linux 6.12 sends them): not ours, ignored.
 */
enum balloon_stat {
	BALLOON_SWAP_IN, BALLOON_SWAP_OUT, BALLOON_MAJOR_FAULTS, BALLOON_MINOR_FAULTS,
	BALLOON_FREE_MEMORY, BALLOON_TOTAL_MEMORY, BALLOON_AVAILABLE_MEMORY,
	BALLOON_DISK_CACHES, BALLOON_HUGETLB_ALLOCATIONS, BALLOON_HUGETLB_FAILURES,
	BALLOON_NR_SPEC_TAGS,		/* tags 0..9 */
	BALLOON_SHARED_MEMORY = BALLOON_NR_SPEC_TAGS, BALLOON_UNEVICTABLE_MEMORY,
	BALLOON_NR_STATS
};
#define BALLOON_TAG_SHMEM 65534
#define BALLOON_TAG_UNEVICTABLE 65535

/* A stat's name as crosvm spells it (vmsilo reads these), NULL past the end. */
static inline const char *balloon_stat_name(unsigned stat)
{
	static const char *const names[] = {
		"swap_in", "swap_out", "major_faults", "minor_faults", "free_memory",
		"total_memory", "available_memory", "disk_caches", "hugetlb_allocations",
		"hugetlb_failures", "shared_memory", "unevictable_memory",
	};
	static_assert(sizeof(names) / sizeof(names[0]) == BALLOON_NR_STATS, "a name per stat");

	return stat < BALLOON_NR_STATS ? names[stat] : NULL;
}

/* A guest's stat tag: its index in enum balloon_stat, or -1 to ignore it. */
static inline int balloon_stat_index(uint16_t tag)
{
	if (tag < BALLOON_NR_SPEC_TAGS)
		return tag;
	if (tag == BALLOON_TAG_SHMEM)
		return BALLOON_SHARED_MEMORY;
	if (tag == BALLOON_TAG_UNEVICTABLE)
		return BALLOON_UNEVICTABLE_MEMORY;
	return -1;
}

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
	uint64_t values[BALLOON_NR_STATS];
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
	for (unsigned i = 0; i < BALLOON_NR_STATS; i++)
		e->values[i] = le64toh(e->values[i]);
	switch (e->kind) {
	case BALLOON_EV_STATS:
		return len == sizeof(*e) && !(e->arg >> BALLOON_NR_STATS) ? 0 : -EINVAL;
	case BALLOON_EV_ACTUAL:
	case BALLOON_EV_DEFLATED_ON_OOM:
		return len == BALLOON_EVENT_HDR && e->arg <= max_pages ? 0 : -EINVAL;
	}
	return -EINVAL;
}

#endif
