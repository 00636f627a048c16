/*
 * A device's shared-memory region (virtio 1.2, 2.10): a range of a
 * 64-bit BAR the device fills with fds it passes (memfds, later
 * dma-bufs), each mapped MAP_SHARED and installed as a KVM memslot at
 * BAR base + offset. The fds come from a device process, so every
 * request is checked; when the guest moves the BAR, the slots follow.
 */
#ifndef VMSILO_SHM_REGION_H
#define VMSILO_SHM_REGION_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/memslots.h"

/* Mappings a region holds at once: bounds what one device can pin. */
#define SHM_MAX_MAPPINGS 64

/* prot of a map request: read, or read and write. */
#define SHM_PROT_READ	1u
#define SHM_PROT_WRITE	2u

struct shm_mapping {
	bool used;
	bool readonly;
	uint64_t offset, size;	/* in the region */
	void *host;
	int slot;		/* -1: not installed (the BAR is not decoded) */
};

struct shm_region {
	uint8_t id;
	uint64_t size;
	uint64_t base;		/* guest address of the region now, 0: not decoded */
	struct memslots *slots;
	unsigned nr_mappings;
	struct shm_mapping maps[SHM_MAX_MAPPINGS];
};

void shm_region_init(struct shm_region *r, uint8_t id, uint64_t size, struct memslots *slots);
/*
 * Maps size bytes of fd from fd_offset at offset. -EINVAL: unaligned,
 * outside the region, overlapping, a bad prot, not a regular file (memfds
 * are) or smaller than asked; -EACCES: write asked of a read-only fd;
 * -ENOSPC: no mapping or memslot left. The fd stays the caller's.
 */
int shm_region_map(struct shm_region *r, uint64_t offset, int fd, uint64_t fd_offset,
		   uint64_t size, uint32_t prot);
/* -EINVAL unless a mapping starts at offset. */
int shm_region_unmap(struct shm_region *r, uint64_t offset);
/* The guest decodes the BAR at base now (0: not at all). */
void shm_region_move(struct shm_region *r, uint64_t base);
/* Unmaps everything (device reset, VM teardown). */
void shm_region_clear(struct shm_region *r);

#endif
