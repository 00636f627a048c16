/*
 * A virtio device model: a table of ops that knows nothing of PCI, KVM or
 * the process it runs in, plus the small runtime every model shares
 * (queues, interrupts, failure). The same model runs in a jailed child
 * behind the control rings or, for tests, in process behind link_local.
 */
#ifndef VMSILO_VDEV_H
#define VMSILO_VDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtq.h"
#include "virtio/vdev_link.h"

struct vdev;
struct io_uring;
struct io_uring_sqe;

/* Opcodes a device may add to its loop's io_uring restrictions. */
#define VDEV_MAX_URING_OPS 8
/*
 * user_data of the loop's io_uring: bit 63 set = an SQE the device took
 * with vdev_get_sqe(), whose CQE goes to ops->complete with bits 0..62;
 * bit 63 clear = the loop's own (queue kicks, control ring).
 */
#define VDEV_URING_DEVICE (1ull << 63)

struct vdev_ops {
	const char *name;
	uint16_t device_id;
	unsigned nr_queues;
	uint16_t queue_size;
	unsigned config_size;
	uint64_t features;			/* device features offered */
	void (*config)(struct vdev *dev, uint8_t *buf);	/* config_size bytes */
	/* Optional: a driver write to device config; -1 refuses it. */
	int (*write_config)(struct vdev *dev, unsigned off, const uint8_t *buf, unsigned len);
	/* Optional: at FEATURES_OK, the subset the driver chose; -1 refuses it. */
	int (*features_ok)(struct vdev *dev, uint64_t features);
	int (*activate)(struct vdev *dev);	/* optional: after DRIVER_OK */
	void (*notify)(struct vdev *dev, unsigned q);	/* a kick: drain queue q */
	void (*reset)(struct vdev *dev);	/* optional */
	void (*destroy)(struct vdev *dev);	/* optional: frees priv */
	/*
	 * Optional: I/O the device submits itself to the loop's io_uring.
	 * The ring accepts these opcodes besides the loop's READ and
	 * POLL_ADD; complete() gets each CQE (data without the marker bit).
	 */
	const uint8_t *uring_ops;		/* IORING_OP_*, at most VDEV_MAX_URING_OPS */
	unsigned nr_uring_ops;
	void (*complete)(struct vdev *dev, uint64_t data, int32_t res);
};

struct vdev_queue {
	struct vdev_vring ring;			/* as the driver set it up */
	struct virtq vq;			/* live after activation */
	int kick_fd, call_fd;
};

struct vdev {
	const struct vdev_ops *ops;
	void *priv;
	const char *name;
	const struct guest_mem *mem;
	uint64_t features;			/* negotiated */
	bool active;
	struct vdev_queue queues[VDEV_MAX_QUEUES];
	/* Set by the runtime: the device stopped trusting the driver. */
	void (*failed)(struct vdev *dev, const char *why);
	void *failed_ctx;
	/* Set by the loop before activation: the ring the device submits to. */
	struct io_uring *ring;
	unsigned uring_inflight;		/* SQEs taken, CQEs not yet routed */
};

void vdev_init(struct vdev *dev, const struct vdev_ops *ops, void *priv, const char *name,
	       const struct guest_mem *mem);
int vdev_set_vring(struct vdev *dev, unsigned q, const struct vdev_vring *ring);
/* Maps every configured ring with the negotiated features, then activates. */
int vdev_activate(struct vdev *dev, uint64_t features);
void vdev_reset(struct vdev *dev);
void vdev_destroy(struct vdev *dev);
/* After pushing a batch: interrupts the driver if it asked for it. */
void vdev_signal(struct vdev *dev, unsigned q);
/* The driver broke the protocol: the device needs a reset. */
void vdev_fail(struct vdev *dev, const char *why);

/*
 * An SQE on the loop's ring tagged with data (bits 0..62), for the device
 * to prepare (liburing's prep helpers leave user_data alone). A full SQ is
 * submitted first; NULL if the kernel takes none of it, or there is no
 * ring. Every SQE taken must be prepared: its CQE is counted in flight.
 * The loop submits it with the next io_uring_submit_and_wait, so requests
 * prepared during one notification go to the kernel as one batch.
 */
struct io_uring_sqe *vdev_get_sqe(struct vdev *dev, uint64_t data);
/* A CQE from the loop's ring: true if it was the device's (and is handled). */
bool vdev_uring_complete(struct vdev *dev, uint64_t user_data, int32_t res);

#endif
