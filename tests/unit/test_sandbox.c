/*
 * Device-process jails: a forbidden syscall kills with SIGSYS and the
 * description names it, log mode survives, /proc shows seccomp, no_new_privs,
 * no capabilities and new namespaces, only kept fds survive, the root is an
 * empty tmpfs, bind_dir shares one directory and nothing more (and only
 * the one whose identity the caller gave, not what its name now leads to), the child dies
 * with its parent, enable=false only forks, and the pre_seccomp step runs
 * before the filter.
 * Needs root or unprivileged user namespaces; prints SKIP lines otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "sandbox/sandbox.h"

/*
 * What the test children need on top of the base list. In ASan builds the
 * base list itself adds what a clean exit needs (sigaltstack); an ASan
 * report is not covered (ioctl, open, getpid...): run with seccomp_log to
 * read one from a jailed child.
 */
static const struct sandbox_syscall test_rules[] = {
	SANDBOX_ALLOW(getpid, "the test child reports its pid"),
	SANDBOX_ALLOW_EQ(fcntl, 1, F_GETFD, "probe which fds are open"),
	SANDBOX_ALLOW(newfstatat, "stat the root and fds 0-2"),
	SANDBOX_ALLOW(statfs, "check the root is a tmpfs"),
	SANDBOX_ALLOW(openat, "check the root cannot be listed"),
};

static const struct sandbox_policy test_policy = {
	.name = "test",
	.rules = test_rules,
	.nr_rules = sizeof(test_rules) / sizeof(test_rules[0]),
};

static struct sandbox_config config(const char *name, const int *keep, unsigned n)
{
	return (struct sandbox_config){
		.name = name, .enable = true, .keep_fds = keep, .nr_keep_fds = n,
		.nofile = 64, .nproc = 0, .memlock = 64 << 10,
	};
}

static bool spawn(const struct sandbox_config *cfg, int (*fn)(void *), void *arg,
		  struct sandbox_child *c)
{
	char err[256];
	int rc = sandbox_spawn(cfg, &test_policy, fn, arg, c, err, sizeof(err));

	if (rc)
		fprintf(stderr, "spawn %s: %s\n", cfg->name, err);
	CHECK_EQ(rc, 0);
	return rc == 0;
}

/* Reaps the child and returns its description. */
static const char *reap(struct sandbox_child *c, siginfo_t *info)
{
	static char buf[256];

	CHECK_EQ(sandbox_wait(c, 0, info), 0);
	sandbox_describe(c, info, buf, sizeof(buf));
	sandbox_release(c);
	return buf;
}

static int call_forbidden(void *arg)
{
	syscall(SYS_getpid);
	syscall(SYS_getppid);
	return 0;
}

static void test_sigsys_and_log(void)
{
	struct sandbox_config cfg = config("sigsys", (const int[]){ 2 }, 1);
	struct sandbox_child c;
	siginfo_t info;
	char want[64];

	if (spawn(&cfg, call_forbidden, NULL, &c)) {
		snprintf(want, sizeof(want), "sigsys: killed by SIGSYS (seccomp: syscall %d getppid)", SYS_getppid);
		CHECK_STR(reap(&c, &info), want);
		CHECK_EQ(info.si_status, SIGSYS);
	}
	cfg.name = "log";
	cfg.seccomp_log = true;
	if (spawn(&cfg, call_forbidden, NULL, &c))
		CHECK_STR(reap(&c, &info), "log: exited with status 0");
}

static int wait_pipe(void *arg)
{
	char byte;

	return read(*(int *)arg, &byte, 1) == 1 ? byte : 99;
}

static bool status_has(pid_t pid, const char *line)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (!strstr(buf, line))
		fprintf(stderr, "/proc/%d/status lacks \"%s\"\n", pid, line);
	return strstr(buf, line);
}

static bool same_ns(pid_t pid, const char *ns)
{
	char path[64], mine[64] = "", theirs[64] = "";

	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	CHECK(readlink(path, mine, sizeof(mine) - 1) > 0);
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns);
	CHECK(readlink(path, theirs, sizeof(theirs) - 1) > 0);
	return !strcmp(mine, theirs);
}

static void test_proc_status(void)
{
	static const char *const ns[] = { "mnt", "pid", "net", "ipc", "uts" };
	struct sandbox_config cfg;
	struct sandbox_child c;
	siginfo_t info;
	int p[2];

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	cfg = config("status", p, 1);
	if (spawn(&cfg, wait_pipe, &p[0], &c)) {
		CHECK(status_has(c.pid, "Seccomp:\t2\n"));
		CHECK(status_has(c.pid, "NoNewPrivs:\t1\n"));
		CHECK(status_has(c.pid, "CapEff:\t0000000000000000\n"));
		CHECK(status_has(c.pid, "CapPrm:\t0000000000000000\n"));
		CHECK(status_has(c.pid, "CapBnd:\t0000000000000000\n"));
		for (unsigned i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
			if (same_ns(c.pid, ns[i]))
				fprintf(stderr, "the child shares the %s namespace\n", ns[i]);
			CHECK(!same_ns(c.pid, ns[i]));
		}
		CHECK(same_ns(c.pid, "user") == !geteuid());
		CHECK_EQ(write(p[1], "\0", 1), 1);
		CHECK_STR(reap(&c, &info), "status: exited with status 0");
	}
	close(p[0]);
	close(p[1]);
}

struct probe {
	int out;		/* where the child writes its findings */
	int fds[16];		/* open fds the child saw */
	int nr_fds;
	bool std_null;		/* fds 0 and 1 are /dev/null */
	pid_t pid;
	bool root_tmpfs, root_empty, root_mode0, root_ro, root_unreadable;
};

static int probe_fds(void *arg)
{
	struct probe *pr = arg;
	struct stat st[2];

	pr->nr_fds = 0;
	for (int fd = 0; fd < 1024 && pr->nr_fds < 16; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			pr->fds[pr->nr_fds++] = fd;
	pr->std_null = !fstat(0, &st[0]) && !fstat(1, &st[1]) &&
		       st[0].st_rdev == makedev(1, 3) && st[1].st_rdev == makedev(1, 3);
	return write(pr->out, pr, sizeof(*pr)) == sizeof(*pr) ? 0 : 1;
}

static bool has_fd(const struct probe *pr, int fd)
{
	for (int i = 0; i < pr->nr_fds; i++)
		if (pr->fds[i] == fd)
			return true;
	return false;
}

static void test_fds(void)
{
	struct probe pr = { 0 };
	int p[2], ev = eventfd(0, EFD_CLOEXEC), extra = dup(ev);
	struct sandbox_config cfg;
	struct sandbox_child c;
	siginfo_t info;
	int keep[3];

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	pr.out = p[1];
	keep[0] = 2, keep[1] = p[1], keep[2] = ev;
	cfg = config("fds", keep, 3);
	if (spawn(&cfg, probe_fds, &pr, &c)) {
		CHECK_STR(reap(&c, &info), "fds: exited with status 0");
		CHECK_EQ(read(p[0], &pr, sizeof(pr)), sizeof(pr));
		/* 0-2, the two kept fds, and the sandbox's report socket. */
		CHECK_EQ(pr.nr_fds, 6);
		CHECK(has_fd(&pr, 0) && has_fd(&pr, 1) && has_fd(&pr, 2));
		CHECK(has_fd(&pr, p[1]) && has_fd(&pr, ev));
		CHECK(!has_fd(&pr, p[0]) && !has_fd(&pr, extra));
		CHECK(pr.std_null);
	}
	close(p[0]);
	close(p[1]);
	close(ev);
	close(extra);
}

static int probe_root(void *arg)
{
	struct probe *pr = arg;
	struct statfs sfs;
	struct statvfs svfs;
	struct stat st;
	int fd;

	pr->pid = getpid();
	pr->root_tmpfs = !statfs("/", &sfs) && sfs.f_type == TMPFS_MAGIC;
	pr->root_ro = !statvfs("/", &svfs) && (svfs.f_flag & ST_RDONLY);
	/* tmpfs counts 20 bytes per entry: an empty directory has size 40. */
	pr->root_empty = !stat("/", &st) && S_ISDIR(st.st_mode) &&
			 st.st_nlink == 2 && st.st_size == 40;
	pr->root_mode0 = (st.st_mode & 07777) == 0;
	fd = open("/", O_RDONLY | O_DIRECTORY);
	pr->root_unreadable = fd < 0 && errno == EACCES;
	return write(pr->out, pr, sizeof(*pr)) == sizeof(*pr) ? 0 : 1;
}

static void test_root(void)
{
	struct probe pr = { 0 };
	struct sandbox_config cfg;
	struct sandbox_child c;
	siginfo_t info;
	int p[2], keep[2];

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	pr.out = p[1];
	keep[0] = 2, keep[1] = p[1];
	cfg = config("root", keep, 2);
	if (spawn(&cfg, probe_root, &pr, &c)) {
		CHECK_STR(reap(&c, &info), "root: exited with status 0");
		CHECK_EQ(read(p[0], &pr, sizeof(pr)), sizeof(pr));
		CHECK_EQ(pr.pid, 1);
		CHECK(pr.root_tmpfs);
		CHECK(pr.root_ro);
		CHECK(pr.root_empty);
		CHECK(pr.root_mode0);
		CHECK(pr.root_unreadable);
	}
	close(p[0]);
	close(p[1]);
}

struct bind_probe {
	int out;
	char host_path[64];	/* the shared directory, as the host names it */
	int relative, absolute, dotdot;	/* connect(): 0 or errno */
	bool created, noexec, nosuid, nodev, writable;
};

static const struct sandbox_syscall bind_rules[] = {
	SANDBOX_ALLOW(statfs, "mount flags of the shared directory"),
	SANDBOX_ALLOW(openat, "create a file in the shared directory"),
	SANDBOX_ALLOW_EQ(socket, 0, AF_UNIX, "reach a socket in the shared directory"),
	SANDBOX_ALLOW(connect, "reach a socket in the shared directory"),
};

static const struct sandbox_policy bind_policy = {
	"bind", bind_rules, sizeof(bind_rules) / sizeof(bind_rules[0]),
};

static int connect_errno(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a)) ? errno : 0;
	close(fd);
	return rc;
}

static int probe_bind(void *arg)
{
	struct bind_probe *pr = arg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct statvfs st;
	int fd;

	pr->relative = connect_errno("vsock.socket_7");
	snprintf(path, sizeof(path), "%s/vsock.socket_7", pr->host_path);
	pr->absolute = connect_errno(path);
	snprintf(path, sizeof(path), "../%s/vsock.socket_7", strrchr(pr->host_path, '/') + 1);
	pr->dotdot = connect_errno(path);
	fd = open("made-in-jail", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	pr->created = fd >= 0 && write(fd, "x", 1) == 1;
	if (!statvfs(".", &st)) {
		pr->noexec = st.f_flag & ST_NOEXEC;
		pr->nosuid = st.f_flag & ST_NOSUID;
		pr->nodev = st.f_flag & ST_NODEV;
		pr->writable = !(st.f_flag & ST_RDONLY);
	}
	return write(pr->out, pr, sizeof(*pr)) == sizeof(*pr) ? 0 : 1;
}

/* What the VMM would take from its own fd on the directory. */
static struct sandbox_dir_id dir_id_of(const char *dir)
{
	struct sandbox_dir_id id = { 0 };
	int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	CHECK_EQ(sandbox_dir_id(fd, &id), 0);
	close(fd);
	return id;
}

/* bind_dir: the child reaches that directory by relative paths and nothing else. */
static void test_bind_dir(void)
{
	struct bind_probe pr = { 0 };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *tmp = getenv("TMPDIR");
	struct sandbox_config cfg;
	struct sandbox_child c;
	char dir[64], file[96], err[256];
	siginfo_t info;
	int p[2], keep[2], lfd, cfd;

	snprintf(dir, sizeof(dir), "%s/test_sandbox.XXXXXX", tmp ? tmp : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/vsock.socket_7", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	CHECK_EQ(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(listen(lfd, 8), 0);
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	pr.out = p[1];
	snprintf(pr.host_path, sizeof(pr.host_path), "%s", dir);
	keep[0] = 2, keep[1] = p[1];
	cfg = config("bind", keep, 2);
	cfg.bind_dir = dir;
	cfg.bind_dir_id = dir_id_of(dir);
	if (sandbox_spawn(&cfg, &bind_policy, probe_bind, &pr, &c, err, sizeof(err))) {
		fprintf(stderr, "spawn bind: %s\n", err);
		CHECK(!"spawn with bind_dir");
	} else {
		CHECK_STR(reap(&c, &info), "bind: exited with status 0");
		CHECK_EQ(read(p[0], &pr, sizeof(pr)), sizeof(pr));
		CHECK_EQ(pr.relative, 0);
		CHECK(pr.absolute == ENOENT || pr.absolute == EACCES);
		CHECK(pr.dotdot == ENOENT || pr.dotdot == EACCES);
		CHECK(pr.created && pr.writable);
		CHECK(pr.noexec && pr.nosuid && pr.nodev);
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		CHECK(cfd >= 0);	/* the relative connect reached the host's listener */
		close(cfd);
	}
	snprintf(file, sizeof(file), "%s/made-in-jail", dir);
	CHECK_EQ(access(file, F_OK), 0);
	unlink(file);
	unlink(a.sun_path);
	rmdir(dir);
	close(lfd);
	close(p[0]);
	close(p[1]);
}

static int mark_ran(void *arg)
{
	return write(*(int *)arg, "r", 1) == 1 ? 0 : 1;
}

/* Spawns a child on bind_dir = path expecting id; true if it started. */
static bool spawn_on(const char *path, struct sandbox_dir_id id, int ran_fd, char *err, size_t len)
{
	int keep[2] = { 2, ran_fd };
	struct sandbox_config cfg = config("swapped", keep, 2);
	struct sandbox_child c;
	siginfo_t info;

	cfg.bind_dir = path;
	cfg.bind_dir_id = id;
	if (sandbox_spawn(&cfg, &bind_policy, mark_ran, &ran_fd, &c, err, len))
		return false;
	CHECK_STR(reap(&c, &info), "swapped: exited with status 0");
	return true;
}

/*
 * bind_dir's name was swapped for a link to another directory after the
 * VMM opened it (the user owning a parent can): the jail refuses it with
 * one clear line and the child never runs. Its own name still works.
 */
static void test_bind_dir_swapped(void)
{
	const char *tmp = getenv("TMPDIR");
	char base[64], opened[96], other[96], err[256] = "";
	struct sandbox_dir_id id;
	int p[2];
	char byte;

	snprintf(base, sizeof(base), "%s/test_sandbox.XXXXXX", tmp ? tmp : "/tmp");
	CHECK(mkdtemp(base) != NULL);
	snprintf(opened, sizeof(opened), "%s/vm", base);
	snprintf(other, sizeof(other), "%s/other", base);
	CHECK_EQ(mkdir(opened, 0700), 0);
	CHECK_EQ(mkdir(other, 0700), 0);
	CHECK_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	id = dir_id_of(opened);
	CHECK(spawn_on(opened, id, p[1], err, sizeof(err)));
	CHECK_EQ(read(p[0], &byte, 1), 1);

	CHECK_EQ(rmdir(opened), 0);
	CHECK_EQ(symlink(other, opened), 0);
	CHECK(!spawn_on(opened, id, p[1], err, sizeof(err)));
	CHECK_STR(err, "sandbox: swapped: cannot share the directory the VMM opened: "
		  "Stale file handle (its path now leads to another directory: swapped for a link?)");
	CHECK_EQ(read(p[0], &byte, 1), -1);	/* the child never ran */
	CHECK_EQ(errno, EAGAIN);

	err[0] = '\0';
	CHECK(!spawn_on(other, (struct sandbox_dir_id){ 0 }, p[1], err, sizeof(err)));
	CHECK(strstr(err, "cannot share the directory the VMM opened") != NULL);
	CHECK_EQ(read(p[0], &byte, 1), -1);	/* no identity given: refused too */
	unlink(opened);
	rmdir(other);
	rmdir(base);
	close(p[0]);
	close(p[1]);
}

/* One relative connect from a jail on dir, as root-without-caps or as uid. */
static int connect_from_jail(const char *dir, bool as_user, uid_t uid)
{
	struct bind_probe pr = { 0 };
	struct sandbox_config cfg;
	struct sandbox_child c;
	char err[256];
	siginfo_t info;
	int p[2], keep[2];

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	pr.out = p[1];
	snprintf(pr.host_path, sizeof(pr.host_path), "%s", dir);
	keep[0] = 2, keep[1] = p[1];
	cfg = config("asuser", keep, 2);
	cfg.bind_dir = dir;
	cfg.bind_dir_id = dir_id_of(dir);
	cfg.as_user = as_user, cfg.uid = uid, cfg.gid = uid;
	pr.relative = -1;
	if (sandbox_spawn(&cfg, &bind_policy, probe_bind, &pr, &c, err, sizeof(err))) {
		fprintf(stderr, "spawn asuser: %s\n", err);
		CHECK(!"spawn with as_user");
	} else {
		CHECK_STR(reap(&c, &info), "asuser: exited with status 0");
		CHECK_EQ(read(p[0], &pr, sizeof(pr)), sizeof(pr));
	}
	close(p[0]);
	close(p[1]);
	return pr.relative;
}

/*
 * as_user: a root VMM's device acting for the VM's user reaches that
 * user's 0700 directory and 0755 socket, which root without capabilities
 * cannot.
 */
static void test_as_user(void)
{
	const uid_t nobody = 65534;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char dir[64];
	int lfd;

	if (geteuid())
		return;	/* only a root VMM changes the jail's uid */
	snprintf(dir, sizeof(dir), "/tmp/test_sandbox_user.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/vsock.socket_7", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	CHECK_EQ(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(listen(lfd, 8), 0);
	CHECK_EQ(chown(a.sun_path, nobody, nobody), 0);
	CHECK_EQ(chmod(a.sun_path, 0755), 0);
	CHECK_EQ(chown(dir, nobody, nobody), 0);
	CHECK_EQ(chmod(dir, 0700), 0);
	CHECK_EQ(connect_from_jail(dir, false, 0), EACCES);
	CHECK_EQ(connect_from_jail(dir, true, nobody), 0);
	unlink(a.sun_path);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/made-in-jail", dir);
	unlink(a.sun_path);
	rmdir(dir);
	close(lfd);
}

/*
 * The parent dies: an intermediate process spawns a jailed grandchild and
 * exits. As a subreaper we inherit the grandchild and can see it killed.
 */
static void test_parent_death(void)
{
	int block[2], out[2], pidfd;
	pid_t mid, grandchild = -1;
	struct pollfd pfd;
	siginfo_t info = { 0 };

	CHECK_EQ(pipe2(block, O_CLOEXEC), 0);
	CHECK_EQ(pipe2(out, O_CLOEXEC), 0);
	CHECK_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	mid = fork();
	if (mid == 0) {
		struct sandbox_config cfg = config("orphan", (const int[]){ 2, block[0] }, 2);
		struct sandbox_child c;
		char err[256];

		if (sandbox_spawn(&cfg, &test_policy, wait_pipe, &block[0], &c,
				  err, sizeof(err)))
			fprintf(stderr, "spawn orphan: %s\n", err);
		_exit(write(out[1], &c.pid, sizeof(c.pid)) == sizeof(c.pid) ? 0 : 1);
	}
	CHECK_EQ(waitpid(mid, NULL, 0), mid);
	CHECK_EQ(read(out[0], &grandchild, sizeof(grandchild)), sizeof(grandchild));
	pidfd = grandchild > 0 ? (int)syscall(SYS_pidfd_open, grandchild, 0) : -1;
	CHECK(pidfd >= 0);
	if (pidfd >= 0) {
		pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		CHECK_EQ(poll(&pfd, 1, 5000), 1);
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		CHECK_EQ(waitid(P_PIDFD, pidfd, &info, WEXITED), 0);
		CHECK_EQ(info.si_code, CLD_KILLED);
		CHECK_EQ(info.si_status, SIGKILL);
		close(pidfd);
	}
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	for (int i = 0; i < 2; i++)
		close(block[i]), close(out[i]);
}

/* Reports getppid(), then waits for the parent's byte. */
static int report_ppid(void *arg)
{
	int *p = arg;
	pid_t ppid = getppid();
	char byte;

	if (write(p[1], &ppid, sizeof(ppid)) != sizeof(ppid))
		return 1;
	return read(p[2], &byte, 1) == 1 ? 0 : 1;
}

static void test_disabled(void)
{
	int p[4], keep[3];	/* child to parent, parent to child */
	struct sandbox_config cfg;
	struct sandbox_child c;
	siginfo_t info;
	pid_t ppid = 0;

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	CHECK_EQ(pipe2(p + 2, O_CLOEXEC), 0);
	keep[0] = 2, keep[1] = p[1], keep[2] = p[2];
	cfg = config("plain", keep, 3);
	cfg.enable = false;
	if (spawn(&cfg, report_ppid, p, &c)) {
		CHECK_EQ(read(p[0], &ppid, sizeof(ppid)), sizeof(ppid));
		CHECK_EQ(ppid, getpid());
		CHECK(same_ns(c.pid, "mnt") && same_ns(c.pid, "pid"));
		CHECK(same_ns(c.pid, "net") && same_ns(c.pid, "uts"));
		CHECK_EQ(write(p[3], "", 1), 1);
		CHECK_STR(reap(&c, &info), "plain: exited with status 0");
	}
	for (int i = 0; i < 4; i++)
		close(p[i]);
}

static int exit_3(void *arg)
{
	return 3;
}

static void test_errors(void)
{
	static const struct sandbox_syscall exec_rules[] = {
		SANDBOX_ALLOW(execve, "run a helper"),
	};
	static const struct sandbox_syscall mute_rules[] = {
		{ .nr = SYS_getpid },
	};
	static const struct sandbox_syscall uring_rules[] = {
		SANDBOX_ALLOW(io_uring_setup, "a ring of its own"),
		SANDBOX_ALLOW(io_uring_register, "more fds on the ring"),
	};
	struct sandbox_policy bad = { "bad", exec_rules, 1 };
	struct sandbox_config cfg = config("errors", (const int[]){ 2 }, 1);
	struct sandbox_child c;
	char err[256];

	CHECK(sandbox_spawn(&cfg, &bad, exit_3, NULL, &c, err, sizeof(err)) < 0);
	CHECK_STR(err, "sandbox: policy bad: rule 0 (execve) can never be allowed");
	bad.rules = mute_rules;
	CHECK(sandbox_spawn(&cfg, &bad, exit_3, NULL, &c, err, sizeof(err)) < 0);
	CHECK_STR(err, "sandbox: policy bad: rule 0 (getpid) has no reason");
	bad.rules = uring_rules;
	CHECK(sandbox_spawn(&cfg, &bad, exit_3, NULL, &c, err, sizeof(err)) < 0);
	CHECK_STR(err, "sandbox: policy bad: rule 0 (io_uring_setup) can never be allowed");
	bad.rules = uring_rules + 1;
	CHECK(sandbox_spawn(&cfg, &bad, exit_3, NULL, &c, err, sizeof(err)) < 0);
	CHECK_STR(err, "sandbox: policy bad: rule 0 (io_uring_register) can never be allowed");
}

/*
 * Rule sets combined into one policy must not contradict each other:
 * libseccomp would keep the first rule and drop the restriction silently.
 */
static void test_conflicting_rules(void)
{
	static const struct sandbox_syscall allow_then_fail[] = {
		SANDBOX_ALLOW(getppid, "a rule set allows it"),
		SANDBOX_FAIL(getppid, ENOSYS, "another refuses it"),
	};
	static const struct sandbox_syscall any_then_eq[] = {
		SANDBOX_ALLOW(getppid, "a rule set allows it"),
		SANDBOX_ALLOW_EQ(getppid, 0, 1, "another allows one argument only"),
	};
	static const struct sandbox_syscall eq_then_any[] = {
		SANDBOX_ALLOW_EQ(getppid, 0, 1, "one argument only"),
		SANDBOX_ALLOW(getppid, "any argument"),
	};
	static const struct sandbox_syscall against_base[] = {
		SANDBOX_ALLOW_EQ(read, 0, 3, "read only fd 3"),
	};
	struct sandbox_policy p = { "mixed", allow_then_fail, 2 };
	struct sandbox_config cfg = config("conflicts", (const int[]){ 2 }, 1);
	struct sandbox_child c;
	char err[256];

	CHECK_EQ(sandbox_spawn(&cfg, &p, exit_3, NULL, &c, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "sandbox: policy mixed: rule 1 (getppid) has rules with different "
		  "actions (rule 0 of mixed)");
	p.rules = any_then_eq;
	CHECK_EQ(sandbox_spawn(&cfg, &p, exit_3, NULL, &c, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "sandbox: policy mixed: rule 1 (getppid) has an unconditional rule and "
		  "another rule (rule 0 of mixed)");
	p.rules = eq_then_any;
	CHECK_EQ(sandbox_spawn(&cfg, &p, exit_3, NULL, &c, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "sandbox: policy mixed: rule 1 (getppid) has an unconditional rule and "
		  "another rule (rule 0 of mixed)");
	p.rules = against_base;
	p.nr_rules = 1;
	CHECK_EQ(sandbox_spawn(&cfg, &p, exit_3, NULL, &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "rule 0 (read) has an unconditional rule and another rule (rule ") &&
	      strstr(err, " of base)"));
}

/* Conditional rules of one action on different arguments, and exact repeats, stand. */
static void test_compatible_rules(void)
{
	static const struct sandbox_syscall compatible[] = {
		SANDBOX_ALLOW_EQ(getppid, 0, 1, "one argument"),
		SANDBOX_ALLOW_EQ(getppid, 0, 2, "or another"),
		SANDBOX_ALLOW(getpid, "repeated"),
		SANDBOX_ALLOW(getpid, "repeated"),
	};
	struct sandbox_policy p = { "compatible", compatible, 4 };
	struct sandbox_config cfg = config("compatible", (const int[]){ 2 }, 1);
	struct sandbox_child c;
	siginfo_t info;
	char err[256];

	CHECK_EQ(sandbox_spawn(&cfg, &p, exit_3, NULL, &c, err, sizeof(err)), 0);
	CHECK_STR(reap(&c, &info), "compatible: exited with status 3");
}

/* A step of the child's setup fails: the parent gets the step and errno. */
static void test_setup_failure(void)
{
	struct sandbox_config cfg = config("errors", (const int[]){ 2 }, 1);
	struct sandbox_child c;
	siginfo_t info;
	char err[256];

	/* Above fs.nr_open even CAP_SYS_RESOURCE cannot raise RLIMIT_NOFILE. */
	cfg.nofile = 1u << 30;
	CHECK_EQ(sandbox_spawn(&cfg, &test_policy, exit_3, NULL, &c, err, sizeof(err)), -EPERM);
	CHECK_STR(err, "sandbox: errors: cannot set RLIMIT_NOFILE: Operation not permitted (above the VMM's hard limit)");
	CHECK_EQ(c.pidfd, -1);
	cfg.nofile = 64;
	if (spawn(&cfg, exit_3, NULL, &c))
		CHECK_STR(reap(&c, &info), "errors: exited with status 3");
}

/* Runs before the filter: getppid, which the filter kills, still works. */
static int pre_seccomp_getppid(void *arg)
{
	int *rc = arg;

	return syscall(SYS_getppid) < 0 ? -errno : *rc;
}

static void test_pre_seccomp(void)
{
	struct sandbox_config cfg = config("pre", (const int[]){ 2 }, 1);
	struct sandbox_child c;
	siginfo_t info;
	char err[256];
	int rc = 0;

	cfg.pre_seccomp = pre_seccomp_getppid;
	cfg.pre_seccomp_arg = &rc;
	if (spawn(&cfg, exit_3, NULL, &c))
		CHECK_STR(reap(&c, &info), "pre: exited with status 3");
	rc = -ENOMEM;
	CHECK_EQ(sandbox_spawn(&cfg, &test_policy, exit_3, NULL, &c, err, sizeof(err)), -ENOMEM);
	CHECK_STR(err, "sandbox: pre: cannot prepare the device before seccomp: Cannot allocate memory");
	CHECK_EQ(c.pidfd, -1);
}

int main(void)
{
	struct sandbox_config cfg = config("probe", (const int[]){ 2 }, 1);
	struct sandbox_child c;
	siginfo_t info;
	char err[256];

	test_disabled();
	test_errors();
	test_conflicting_rules();
	if (sandbox_spawn(&cfg, &test_policy, exit_3, NULL, &c, err, sizeof(err))) {
		printf("SKIP: jailed tests: %s\n", err);
		return check_report("test_sandbox");
	}
	sandbox_wait(&c, 0, &info);
	sandbox_release(&c);
	test_setup_failure();
	test_compatible_rules();
	test_pre_seccomp();
	test_sigsys_and_log();
	test_proc_status();
	test_fds();
	test_root();
	test_bind_dir();
	test_bind_dir_swapped();
	test_as_user();
	test_parent_death();
	return check_report("test_sandbox");
}
