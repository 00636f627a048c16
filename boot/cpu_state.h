/* Initial register state of the boot vCPU for each entry protocol. */
#ifndef VMSILO_CPU_STATE_H
#define VMSILO_CPU_STATE_H

#include <linux/kvm.h>

#include "boot/guest_mem.h"
#include "boot/loader.h"

/* GDT selectors: the boot protocol fixes __BOOT_CS = 0x10, __BOOT_DS = 0x18. */
#define SEL_CODE64	0x10
#define SEL_DATA	0x18
#define SEL_TSS		0x20
#define SEL_CODE32	0x28

/* Writes the GDT (and, for the 64-bit entry, identity page tables). */
int cpu_state_write_tables(const struct guest_mem *mem, enum boot_kind kind);
/* Fills the special and general registers for the entry of img. */
void cpu_state_boot_regs(const struct boot_image *img, struct kvm_sregs *sregs,
			 struct kvm_regs *regs);

#endif
