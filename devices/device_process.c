#include <endian.h>
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "devices/device_process.h"
#include "virtio/link_proto.h"
#include "vmm/log.h"

/*
 * user_data of the loop's own SQEs: a queue index (kick read) or TAG_CTL;
 * device I/O carries VDEV_URING_DEVICE (bit 63) and goes to ops->complete.
 */
#define TAG_CTL 0xffffu
#define LOOP_SQ_ENTRIES 256
#define LOOP_CQ_ENTRIES 4096	/* VDEV_MAX_QUEUES x 256 requests in flight */
#define LOOP_MAX_WATCH_OPS 4

struct loop {
	struct io_uring ring;
	struct ctl_ring_end *ctl;
	struct vdev *dev;
	struct link_limits lim;
	uint64_t counters[VDEV_MAX_QUEUES];	/* eventfd read buffers */
	bool stop;
	int shm_sock;			/* the fd socket, or -1 */
	uint32_t shm_seq;		/* under shm_lock */
};

/* A map request's fd and the request go out as a pair, whatever thread. */
static pthread_mutex_t shm_lock = PTHREAD_MUTEX_INITIALIZER;

/* One device a process: device_process_prepare sets it up for _main. */
static struct loop the_loop;

static void report_failure(struct vdev *dev, const char *why)
{
	struct loop *l = dev->failed_ctx;
	struct ctl_msg m;

	log_ratelimited(LOG_WARN, "%s: %s", dev->name, why);
	link_msg_init(&m, LINK_NEEDS_RESET, why, (uint32_t)strlen(why) + 1);
	ctl_ring_send(l->ctl, &m);
}

static void post_event(void *ctx, const void *buf, unsigned len)
{
	struct loop *l = ctx;
	struct ctl_msg m;

	if (!len || len > LINK_DEVICE_MSG_MAX)
		return;
	link_msg_init(&m, LINK_DEVICE_EVENT, buf, len);
	ctl_ring_send(l->ctl, &m);
}

static void post_config_changed(void *ctx, unsigned off, const void *buf, unsigned len)
{
	struct loop *l = ctx;
	struct link_config c = { .offset = htole32(off), .len = htole32(len) };
	struct ctl_msg m;

	if (len > sizeof(c.data))
		return;
	memcpy(c.data, buf, len);
	link_msg_init(&m, LINK_CONFIG_CHANGED, &c, (uint32_t)(LINK_CONFIG_HDR + len));
	ctl_ring_send(l->ctl, &m);
}

/*
 * A request the VMM answers while this thread waits, at most
 * VDEV_SHM_TIMEOUT_MS (below the VMM's own call limit, so when the VMM
 * is blocked on this device for something else, this side gives up first
 * and nobody is killed). Requests from the VMM that come meanwhile wait
 * in the ring's pending queue for the loop.
 */
static int shm_call(struct loop *l, uint32_t type, const void *payload, uint32_t len)
{
	struct ctl_msg req, reply;
	int status, rc;

	link_msg_init(&req, type, payload, len);
	rc = ctl_ring_call(l->ctl, &req, &reply, VDEV_SHM_TIMEOUT_MS);
	if (rc)
		return rc;
	return link_dec_reply(&reply, reply.tag, &status, NULL, 0) ? -EPROTO : status;
}

static int loop_shm_map(void *ctx, uint8_t id, uint64_t offset, int fd, uint64_t fd_offset,
			uint64_t size, uint32_t prot)
{
	struct loop *l = ctx;
	struct link_shm_map p = {
		.region = id, .prot = htole32(prot), .offset = htole64(offset),
		.fd_offset = htole64(fd_offset), .size = htole64(size),
	};
	struct link_shm_fd f = { 0 };
	int rc;

	if (l->shm_sock < 0)
		return -ENODEV;
	pthread_mutex_lock(&shm_lock);
	p.seq = f.seq = htole32(++l->shm_seq);
	rc = ctl_ring_send_fds(l->shm_sock, &f, sizeof(f), &fd, 1);
	if (!rc)
		rc = shm_call(l, LINK_SHM_MAP, &p, sizeof(p));
	pthread_mutex_unlock(&shm_lock);
	return rc;
}

/* The socket for request seq from the fd socket, or -EPROTO. One that a
 * request which timed out here got late is closed on the way. */
static int take_host_socket(struct loop *l, uint32_t seq)
{
	for (unsigned tries = 0; tries < 8; tries++) {
		uint8_t buf[sizeof(struct link_shm_fd) + 1];
		unsigned nfds = 1;
		uint32_t got;
		int fd = -1, n = ctl_ring_recv_fds(l->shm_sock, buf, sizeof(buf), &fd, &nfds);

		if (n < 0)
			break;
		if (nfds == 1 && !link_dec_shm_fd(buf, (size_t)n, &got) && got == seq)
			return fd;
		ctl_ring_close_fds(&fd, nfds);
	}
	return -EPROTO;
}

/* The VMM sends the connected socket before its reply: it is queued here. */
static int loop_host_connect(void *ctx)
{
	struct loop *l = ctx;
	struct link_shm_fd f = { 0 };
	uint32_t seq;
	int rc;

	if (l->shm_sock < 0)
		return -ENODEV;
	pthread_mutex_lock(&shm_lock);
	seq = ++l->shm_seq;
	f.seq = htole32(seq);
	rc = shm_call(l, LINK_HOST_CONNECT, &f, sizeof(f));
	if (!rc)
		rc = take_host_socket(l, seq);
	pthread_mutex_unlock(&shm_lock);
	return rc;
}

static int loop_shm_unmap(void *ctx, uint8_t id, uint64_t offset)
{
	struct link_shm_unmap p = { .region = id, .offset = htole64(offset) };

	return shm_call(ctx, LINK_SHM_UNMAP, &p, sizeof(p));
}

/* Kicks: a read of the queue's eventfd completes when the guest notifies.
 * The control ring's fd is an epoll set, so it is polled instead. */
static int arm(struct loop *l, int fd, unsigned tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe && io_uring_submit(&l->ring) >= 0)	/* SQ full of device I/O */
		sqe = io_uring_get_sqe(&l->ring);
	if (!sqe)
		return -EBUSY;
	if (tag == TAG_CTL)
		io_uring_prep_poll_add(sqe, fd, POLLIN);
	else
		io_uring_prep_read(sqe, fd, &l->counters[tag], sizeof(uint64_t), 0);
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

/*
 * Only reads, polls, timeouts and the device's own opcodes may ever be submitted: a
 * compromised device gains nothing from the ring that seccomp forbids it.
 */
static int setup_ring(struct loop *l)
{
	const struct vdev_ops *ops = l->dev->ops;
	struct io_uring_restriction res[1 + LOOP_MAX_WATCH_OPS + VDEV_MAX_URING_OPS] = {
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READ },
	};
	struct io_uring_params p = {
		.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE,
		.cq_entries = LOOP_CQ_ENTRIES,
	};
	unsigned n = 1;
	int rc;

	if (ops->nr_uring_ops > VDEV_MAX_URING_OPS || vdev_nr_watch_uring_ops > LOOP_MAX_WATCH_OPS)
		return -EINVAL;
	/* Polls and timeouts, and cancelling them: the control ring, the
	 * device's fd watches and timers. None reaches a new resource. */
	for (unsigned i = 0; i < vdev_nr_watch_uring_ops; i++)
		res[n++] = (struct io_uring_restriction){
			.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = vdev_watch_uring_ops[i],
		};
	for (unsigned i = 0; i < ops->nr_uring_ops; i++)
		res[n++] = (struct io_uring_restriction){
			.opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = ops->uring_ops[i],
		};
	rc = io_uring_queue_init_params(LOOP_SQ_ENTRIES, &l->ring, &p);
	if (rc)
		return rc;
	/* Debian 12's liburing.so lacks the named helpers; use the syscall. */
	rc = io_uring_register(l->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res, n);
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
	return vdev_set_vring(l->dev, s.index, &q->ring);	/* ENABLE: num is 1 */
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
	case LINK_SET_FEATURES:
		if (link_dec_u64(m, LINK_SET_FEATURES, &features))
			return -EINVAL;
		return l->dev->ops->features_ok && l->dev->ops->features_ok(l->dev, features) ?
		       -ENOTSUP : 0;
	case LINK_ACTIVATE:
		if (link_dec_u64(m, LINK_ACTIVATE, &features))
			return -EINVAL;
		return vdev_activate(l->dev, features);
	case LINK_RESET:
		vdev_reset(l->dev);
		return 0;
	default:
		return -ENOTSUP;
	}
}

/* A LINK_DEVICE_CMD: the device's reply data goes back with the status. */
static void handle_device_cmd(struct loop *l, const struct ctl_msg *m, struct ctl_msg *reply)
{
	uint8_t req[LINK_DEVICE_MSG_MAX], data[LINK_DEVICE_REPLY_MAX];
	unsigned data_len = sizeof(data);
	uint32_t len;
	int rc;

	if (link_dec_device_msg(m, LINK_DEVICE_CMD, req, &len))
		rc = -EINVAL;
	else if (!l->dev->ops->command)
		rc = -ENOTSUP;
	else
		rc = l->dev->ops->command(l->dev, req, len, data, &data_len);
	if (rc || data_len > sizeof(data))
		data_len = 0;
	link_reply_init(reply, m, rc > 0 ? -EIO : rc, data, data_len);
}

static int serve_control(struct loop *l)
{
	struct ctl_msg m, reply;
	int rc;

	while ((rc = ctl_ring_recv(l->ctl, &m)) > 0) {
		if (m.flags & CTL_MSG_F_REPLY)
			continue;	/* to a map request that timed out */
		vdev_request_begin();
		if (m.type == LINK_DEVICE_CMD)
			handle_device_cmd(l, &m, &reply);
		else
			link_reply_init(&reply, &m, handle(l, &m), NULL, 0);
		vdev_request_end();
		if (m.tag)
			ctl_ring_send(l->ctl, &reply);
	}
	return rc;	/* -EPROTO: the VMM side is corrupt; give up */
}

/* One CQE: the device's own I/O, the control ring or a queue kick. */
static int dispatch(struct loop *l, uint64_t tag, int32_t res)
{
	if (vdev_uring_complete(l->dev, tag, res))
		return 0;
	if (tag == TAG_CTL) {
		if (serve_control(l) < 0)
			return -EPROTO;
		arm(l, ctl_ring_rx_fd(l->ctl), TAG_CTL);
	} else if (tag < l->dev->ops->nr_queues) {
		if (l->dev->active)
			l->dev->ops->notify(l->dev, (unsigned)tag);
		arm(l, l->dev->queues[tag].kick_fd, (unsigned)tag);
	}
	return 0;
}

/* SQEs prepared while handling one batch of CQEs (re-armed reads, the
 * device's I/O) go to the kernel with the next submit_and_wait. */
static int run(struct loop *l)
{
	struct io_uring_cqe *cqe;

	if (arm(l, ctl_ring_rx_fd(l->ctl), TAG_CTL))
		return 1;
	for (unsigned q = 0; q < l->dev->ops->nr_queues; q++)
		if (arm(l, l->dev->queues[q].kick_fd, q))
			return 1;
	while (!l->stop) {
		io_uring_submit_and_wait(&l->ring, 1);	/* -EINTR: reap what is there */
		while (!l->stop && !io_uring_peek_cqe(&l->ring, &cqe)) {
			uint64_t tag = io_uring_cqe_get_data64(cqe);
			int32_t res = cqe->res;

			io_uring_cqe_seen(&l->ring, cqe);
			if (dispatch(l, tag, res))
				return 2;
		}
	}
	return 0;
}

static int init_jailed(struct vdev *dev)
{
	int rc = dev->ops->init_jailed ? dev->ops->init_jailed(dev) : 0;

	if (rc)
		log_err("%s: init in the jail: %s", dev->name, strerror(rc < 0 ? -rc : EIO));
	return rc < 0 ? rc : rc ? -EIO : 0;
}

int device_process_prepare(void *arg)
{
	struct device_process *p = arg;
	struct loop *l = &the_loop;
	int rc;

	/* Its stderr is a pipe of its own, which the VMM reads and rate-limits:
	 * a compromised device cannot flood the VMM's log. */
	if (dup2(p->log_fd, STDERR_FILENO) < 0)
		return -errno;
	close(p->log_fd);
	rc = ctl_ring_attach(&p->ctl, p->ring_fds);
	ctl_ring_close_fds(p->ring_fds, CTL_NR_FDS);
	if (rc) {
		log_err("%s: control ring: %s", p->dev->name, strerror(-rc));
		return rc;
	}
	l->dev = p->dev;
	l->lim = (struct link_limits){
		.nr_queues = p->dev->ops->nr_queues,
		.max_queue_size = p->dev->ops->queue_size,
		.config_size = p->dev->ops->config_size,
	};
	l->ctl = &p->ctl;
	rc = setup_ring(l);
	if (rc) {
		log_err("%s: io_uring: %s", p->dev->name, strerror(-rc));
		return rc;
	}
	p->dev->failed = report_failure;
	p->dev->failed_ctx = l;
	p->dev->up = (struct vdev_up){ post_event, post_config_changed, l };
	l->shm_sock = p->shm_sock;
	p->dev->shm = (struct vdev_shm_ops){ loop_shm_map, loop_shm_unmap, l, loop_host_connect };
	p->dev->ring = &l->ring;
	return init_jailed(p->dev);
}

int device_process_main(void *arg)
{
	struct device_process *p = arg;
	struct loop *l = &the_loop;
	int rc;

	if (l->dev != p->dev)	/* prepare did not run */
		return 1;
	rc = run(l);
	io_uring_queue_exit(&l->ring);
	return rc;
}
