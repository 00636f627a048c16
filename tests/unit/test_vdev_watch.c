/*
 * fd watches and timers on the device loop, for devices that bring their
 * own event loops: behind link_local (callbacks counted, re-armed,
 * stopped), and in a real jailed device process, whose restricted
 * io_uring must accept them (the device echoes what it sees to a pipe).
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check.h"
#include "devices/link_local.h"
#include "vmm/link_child.h"

#define WAITS 50		/* link_local_wait rounds before giving up */
#define WAIT_MS 200
#define ENOUGH_MS 10000		/* only so a broken test cannot hang */

struct counts {
	unsigned fd_calls, timer_calls, stop_after;
	uint32_t revents;
	int timer_id;
};

static struct counts counts;

static void on_fd(struct vdev *dev, int fd, uint32_t revents, void *arg)
{
	uint64_t v;

	(void)dev;
	CHECK(arg == &counts);
	counts.fd_calls++;
	counts.revents = revents;
	if (fd >= 0)
		(void)!read(fd, &v, sizeof(v));
}

static void on_timer(struct vdev *dev, void *arg)
{
	CHECK(arg == &counts);
	if (++counts.timer_calls == counts.stop_after)
		CHECK_EQ(vdev_timer_stop(dev, counts.timer_id), 0);
}

static void fake_notify(struct vdev *dev, unsigned q)
{
	(void)dev;
	(void)q;
}

static const struct vdev_ops fake_ops = {
	.name = "fake", .device_id = 4, .nr_queues = 1, .queue_size = 8, .notify = fake_notify,
};

/* Waits until *what reaches want, or WAITS rounds pass. */
static void wait_for(struct link_local *ll, const unsigned *what, unsigned want)
{
	for (unsigned i = 0; i < WAITS && *what < want; i++)
		link_local_wait(ll, WAIT_MS);
}

static void test_fd_watch(struct link_local *ll, struct vdev *dev)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int id;

	counts = (struct counts){ 0 };
	id = vdev_watch_fd(dev, efd, POLLIN, on_fd, &counts);
	CHECK(id >= 0);
	CHECK_EQ(write(efd, &(uint64_t){ 1 }, 8), 8);
	wait_for(ll, &counts.fd_calls, 1);
	CHECK_EQ(counts.fd_calls, 1);
	CHECK(counts.revents & POLLIN);
	CHECK_EQ(write(efd, &(uint64_t){ 1 }, 8), 8);	/* re-armed after the callback */
	wait_for(ll, &counts.fd_calls, 2);
	CHECK_EQ(counts.fd_calls, 2);
	CHECK_EQ(vdev_unwatch_fd(dev, id), 0);
	CHECK_EQ(vdev_unwatch_fd(dev, id), -EINVAL);
	CHECK_EQ(write(efd, &(uint64_t){ 1 }, 8), 8);	/* unwatched: no call */
	link_local_wait(ll, WAIT_MS);
	link_local_wait(ll, WAIT_MS);
	CHECK_EQ(counts.fd_calls, 2);
	close(efd);
}

static void test_watch_slots_bounded(struct vdev *dev)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), ids[VDEV_MAX_WATCHES];

	for (unsigned i = 0; i < VDEV_MAX_WATCHES; i++)
		CHECK((ids[i] = vdev_watch_fd(dev, efd, POLLIN, on_fd, &counts)) >= 0);
	CHECK_EQ(vdev_watch_fd(dev, efd, POLLIN, on_fd, &counts), -ENOSPC);
	CHECK_EQ(vdev_watch_fd(dev, -1, POLLIN, on_fd, &counts), -EINVAL);
	for (unsigned i = 0; i < VDEV_MAX_WATCHES; i++)
		CHECK_EQ(vdev_unwatch_fd(dev, ids[i]), 0);
	close(efd);
}

static void test_timers(struct link_local *ll, struct vdev *dev)
{
	counts = (struct counts){ 0 };
	counts.timer_id = vdev_timer_start(dev, 1, false, on_timer, &counts);
	CHECK(counts.timer_id >= 0);
	wait_for(ll, &counts.timer_calls, 1);
	CHECK_EQ(counts.timer_calls, 1);
	CHECK_EQ(vdev_timer_stop(dev, counts.timer_id), -EINVAL);	/* one-shot: done */

	/* Periodic, stopped from its own callback at the third expiry. */
	counts = (struct counts){ .stop_after = 3 };
	counts.timer_id = vdev_timer_start(dev, 1, true, on_timer, &counts);
	CHECK(counts.timer_id >= 0);
	wait_for(ll, &counts.timer_calls, 3);
	link_local_wait(ll, WAIT_MS);
	link_local_wait(ll, WAIT_MS);
	CHECK_EQ(counts.timer_calls, 3);

	/* Stopped before it fires: never called. */
	counts = (struct counts){ 0 };
	counts.timer_id = vdev_timer_start(dev, 50, false, on_timer, &counts);
	CHECK_EQ(vdev_timer_stop(dev, counts.timer_id), 0);
	link_local_wait(ll, WAIT_MS);
	link_local_wait(ll, WAIT_MS);
	CHECK_EQ(counts.timer_calls, 0);
	CHECK_EQ(vdev_timer_start(dev, 0, true, on_timer, &counts), -EINVAL);
}

static void test_local(void)
{
	struct link_local ll;
	struct vdev dev;

	vdev_init(&dev, &fake_ops, NULL, "fake0", NULL);
	CHECK_EQ(vdev_timer_start(&dev, 1, false, on_timer, &counts), -ENODEV);
	CHECK_EQ(link_local_init(&ll, &dev), 0);
	test_fd_watch(&ll, &dev);
	test_watch_slots_bounded(&dev);
	test_timers(&ll, &dev);
	link_local_destroy(&ll);
}

/* --- the same in a jailed device process --- */

static const struct sandbox_syscall jail_rules[] = { DEVICE_PROCESS_RULES };
static const struct sandbox_policy jail_policy = {
	.name = "probe", .rules = jail_rules, .nr_rules = 1,
};
static int in_fd = -1, out_fd = -1;	/* pipes, the same numbers in the child */

static void echo_fd(struct vdev *dev, int fd, uint32_t revents, void *arg)
{
	char c;

	(void)dev;
	(void)revents;
	(void)arg;
	if (fd >= 0 && read(fd, &c, 1) == 1)
		(void)!write(out_fd, &c, 1);
}

static void say_timer(struct vdev *dev, void *arg)
{
	(void)dev;
	(void)arg;
	(void)!write(out_fd, "T", 1);
}

static int start_watching(struct vdev *dev)
{
	if (vdev_watch_fd(dev, in_fd, POLLIN, echo_fd, NULL) < 0)
		return -1;
	return vdev_timer_start(dev, 1, false, say_timer, NULL) < 0 ? -1 : 0;
}

static const struct vdev_ops jailed_ops = { .name = "probe", .activate = start_watching };

static char read_one(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c = 0;

	if (poll(&pfd, 1, ENOUGH_MS) != 1 || read(fd, &c, 1) != 1)
		return 0;
	return c;
}

static void test_jailed(void)
{
	int in[2], out[2], fds[2];
	struct link_child_options opt = {
		.sandbox = true, .policy = &jail_policy, .device_fds = fds, .nr_device_fds = 2,
	};
	struct link_child lc;
	struct vdev dev;
	char err[256] = "";

	CHECK_EQ(pipe2(in, O_CLOEXEC), 0);
	CHECK_EQ(pipe2(out, O_CLOEXEC), 0);
	in_fd = fds[0] = in[0];
	out_fd = fds[1] = out[1];
	memset(&lc, 0, sizeof(lc));
	vdev_init(&dev, &jailed_ops, NULL, "probe0", NULL);
	if (link_child_start(&lc, &dev, &opt, err, sizeof(err))) {
		if (strstr(err, "namespace"))
			printf("SKIP: jailed watch test: %s\n", err);
		else
			CHECK_STR(err, "");
		return;
	}
	CHECK_EQ(lc.link.ops->activate(&lc.link, 0), 0);
	CHECK_EQ(read_one(out[0]), 'T');
	CHECK_EQ(write(in[1], "x", 1), 1);
	CHECK_EQ(read_one(out[0]), 'x');
	CHECK(!lc.dead);
	link_child_stop(&lc);
	for (unsigned i = 0; i < 2; i++) {
		close(in[i]);
		close(out[i]);
	}
}

int main(void)
{
	test_local();
	test_jailed();
	return check_report("test_vdev_watch");
}
