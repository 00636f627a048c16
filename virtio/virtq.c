/*
 * Split virtqueue: checked ring setup, chain walking and used-ring updates.
 *
 * Memory ordering with the driver (virtio 1.2, split ring notification
 * suppression):
 * - avail->idx is loaded with acquire, so ring entries and descriptors read
 *   after it are at least as new as the index.
 * - used->idx is stored with release, so used elements and buffer data
 *   written before it are visible to a driver that sees the index.
 * - Before reading the driver's suppression fields (avail->flags or
 *   used_event) after publishing used->idx, and before the last look at
 *   avail->idx after asking for kicks, a full fence: both are store-then-
 *   load handshakes that lose a notification without one.
 */
#include "virtio/virtq.h"

#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "boot/guest_mem.h"
#include "vmm/log.h"

#define VIRTQ_DESC_SIZE		16u	/* sizeof(struct vring_desc) */
#define VIRTQ_MAX_INDIRECT	32768u	/* entries in one indirect table */

/*
 * Marks the queue broken on a driver error; evaluates to -1. A guest can
 * break and reset its queues in a loop: the line is rate-limited per call
 * site (vmm/log.h).
 */
#define virtq_fail(vq, fmt, ...) ({ \
	(vq)->broken = true; \
	log_ratelimited(LOG_WARN, "virtq (desc 0x%" PRIx64 "): " fmt "; queue needs reset", \
			(vq)->desc_gpa, ##__VA_ARGS__); \
	-1; \
})

static uint16_t virtq_load16(const uint16_t *p, int order)
{
	return le16toh(__atomic_load_n(p, order));
}

static void virtq_store16(uint16_t *p, uint16_t v, int order)
{
	__atomic_store_n(p, htole16(v), order);
}

/* used_event: the trailing field of the avail ring (driver-written). */
static const uint16_t *virtq_used_event(const struct virtq *vq)
{
	return &vq->avail->ring[vq->size];
}

/* avail_event: the trailing field of the used ring (device-written). */
static uint16_t *virtq_avail_event(const struct virtq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->size];
}

/* Host pointer to a ring if it is aligned and wholly in one RAM region. */
static void *virtq_map(const struct guest_mem *mem, uint64_t gpa, uint64_t len,
		       uint64_t align)
{
	void *p;

	if (gpa % align)
		return NULL;
	p = guest_mem_ptr(mem, gpa, len);
	if (!p || (uintptr_t)p % align)
		return NULL;
	return p;
}

/* Ranges already known to lie in RAM, so the sums cannot wrap. */
static bool virtq_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int virtq_setup(struct virtq *vq, const struct guest_mem *mem, uint16_t size,
		uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa, bool event_idx)
{
	uint64_t event = event_idx ? sizeof(uint16_t) : 0;
	uint64_t desc_len = (uint64_t)VIRTQ_DESC_SIZE * size;
	uint64_t avail_len = 4 + 2 * (uint64_t)size + event;
	uint64_t used_len = 4 + 8 * (uint64_t)size + event;

	virtq_reset(vq);
	vq->desc_gpa = desc_gpa;
	vq->avail_gpa = avail_gpa;
	vq->used_gpa = used_gpa;
	vq->event_idx = event_idx;
	if (!size || size > VIRTQ_MAX_SIZE)
		return virtq_fail(vq, "queue size %u out of range", size);
	vq->desc = virtq_map(mem, desc_gpa, desc_len, VRING_DESC_ALIGN_SIZE);
	vq->avail = virtq_map(mem, avail_gpa, avail_len, VRING_AVAIL_ALIGN_SIZE);
	vq->used = virtq_map(mem, used_gpa, used_len, VRING_USED_ALIGN_SIZE);
	if (!vq->desc || !vq->avail || !vq->used) {
		vq->desc = NULL;
		vq->avail = NULL;
		vq->used = NULL;
		return virtq_fail(vq, "rings (avail 0x%" PRIx64 ", used 0x%" PRIx64
				  ", size %u) misaligned or outside RAM",
				  avail_gpa, used_gpa, size);
	}
	if (virtq_overlap(desc_gpa, desc_len, avail_gpa, avail_len) ||
	    virtq_overlap(desc_gpa, desc_len, used_gpa, used_len) ||
	    virtq_overlap(avail_gpa, avail_len, used_gpa, used_len)) {
		vq->desc = NULL;
		vq->avail = NULL;
		vq->used = NULL;
		return virtq_fail(vq, "rings overlap");
	}
	vq->size = size;
	vq->notify = true;
	return 0;
}

void virtq_reset(struct virtq *vq)
{
	memset(vq, 0, sizeof(*vq));
}

/*
 * Copies descriptor idx of table with one fetch. The compiler barrier keeps
 * later checks and uses on this copy: guest memory is not read again.
 * memcpy because an indirect table need not be aligned.
 */
static void virtq_read_desc(const struct vring_desc *table, uint32_t idx,
			    struct vring_desc *d)
{
	struct vring_desc raw;

	memcpy(&raw, (const uint8_t *)table + (size_t)idx * VIRTQ_DESC_SIZE, sizeof(raw));
	__asm__ __volatile__("" : : : "memory");
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
}

/* Appends one buffer to the chain: readable ones must all come first. */
static int virtq_add_buf(struct virtq *vq, const struct guest_mem *mem,
			 struct virtq_chain *chain, const struct vring_desc *d)
{
	bool writable = d->flags & VRING_DESC_F_WRITE;
	unsigned n = chain->nr_out + chain->nr_in;
	void *p;

	if (!writable && chain->nr_in)
		return virtq_fail(vq, "head %u: readable buffer after a writable one",
				  chain->head);
	if (n >= VIRTQ_MAX_CHAIN)
		return virtq_fail(vq, "head %u: more than %u buffers", chain->head,
				  VIRTQ_MAX_CHAIN);
	p = guest_mem_ptr(mem, d->addr, d->len);
	if (!p)
		return virtq_fail(vq, "head %u: buffer 0x%" PRIx64 " + 0x%x outside RAM",
				  chain->head, (uint64_t)d->addr, (unsigned)d->len);
	chain->iov[n].iov_base = p;
	chain->iov[n].iov_len = d->len;
	if (writable) {
		chain->nr_in++;
		chain->in_len += d->len;
	} else {
		chain->nr_out++;
		chain->out_len += d->len;
	}
	return 0;
}

/* Where the walk is: which table, how long, how many entries visited. */
struct virtq_walk {
	const struct vring_desc *table;
	uint32_t len;		/* entries in table */
	uint32_t walked;	/* entries visited in table: > len means a loop */
	bool indirect;
};

/* Switches the walk to the indirect table that d points to. */
static int virtq_enter_indirect(struct virtq *vq, const struct guest_mem *mem,
				struct virtq_walk *w, const struct vring_desc *d,
				uint16_t head)
{
	uint32_t n = d->len / VIRTQ_DESC_SIZE;

	if (w->indirect)
		return virtq_fail(vq, "head %u: indirect table inside an indirect table", head);
	if (d->flags & VRING_DESC_F_NEXT)
		return virtq_fail(vq, "head %u: indirect descriptor with NEXT", head);
	if (!d->len || d->len % VIRTQ_DESC_SIZE || n > VIRTQ_MAX_INDIRECT ||
	    n > VIRTQ_MAX_CHAIN)
		return virtq_fail(vq, "head %u: bad indirect table length 0x%x", head,
				  (unsigned)d->len);
	w->table = guest_mem_ptr(mem, d->addr, d->len);
	if (!w->table)
		return virtq_fail(vq, "head %u: indirect table 0x%" PRIx64 " outside RAM",
				  head, (uint64_t)d->addr);
	w->len = n;
	w->walked = 0;
	w->indirect = true;
	return 0;
}

/*
 * Follows the chain from head, through at most one indirect table (which
 * ends the direct part, as it cannot carry NEXT).
 */
static int virtq_walk_chain(struct virtq *vq, const struct guest_mem *mem,
			    struct virtq_chain *chain, uint16_t head)
{
	struct virtq_walk w = { .table = vq->desc, .len = vq->size };
	struct vring_desc d;
	uint32_t idx = head;

	chain->head = head;
	chain->nr_out = chain->nr_in = 0;
	chain->out_len = chain->in_len = 0;
	for (;;) {
		if (++w.walked > w.len)
			return virtq_fail(vq, "head %u: chain loops or exceeds %u descriptors",
					  head, w.len);
		virtq_read_desc(w.table, idx, &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (virtq_enter_indirect(vq, mem, &w, &d, head) < 0)
				return -1;
			idx = 0;
			continue;
		}
		if (virtq_add_buf(vq, mem, chain, &d) < 0)
			return -1;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		idx = d.next;
		if (idx >= w.len)
			return virtq_fail(vq, "head %u: next %u out of range (%u entries)",
					  head, idx, w.len);
	}
}

/*
 * avail->idx, read with acquire. When the ring looks empty and kicks are
 * wanted with EVENT_IDX, our last avail_event store must be visible before
 * the final look, or the driver may skip the kick for a buffer we miss.
 */
static uint16_t virtq_avail_idx(struct virtq *vq)
{
	uint16_t idx = virtq_load16(&vq->avail->idx, __ATOMIC_ACQUIRE);

	if (idx != vq->last_avail_idx || !vq->event_idx || !vq->notify)
		return idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return virtq_load16(&vq->avail->idx, __ATOMIC_ACQUIRE);
}

int virtq_pop(struct virtq *vq, const struct guest_mem *mem, struct virtq_chain *chain)
{
	uint16_t avail_idx, pending, head;

	if (vq->broken)
		return -1;
	if (!vq->size)
		return 0;
	avail_idx = virtq_avail_idx(vq);
	pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (!pending)
		return 0;
	if (pending > vq->size)
		return virtq_fail(vq, "avail idx %u is %u entries ahead (queue size %u)",
				  avail_idx, pending, vq->size);
	head = virtq_load16(&vq->avail->ring[vq->last_avail_idx % vq->size],
			    __ATOMIC_RELAXED);
	if (head >= vq->size)
		return virtq_fail(vq, "head %u out of range (queue size %u)", head, vq->size);
	if (virtq_walk_chain(vq, mem, chain, head) < 0)
		return -1;
	vq->last_avail_idx++;
	if (vq->event_idx && vq->notify)
		virtq_store16(virtq_avail_event(vq), vq->last_avail_idx, __ATOMIC_RELAXED);
	return 1;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
	struct vring_used_elem *e;

	if (!vq->size)
		return;
	e = &vq->used->ring[vq->used_idx % vq->size];
	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(written), __ATOMIC_RELAXED);
	vq->used_idx++;
	/* 65536 pushes since the last decision: the old index means nothing. */
	if (vq->used_idx == vq->signalled_used)
		vq->signalled_valid = false;
	virtq_store16(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
}

/* The driver wants an event once the index moves past event_idx. */
static bool virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

bool virtq_should_notify(struct virtq *vq)
{
	uint16_t old_idx = vq->signalled_used, new_idx = vq->used_idx;
	bool valid = vq->signalled_valid;

	if (!vq->size)
		return false;
	vq->signalled_used = new_idx;
	vq->signalled_valid = true;
	if (valid && old_idx == new_idx)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(virtq_load16(&vq->avail->flags, __ATOMIC_RELAXED) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	return !valid || virtq_need_event(virtq_load16(virtq_used_event(vq), __ATOMIC_RELAXED),
					  new_idx, old_idx);
}

void virtq_disable_notify(struct virtq *vq)
{
	if (!vq->size || !vq->notify)
		return;
	vq->notify = false;
	/* With EVENT_IDX, pop just stops moving avail_event forward. */
	if (!vq->event_idx)
		virtq_store16(&vq->used->flags, VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

bool virtq_enable_notify(struct virtq *vq)
{
	if (!vq->size || vq->broken)
		return false;
	vq->notify = true;
	if (vq->event_idx)
		virtq_store16(virtq_avail_event(vq), vq->last_avail_idx, __ATOMIC_RELAXED);
	else
		virtq_store16(&vq->used->flags, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return virtq_load16(&vq->avail->idx, __ATOMIC_ACQUIRE) != vq->last_avail_idx;
}
