/*
 * The VMM's main loop: one poll over a table of watches, each an fd with
 * what to call when it fires. Signals, console input, the control socket,
 * the agent and every device's link register here like any other.
 */
#ifndef VMSILO_MAIN_LOOP_H
#define VMSILO_MAIN_LOOP_H

#include <signal.h>

struct vm;

/* The devices' link fds (VDEV_LINK_MAX_WATCHES each), the loop's own,
 * the control socket and its clients, the agent. */
#define VM_MAX_WATCHES 96

typedef void (*vm_watch_fn)(struct vm *vm, void *ctx, short revents);

struct vm_watch {
	int fd;			/* -1: a free slot */
	short events;
	vm_watch_fn fn;
	void *ctx;
	unsigned gen;		/* bumped on each change: a turn skips a slot changed in it */
};

/*
 * Polls fd for events in the main loop and calls fn with what came; a
 * second call for the same fd replaces the first, events 0 removes it.
 * Main-loop thread only (callbacks may add and remove watches). Returns -1
 * when all VM_MAX_WATCHES slots are taken.
 */
int vm_watch(struct vm *vm, int fd, short events, vm_watch_fn fn, void *ctx);
/*
 * One round: polls every watch for up to timeout_ms (-1: until one fires)
 * and calls each that fired. The number that fired, or -1 on a poll error.
 */
int main_loop_turn(struct vm *vm, int timeout_ms);
/* Turns until an exit is requested (vm_request_exit). */
void main_loop_run(struct vm *vm);
/* The signals the main loop handles (power button, stop); they must be
 * blocked in every thread before the VM runs. */
void vm_stop_signals(sigset_t *set);

#endif
