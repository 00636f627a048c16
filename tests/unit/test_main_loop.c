/*
 * The main loop's one readiness path: watches fire, may change the table
 * from inside a callback, and a device's link fds follow the link through
 * its lifecycle op (a closed fd leaves the table, a dead root disk stops
 * the VM), with a fake link and no KVM.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check.h"
#include "vmm/log.h"
#include "vmm/main_loop.h"
#include "vmm/vm.h"

static struct vm vm;

static bool watched(int fd)
{
	for (unsigned i = 0; i < VM_MAX_WATCHES; i++)
		if (vm.watches[i].fd == fd)
			return true;
	return false;
}

/* --- plain watches --- */

static unsigned fired_a, fired_b;
static int pipe_a[2], pipe_b[2];

static void on_b(struct vm *v, void *ctx, short revents)
{
	(void)v, (void)ctx, (void)revents;
	fired_b++;
}

/* Replaces itself with b inside the callback. */
static void on_a(struct vm *v, void *ctx, short revents)
{
	(void)ctx;
	CHECK(revents & POLLIN);
	fired_a++;
	vm_watch(v, pipe_a[0], 0, NULL, NULL);
	vm_watch(v, pipe_b[0], POLLIN, on_b, NULL);
}

static void test_watches(void)
{
	CHECK_EQ(pipe2(pipe_a, O_CLOEXEC), 0);
	CHECK_EQ(pipe2(pipe_b, O_CLOEXEC), 0);
	CHECK_EQ(vm_watch(&vm, pipe_a[0], POLLIN, on_a, NULL), 0);
	CHECK_EQ(main_loop_turn(&vm, 0), 0);			/* nothing yet */
	CHECK_EQ(write(pipe_a[1], "x", 1), 1);
	CHECK_EQ(write(pipe_b[1], "y", 1), 1);
	CHECK_EQ(main_loop_turn(&vm, 0), 1);
	CHECK_EQ(fired_a, 1);
	CHECK_EQ(fired_b, 0);		/* added in this turn: polled from the next */
	CHECK(!watched(pipe_a[0]));
	CHECK_EQ(main_loop_turn(&vm, 0), 1);
	CHECK_EQ(fired_a, 1);
	CHECK_EQ(fired_b, 1);
	vm_watch(&vm, pipe_b[0], 0, NULL, NULL);
	for (unsigned i = 0; i < 2; i++) {
		close(pipe_a[i]);
		close(pipe_b[i]);
	}
}

/* --- an fd number reused inside a turn --- */

static int pipe_old[2], spare_fd, fired_new;

static void on_new(struct vm *v, void *ctx, short revents)
{
	(void)v, (void)ctx, (void)revents;
	fired_new++;
}

static void on_old(struct vm *v, void *ctx, short revents)
{
	(void)v, (void)ctx, (void)revents;
}

/* Closes the readable pipe end, whose number an idle eventfd then takes,
 * watched in the slot the pipe's watch left. */
static void on_closer(struct vm *v, void *ctx, short revents)
{
	int fd = pipe_old[0];

	(void)ctx, (void)revents;
	vm_watch(v, fd, 0, NULL, NULL);
	close(fd);
	CHECK_EQ(dup2(spare_fd, fd), fd);
	CHECK_EQ(vm_watch(v, fd, POLLIN, on_new, NULL), 0);
}

static void test_reused_fd_number(void)
{
	int closer[2];

	CHECK_EQ(pipe2(closer, O_CLOEXEC), 0);
	CHECK_EQ(pipe2(pipe_old, O_CLOEXEC), 0);
	spare_fd = eventfd(0, EFD_CLOEXEC);	/* never readable */
	CHECK_EQ(vm_watch(&vm, closer[0], POLLIN, on_closer, NULL), 0);	/* slot 0 */
	CHECK_EQ(vm_watch(&vm, pipe_old[0], POLLIN, on_old, NULL), 0);	/* slot 1 */
	CHECK_EQ(write(closer[1], "x", 1), 1);
	CHECK_EQ(write(pipe_old[1], "x", 1), 1);
	CHECK_EQ(main_loop_turn(&vm, 0), 1);
	CHECK_EQ(fired_new, 0);		/* the old pipe's POLLIN is not the eventfd's */
	vm_watch(&vm, closer[0], 0, NULL, NULL);
	CHECK_EQ(main_loop_turn(&vm, 0), 0);
	CHECK_EQ(fired_new, 0);
	vm_watch(&vm, pipe_old[0], 0, NULL, NULL);
	close(pipe_old[0]);
	close(pipe_old[1]);
	close(closer[0]);
	close(closer[1]);
	close(spare_fd);
}

static void test_full_table(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	unsigned taken = 0;

	while (vm_watch(&vm, fd + (int)taken + 1000, POLLIN, on_b, NULL) == 0)
		taken++;
	CHECK_EQ(taken, VM_MAX_WATCHES);
	for (unsigned i = 0; i < taken; i++)
		vm_watch(&vm, fd + (int)i + 1000, 0, NULL, NULL);
	CHECK(!watched(fd + 1000));
	close(fd);
}

/* --- a device's link --- */

struct fake_link {
	struct vdev_link link;
	int ctl[2], log[2];	/* pipes: slot 0 and slot 2; slot 1 never has an fd */
	unsigned served_ctl, served_log, stopped;
	enum vdev_link_status status;
};

static struct fake_link *fake_of(struct vdev_link *link)
{
	return link->priv;
}

static void serve_ctl(struct vdev_link *link, short revents)
{
	struct fake_link *f = fake_of(link);
	char c;

	(void)revents;
	f->served_ctl++;
	if (read(f->ctl[0], &c, 1) == 1 && c == 'd')
		f->status = VDEV_LINK_DEAD;
}

/* EOF: the link closes its end, as link_child does with a device's stderr. */
static void serve_log(struct vdev_link *link, short revents)
{
	struct fake_link *f = fake_of(link);
	char c;

	(void)revents;
	f->served_log++;
	if (read(f->log[0], &c, 1) == 0) {
		close(f->log[0]);
		f->log[0] = -1;
	}
}

static unsigned fake_watches(struct vdev_link *link, struct vdev_link_watch *w)
{
	struct fake_link *f = fake_of(link);

	w[0] = (struct vdev_link_watch){ f->ctl[0], POLLIN, serve_ctl };
	w[1] = (struct vdev_link_watch){ -1, POLLIN, NULL };
	w[2] = (struct vdev_link_watch){ f->log[0], POLLIN, serve_log };
	return 3;
}

static enum vdev_link_status fake_status(struct vdev_link *link)
{
	return fake_of(link)->status;
}

static void fake_stop(struct vdev_link *link)
{
	fake_of(link)->stopped++;
}

static const struct vdev_link_ops fake_ops = {
	.watches = fake_watches, .status = fake_status, .stop = fake_stop,
};

static void test_device_watches(void)
{
	static struct vm_device d = { .name = "blk0", .essential = true };
	static struct fake_link f = { .link = { .ops = &fake_ops, .priv = &f } };
	int reused[2], old_log;

	CHECK_EQ(pipe2(f.ctl, O_CLOEXEC), 0);
	CHECK_EQ(pipe2(f.log, O_CLOEXEC), 0);
	d.link = &f.link;
	CHECK_EQ(vm_device_watch(&vm, &d), 0);
	CHECK(watched(f.ctl[0]) && watched(f.log[0]));

	CHECK_EQ(write(f.ctl[1], "m", 1), 1);
	CHECK_EQ(main_loop_turn(&vm, 0), 1);
	CHECK_EQ(f.served_ctl, 1);
	CHECK_EQ(f.served_log, 0);

	/* The link closes its log fd: it leaves the table before anything can
	 * reuse the number, and a new fd there is not served as the link's. */
	close(f.log[1]);
	old_log = f.log[0];
	CHECK_EQ(main_loop_turn(&vm, 0), 1);
	CHECK_EQ(f.served_log, 1);
	CHECK(!watched(old_log));
	CHECK_EQ(pipe2(reused, O_CLOEXEC), 0);
	CHECK_EQ(write(reused[1], "z", 1), 1);
	CHECK_EQ(main_loop_turn(&vm, 0), 0);
	CHECK_EQ(f.served_log, 1);
	CHECK_EQ(atomic_load(&vm.exit_reason), VM_EXIT_NONE);

	/* The root disk's link goes dead: the VM stops, once. */
	CHECK_EQ(write(f.ctl[1], "d", 1), 1);
	CHECK_EQ(main_loop_turn(&vm, 0), 1);
	CHECK_EQ(atomic_load(&vm.exit_reason), VM_EXIT_CRASH);
	CHECK(d.dead_seen);
	CHECK_EQ(strcmp(vm_device_state(&d), "dead"), 0);

	/* Stopping takes every fd of the link out of the loop first. */
	vm_device_stop(&vm, &d);
	CHECK(!watched(f.ctl[0]));
	CHECK_EQ(f.stopped, 1);
	CHECK(d.link == NULL);
	close(f.ctl[0]);
	close(f.ctl[1]);
	close(reused[0]);
	close(reused[1]);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	for (unsigned i = 0; i < VM_MAX_WATCHES; i++)
		vm.watches[i].fd = -1;
	vm.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	atomic_init(&vm.exit_reason, VM_EXIT_NONE);
	test_watches();
	test_reused_fd_number();
	test_full_table();
	test_device_watches();
	return check_report("test_main_loop");
}
