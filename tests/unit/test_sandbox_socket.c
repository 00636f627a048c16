/*
 * sandbox_config's bind socket: in the jail the very socket the caller
 * opened appears read-only at "/<name>" in the empty root, its fd is gone
 * and a connect() there reaches the host listener; without a jail
 * (enable = false, or no_jail) the device reaches it through its fd,
 * /proc/self/fd/N, and no_jail still loads the filter. Bad names, fds
 * that are not sockets and sockets whose name is gone are refused by
 * sandbox_spawn with one line.
 * Needs root or unprivileged user namespaces; prints SKIP otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "sandbox/sandbox.h"

#define NAME "wayland-0"

static const struct sandbox_syscall rules[] = {
	SANDBOX_ALLOW_EQ(socket, 0, AF_UNIX, "reach the bound socket"),
	SANDBOX_ALLOW(connect, "reach the bound socket"),
	SANDBOX_ALLOW_EQ(fcntl, 1, F_GETFD, "check the socket's fd is gone"),
	SANDBOX_ALLOW(newfstatat, "what the name shows"),
	SANDBOX_ALLOW(statfs, "whether the mount is read-only"),
};
static const struct sandbox_policy policy = {
	.name = "socket", .rules = rules, .nr_rules = sizeof(rules) / sizeof(rules[0]),
};

static char dir[] = "/tmp/vmsilo-sandbox-socket-XXXXXX";
static char sock_path[128];
static int listener = -1;

/* What the child checks; its exit status says which check failed. */
struct probe {
	int fd;				/* the socket's fd, as the parent passed it */
	bool jailed;
	bool cwd_is_dir;		/* no_jail with bind_dir: "." is dir */
	struct stat dir_st;
};

enum { OK, NO_PATH, WRONG_PATH, FD_KEPT, FD_GONE, NOT_SOCKET, WRITABLE, NO_CONNECT, NO_BYTE,
	WRONG_CWD };

static int connect_and_echo(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char byte = 'x';

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)))
		return NO_CONNECT;
	if (write(s, &byte, 1) != 1 || read(s, &byte, 1) != 1 || byte != 'y')
		return NO_BYTE;
	close(s);
	return OK;
}

static int probe_child(void *arg)
{
	const struct probe *p = arg;
	const char *path = sandbox_socket_path();
	char want[64];
	struct statvfs vfs;
	struct stat st;
	bool fd_open = fcntl(p->fd, F_GETFD) >= 0;

	if (!path)
		return NO_PATH;
	if (p->jailed)
		snprintf(want, sizeof(want), "/%s", NAME);
	else
		snprintf(want, sizeof(want), "/proc/self/fd/%d", p->fd);
	if (strcmp(path, want))
		return WRONG_PATH;
	if (p->jailed && fd_open)
		return FD_KEPT;
	if (!p->jailed && !fd_open)
		return FD_GONE;
	if (stat(path, &st) || !S_ISSOCK(st.st_mode))
		return NOT_SOCKET;
	if (p->jailed && (statvfs(path, &vfs) || !(vfs.f_flag & ST_RDONLY)))
		return WRITABLE;
	if (p->cwd_is_dir && (stat(".", &st) || st.st_ino != p->dir_st.st_ino ||
			      st.st_dev != p->dir_st.st_dev))
		return WRONG_CWD;
	return connect_and_echo(path);
}

/* The listener's side of one connection from the child: 'x' in, 'y' out. */
static void serve_one(void)
{
	struct pollfd pfd = { .fd = listener, .events = POLLIN };
	int c = poll(&pfd, 1, 5000) == 1 ? accept4(listener, NULL, NULL, SOCK_CLOEXEC) : -1;
	char byte = 0;

	CHECK(c >= 0);
	if (c < 0)
		return;
	CHECK_EQ(read(c, &byte, 1), 1);
	CHECK_EQ(byte, 'x');
	CHECK_EQ(write(c, "y", 1), 1);
	close(c);
}

static int reap(struct sandbox_child *c)
{
	siginfo_t info;

	CHECK_EQ(sandbox_wait(c, 0, &info), 0);
	sandbox_release(c);
	return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

static struct sandbox_config config(const char *name, int fd)
{
	static const int keep[] = { 2 };

	return (struct sandbox_config){
		.name = name, .enable = true, .keep_fds = keep, .nr_keep_fds = 1, .nofile = 64,
		.memlock = 64 << 10, .bind_socket_fd = fd, .bind_socket_name = NAME,
	};
}

/* Spawns a probe under cfg, answers its connection and returns its status. */
static int run_probe(const struct sandbox_config *cfg, struct probe *p)
{
	struct sandbox_child c;
	char err[256];
	int rc = sandbox_spawn(cfg, &policy, probe_child, p, &c, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "%s: %s\n", cfg->name, err);
		CHECK_EQ(rc, 0);
		return -1;
	}
	serve_one();
	return reap(&c);
}

static int open_socket_path(void)
{
	int fd = open(sock_path, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	CHECK(fd >= 0);
	return fd;
}

static void test_jailed(void)
{
	int fd = open_socket_path();
	struct sandbox_config cfg = config("jailed", fd);
	struct probe p = { .fd = fd, .jailed = true };

	CHECK_EQ(run_probe(&cfg, &p), OK);
	/* The parent's fd is its own: the child closed only its copy. */
	CHECK(fcntl(fd, F_GETFD) >= 0);
	close(fd);
}

static void test_unjailed(void)
{
	int fd = open_socket_path(), dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct sandbox_config cfg = config("no-jail", fd);
	struct probe p = { .fd = fd };

	cfg.no_jail = true;
	CHECK_EQ(run_probe(&cfg, &p), OK);
	/* no_jail: the bind dir is the working directory, the filter still kills. */
	cfg.bind_dir = dir;
	CHECK_EQ(sandbox_dir_id(dir_fd, &cfg.bind_dir_id), 0);
	CHECK_EQ(fstat(dir_fd, &p.dir_st), 0);
	p.cwd_is_dir = true;
	CHECK_EQ(run_probe(&cfg, &p), OK);
	cfg.bind_dir = NULL;
	p.cwd_is_dir = false;
	cfg.name = "plain";
	cfg.enable = false;
	CHECK_EQ(run_probe(&cfg, &p), OK);
	close(dir_fd);
	close(fd);
}

static int call_getppid(void *arg)
{
	(void)arg;
	return syscall(SYS_getppid) < 0 ? 1 : 0;
}

static void test_no_jail_keeps_filter(void)
{
	int fd = open_socket_path();
	struct sandbox_config cfg = config("no-jail", fd);
	struct sandbox_child c;
	char err[256];

	cfg.no_jail = true;
	CHECK_EQ(sandbox_spawn(&cfg, &policy, call_getppid, NULL, &c, err, sizeof(err)), 0);
	CHECK_EQ(reap(&c), 128 + SIGSYS);
	close(fd);
}

static void expect_refused(struct sandbox_config *cfg, int want_rc, const char *want_err)
{
	struct sandbox_child c;
	char err[256] = "";

	CHECK_EQ(sandbox_spawn(cfg, &policy, probe_child, NULL, &c, err, sizeof(err)), want_rc);
	CHECK_STR(err, want_err);
	CHECK_EQ(c.pidfd, -1);
}

/* A listening socket at path, and an O_PATH fd of it; the socket in *s. */
static int bound_socket(const char *path, int *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	*s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(*s >= 0 && !bind(*s, (struct sockaddr *)&sa, sizeof(sa)) && !listen(*s, 4));
	return open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
}

static void test_refused(void)
{
	static const char *const bad_names[] = { "", "a/b", ".", "..", "dir" };
	int fd = open_socket_path(), file = open("/dev/null", O_RDONLY | O_CLOEXEC), gone, s;
	struct sandbox_config cfg = config("bad", fd);
	char path[160], want[160];

	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		cfg.bind_socket_name = bad_names[i];
		expect_refused(&cfg, -EINVAL, "sandbox: bad: bind_socket_name: not a plain file name");
	}
	cfg.bind_socket_name = NAME;
	cfg.bind_socket_fd = file;
	snprintf(want, sizeof(want), "sandbox: bad: bind_socket_fd %d is not a socket", file);
	expect_refused(&cfg, -ENOTSOCK, want);
	/* Its name was removed: the jail cannot show it, and says so. */
	snprintf(path, sizeof(path), "%s/gone", dir);
	gone = bound_socket(path, &s);
	CHECK(gone >= 0 && !unlink(path));
	cfg.bind_socket_fd = gone;
	expect_refused(&cfg, -ENOENT, "sandbox: bad: cannot bind-mount the host socket into the "
		       "jail: No such file or directory");
	close(gone);
	close(s);
	close(file);
	close(fd);
}

int main(void)
{
	struct sandbox_config probe = { .name = "probe", .enable = true, .nofile = 64 };
	struct sandbox_child c;
	char err[256];
	int fd;

	if (sandbox_spawn(&probe, NULL, call_getppid, NULL, &c, err, sizeof(err))) {
		printf("SKIP: jailed tests: %s\n", err);
		return check_report("test_sandbox_socket");
	}
	reap(&c);
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock_path, sizeof(sock_path), "%s/compositor", dir);
	fd = bound_socket(sock_path, &listener);
	close(fd);
	test_jailed();
	test_unjailed();
	test_no_jail_keeps_filter();
	test_refused();
	close(listener);
	unlink(sock_path);
	rmdir(dir);
	return check_report("test_sandbox_socket");
}
