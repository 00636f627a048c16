/*
 * The guest driver's side of one split virtqueue for the device unit
 * tests: rings laid out in fake guest RAM, descriptor chains posted to
 * the avail ring, used entries read back, as a Linux driver would (no
 * event index). Header-only: each test is one executable.
 *
 * Layout from base, each part on a 4 KiB boundary: the descriptor table,
 * the avail ring, the used ring (for up to 256 entries: a page each).
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
	uint16_t size;
	uint16_t avail_idx, next_desc, used_seen;
};

/* One buffer of a chain: device-readable, or device-writable. */
struct fake_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

static inline uint64_t fake_vq_page_up(uint64_t n)
{
	return (n + 0xfff) & ~0xfffull;
}

/* The bytes the rings take from base on. */
static inline uint64_t fake_vq_bytes(uint16_t size)
{
	return fake_vq_page_up(16ull * size) + fake_vq_page_up(6 + 2ull * size) +
	       fake_vq_page_up(6 + 8ull * size);
}

/* Zeroed rings of size entries at base in ram; no buffers posted. */
static inline void fake_vq_init(struct fake_vq *vq, uint8_t *ram, uint64_t base, uint16_t size)
{
	*vq = (struct fake_vq){ .ram = ram, .desc = base, .size = size };
	vq->avail = base + fake_vq_page_up(16ull * size);
	vq->used = vq->avail + fake_vq_page_up(6 + 2ull * size);
	memset(ram + base, 0, fake_vq_bytes(size));
}

/* What the driver writes to the transport's queue registers. */
static inline struct vdev_vring fake_vq_ring(const struct fake_vq *vq)
{
	return (struct vdev_vring){
		.size = vq->size, .desc = vq->desc, .avail = vq->avail, .used = vq->used,
	};
}

static inline struct vring_desc *fake_vq_desc(const struct fake_vq *vq)
{
	return (struct vring_desc *)(vq->ram + vq->desc);
}

/* Puts a chain's head on the avail ring, for the device to see. */
static inline void fake_vq_publish(struct fake_vq *vq, uint16_t head)
{
	struct vring_avail *avail = (struct vring_avail *)(vq->ram + vq->avail);

	avail->ring[vq->avail_idx % vq->size] = head;
	__atomic_store_n(&avail->idx, ++vq->avail_idx, __ATOMIC_RELEASE);
}

/*
 * Posts one chain of n bufs in the descriptors from head on (a driver that
 * gives a used chain's descriptors back by its id); returns head.
 */
static inline uint16_t fake_vq_post_at(struct fake_vq *vq, uint16_t head,
				       const struct fake_buf *b, unsigned n)
{
	struct vring_desc *desc = fake_vq_desc(vq);

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % vq->size);

		desc[idx] = (struct vring_desc){
			.addr = b[i].gpa, .len = b[i].len,
			.flags = (uint16_t)((b[i].writable ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = (uint16_t)((idx + 1) % vq->size),
		};
	}
	fake_vq_publish(vq, head);
	return head;
}

/* Posts one chain of n bufs, descriptors taken in order; returns its head. */
static inline uint16_t fake_vq_post(struct fake_vq *vq, const struct fake_buf *b, unsigned n)
{
	uint16_t head = vq->next_desc;

	vq->next_desc = (uint16_t)((head + n) % vq->size);
	return fake_vq_post_at(vq, head, b, n);
}

/*
 * The next descriptor in order, for a chain a test writes by hand (a
 * hostile one); *idx is its index. fake_vq_publish posts it.
 */
static inline struct vring_desc *fake_vq_take_desc(struct fake_vq *vq, uint16_t *idx)
{
	*idx = vq->next_desc;
	vq->next_desc = (uint16_t)((*idx + 1) % vq->size);
	return &fake_vq_desc(vq)[*idx];
}

/* How many entries the device has put on the used ring in all (its idx). */
static inline uint16_t fake_vq_used_idx(const struct fake_vq *vq)
{
	const struct vring_used *u = (const struct vring_used *)(vq->ram + vq->used);

	return __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
}

/* Used entries not taken yet. */
static inline unsigned fake_vq_pending(const struct fake_vq *vq)
{
	return (uint16_t)(fake_vq_used_idx(vq) - vq->used_seen);
}

/* Chains posted that the device has not used yet. */
static inline unsigned fake_vq_unused(const struct fake_vq *vq)
{
	return (uint16_t)(vq->avail_idx - fake_vq_used_idx(vq));
}

/* The next used entry into *e: false when the device has used no more. */
static inline bool fake_vq_used(struct fake_vq *vq, struct vring_used_elem *e)
{
	const struct vring_used *u = (const struct vring_used *)(vq->ram + vq->used);

	if (!fake_vq_pending(vq))
		return false;
	*e = u->ring[vq->used_seen++ % vq->size];
	return true;
}

/*
 * The next used entry where the test knows there is one; if there is
 * none, an entry no device writes (id and len all ones) for its checks
 * to fail on.
 */
static inline struct vring_used_elem fake_vq_take(struct fake_vq *vq)
{
	struct vring_used_elem e = { .id = UINT32_MAX, .len = UINT32_MAX };

	fake_vq_used(vq, &e);
	return e;
}

#endif
