#include "boot/guest_mem.h"

void guest_mem_layout(struct guest_mem *mem, uint8_t *host, uint64_t size)
{
	uint64_t low = size < LAYOUT_PCI_HOLE_START ? size : LAYOUT_PCI_HOLE_START;

	mem->host = host;
	mem->total = size;
	mem->regions[0] = (struct guest_region){ .gpa = 0, .size = low, .offset = 0 };
	mem->nr_regions = 1;
	if (size > low) {
		mem->regions[1] = (struct guest_region){
			.gpa = LAYOUT_4G, .size = size - low, .offset = low,
		};
		mem->nr_regions = 2;
	}
}

uint64_t guest_mem_mmio64_base(const struct guest_mem *mem)
{
	uint64_t end = LAYOUT_4G;

	if (mem->nr_regions > 1)
		end = mem->regions[1].gpa + mem->regions[1].size;
	return (end + GIB - 1) & ~(GIB - 1);
}
