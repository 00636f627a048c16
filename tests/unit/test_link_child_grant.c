/*
 * What link_child_options adds to a jailed device process beyond its
 * rings: the instance's extra seccomp rules on top of the kind's (a
 * syscall only the extra rules allow works with them and kills without
 * them), the device's own log level, and the host socket it connects to
 * at sandbox_socket_path(), jailed and with no_jail. A fake device does
 * each on a LINK_DEVICE_CMD.
 * Needs root or unprivileged user namespaces; prints SKIP otherwise.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "vmm/link_child.h"

#define WAIT_MS 10000

enum { CMD_GETPPID = 1, CMD_LOG_LEVEL, CMD_CONNECT };

static const struct sandbox_syscall kind_rules[] = {
	DEVICE_PROCESS_RULES,
	SANDBOX_ALLOW_EQ(socket, 0, AF_UNIX, "reach the host socket"),
	SANDBOX_ALLOW(connect, "reach the host socket"),
};
static const struct sandbox_policy kind_policy = {
	.name = "grant", .rules = kind_rules, .nr_rules = sizeof(kind_rules) / sizeof(kind_rules[0]),
};
static const struct sandbox_syscall extra_rules[] = {
	SANDBOX_ALLOW(getppid, "what this instance alone may do"),
};
static const struct sandbox_policy extra_policy = {
	.name = "grant-extra", .rules = extra_rules, .nr_rules = 1,
};

static int connect_and_send(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = sandbox_socket_path();
	int s, rc = 0;

	if (!path)
		return -ENOENT;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) || write(s, "g", 1) != 1)
		rc = -errno;
	if (s >= 0)
		close(s);
	return rc;
}

static int grant_command(struct vdev *dev, const void *req, unsigned len, void *reply,
			 unsigned *reply_len)
{
	uint8_t op = *(const uint8_t *)req;
	uint32_t level = (uint32_t)log_get_level();

	(void)dev;
	(void)len;
	*reply_len = 0;
	if (op == CMD_GETPPID)
		return syscall(SYS_getppid) < 0 ? -errno : 0;
	if (op == CMD_CONNECT)
		return connect_and_send();
	memcpy(reply, &level, sizeof(level));
	*reply_len = sizeof(level);
	return 0;
}

static const struct vdev_ops grant_ops = { .name = "grant", .command = grant_command };

static char dir[] = "/tmp/vmsilo-link-grant-XXXXXX";
static char sock_path[96];
static int listener = -1;

static bool start(struct vdev *dev, struct link_child *lc, const struct link_child_options *opt)
{
	char err[256] = "";

	memset(lc, 0, sizeof(*lc));
	vdev_init(dev, &grant_ops, NULL, "grant0", NULL);
	if (link_child_start(lc, dev, opt, err, sizeof(err))) {
		CHECK_STR(err, "");
		return false;
	}
	return true;
}

static int command(struct link_child *lc, uint8_t op, uint32_t *out)
{
	uint32_t reply = 0;
	unsigned reply_len = sizeof(reply);
	int rc = lc->link.ops->command(&lc->link, &op, 1, &reply, &reply_len);

	if (out)
		*out = reply_len == sizeof(reply) ? reply : ~0u;
	return rc;
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

static void test_extra_policy(void)
{
	struct link_child_options opt = { .sandbox = true, .policy = &kind_policy,
					   .extra_policy = &extra_policy };
	struct link_child lc;
	struct vdev dev;
	char want[128];

	if (start(&dev, &lc, &opt)) {
		CHECK_EQ(command(&lc, CMD_GETPPID, NULL), 0);
		CHECK(!lc.dead);
		link_child_stop(&lc);
	}
	opt.extra_policy = NULL;
	if (!start(&dev, &lc, &opt))
		return;
	CHECK_EQ(command(&lc, CMD_GETPPID, NULL), -EPIPE);	/* it died in the command */
	snprintf(want, sizeof(want), "grant0: killed by SIGSYS (seccomp: syscall %d getppid)",
		 SYS_getppid);
	CHECK_STR(death(&lc), want);
	link_child_stop(&lc);
}

static void test_log_level(void)
{
	struct link_child_options opt = { .sandbox = true, .policy = &kind_policy };
	enum log_level mine = log_get_level();
	struct link_child lc;
	struct vdev dev;
	uint32_t level;

	if (start(&dev, &lc, &opt)) {
		CHECK_EQ(command(&lc, CMD_LOG_LEVEL, &level), 0);
		CHECK_EQ(level, mine);	/* inherited */
		link_child_stop(&lc);
	}
	opt.log_level_set = true;
	opt.log_level = mine == LOG_TRACE ? LOG_ERROR : LOG_TRACE;
	if (start(&dev, &lc, &opt)) {
		CHECK_EQ(command(&lc, CMD_LOG_LEVEL, &level), 0);
		CHECK_EQ(level, opt.log_level);
		link_child_stop(&lc);
	}
	CHECK_EQ(log_get_level(), mine);	/* the VMM's stays */
}

/* The byte the device wrote on its connection (queued in the backlog). */
static char take_byte(void)
{
	struct pollfd pfd = { .fd = listener, .events = POLLIN };
	char byte = 0;
	int c = poll(&pfd, 1, WAIT_MS) == 1 ? accept4(listener, NULL, NULL, SOCK_CLOEXEC) : -1;

	if (c >= 0 && read(c, &byte, 1) != 1)
		byte = 0;
	if (c >= 0)
		close(c);
	return byte;
}

static void test_socket(bool no_jail)
{
	int fd = open(sock_path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct link_child_options opt = {
		.sandbox = true, .no_jail = no_jail, .policy = &kind_policy,
		.bind_socket_fd = fd, .bind_socket_name = "wayland-0",
	};
	struct link_child lc;
	struct vdev dev;

	CHECK(fd >= 0);
	if (start(&dev, &lc, &opt)) {
		close(fd);	/* as the VMM does after the start */
		CHECK_EQ(command(&lc, CMD_CONNECT, NULL), 0);
		CHECK_EQ(take_byte(), 'g');
		link_child_stop(&lc);
	} else {
		close(fd);
	}
	/* A device given no socket has no path. */
	opt.bind_socket_name = NULL;
	if (start(&dev, &lc, &opt)) {
		CHECK_EQ(command(&lc, CMD_CONNECT, NULL), -ENOENT);
		link_child_stop(&lc);
	}
}

static int exit_0(void *arg)
{
	(void)arg;
	return 0;
}

int main(void)
{
	struct sandbox_config cfg = { .name = "probe", .enable = true, .nofile = 64 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sandbox_child c;
	siginfo_t info;
	char err[256];

	if (sandbox_spawn(&cfg, NULL, exit_0, NULL, &c, err, sizeof(err))) {
		printf("SKIP: jailed tests: %s\n", err);
		return check_report("test_link_child_grant");
	}
	sandbox_wait(&c, 0, &info);
	sandbox_release(&c);
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock_path, sizeof(sock_path), "%s/compositor", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(listener >= 0 && !bind(listener, (struct sockaddr *)&sa, sizeof(sa)) &&
	      !listen(listener, 4));
	test_extra_policy();
	test_log_level();
	test_socket(false);
	test_socket(true);
	close(listener);
	unlink(sock_path);
	rmdir(dir);
	return check_report("test_link_child_grant");
}
