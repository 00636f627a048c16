/*
 * Until the balloon device lands (vmm/balloon_ctl.c, issue 9): no VM has
 * a balloon, so crosvm.socket answers its balloon requests with ENODEV.
 * DELETE this file when balloon_ctl.c is merged (duplicate symbols).
 */
#include <errno.h>
#include <stddef.h>

#include "vmm/balloon_ctl.h"

struct balloon_ctl *vm_balloon(struct vm *vm)
{
	return NULL;
}

int balloon_ctl_set_target(struct balloon_ctl *b, uint64_t bytes)
{
	return -ENODEV;
}

uint64_t balloon_ctl_target(const struct balloon_ctl *b)
{
	return 0;
}

uint64_t balloon_ctl_actual(const struct balloon_ctl *b)
{
	return 0;
}

int balloon_ctl_stats(struct balloon_ctl *b, unsigned timeout_ms, balloon_stats_fn cb, void *ctx)
{
	return -ENODEV;
}

int balloon_ctl_wait(struct balloon_ctl *b, unsigned timeout_ms, balloon_wait_fn cb, void *ctx)
{
	return -ENODEV;
}

int balloon_ctl_subscribe(struct balloon_ctl *b, balloon_event_fn cb, void *ctx)
{
	return -ENODEV;
}

void balloon_ctl_cancel(struct balloon_ctl *b, void *ctx)
{
}
