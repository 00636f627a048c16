/*
 * ACPI tables for the guest: RSDP, XSDT, RSDT, FADT, FACS, MADT, MCFG and
 * DSDT, describing the devices and address map in boot/layout.h.
 */
#ifndef VMSILO_ACPI_H
#define VMSILO_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_CPUS 255

struct acpi_config {
	unsigned nr_cpus;		/* 1..ACPI_MAX_CPUS, LAPIC ids 0..nr_cpus-1 */
	uint64_t mmio64_base;		/* 64-bit PCI window, above RAM */
	uint64_t mmio64_size;		/* 0: no 64-bit window */
};

/*
 * Writes the RSDP and all tables into buf, which the guest sees at guest
 * physical address base (normally LAYOUT_ACPI_START, must be 16-byte
 * aligned). The RSDP is at offset 0. Returns the bytes used, or 0 if
 * buf_size is too small or cfg or base is invalid.
 */
size_t acpi_build(void *buf, size_t buf_size, uint64_t base,
		  const struct acpi_config *cfg);

#endif
