/*
 * Jails for device processes. Each virtio device runs in a child forked
 * from the single-threaded VMM: new PID, mount, IPC, network and UTS
 * namespaces (and a user namespace when the VMM is not root), an empty
 * read-only tmpfs as its root, rlimits, no capabilities, no_new_privs and a
 * seccomp allowlist (sandbox_base_policy plus the device's own rules).
 * See sandbox/README.md for what a device process must do and must not do.
 */
#ifndef VMSILO_SANDBOX_H
#define VMSILO_SANDBOX_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>

/* ASan builds need a few more syscalls: rules say which, and why. */
#if defined(__SANITIZE_ADDRESS__)		/* gcc */
#define SANDBOX_ASAN_BUILD 1
#elif defined(__has_feature)			/* clang */
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN_BUILD 1
#endif
#endif

/* How a rule looks at one argument of the syscall. */
enum sandbox_arg_op {
	SANDBOX_ARG_ANY,	/* any arguments */
	SANDBOX_ARG_EQ,		/* args[arg] == value */
	SANDBOX_ARG_MASKED_EQ,	/* (args[arg] & mask) == value */
};

/*
 * One allowed syscall. Several rules for the same syscall are alternatives:
 * fcntl with F_GETFL or F_SETFL is two rules. Arguments compare as 64-bit.
 */
struct sandbox_syscall {
	int nr;			/* SYS_xxx */
	const char *reason;	/* why the device needs it: required */
	enum sandbox_arg_op op;
	unsigned arg;		/* 0..5 */
	uint64_t mask;
	uint64_t value;
	int fail_errno;		/* non-zero: fail with this errno instead of allowing */
};

#define SANDBOX_ALLOW(name, why) { .nr = SYS_##name, .reason = (why) }
#define SANDBOX_ALLOW_EQ(name, argn, val, why) \
	{ .nr = SYS_##name, .reason = (why), .op = SANDBOX_ARG_EQ, \
	  .arg = (argn), .value = (val) }
#define SANDBOX_ALLOW_MASKED(name, argn, msk, val, why) \
	{ .nr = SYS_##name, .reason = (why), .op = SANDBOX_ARG_MASKED_EQ, \
	  .arg = (argn), .mask = (msk), .value = (val) }

/* Not allowed but failed with an errno, for a library to fall back from. */
#define SANDBOX_FAIL(name, err, why) \
	{ .nr = SYS_##name, .reason = (why), .fail_errno = (err) }

/* A device's rules, defined next to the device, on top of the base list. */
struct sandbox_policy {
	const char *name;	/* "blk" */
	const struct sandbox_syscall *rules;
	size_t nr_rules;
};

/* What every device process may do; sandbox_spawn() always adds it. */
extern const struct sandbox_policy sandbox_base_policy;

#define SANDBOX_MAX_KEEP_FDS 64

/* Which directory a path must lead to: st_dev and st_ino from fstat. */
struct sandbox_dir_id {
	dev_t dev;
	ino_t ino;
};

/* The identity of the directory fd (0), or -errno (-ENOTDIR: not one). */
int sandbox_dir_id(int fd, struct sandbox_dir_id *id);

struct sandbox_config {
	const char *name;	/* instance, e.g. "blk0": messages, process name */
	bool enable;		/* false: plain fork, fds closed, a warning */
	bool seccomp_log;	/* violations go to the kernel log, not kill */
	const int *keep_fds;	/* kept open at the same numbers */
	unsigned nr_keep_fds;	/* at most SANDBOX_MAX_KEEP_FDS */
	unsigned nofile;	/* RLIMIT_NOFILE */
	unsigned nproc;		/* RLIMIT_NPROC: see README (io_uring workers) */
	uint64_t memlock;	/* RLIMIT_MEMLOCK, bytes (registered buffers) */
	/*
	 * A host directory bind-mounted read-write (nosuid, nodev, noexec)
	 * into the jail as the child's working directory, or NULL. Relative
	 * paths reach only it; ".." stops at the empty root.
	 */
	const char *bind_dir;
	/*
	 * Required with bind_dir: what it must be, from sandbox_dir_id() on
	 * the fd the caller opened and checked. mount() resolves the name
	 * again, following links, and whoever can write one of its parents
	 * may have swapped it since; the child refuses to start unless the
	 * directory mounted is this one.
	 */
	struct sandbox_dir_id bind_dir_id;
	/*
	 * A host Unix socket the device connects to, or bind_socket_name
	 * NULL: none. bind_socket_fd is an O_PATH (or any) fd of the socket
	 * the caller opened and checked; the child keeps it without listing
	 * it in keep_fds. In the jail that very inode is bind-mounted
	 * read-only at "/<bind_socket_name>" in the empty root (the child
	 * refuses to start if the name now leads elsewhere) and the fd is
	 * closed; without a jail (enable false or no_jail) the fd stays open
	 * and the socket is reached at "/proc/self/fd/<fd>". Either way the
	 * device asks sandbox_socket_path() where.
	 */
	int bind_socket_fd;
	const char *bind_socket_name;	/* a plain file name, not "dir" */
	/*
	 * With enable: no namespaces, empty root, limits or capability drop
	 * (a device's "sandbox = false", for debugging): the fds are closed,
	 * as_user still changes ids, no_new_privs and the seccomp filter
	 * still apply, bind_dir (still checked against bind_dir_id) becomes
	 * the working directory.
	 */
	bool no_jail;
	/*
	 * The host's /usr, read-only, nosuid, nodev, at /usr in the jail:
	 * for a device that loads drivers at start (virglrenderer's Mesa
	 * dlopens its driver, LLVM and their data files from /usr; on a
	 * merged-/usr system that is every library). Executable: a driver
	 * is mapped PROT_EXEC from it. Nothing else of the host's root.
	 */
	bool host_libs;
	/*
	 * Run as this user instead of root (a root VMM only; under a user
	 * namespace the jail already is the VMM's user): for a device that
	 * acts for the VM's user, such as vsock reaching their sockets.
	 */
	bool as_user;
	uid_t uid;
	gid_t gid;
	/*
	 * Optional: runs in the child once the jail is complete and before
	 * the seccomp filter is loaded (also with enable = false), for setup
	 * the filter must forbid afterwards, such as creating and restricting
	 * the device's io_uring. 0, or -errno to fail the spawn.
	 */
	int (*pre_seccomp)(void *arg);
	void *pre_seccomp_arg;
};

/* The parent's handle on a device process. */
struct sandbox_child {
	char name[16];
	pid_t pid;
	int pidfd;		/* POLLIN once the child has exited */
	int report_fd;		/* the child's seccomp report, non-blocking */
};

/*
 * Starts child_main(arg) in a jailed child and returns 0 once the jail is
 * complete, or -errno with one line in err saying what failed (no child is
 * left behind). The child _exits with child_main's return value. Call it
 * before the VMM starts any thread, from the thread that lives longest:
 * the child gets SIGKILL when that thread exits.
 */
int sandbox_spawn(const struct sandbox_config *cfg,
		  const struct sandbox_policy *policy,
		  int (*child_main)(void *arg), void *arg,
		  struct sandbox_child *child, char *err, size_t errlen);

/*
 * Reaps the child through its pidfd: 0 with *info filled, -EAGAIN if it
 * still runs (options = WNOHANG), or -errno.
 */
int sandbox_wait(struct sandbox_child *child, int options, siginfo_t *info);

/*
 * One line for the supervisor's log from the waitid() status, e.g.
 * "blk0: killed by SIGSYS (seccomp: syscall 59 execve)".
 */
void sandbox_describe(const struct sandbox_child *child,
		      const siginfo_t *info, char *buf, size_t len);

/*
 * In a device process: the path that reaches sandbox_config's
 * bind_socket, for connect(); NULL when it was given none (and in the
 * VMM).
 */
const char *sandbox_socket_path(void);

/* Closes the handle's fds (after sandbox_wait, or to abandon the child). */
void sandbox_release(struct sandbox_child *child);

#endif
