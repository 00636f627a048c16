/*
 * One virtiofsd per share: its listening socket in the VM's runtime
 * directory (bound the way runtime_dir binds every socket: staged, the
 * user's, mode 0660, never by a name the user could swap), the VMM's own
 * connection queued on it before virtiofsd exists (so the first one it
 * accepts is ours and no local user gets in first), then fork + exec with
 * the listener as --fd=3 and nothing else but stdio.
 *
 * Privilege: the C virtiofsd needs root for its namespace sandbox, so it
 * keeps root. The Rust one runs as the VM's user when the share maps uids
 * (its sandbox then lives in a user namespace), else as root.
 */
#include "vmm/virtiofsd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm/errfmt.h"
#include "vmm/log.h"
#include "vmm/path_trust.h"
#include "vmm/runtime_dir.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define VIRTIOFSD_FD 3
#define ARGV_MAX 64
#define RESTARTS_MAX 3
#define RESTART_WINDOW_MS 60000
#define STOP_GRACE_MS 1000
#define EXEC_DEADLINE_MS 5000

struct virtiofsd {
	const struct virtiofsd_binary *bin;
	const struct shared_dir_config *share;
	char name[32];
	char sock[NAME_MAX + 1];	/* in rundir_fd */
	char rundir_path[PATH_MAX];
	int rundir_fd;			/* our own dup */
	uid_t uid;
	gid_t gid;
	pid_t pid;			/* 0 when there is none */
	int pidfd;
	long long restarts[RESTARTS_MAX];	/* when, oldest first */
	unsigned nr_restarts;
};

/* What the child reports through the CLOEXEC pipe when a step fails. */
struct child_failure {
	int step;
	int err;
};

enum child_step { STEP_FDS, STEP_MOUNT, STEP_USER, STEP_PARENT, STEP_EXEC };

static const char *const step_names[] = {
	[STEP_FDS] = "set up its fds",
	[STEP_MOUNT] = "mount the share read-only (needs root)",
	[STEP_USER] = "become the VM's user",
	[STEP_PARENT] = "outlive the VMM",
	[STEP_EXEC] = "exec",
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The listener and our connection through runtime_dir's helpers, on a
 * view of the VM's directory that holds just this one socket: what the
 * view remembers is taken back here, the name is ours to remove at stop.
 */
static int listen_and_connect(const struct virtiofsd *v, int *conn, char *err, size_t errlen)
{
	struct runtime_dir view = { .uid = v->uid, .gid = v->gid, .parent_fd = -1,
				    .dir_fd = v->rundir_fd };
	int fd;

	snprintf(view.path, sizeof(view.path), "%s", v->rundir_path);
	fd = runtime_dir_listen(&view, v->sock, err, errlen);
	if (fd < 0)
		return -1;
	*conn = runtime_dir_connect(&view, v->sock);
	if (*conn < 0) {
		errfmt_sys(err, errlen, errno, "%s: cannot connect to %s/%s", v->name,
			   v->rundir_path, v->sock);
		close(fd);
		fd = -1;
	}
	for (unsigned i = 0; i < view.nr_files; i++) {
		free(view.files[i].name);
		if (view.files[i].handle >= 0)
			close(view.files[i].handle);
	}
	return fd;
}

_Noreturn static void child_fail(int report, int step)
{
	struct child_failure f = { step, errno };

	if (write(report, &f, sizeof(f)) < 0)
		_exit(126);
	_exit(127);
}

/* stdin: nothing of the VMM's (its terminal, a pipe) for virtiofsd to read. */
static int child_stdin_null(void)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (null < 0)
		return -1;
	if (null != 0 && dup2(null, 0) < 0) {
		close(null);
		return -1;
	}
	if (null != 0)
		close(null);
	return null == 0 ? fcntl(0, F_SETFD, 0) : 0;
}

/* The listener as fd 3 (blocking), stdin /dev/null, stdout to stderr, the rest CLOEXEC. */
static int child_fds(int listen_fd, int *report)
{
	if (*report == VIRTIOFSD_FD && (*report = fcntl(*report, F_DUPFD_CLOEXEC, 4)) < 0)
		return -1;
	if (listen_fd == VIRTIOFSD_FD) {
		if (fcntl(listen_fd, F_SETFD, 0))
			return -1;
	} else if (dup2(listen_fd, VIRTIOFSD_FD) < 0) {
		return -1;
	}
	if (fcntl(VIRTIOFSD_FD, F_SETFL, fcntl(VIRTIOFSD_FD, F_GETFL) & ~O_NONBLOCK) ||
	    dup2(2, 1) < 0 || child_stdin_null())
		return -1;
	if (syscall(SYS_close_range, VIRTIOFSD_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC))
		for (int fd = VIRTIOFSD_FD + 1; fd < 65536; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	return 0;
}

/*
 * The C virtiofsd has no read-only mode: it gets a mount namespace where
 * the source is a read-only bind of itself (not recursive: what is mounted
 * below it stays out), so every write in the guest fails with EROFS.
 */
static int child_readonly_bind(const char *path)
{
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(path, path, NULL, MS_BIND, NULL))
		return -1;
	return mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
}

static bool runs_as_user(const struct virtiofsd *v)
{
	return v->bin->flavour == VIRTIOFSD_RUST && v->share->uid_map;
}

static int child_become_user(const struct virtiofsd *v)
{
	if (setgroups(0, NULL) || setgid(v->gid) || setuid(v->uid))
		return -1;
	return 0;
}

static void child_default_signals(void)
{
	sigset_t none;

	/* Handlers first: a signal pending at unblock must not run the VMM's. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Between fork and exec: only async-signal-safe calls, no allocation. */
_Noreturn static void child_exec(const struct virtiofsd *v, char **argv, int listen_fd,
				 int report, pid_t parent)
{
	child_default_signals();
	if (child_fds(listen_fd, &report))
		child_fail(report, STEP_FDS);
	if (v->share->readonly && v->bin->flavour == VIRTIOFSD_C &&
	    child_readonly_bind(v->share->path))
		child_fail(report, STEP_MOUNT);
	if (runs_as_user(v) && child_become_user(v))
		child_fail(report, STEP_USER);
	/* After the credentials change, which clears it; the parent may be gone already. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent) {
		errno = ESRCH;
		child_fail(report, STEP_PARENT);
	}
	execv(argv[0], argv);
	child_fail(report, STEP_EXEC);
}

/* Reads the child's report until EOF (it exec'd) or the deadline: bytes read, or -1. */
static ssize_t read_report(int report, struct child_failure *f)
{
	long long deadline = now_ms() + EXEC_DEADLINE_MS;

	for (;;) {
		struct pollfd p = { .fd = report, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -1;
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(report, f, sizeof(*f));
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

/* 0 once the child exec'd; else -errno, its failure in err, the child reaped. */
static int await_exec(const struct virtiofsd *v, pid_t pid, int report, char *err, size_t errlen)
{
	struct child_failure f;
	ssize_t n = read_report(report, &f);

	if (n == 0)
		return 0;
	if (n < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (n < 0) {
		errfmt(err, errlen, "%s: virtiofsd %s did not exec within %d s; killed", v->name,
		       v->bin->path, EXEC_DEADLINE_MS / 1000);
		return -ETIMEDOUT;
	}
	if (n != (ssize_t)sizeof(f) || f.step < 0 || f.step > STEP_EXEC || f.err <= 0) {
		errfmt(err, errlen, "%s: virtiofsd %s did not start", v->name, v->bin->path);
		return -EIO;
	}
	errfmt_sys(err, errlen, f.err, "%s: virtiofsd %s: cannot %s", v->name, v->bin->path,
		   step_names[f.step]);
	return -f.err;
}

/* 0 or -errno. */
static int spawn(struct virtiofsd *v, int listen_fd, char **argv, char *err, size_t errlen)
{
	pid_t parent = getpid(), pid;
	int report[2], r;

	if (pipe2(report, O_CLOEXEC)) {
		r = -errno;
		errfmt_sys(err, errlen, -r, "%s: pipe", v->name);
		return r;
	}
	pid = fork();
	if (pid == 0)
		child_exec(v, argv, listen_fd, report[1], parent);
	r = pid < 0 ? -errno : 0;
	close(report[1]);
	if (r)
		errfmt_sys(err, errlen, -r, "%s: fork", v->name);
	else
		r = await_exec(v, pid, report[0], err, errlen);
	close(report[0]);
	if (r)
		return r;
	v->pid = pid;
	v->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (v->pidfd < 0) {
		r = -errno;
		errfmt_sys(err, errlen, -r, "%s: pidfd_open (needs Linux 5.3)", v->name);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		v->pid = 0;
		return r;
	}
	return 0;
}

/*
 * A root virtiofsd looks the share up by name at every start: nobody but
 * root may be able to swap a directory on the way to it.
 */
static int check_share_path(const struct virtiofsd *v, char *err, size_t errlen)
{
	static const struct path_trust trust = {
		.key = "path", .what = "the share", .last = PATH_TRUST_ANY_DIR,
		.hint = "root's virtiofsd shares only paths below root-owned directories (or use "
			"the Rust virtiofsd with uid_map)",
	};

	if (geteuid() != 0 || runs_as_user(v))
		return 0;
	return path_trust_check(&trust, v->share->path, err, errlen) ? -errno : 0;
}

/* One process on a fresh socket; *conn the VMM's end. 0 or -errno. */
static int launch(struct virtiofsd *v, int *conn, char *err, size_t errlen)
{
	char *argv[ARGV_MAX], buf[16384];
	int listen_fd, r;

	*conn = -1;
	r = check_share_path(v, err, errlen);
	if (r)
		return r;
	if (virtiofsd_argv(v->bin, v->share, VIRTIOFSD_FD, argv, ARGV_MAX, buf, sizeof(buf), err,
			   errlen))
		return -EINVAL;
	listen_fd = listen_and_connect(v, conn, err, errlen);
	if (listen_fd < 0)
		return errno ? -errno : -EIO;
	r = spawn(v, listen_fd, argv, err, errlen);
	close(listen_fd);
	if (r) {
		close(*conn);
		*conn = -1;
		unlinkat(v->rundir_fd, v->sock, 0);
	}
	return r;
}

static void free_virtiofsd(struct virtiofsd *v)
{
	if (v->pidfd >= 0)
		close(v->pidfd);
	if (v->rundir_fd >= 0)
		close(v->rundir_fd);
	free(v);
}

static struct virtiofsd *new_virtiofsd(const struct virtiofsd_options *opt, char *err,
				       size_t errlen)
{
	struct virtiofsd *v = calloc(1, sizeof(*v));

	if (!v) {
		errfmt(err, errlen, "%s: out of memory", opt->name);
		return NULL;
	}
	*v = (struct virtiofsd){ .bin = opt->bin, .share = opt->share, .uid = opt->uid,
				 .gid = opt->gid, .pidfd = -1 };
	snprintf(v->name, sizeof(v->name), "%s", opt->name);
	snprintf(v->rundir_path, sizeof(v->rundir_path), "%s", opt->rundir_path);
	v->rundir_fd = fcntl(opt->rundir_fd, F_DUPFD_CLOEXEC, 0);
	if (v->rundir_fd < 0) {
		errfmt_sys(err, errlen, errno, "%s: runtime directory", opt->name);
		free_virtiofsd(v);
		return NULL;
	}
	snprintf(v->sock, sizeof(v->sock), "virtiofs-%s.sock", opt->share->tag);
	return v;
}

/*
 * A root virtiofsd without a uid map creates files as the guest's uids,
 * root's included, and modcaps cannot stop an owner's chmod u+s: on a
 * filesystem that honours setuid, guest root can leave a setuid-root
 * program for the host's users. Said once, at the first start.
 */
static void warn_if_setuid_possible(const struct virtiofsd *v)
{
	struct statvfs fs;

	if (runs_as_user(v) || v->share->readonly || statvfs(v->share->path, &fs) ||
	    (fs.f_flag & ST_NOSUID))
		return;
	log_warn("%s: guest root can create setuid-root files in %s (virtiofsd runs as root "
		 "without a uid map, and the filesystem is not mounted nosuid)", v->name,
		 v->share->path);
}

struct virtiofsd *virtiofsd_start(const struct virtiofsd_options *opt, int *conn, char *err,
				  size_t errlen)
{
	struct virtiofsd *v;

	*conn = -1;
	if (!opt->share->tag || !*opt->share->tag || strchr(opt->share->tag, '/') ||
	    strlen(opt->share->tag) > SHARED_DIR_TAG_MAX) {
		errfmt(err, errlen, "%s: tag cannot name a socket", opt->name);
		return NULL;
	}
	v = new_virtiofsd(opt, err, errlen);
	if (v && launch(v, conn, err, errlen) < 0) {
		free_virtiofsd(v);
		return NULL;
	}
	if (v)
		warn_if_setuid_possible(v);
	return v;
}

int virtiofsd_pidfd(const struct virtiofsd *v)
{
	return v->pidfd;
}

pid_t virtiofsd_pid(const struct virtiofsd *v)
{
	return v->pid;
}

static void describe(int status, char *why, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(why, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(why, len, "exited with status %d", WEXITSTATUS(status));
}

void virtiofsd_reap(struct virtiofsd *v, char *why, size_t len)
{
	int status;
	pid_t r;

	if (v->pid <= 0) {
		snprintf(why, len, "not running");
		return;
	}
	r = waitpid(v->pid, &status, WNOHANG);
	if (r == 0) {
		snprintf(why, len, "still running");
		return;
	}
	if (r < 0)
		snprintf(why, len, "gone (%s)", strerror(errno));
	else
		describe(status, why, len);
	close(v->pidfd);
	v->pidfd = -1;
	v->pid = 0;
}

/* Whether the last RESTARTS_MAX restarts all fall in the window; else counts this one. */
static bool restart_allowed(struct virtiofsd *v)
{
	long long now = now_ms();

	if (v->nr_restarts == RESTARTS_MAX) {
		if (now - v->restarts[0] < RESTART_WINDOW_MS)
			return false;
		memmove(v->restarts, v->restarts + 1, sizeof(v->restarts[0]) * (RESTARTS_MAX - 1));
		v->nr_restarts--;
	}
	v->restarts[v->nr_restarts++] = now;
	return true;
}

static bool exited_within(const struct virtiofsd *v, int ms)
{
	struct pollfd p = { .fd = v->pidfd, .events = POLLIN };

	return poll(&p, 1, ms) > 0;
}

/* Asked, then told, then killed; reaped either way. */
static void end_process(struct virtiofsd *v, int grace_ms)
{
	if (v->pid <= 0)
		return;
	if (!exited_within(v, grace_ms)) {
		kill(v->pid, SIGTERM);
		if (!exited_within(v, STOP_GRACE_MS))
			kill(v->pid, SIGKILL);
	}
	while (waitpid(v->pid, NULL, 0) < 0 && errno == EINTR)
		;
	close(v->pidfd);
	v->pidfd = -1;
	v->pid = 0;
}

int virtiofsd_restart(struct virtiofsd *v, int *conn, char *err, size_t errlen)
{
	*conn = -1;
	if (!restart_allowed(v)) {
		log_warn("%s: virtiofsd restarted %d times in %d s; giving up", v->name,
			 RESTARTS_MAX, RESTART_WINDOW_MS / 1000);
		errfmt(err, errlen, "%s: virtiofsd restarted %d times in %d s; giving up", v->name,
		       RESTARTS_MAX, RESTART_WINDOW_MS / 1000);
		return -EAGAIN;
	}
	end_process(v, 0);
	return launch(v, conn, err, errlen);
}

void virtiofsd_stop(struct virtiofsd *v)
{
	if (!v)
		return;
	end_process(v, STOP_GRACE_MS);
	unlinkat(v->rundir_fd, v->sock, 0);
	free_virtiofsd(v);
}
