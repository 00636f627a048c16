#include "boot/e820.h"

static void add(struct e820_entry *map, unsigned *n, uint64_t addr, uint64_t size,
		uint32_t type)
{
	map[(*n)++] = (struct e820_entry){ .addr = addr, .size = size, .type = type };
}

/*
 * Low memory: RAM up to the EBDA, which stays reserved like on real
 * machines; the ACPI tables live in the reserved BIOS area below 1 MiB.
 * The ECAM window is reserved so Linux trusts the MCFG table.
 */
unsigned e820_build(const struct guest_mem *mem, struct e820_entry *map)
{
	uint64_t low_end = guest_mem_low_end(mem);
	unsigned n = 0;

	add(map, &n, 0, LAYOUT_EBDA_START, E820_RAM);
	add(map, &n, LAYOUT_EBDA_START, 0xa0000 - LAYOUT_EBDA_START, E820_RESERVED);
	add(map, &n, LAYOUT_ACPI_START, LAYOUT_ACPI_END - LAYOUT_ACPI_START, E820_RESERVED);
	if (low_end > LAYOUT_HIGH_START)
		add(map, &n, LAYOUT_HIGH_START, low_end - LAYOUT_HIGH_START, E820_RAM);
	add(map, &n, LAYOUT_ECAM_BASE, LAYOUT_ECAM_SIZE, E820_RESERVED);
	if (mem->nr_regions > 1)
		add(map, &n, mem->regions[1].gpa, mem->regions[1].size, E820_RAM);
	return n;
}
