#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "virtio/link_proto.h"
#include "vmm/link_child.h"
#include "vmm/log.h"

#define CALL_TIMEOUT_MS 2000
#define MAX_KEEP (CTL_NR_FDS + 2 * VDEV_MAX_QUEUES + 8)

static struct link_child *of(struct vdev_link *link)
{
	return link->priv;
}

static bool is_dead(const struct link_child *lc)
{
	return __atomic_load_n(&lc->dead, __ATOMIC_ACQUIRE);
}

void link_child_fail(struct link_child *lc, const char *why)
{
	if (__atomic_exchange_n(&lc->dead, true, __ATOMIC_ACQ_REL))
		return;
	log_err("%s: %s; killing its device process", lc->link.name, why);
	if (lc->child.pidfd >= 0)
		syscall(SYS_pidfd_send_signal, lc->child.pidfd, SIGKILL, NULL, 0);
	vdev_link_needs_reset(&lc->link, why);
}

/*
 * One request, one reply. A device that does not answer in time, corrupts
 * the ring or answers with garbage is broken; one that refuses a request
 * (a non-zero status) is not.
 */
static int call(struct link_child *lc, uint32_t type, const void *payload, uint32_t len)
{
	struct ctl_msg req, reply;
	char why[96];
	int status, rc;

	if (is_dead(lc))
		return -EPIPE;
	link_msg_init(&req, type, payload, len);
	rc = ctl_ring_call(&lc->ctl, &req, &reply, CALL_TIMEOUT_MS);
	if (!rc && link_dec_reply(&reply, reply.tag, &status, NULL, 0))
		rc = -EPROTO;
	if (rc) {
		snprintf(why, sizeof(why), "control request %u failed: %s", type, strerror(-rc));
		link_child_fail(lc, why);
		return -EPIPE;
	}
	if (status)
		log_ratelimited(LOG_WARN, "%s: control request %u refused: %s", lc->link.name,
				type, strerror(-status));
	return status;
}

/* LINK_DEVICE_CMD: no reply within the call limit, or a malformed one, fails the device. */
static int child_command(struct vdev_link *link, const void *req, unsigned len, void *reply,
			 unsigned *reply_len)
{
	struct link_child *lc = of(link);
	struct ctl_msg m, answer;
	uint32_t got = 0;
	char why[96];
	int status, rc;

	if (!len || len > LINK_DEVICE_MSG_MAX || *reply_len > LINK_DEVICE_REPLY_MAX)
		return -EINVAL;
	if (is_dead(lc))
		return -EPIPE;
	link_msg_init(&m, LINK_DEVICE_CMD, req, len);
	rc = ctl_ring_call(&lc->ctl, &m, &answer, CALL_TIMEOUT_MS);
	if (!rc && link_dec_reply_data(&answer, answer.tag, &status, reply, *reply_len, &got))
		rc = -EPROTO;
	if (rc) {
		snprintf(why, sizeof(why), "device command failed: %s", strerror(-rc));
		link_child_fail(lc, why);
		return -EPIPE;
	}
	*reply_len = got;
	return status;
}

/*
 * LINK_DEVICE_CMD posted (tag 0): the device does not answer, and nothing
 * waits for it, so a slow or hostile device cannot hold the caller. A full
 * SQ is the device's (it is not draining): -EAGAIN, and the caller may try
 * again later.
 */
static int child_post(struct vdev_link *link, const void *msg, unsigned len)
{
	struct link_child *lc = of(link);
	struct ctl_msg m;
	int rc;

	if (!len || len > LINK_DEVICE_MSG_MAX)
		return -EINVAL;
	if (is_dead(lc))
		return -EPIPE;
	link_msg_init(&m, LINK_DEVICE_CMD, msg, len);
	rc = ctl_ring_send(&lc->ctl, &m);
	if (rc == -EAGAIN)
		log_ratelimited(LOG_WARN, "%s: control ring full; device command dropped",
				lc->link.name);
	if (rc && rc != -EAGAIN) {
		link_child_fail(lc, "corrupt control ring");
		return -EPIPE;
	}
	return rc;
}

static int child_set_config(struct vdev_link *link, unsigned off, const void *buf, unsigned len)
{
	struct link_config c = { .offset = htole32(off), .len = htole32(len) };

	if (len > sizeof(c.data))
		return -EINVAL;
	memcpy(c.data, buf, len);
	return call(of(link), LINK_SET_CONFIG, &c, (uint32_t)(LINK_CONFIG_HDR + len));
}

static int child_set_vring(struct vdev_link *link, unsigned q, const struct vdev_vring *ring)
{
	struct link_vring_state num = { .index = htole32(q), .num = htole32(ring->size) };
	struct link_vring_state on = { .index = htole32(q), .num = htole32(1) };
	struct link_vring_addr addr = {
		.index = htole32(q), .desc = htole64(ring->desc),
		.avail = htole64(ring->avail), .used = htole64(ring->used),
	};
	int rc = call(of(link), LINK_SET_VRING_NUM, &num, sizeof(num));

	if (!rc)
		rc = call(of(link), LINK_SET_VRING_ADDR, &addr, sizeof(addr));
	return rc ? rc : call(of(link), LINK_SET_VRING_ENABLE, &on, sizeof(on));
}

static int child_activate(struct vdev_link *link, uint64_t features)
{
	struct link_u64 f = { .val = htole64(features) };

	return call(of(link), LINK_ACTIVATE, &f, sizeof(f));
}

static int child_features_ok(struct vdev_link *link, uint64_t features)
{
	struct link_u64 f = { .val = htole64(features) };

	return call(of(link), LINK_SET_FEATURES, &f, sizeof(f));
}

static int child_reset(struct vdev_link *link)
{
	int rc = call(of(link), LINK_RESET, NULL, 0);

	if (!rc)
		__atomic_store_n(&of(link)->device_failed, false, __ATOMIC_RELEASE);
	return rc;
}

static unsigned child_watches(struct vdev_link *link, struct vdev_link_watch *w);
static enum vdev_link_status child_status(struct vdev_link *link);
static pid_t child_pid(struct vdev_link *link);
static void child_stop(struct vdev_link *link);

static const struct vdev_link_ops child_ops = {
	.set_config = child_set_config, .set_vring = child_set_vring,
	.features_ok = child_features_ok, .activate = child_activate, .reset = child_reset,
	.command = child_command, .post = child_post,
	.watches = child_watches, .status = child_status, .pid = child_pid, .stop = child_stop,
};

static int make_queue_fds(struct link_child *lc)
{
	for (unsigned q = 0; q < lc->link.nr_queues; q++) {
		/* Non-blocking: a vCPU that notifies never waits for the device
		 * (io_uring's read in the device still waits for a kick). */
		lc->link.kick_fd[q] = lc->dev->queues[q].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		lc->link.call_fd[q] = lc->dev->queues[q].call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (lc->link.kick_fd[q] < 0 || lc->link.call_fd[q] < 0)
			return -errno;
	}
	return 0;
}

/* The device's stderr: the VMM reads it without blocking, the device
 * writes it (a full pipe holds up only the device). */
static int make_log_pipe(struct link_child *lc)
{
	int fds[2];

	lc->log_fd = lc->proc.log_fd = -1;
	lc->log_len = 0;
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK)) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	lc->log_fd = fds[0];
	lc->proc.log_fd = fds[1];
	return 0;
}

static unsigned keep_list(const struct link_child *lc, const struct link_child_options *opt,
			  int *keep)
{
	unsigned n = 0;

	keep[n++] = STDERR_FILENO;	/* until device_process_prepare swaps in log_fd */
	keep[n++] = lc->proc.log_fd;
	for (unsigned i = 0; i < CTL_NR_FDS; i++)
		keep[n++] = lc->proc.ring_fds[i];
	for (unsigned q = 0; q < lc->link.nr_queues; q++) {
		keep[n++] = lc->link.kick_fd[q];
		keep[n++] = lc->link.call_fd[q];
	}
	if (lc->proc.shm_sock >= 0)
		keep[n++] = lc->proc.shm_sock;
	for (unsigned i = 0; i < opt->nr_device_fds && n < MAX_KEEP; i++)
		keep[n++] = opt->device_fds[i];
	return n;
}

static void init_link(struct link_child *lc, struct vdev *dev)
{
	const struct vdev_ops *ops = dev->ops;

	lc->dev = dev;
	lc->link = (struct vdev_link){
		.ops = &child_ops, .priv = lc, .name = dev->name, .device_id = ops->device_id,
		.features = ops->features, .nr_queues = ops->nr_queues,
		.max_queue_size = ops->queue_size, .config_size = ops->config_size,
	};
	if (ops->config)
		ops->config(dev, lc->link.config);
}

/* A device that maps needs its sendmsg on the fd socket (DEVICE_PROCESS_SHM_RULES):
 * refused here rather than killed by SIGSYS at its first map. */
static bool policy_lets_it_map(const struct vdev *dev, const struct link_child_options *opt,
			       const struct sandbox_policy *policy)
{
	if (!dev->ops->nr_shm_regions || !opt->sandbox)
		return true;
	for (size_t i = 0; policy && i < policy->nr_rules; i++)
		if (policy->rules[i].nr == SYS_sendmsg)
			return true;
	return false;
}

/*
 * opt->policy, or with opt->extra_policy a copy of it with the instance's
 * rules after the kind's in *merged (rules malloc'ed: free them once the
 * spawn has built the filter). NULL when there is no policy at all, or
 * out of memory (*merged's rules then NULL too).
 */
static const struct sandbox_policy *merge_policy(const struct link_child_options *opt,
						 struct sandbox_policy *merged)
{
	const struct sandbox_policy *kind = opt->policy, *extra = opt->extra_policy;
	size_t nk = kind ? kind->nr_rules : 0, ne = extra ? extra->nr_rules : 0;
	struct sandbox_syscall *rules;

	*merged = (struct sandbox_policy){ .name = kind ? kind->name : "device" };
	if (!ne)
		return kind;
	rules = calloc(nk + ne, sizeof(*rules));
	if (!rules)
		return NULL;
	if (nk)
		memcpy(rules, kind->rules, nk * sizeof(*rules));
	memcpy(rules + nk, extra->rules, ne * sizeof(*rules));
	merged->rules = rules;
	merged->nr_rules = nk + ne;
	return merged;
}

/* sandbox_config.pre_seccomp: the device's log level first, so its setup logs at it. */
static int prepare_child(void *arg)
{
	struct link_child *lc = arg;

	if (lc->log_level_set)
		log_set_level(lc->log_level);
	return device_process_prepare(&lc->proc);
}

/* link_child_start's work once the policy is known. */
static int start_process(struct link_child *lc, struct vdev *dev,
			 const struct link_child_options *opt, struct sandbox_config *sc,
			 const struct sandbox_policy *policy, char *err, size_t errlen)
{
	int keep[MAX_KEEP], rc;

	if (!policy_lets_it_map(dev, opt, policy)) {
		snprintf(err, errlen, "%s: has shared-memory regions, but its policy lacks "
			 "DEVICE_PROCESS_SHM_RULES", dev->name);
		return -EINVAL;
	}
	rc = vdev_link_set_shm(&lc->link, dev->ops);
	if (!rc)
		rc = make_log_pipe(lc);
	if (!rc)
		rc = link_child_shm_open(lc);
	if (!rc)
		rc = make_queue_fds(lc);
	/*
	 * Control-ring mappings never cross a fork (MADV_DONTFORK), so a
	 * device process started later does not inherit this one's. The
	 * child maps its end from the kept fds before seccomp.
	 */
	if (!rc)
		rc = ctl_ring_create(&lc->ctl, lc->proc.ring_fds);
	if (rc) {
		snprintf(err, errlen, "%s: %s", dev->name, strerror(-rc));
		return rc;
	}
	lc->proc.dev = dev;
	sc->keep_fds = keep;
	sc->nr_keep_fds = keep_list(lc, opt, keep);
	rc = sandbox_spawn(sc, policy, device_process_main, &lc->proc, &lc->child, err, errlen);
	ctl_ring_close_fds(lc->proc.ring_fds, CTL_NR_FDS);	/* the child has its own */
	close(lc->proc.log_fd);
	lc->proc.log_fd = -1;
	if (lc->proc.shm_sock >= 0)
		close(lc->proc.shm_sock);
	lc->proc.shm_sock = -1;
	if (rc)
		return rc;
	log_info("%s: device process %d", dev->name, (int)lc->child.pid);
	return 0;
}

int link_child_start(struct link_child *lc, struct vdev *dev,
		     const struct link_child_options *opt, char *err, size_t errlen)
{
	struct sandbox_config sc = {
		.name = dev->name, .enable = opt->sandbox, .seccomp_log = opt->seccomp_log,
		.nofile = opt->nofile ? opt->nofile : 64,
		.nproc = opt->nproc ? opt->nproc : 8,
		.memlock = 8 << 20, .bind_dir = opt->bind_dir, .bind_dir_id = opt->bind_dir_id,
		.as_user = opt->as_user, .uid = opt->uid, .gid = opt->gid,
		.no_jail = opt->no_jail, .bind_socket_fd = opt->bind_socket_fd,
		.bind_socket_name = opt->bind_socket_name, .host_libs = opt->host_libs,
		.pre_seccomp = prepare_child, .pre_seccomp_arg = lc,
	};
	struct sandbox_policy merged;
	const struct sandbox_policy *policy = merge_policy(opt, &merged);
	int rc;

	init_link(lc, dev);
	lc->shm_sock = lc->proc.shm_sock = lc->shm_fd = -1;
	lc->log_level_set = opt->log_level_set;
	lc->socket_connect = opt->socket_connect;
	lc->log_level = opt->log_level;
	if (opt->extra_policy && opt->extra_policy->nr_rules && !policy) {
		snprintf(err, errlen, "%s: %s", dev->name, strerror(ENOMEM));
		return -ENOMEM;
	}
	rc = start_process(lc, dev, opt, &sc, policy, err, errlen);
	free((void *)merged.rules);
	return rc;
}

static int log_fd_of(const struct link_child *lc)
{
	return lc->log_fd;
}

static void pass_on_line(struct link_child *lc)
{
	lc->log_line[lc->log_len] = '\0';
	log_ratelimited_raw(&lc->log_limit, lc->log_line);
	lc->log_len = 0;
}

/*
 * What the device wrote to its stderr, line by line through one limiter
 * per device, at most LINK_CHILD_LOG_BUDGET bytes per call; a line too
 * long for the buffer is passed on in pieces.
 */
void link_child_serve_log(struct link_child *lc)
{
	char buf[512];
	unsigned taken = 0;
	ssize_t n = 0;

	while (taken < LINK_CHILD_LOG_BUDGET && (n = read(lc->log_fd, buf, sizeof(buf))) > 0) {
		taken += (unsigned)n;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n')
				lc->log_line[lc->log_len++] = buf[i];
			if (buf[i] == '\n' || lc->log_len == sizeof(lc->log_line) - 1)
				pass_on_line(lc);
		}
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {	/* the device is gone */
		if (lc->log_len)
			pass_on_line(lc);
		close(lc->log_fd);
		lc->log_fd = -1;
	}
}

int link_child_ctl_fd(const struct link_child *lc)
{
	return is_dead(lc) ? -1 : ctl_ring_rx_fd(&lc->ctl);
}

static int pid_fd_of(const struct link_child *lc)
{
	return lc->reaped ? -1 : lc->child.pidfd;
}

static struct link_limits limits_of(const struct link_child *lc)
{
	return (struct link_limits){ lc->link.nr_queues, lc->link.max_queue_size,
				     lc->link.config_size };
}

/* One message the device sent on its own; false if it is malformed. */
static bool take_message(struct link_child *lc, const struct ctl_msg *m)
{
	struct link_limits lim = limits_of(lc);
	struct link_config c;
	char why[LINK_REASON_MAX];
	uint8_t event[LINK_DEVICE_MSG_MAX];
	uint32_t len;

	if (m->flags == CTL_MSG_F_REPLY && m->type == LINK_REPLY)
		return true;	/* to a call that timed out: dropped */
	switch (m->type) {
	case LINK_CONFIG_CHANGED:
		return !link_dec_config(m, LINK_CONFIG_CHANGED, &lim, &c) &&
		       !vdev_link_config_changed(&lc->link, c.offset, c.data, c.len);
	case LINK_NEEDS_RESET:
		if (link_dec_needs_reset(m, why, sizeof(why)))
			return false;
		__atomic_store_n(&lc->device_failed, true, __ATOMIC_RELEASE);
		vdev_link_needs_reset(&lc->link, why);
		return true;
	case LINK_DEVICE_EVENT:
		if (link_dec_device_msg(m, LINK_DEVICE_EVENT, event, &len))
			return false;
		if (lc->link.device_event)
			lc->link.device_event(lc->link.device_event_ctx, event, len);
		return true;
	case LINK_SHM_MAP:
	case LINK_SHM_UNMAP:
	case LINK_HOST_CONNECT:
		return link_child_shm_request(lc, m);
	default:
		return false;
	}
}

/*
 * Messages the device sends on its own: config changes and failures, at
 * most LINK_CHILD_SERVE_BUDGET per call so a flood cannot hold the main
 * loop. What is left keeps the doorbell readable for the next round.
 */
void link_child_serve(struct link_child *lc)
{
	struct ctl_msg m;
	char why[64];
	int rc = 0;

	for (unsigned n = 0; n < LINK_CHILD_SERVE_BUDGET && !is_dead(lc); n++) {
		rc = ctl_ring_recv(&lc->ctl, &m);
		if (rc <= 0)
			break;
		if (!take_message(lc, &m)) {
			snprintf(why, sizeof(why), "malformed message type %#x", m.type);
			link_child_fail(lc, why);
		}
	}
	if (rc < 0)
		link_child_fail(lc, "corrupt control ring");
}

bool link_child_reap(struct link_child *lc)
{
	siginfo_t info;
	char what[160];

	if (lc->reaped || sandbox_wait(&lc->child, WNOHANG, &info) != 0)
		return lc->reaped;
	sandbox_describe(&lc->child, &info, what, sizeof(what));
	log_err("%s", what);
	__atomic_store_n(&lc->dead, true, __ATOMIC_RELEASE);
	lc->reaped = true;
	vdev_link_needs_reset(&lc->link, "its device process died");
	return true;
}

void link_child_stop(struct link_child *lc)
{
	siginfo_t info;

	if (!lc->reaped && lc->child.pidfd >= 0) {
		syscall(SYS_pidfd_send_signal, lc->child.pidfd, SIGKILL, NULL, 0);
		sandbox_wait(&lc->child, 0, &info);
		lc->reaped = true;
	}
	sandbox_release(&lc->child);
	ctl_ring_close(&lc->ctl);
	link_child_shm_close(lc);
	if (lc->log_fd >= 0)
		close(lc->log_fd);
	lc->log_fd = -1;
	for (unsigned q = 0; q < lc->link.nr_queues; q++) {
		close(lc->link.kick_fd[q]);
		close(lc->link.call_fd[q]);
	}
}

struct vdev_link *link_child_create(struct vdev *dev, const struct link_child_options *opt,
				    char *err, size_t errlen)
{
	struct link_child *lc = calloc(1, sizeof(*lc));

	if (!lc) {
		snprintf(err, errlen, "%s: %s", dev->name, strerror(ENOMEM));
		return NULL;
	}
	lc->allocated = true;
	/* As before: a VM whose device does not start is not built, and the
	 * fds a failed start made go with the process. */
	if (link_child_start(lc, dev, opt, err, errlen)) {
		free(lc);
		return NULL;
	}
	return &lc->link;
}

/* --- the lifecycle ops --- */

static void serve_ctl(struct vdev_link *link, short revents)
{
	(void)revents;
	link_child_serve(of(link));
}

static void serve_pid(struct vdev_link *link, short revents)
{
	(void)revents;
	link_child_reap(of(link));
}

static void serve_shm(struct vdev_link *link, short revents)
{
	(void)revents;
	link_child_shm_serve(of(link));
}

static void serve_log(struct vdev_link *link, short revents)
{
	(void)revents;
	link_child_serve_log(of(link));
}

static unsigned child_watches(struct vdev_link *link, struct vdev_link_watch *w)
{
	struct link_child *lc = of(link);

	/* Registered at start in this order, so a round serves them so: a
	 * dying device's last lines come before the VMM's line on its death. */
	w[0] = (struct vdev_link_watch){ log_fd_of(lc), POLLIN, serve_log };
	w[1] = (struct vdev_link_watch){ link_child_ctl_fd(lc), POLLIN, serve_ctl };
	w[2] = (struct vdev_link_watch){ pid_fd_of(lc), POLLIN, serve_pid };
	w[3] = (struct vdev_link_watch){ link_child_shm_sock_fd(lc), POLLIN, serve_shm };
	return 4;
}

static enum vdev_link_status child_status(struct vdev_link *link)
{
	struct link_child *lc = of(link);

	if (is_dead(lc))
		return VDEV_LINK_DEAD;
	return __atomic_load_n(&lc->device_failed, __ATOMIC_ACQUIRE) ? VDEV_LINK_NEEDS_RESET
								      : VDEV_LINK_RUNNING;
}

static pid_t child_pid(struct vdev_link *link)
{
	return of(link)->child.pid;
}

static void child_stop(struct vdev_link *link)
{
	struct link_child *lc = of(link);

	link_child_stop(lc);
	if (lc->allocated)
		free(lc);
}
