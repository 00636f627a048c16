/* Kernel loaders and boot parameters against synthetic bzImage/ELF files. */
#include <elf.h>
#include <stdlib.h>
#include <unistd.h>
#include <asm/bootparam.h>

#include "boot/cpu_state.h"
#include "boot/loader.h"
#include "check.h"

#define MEM_SIZE (64 * MIB)
#define PAYLOAD 8192

static char tmpdir[] = "/tmp/test_loader.XXXXXX";

static char *write_file(const char *name, const void *data, size_t len)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	fwrite(data, 1, len, f);
	fclose(f);
	return path;
}

static void remove_files(void)
{
	static const char *const names[] = {
		"bzImage", "initrd", "old", "garbage", "empty", "huge", "vmlinux",
		"vmlinux-nonote", "vmlinux-big", "vmlinux-trunc",
	};
	char path[256];

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

static size_t make_bzimage(uint8_t *buf, uint16_t version, uint32_t init_size)
{
	struct setup_header hdr = {
		.setup_sects = 1, .boot_flag = 0xaa55, .jump = 0x66eb,
		.header = 0x53726448, .version = version, .loadflags = LOADED_HIGH,
		.relocatable_kernel = 1, .xloadflags = 1, .initrd_addr_max = 0x7fffffff,
		.cmdline_size = 2047, .pref_address = 0x1000000, .init_size = init_size,
		.kernel_alignment = 0x200000,
	};

	memset(buf, 0, 1024 + PAYLOAD);
	memcpy(buf + 0x1f1, &hdr, sizeof(hdr));
	for (unsigned i = 0; i < PAYLOAD; i++)
		buf[1024 + i] = (uint8_t)(i * 7 + 1);
	return 1024 + PAYLOAD;
}

static void test_bzimage(struct guest_mem *mem)
{
	static uint8_t file[1024 + PAYLOAD];
	struct boot_image img;
	struct boot_params *bp;
	char err[256] = "", *path, *initrd;
	static const char rd[] = "initramfs contents";
	size_t len = make_bzimage(file, 0x020f, 4 * MIB);

	path = write_file("bzImage", file, len);
	CHECK_EQ(boot_load_kernel(mem, path, &img, err, sizeof(err)), 0);
	CHECK_EQ(img.kind, BOOT_BZIMAGE);
	CHECK_EQ(img.kernel_start, 0x1000000);
	CHECK_EQ(img.entry, 0x1000000 + 0x200);
	CHECK(!memcmp(guest_mem_ptr(mem, 0x1000000, PAYLOAD), file + 1024, PAYLOAD));
	initrd = write_file("initrd", rd, sizeof(rd));
	CHECK_EQ(boot_load_initrd(mem, initrd, &img, err, sizeof(err)), 0);
	CHECK_EQ(img.initrd_addr % 4096, 0);
	CHECK(img.initrd_addr >= img.kernel_end);
	CHECK(img.initrd_addr + sizeof(rd) <= MEM_SIZE);
	CHECK(!memcmp(guest_mem_ptr(mem, img.initrd_addr, sizeof(rd)), rd, sizeof(rd)));
	CHECK_EQ(boot_write_params(mem, &img, "console=ttyS0 quiet", 0xe0000, err, sizeof(err)), 0);
	bp = guest_mem_ptr(mem, LAYOUT_ZERO_PAGE, sizeof(*bp));
	CHECK_EQ(bp->hdr.header, 0x53726448);
	CHECK_EQ(bp->hdr.version, 0x020f);
	CHECK_EQ(bp->hdr.type_of_loader, 0xff);
	CHECK(bp->hdr.loadflags & CAN_USE_HEAP);
	CHECK_EQ(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	CHECK_EQ(bp->hdr.cmdline_size, 2047);	/* the kernel's limit, untouched */
	CHECK_STR((char *)guest_mem_ptr(mem, LAYOUT_CMDLINE, 1), "console=ttyS0 quiet");
	CHECK_EQ(bp->hdr.ramdisk_image, img.initrd_addr);
	CHECK_EQ(bp->hdr.ramdisk_size, sizeof(rd));
	CHECK_EQ(bp->acpi_rsdp_addr, 0xe0000);
	CHECK_EQ(bp->e820_entries, 5);
	CHECK_EQ(bp->e820_table[0].addr, 0);
	CHECK_EQ(bp->e820_table[0].type, 1);
	CHECK_EQ(bp->e820_table[3].addr, LAYOUT_HIGH_START);
	CHECK_EQ(bp->e820_table[3].size, MEM_SIZE - LAYOUT_HIGH_START);
}

static void test_bzimage_errors(struct guest_mem *mem)
{
	static uint8_t file[1024 + PAYLOAD];
	struct boot_image img;
	char err[256], *path, want[512];

	make_bzimage(file, 0x0201, 4 * MIB);
	path = write_file("old", file, sizeof(file));
	CHECK_EQ(boot_load_kernel(mem, path, &img, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "kernel: %s: boot protocol 2.01 is too old (need 2.12 or newer)", path);
	CHECK_STR(err, want);

	memset(file, 0x5a, sizeof(file));
	path = write_file("garbage", file, sizeof(file));
	CHECK_EQ(boot_load_kernel(mem, path, &img, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "kernel: %s: not a bzImage or ELF vmlinux", path);
	CHECK_STR(err, want);

	path = write_file("empty", file, 0);
	CHECK_EQ(boot_load_kernel(mem, path, &img, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "kernel: %s: not a bzImage or ELF vmlinux", path);
	CHECK_STR(err, want);

	make_bzimage(file, 0x020f, 512 * MIB);	/* needs more than the guest has */
	path = write_file("huge", file, sizeof(file));
	CHECK_EQ(boot_load_kernel(mem, path, &img, err, sizeof(err)), -1);
	CHECK(strstr(err, "more than the guest memory") != NULL);

	CHECK_EQ(boot_load_kernel(mem, "/nonexistent/bzImage", &img, err, sizeof(err)), -1);
	CHECK_STR(err, "kernel: /nonexistent/bzImage: No such file or directory");
}

struct fake_elf {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	Elf64_Nhdr nh;
	char name[4];
	uint32_t desc;
	uint8_t code[64];
};

static void make_elf(struct fake_elf *f, uint64_t paddr, bool with_note)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->eh.e_ident, ELFMAG, SELFMAG);
	f->eh.e_ident[EI_CLASS] = ELFCLASS64;
	f->eh.e_machine = EM_X86_64;
	f->eh.e_type = ET_EXEC;
	f->eh.e_phoff = offsetof(struct fake_elf, ph);
	f->eh.e_phentsize = sizeof(Elf64_Phdr);
	f->eh.e_phnum = 2;
	f->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = offsetof(struct fake_elf, code),
		.p_paddr = paddr, .p_filesz = sizeof(f->code), .p_memsz = 4096 };
	f->ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = offsetof(struct fake_elf, nh),
		.p_filesz = sizeof(f->nh) + 8 };
	f->nh = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = 4,
		.n_type = with_note ? 18 : 17 };
	memcpy(f->name, "Xen", 4);
	f->desc = (uint32_t)paddr + 0x40;
	memset(f->code, 0x90, sizeof(f->code));
}

static void test_pvh(struct guest_mem *mem)
{
	struct fake_elf elf;
	struct boot_image img;
	struct kvm_sregs sregs = { 0 };
	struct kvm_regs regs;
	char err[256] = "", *path, want[512];
	uint32_t *si;

	make_elf(&elf, 0x1000000, true);
	memset(guest_mem_ptr(mem, 0x1000000, 4096), 0xcc, 4096);
	path = write_file("vmlinux", &elf, sizeof(elf));
	CHECK_EQ(boot_load_kernel(mem, path, &img, err, sizeof(err)), 0);
	CHECK_EQ(img.kind, BOOT_PVH);
	CHECK_EQ(img.entry, 0x1000040);
	CHECK(!memcmp(guest_mem_ptr(mem, 0x1000000, 64), elf.code, 64));
	CHECK_EQ(*(uint8_t *)guest_mem_ptr(mem, 0x1000000 + 100, 1), 0);	/* bss zeroed */
	CHECK_EQ(boot_write_params(mem, &img, "console=ttyS0", 0xe0000, err, sizeof(err)), 0);
	si = guest_mem_ptr(mem, LAYOUT_PVH_START_INFO, 56);
	CHECK_EQ(si[0], 0x336ec578);
	CHECK_EQ(si[1], 1);
	CHECK_EQ(*(uint64_t *)&si[6], LAYOUT_CMDLINE);
	CHECK_EQ(*(uint64_t *)&si[8], 0xe0000);
	CHECK_EQ(si[12], 5);	/* memmap entries */
	cpu_state_boot_regs(&img, &sregs, &regs);
	CHECK_EQ(regs.rip, 0x1000040);
	CHECK_EQ(regs.rbx, LAYOUT_PVH_START_INFO);
	CHECK_EQ(sregs.cr0 & 0x80000001u, 1);	/* protected mode, paging off */
	CHECK_EQ(sregs.cs.db, 1);
	CHECK_EQ(sregs.cs.l, 0);

	make_elf(&elf, 0x1000000, false);
	path = write_file("vmlinux-nonote", &elf, sizeof(elf));
	CHECK_EQ(boot_load_kernel(mem, path, &img, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
		 "kernel: %s: ELF kernel has no PVH entry note (build it with CONFIG_PVH=y, or use the bzImage)", path);
	CHECK_STR(err, want);

	make_elf(&elf, MEM_SIZE - 100, true);	/* segment runs past the end of RAM */
	path = write_file("vmlinux-big", &elf, sizeof(elf));
	CHECK_EQ(boot_load_kernel(mem, path, &img, err, sizeof(err)), -1);
	CHECK(strstr(err, "does not fit in guest memory") != NULL);

	make_elf(&elf, 0x1000000, true);
	elf.ph[0].p_filesz = 1u << 30;		/* claims more bytes than the file has */
	path = write_file("vmlinux-trunc", &elf, sizeof(elf));
	CHECK_EQ(boot_load_kernel(mem, path, &img, err, sizeof(err)), -1);
	CHECK(strstr(err, "corrupt ELF segment") != NULL);
}

static void test_64bit_regs(void)
{
	struct boot_image img = { .kind = BOOT_BZIMAGE, .entry = 0x1000200 };
	struct kvm_sregs sregs = { 0 };
	struct kvm_regs regs;

	cpu_state_boot_regs(&img, &sregs, &regs);
	CHECK_EQ(regs.rip, 0x1000200);
	CHECK_EQ(regs.rsi, LAYOUT_ZERO_PAGE);
	CHECK_EQ(sregs.cs.selector, 0x10);
	CHECK_EQ(sregs.ds.selector, 0x18);
	CHECK_EQ(sregs.cs.l, 1);
	CHECK_EQ(sregs.efer & 0x500, 0x500);
	CHECK_EQ(sregs.cr3, LAYOUT_PML4);
}

int main(void)
{
	struct guest_mem mem;
	uint8_t *ram = calloc(1, MEM_SIZE);

	if (!ram || !mkdtemp(tmpdir))
		return 1;
	guest_mem_layout(&mem, ram, MEM_SIZE);
	test_bzimage(&mem);
	test_bzimage_errors(&mem);
	test_pvh(&mem);
	test_64bit_regs();
	CHECK_EQ(cpu_state_write_tables(&mem, BOOT_BZIMAGE), 0);
	CHECK_EQ(*(uint64_t *)guest_mem_ptr(&mem, LAYOUT_PD + 8, 8), (1ull << 21) | 0x83);
	free(ram);
	remove_files();
	return check_report("test_loader");
}
