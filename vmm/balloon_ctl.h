/*
 * The VMM's side of virtio-balloon: the target the host sets, the guest's
 * last stats, and the callers waiting for either. Main-loop thread only;
 * every callback runs later from the main loop, never inside the call
 * that registered it, and exactly once unless cancelled.
 *
 * CONTRACT (lead engineer, 2026-12-02): the control socket and the
 * crosvm-compatible socket are written against this; keep the names.
 */
#ifndef VMSILO_BALLOON_CTL_H
#define VMSILO_BALLOON_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/balloon.h"	/* enum balloon_stat, BALLOON_NR_STATS, balloon_stat_name */

struct vm;
struct balloon_ctl;

struct balloon_stats {
	uint64_t value[BALLOON_NR_STATS];	/* memory stats in bytes, as virtio sends them */
	uint32_t present;		/* bit (1 << stat): the guest sent it */
	uint64_t actual_bytes;		/* the balloon's size the guest reports (config "actual") */
	uint64_t age_ms;		/* since the guest sent these stats */
	bool stale;			/* not fresh: the guest did not answer in time (or never did) */
};

enum balloon_event {
	BALLOON_EVENT_TARGET_REACHED,	/* actual == target */
	BALLOON_EVENT_DEFLATED_ON_OOM,	/* the guest took pages back under memory pressure */
};

typedef void (*balloon_stats_fn)(void *ctx, const struct balloon_stats *st);
/* err: 0 the target was reached, -ETIMEDOUT, -ENODEV the device went away. */
typedef void (*balloon_wait_fn)(void *ctx, int err, uint64_t actual_bytes);
typedef void (*balloon_event_fn)(void *ctx, enum balloon_event ev, uint64_t actual_bytes);

/* The VM's balloon, NULL when it has no [balloon]. */
struct balloon_ctl *vm_balloon(struct vm *vm);

/* The balloon's size in bytes (memory taken from the guest), a multiple of
 * 4096 at most guest RAM: 0, -EINVAL. Before the driver is up too:
 * the target is kept and the driver reads it when it starts. */
int balloon_ctl_set_target(struct balloon_ctl *b, uint64_t bytes);
uint64_t balloon_ctl_target(const struct balloon_ctl *b);
uint64_t balloon_ctl_actual(const struct balloon_ctl *b);
/* Asks the guest for fresh stats: cb gets them, or the last ones marked
 * stale after timeout_ms. 0 or -errno (-ENOMEM: too many waiting). */
int balloon_ctl_stats(struct balloon_ctl *b, unsigned timeout_ms, balloon_stats_fn cb, void *ctx);
/* cb once actual == target, or -ETIMEDOUT after timeout_ms. */
int balloon_ctl_wait(struct balloon_ctl *b, unsigned timeout_ms, balloon_wait_fn cb, void *ctx);
/* Events until cancelled. */
int balloon_ctl_subscribe(struct balloon_ctl *b, balloon_event_fn cb, void *ctx);
/* Drops every pending callback and subscription with this ctx (a client left). */
void balloon_ctl_cancel(struct balloon_ctl *b, void *ctx);

#endif
