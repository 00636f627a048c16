/* FNV-1a, 32-bit: the checksum vmsilo-wl-test prints for bytes it received. */
#ifndef VMSILO_FNV1A_H
#define VMSILO_FNV1A_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_INIT	0x811c9dc5u

static inline uint32_t fnv1a(uint32_t hash, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		hash ^= p[i];
		hash *= 0x01000193u;
	}
	return hash;
}

#endif
