/*
 * Writes a tiny ELF "kernel" with a PVH entry note, for exercising the VMM's
 * exit paths without Linux: it prints through the UART and then powers off,
 * resets, or triple-faults. Usage: make_test_kernel OUT poweroff|reset|fault
 */
#include <elf.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define LOAD_ADDR 0x100000u

struct image {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	Elf64_Nhdr nh;
	char name[4];
	uint32_t entry;
	uint8_t code[256];
};

/* 32-bit code: mov dx, port; mov al, byte; out dx, al */
static size_t emit_outb(uint8_t *p, uint16_t port, uint8_t value)
{
	uint8_t insn[] = { 0x66, 0xba, port & 0xff, port >> 8, 0xb0, value, 0xee };

	memcpy(p, insn, sizeof(insn));
	return sizeof(insn);
}

static size_t emit_tail(uint8_t *p, const char *action)
{
	/* mov dx, 0x604; mov ax, SLP_TYP 5 | SLP_EN; out dx, ax */
	static const uint8_t poweroff[] = { 0x66, 0xba, 0x04, 0x06, 0x66, 0xb8, 0x00, 0x34, 0x66, 0xef };
	static const uint8_t fault[] = { 0x0f, 0x0b };	/* ud2 with no IDT */
	static const uint8_t halt[] = { 0xf4, 0xeb, 0xfd };	/* hlt; jmp back */
	size_t n = 0;

	if (!strcmp(action, "poweroff")) {
		memcpy(p, poweroff, sizeof(poweroff));
		n = sizeof(poweroff);
	} else if (!strcmp(action, "reset")) {
		n = emit_outb(p, 0x608, 0x01);
	} else if (!strcmp(action, "fault")) {
		memcpy(p, fault, sizeof(fault));
		n = sizeof(fault);
	}
	memcpy(p + n, halt, sizeof(halt));
	return n + sizeof(halt);
}

int main(int argc, char **argv)
{
	static struct image img;
	static const char hello[] = "tiny guest: hello\n";
	size_t n = 0;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: make_test_kernel OUT poweroff|reset|fault\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(hello) - 1; i++)
		n += emit_outb(img.code + n, 0x3f8, (uint8_t)hello[i]);
	n += emit_tail(img.code + n, argv[2]);
	if (n > sizeof(img.code))
		return 1;

	memcpy(img.eh.e_ident, ELFMAG, SELFMAG);
	img.eh.e_ident[EI_CLASS] = ELFCLASS64;
	img.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	img.eh.e_ident[EI_VERSION] = EV_CURRENT;
	img.eh.e_type = ET_EXEC;
	img.eh.e_machine = EM_X86_64;
	img.eh.e_version = EV_CURRENT;
	img.eh.e_entry = LOAD_ADDR;
	img.eh.e_phoff = offsetof(struct image, ph);
	img.eh.e_ehsize = sizeof(Elf64_Ehdr);
	img.eh.e_phentsize = sizeof(Elf64_Phdr);
	img.eh.e_phnum = 2;
	img.ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
		.p_offset = offsetof(struct image, code), .p_vaddr = LOAD_ADDR,
		.p_paddr = LOAD_ADDR, .p_filesz = sizeof(img.code),
		.p_memsz = sizeof(img.code), .p_align = 16 };
	img.ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_flags = PF_R,
		.p_offset = offsetof(struct image, nh),
		.p_filesz = sizeof(img.nh) + sizeof(img.name) + sizeof(img.entry), .p_align = 4 };
	img.nh = (Elf64_Nhdr){ .n_namesz = 4, .n_descsz = 4, .n_type = 18 };
	memcpy(img.name, "Xen", 4);
	img.entry = LOAD_ADDR;

	f = fopen(argv[1], "wb");
	if (!f || fwrite(&img, sizeof(img), 1, f) != 1 || fclose(f)) {
		perror(argv[1]);
		return 1;
	}
	return 0;
}
