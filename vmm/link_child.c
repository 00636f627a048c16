#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "virtio/link_proto.h"
#include "vmm/link_child.h"
#include "vmm/log.h"
#include "vmm/virtio_pci.h"

#define CALL_TIMEOUT_MS 2000
#define MAX_KEEP (CTL_NR_FDS + 2 * VDEV_MAX_QUEUES + 8)

static struct link_child *of(struct vdev_link *link)
{
	return link->priv;
}

/* One request, one reply; any failure means the device is unusable. */
static int call(struct link_child *lc, uint32_t type, const void *payload, uint32_t len)
{
	struct ctl_msg req, reply;
	int status, rc;

	if (lc->dead)
		return -EPIPE;
	link_msg_init(&req, type, payload, len);
	rc = ctl_ring_call(&lc->ctl, &req, &reply, CALL_TIMEOUT_MS);
	if (!rc)
		rc = link_dec_reply(&reply, reply.tag, &status, NULL, 0) ? -EPROTO : status;
	if (rc)
		log_ratelimited(LOG_WARN, "%s: control request %u failed: %s", lc->link.name, type, strerror(-rc));
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

static int child_reset(struct vdev_link *link)
{
	return call(of(link), LINK_RESET, NULL, 0);
}

static const struct vdev_link_ops child_ops = {
	child_set_config, child_set_vring, child_activate, child_reset,
};

static int make_queue_fds(struct link_child *lc)
{
	for (unsigned q = 0; q < lc->link.nr_queues; q++) {
		lc->link.kick_fd[q] = lc->dev->queues[q].kick_fd = eventfd(0, EFD_CLOEXEC);
		lc->link.call_fd[q] = lc->dev->queues[q].call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (lc->link.kick_fd[q] < 0 || lc->link.call_fd[q] < 0)
			return -errno;
	}
	return 0;
}

static unsigned keep_list(const struct link_child *lc, const struct link_child_options *opt,
			  int *keep)
{
	unsigned n = 0;

	keep[n++] = STDERR_FILENO;	/* log lines */
	keep[n++] = lc->proc.ctl.tx_bell;
	keep[n++] = lc->proc.ctl.rx_bell;
	keep[n++] = lc->proc.ctl.ev_bell;
	keep[n++] = lc->proc.ctl.epfd;
	for (unsigned q = 0; q < lc->link.nr_queues; q++) {
		keep[n++] = lc->link.kick_fd[q];
		keep[n++] = lc->link.call_fd[q];
	}
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

int link_child_start(struct link_child *lc, struct vdev *dev,
		     const struct link_child_options *opt, char *err, size_t errlen)
{
	int keep[MAX_KEEP], ring_fds[CTL_NR_FDS], rc;
	struct sandbox_config sc = {
		.name = dev->name, .enable = opt->sandbox, .seccomp_log = opt->seccomp_log,
		.keep_fds = keep, .nofile = opt->nofile ? opt->nofile : 64, .nproc = 8,
		.memlock = 8 << 20, .bind_dir = opt->bind_dir,
		.as_user = opt->as_user, .uid = opt->uid, .gid = opt->gid,
	};

	init_link(lc, dev);
	rc = make_queue_fds(lc);
	if (!rc)
		rc = ctl_ring_create(&lc->ctl, ring_fds);
	/* The device's end is attached here, so the child needs no syscall
	 * for it; the fork hands it over with its mapping and fds. */
	if (!rc) {
		rc = ctl_ring_attach(&lc->proc.ctl, ring_fds);
		ctl_ring_close_fds(ring_fds, CTL_NR_FDS);
	}
	if (rc) {
		snprintf(err, errlen, "%s: %s", dev->name, strerror(-rc));
		return rc;
	}
	lc->proc.dev = dev;
	sc.nr_keep_fds = keep_list(lc, opt, keep);
	rc = sandbox_spawn(&sc, opt->policy, device_process_main, &lc->proc, &lc->child,
			   err, errlen);
	if (rc)
		return rc;
	/* The child holds the device's end now. */
	ctl_ring_close(&lc->proc.ctl);
	log_info("%s: device process %d", dev->name, (int)lc->child.pid);
	return 0;
}

int link_child_ctl_fd(const struct link_child *lc)
{
	return ctl_ring_rx_fd(&lc->ctl);
}

int link_child_pid_fd(const struct link_child *lc)
{
	return lc->child.pidfd;
}

/* Messages the device sends on its own: config changes and failures. */
void link_child_serve(struct link_child *lc)
{
	struct ctl_msg m;
	struct link_config c;
	char why[LINK_REASON_MAX];

	while (!lc->dead && ctl_ring_recv(&lc->ctl, &m) > 0) {
		if (m.type == LINK_CONFIG_CHANGED &&
		    !link_dec_config(&m, LINK_CONFIG_CHANGED,
				     &(struct link_limits){ lc->link.nr_queues, lc->link.max_queue_size,
							    lc->link.config_size }, &c))
			virtio_pci_config_changed(lc->transport, c.data, c.offset + c.len);
		else if (m.type == LINK_NEEDS_RESET && !link_dec_needs_reset(&m, why, sizeof(why)))
			virtio_pci_needs_reset(lc->transport, why);
	}
}

bool link_child_reap(struct link_child *lc)
{
	siginfo_t info;
	char what[160];

	if (lc->dead || sandbox_wait(&lc->child, WNOHANG, &info) != 0)
		return lc->dead;
	sandbox_describe(&lc->child, &info, what, sizeof(what));
	log_err("%s", what);
	lc->dead = true;
	return true;
}

void link_child_stop(struct link_child *lc)
{
	siginfo_t info;

	if (!lc->dead && lc->child.pidfd >= 0) {
		syscall(SYS_pidfd_send_signal, lc->child.pidfd, SIGKILL, NULL, 0);
		sandbox_wait(&lc->child, 0, &info);
	}
	sandbox_release(&lc->child);
	ctl_ring_close(&lc->ctl);
	for (unsigned q = 0; q < lc->link.nr_queues; q++) {
		close(lc->link.kick_fd[q]);
		close(lc->link.call_fd[q]);
	}
}
