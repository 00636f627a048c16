/*
 * The guest driver's side of one split virtqueue for the device unit
 * tests: rings laid out in fake guest RAM, descriptor chains posted to
 * the avail ring, used entries read back, as a Linux driver would (no
 * event index). Header-only: each test is one executable.
 *
 * Layout from base: the descriptor table, the avail ring at the next
 * 4 KiB boundary, the used ring 4 KiB after that.
 */
#ifndef VMSILO_FAKE_DRIVER_H
#define VMSILO_FAKE_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <linux/virtio_ring.h>

#include "devices/vdev.h"

struct fake_vq {
	uint8_t *ram;
	uint64_t desc, avail, used;	/* guest physical addresses */
	uint16_t size;			/* at most 1024: each ring fits its 4 KiB */
	uint16_t avail_idx, next_desc, used_seen;
};

/* One buffer of a chain: device-readable, or device-writable. */
struct fake_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/* The bytes the rings take from base on. */
static inline uint64_t fake_vq_bytes(uint16_t size)
{
	return ((16ull * size + 0xfff) & ~0xfffull) + 0x2000;
}

/* Zeroed rings of size entries at base in ram; no buffers posted. */
static inline void fake_vq_init(struct fake_vq *vq, uint8_t *ram, uint64_t base, uint16_t size)
{
	*vq = (struct fake_vq){ .ram = ram, .desc = base, .size = size };
	vq->avail = base + ((16ull * size + 0xfff) & ~0xfffull);
	vq->used = vq->avail + 0x1000;
	memset(ram + base, 0, fake_vq_bytes(size));
}

/* What the driver writes to the transport's queue registers. */
static inline struct vdev_vring fake_vq_ring(const struct fake_vq *vq)
{
	return (struct vdev_vring){
		.size = vq->size, .desc = vq->desc, .avail = vq->avail, .used = vq->used,
	};
}

/* Posts one chain of n bufs, descriptors taken in order; returns its head. */
static inline uint16_t fake_vq_post(struct fake_vq *vq, const struct fake_buf *b, unsigned n)
{
	struct vring_desc *desc = (struct vring_desc *)(vq->ram + vq->desc);
	struct vring_avail *avail = (struct vring_avail *)(vq->ram + vq->avail);
	uint16_t head = vq->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % vq->size);

		desc[idx] = (struct vring_desc){
			.addr = b[i].gpa, .len = b[i].len,
			.flags = (uint16_t)((b[i].writable ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = (uint16_t)((idx + 1) % vq->size),
		};
	}
	vq->next_desc = (uint16_t)((head + n) % vq->size);
	avail->ring[vq->avail_idx % vq->size] = head;
	__atomic_store_n(&avail->idx, ++vq->avail_idx, __ATOMIC_RELEASE);
	return head;
}

/* The next used entry into *e: false when the device has used no more. */
static inline bool fake_vq_used(struct fake_vq *vq, struct vring_used_elem *e)
{
	struct vring_used *u = (struct vring_used *)(vq->ram + vq->used);

	if (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) == vq->used_seen)
		return false;
	*e = u->ring[vq->used_seen++ % vq->size];
	return true;
}

#endif
