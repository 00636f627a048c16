/*
 * A device model in its own jailed process: the vdev_link the transport
 * talks to, carried over the control rings, and the process's supervision.
 */
#ifndef VMSILO_LINK_CHILD_H
#define VMSILO_LINK_CHILD_H

#include "devices/device_process.h"
#include "vmm/log.h"
#include "sandbox/sandbox.h"
#include "virtio/vdev_link.h"

struct link_child {
	struct vdev_link link;
	struct vdev *dev;
	struct ctl_ring_end ctl;
	struct device_process proc;
	struct sandbox_child child;
	bool dead;			/* given up on: atomic, see link_child_fail */
	bool device_failed;		/* it sent NEEDS_RESET since the last reset */
	bool allocated;			/* by link_child_create: stop frees it */
	bool reaped;			/* the process has been waited for */
	int log_fd;			/* read end of the device's stderr, or -1 */
	char log_line[256];		/* a line being received */
	unsigned log_len;
	struct log_ratelimit log_limit;
	/* Map requests (link_child_shm.c): the VMM's end of the fd socket,
	 * and an fd received for a request still to come (or -1). */
	int shm_sock;
	int shm_fd;
	uint32_t shm_fd_seq;
	struct log_ratelimit shm_log;
	int (*socket_connect)(struct vdev *dev, char *err, size_t errlen);
	/* The device process's own log level (link_child_options). */
	bool log_level_set;
	enum log_level log_level;
};

/* Bytes of the device's stderr link_child_serve_log() takes per call. */
#define LINK_CHILD_LOG_BUDGET 4096

/* Messages link_child_serve() takes per call, at most. */
#define LINK_CHILD_SERVE_BUDGET 16

struct link_child_options {
	bool sandbox;			/* false: no jail and no filter (tests) */
	bool no_jail;			/* with sandbox: the filter only (sandbox_config) */
	bool seccomp_log;
	const struct sandbox_policy *policy;
	const struct sandbox_policy *extra_policy;	/* this instance's rules on top, or NULL */
	const int *device_fds;		/* host files the device uses */
	unsigned nr_device_fds;
	const char *bind_dir;		/* host directory shared into the jail, or NULL */
	struct sandbox_dir_id bind_dir_id;	/* what bind_dir must be (see sandbox_config) */
	unsigned nofile;		/* RLIMIT_NOFILE; 0: 64 */
	unsigned nproc;			/* RLIMIT_NPROC (io_uring workers, threads); 0: 8 */
	bool as_user;			/* run as uid/gid (see sandbox_config) */
	uid_t uid;
	gid_t gid;
	/* A host socket shown to the device (sandbox_config's bind_socket):
	 * the caller keeps the fd and closes it after the start. */
	int bind_socket_fd;
	const char *bind_socket_name;	/* NULL: none */
	/* The device_grant's socket_connect, for its LINK_HOST_CONNECT. */
	int (*socket_connect)(struct vdev *dev, char *err, size_t errlen);
	bool host_libs;			/* the host's /usr in the jail (sandbox_config) */
	bool log_level_set;		/* the device process logs at log_level */
	enum log_level log_level;
};

/* Creates the eventfds and rings and forks the jailed device process.
 * Must run before any thread exists. */
int link_child_start(struct link_child *lc, struct vdev *dev,
		     const struct link_child_options *opt, char *err, size_t errlen);
/* The same in a link of its own, which ops->stop frees; NULL with err. */
struct vdev_link *link_child_create(struct vdev *dev, const struct link_child_options *opt,
				    char *err, size_t errlen);
/*
 * The fds the VMM's main loop watches (ops->watches gives these, the
 * device's pidfd and stderr, and link_child_shm_sock_fd) (-1 once there
 * is nothing more to hear: the link is dead, the process reaped), and
 * what to do when they fire.
 */
int link_child_ctl_fd(const struct link_child *lc);
void link_child_serve(struct link_child *lc);
void link_child_serve_log(struct link_child *lc);
/* Returns true when the device process has died (logged once, and
 * reported upward as needs-reset). */
bool link_child_reap(struct link_child *lc);
/*
 * The device process is broken (it corrupted the ring, sent a malformed
 * message, missed a reply deadline): from any thread, even inside a
 * transport op, the first call logs, SIGKILLs it and reports needs-reset
 * upward; requests then fail with -EPIPE.
 */
void link_child_fail(struct link_child *lc, const char *why);
void link_child_stop(struct link_child *lc);

/* link_child_shm.c: the fd socket (only for a device with shm regions),
 * its watch, and LINK_SHM_MAP / _UNMAP (false: malformed, fail it). */
int link_child_shm_open(struct link_child *lc);
void link_child_shm_close(struct link_child *lc);
int link_child_shm_sock_fd(const struct link_child *lc);
void link_child_shm_serve(struct link_child *lc);
bool link_child_shm_request(struct link_child *lc, const struct ctl_msg *m);

#endif
