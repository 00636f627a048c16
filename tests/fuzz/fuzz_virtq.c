/*
 * libFuzzer harness for the split virtqueue: the input becomes a small
 * guest RAM holding the rings and their buffers; the harness pops every
 * chain it can, touches each buffer's ends, and pushes it back. ASan flags
 * any access outside that RAM; chains outside it abort.
 *
 * Input: size (2 bytes), flags (1), start index (2), desc, avail and used
 * gpas (2 bytes each), then the RAM contents from gpa 0.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/guest_mem.h"
#include "virtio/iov.h"
#include "virtio/virtq.h"
#include "vmm/log.h"

#define FUZZ_RAM	0x10000u
#define FUZZ_HDR	11u

#define F_EVENT_IDX	0x01	/* negotiate EVENT_IDX */
#define F_RAW_GPAS	0x02	/* do not align the ring gpas */
#define F_HIGH_GPAS	0x04	/* set the top bits of the ring gpas */
#define F_NO_NOTIFY	0x08	/* disable notifications while draining */
#define F_RAW_SIZE	0x10	/* any 16-bit queue size */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *ram;
static struct guest_mem mem;
static struct virtq_chain chain;

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t ring_gpa(const uint8_t *p, uint8_t flags, uint64_t align)
{
	uint64_t gpa = get16(p);

	if (!(flags & F_RAW_GPAS))
		gpa &= ~(align - 1);
	if (flags & F_HIGH_GPAS)
		gpa |= 0xffffffffffff0000ull;
	return gpa;
}

/* Every buffer lies in RAM; touch both ends of each so ASan can check. */
static void check_chain(void)
{
	uintptr_t lo = (uintptr_t)ram, hi = lo + FUZZ_RAM;
	unsigned n = chain.nr_out + chain.nr_in;
	volatile uint8_t sink = 0;
	uint8_t hdr[16];

	if (n > VIRTQ_MAX_CHAIN || chain.head >= VIRTQ_MAX_SIZE)
		abort();
	for (unsigned i = 0; i < n; i++) {
		uint8_t *b = chain.iov[i].iov_base;
		size_t len = chain.iov[i].iov_len;

		if ((uintptr_t)b < lo || (uintptr_t)b > hi || len > hi - (uintptr_t)b)
			abort();
		if (!len)
			continue;
		if (i < chain.nr_out) {
			sink += b[0];
			sink += b[len - 1];
		} else {
			b[0] = 0xa5;
			b[len - 1] = 0x5a;
		}
	}
	if (iov_length(chain.iov, chain.nr_out) != chain.out_len ||
	    iov_length(virtq_chain_in(&chain), chain.nr_in) != chain.in_len)
		abort();
	iov_to_buf(chain.iov, chain.nr_out, 0, hdr, sizeof(hdr));
	buf_to_iov(virtq_chain_in(&chain), chain.nr_in, chain.in_len ? chain.in_len - 1 : 0,
		   hdr, 1);
	(void)sink;
}

/* Pops until the ring is empty or broken, as a device would. */
static void drain(struct virtq *vq, unsigned limit)
{
	int r;

	for (unsigned i = 0; i < limit; i++) {
		r = virtq_pop(vq, &mem, &chain);
		if (r < 0) {
			if (!vq->broken)
				abort();
			return;
		}
		if (r == 0 && !virtq_enable_notify(vq))
			return;
		if (r == 0)
			continue;
		check_chain();
		virtq_push(vq, chain.head, (uint32_t)chain.in_len);
		if (i % 4 == 0)
			virtq_should_notify(vq);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq vq;
	uint16_t qsize, start;
	uint8_t flags;

	if (size < FUZZ_HDR)
		return 0;
	if (!ram) {
		ram = malloc(FUZZ_RAM);
		if (!ram)
			abort();
		guest_mem_layout(&mem, ram, FUZZ_RAM);
		log_set_level(LOG_ERROR);
	}
	flags = data[2];
	qsize = get16(data);
	if (!(flags & F_RAW_SIZE))
		qsize = qsize % 512 + 1;
	start = get16(data + 3);
	memset(ram, 0, FUZZ_RAM);
	memcpy(ram, data + FUZZ_HDR,
	       size - FUZZ_HDR < FUZZ_RAM ? size - FUZZ_HDR : FUZZ_RAM);

	if (virtq_setup(&vq, &mem, qsize, ring_gpa(data + 5, flags, 16),
			ring_gpa(data + 7, flags, 2), ring_gpa(data + 9, flags, 4),
			flags & F_EVENT_IDX) < 0) {
		if (!vq.broken || vq.size)
			abort();
		return 0;
	}
	vq.last_avail_idx = start;
	vq.used_idx = start;
	if (flags & F_NO_NOTIFY)
		virtq_disable_notify(&vq);
	drain(&vq, 2u * qsize + 2);
	virtq_should_notify(&vq);
	return 0;
}
