/*
 * Port I/O and MMIO dispatch: a fixed table of address ranges, filled before
 * the vCPUs start and read-only afterwards, so lookups need no lock.
 */
#ifndef VMSILO_BUS_H
#define VMSILO_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define BUS_MAX_RANGES 32

/* offset is relative to the range base; data is len (1..8) bytes. */
typedef void (*bus_access_fn)(void *opaque, uint64_t offset, uint8_t *data,
			      unsigned len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_access_fn access;
	void *opaque;
};

struct bus {
	const char *name;	/* "pio" or "mmio", for messages */
	unsigned nr;
	struct bus_range ranges[BUS_MAX_RANGES];
};

int bus_add(struct bus *bus, uint64_t base, uint64_t len, bus_access_fn access, void *opaque);
/* Unclaimed reads return all ones and unclaimed writes are dropped, as on
 * real hardware; returns false in that case. */
bool bus_access(const struct bus *bus, uint64_t addr, uint8_t *data, unsigned len,
		bool is_write);

#endif
