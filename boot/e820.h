/* The e820 memory map handed to the guest, derived from the guest memory. */
#ifndef VMSILO_E820_H
#define VMSILO_E820_H

#include <stdint.h>

#include "boot/guest_mem.h"

#define E820_RAM	1
#define E820_RESERVED	2

#define E820_MAX_ENTRIES 8

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Fills map (E820_MAX_ENTRIES long), sorted by address; returns the count. */
unsigned e820_build(const struct guest_mem *mem, struct e820_entry *map);

#endif
