/*
 * The seam between the virtio-pci transport and a device, wherever the
 * device runs: in this process (tests), in a jailed child over the control
 * rings, or later in an external vhost-user backend. Its operations follow
 * vhost-user's: features, config, vring addresses, enable, activate, reset.
 * Kick and call eventfds are created here and shared with the device, so
 * the data path never passes through the transport.
 */
#ifndef VMSILO_VDEV_LINK_H
#define VMSILO_VDEV_LINK_H

#include <stdbool.h>
#include <stdint.h>

#define VDEV_MAX_QUEUES 16
#define VDEV_CONFIG_MAX 256
#define VDEV_MAX_SHM_REGIONS 2	/* BARs 2 and 4, 64-bit pairs */

/* A shared-memory region the device fills with mappings (virtio 1.2, 2.10). */
struct vdev_shm_region {
	uint8_t id;			/* the device type's region id */
	uint64_t size;			/* a power of two >= 4 KiB */
};

struct vdev_link;

struct vdev_vring {
	uint16_t size;
	uint64_t desc, avail, used;	/* guest physical addresses */
};

struct vdev_link_ops {
	/* Each returns 0 or a negative errno; the transport marks the device
	 * NEEDS_RESET when one fails after the driver started using it. */
	int (*set_config)(struct vdev_link *link, unsigned offset, const void *buf, unsigned len);
	int (*set_vring)(struct vdev_link *link, unsigned q, const struct vdev_vring *ring);
	int (*activate)(struct vdev_link *link, uint64_t features);
	int (*reset)(struct vdev_link *link);
};

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
};

#endif
