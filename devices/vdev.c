#include <errno.h>
#include <liburing.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_ring.h>

#include "devices/vdev.h"
#include "vmm/log.h"

void vdev_init(struct vdev *dev, const struct vdev_ops *ops, void *priv, const char *name,
	       const struct guest_mem *mem)
{
	memset(dev, 0, sizeof(*dev));
	dev->ops = ops;
	dev->priv = priv;
	dev->name = name;
	dev->mem = mem;
	for (unsigned q = 0; q < VDEV_MAX_QUEUES; q++)
		dev->queues[q].kick_fd = dev->queues[q].call_fd = -1;
	for (unsigned i = 0; i < VDEV_MAX_WATCHES; i++)
		dev->watches[i].fd = -1;
}

int vdev_link_set_shm(struct vdev_link *link, const struct vdev_ops *ops)
{
	if (ops->nr_shm_regions > VDEV_MAX_SHM_REGIONS)
		return -EINVAL;
	link->nr_shm = ops->nr_shm_regions;
	for (unsigned i = 0; i < link->nr_shm; i++)
		link->shm[i] = ops->shm_regions[i];
	return 0;
}

int vdev_set_vring(struct vdev *dev, unsigned q, const struct vdev_vring *ring)
{
	if (q >= dev->ops->nr_queues || dev->active || !ring->size ||
	    ring->size > dev->ops->queue_size)
		return -EINVAL;
	dev->queues[q].ring = *ring;
	return 0;
}

int vdev_activate(struct vdev *dev, uint64_t features)
{
	bool event_idx = features & (1ull << VIRTIO_RING_F_EVENT_IDX);

	if (dev->active)
		return -EBUSY;
	dev->features = features;
	for (unsigned q = 0; q < dev->ops->nr_queues; q++) {
		struct vdev_queue *vq = &dev->queues[q];

		if (vq->ring.size &&
		    virtq_setup(&vq->vq, dev->mem, vq->ring.size, vq->ring.desc,
				vq->ring.avail, vq->ring.used, event_idx)) {
			log_ratelimited(LOG_WARN, "%s: queue %u: rings outside guest memory or misaligned",
					dev->name, q);
			return -EINVAL;
		}
	}
	if (dev->ops->activate && dev->ops->activate(dev))
		return -EIO;
	dev->active = true;
	/* A driver may make buffers available before DRIVER_OK (Linux's
	 * balloon driver kicks its first stats buffer then); that kick was
	 * taken while the device was inactive, so every queue gets one more.
	 * A kick, not a call: the loop serves it after the activation's reply,
	 * outside the VMM's request, and only if the device is still live. */
	for (unsigned q = 0; q < dev->ops->nr_queues; q++)
		if (dev->queues[q].ring.size)
			vdev_requeue(dev, q);
	return 0;
}

void vdev_reset(struct vdev *dev)
{
	if (dev->ops->reset)
		dev->ops->reset(dev);
	for (unsigned q = 0; q < VDEV_MAX_QUEUES; q++) {
		virtq_reset(&dev->queues[q].vq);
		memset(&dev->queues[q].ring, 0, sizeof(dev->queues[q].ring));
	}
	dev->features = 0;
	dev->active = false;
}

void vdev_signal(struct vdev *dev, unsigned q)
{
	struct vdev_queue *vq = &dev->queues[q];

	if (virtq_should_notify(&vq->vq) && vq->call_fd >= 0)
		(void)!write(vq->call_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
}

void vdev_requeue(struct vdev *dev, unsigned q)
{
	if (dev->queues[q].kick_fd >= 0)
		(void)!write(dev->queues[q].kick_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
}

void vdev_fail(struct vdev *dev, const char *why)
{
	dev->active = false;
	if (dev->failed)
		dev->failed(dev, why);
}

void vdev_post_event(struct vdev *dev, const void *buf, unsigned len)
{
	if (dev->up.event)
		dev->up.event(dev->up.ctx, buf, len);
}

void vdev_config_changed(struct vdev *dev, unsigned off, unsigned len)
{
	uint8_t config[VDEV_CONFIG_MAX] = { 0 };

	if (!dev->up.config_changed || !dev->ops->config || off > dev->ops->config_size ||
	    len > dev->ops->config_size - off || dev->ops->config_size > sizeof(config))
		return;
	dev->ops->config(dev, config);
	dev->up.config_changed(dev->up.ctx, off, config + off, len);
}

void vdev_destroy(struct vdev *dev)
{
	if (dev->ops && dev->ops->destroy)
		dev->ops->destroy(dev);
	dev->ops = NULL;
}

/* Requests from the VMM this thread is handling now. */
static _Thread_local unsigned in_request;

void vdev_request_begin(void)
{
	in_request++;
}

void vdev_request_end(void)
{
	in_request--;
}

static bool has_region(const struct vdev *dev, uint8_t id)
{
	for (unsigned i = 0; i < dev->ops->nr_shm_regions; i++)
		if (dev->ops->shm_regions[i].id == id)
			return true;
	return false;
}

static int shm_request_ok(const struct vdev *dev, uint8_t id)
{
	if (in_request)
		return -EDEADLK;
	if (!has_region(dev, id))
		return -EINVAL;
	return dev->shm.map && dev->shm.unmap ? 0 : -ENODEV;
}

int vdev_host_connect(struct vdev *dev)
{
	return dev->shm.host_connect ? dev->shm.host_connect(dev->shm.ctx) : -ENOSYS;
}

int vdev_shm_map(struct vdev *dev, uint8_t id, uint64_t offset, int fd, uint64_t fd_offset,
		 uint64_t size, uint32_t prot)
{
	int rc = shm_request_ok(dev, id);

	if (rc)
		return rc;
	if (fd < 0 || (prot != VDEV_SHM_PROT_READ &&
		       prot != (VDEV_SHM_PROT_READ | VDEV_SHM_PROT_WRITE)))
		return -EINVAL;
	rc = dev->shm.map(dev->shm.ctx, id, offset, fd, fd_offset, size, prot);
	if (rc == -ETIMEDOUT) {
		/* The VMM may still map it (the request is queued): the unmap
		 * queued behind it undoes that, in order. */
		log_ratelimited(LOG_WARN, "%s: map at %#llx of region %u: no answer in time; "
				"unmapping it", dev->name, (unsigned long long)offset, id);
		dev->shm.unmap(dev->shm.ctx, id, offset);
	}
	return rc;
}

int vdev_shm_unmap(struct vdev *dev, uint8_t id, uint64_t offset)
{
	int rc = shm_request_ok(dev, id);

	return rc ? rc : dev->shm.unmap(dev->shm.ctx, id, offset);
}

struct io_uring_sqe *vdev_get_sqe(struct vdev *dev, uint64_t data)
{
	struct io_uring_sqe *sqe;

	if (!dev->ring)
		return NULL;
	sqe = io_uring_get_sqe(dev->ring);
	if (!sqe && io_uring_submit(dev->ring) >= 0)	/* SQ full: hand it over */
		sqe = io_uring_get_sqe(dev->ring);
	if (!sqe)
		return NULL;
	io_uring_sqe_set_data64(sqe, (data & VDEV_URING_DATA_MASK) | VDEV_URING_DEVICE);
	dev->uring_inflight++;
	return sqe;
}

bool vdev_uring_complete(struct vdev *dev, uint64_t user_data, int32_t res)
{
	if (!(user_data & VDEV_URING_DEVICE))
		return false;
	if (user_data & VDEV_URING_WATCH) {
		vdev_watch_complete(dev, user_data, res);
		return true;
	}
	dev->uring_inflight--;
	if (dev->ops && dev->ops->complete)
		dev->ops->complete(dev, user_data & VDEV_URING_DATA_MASK, res);
	return true;
}
