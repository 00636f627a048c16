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
#include <linux/time_types.h>

#include "virtio/virtq.h"
#include "virtio/vdev_link.h"

struct vdev;
struct io_uring;
struct io_uring_sqe;

/* Opcodes a device may add to its loop's io_uring restrictions. */
#define VDEV_MAX_URING_OPS 8
/*
 * user_data of the loop's io_uring: bit 63 set = an SQE the device took
 * with vdev_get_sqe(), whose CQE goes to ops->complete with bits 0..61,
 * or (bit 62 also set) one of the device's fd watches and timers
 * (vdev_watch.c); bit 63 clear = the loop's own (queue kicks, control
 * ring).
 */
#define VDEV_URING_DEVICE (1ull << 63)
#define VDEV_URING_WATCH (1ull << 62)
#define VDEV_URING_DATA_MASK (VDEV_URING_WATCH - 1)

/* fd watches and timers a device may hold at once. */
#define VDEV_MAX_WATCHES 16
#define VDEV_MAX_TIMERS 8

typedef void (*vdev_fd_cb)(struct vdev *dev, int fd, uint32_t revents, void *arg);
typedef void (*vdev_timer_cb)(struct vdev *dev, void *arg);

struct vdev_watch {
	int fd;				/* -1: free */
	uint32_t events, gen;
	vdev_fd_cb cb;
	void *arg;
};

struct vdev_timer {
	bool armed, periodic;
	uint32_t gen;
	struct __kernel_timespec ts;	/* read by the kernel at submission */
	vdev_timer_cb cb;
	void *arg;
};

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
	 * Optional: in the device process, inside the jail and before its
	 * seccomp filter, for setup the filter forbids afterwards (open a
	 * render node, load drivers, connect to a server). 0 or -errno: the
	 * device process does not start.
	 */
	int (*init_jailed)(struct vdev *dev);
	/*
	 * Optional: I/O the device submits itself to the loop's io_uring.
	 * The ring accepts these opcodes besides the loop's READ and
	 * POLL_ADD; complete() gets each CQE (data without the marker bit).
	 */
	/* Shared-memory regions, exposed as 64-bit prefetchable BARs. */
	const struct vdev_shm_region *shm_regions;
	unsigned nr_shm_regions;		/* at most VDEV_MAX_SHM_REGIONS */
	const uint8_t *uring_ops;		/* IORING_OP_*, at most VDEV_MAX_URING_OPS */
	unsigned nr_uring_ops;
	void (*complete)(struct vdev *dev, uint64_t data, int32_t res);
	/*
	 * Optional: a device-specific request from the VMM (LINK_DEVICE_CMD),
	 * len bytes, 1..LINK_DEVICE_MSG_MAX. Up to *reply_len bytes of reply
	 * (LINK_DEVICE_REPLY_MAX); sets *reply_len. 0 or -errno.
	 */
	int (*command)(struct vdev *dev, const void *req, unsigned len, void *reply,
		       unsigned *reply_len);
};

/* What a device sends up on its own, set by whatever runs it (the loop,
 * link_local); either may be NULL, and the message is then dropped. */
struct vdev_up {
	void (*event)(void *ctx, const void *buf, unsigned len);
	void (*config_changed)(void *ctx, unsigned off, const void *buf, unsigned len);
	void *ctx;
};

/* Where a device's map requests go, set by whatever runs it; and its
 * requests for a new connection to the host socket it was granted. */
struct vdev_shm_ops {
	int (*map)(void *ctx, uint8_t id, uint64_t offset, int fd, uint64_t fd_offset,
		   uint64_t size, uint32_t prot);
	int (*unmap)(void *ctx, uint8_t id, uint64_t offset);
	void *ctx;
	int (*host_connect)(void *ctx);		/* a connected fd, or -errno */
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
	struct vdev_watch watches[VDEV_MAX_WATCHES];
	struct vdev_timer timers[VDEV_MAX_TIMERS];
	struct vdev_up up;
	struct vdev_shm_ops shm;
};

/* The link's copy of the device's regions (link_local, link_child). */
int vdev_link_set_shm(struct vdev_link *link, const struct vdev_ops *ops);

void vdev_init(struct vdev *dev, const struct vdev_ops *ops, void *priv, const char *name,
	       const struct guest_mem *mem);
int vdev_set_vring(struct vdev *dev, unsigned q, const struct vdev_vring *ring);
/* Maps every configured ring with the negotiated features, then activates. */
int vdev_activate(struct vdev *dev, uint64_t features);
void vdev_reset(struct vdev *dev);
void vdev_destroy(struct vdev *dev);
/* After pushing a batch: interrupts the driver if it asked for it. */
void vdev_signal(struct vdev *dev, unsigned q);
/*
 * A device that stopped serving queue q with buffers left (its budget per
 * notify ran out) kicks it itself: the loop serves the rest after what
 * else is waiting (control messages, other queues).
 */
void vdev_requeue(struct vdev *dev, unsigned q);
/* The driver broke the protocol: the device needs a reset. */
void vdev_fail(struct vdev *dev, const char *why);

/* A device-specific event for the VMM (LINK_DEVICE_EVENT), posted:
 * 1..LINK_DEVICE_MSG_MAX bytes. */
void vdev_post_event(struct vdev *dev, const void *buf, unsigned len);
/* The device changed config bytes [off, off + len): the driver is told. */
void vdev_config_changed(struct vdev *dev, unsigned off, unsigned len);

/*
 * A new connection to the device's granted host socket, made by the VMM
 * (which finds the socket again by its path, so a restarted compositor is
 * reached): the fd, or -ENOSYS where nothing runs the device in a process.
 */
int vdev_host_connect(struct vdev *dev);
/*
 * Asks the VMM to map size bytes of fd, from fd_offset, at offset of the
 * device's shared-memory region id (one of ops->shm_regions), readable or
 * also writable (VDEV_SHM_PROT_*); the guest sees them at the region's BAR
 * + offset. fd: a memfd sealed with F_SEAL_SHRINK (the VMM refuses what
 * the device could shrink under the guest), holding the range; page
 * aligned; stays the caller's. Blocks for the VMM's answer, at most
 * VDEV_SHM_TIMEOUT_MS. 0 or -errno: -EINVAL (bad request, fd or range),
 * -ENODEV (no such region, or no memslots), -ENOSPC (too many mappings),
 * -EDEADLK when called while handling a request from the VMM (an op such
 * as activate or command: the VMM may be holding the transport for it),
 * -ETIMEDOUT (then an unmap of offset is queued behind the request, so
 * nothing stays mapped at offset: not a late map, nor what was there).
 * Call it from notify, a watch or timer callback, or a thread.
 */
int vdev_shm_map(struct vdev *dev, uint8_t id, uint64_t offset, int fd, uint64_t fd_offset,
		 uint64_t size, uint32_t prot);
/* Unmaps the mapping that starts at offset: 0, -EINVAL if none, as above. */
int vdev_shm_unmap(struct vdev *dev, uint8_t id, uint64_t offset);
/* Below the device's map requests' wait, the VMM's limit on its own calls. */
#define VDEV_SHM_TIMEOUT_MS 1000
/* The runtime brackets its handling of a VMM request (this thread). */
void vdev_request_begin(void);
void vdev_request_end(void);

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

/*
 * For devices that bring their own event loop (PipeWire, virglrenderer):
 * cb(dev, fd, revents, arg) runs on the device loop each time fd is ready
 * for events (POLLIN, ...) until unwatched; the fd stays the caller's.
 * Returns a watch id >= 0, or -ENOSPC, -EBUSY (no SQE), -ENODEV (no ring).
 */
int vdev_watch_fd(struct vdev *dev, int fd, uint32_t events, vdev_fd_cb cb, void *arg);
int vdev_unwatch_fd(struct vdev *dev, int id);
/* cb(dev, arg) after ms, then every ms if periodic, until stopped. A timer
 * id >= 0, or -errno as for watches. Callbacks may stop and start any. */
int vdev_timer_start(struct vdev *dev, unsigned ms, bool periodic, vdev_timer_cb cb, void *arg);
int vdev_timer_stop(struct vdev *dev, int id);
/* The loop's ring must accept these for watches and timers. */
extern const uint8_t vdev_watch_uring_ops[];
extern const unsigned vdev_nr_watch_uring_ops;
/* A watch or timer CQE (VDEV_URING_WATCH set): runs its callback. */
void vdev_watch_complete(struct vdev *dev, uint64_t user_data, int32_t res);

#endif
