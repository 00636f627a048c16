#include <string.h>

#include "vmm/bus.h"
#include "vmm/log.h"

int bus_add(struct bus *bus, uint64_t base, uint64_t len, bus_access_fn access, void *opaque)
{
	for (unsigned i = 0; i < bus->nr; i++) {
		const struct bus_range *r = &bus->ranges[i];

		if (base < r->base + r->len && r->base < base + len) {
			log_err("%s: range 0x%llx+0x%llx overlaps 0x%llx+0x%llx", bus->name,
				(unsigned long long)base, (unsigned long long)len,
				(unsigned long long)r->base, (unsigned long long)r->len);
			return -1;
		}
	}
	if (bus->nr == BUS_MAX_RANGES)
		return -1;
	bus->ranges[bus->nr++] = (struct bus_range){ base, len, access, opaque };
	return 0;
}

bool bus_access(const struct bus *bus, uint64_t addr, uint8_t *data, unsigned len,
		bool is_write)
{
	for (unsigned i = 0; i < bus->nr; i++) {
		const struct bus_range *r = &bus->ranges[i];

		if (addr >= r->base && addr - r->base < r->len && len <= r->len - (addr - r->base)) {
			r->access(r->opaque, addr - r->base, data, len, is_write);
			return true;
		}
	}
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}
