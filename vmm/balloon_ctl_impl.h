/*
 * How the VMM builds and feeds a balloon_ctl (balloon_ctl.h is what its
 * users see): the device is reached through its link, posted; its
 * events and the timerfd are fed in from the main loop.
 */
#ifndef VMSILO_BALLOON_CTL_IMPL_H
#define VMSILO_BALLOON_CTL_IMPL_H

#include "vmm/balloon_ctl.h"

struct vm_device;
struct balloon_config;

struct vdev_link;

/*
 * Stats are requested every stats_interval_s seconds (0: only on request).
 * Commands go to the device over link posted (vdev_link_post), never
 * waited for: this runs on the main loop, and the device may be hostile.
 */
struct balloon_ctl *balloon_ctl_create(uint64_t ram_bytes, unsigned stats_interval_s,
				       struct vdev_link *link);
void balloon_ctl_destroy(struct balloon_ctl *b);
/* Readable when a deadline passed or a callback is due: call balloon_ctl_tick. */
int balloon_ctl_timer_fd(const struct balloon_ctl *b);
void balloon_ctl_tick(struct balloon_ctl *b);
/* A LINK_DEVICE_EVENT from the balloon device: hostile, checked here. */
void balloon_ctl_event(struct balloon_ctl *b, const void *buf, unsigned len);
/* The device process died: waiters get -ENODEV or stale stats. */
void balloon_ctl_device_gone(struct balloon_ctl *b);

/*
 * The VM's balloon, for the started device d: events and the timer
 * are served by the VM's main loop, vm_balloon() returns it and
 * vm_destroy() frees it. 0 or -errno.
 */
int vm_attach_balloon(struct vm *vm, struct vm_device *d, const struct balloon_config *cfg);

#endif
