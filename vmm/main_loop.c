#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/main_loop.h"
#include "vmm/vm.h"

static void set_slot(struct vm_watch *w, int fd, short events, vm_watch_fn fn, void *ctx)
{
	unsigned gen = w->gen + 1;

	*w = events ? (struct vm_watch){ fd, events, fn, ctx, gen }
		    : (struct vm_watch){ .fd = -1, .gen = gen };
}

int vm_watch(struct vm *vm, int fd, short events, vm_watch_fn fn, void *ctx)
{
	struct vm_watch *free_slot = NULL;

	for (unsigned i = 0; i < VM_MAX_WATCHES; i++) {
		struct vm_watch *w = &vm->watches[i];

		if (w->fd == fd) {
			set_slot(w, fd, events, fn, ctx);
			return 0;
		}
		if (w->fd < 0 && !free_slot)
			free_slot = w;
	}
	if (!events)
		return 0;
	if (!free_slot)
		return -1;
	set_slot(free_slot, fd, events, fn, ctx);
	return 0;
}

/*
 * A callback may change the watches. A slot changed during the turn is
 * skipped: its revents may belong to an fd closed meanwhile whose number
 * a new watch took. Poll is level-triggered, so a skipped event that is
 * still true fires in the next turn.
 */
int main_loop_turn(struct vm *vm, int timeout_ms)
{
	struct pollfd fds[VM_MAX_WATCHES];
	unsigned gens[VM_MAX_WATCHES];
	int fired = 0;

	for (unsigned i = 0; i < VM_MAX_WATCHES; i++) {
		fds[i] = (struct pollfd){ .fd = vm->watches[i].fd, .events = vm->watches[i].events };
		gens[i] = vm->watches[i].gen;
	}
	if (poll(fds, VM_MAX_WATCHES, timeout_ms) < 0)
		return errno == EINTR ? 0 : -1;
	for (unsigned i = 0; i < VM_MAX_WATCHES; i++) {
		struct vm_watch w = vm->watches[i];

		if (fds[i].revents && w.fd >= 0 && w.gen == gens[i]) {
			w.fn(vm, w.ctx, fds[i].revents);
			fired++;
		}
	}
	return fired;
}

/* --- the loop's own watches --- */

static void drain(int fd)
{
	uint64_t count;

	(void)!read(fd, &count, sizeof(count));
}

static void on_wake(struct vm *vm, void *ctx, short revents)
{
	(void)vm, (void)revents;
	drain(*(int *)ctx);
}

static void forward_console_input(struct vm *vm)
{
	char buf[SERIAL_RX_SIZE];
	ssize_t n = read(vm->console->in_fd, buf, sizeof(buf));
	size_t len;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		vm->console->in_fd = -1;	/* input closed: stop polling it */
		return;
	}
	if (n < 0)
		return;
	len = (size_t)n;
	if (console_filter_input(vm->console, buf, &len)) {
		vm_request_exit(vm, VM_EXIT_STOPPED);
		return;
	}
	/* The loop only reads when there is room, but a burst may exceed it. */
	for (size_t done = 0; done < len;) {
		done += serial_receive(&vm->serial, (uint8_t *)buf + done, len - done);
		if (done < len)
			usleep(1000);
		if (atomic_load(&vm->exit_reason) != VM_EXIT_NONE)
			break;
	}
}

static void watch_console(struct vm *vm);

static void on_console(struct vm *vm, void *ctx, short revents)
{
	int fd = vm->console->in_fd;

	(void)ctx, (void)revents;
	forward_console_input(vm);
	if (vm->console->in_fd != fd)	/* input closed */
		vm_watch(vm, fd, 0, NULL, NULL);
	watch_console(vm);
}

/* Console input is read only when the serial port has room for it. */
static void watch_console(struct vm *vm)
{
	int fd = vm->console->in_fd;

	if (fd >= 0)
		vm_watch(vm, fd, serial_can_receive(&vm->serial) ? POLLIN : 0, on_console, NULL);
}

/* The guest drained console input: there is room again. */
static void on_serial_space(struct vm *vm, void *ctx, short revents)
{
	(void)ctx, (void)revents;
	drain(vm->serial_space_fd);
	watch_console(vm);
}

static void on_signal(struct vm *vm, void *ctx, short revents)
{
	struct signalfd_siginfo si;

	(void)revents;
	if (read(*(int *)ctx, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGTERM && !vm->button_pressed) {
		vm_press_power_button(vm, "SIGTERM (again to stop at once)");
		return;
	}
	log_warn("signal %d: stopping the VM", si.ssi_signo);
	vm->stop_signal = (int)si.ssi_signo;
	vm_request_exit(vm, VM_EXIT_STOPPED);
}

void vm_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

static int open_signalfd(void)
{
	sigset_t set;

	vm_stop_signals(&set);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void watch_own(struct vm *vm, int *sfd)
{
	if (*sfd >= 0)
		vm_watch(vm, *sfd, POLLIN, on_signal, sfd);
	else
		log_warn("signalfd: %s (stop signals will not be seen)", strerror(errno));
	vm_watch(vm, vm->wake_fd, POLLIN, on_wake, &vm->wake_fd);
	vm_watch(vm, vm->serial_space_fd, POLLIN, on_serial_space, NULL);
	watch_console(vm);
}

static void unwatch_own(struct vm *vm, int sfd)
{
	vm_watch(vm, sfd, 0, NULL, NULL);
	vm_watch(vm, vm->wake_fd, 0, NULL, NULL);
	vm_watch(vm, vm->serial_space_fd, 0, NULL, NULL);
	if (vm->console->in_fd >= 0)
		vm_watch(vm, vm->console->in_fd, 0, NULL, NULL);
}

void main_loop_run(struct vm *vm)
{
	int sfd = open_signalfd();

	watch_own(vm, &sfd);
	while (atomic_load(&vm->exit_reason) == VM_EXIT_NONE)
		if (main_loop_turn(vm, -1) < 0) {
			log_err("main loop: poll: %s", strerror(errno));
			vm_request_exit(vm, VM_EXIT_CRASH);
		}
	unwatch_own(vm, sfd);
	if (sfd >= 0)
		close(sfd);
}
