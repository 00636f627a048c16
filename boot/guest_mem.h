/*
 * Guest physical memory as seen from the host: up to two RAM regions (below
 * the 32-bit PCI hole and from 4 GiB up) backed by one host mapping.
 * Translation checks the whole range, so a guest-supplied address and length
 * can never reach host memory outside guest RAM.
 */
#ifndef VMSILO_GUEST_MEM_H
#define VMSILO_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/layout.h"

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset;	/* into the host mapping (and the memfd) */
};

struct guest_mem {
	uint8_t *host;		/* mapping of the whole RAM, size total */
	uint64_t total;
	unsigned nr_regions;
	struct guest_region regions[2];
};

/* Splits size bytes of RAM around the PCI hole; host may be NULL (tests). */
void guest_mem_layout(struct guest_mem *mem, uint8_t *host, uint64_t size);

/* Host pointer for [gpa, gpa + len) if all of it is RAM in one region. */
static inline void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size &&
		    len <= r->size - (gpa - r->gpa))
			return mem->host + r->offset + (gpa - r->gpa);
	}
	return NULL;
}

/* End of RAM below the PCI hole. */
static inline uint64_t guest_mem_low_end(const struct guest_mem *mem)
{
	return mem->regions[0].gpa + mem->regions[0].size;
}

/* First address above all RAM and the hole: where the 64-bit window starts. */
uint64_t guest_mem_mmio64_base(const struct guest_mem *mem);

#endif
