/*
 * balloon_ctl never waits for its device: the main loop calls it, and the
 * balloon child may be compromised. A real device process (unjailed,
 * stopped with SIGSTOP once set up) never answers; the target and a stats
 * request must still return at once without killing it, the stats waiter
 * must time out with stale stats, and a full control ring must give
 * -EAGAIN, not a wait.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot/guest_mem.h"
#include "check.h"
#include "devices/balloon.h"
#include "virtio/ctl_ring.h"
#include "vmm/balloon_ctl_impl.h"
#include "vmm/link_child.h"
#include "vmm/log.h"

#define RAM (2 * MIB)
#define HANG_GUARD_S 60

static void fake_notify(struct vdev *dev, unsigned q)
{
	(void)dev, (void)q;
}

static int fake_command(struct vdev *dev, const void *req, unsigned len, void *reply,
			unsigned *reply_len)
{
	(void)reply;
	*reply_len = 0;
	vdev_post_event(dev, req, len);	/* "done", as the VMM can see it */
	return 0;
}

static const struct vdev_ops fake_ops = {
	.name = "balloon", .device_id = 5, .nr_queues = 3, .queue_size = 8,
	.notify = fake_notify, .command = fake_command,
};

static void on_alarm(int sig)
{
	static const char msg[] = "test_balloon_ctl_post: balloon_ctl waited for its device\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static struct balloon_stats got;
static unsigned nr_got;

static unsigned nr_echoed;

static void on_device_event(void *ctx, const void *buf, unsigned len)
{
	struct balloon_cmd c;

	(void)ctx;
	if (!balloon_dec_cmd(buf, len, &c) && c.op == BALLOON_CMD_SET_TARGET)
		nr_echoed++;
}

static void on_stats(void *ctx, const struct balloon_stats *st)
{
	(void)ctx;
	got = *st;
	nr_got++;
}

/* The main loop's part: the timer, until the waiter is answered. */
static void run_timer(struct balloon_ctl *b)
{
	struct pollfd p = { balloon_ctl_timer_fd(b), POLLIN, 0 };

	while (!nr_got && poll(&p, 1, -1) == 1)
		balloon_ctl_tick(b);
}

int main(void)
{
	static uint8_t ram[RAM];
	static struct vdev dev;
	static struct link_child lc;
	struct link_child_options opt = { .sandbox = false };
	struct guest_mem mem;
	struct balloon_ctl *b;
	siginfo_t info;
	char err[256];
	int rc = 0;

	log_set_level(LOG_ERROR);
	signal(SIGALRM, on_alarm);
	alarm(HANG_GUARD_S);
	guest_mem_layout(&mem, ram, RAM);
	vdev_init(&dev, &fake_ops, NULL, "balloon0", &mem);
	if (link_child_start(&lc, &dev, &opt, err, sizeof(err))) {
		fprintf(stderr, "link_child_start: %s\n", err);
		return 1;
	}
	CHECK_EQ(kill(lc.child.pid, SIGSTOP), 0);
	CHECK_EQ(waitid(P_PIDFD, lc.child.pidfd, &info, WSTOPPED), 0);
	b = balloon_ctl_create(RAM, 0, &lc.link);
	CHECK(b != NULL);

	/* Posted: no answer is waited for, and silence is not a failure. */
	CHECK_EQ(balloon_ctl_set_target(b, 64 * 4096), 0);
	CHECK_EQ(balloon_ctl_target(b), 64 * 4096);
	CHECK_EQ(balloon_ctl_stats(b, 20, on_stats, NULL), 0);
	CHECK_EQ(nr_got, 0);		/* never inside the call */
	run_timer(b);
	CHECK_EQ(nr_got, 1);
	CHECK(got.stale);
	CHECK(!lc.dead);
	CHECK_EQ(lc.link.ops->status(&lc.link), VDEV_LINK_RUNNING);

	/* A device that does not drain its SQ fills it: then -EAGAIN, at once. */
	for (unsigned i = 0; i < 2 * CTL_RING_SLOTS && !rc; i++)
		rc = balloon_ctl_set_target(b, 4096);
	CHECK_EQ(rc, -EAGAIN);
	CHECK(!lc.dead);

	/* Woken, the device carries out what was posted (it echoes each
	 * command as an event), and the link is still sound. */
	vdev_link_on_device_event(&lc.link, on_device_event, NULL);
	CHECK_EQ(kill(lc.child.pid, SIGCONT), 0);
	while (!nr_echoed && !lc.dead && ctl_ring_wait(&lc.ctl, -1) > 0)
		link_child_serve(&lc);
	CHECK(nr_echoed > 0);
	CHECK(!lc.dead);
	balloon_ctl_destroy(b);
	link_child_stop(&lc);
	vdev_destroy(&dev);
	return check_report("test_balloon_ctl_post");
}
