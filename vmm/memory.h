/*
 * Guest RAM: one shared-memory file mapped in the VMM and, later, in every
 * device process. Backed by transparent huge pages whenever the host allows
 * it: with 4 KiB pages each first touch of guest memory is a nested page
 * fault, and a Linux boot makes hundreds of thousands of them.
 */
#ifndef VMSILO_MEMORY_H
#define VMSILO_MEMORY_H

#include <stddef.h>
#include <stdint.h>

struct guest_ram {
	int fd;
	uint8_t *host;
	uint64_t size;
	const char *backing;	/* for messages: how the RAM is backed */
};

int guest_ram_create(struct guest_ram *ram, uint64_t size, char *err, size_t errlen);
void guest_ram_destroy(struct guest_ram *ram);

#endif
