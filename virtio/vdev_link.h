/*
 * The seam between the virtio-pci transport and a device, wherever the
 * device runs: in this process (tests), in a jailed child over the control
 * rings, or later in an external vhost-user backend. Its operations follow
 * vhost-user's: features, config, vring addresses, enable, activate, reset.
 * Kick and call eventfds are created here and shared with the device, so
 * the data path never passes through the transport.
 *
 * Downward: the ops. Upward: events the transport subscribes to (config
 * changed, needs reset, shared-memory map and unmap requests), and the
 * device's own events (LINK_DEVICE_EVENT) for whoever serves its VMM side
 * (vdev_link_on_device_event); never a pointer into the transport. Around
 * both, the lifecycle the VMM's main loop drives: the fds to watch, stop,
 * status and pid.
 */
#ifndef VMSILO_VDEV_LINK_H
#define VMSILO_VDEV_LINK_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define VDEV_MAX_QUEUES 16
#define VDEV_CONFIG_MAX 256
#define VDEV_MAX_SHM_REGIONS 2	/* BARs 2 and 4, 64-bit pairs */

/* A shared-memory region the device fills with mappings (virtio 1.2, 2.10). */
struct vdev_shm_region {
	uint8_t id;			/* the device type's region id */
	uint64_t size;			/* a power of two >= 4 KiB */
};
#define VDEV_LINK_MAX_WATCHES 4

struct vdev_link;

struct vdev_vring {
	uint16_t size;
	uint64_t desc, avail, used;	/* guest physical addresses */
};

enum vdev_link_status {
	VDEV_LINK_RUNNING,
	VDEV_LINK_NEEDS_RESET,	/* the device reported a failure; a reset may cure it */
	VDEV_LINK_DEAD,		/* the device is gone for good: requests fail */
};

/* An fd the main loop polls for the link (-1: none now), and what then. */
struct vdev_link_watch {
	int fd;
	short events;
	void (*serve)(struct vdev_link *link, short revents);
};

struct vdev_link_ops {
	/* Each returns 0 or a negative errno; the transport marks the device
	 * NEEDS_RESET when one fails after the driver started using it. */
	int (*set_config)(struct vdev_link *link, unsigned offset, const void *buf, unsigned len);
	int (*set_vring)(struct vdev_link *link, unsigned q, const struct vdev_vring *ring);
	/* At FEATURES_OK: non-zero refuses the combination (the transport
	 * then leaves FEATURES_OK clear). NULL: any subset is fine. */
	int (*features_ok)(struct vdev_link *link, uint64_t features);
	int (*activate)(struct vdev_link *link, uint64_t features);
	int (*reset)(struct vdev_link *link);
	/* Optional: a device-specific request and its reply (up to *reply_len
	 * bytes, set to what came); the device's status, -EPIPE once the link
	 * is broken. NULL: -EOPNOTSUPP. */
	int (*command)(struct vdev_link *link, const void *req, unsigned len, void *reply,
		       unsigned *reply_len);
	/* Optional: a device-specific request sent without waiting (no reply,
	 * the device's status is not seen): never blocks. 0, -EAGAIN when the
	 * link has no room now, -EPIPE once it is broken. NULL: -EOPNOTSUPP. */
	int (*post)(struct vdev_link *link, const void *msg, unsigned len);

	/* Lifecycle, main-loop thread only. watches fills at most
	 * VDEV_LINK_MAX_WATCHES slots and returns how many; a slot keeps its
	 * index, its fd may change or become -1 after any serve. */
	unsigned (*watches)(struct vdev_link *link, struct vdev_link_watch *w);
	enum vdev_link_status (*status)(struct vdev_link *link);
	pid_t (*pid)(struct vdev_link *link);	/* 0: no process of its own */
	/* Ends the device and frees what the link holds; a link made by a
	 * *_create() function is freed too. */
	void (*stop)(struct vdev_link *link);
};

/* What the transport hears from the device; any thread, even inside an op. */
struct vdev_link_events {
	/* len new bytes of the config at offset: -EINVAL, nothing changed,
	 * unless they fit in config_size. */
	int (*config_changed)(void *ctx, unsigned offset, const void *bytes, unsigned len);
	void (*needs_reset)(void *ctx, const char *why);
	/* Optional: the device maps size bytes of fd (from fd_offset) at
	 * offset of its shared-memory region id, prot VDEV_SHM_PROT_*, or
	 * unmaps what starts at offset. 0 or -errno; fd stays the caller's.
	 * Main-loop thread (link_child) or the device's own (link_local). */
	int (*shm_map)(void *ctx, uint8_t id, uint64_t offset, int fd, uint64_t fd_offset,
		       uint64_t size, uint32_t prot);
	int (*shm_unmap)(void *ctx, uint8_t id, uint64_t offset);
};

#define VDEV_SHM_PROT_READ	1u
#define VDEV_SHM_PROT_WRITE	2u

struct vdev_link {
	const struct vdev_link_ops *ops;
	void *priv;
	const char *name;		/* "blk0", for messages */
	uint16_t device_id;		/* virtio device id */
	uint64_t features;		/* offered, including VIRTIO_F_VERSION_1 */
	unsigned nr_queues;
	uint16_t max_queue_size;
	unsigned config_size;
	uint8_t config[VDEV_CONFIG_MAX];	/* cached for vCPU reads */
	int kick_fd[VDEV_MAX_QUEUES];	/* eventfds: guest notify -> device */
	int call_fd[VDEV_MAX_QUEUES];	/* eventfds: device -> guest interrupt */
	unsigned nr_shm;
	struct vdev_shm_region shm[VDEV_MAX_SHM_REGIONS];
	const struct vdev_link_events *events;	/* set before the device runs */
	void *events_ctx;
	/* Device-specific events (hostile bytes), for the VMM's side of the
	 * device (balloon_ctl); main-loop thread. */
	void (*device_event)(void *ctx, const void *buf, unsigned len);
	void *device_event_ctx;
};

static inline void vdev_link_subscribe(struct vdev_link *link, const struct vdev_link_events *ev,
				       void *ctx)
{
	link->events = ev;
	link->events_ctx = ctx;
}

static inline int vdev_link_config_changed(struct vdev_link *link, unsigned offset,
					   const void *bytes, unsigned len)
{
	return link->events ? link->events->config_changed(link->events_ctx, offset, bytes, len)
			    : -ENOTCONN;
}

static inline int vdev_link_command(struct vdev_link *link, const void *req, unsigned len,
				    void *reply, unsigned *reply_len)
{
	return link->ops->command ? link->ops->command(link, req, len, reply, reply_len)
				  : -EOPNOTSUPP;
}

static inline int vdev_link_post(struct vdev_link *link, const void *msg, unsigned len)
{
	return link->ops->post ? link->ops->post(link, msg, len) : -EOPNOTSUPP;
}

static inline void vdev_link_on_device_event(struct vdev_link *link,
					     void (*fn)(void *ctx, const void *buf, unsigned len),
					     void *ctx)
{
	link->device_event = fn;
	link->device_event_ctx = ctx;
}

static inline int vdev_link_shm_map(struct vdev_link *link, uint8_t id, uint64_t offset, int fd,
				    uint64_t fd_offset, uint64_t size, uint32_t prot)
{
	return link->events && link->events->shm_map
	       ? link->events->shm_map(link->events_ctx, id, offset, fd, fd_offset, size, prot)
	       : -ENODEV;
}

static inline int vdev_link_shm_unmap(struct vdev_link *link, uint8_t id, uint64_t offset)
{
	return link->events && link->events->shm_unmap
	       ? link->events->shm_unmap(link->events_ctx, id, offset)
	       : -ENODEV;
}

static inline void vdev_link_needs_reset(struct vdev_link *link, const char *why)
{
	if (link->events)
		link->events->needs_reset(link->events_ctx, why);
}

#endif
