/* The Linux/x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <asm/bootparam.h>

#include "boot/e820.h"
#include "boot/loader.h"
#include "boot/loader_util.h"

#define HDR_OFFSET	0x1f1
#define HDRS_MAGIC	0x53726448	/* "HdrS" */
#define MIN_PROTOCOL	0x020c		/* 2.12: xloadflags and the 64-bit entry */
#define ENTRY_64_OFFSET	0x200

static int check_header(const struct setup_header *hdr, const char *path,
			char *err, size_t errlen)
{
	if (hdr->header != HDRS_MAGIC || hdr->boot_flag != 0xaa55)
		return loader_fail(err, errlen, "kernel: %s: not a bzImage or ELF vmlinux", path);
	if (hdr->version < MIN_PROTOCOL)
		return loader_fail(err, errlen,
				   "kernel: %s: boot protocol %u.%02u is too old (need 2.12 or newer)",
				   path, hdr->version >> 8, hdr->version & 0xff);
	if (!(hdr->xloadflags & XLF_KERNEL_64))
		return loader_fail(err, errlen, "kernel: %s: has no 64-bit entry point", path);
	if (!(hdr->loadflags & LOADED_HIGH))
		return loader_fail(err, errlen, "kernel: %s: is a zImage, not a bzImage", path);
	return 0;
}

/* The preferred address avoids a relocation copy inside the decompressor. */
static uint64_t choose_load_address(const struct guest_mem *mem,
				    const struct setup_header *hdr)
{
	uint64_t pref = hdr->pref_address;

	if (hdr->relocatable_kernel && pref >= LAYOUT_HIGH_START &&
	    pref + hdr->init_size <= guest_mem_low_end(mem))
		return pref;
	return LAYOUT_HIGH_START;
}

int bzimage_load(const struct guest_mem *mem, int fd, const char *path, off_t file_size,
		 struct boot_image *img, char *err, size_t errlen)
{
	struct setup_header hdr;
	uint64_t setup_size, load, kernel_size;
	void *dst;

	if (loader_pread(fd, &hdr, sizeof(hdr), HDR_OFFSET))
		return loader_fail(err, errlen, "kernel: %s: not a bzImage or ELF vmlinux", path);
	if (check_header(&hdr, path, err, errlen))
		return -1;
	setup_size = ((uint64_t)(hdr.setup_sects ? hdr.setup_sects : 4) + 1) * 512;
	if ((uint64_t)file_size <= setup_size)
		return loader_fail(err, errlen, "kernel: %s: truncated bzImage", path);
	kernel_size = file_size - setup_size;
	load = choose_load_address(mem, &hdr);
	if (kernel_size > hdr.init_size && hdr.init_size)
		return loader_fail(err, errlen, "kernel: %s: corrupt bzImage (payload larger than init_size)", path);
	dst = guest_mem_ptr(mem, load, hdr.init_size ? hdr.init_size : kernel_size);
	if (!dst)
		return loader_fail(err, errlen, "kernel: %s: needs %u MiB, more than the guest memory",
				   path, (unsigned)((load + hdr.init_size) >> 20) + 1);
	if (loader_pread(fd, dst, kernel_size, setup_size))
		return loader_fail(err, errlen, "kernel: %s: read failed: %s", path, strerror(errno));

	img->kind = BOOT_BZIMAGE;
	img->protocol = hdr.version;
	img->entry = load + ENTRY_64_OFFSET;
	img->kernel_start = load;
	img->kernel_end = load + (hdr.init_size > kernel_size ? hdr.init_size : kernel_size);
	img->initrd_max = (uint64_t)hdr.initrd_addr_max + 1;
	img->cmdline_max = hdr.cmdline_size;
	/* The header ends where the jump at 0x200 lands: 0x202 + its offset byte. */
	img->setup_header_len = 0x202 + (hdr.jump >> 8) - HDR_OFFSET;
	if (img->setup_header_len > sizeof(img->setup_header) ||
	    img->setup_header_len > sizeof(struct setup_header))
		img->setup_header_len = sizeof(struct setup_header);
	memcpy(img->setup_header, &hdr, img->setup_header_len);
	return 0;
}

static void fill_e820(struct boot_params *bp, const struct guest_mem *mem)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	unsigned n = e820_build(mem, map);

	for (unsigned i = 0; i < n; i++) {
		bp->e820_table[i].addr = map[i].addr;
		bp->e820_table[i].size = map[i].size;
		bp->e820_table[i].type = map[i].type;
	}
	bp->e820_entries = n;
}

int bzimage_write_params(const struct guest_mem *mem, const struct boot_image *img,
			 uint64_t cmdline_gpa, uint64_t rsdp,
			 char *err, size_t errlen)
{
	struct boot_params *bp = guest_mem_ptr(mem, LAYOUT_ZERO_PAGE, sizeof(*bp));
	struct setup_header *hdr = &bp->hdr;

	if (!bp)
		return loader_fail(err, errlen, "memory: no room for the zero page");
	memset(bp, 0, sizeof(*bp));
	memcpy(hdr, img->setup_header, img->setup_header_len);
	hdr->type_of_loader = 0xff;
	hdr->loadflags |= CAN_USE_HEAP;
	hdr->loadflags &= ~KEEP_SEGMENTS;
	hdr->heap_end_ptr = 0xfe00;
	hdr->code32_start = (uint32_t)img->kernel_start;
	hdr->cmd_line_ptr = (uint32_t)cmdline_gpa;
	hdr->ramdisk_image = (uint32_t)img->initrd_addr;
	hdr->ramdisk_size = (uint32_t)img->initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(img->initrd_addr >> 32);
	bp->ext_ramdisk_size = (uint32_t)(img->initrd_size >> 32);
	bp->acpi_rsdp_addr = rsdp;
	fill_e820(bp, mem);
	return 0;
}
