/*
 * Device processes: clone3 into new namespaces, then in the child close the
 * inherited fds, pivot_root into an empty tmpfs, set rlimits, drop every
 * capability, set no_new_privs, run the caller's pre_seccomp step and load
 * the seccomp filter. The child reports
 * its setup result on a SOCK_SEQPACKET socket, so a failure comes back to
 * sandbox_spawn() as one line instead of a silently dead child.
 */
#include "sandbox/sandbox.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/filter.h"
#include "vmm/log.h"

/* Any directory present on every host: the tmpfs covers it, then is "/". */
#define ROOT_MOUNT_POINT "/proc"
/* Where cfg->bind_dir appears in the jail, and the child's working directory. */
#define BIND_POINT "/dir"

enum step {
	STEP_STDIO = 1, STEP_FDS, STEP_PRIVATE, STEP_TMPFS, STEP_BIND, STEP_BIND_ID,
	STEP_SOCKET, STEP_SOCKET_ID, STEP_HOST_LIBS, STEP_PIVOT,
	STEP_DETACH, STEP_CHDIR, STEP_READONLY, STEP_NOFILE, STEP_MEMLOCK, STEP_NPROC,
	STEP_CORE, STEP_CAPS, STEP_NO_NEW_PRIVS, STEP_PRE_SECCOMP, STEP_SECCOMP,
};

static const char *const step_text[] = {
	[STEP_STDIO] = "open /dev/null for stdin/stdout/stderr",
	[STEP_FDS] = "close the inherited fds (close_range needs Linux 5.9)",
	[STEP_PRIVATE] = "make the mounts private",
	[STEP_TMPFS] = "mount the root tmpfs on " ROOT_MOUNT_POINT,
	[STEP_BIND] = "bind-mount the shared directory into the jail",
	[STEP_BIND_ID] = "share the directory the VMM opened",
	[STEP_SOCKET] = "bind-mount the host socket into the jail",
	[STEP_SOCKET_ID] = "show the socket the VMM opened",
	[STEP_HOST_LIBS] = "bind-mount the host's /usr read-only into the jail",
	[STEP_PIVOT] = "pivot_root into the tmpfs",
	[STEP_DETACH] = "detach the old root",
	[STEP_CHDIR] = "enter the shared directory",
	[STEP_READONLY] = "remount the root read-only",
	[STEP_NOFILE] = "set RLIMIT_NOFILE",
	[STEP_MEMLOCK] = "set RLIMIT_MEMLOCK",
	[STEP_NPROC] = "set RLIMIT_NPROC",
	[STEP_CORE] = "set RLIMIT_CORE",
	[STEP_CAPS] = "drop the capabilities",
	[STEP_NO_NEW_PRIVS] = "set no_new_privs",
	[STEP_PRE_SECCOMP] = "prepare the device before seccomp",
	[STEP_SECCOMP] = "load the seccomp filter",
};

/* What the child needs, in the parent's memory that fork copies. */
struct spawn {
	const struct sandbox_config *cfg;
	scmp_filter_ctx filter;
	int sock;
	int (*main)(void *arg);
	void *arg;
	bool change_id;		/* as_user, decided by the parent: in a user
				 * namespace the child is root, the VMM is not */
	bool jailed;		/* enable and not no_jail */
	/* bind_socket: what bind_socket_fd is, and (jailed) the path the
	 * parent reads for it, which the child's mount resolves again. */
	dev_t socket_dev;
	ino_t socket_ino;
	char socket_path[PATH_MAX];
};

/* In the child: where bind_socket is reached ("" in the VMM). */
static char socket_path_in_child[sizeof(ROOT_MOUNT_POINT) + NAME_MAX + 16];

static int sort_keep(const struct sandbox_config *cfg, int sock, int *keep)
{
	int n = 0;

	keep[n++] = 0, keep[n++] = 1, keep[n++] = 2, keep[n++] = sock;
	if (cfg->bind_socket_name)
		keep[n++] = cfg->bind_socket_fd;
	for (unsigned i = 0; i < cfg->nr_keep_fds; i++)
		keep[n++] = cfg->keep_fds[i];
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1], keep[j - 1] = t;
		}
	return n;
}

/* Std fds not kept become /dev/null, so new fds never land on 0-2. */
static int keep_only(const struct sandbox_config *cfg, int sock)
{
	int keep[SANDBOX_MAX_KEEP_FDS + 5], n, null = -1;
	unsigned lo = 0;

	for (int fd = 0; fd < 3; fd++) {
		bool kept = false;

		for (unsigned i = 0; i < cfg->nr_keep_fds; i++)
			kept |= cfg->keep_fds[i] == fd;
		if (!kept && null < 0)
			null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (!kept && (null < 0 || (fd != null && dup2(null, fd) < 0)))
			return STEP_STDIO;
	}
	n = sort_keep(cfg, sock, keep);
	for (int i = 0; i < n; i++) {
		if ((unsigned)keep[i] > lo && close_range(lo, keep[i] - 1, 0))
			return STEP_FDS;
		if ((unsigned)keep[i] >= lo)
			lo = keep[i] + 1;
	}
	return close_range(lo, ~0U, 0) ? STEP_FDS : 0;
}

/* The mount shows exactly the directory the parent opened, or errno ESTALE. */
static int check_bind_id(const char *point, const struct sandbox_dir_id *want)
{
	struct stat st;

	if (stat(point, &st))
		return STEP_BIND;
	if (st.st_dev != want->dev || st.st_ino != want->ino) {
		errno = ESTALE;
		return STEP_BIND_ID;
	}
	return 0;
}

/*
 * The bind mount at point becomes nosuid, nodev, noexec and maybe
 * read-only. In a user namespace the remount may add flags but must keep
 * those the host mount locked (read-only, the atime ones), so they are
 * carried over. 0 or -1 with errno.
 */
static int restrict_bind(const char *point, unsigned long extra)
{
	static const struct { unsigned long st, ms; } keep[] = {
		{ ST_RDONLY, MS_RDONLY }, { ST_NOATIME, MS_NOATIME },
		{ ST_NODIRATIME, MS_NODIRATIME }, { ST_RELATIME, MS_RELATIME },
	};
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC | extra;
	struct statvfs st;

	if (statvfs(point, &st))
		return -1;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (st.f_flag & keep[i].st)
			flags |= keep[i].ms;
	return mount(NULL, point, NULL, flags, NULL);
}

/* The shared directory appears read-write at BIND_POINT in the tmpfs. */
static int bind_shared_dir(const struct sandbox_config *cfg)
{
	const char *point = ROOT_MOUNT_POINT BIND_POINT;
	int step;

	if (mkdir(point, 0) || mount(cfg->bind_dir, point, NULL, MS_BIND | MS_REC, NULL))
		return STEP_BIND;
	if ((step = check_bind_id(point, &cfg->bind_dir_id)))
		return step;
	return restrict_bind(point, 0) ? STEP_BIND : 0;
}

/*
 * The host socket, read-only on an empty file in the tmpfs. The mount
 * resolves the parent's path for the fd again, so what it shows must be
 * the fd's inode; connect() needs no write access to the mount.
 */
static int bind_socket(const struct spawn *s)
{
	const char *name = s->cfg->bind_socket_name;
	char point[sizeof(ROOT_MOUNT_POINT) + NAME_MAX + 1];
	struct stat st;

	snprintf(point, sizeof(point), "%s/%s", ROOT_MOUNT_POINT, name);
	if (mknod(point, S_IFREG, 0) || mount(s->socket_path, point, NULL, MS_BIND, NULL) ||
	    stat(point, &st))
		return STEP_SOCKET;
	if (!S_ISSOCK(st.st_mode) || st.st_dev != s->socket_dev || st.st_ino != s->socket_ino) {
		errno = ESTALE;
		return STEP_SOCKET_ID;
	}
	if (restrict_bind(point, MS_RDONLY))
		return STEP_SOCKET;
	close(s->cfg->bind_socket_fd);
	snprintf(socket_path_in_child, sizeof(socket_path_in_child), "/%s", name);
	return 0;
}

/* /usr read-only; exec stays allowed, for the drivers mapped from it. */
static int bind_host_libs(void)
{
	const char *point = ROOT_MOUNT_POINT "/usr";
	struct statvfs st;
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;

	if (mkdir(point, 0555) || mount("/usr", point, NULL, MS_BIND | MS_REC, NULL) ||
	    statvfs(point, &st))
		return STEP_HOST_LIBS;
	if (st.f_flag & ST_NOEXEC)
		flags |= MS_NOEXEC;
	return mount(NULL, point, NULL, flags, NULL) ? STEP_HOST_LIBS : 0;
}

/* pivot_root(".", ".") stacks the old root on the new one; detach it. */
static int enter_empty_root(const struct spawn *s)
{
	const struct sandbox_config *cfg = s->cfg;
	const char *bind_dir = cfg->bind_dir;
	char opts[64];
	int step;

	/*
	 * One inode for the root, one per mount point. The socket is reached
	 * by its absolute name once capabilities are gone, so the root is
	 * then searchable, still not listable.
	 */
	snprintf(opts, sizeof(opts), "mode=%s,size=4k,nr_inodes=%d",
		 cfg->bind_socket_name || cfg->host_libs ? "0111" : "0",
		 1 + !!bind_dir + !!cfg->bind_socket_name + !!cfg->host_libs);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return STEP_PRIVATE;
	if (mount("vmsilo-sandbox", ROOT_MOUNT_POINT, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  opts))
		return STEP_TMPFS;
	if (bind_dir && (step = bind_shared_dir(cfg)))
		return step;
	if (cfg->bind_socket_name && (step = bind_socket(s)))
		return step;
	if (cfg->host_libs && (step = bind_host_libs()))
		return step;
	if (chdir(ROOT_MOUNT_POINT) || syscall(SYS_pivot_root, ".", "."))
		return STEP_PIVOT;
	if (umount2(".", MNT_DETACH) || chdir("/"))
		return STEP_DETACH;
	if (bind_dir && chdir(BIND_POINT))
		return STEP_CHDIR;
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID |
		  MS_NODEV | MS_NOEXEC, NULL))
		return STEP_READONLY;
	return 0;
}

static int set_limits(const struct sandbox_config *cfg)
{
	/* RLIMIT_NPROC counts all of a uid's processes, and a real user has
	 * many: a jail running as one keeps the VMM's limit. */
	struct rlimit cur = { RLIM_INFINITY, RLIM_INFINITY };
	rlim_t nproc = cfg->as_user && !getrlimit(RLIMIT_NPROC, &cur) ? cur.rlim_max : cfg->nproc;
	const struct { int resource; rlim_t value; enum step step; } lim[] = {
		{ RLIMIT_NOFILE, cfg->nofile, STEP_NOFILE },
		{ RLIMIT_MEMLOCK, cfg->memlock, STEP_MEMLOCK },
		{ RLIMIT_NPROC, nproc, STEP_NPROC },
		{ RLIMIT_CORE, 0, STEP_CORE },
	};

	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		struct rlimit rl = { lim[i].value, lim[i].value };

		if (setrlimit(lim[i].resource, &rl))
			return lim[i].step;
	}
	return 0;
}

/* After pivot_root: libcap-ng then reads the bounding set with prctl. */
static int drop_caps(const struct sandbox_config *cfg, bool change_id)
{
	capng_setpid(0);	/* its pid is the parent's: 0 means "this one" */
	capng_clear(CAPNG_SELECT_ALL);
	errno = 0;
	if (change_id ? capng_change_id((int)cfg->uid, (int)cfg->gid,
					CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING)
		      : capng_apply(CAPNG_SELECT_ALL)) {
		errno = errno ? errno : EPERM;
		return STEP_CAPS;
	}
	return 0;
}

/* Everything but the filter, which comes after the pre_seccomp step. */
static int jail(const struct spawn *s)
{
	int step;

	step = enter_empty_root(s);
	if (!step)
		step = set_limits(s->cfg);
	if (!step)
		step = drop_caps(s->cfg, s->change_id);
	if (!step && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		step = STEP_NO_NEW_PRIVS;
	return step;
}

/*
 * no_jail: what keeps the device working (its directory, its user's ids)
 * and no_new_privs, which the filter needs without CAP_SYS_ADMIN.
 */
static int loosen(const struct spawn *s)
{
	const struct sandbox_config *cfg = s->cfg;
	int step;

	if (cfg->bind_dir && chdir(cfg->bind_dir))
		return STEP_CHDIR;
	if (cfg->bind_dir && (step = check_bind_id(".", &cfg->bind_dir_id)))
		return step;
	if (s->change_id && (step = drop_caps(cfg, true)))
		return step;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ? STEP_NO_NEW_PRIVS : 0;
}

/* Returns the step that failed, with errno set, or 0. */
static int run_step(int rc, int step)
{
	if (!rc)
		return 0;
	errno = rc < 0 ? -rc : EIO;
	return step;
}

static int finish_jail(const struct spawn *s)
{
	const struct sandbox_config *cfg = s->cfg;
	int step = 0;

	if (cfg->pre_seccomp)
		step = run_step(cfg->pre_seccomp(cfg->pre_seccomp_arg), STEP_PRE_SECCOMP);
	if (!step && cfg->enable)
		step = run_step(filter_install(s->filter, cfg->seccomp_log, s->sock), STEP_SECCOMP);
	return step;
}

/*
 * getppid() is 0 in a new PID namespace, so the parent's end of the socket
 * says whether it is still there: it writes one byte once the child may go
 * on, and keeps the socket until it has reaped the child.
 */
static bool parent_alive(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	char go;

	if (read(sock, &go, 1) != 1)
		return false;
	return poll(&p, 1, 0) == 0;
}

static _Noreturn void child_run(const struct spawn *s)
{
	struct report r = { .kind = REPORT_READY };

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || !parent_alive(s->sock))
		_exit(127);
	prctl(PR_SET_NAME, s->cfg->name);
	r.step = keep_only(s->cfg, s->sock);
	if (s->cfg->bind_socket_name && !s->jailed)
		snprintf(socket_path_in_child, sizeof(socket_path_in_child), "/proc/self/fd/%d",
			 s->cfg->bind_socket_fd);
	if (!r.step && s->jailed)
		r.step = jail(s);
	else if (!r.step && s->cfg->enable)
		r.step = loosen(s);
	if (!r.step)
		r.step = finish_jail(s);
	if (r.step) {
		r.kind = REPORT_FAILED;
		r.err = errno;
	}
	if (write(s->sock, &r, sizeof(r)) != sizeof(r) || r.step)
		_exit(127);
	_exit(s->main(s->arg));
}

static pid_t clone3_pidfd(uint64_t flags, int *pidfd)
{
	struct clone_args args = {
		.flags = flags | CLONE_PIDFD,
		.pidfd = (uintptr_t)pidfd,
		.exit_signal = SIGCHLD,
	};

	return syscall(SYS_clone3, &args, sizeof(args));
}

static const struct { uint64_t flag; const char *name, *sysctl, *config; } namespaces[] = {
	{ CLONE_NEWUSER, "user", "user", "USER_NS" },
	{ CLONE_NEWPID, "PID", "pid", "PID_NS" },
	{ CLONE_NEWNS, "mount", "mnt", "NAMESPACES" },
	{ CLONE_NEWIPC, "IPC", "ipc", "IPC_NS" },
	{ CLONE_NEWNET, "network", "net", "NET_NS" },
	{ CLONE_NEWUTS, "UTS", "uts", "UTS_NS" },
};

/* clone3 failed: try the namespaces one at a time to name the culprit. */
static void explain_clone(uint64_t flags, int err, const char *name,
			  char *buf, size_t len)
{
	int pidfd, i, n = sizeof(namespaces) / sizeof(namespaces[0]);
	char hint[128] = "";

	for (i = 0; flags && err != ENOSYS && i < n; i++) {
		pid_t pid;

		if (!(flags & namespaces[i].flag))
			continue;
		pid = clone3_pidfd((flags & CLONE_NEWUSER) | namespaces[i].flag, &pidfd);
		if (!pid)
			_exit(0);
		if (pid < 0) {
			err = errno;
			break;
		}
		waitid(P_PIDFD, pidfd, NULL, WEXITED);
		close(pidfd);
	}
	if (err == EPERM && geteuid())
		snprintf(hint, sizeof(hint), " (run as root or enable unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1)");
	else if (err == EINVAL && i < n)
		snprintf(hint, sizeof(hint), " (kernel built without CONFIG_%s?)",
			 namespaces[i].config);
	else if (err == ENOSPC && i < n)
		snprintf(hint, sizeof(hint), " (limit reached: sysctl user.max_%s_namespaces)",
			 namespaces[i].sysctl);
	if (err == ENOSYS)
		snprintf(buf, len, "sandbox: %s: clone3 is missing (Linux 5.3 or later needed)", name);
	else if (flags && i < n)
		snprintf(buf, len, "sandbox: %s: cannot create a new %s namespace: %s%s",
			 name, namespaces[i].name, strerror(err), hint);
	else
		snprintf(buf, len, "sandbox: %s: cannot start the device process: %s%s",
			 name, strerror(err), hint);
}

static int write_file(pid_t pid, const char *file, const char *text)
{
	char path[64];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		rc = -errno;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Unprivileged: the child is our own uid and gid inside its namespace. */
static int map_ids(pid_t pid, const char *name, char *err, size_t errlen)
{
	char uid[32], gid[32];
	int rc;

	snprintf(uid, sizeof(uid), "%u %u 1\n", geteuid(), geteuid());
	snprintf(gid, sizeof(gid), "%u %u 1\n", getegid(), getegid());
	rc = write_file(pid, "setgroups", "deny");
	if (!rc)
		rc = write_file(pid, "uid_map", uid);
	if (!rc)
		rc = write_file(pid, "gid_map", gid);
	if (rc)
		snprintf(err, errlen, "sandbox: %s: cannot write the user namespace's id maps: %s",
			 name, strerror(-rc));
	return rc;
}

static const char *step_hint(int step, int err, bool userns)
{
	if (step == STEP_PIVOT && err == EINVAL)
		return " (the VMM's root is an initramfs, where pivot_root cannot work)";
	if ((step == STEP_PRIVATE || step == STEP_TMPFS) && err == EPERM && userns)
		return " (user namespaces without mount rights, e.g. AppArmor's kernel.apparmor_restrict_unprivileged_userns)";
	if (step >= STEP_NOFILE && step <= STEP_NPROC && err == EPERM)
		return " (above the VMM's hard limit)";
	if (step == STEP_BIND_ID)
		return " (its path now leads to another directory: swapped for a link?)";
	if (step == STEP_SOCKET_ID)
		return " (its path now leads to another file: swapped?)";
	if (step == STEP_SECCOMP && err == EINVAL)
		return " (kernel built without CONFIG_SECCOMP_FILTER?)";
	return "";
}

/* The child is still starting: wait for its report, then let it go or reap it. */
static int finish_spawn(struct sandbox_child *c, bool userns, char *err, size_t errlen)
{
	struct report r = { 0 };
	siginfo_t info = { 0 };
	ssize_t n;
	int rc = userns ? map_ids(c->pid, c->name, err, errlen) : 0;

	if (!rc && write(c->report_fd, "g", 1) != 1)
		rc = -errno;
	do
		n = rc ? 0 : read(c->report_fd, &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n == sizeof(r) && r.kind == REPORT_READY)
		return fcntl(c->report_fd, F_SETFL, O_NONBLOCK) ? -errno : 0;
	syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
	waitid(P_PIDFD, c->pidfd, &info, WEXITED);
	if (rc)
		return rc;
	if (n == sizeof(r) && r.kind == REPORT_FAILED && r.step > 0 &&
	    r.step <= STEP_SECCOMP) {
		snprintf(err, errlen, "sandbox: %s: cannot %s: %s%s", c->name,
			 step_text[r.step], strerror(r.err), step_hint(r.step, r.err, userns));
		return r.err ? -r.err : -EIO;
	}
	snprintf(err, errlen, "sandbox: ");
	sandbox_describe(c, &info, err + strlen(err), errlen - strlen(err));
	snprintf(err + strlen(err), errlen - strlen(err), " during setup");
	return -ECHILD;
}

static void warn_mode(const struct sandbox_config *cfg)
{
	if (cfg->enable && cfg->no_jail)
		log_warn("%s: not jailed (sandbox = false): no namespaces, the host's root, "
			 "capabilities kept; seccomp still %s: for debugging only", cfg->name,
			 cfg->seccomp_log ? "logs violations" : "enforced");
	else if (!cfg->enable)
		log_warn("%s: not sandboxed (disabled in the configuration): the device process has the VMM's privileges",
			 cfg->name);
	else if (cfg->seccomp_log)
		log_warn("%s: seccomp in log mode: violations go to the kernel log and are not stopped",
			 cfg->name);
}

static bool plain_name(const char *name)
{
	return *name && strlen(name) <= NAME_MAX && !strchr(name, '/') && strcmp(name, ".") &&
	       strcmp(name, "..") && strcmp(name, &BIND_POINT[1]);
}

/* What the bind socket is, and the path the jail's mount takes to it. */
static int prepare_socket(const struct sandbox_config *cfg, struct spawn *s, char *err,
			  size_t errlen)
{
	char link[64];
	struct stat st;
	ssize_t n;

	if (!cfg->bind_socket_name)
		return 0;
	if (!plain_name(cfg->bind_socket_name)) {
		snprintf(err, errlen, "sandbox: %s: bind_socket_name: not a plain file name",
			 cfg->name);
		return -EINVAL;
	}
	if (fstat(cfg->bind_socket_fd, &st) || !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "sandbox: %s: bind_socket_fd %d is not a socket", cfg->name,
			 cfg->bind_socket_fd);
		return -ENOTSOCK;
	}
	s->socket_dev = st.st_dev;
	s->socket_ino = st.st_ino;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", cfg->bind_socket_fd);
	n = s->jailed ? readlink(link, s->socket_path, sizeof(s->socket_path) - 1) : 0;
	if (s->jailed && (n <= 0 || n >= (ssize_t)sizeof(s->socket_path) - 1 ||
			  s->socket_path[0] != '/')) {
		snprintf(err, errlen, "sandbox: %s: the socket's fd has no path to bind", cfg->name);
		return -ENOENT;
	}
	s->socket_path[n > 0 ? n : 0] = '\0';
	return 0;
}

const char *sandbox_socket_path(void)
{
	return socket_path_in_child[0] ? socket_path_in_child : NULL;
}

int sandbox_spawn(const struct sandbox_config *cfg,
		  const struct sandbox_policy *policy,
		  int (*child_main)(void *arg), void *arg,
		  struct sandbox_child *child, char *err, size_t errlen)
{
	uint64_t flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC |
			 CLONE_NEWNET | CLONE_NEWUTS | (geteuid() ? CLONE_NEWUSER : 0);
	struct spawn s = {
		.cfg = cfg, .main = child_main, .arg = arg,
		.change_id = cfg->as_user && !geteuid(), .jailed = cfg->enable && !cfg->no_jail,
	};
	int sv[2], rc = 0;

	err[0] = '\0';
	*child = (struct sandbox_child){ .pid = -1, .pidfd = -1, .report_fd = -1 };
	snprintf(child->name, sizeof(child->name), "%s", cfg->name);
	for (unsigned i = 0; i < cfg->nr_keep_fds; i++)
		rc |= cfg->keep_fds[i] < 0;
	if (rc || cfg->nr_keep_fds > SANDBOX_MAX_KEEP_FDS) {
		snprintf(err, errlen, "sandbox: %s: keep_fds: a negative fd, or more than %d",
			 cfg->name, SANDBOX_MAX_KEEP_FDS);
		return -EINVAL;
	}
	if ((rc = prepare_socket(cfg, &s, err, errlen)))
		return rc;
	if (cfg->enable && !(s.filter = filter_build(policy, cfg->seccomp_log, err, errlen)))
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		rc = -errno;
		snprintf(err, errlen, "sandbox: %s: socketpair: %s", cfg->name, strerror(-rc));
		seccomp_release(s.filter);
		return rc;
	}
	s.sock = sv[1];
	if (!s.jailed)
		flags = 0;
	child->pid = clone3_pidfd(flags, &child->pidfd);
	if (child->pid == 0)
		child_run(&s);
	rc = child->pid < 0 ? -errno : 0;
	close(sv[1]);
	seccomp_release(s.filter);
	child->report_fd = sv[0];
	if (rc)
		explain_clone(flags, -rc, cfg->name, err, errlen);
	else
		rc = finish_spawn(child, flags & CLONE_NEWUSER, err, errlen);
	if (rc) {
		sandbox_release(child);
		return rc;
	}
	warn_mode(cfg);
	log_dbg("%s: device process %d started", cfg->name, child->pid);
	return 0;
}

int sandbox_dir_id(int fd, struct sandbox_dir_id *id)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*id = (struct sandbox_dir_id){ .dev = st.st_dev, .ino = st.st_ino };
	return 0;
}

int sandbox_wait(struct sandbox_child *child, int options, siginfo_t *info)
{
	*info = (siginfo_t){ 0 };
	if (waitid(P_PIDFD, child->pidfd, info, WEXITED | options))
		return -errno;
	return info->si_pid ? 0 : -EAGAIN;
}

/*
 * A seccomp report is appended to any death: under a tracer the second trap
 * cannot kill PID 1 and the handler falls back to _exit(128 + SIGSYS).
 */
void sandbox_describe(const struct sandbox_child *child,
		      const siginfo_t *info, char *buf, size_t len)
{
	const char *sig = sigabbrev_np(info->si_status);
	int nr = filter_read_report(child->report_fd), n;
	char *name;

	if (info->si_code == CLD_EXITED)
		n = snprintf(buf, len, "%s: exited with status %d", child->name,
			     info->si_status);
	else if (info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED)
		n = snprintf(buf, len, "%s: killed by SIG%s%s", child->name, sig ? sig : "?",
			     info->si_code == CLD_DUMPED ? " (core dumped)" : "");
	else
		n = snprintf(buf, len, "%s: not exited (wait code %d)", child->name,
			     info->si_code);
	if (nr < 0 || n < 0 || (size_t)n >= len)
		return;
	name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	snprintf(buf + n, len - n, " (seccomp: syscall %d %s)", nr, name ? name : "?");
	free(name);
}

void sandbox_release(struct sandbox_child *child)
{
	if (child->pidfd >= 0)
		close(child->pidfd);
	if (child->report_fd >= 0)
		close(child->report_fd);
	child->pidfd = child->report_fd = -1;
}
