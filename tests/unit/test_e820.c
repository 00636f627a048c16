/* e820 layout and guest memory translation for several memory sizes. */
#include <stdlib.h>

#include "boot/e820.h"
#include "check.h"

static uint64_t ram_total(const struct e820_entry *map, unsigned n)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++)
		if (map[i].type == E820_RAM)
			sum += map[i].size;
	return sum;
}

static void check_sorted_disjoint(const struct e820_entry *map, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		CHECK(map[i - 1].addr + map[i - 1].size <= map[i].addr);
}

/* Every RAM byte of the map is guest RAM and nothing in the hole is. */
static void check_ram_is_backed(const struct guest_mem *mem, const struct e820_entry *map,
				unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (map[i].type == E820_RAM)
			CHECK(guest_mem_ptr(mem, map[i].addr, map[i].size) != NULL);
	CHECK(guest_mem_ptr(mem, LAYOUT_PCI_HOLE_START, 1) == NULL);
	CHECK(guest_mem_ptr(mem, LAYOUT_ECAM_BASE, 4) == NULL);
}

static void test_size(uint64_t mib)
{
	struct guest_mem mem;
	struct e820_entry map[E820_MAX_ENTRIES];
	uint64_t size = mib * MIB;
	unsigned n;

	guest_mem_layout(&mem, (uint8_t *)0x10000, size);
	n = e820_build(&mem, map);
	CHECK(n <= E820_MAX_ENTRIES);
	check_sorted_disjoint(map, n);
	check_ram_is_backed(&mem, map, n);
	/* All RAM is reported but the EBDA..1 MiB hole. */
	CHECK_EQ(ram_total(map, n), size - (LAYOUT_HIGH_START - LAYOUT_EBDA_START));
	if (size <= LAYOUT_PCI_HOLE_START) {
		CHECK_EQ(mem.nr_regions, 1);
		CHECK_EQ(guest_mem_low_end(&mem), size);
		CHECK_EQ(guest_mem_mmio64_base(&mem), LAYOUT_4G);
	} else {
		CHECK_EQ(mem.nr_regions, 2);
		CHECK_EQ(guest_mem_low_end(&mem), LAYOUT_PCI_HOLE_START);
		CHECK_EQ(mem.regions[1].gpa, LAYOUT_4G);
		CHECK_EQ(mem.regions[1].size, size - LAYOUT_PCI_HOLE_START);
		CHECK_EQ(mem.regions[1].offset, LAYOUT_PCI_HOLE_START);
		CHECK_EQ(map[n - 1].addr, LAYOUT_4G);
		CHECK(guest_mem_mmio64_base(&mem) >= LAYOUT_4G + mem.regions[1].size);
		CHECK_EQ(guest_mem_mmio64_base(&mem) % GIB, 0);
		/* The last byte below the hole and the first above 4 GiB are adjacent
		 * in the host mapping. */
		CHECK((uint8_t *)guest_mem_ptr(&mem, LAYOUT_4G, 1) ==
		      (uint8_t *)guest_mem_ptr(&mem, LAYOUT_PCI_HOLE_START - 1, 1) + 1);
	}
}

static void test_translation_bounds(void)
{
	struct guest_mem mem;

	guest_mem_layout(&mem, (uint8_t *)0x10000, 256 * MIB);
	CHECK(guest_mem_ptr(&mem, 0, 256 * MIB) != NULL);
	CHECK(guest_mem_ptr(&mem, 0, 256 * MIB + 1) == NULL);
	CHECK(guest_mem_ptr(&mem, 256 * MIB - 1, 1) != NULL);
	CHECK(guest_mem_ptr(&mem, 256 * MIB, 1) == NULL);
	CHECK(guest_mem_ptr(&mem, 256 * MIB, 0) != NULL);	/* empty range at the end */
	/* Lengths that would wrap around the address space. */
	CHECK(guest_mem_ptr(&mem, 16, UINT64_MAX) == NULL);
	CHECK(guest_mem_ptr(&mem, UINT64_MAX, 2) == NULL);
	CHECK(guest_mem_ptr(&mem, UINT64_MAX - 15, 16) == NULL);
}

int main(void)
{
	static const uint64_t sizes[] = { 64, 256, 512, 3071, 3072, 3073, 3584, 4096, 16384 };

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		test_size(sizes[i]);
	test_translation_bounds();
	return check_report("test_e820");
}
