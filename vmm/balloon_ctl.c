/*
 * The VMM's side of virtio-balloon (see balloon_ctl.h): the target, the
 * guest's last stats with their time, waiters with deadlines on one
 * timerfd, and events for subscribers. What the device sends is hostile:
 * balloon_dec_event() checks it, and a bad event is logged and dropped.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/balloon.h"
#include "vmm/balloon_ctl.h"
#include "vmm/balloon_ctl_impl.h"
#include "virtio/vdev_link.h"
#include "vmm/vm_device.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define MAX_WAITERS 16
#define MAX_SUBSCRIBERS 16

struct stats_waiter {
	balloon_stats_fn cb;
	void *ctx;
	uint64_t deadline_ms;
};

struct target_waiter {
	balloon_wait_fn cb;
	void *ctx;
	uint64_t deadline_ms;
};

struct subscriber {
	balloon_event_fn cb;
	void *ctx;
};

struct balloon_ctl {
	struct vdev_link *link;
	uint64_t ram_bytes;
	uint64_t target, actual;
	unsigned stats_interval_ms;	/* 0: only on request */
	uint64_t next_stats_ms;
	struct balloon_stats stats;	/* the last the guest sent; age and stale unset */
	uint64_t stats_at_ms;		/* 0: never */
	bool due;			/* a check to run from the next tick */
	bool gone;			/* the device went away */
	int timer_fd;
	struct stats_waiter stats_waiters[MAX_WAITERS];
	struct target_waiter waiters[MAX_WAITERS];
	struct subscriber subs[MAX_SUBSCRIBERS];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t earliest(const struct balloon_ctl *b)
{
	uint64_t at = b->stats_interval_ms && !b->gone ? b->next_stats_ms : UINT64_MAX;

	if (b->due)
		return 0;
	for (unsigned i = 0; i < MAX_WAITERS; i++) {
		if (b->stats_waiters[i].cb && b->stats_waiters[i].deadline_ms < at)
			at = b->stats_waiters[i].deadline_ms;
		if (b->waiters[i].cb && b->waiters[i].deadline_ms < at)
			at = b->waiters[i].deadline_ms;
	}
	return at;
}

/* The timerfd fires at the earliest deadline (at once when a check is due). */
static void arm(struct balloon_ctl *b)
{
	uint64_t at = earliest(b);
	struct itimerspec its = { 0 };

	if (at != UINT64_MAX) {
		if (!at)
			at = 1;		/* long past: fires now; 0 would disarm */
		its.it_value.tv_sec = (time_t)(at / 1000);
		its.it_value.tv_nsec = (long)(at % 1000) * 1000000;
	}
	timerfd_settime(b->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Posted: the main loop never waits for the device. */
static int send_cmd(struct balloon_ctl *b, uint32_t op, uint32_t pages)
{
	struct balloon_cmd c = { htole32(op), htole32(pages) };
	int rc;

	if (b->gone)
		return -ENODEV;
	rc = vdev_link_post(b->link, &c, sizeof(c));
	if (rc == -EPIPE)	/* the device is broken, and killed */
		balloon_ctl_device_gone(b);
	return rc;
}

struct balloon_ctl *balloon_ctl_create(uint64_t ram_bytes, unsigned stats_interval_s,
				       struct vdev_link *link)
{
	struct balloon_ctl *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->timer_fd < 0) {
		free(b);
		return NULL;
	}
	b->link = link;
	b->ram_bytes = ram_bytes;
	b->stats_interval_ms = stats_interval_s * 1000u;
	b->next_stats_ms = now_ms() + b->stats_interval_ms;
	arm(b);
	return b;
}

void balloon_ctl_destroy(struct balloon_ctl *b)
{
	if (!b)
		return;
	close(b->timer_fd);
	free(b);
}

int balloon_ctl_timer_fd(const struct balloon_ctl *b)
{
	return b->timer_fd;
}

int balloon_ctl_set_target(struct balloon_ctl *b, uint64_t bytes)
{
	int rc;

	if (bytes % BALLOON_PAGE_SIZE || bytes > b->ram_bytes)
		return -EINVAL;
	rc = send_cmd(b, BALLOON_CMD_SET_TARGET, (uint32_t)(bytes / BALLOON_PAGE_SIZE));
	if (rc)
		return rc;
	b->target = bytes;
	b->due = true;		/* waiters may be done already */
	arm(b);
	return 0;
}

uint64_t balloon_ctl_target(const struct balloon_ctl *b)
{
	return b->target;
}

uint64_t balloon_ctl_actual(const struct balloon_ctl *b)
{
	return b->actual;
}

int balloon_ctl_stats(struct balloon_ctl *b, unsigned timeout_ms, balloon_stats_fn cb, void *ctx)
{
	for (unsigned i = 0; i < MAX_WAITERS; i++) {
		if (b->stats_waiters[i].cb)
			continue;
		b->stats_waiters[i] = (struct stats_waiter){ cb, ctx, now_ms() + timeout_ms };
		/* Without the guest's buffer the device does nothing: the
		 * buffer the guest sends next brings fresh stats, before the
		 * deadline or not. */
		send_cmd(b, BALLOON_CMD_REQUEST_STATS, 0);
		arm(b);
		return 0;
	}
	return -ENOMEM;
}

int balloon_ctl_wait(struct balloon_ctl *b, unsigned timeout_ms, balloon_wait_fn cb, void *ctx)
{
	for (unsigned i = 0; i < MAX_WAITERS; i++) {
		if (b->waiters[i].cb)
			continue;
		b->waiters[i] = (struct target_waiter){ cb, ctx, now_ms() + timeout_ms };
		b->due = true;
		arm(b);
		return 0;
	}
	return -ENOMEM;
}

int balloon_ctl_subscribe(struct balloon_ctl *b, balloon_event_fn cb, void *ctx)
{
	for (unsigned i = 0; i < MAX_SUBSCRIBERS; i++) {
		if (b->subs[i].cb)
			continue;
		b->subs[i] = (struct subscriber){ cb, ctx };
		return 0;
	}
	return -ENOMEM;
}

void balloon_ctl_cancel(struct balloon_ctl *b, void *ctx)
{
	for (unsigned i = 0; i < MAX_WAITERS; i++) {
		if (b->stats_waiters[i].ctx == ctx)
			b->stats_waiters[i].cb = NULL;
		if (b->waiters[i].ctx == ctx)
			b->waiters[i].cb = NULL;
	}
	for (unsigned i = 0; i < MAX_SUBSCRIBERS; i++)
		if (b->subs[i].ctx == ctx)
			b->subs[i].cb = NULL;
}

static void emit(struct balloon_ctl *b, enum balloon_event ev)
{
	for (unsigned i = 0; i < MAX_SUBSCRIBERS; i++)
		if (b->subs[i].cb)
			b->subs[i].cb(b->subs[i].ctx, ev, b->actual);
}

/* A slot is cleared before its callback runs: the callback may register again. */
static void finish_waiter(struct balloon_ctl *b, unsigned i, int err)
{
	struct target_waiter w = b->waiters[i];

	b->waiters[i].cb = NULL;
	w.cb(w.ctx, err, b->actual);
}

static void finish_stats(struct balloon_ctl *b, unsigned i, uint64_t now, bool stale)
{
	struct stats_waiter w = b->stats_waiters[i];
	struct balloon_stats st = b->stats;

	b->stats_waiters[i].cb = NULL;
	st.actual_bytes = b->actual;
	st.stale = stale;
	st.age_ms = b->stats_at_ms ? now - b->stats_at_ms : 0;
	w.cb(w.ctx, &st);
}

/* Waiters whose condition holds (err 0) or whose deadline passed. */
static void settle(struct balloon_ctl *b, uint64_t now)
{
	for (unsigned i = 0; i < MAX_WAITERS; i++) {
		if (b->waiters[i].cb && (b->gone || b->actual == b->target))
			finish_waiter(b, i, b->gone ? -ENODEV : 0);
		else if (b->waiters[i].cb && b->waiters[i].deadline_ms <= now)
			finish_waiter(b, i, -ETIMEDOUT);
		if (b->stats_waiters[i].cb && (b->gone || b->stats_waiters[i].deadline_ms <= now))
			finish_stats(b, i, now, true);
	}
}

void balloon_ctl_tick(struct balloon_ctl *b)
{
	uint64_t expirations, now = now_ms();

	(void)!read(b->timer_fd, &expirations, sizeof(expirations));
	b->due = false;
	if (b->stats_interval_ms && now >= b->next_stats_ms && !b->gone) {
		send_cmd(b, BALLOON_CMD_REQUEST_STATS, 0);
		b->next_stats_ms = now + b->stats_interval_ms;
	}
	settle(b, now);
	arm(b);
}

static void take_stats(struct balloon_ctl *b, const struct balloon_event_msg *e)
{
	uint64_t now = now_ms();

	/* The device's bytes for a tag it did not mark present are not stats. */
	for (unsigned i = 0; i < BALLOON_NR_STATS; i++)
		b->stats.value[i] = e->arg & 1u << i ? e->values[i] : 0;
	b->stats.present = e->arg;
	b->stats_at_ms = now ? now : 1;
	for (unsigned i = 0; i < MAX_WAITERS; i++)
		if (b->stats_waiters[i].cb)
			finish_stats(b, i, b->stats_at_ms, false);
}

static void take_actual(struct balloon_ctl *b, uint64_t actual)
{
	bool was = b->actual == b->target;

	b->actual = actual;
	if (!was && actual == b->target)
		emit(b, BALLOON_EVENT_TARGET_REACHED);
	settle(b, now_ms());
	arm(b);
}

void balloon_ctl_event(struct balloon_ctl *b, const void *buf, unsigned len)
{
	struct balloon_event_msg e;

	if (balloon_dec_event(buf, len, (uint32_t)(b->ram_bytes / BALLOON_PAGE_SIZE), &e)) {
		log_ratelimited(LOG_WARN, "balloon: malformed event from the device (%u bytes) dropped",
				len);
		return;
	}
	switch (e.kind) {
	case BALLOON_EV_STATS:
		take_stats(b, &e);
		break;
	case BALLOON_EV_ACTUAL:
		take_actual(b, (uint64_t)e.arg * BALLOON_PAGE_SIZE);
		break;
	case BALLOON_EV_DEFLATED_ON_OOM:
		log_ratelimited(LOG_INFO, "balloon: the guest deflated to %u pages under memory pressure",
				e.arg);
		emit(b, BALLOON_EVENT_DEFLATED_ON_OOM);
		break;
	}
}

void balloon_ctl_device_gone(struct balloon_ctl *b)
{
	b->gone = true;
	b->due = true;
	arm(b);
}

static void on_device_event(void *ctx, const void *buf, unsigned len)
{
	balloon_ctl_event(ctx, buf, len);
}

static void on_timer(struct vm *vm, void *ctx, short revents)
{
	(void)vm;
	(void)revents;
	balloon_ctl_tick(ctx);
}

static void on_device_death(void *ctx)
{
	balloon_ctl_device_gone(ctx);
}

int vm_attach_balloon(struct vm *vm, struct vm_device *d, const struct balloon_config *cfg)
{
	struct vdev_link *link = d->link;
	struct balloon_ctl *b = balloon_ctl_create(vm->mem.total, (unsigned)cfg->stats_interval,
						   link);

	if (!b)
		return -ENOMEM;
	if (vm_watch(vm, b->timer_fd, POLLIN, on_timer, b)) {
		balloon_ctl_destroy(b);
		return -ENOSPC;
	}
	vdev_link_on_device_event(link, on_device_event, b);
	d->on_death = on_device_death;
	d->death_ctx = b;
	vm->balloon = b;
	return 0;
}

struct balloon_ctl *vm_balloon(struct vm *vm)
{
	return vm->balloon;
}
