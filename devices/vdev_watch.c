/*
 * fd watches and timers on the device loop's io_uring: one-shot POLL_ADD
 * and TIMEOUT requests, re-armed after each callback. Their CQEs are not
 * counted in uring_inflight (they may wait forever). Each slot has a
 * generation in its user_data, so the CQE of a cancelled watch or timer
 * (or one that fired as it was stopped) never runs the slot's next user.
 */
#include <errno.h>
#include <liburing.h>
#include <stdint.h>

#include "devices/vdev.h"

#define KIND_TIMER (1ull << 61)
#define GEN_SHIFT 16
#define INDEX_MASK 0xffffu
#define CANCEL_TAG (VDEV_URING_DEVICE | VDEV_URING_WATCH | INDEX_MASK)	/* no slot */

const uint8_t vdev_watch_uring_ops[] = {
	IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE, IORING_OP_TIMEOUT, IORING_OP_TIMEOUT_REMOVE,
};
const unsigned vdev_nr_watch_uring_ops = sizeof(vdev_watch_uring_ops);

static uint64_t tag_of(bool timer, uint32_t gen, unsigned index)
{
	return VDEV_URING_DEVICE | VDEV_URING_WATCH | (timer ? KIND_TIMER : 0) |
	       (uint64_t)gen << GEN_SHIFT | index;
}

static struct io_uring_sqe *get_sqe(struct vdev *dev, uint64_t tag)
{
	struct io_uring_sqe *sqe;

	if (!dev->ring)
		return NULL;
	sqe = io_uring_get_sqe(dev->ring);
	if (!sqe && io_uring_submit(dev->ring) >= 0)
		sqe = io_uring_get_sqe(dev->ring);
	if (sqe)
		io_uring_sqe_set_data64(sqe, tag);
	return sqe;
}

static int arm_watch(struct vdev *dev, unsigned i)
{
	struct vdev_watch *w = &dev->watches[i];
	struct io_uring_sqe *sqe = get_sqe(dev, tag_of(false, w->gen, i));

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, w->fd, w->events);
	io_uring_sqe_set_data64(sqe, tag_of(false, w->gen, i));
	return 0;
}

static int arm_timer(struct vdev *dev, unsigned i)
{
	struct vdev_timer *t = &dev->timers[i];
	struct io_uring_sqe *sqe = get_sqe(dev, tag_of(true, t->gen, i));

	if (!sqe)
		return -EBUSY;
	io_uring_prep_timeout(sqe, &t->ts, 0, 0);
	io_uring_sqe_set_data64(sqe, tag_of(true, t->gen, i));
	return 0;
}

int vdev_watch_fd(struct vdev *dev, int fd, uint32_t events, vdev_fd_cb cb, void *arg)
{
	if (!dev->ring)
		return -ENODEV;
	if (fd < 0 || !cb)
		return -EINVAL;
	for (unsigned i = 0; i < VDEV_MAX_WATCHES; i++) {
		struct vdev_watch *w = &dev->watches[i];

		if (w->fd >= 0)
			continue;
		*w = (struct vdev_watch){ fd, events, w->gen + 1, cb, arg };
		if (arm_watch(dev, i)) {
			w->fd = -1;
			return -EBUSY;
		}
		return (int)i;
	}
	return -ENOSPC;
}

/* The cancel's own CQE carries CANCEL_TAG, which matches no slot. */
static void cancel(struct vdev *dev, uint64_t tag, bool timer)
{
	struct io_uring_sqe *sqe = get_sqe(dev, CANCEL_TAG);

	if (!sqe)
		return;	/* the stale CQE is dropped by its generation anyway */
	if (timer)
		io_uring_prep_timeout_remove(sqe, tag, 0);
	else
		io_uring_prep_poll_remove(sqe, tag);
	io_uring_sqe_set_data64(sqe, CANCEL_TAG);
}

int vdev_unwatch_fd(struct vdev *dev, int id)
{
	struct vdev_watch *w;

	if (id < 0 || id >= VDEV_MAX_WATCHES || dev->watches[id].fd < 0)
		return -EINVAL;
	w = &dev->watches[id];
	cancel(dev, tag_of(false, w->gen, (unsigned)id), false);
	w->fd = -1;
	w->gen++;
	return 0;
}

int vdev_timer_start(struct vdev *dev, unsigned ms, bool periodic, vdev_timer_cb cb, void *arg)
{
	if (!dev->ring)
		return -ENODEV;
	if (!cb || (periodic && !ms))
		return -EINVAL;
	for (unsigned i = 0; i < VDEV_MAX_TIMERS; i++) {
		struct vdev_timer *t = &dev->timers[i];

		if (t->armed)
			continue;
		*t = (struct vdev_timer){
			.armed = true, .periodic = periodic, .gen = t->gen + 1, .cb = cb, .arg = arg,
			.ts = { .tv_sec = ms / 1000, .tv_nsec = (long long)(ms % 1000) * 1000000 },
		};
		if (arm_timer(dev, i)) {
			t->armed = false;
			return -EBUSY;
		}
		return (int)i;
	}
	return -ENOSPC;
}

int vdev_timer_stop(struct vdev *dev, int id)
{
	struct vdev_timer *t;

	if (id < 0 || id >= VDEV_MAX_TIMERS || !dev->timers[id].armed)
		return -EINVAL;
	t = &dev->timers[id];
	cancel(dev, tag_of(true, t->gen, (unsigned)id), true);
	t->armed = false;
	t->gen++;
	return 0;
}

static void watch_fired(struct vdev *dev, unsigned i, uint32_t gen, int32_t res)
{
	struct vdev_watch *w = &dev->watches[i];

	if (i >= VDEV_MAX_WATCHES || w->fd < 0 || w->gen != gen)
		return;
	if (res < 0) {	/* a bad fd: the watch ends, the device hears of it once */
		w->fd = -1;
		w->gen++;
		w->cb(dev, -1, 0, w->arg);
		return;
	}
	w->cb(dev, w->fd, (uint32_t)res, w->arg);
	if (w->fd >= 0 && w->gen == gen && arm_watch(dev, i)) {
		w->fd = -1;	/* no SQE: the watch ends, as for a bad fd */
		w->gen++;
		w->cb(dev, -1, 0, w->arg);
	}
}

static void timer_fired(struct vdev *dev, unsigned i, uint32_t gen, int32_t res)
{
	struct vdev_timer *t = &dev->timers[i];

	if (i >= VDEV_MAX_TIMERS || !t->armed || t->gen != gen || res != -ETIME)
		return;
	if (!t->periodic) {
		t->armed = false;
		t->gen++;
	}
	t->cb(dev, t->arg);
	if (t->armed && t->gen == gen && t->periodic && arm_timer(dev, i)) {
		t->armed = false;
		t->gen++;
	}
}

void vdev_watch_complete(struct vdev *dev, uint64_t user_data, int32_t res)
{
	unsigned index = (unsigned)(user_data & INDEX_MASK);
	uint32_t gen = (uint32_t)(user_data >> GEN_SHIFT);

	if (user_data == CANCEL_TAG)
		return;
	if (user_data & KIND_TIMER)
		timer_fired(dev, index, gen, res);
	else
		watch_fired(dev, index, gen, res);
}
