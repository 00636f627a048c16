/*
 * Guest physical address map, shared by the loader, the ACPI tables and the
 * VMM. Low RAM ends at the 32-bit PCI hole; the rest of RAM continues at
 * 4 GiB. Everything below 1 MiB that the VMM uses is reserved in the e820 map
 * or lies in the legacy hole Linux never allocates from.
 */
#ifndef VMSILO_LAYOUT_H
#define VMSILO_LAYOUT_H

#define GIB (1ull << 30)
#define MIB (1ull << 20)

/* Fixed boot structures in low memory. */
#define LAYOUT_GDT		0x500ull
#define LAYOUT_PVH_START_INFO	0x6000ull	/* struct hvm_start_info + memmap */
#define LAYOUT_ZERO_PAGE	0x7000ull	/* struct boot_params */
#define LAYOUT_BOOT_STACK	0x8ff0ull
#define LAYOUT_PML4		0x9000ull
#define LAYOUT_PDPT		0xa000ull
#define LAYOUT_PD		0xb000ull	/* 4 pages: identity map of 4 GiB */
#define LAYOUT_CMDLINE		0x20000ull
#define LAYOUT_CMDLINE_MAX	0x10000ull
#define LAYOUT_EBDA_START	0x9fc00ull	/* low RAM ends here */
#define LAYOUT_ACPI_START	0xe0000ull	/* RSDP and all ACPI tables */
#define LAYOUT_ACPI_END		0x100000ull
#define LAYOUT_HIGH_START	0x100000ull	/* 1 MiB: kernels load here or above */

/* The 32-bit PCI hole: [LAYOUT_PCI_HOLE_START, 4 GiB). */
#define LAYOUT_PCI_HOLE_START	0xc0000000ull
#define LAYOUT_MMIO32_BASE	0xc0000000ull	/* 32-bit BAR window */
#define LAYOUT_MMIO32_SIZE	0x20000000ull
#define LAYOUT_ECAM_BASE	0xe0000000ull	/* PCIe ECAM for bus 0 only: Linux
					 * probes every bus MCFG lists, 1 MiB each */
#define LAYOUT_ECAM_SIZE	0x100000ull
#define LAYOUT_ECAM_LAST_BUS	0
#define LAYOUT_IOAPIC_BASE	0xfec00000ull
#define LAYOUT_LAPIC_BASE	0xfee00000ull
#define LAYOUT_4G		0x100000000ull
#define LAYOUT_MMIO64_SIZE	(64 * GIB)	/* 64-bit BAR window above RAM */

/* I/O ports of the ACPI fixed hardware (our PM block). */
#define LAYOUT_PM1A_EVT_PORT	0x600	/* 4 bytes: PM1_STS, PM1_EN */
#define LAYOUT_PM1A_CNT_PORT	0x604	/* 2 bytes: PM1_CNT */
#define LAYOUT_RESET_PORT	0x608	/* 1 byte: ACPI reset register */
#define LAYOUT_RESET_VALUE	0x01
#define LAYOUT_SCI_IRQ		9
#define LAYOUT_S5_SLP_TYP	5	/* SLP_TYP value the DSDT gives for S5 */

#define LAYOUT_COM1_PORT	0x3f8
#define LAYOUT_COM1_IRQ		4

#endif
