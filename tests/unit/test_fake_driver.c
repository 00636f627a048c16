/*
 * The device tests' fake driver itself (fake_driver.h): its rings fit the
 * bytes it says they take at every queue size, and what it posts is what
 * a device reads, played here by hand on the rings.
 */
#include <stdlib.h>

#include "check.h"
#include "tests/unit/fake_driver.h"

#define BASE 0x1000ull

/* Every ring inside [base, base + fake_vq_bytes), none overlapping the next. */
static void test_layout(void)
{
	for (uint32_t size = 1; size <= 32768; size *= 2) {
		uint16_t n = (uint16_t)size;
		uint64_t end = BASE + fake_vq_bytes(n);
		uint8_t *ram = calloc(1, end);
		struct fake_vq vq;

		fake_vq_init(&vq, ram, BASE, n);
		CHECK_EQ(vq.desc, BASE);
		CHECK(vq.desc + 16ull * n <= vq.avail);
		CHECK(vq.avail + 6 + 2ull * n <= vq.used);
		CHECK(vq.used + 6 + 8ull * n <= end);
		CHECK_EQ(vq.avail % 4096, 0);
		CHECK_EQ(vq.used % 4096, 0);
		free(ram);
	}
}

/* The device's side: the chain at the next avail entry, used with len. */
static uint16_t device_use(struct fake_vq *vq, uint16_t *seen, uint32_t len)
{
	struct vring_avail *avail = (struct vring_avail *)(vq->ram + vq->avail);
	struct vring_used *used = (struct vring_used *)(vq->ram + vq->used);
	uint16_t head = avail->ring[*seen % vq->size];

	used->ring[used->idx % vq->size] = (struct vring_used_elem){ .id = head, .len = len };
	used->idx++;
	(*seen)++;
	return head;
}

static void test_post_and_use(void)
{
	uint8_t *ram = calloc(1, BASE + fake_vq_bytes(8));
	struct vring_desc *desc;
	struct vring_used_elem e;
	struct fake_vq vq;
	uint16_t seen = 0, head;

	fake_vq_init(&vq, ram, BASE, 8);
	desc = fake_vq_desc(&vq);

	/* A chain of three from descriptor 0: readable, readable, writable. */
	head = fake_vq_post(&vq, (struct fake_buf[]){ { 0x100, 16, false }, { 0x200, 32, false },
						      { 0x300, 1, true } }, 3);
	CHECK_EQ(head, 0);
	CHECK_EQ(desc[0].addr, 0x100);
	CHECK_EQ(desc[0].flags, VRING_DESC_F_NEXT);
	CHECK_EQ(desc[0].next, 1);
	CHECK_EQ(desc[1].len, 32);
	CHECK_EQ(desc[1].next, 2);
	CHECK_EQ(desc[2].flags, VRING_DESC_F_WRITE);
	CHECK_EQ(fake_vq_unused(&vq), 1);
	CHECK(!fake_vq_used(&vq, &e));
	CHECK_EQ(fake_vq_take(&vq).id, UINT32_MAX);	/* none: all ones */

	/* Once it is used, the next chain wraps around the table. */
	CHECK_EQ(device_use(&vq, &seen, 1), 0);
	head = fake_vq_post(&vq, (struct fake_buf[]){ { 0x400, 8, true }, { 0x500, 8, true },
						      { 0x600, 8, true }, { 0x700, 8, true },
						      { 0x800, 8, true }, { 0x900, 8, true } }, 6);
	CHECK_EQ(head, 3);
	CHECK_EQ(desc[7].addr, 0x800);
	CHECK_EQ(desc[7].next, 0);
	CHECK_EQ(desc[0].addr, 0x900);
	CHECK_EQ(desc[0].flags, VRING_DESC_F_WRITE);
	CHECK_EQ(device_use(&vq, &seen, 48), 3);
	CHECK_EQ(fake_vq_used_idx(&vq), 2);
	CHECK_EQ(fake_vq_pending(&vq), 2);
	CHECK_EQ(fake_vq_unused(&vq), 0);
	CHECK(fake_vq_used(&vq, &e));
	CHECK_EQ(e.id, 0);
	CHECK_EQ(e.len, 1);
	e = fake_vq_take(&vq);
	CHECK_EQ(e.id, 3);
	CHECK_EQ(e.len, 48);
	CHECK_EQ(fake_vq_pending(&vq), 0);

	/* Given back by id; a hand-written chain takes the next in order. */
	CHECK_EQ(fake_vq_post_at(&vq, 3, &(struct fake_buf){ 0xa00, 64, true }, 1), 3);
	CHECK_EQ(desc[3].addr, 0xa00);
	CHECK_EQ(vq.next_desc, 1);
	desc = fake_vq_take_desc(&vq, &head);
	CHECK_EQ(head, 1);
	*desc = (struct vring_desc){ .addr = 0xb00, .len = 4, .flags = VRING_DESC_F_NEXT,
				     .next = head };
	fake_vq_publish(&vq, head);
	CHECK_EQ(device_use(&vq, &seen, 0), 3);
	CHECK_EQ(device_use(&vq, &seen, 0), 1);
	CHECK_EQ(fake_vq_unused(&vq), 0);
	CHECK_EQ(fake_vq_pending(&vq), 2);
	free(ram);
}

int main(void)
{
	test_layout();
	test_post_and_use();
	return check_report("test_fake_driver");
}
