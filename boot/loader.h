/*
 * Kernel loading: a bzImage through the Linux/x86 64-bit boot protocol, or an
 * ELF vmlinux through its PVH entry (skipping the decompressor), plus the
 * initramfs and the structures each protocol hands to the kernel.
 */
#ifndef VMSILO_LOADER_H
#define VMSILO_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "boot/guest_mem.h"

enum boot_kind { BOOT_BZIMAGE, BOOT_PVH };

struct boot_image {
	enum boot_kind kind;
	uint64_t entry;			/* guest physical entry point */
	uint64_t kernel_start;		/* guest range the kernel may use */
	uint64_t kernel_end;
	uint64_t initrd_max;		/* highest end address for the initramfs */
	uint64_t initrd_addr;
	uint64_t initrd_size;
	uint8_t setup_header[0x80];	/* bzImage: bytes 0x1f1.. of the file */
	size_t setup_header_len;
	uint16_t protocol;		/* bzImage boot protocol version */
	uint32_t cmdline_max;		/* longest command line the kernel takes */
};

/* Each returns 0, or -1 with a one-line reason (prefixed with the path) in err. */
int boot_load_kernel(const struct guest_mem *mem, const char *path,
		     struct boot_image *img, char *err, size_t errlen);
int boot_load_initrd(const struct guest_mem *mem, const char *path,
		     struct boot_image *img, char *err, size_t errlen);
/* Writes the command line, memory map and zero page or PVH start info. */
int boot_write_params(const struct guest_mem *mem, const struct boot_image *img,
		      const char *cmdline, uint64_t rsdp, char *err, size_t errlen);

#endif
