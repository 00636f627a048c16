/*
 * Split virtqueues (virtio 1.2, 2.7) over guest RAM mapped in this process.
 *
 * The driver is hostile: every ring field, descriptor, index and length is
 * read once into a local, checked, and only then used. Buffers are handed
 * to the device as iovecs pointing into guest RAM, every byte of which
 * guest_mem_ptr() accepted. The guest can still change buffer contents at
 * any time: copy a request header out (iov_to_buf) before checking it.
 *
 * One thread owns a queue; the library keeps no locks. Any driver error
 * sets vq->broken, logs one rate-limited line and makes virtq_pop() return
 * -1 from then on; the device then sets DEVICE_NEEDS_RESET and waits for
 * the driver to reset it (virtq_reset(), then virtq_setup() again).
 */
#ifndef VMSILO_VIRTQ_H
#define VMSILO_VIRTQ_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct guest_mem;

#define VIRTQ_MAX_SIZE	32768	/* largest queue size virtio allows */
#define VIRTQ_MAX_CHAIN	1024	/* buffers per chain; devices advertise less */

struct virtq {
	uint16_t size;			/* 0 until virtq_setup() succeeds */
	bool event_idx;			/* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool broken;			/* driver error seen: needs reset */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Host views of the rings, checked to lie in guest RAM at setup. */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail_idx;	/* next avail entry to pop */
	uint16_t used_idx;		/* next used entry to fill */
	uint16_t signalled_used;	/* used_idx at the last notify decision */
	bool signalled_valid;		/* signalled_used means something */
	bool notify;			/* driver kicks wanted (enable/disable) */
};

/* One descriptor chain: device-readable buffers first, then writable ones. */
struct virtq_chain {
	uint16_t head;
	unsigned nr_out, nr_in;
	struct iovec iov[VIRTQ_MAX_CHAIN];
	uint64_t out_len, in_len;	/* byte totals of each part */
};

/*
 * Checks and maps the rings. size is 1..VIRTQ_MAX_SIZE, any value (the
 * index math is modulo size); desc must be 16-aligned, avail 2, used 4;
 * each ring, with its event field when event_idx, must lie in one RAM
 * region and the three must not overlap. Returns 0, or -1 with vq->broken
 * set and vq->size 0. Guest memory is not written.
 */
int virtq_setup(struct virtq *vq, const struct guest_mem *mem, uint16_t size,
		uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa, bool event_idx);

/* Back to the state before setup (device reset). */
void virtq_reset(struct virtq *vq);

/*
 * Takes the next available chain: 1 = *chain filled, 0 = ring empty,
 * -1 = driver error (vq->broken set; every later call returns -1).
 * A chain may have zero total length; the device decides what that means.
 * With notifications enabled, a 0 return is safe to sleep on until the
 * next kick.
 */
int virtq_pop(struct virtq *vq, const struct guest_mem *mem, struct virtq_chain *chain);

/*
 * Returns a chain to the driver with the number of bytes the device wrote
 * into its writable part, and publishes used->idx (release ordering: the
 * device's writes into the buffers are visible before it).
 */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t written);

/*
 * After one or more pushes: true if the driver wants an interrupt for them
 * (VRING_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX). Call once per
 * batch and signal the call eventfd when it says so. False if nothing was
 * pushed since the last call.
 */
bool virtq_should_notify(struct virtq *vq);

/* Asks the driver not to kick while the device is busy draining the ring. */
void virtq_disable_notify(struct virtq *vq);

/*
 * Asks for kicks again, then looks at the ring once more: true means
 * buffers arrived meanwhile (their kick may never come), so pop again
 * before sleeping.
 */
bool virtq_enable_notify(struct virtq *vq);

/* The device-writable iovecs of a chain (chain->nr_in of them). */
static inline struct iovec *virtq_chain_in(struct virtq_chain *chain)
{
	return chain->iov + chain->nr_out;
}

#endif
