/*
 * ELF vmlinux through the PVH entry (xen/include/public/arch-x86/hvm/start_info.h
 * describes the layout): the kernel starts in 32-bit protected mode with
 * paging off and %ebx pointing at a start-info block.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/e820.h"
#include "boot/loader_util.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PVH_MAGIC 0x336ec578
#define MAX_PHDRS 64
#define MAX_NOTES_SIZE (64 * 1024)

struct pvh_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct pvh_module {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

#define PVH_MODLIST (LAYOUT_PVH_START_INFO + 0x40)
#define PVH_MEMMAP (LAYOUT_PVH_START_INFO + 0x80)

static int check_ehdr(const Elf64_Ehdr *eh, const char *path, char *err, size_t errlen)
{
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64)
		return loader_fail(err, errlen, "kernel: %s: ELF file is not an x86_64 kernel", path);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > MAX_PHDRS)
		return loader_fail(err, errlen, "kernel: %s: corrupt ELF program headers", path);
	return 0;
}

/* Walks one PT_NOTE segment for the Xen PHYS32_ENTRY note. */
static int find_pvh_note(const uint8_t *notes, uint64_t size, uint64_t *entry)
{
	uint64_t off = 0;

	while (size - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_off, desc_off;

		memcpy(&nh, notes + off, sizeof(nh));
		name_off = off + sizeof(nh);
		desc_off = name_off + ((nh.n_namesz + 3ull) & ~3ull);
		if (desc_off > size || nh.n_descsz > size - desc_off)
			return -1;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    !memcmp(notes + name_off, "Xen", 4) &&
		    (nh.n_descsz == 4 || nh.n_descsz == 8)) {
			uint64_t value = 0;

			memcpy(&value, notes + desc_off, nh.n_descsz);
			*entry = value;
			return 0;
		}
		off = desc_off + ((nh.n_descsz + 3ull) & ~3ull);
	}
	return -1;
}

static int read_note_entry(int fd, const Elf64_Phdr *ph, off_t file_size, uint64_t *entry)
{
	uint8_t *notes;
	int rc = -1;

	if (ph->p_filesz > MAX_NOTES_SIZE || ph->p_offset > (uint64_t)file_size ||
	    ph->p_filesz > (uint64_t)file_size - ph->p_offset)
		return -1;
	notes = malloc(ph->p_filesz);
	if (notes && !loader_pread(fd, notes, ph->p_filesz, ph->p_offset))
		rc = find_pvh_note(notes, ph->p_filesz, entry);
	free(notes);
	return rc;
}

static int load_segment(const struct guest_mem *mem, int fd, const Elf64_Phdr *ph,
			off_t file_size, const char *path, char *err, size_t errlen)
{
	uint8_t *dst;

	if (ph->p_filesz > ph->p_memsz || ph->p_offset > (uint64_t)file_size ||
	    ph->p_filesz > (uint64_t)file_size - ph->p_offset)
		return loader_fail(err, errlen, "kernel: %s: corrupt ELF segment", path);
	dst = guest_mem_ptr(mem, ph->p_paddr, ph->p_memsz);
	if (!dst || ph->p_paddr < LAYOUT_HIGH_START)
		return loader_fail(err, errlen,
				   "kernel: %s: segment at 0x%llx (%llu bytes) does not fit in guest memory",
				   path, (unsigned long long)ph->p_paddr,
				   (unsigned long long)ph->p_memsz);
	if (loader_pread(fd, dst, ph->p_filesz, ph->p_offset))
		return loader_fail(err, errlen, "kernel: %s: read failed: %s", path, strerror(errno));
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return 0;
}

int pvh_load(const struct guest_mem *mem, int fd, const char *path, off_t file_size,
	     struct boot_image *img, char *err, size_t errlen)
{
	Elf64_Phdr phdrs[MAX_PHDRS];
	Elf64_Ehdr eh;
	uint64_t entry = 0, start = UINT64_MAX, end = 0;
	bool have_entry = false;

	if (loader_pread(fd, &eh, sizeof(eh), 0))
		return loader_fail(err, errlen, "kernel: %s: truncated ELF header", path);
	if (check_ehdr(&eh, path, err, errlen))
		return -1;
	if (loader_pread(fd, phdrs, eh.e_phnum * sizeof(Elf64_Phdr), eh.e_phoff))
		return loader_fail(err, errlen, "kernel: %s: corrupt ELF program headers", path);
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *ph = &phdrs[i];

		if (ph->p_type == PT_NOTE && !have_entry)
			have_entry = !read_note_entry(fd, ph, file_size, &entry);
		if (ph->p_type != PT_LOAD)
			continue;
		if (load_segment(mem, fd, ph, file_size, path, err, errlen))
			return -1;
		if (ph->p_paddr < start)
			start = ph->p_paddr;
		if (ph->p_paddr + ph->p_memsz > end)
			end = ph->p_paddr + ph->p_memsz;
	}
	if (!have_entry)
		return loader_fail(err, errlen,
				   "kernel: %s: ELF kernel has no PVH entry note (build it with CONFIG_PVH=y, or use the bzImage)",
				   path);
	if (end == 0)
		return loader_fail(err, errlen, "kernel: %s: ELF file has no loadable segments", path);
	img->kind = BOOT_PVH;
	img->entry = entry;
	img->kernel_start = start;
	img->kernel_end = end;
	img->initrd_max = LAYOUT_4G;
	img->cmdline_max = LAYOUT_CMDLINE_MAX - 1;
	return 0;
}

int pvh_write_params(const struct guest_mem *mem, const struct boot_image *img,
		     uint64_t cmdline_gpa, uint64_t rsdp, char *err, size_t errlen)
{
	struct pvh_start_info *si = guest_mem_ptr(mem, LAYOUT_PVH_START_INFO, sizeof(*si));
	struct pvh_module *mod = guest_mem_ptr(mem, PVH_MODLIST, sizeof(*mod));
	struct pvh_memmap_entry *mm = guest_mem_ptr(mem, PVH_MEMMAP,
						    E820_MAX_ENTRIES * sizeof(*mm));
	struct e820_entry map[E820_MAX_ENTRIES];
	unsigned n = e820_build(mem, map);

	if (!si || !mod || !mm)
		return loader_fail(err, errlen, "memory: no room for the PVH start info");
	*si = (struct pvh_start_info){
		.magic = PVH_MAGIC, .version = 1,
		.cmdline_paddr = cmdline_gpa, .rsdp_paddr = rsdp,
		.memmap_paddr = PVH_MEMMAP, .memmap_entries = n,
	};
	for (unsigned i = 0; i < n; i++)
		mm[i] = (struct pvh_memmap_entry){ map[i].addr, map[i].size, map[i].type, 0 };
	if (img->initrd_size) {
		*mod = (struct pvh_module){ .paddr = img->initrd_addr, .size = img->initrd_size };
		si->nr_modules = 1;
		si->modlist_paddr = PVH_MODLIST;
	}
	return 0;
}
