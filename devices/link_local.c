#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/link_local.h"
#include "virtio/link_proto.h"

#define LINK_LOCAL_RING_ENTRIES 32	/* small: batches overflow the SQ in tests */

static struct vdev *device_of(struct vdev_link *link)
{
	return ((struct link_local *)link->priv)->dev;
}

/*
 * The ops run the device's handler as the device process does for a
 * request from the VMM: inside one, its map requests are refused
 * (vdev_shm_map), here as there.
 */
static int local_set_config(struct vdev_link *link, unsigned off, const void *buf, unsigned len)
{
	struct vdev *dev = device_of(link);
	int rc;

	vdev_request_begin();
	rc = dev->ops->write_config ? dev->ops->write_config(dev, off, buf, len) : -EPERM;
	vdev_request_end();
	return rc;
}

static int local_set_vring(struct vdev_link *link, unsigned q, const struct vdev_vring *ring)
{
	return vdev_set_vring(device_of(link), q, ring);
}

static int local_features_ok(struct vdev_link *link, uint64_t features)
{
	struct vdev *dev = device_of(link);
	int rc;

	vdev_request_begin();
	rc = dev->ops->features_ok && dev->ops->features_ok(dev, features) ? -ENOTSUP : 0;
	vdev_request_end();
	return rc;
}

static int local_activate(struct vdev_link *link, uint64_t features)
{
	int rc;

	vdev_request_begin();
	rc = vdev_activate(device_of(link), features);
	vdev_request_end();
	return rc;
}

static int local_reset(struct vdev_link *link)
{
	vdev_request_begin();
	vdev_reset(device_of(link));
	vdev_request_end();
	return 0;
}

/* A map request straight to whoever subscribed to the link's events. */
static int local_shm_map(void *ctx, uint8_t id, uint64_t offset, int fd, uint64_t fd_offset,
			 uint64_t size, uint32_t prot)
{
	struct link_local *ll = ctx;

	return vdev_link_shm_map(&ll->link, id, offset, fd, fd_offset, size, prot);
}

static int local_shm_unmap(void *ctx, uint8_t id, uint64_t offset)
{
	struct link_local *ll = ctx;

	return vdev_link_shm_unmap(&ll->link, id, offset);
}

/* Kicks are served by link_local_poll: nothing for a main loop to watch. */
static unsigned local_watches(struct vdev_link *link, struct vdev_link_watch *w)
{
	(void)link, (void)w;
	return 0;
}

static enum vdev_link_status local_status(struct vdev_link *link)
{
	(void)link;
	return VDEV_LINK_RUNNING;
}

static pid_t local_pid(struct vdev_link *link)
{
	(void)link;
	return 0;
}

static void local_stop(struct vdev_link *link)
{
	link_local_destroy(link->priv);
}

static int local_command(struct vdev_link *link, const void *req, unsigned len, void *reply,
			 unsigned *reply_len)
{
	return link_local_command(link->priv, req, len, reply, reply_len);
}

/* Posted: the device's command op, its reply and status dropped. */
static int local_post(struct vdev_link *link, const void *msg, unsigned len)
{
	uint8_t reply[LINK_DEVICE_REPLY_MAX];
	unsigned reply_len = sizeof(reply);

	if (!len || len > LINK_DEVICE_MSG_MAX)
		return -EINVAL;
	(void)link_local_command(link->priv, msg, len, reply, &reply_len);
	return 0;
}

static const struct vdev_link_ops local_ops = {
	.set_config = local_set_config, .set_vring = local_set_vring,
	.features_ok = local_features_ok, .activate = local_activate, .reset = local_reset,
	.watches = local_watches, .status = local_status, .pid = local_pid, .stop = local_stop,
	.command = local_command, .post = local_post,
};

int link_local_init(struct link_local *ll, struct vdev *dev)
{
	struct vdev_link *link = &ll->link;
	const struct vdev_ops *ops = dev->ops;
	int rc;

	*link = (struct vdev_link){
		.ops = &local_ops, .priv = ll, .name = dev->name, .device_id = ops->device_id,
		.features = ops->features, .nr_queues = ops->nr_queues,
		.max_queue_size = ops->queue_size, .config_size = ops->config_size,
	};
	ll->dev = dev;
	ll->has_ring = false;
	/* Before anything can fail: link_local_destroy closes what is >= 0. */
	for (unsigned q = 0; q < ops->nr_queues; q++)
		link->kick_fd[q] = link->call_fd[q] = -1;
	/* In the VMM the device connects by the path itself: no host_connect. */
	dev->shm = (struct vdev_shm_ops){ local_shm_map, local_shm_unmap, ll, NULL };
	rc = vdev_link_set_shm(link, ops);
	if (rc)
		return rc;
	rc = io_uring_queue_init(LINK_LOCAL_RING_ENTRIES, &ll->ring, 0);
	if (rc)
		return rc;
	ll->has_ring = true;
	dev->ring = &ll->ring;
	if (ops->config)
		ops->config(dev, link->config);
	for (unsigned q = 0; q < ops->nr_queues; q++) {
		link->kick_fd[q] = dev->queues[q].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		link->call_fd[q] = dev->queues[q].call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (link->kick_fd[q] < 0 || link->call_fd[q] < 0)
			return -errno;
	}
	return 0;
}

void link_local_set_up(struct link_local *ll, const struct vdev_up *up)
{
	ll->dev->up = *up;
}

int link_local_command(struct link_local *ll, const void *req, unsigned len, void *reply,
		       unsigned *reply_len)
{
	struct vdev *dev = ll->dev;
	int rc;

	if (!len || len > LINK_DEVICE_MSG_MAX)
		return -EINVAL;
	if (!dev->ops->command)
		return -ENOTSUP;
	vdev_request_begin();
	rc = dev->ops->command(dev, req, len, reply, reply_len);
	vdev_request_end();
	return rc;
}

void link_local_poll(struct link_local *ll)
{
	struct io_uring_cqe *cqe;
	uint64_t count;

	for (unsigned q = 0; q < ll->link.nr_queues; q++)
		if (read(ll->link.kick_fd[q], &count, sizeof(count)) == sizeof(count) &&
		    ll->dev->active)
			ll->dev->ops->notify(ll->dev, q);
	do {
		io_uring_submit_and_wait(&ll->ring, ll->dev->uring_inflight ? 1 : 0);
		while (!io_uring_peek_cqe(&ll->ring, &cqe)) {
			uint64_t data = io_uring_cqe_get_data64(cqe);
			int32_t res = cqe->res;

			io_uring_cqe_seen(&ll->ring, cqe);
			vdev_uring_complete(ll->dev, data, res);
		}
	} while (ll->dev->uring_inflight);
}

int link_local_wait(struct link_local *ll, unsigned timeout_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000, .tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;
	int got = 0;

	if (io_uring_submit_and_wait_timeout(&ll->ring, &cqe, 1, &ts, NULL) < 0)
		return 0;
	while (!io_uring_peek_cqe(&ll->ring, &cqe)) {
		uint64_t data = io_uring_cqe_get_data64(cqe);
		int32_t res = cqe->res;

		io_uring_cqe_seen(&ll->ring, cqe);
		vdev_uring_complete(ll->dev, data, res);
		got = 1;
	}
	return got;
}

void link_local_destroy(struct link_local *ll)
{
	for (unsigned q = 0; q < ll->link.nr_queues; q++) {
		if (ll->link.kick_fd[q] >= 0)
			close(ll->link.kick_fd[q]);
		if (ll->link.call_fd[q] >= 0)
			close(ll->link.call_fd[q]);
	}
	if (ll->has_ring)
		io_uring_queue_exit(&ll->ring);
	ll->has_ring = false;
	ll->dev->ring = NULL;
}
