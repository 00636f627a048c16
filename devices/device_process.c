#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "devices/device_process.h"
#include "virtio/link_proto.h"
#include "vmm/log.h"

#define TAG_CTL 0xffffu

struct loop {
	struct io_uring ring;
	struct ctl_ring_end *ctl;
	struct vdev *dev;
	struct link_limits lim;
	uint64_t counters[VDEV_MAX_QUEUES];	/* eventfd read buffers */
	bool stop;
};

static void report_failure(struct vdev *dev, const char *why)
{
	struct loop *l = dev->failed_ctx;
	struct ctl_msg m;

	log_warn("%s: %s", dev->name, why);
	link_msg_init(&m, LINK_NEEDS_RESET, why, (uint32_t)strlen(why) + 1);
	ctl_ring_send(l->ctl, &m);
}

/* Kicks: a read of the queue's eventfd completes when the guest notifies.
 * The control ring's fd is an epoll set, so it is polled instead. */
static int arm(struct loop *l, int fd, unsigned tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe)
		return -EBUSY;
	if (tag == TAG_CTL)
		io_uring_prep_poll_add(sqe, fd, POLLIN);
	else
		io_uring_prep_read(sqe, fd, &l->counters[tag], sizeof(uint64_t), 0);
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

/* Only reads and polls may ever be submitted: a compromised device gains
 * nothing from the ring that seccomp forbids it. */
static int setup_ring(struct loop *l)
{
	struct io_uring_restriction res[] = {
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READ },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_POLL_ADD },
	};
	int rc = io_uring_queue_init(VDEV_MAX_QUEUES + 4, &l->ring, IORING_SETUP_R_DISABLED);

	if (rc)
		return rc;
	/* Debian 12's liburing.so lacks the named helpers; use the syscall. */
	rc = io_uring_register(l->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res, 2);
	if (!rc)
		rc = io_uring_register(l->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	return rc;
}

static int handle_vring(struct loop *l, const struct ctl_msg *m)
{
	struct link_vring_state s;
	struct link_vring_addr a;
	struct vdev_queue *q;

	if (m->type == LINK_SET_VRING_ADDR) {
		if (link_dec_vring_addr(m, &l->lim, &a))
			return -EINVAL;
		q = &l->dev->queues[a.index];
		q->ring.desc = a.desc;
		q->ring.avail = a.avail;
		q->ring.used = a.used;
		return 0;
	}
	if (link_dec_vring_state(m, m->type, &l->lim, &s))
		return -EINVAL;
	q = &l->dev->queues[s.index];
	if (m->type == LINK_SET_VRING_NUM) {
		q->ring.size = (uint16_t)s.num;
		return 0;
	}
	if (m->type == LINK_SET_VRING_ENABLE && s.num == 1)
		return vdev_set_vring(l->dev, s.index, &q->ring);
	return m->type == LINK_SET_VRING_ENABLE ? 0 : -ENOTSUP;
}

static int handle_config(struct loop *l, const struct ctl_msg *m)
{
	struct link_config c;

	if (link_dec_config(m, LINK_SET_CONFIG, &l->lim, &c))
		return -EINVAL;
	if (!l->dev->ops->write_config)
		return -EPERM;
	return l->dev->ops->write_config(l->dev, c.offset, c.data, c.len) ? -EPERM : 0;
}

static int handle(struct loop *l, const struct ctl_msg *m)
{
	uint64_t features;

	switch (m->type) {
	case LINK_SET_VRING_NUM:
	case LINK_SET_VRING_ADDR:
	case LINK_SET_VRING_ENABLE:
		return handle_vring(l, m);
	case LINK_SET_CONFIG:
		return handle_config(l, m);
	case LINK_ACTIVATE:
		if (link_dec_u64(m, LINK_ACTIVATE, &features))
			return -EINVAL;
		return vdev_activate(l->dev, features);
	case LINK_RESET:
		vdev_reset(l->dev);
		return 0;
	case LINK_SHUTDOWN:
		l->stop = true;
		return 0;
	default:
		return -ENOTSUP;
	}
}

static int serve_control(struct loop *l)
{
	struct ctl_msg m, reply;
	int rc;

	while ((rc = ctl_ring_recv(l->ctl, &m)) > 0) {
		link_reply_init(&reply, &m, handle(l, &m), NULL, 0);
		if (m.tag)
			ctl_ring_send(l->ctl, &reply);
	}
	return rc;	/* -EPROTO: the VMM side is corrupt; give up */
}

static int run(struct loop *l)
{
	struct io_uring_cqe *cqe;
	unsigned tag;

	if (arm(l, ctl_ring_rx_fd(l->ctl), TAG_CTL))
		return 1;
	for (unsigned q = 0; q < l->dev->ops->nr_queues; q++)
		if (arm(l, l->dev->queues[q].kick_fd, q))
			return 1;
	while (!l->stop) {
		if (io_uring_submit_and_wait(&l->ring, 1) < 0 || io_uring_peek_cqe(&l->ring, &cqe))
			continue;
		tag = (unsigned)io_uring_cqe_get_data64(cqe);
		io_uring_cqe_seen(&l->ring, cqe);
		if (tag == TAG_CTL) {
			if (serve_control(l) < 0)
				return 2;
			arm(l, ctl_ring_rx_fd(l->ctl), TAG_CTL);
		} else if (tag < l->dev->ops->nr_queues) {
			if (l->dev->active)
				l->dev->ops->notify(l->dev, tag);
			arm(l, l->dev->queues[tag].kick_fd, tag);
		}
	}
	return 0;
}

int device_process_main(void *arg)
{
	struct device_process *p = arg;
	static struct loop l;
	int rc;

	l.dev = p->dev;
	l.lim = (struct link_limits){
		.nr_queues = p->dev->ops->nr_queues,
		.max_queue_size = p->dev->ops->queue_size,
		.config_size = p->dev->ops->config_size,
	};
	l.ctl = &p->ctl;
	p->dev->failed = report_failure;
	p->dev->failed_ctx = &l;
	rc = setup_ring(&l);
	if (rc) {
		log_err("%s: io_uring: %s", p->dev->name, strerror(-rc));
		return 1;
	}
	rc = run(&l);
	io_uring_queue_exit(&l.ring);
	return rc;
}
