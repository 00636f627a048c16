/*
 * ops->init_jailed: a fake device in the real jail opens a file in its
 * init step, before the seccomp filter, and reads it after the filter is
 * on (at activation); the same open after the filter kills the device by
 * SIGSYS, so the file could only have been opened in the init step.
 * Needs root or unprivileged user namespaces; prints SKIP otherwise.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vmm/link_child.h"

#define SECRET "opened before seccomp"
#define FILE_NAME "init-probe"
#define WAIT_MS 10000

static const struct sandbox_syscall probe_rules[] = { DEVICE_PROCESS_RULES };
static const struct sandbox_policy probe_policy = {
	.name = "probe", .rules = probe_rules,
	.nr_rules = sizeof(probe_rules) / sizeof(probe_rules[0]),
};

static int opened_fd = -1;	/* in the device process */

static int open_probe_file(struct vdev *dev)
{
	(void)dev;
	opened_fd = open(FILE_NAME, O_RDONLY | O_CLOEXEC);	/* the jail's cwd: the bind dir */
	return opened_fd < 0 ? -1 : 0;
}

/* After the filter: the fd from the init step still reads the file. */
static int read_probe_file(struct vdev *dev)
{
	char buf[sizeof(SECRET)] = "";

	(void)dev;
	if (read(opened_fd, buf, sizeof(buf) - 1) != sizeof(SECRET) - 1)
		return -1;
	return strcmp(buf, SECRET) ? -1 : 0;
}

static int open_after_filter(struct vdev *dev)
{
	return open_probe_file(dev);
}

static const struct vdev_ops init_ops = {
	.name = "probe", .init_jailed = open_probe_file, .activate = read_probe_file,
};
static const struct vdev_ops late_ops = {
	.name = "probe", .activate = open_after_filter,
};

static char dir[] = "/tmp/vmsilo-init-jailed-XXXXXX";

static bool start(struct vdev *dev, struct link_child *lc, const struct vdev_ops *ops)
{
	struct link_child_options opt = { .sandbox = true, .policy = &probe_policy, .bind_dir = dir };
	char err[256] = "";
	int dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	CHECK_EQ(sandbox_dir_id(dir_fd, &opt.bind_dir_id), 0);
	close(dir_fd);
	memset(lc, 0, sizeof(*lc));
	vdev_init(dev, ops, NULL, "probe0", NULL);
	if (link_child_start(lc, dev, &opt, err, sizeof(err))) {
		CHECK_STR(err, "");
		return false;
	}
	return true;
}

static const char *death(struct link_child *lc)
{
	static char what[256];
	struct pollfd pfd = { .fd = lc->child.pidfd, .events = POLLIN };
	siginfo_t info;

	what[0] = '\0';
	if (poll(&pfd, 1, WAIT_MS) == 1 && !sandbox_wait(&lc->child, 0, &info)) {
		lc->reaped = true;
		sandbox_describe(&lc->child, &info, what, sizeof(what));
	}
	return what;
}

static void test_init_opens_before_filter(void)
{
	struct link_child lc;
	struct vdev dev;

	if (!start(&dev, &lc, &init_ops))
		return;
	CHECK_EQ(lc.link.ops->activate(&lc.link, 0), 0);
	CHECK(!lc.dead);
	link_child_stop(&lc);
}

static void test_open_after_filter_is_killed(void)
{
	struct link_child lc;
	struct vdev dev;
	char want[128];

	if (!start(&dev, &lc, &late_ops))
		return;
	lc.link.ops->activate(&lc.link, 0);	/* the device dies in it */
	snprintf(want, sizeof(want), "probe0: killed by SIGSYS (seccomp: syscall %d openat)",
		 SYS_openat);
	CHECK_STR(death(&lc), want);
	link_child_stop(&lc);
}

static int exit_0(void *arg)
{
	(void)arg;
	return 0;
}

int main(void)
{
	struct sandbox_config cfg = { .name = "probe", .enable = true, .nofile = 64 };
	struct sandbox_child c;
	siginfo_t info;
	char err[256], path[128];
	int fd;

	if (sandbox_spawn(&cfg, NULL, exit_0, NULL, &c, err, sizeof(err))) {
		printf("SKIP: jailed tests: %s\n", err);
		return check_report("test_init_jailed");
	}
	sandbox_wait(&c, 0, &info);
	sandbox_release(&c);
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/%s", dir, FILE_NAME);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && write(fd, SECRET, strlen(SECRET)) == (ssize_t)strlen(SECRET));
	close(fd);
	test_init_opens_before_filter();
	test_open_after_filter_is_killed();
	unlink(path);
	rmdir(dir);
	return check_report("test_init_jailed");
}
