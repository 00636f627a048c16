#include <string.h>

#include "boot/cpu_state.h"

#define X86_CR0_PE	(1u << 0)
#define X86_CR0_ET	(1u << 4)
#define X86_CR0_PG	(1u << 31)
#define X86_CR4_PAE	(1u << 5)
#define EFER_LME	(1u << 8)
#define EFER_LMA	(1u << 10)
#define PTE_PRESENT_RW	0x3ull
#define PTE_HUGE	0x80ull
#define NR_PD_PAGES	4	/* 4 x 1 GiB of 2 MiB pages */

/* Flat 4 GiB descriptors; the access byte and flags are given per entry. */
static uint64_t gdt_entry(uint64_t flags, uint64_t base, uint64_t limit)
{
	return ((base & 0xff000000ull) << 32) | ((flags & 0xf0ffull) << 40) |
	       ((limit & 0xf0000ull) << 32) | ((base & 0xffffffull) << 16) |
	       (limit & 0xffffull);
}

static const uint64_t gdt_flags[] = {
	[SEL_CODE64 >> 3] = 0xa09b,	/* 64-bit code, execute/read, accessed */
	[SEL_DATA >> 3] = 0xc093,	/* 32-bit data, read/write, accessed */
	[SEL_TSS >> 3] = 0x008b,	/* busy 32-bit TSS */
	[SEL_CODE32 >> 3] = 0xc09b,	/* 32-bit code, execute/read, accessed */
};

#define GDT_ENTRIES (sizeof(gdt_flags) / sizeof(gdt_flags[0]))

static void write_page_tables(uint64_t *pml4, uint64_t *pdpt, uint64_t *pd)
{
	pml4[0] = LAYOUT_PDPT | PTE_PRESENT_RW;
	for (unsigned i = 0; i < NR_PD_PAGES; i++)
		pdpt[i] = (LAYOUT_PD + i * 0x1000ull) | PTE_PRESENT_RW;
	for (unsigned i = 0; i < NR_PD_PAGES * 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_PRESENT_RW | PTE_HUGE;
}

int cpu_state_write_tables(const struct guest_mem *mem, enum boot_kind kind)
{
	uint64_t *gdt = guest_mem_ptr(mem, LAYOUT_GDT, GDT_ENTRIES * 8);
	uint64_t *pml4 = guest_mem_ptr(mem, LAYOUT_PML4, 0x1000);
	uint64_t *pdpt = guest_mem_ptr(mem, LAYOUT_PDPT, 0x1000);
	uint64_t *pd = guest_mem_ptr(mem, LAYOUT_PD, NR_PD_PAGES * 0x1000);

	if (!gdt || !pml4 || !pdpt || !pd)
		return -1;
	for (unsigned i = 0; i < GDT_ENTRIES; i++)
		gdt[i] = gdt_flags[i] ? gdt_entry(gdt_flags[i], 0, 0xfffff) : 0;
	gdt[SEL_TSS >> 3] = gdt_entry(gdt_flags[SEL_TSS >> 3], 0, 0x67);
	if (kind == BOOT_BZIMAGE) {
		memset(pml4, 0, 0x1000);
		memset(pdpt, 0, 0x1000);
		write_page_tables(pml4, pdpt, pd);
	}
	return 0;
}

static struct kvm_segment segment(uint16_t selector, uint64_t flags, uint32_t limit)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = limit,
		.selector = selector,
		.type = flags & 0xf,
		.present = (flags >> 7) & 1,
		.dpl = (flags >> 5) & 3,
		.db = (flags >> 14) & 1,
		.s = (flags >> 4) & 1,
		.l = (flags >> 13) & 1,
		.g = (flags >> 15) & 1,
	};
}

void cpu_state_boot_regs(const struct boot_image *img, struct kvm_sregs *sregs,
			 struct kvm_regs *regs)
{
	uint16_t cs = img->kind == BOOT_PVH ? SEL_CODE32 : SEL_CODE64;
	struct kvm_segment data = segment(SEL_DATA, gdt_flags[SEL_DATA >> 3], 0xffffffff);

	sregs->cs = segment(cs, gdt_flags[cs >> 3], 0xffffffff);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = segment(SEL_TSS, gdt_flags[SEL_TSS >> 3], 0x67);
	sregs->gdt.base = LAYOUT_GDT;
	sregs->gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
	sregs->cr0 = X86_CR0_PE | X86_CR0_ET;
	sregs->cr4 = 0;
	sregs->efer = 0;

	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2;
	regs->rip = img->entry;
	if (img->kind == BOOT_PVH) {
		regs->rbx = LAYOUT_PVH_START_INFO;
		return;
	}
	sregs->cr3 = LAYOUT_PML4;
	sregs->cr4 = X86_CR4_PAE;
	sregs->cr0 |= X86_CR0_PG;
	sregs->efer = EFER_LME | EFER_LMA;
	regs->rsi = LAYOUT_ZERO_PAGE;
	regs->rsp = LAYOUT_BOOT_STACK;
	regs->rbp = LAYOUT_BOOT_STACK;
}
