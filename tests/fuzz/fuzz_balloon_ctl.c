/*
 * libFuzzer harness for the VMM's side of virtio-balloon (vmm/balloon_ctl.c)
 * fed a hostile device's events (any bytes, any length) interleaved with
 * its users' calls (set_target, stats, wait, subscribe, cancel), timer
 * ticks and the device going away. balloon_ctl.c is compiled with
 * -Dclock_gettime=fuzz_clock_gettime, so time is the input's; the fake
 * link's post op records and answers as the input says, never blocks.
 *
 * Invariants: each stats or wait callback runs at most once, never from
 * inside the call that registered it, never after a cancel, and by the
 * first tick at or past its deadline; stats values only for tags marked
 * present; actual never above guest RAM; a wait that succeeds saw
 * actual == target; what is posted to the device decodes as a command
 * with a target within guest RAM.
 *
 * Input: le32 RAM pages, u8 stats interval (s), then steps (enum step,
 * then its bytes).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/balloon.h"
#include "virtio/vdev_link.h"
#include "vmm/balloon_ctl.h"
#include "vmm/balloon_ctl_impl.h"
#include "vmm/log.h"

#define MAX_REGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fuzz_clock_gettime(clockid_t clock, struct timespec *ts);

enum step {
	STEP_EVENT,		/* len, bytes */
	STEP_GOOD_EVENT,	/* kind, le32 arg, present, values: a well-formed one */
	STEP_SET_TARGET,	/* le32 pages, u8 sub-page bytes */
	STEP_STATS,		/* le16 timeout ms */
	STEP_WAIT,		/* le16 timeout ms */
	STEP_SUBSCRIBE,
	STEP_CANCEL,		/* which registration */
	STEP_TICK,		/* le16 ms to advance first */
	STEP_POST_RC,		/* what the link's post answers from now */
	STEP_GONE,
	NR_STEPS
};

enum reg_kind { REG_STATS, REG_WAIT, REG_SUB };

struct reg {
	enum reg_kind kind;
	uint64_t deadline_ms;
	unsigned calls;
	bool cancelled;
};

static uint64_t now_ms;
static uint64_t ram_bytes;
static struct reg regs[MAX_REGS];
static unsigned nr_regs;
static bool registering;	/* inside a balloon_ctl call that takes a callback */
static int post_rc;
static struct balloon_ctl *ctl;

int fuzz_clock_gettime(clockid_t clock, struct timespec *ts)
{
	(void)clock;
	ts->tv_sec = (time_t)(now_ms / 1000);
	ts->tv_nsec = (long)(now_ms % 1000) * 1000000;
	return 0;
}

static int fake_post(struct vdev_link *link, const void *msg, unsigned len)
{
	struct balloon_cmd c;

	(void)link;
	if (balloon_dec_cmd(msg, len, &c) ||
	    (c.op == BALLOON_CMD_SET_TARGET && (uint64_t)c.pages * BALLOON_PAGE_SIZE > ram_bytes))
		abort();
	return post_rc;
}

static const struct vdev_link_ops fake_ops = { .post = fake_post };

static struct reg *called(void *ctx, enum reg_kind kind)
{
	struct reg *r = ctx;

	if (r < regs || r >= regs + nr_regs || r->kind != kind || r->cancelled || registering)
		abort();
	r->calls++;
	if (kind != REG_SUB && r->calls > 1)
		abort();
	return r;
}

static void on_stats(void *ctx, const struct balloon_stats *st)
{
	called(ctx, REG_STATS);
	if (st->present >> BALLOON_NR_STATS || st->actual_bytes > ram_bytes)
		abort();
	for (unsigned i = 0; i < BALLOON_NR_STATS; i++)
		if (!(st->present & 1u << i) && st->value[i])
			abort();
}

static void on_wait(void *ctx, int err, uint64_t actual_bytes)
{
	called(ctx, REG_WAIT);
	if (actual_bytes > ram_bytes || (err && err != -ETIMEDOUT && err != -ENODEV) ||
	    (!err && actual_bytes != balloon_ctl_target(ctl)))
		abort();
}

static void on_event(void *ctx, enum balloon_event ev, uint64_t actual_bytes)
{
	called(ctx, REG_SUB);
	if (actual_bytes > ram_bytes ||
	    (ev != BALLOON_EVENT_TARGET_REACHED && ev != BALLOON_EVENT_DEFLATED_ON_OOM))
		abort();
}

struct cursor {
	const uint8_t *p;
	size_t left;
};

static uint8_t byte(struct cursor *c)
{
	if (!c->left)
		return 0;
	c->left--;
	return *c->p++;
}

static uint64_t le(struct cursor *c, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)byte(c) << (8 * i);
	return v;
}

static void add_reg(enum reg_kind kind, unsigned timeout_ms)
{
	struct reg *r;
	int rc;

	if (nr_regs == MAX_REGS)
		return;
	r = &regs[nr_regs++];
	*r = (struct reg){ .kind = kind, .deadline_ms = now_ms + timeout_ms };
	registering = true;
	if (kind == REG_STATS)
		rc = balloon_ctl_stats(ctl, timeout_ms, on_stats, r);
	else if (kind == REG_WAIT)
		rc = balloon_ctl_wait(ctl, timeout_ms, on_wait, r);
	else
		rc = balloon_ctl_subscribe(ctl, on_event, r);
	registering = false;
	if (rc)
		r->cancelled = true;	/* never registered: must never be called */
}

static void cancel(unsigned i)
{
	if (i >= nr_regs)
		return;
	balloon_ctl_cancel(ctl, &regs[i]);
	regs[i].cancelled = true;
}

/* No waiter outlives its deadline past a tick. */
static void check_deadlines(void)
{
	for (unsigned i = 0; i < nr_regs; i++)
		if (regs[i].kind != REG_SUB && !regs[i].cancelled && !regs[i].calls &&
		    regs[i].deadline_ms <= now_ms)
			abort();
}

static void event(struct cursor *c, bool well_formed)
{
	struct balloon_event_msg e = { 0 };
	uint8_t buf[sizeof(e) + 8];
	unsigned len;

	if (!well_formed) {
		len = byte(c) % sizeof(buf);
		for (unsigned i = 0; i < len; i++)
			buf[i] = byte(c);
		balloon_ctl_event(ctl, buf, len);
		return;
	}
	e.kind = htole32(1 + byte(c) % 3);
	e.arg = htole32((uint32_t)le(c, 4));
	for (unsigned i = 0; i < BALLOON_NR_STATS; i++) {
		uint64_t v = le(c, 1);

		e.values[i] = htole64(v << (byte(c) % 64));
	}
	len = le32toh(e.kind) == BALLOON_EV_STATS ? sizeof(e) : BALLOON_EVENT_HDR;
	if (le32toh(e.kind) == BALLOON_EV_STATS)
		e.arg = htole32(le32toh(e.arg) & ((1u << BALLOON_NR_STATS) - 1));
	else
		e.arg = htole32((uint32_t)(le32toh(e.arg) % (ram_bytes / BALLOON_PAGE_SIZE + 1)));
	balloon_ctl_event(ctl, &e, len);
}

static void set_target(struct cursor *c)
{
	uint64_t bytes = le(c, 4) * BALLOON_PAGE_SIZE + (byte(c) & 1 ? byte(c) : 0);

	bytes %= ram_bytes + 2 * BALLOON_PAGE_SIZE;
	if (!balloon_ctl_set_target(ctl, bytes) && balloon_ctl_target(ctl) != bytes)
		abort();
}

static void step(struct cursor *c)
{
	switch (byte(c) % NR_STEPS) {
	case STEP_EVENT:
		event(c, false);
		break;
	case STEP_GOOD_EVENT:
		event(c, true);
		break;
	case STEP_SET_TARGET:
		set_target(c);
		break;
	case STEP_STATS:
		add_reg(REG_STATS, (unsigned)le(c, 2));
		break;
	case STEP_WAIT:
		add_reg(REG_WAIT, (unsigned)le(c, 2));
		break;
	case STEP_SUBSCRIBE:
		add_reg(REG_SUB, 0);
		break;
	case STEP_CANCEL:
		cancel(byte(c) % MAX_REGS);
		break;
	case STEP_TICK:
		now_ms += le(c, 2);
		balloon_ctl_tick(ctl);
		check_deadlines();
		break;
	case STEP_POST_RC: {
		static const int rcs[] = { 0, -EAGAIN, -EPIPE, -EINVAL };

		post_rc = rcs[byte(c) % 4];
		break;
	}
	case STEP_GONE:
		balloon_ctl_device_gone(ctl);
		break;
	}
	if (balloon_ctl_actual(ctl) > ram_bytes)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdev_link link = { .ops = &fake_ops, .name = "balloon0" };
	struct cursor c = { data, size };

	log_set_level(LOG_ERROR);
	now_ms = 1000000;
	nr_regs = 0;
	post_rc = 0;
	ram_bytes = (le(&c, 4) % (1u << 24) + 1) * BALLOON_PAGE_SIZE;
	ctl = balloon_ctl_create(ram_bytes, byte(&c) % 4, &link);
	if (!ctl)
		abort();
	while (c.left)
		step(&c);
	now_ms += 70000;	/* past every deadline: all are answered */
	balloon_ctl_tick(ctl);
	check_deadlines();
	balloon_ctl_destroy(ctl);
	return 0;
}
