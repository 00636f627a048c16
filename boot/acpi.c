#include "boot/acpi.h"

#include <string.h>

#include "boot/acpi_aml.h"
#include "boot/layout.h"

_Static_assert(LAYOUT_ECAM_SIZE == (LAYOUT_ECAM_LAST_BUS + 1) * MIB,
	       "ECAM size must cover buses 0..LAYOUT_ECAM_LAST_BUS");

#define SDT_HEADER_LEN	36
#define RSDP_LEN	36
#define FACS_LEN	64
#define FADT_LEN	276
#define FADT_REVISION	6
#define FADT_MINOR	4	/* ACPI 6.4 */
#define MADT_REVISION	5	/* ACPI 6.3/6.4 */
#define DSDT_REVISION	2	/* 2 and above: 64-bit AML integers */

#define FADT_WBINVD		(1u << 0)
#define FADT_PROC_C1		(1u << 2)
#define FADT_SLP_BUTTON		(1u << 5)	/* set: no sleep button */
#define FADT_RESET_REG_SUP	(1u << 10)

/* IAPC_BOOT_ARCH; left clear: 8042 (bit 1), MSI not supported (3), no CMOS RTC (5). */
#define BOOT_ARCH_VGA_NOT_PRESENT	(1u << 2)
#define BOOT_ARCH_PCIE_ASPM_CONTROLS	(1u << 4)

#define GAS_SYSTEM_IO	1
#define GAS_ACCESS_BYTE	1
#define GAS_ACCESS_WORD	2

#define MADT_PCAT_COMPAT	1
#define MADT_LAPIC_ENABLED	1
#define MPS_LEVEL_HIGH		0x000d	/* active high, level triggered */

struct out {
	uint8_t *buf;
	size_t size;
	size_t len;
	uint64_t base;		/* guest physical address of buf */
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t addr32(uint64_t addr)
{
	return addr >> 32 ? 0 : (uint32_t)addr;
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

/* Reserves len zeroed bytes at a guest address aligned to align. */
static uint8_t *out_alloc(struct out *o, size_t len, uint64_t align)
{
	uint64_t gpa = (o->base + o->len + align - 1) & ~(align - 1);
	size_t off = (size_t)(gpa - o->base);

	if (off > o->size || len > o->size - off)
		return NULL;
	memset(o->buf + o->len, 0, off + len - o->len);
	o->len = off + len;
	return o->buf + off;
}

static uint64_t gpa_of(const struct out *o, const uint8_t *p)
{
	return o->base + (uint64_t)(p - o->buf);
}

static uint8_t *sdt_alloc(struct out *o, const char *sig, size_t len, uint8_t rev)
{
	uint8_t *t = out_alloc(o, len, 8);

	if (!t)
		return NULL;
	memcpy(t, sig, 4);
	put32(t + 4, (uint32_t)len);
	t[8] = rev;
	memcpy(t + 10, "VMSILO", 6);
	memcpy(t + 16, "VMSILOVM", 8);
	put32(t + 24, 1);		/* OEM revision */
	memcpy(t + 28, "VMSL", 4);
	put32(t + 32, 1);		/* creator revision */
	return t;
}

static void sdt_finish(uint8_t *t, size_t len)
{
	put32(t + 4, (uint32_t)len);
	t[9] = 0;
	t[9] = checksum(t, len);
}

static uint8_t *build_facs(struct out *o)
{
	uint8_t *t = out_alloc(o, FACS_LEN, 64);

	if (!t)
		return NULL;
	memcpy(t, "FACS", 4);
	put32(t + 4, FACS_LEN);
	t[32] = 2;			/* version */
	return t;
}

static void dsdt_pci0(struct aml *a, const struct acpi_config *cfg)
{
	aml_device_open(a, "PCI0");
	aml_name_int(a, "_HID", aml_eisaid("PNP0A08"));
	aml_name_int(a, "_CID", aml_eisaid("PNP0A03"));
	aml_name_int(a, "_UID", 0);
	aml_name_int(a, "_SEG", 0);
	aml_name_int(a, "_BBN", 0);
	aml_name(a, "_CRS");
	aml_restemplate_open(a);
	aml_res_addr(a, 2, AML_RES_BUS, 0, 0, LAYOUT_ECAM_LAST_BUS);
	aml_res_io(a, 0xcf8, 8);
	aml_res_addr(a, 2, AML_RES_IO, AML_IO_ENTIRE_RANGE, 0, 0xcf7);
	aml_res_addr(a, 2, AML_RES_IO, AML_IO_ENTIRE_RANGE, 0xd00, 0xffff);
	aml_res_addr(a, 4, AML_RES_MEM, AML_MEM_RW, LAYOUT_MMIO32_BASE,
		     LAYOUT_MMIO32_BASE + LAYOUT_MMIO32_SIZE - 1);
	if (cfg->mmio64_size)
		aml_res_addr(a, 8, AML_RES_MEM, AML_MEM_RW | AML_MEM_CACHEABLE,
			     cfg->mmio64_base,
			     cfg->mmio64_base + cfg->mmio64_size - 1);
	aml_restemplate_close(a);
	aml_close(a);
}

/* Linux only trusts MCFG if a motherboard resource reserves the ECAM. */
static void dsdt_mbrd(struct aml *a)
{
	aml_device_open(a, "MBRD");
	aml_name_int(a, "_HID", aml_eisaid("PNP0C02"));
	aml_name_int(a, "_UID", 1);
	aml_name(a, "_CRS");
	aml_restemplate_open(a);
	aml_res_mem32_fixed(a, LAYOUT_ECAM_BASE, LAYOUT_ECAM_SIZE);
	aml_restemplate_close(a);
	aml_close(a);
}

/* A legacy ISA device with one I/O range and one IRQ; uid < 0: no _UID. */
static void dsdt_isa(struct aml *a, const char *name, const char *hid, int uid,
		     uint16_t port, uint8_t len, unsigned irq)
{
	aml_device_open(a, name);
	aml_name_int(a, "_HID", aml_eisaid(hid));
	if (uid >= 0)
		aml_name_int(a, "_UID", (uint64_t)uid);
	aml_name(a, "_CRS");
	aml_restemplate_open(a);
	aml_res_io(a, port, len);
	aml_res_irq(a, irq);
	aml_restemplate_close(a);
	aml_close(a);
}

static void dsdt_body(struct aml *a, const struct acpi_config *cfg)
{
	aml_name(a, "_S5_");
	aml_package_open(a, 4);
	aml_integer(a, LAYOUT_S5_SLP_TYP);	/* SLP_TYPa */
	aml_integer(a, LAYOUT_S5_SLP_TYP);	/* SLP_TYPb */
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_close(a);

	aml_scope_open(a, "\\_SB");
	dsdt_pci0(a, cfg);
	dsdt_mbrd(a);
	dsdt_isa(a, "COM1", "PNP0501", 1, LAYOUT_COM1_PORT, 8, LAYOUT_COM1_IRQ);
	dsdt_isa(a, "RTC", "PNP0B00", -1, 0x70, 2, 8);
	aml_close(a);
}

static uint8_t *build_dsdt(struct out *o, const struct acpi_config *cfg)
{
	uint8_t *t = sdt_alloc(o, "DSDT", SDT_HEADER_LEN, DSDT_REVISION);
	struct aml a;

	if (!t)
		return NULL;
	aml_init(&a, o->buf + o->len, o->size - o->len);
	dsdt_body(&a, cfg);
	if (a.err || a.depth)
		return NULL;
	o->len += a.len;
	sdt_finish(t, SDT_HEADER_LEN + a.len);
	return t;
}

static void put_gas_io(uint8_t *p, uint8_t bits, uint8_t access, uint16_t port)
{
	p[0] = GAS_SYSTEM_IO;
	p[1] = bits;
	p[2] = 0;			/* bit offset */
	p[3] = access;
	put64(p + 4, port);
}

static uint8_t *build_fadt(struct out *o, uint64_t facs, uint64_t dsdt)
{
	uint8_t *t = sdt_alloc(o, "FACP", FADT_LEN, FADT_REVISION);

	if (!t)
		return NULL;
	/* X_FIRMWARE_CTRL must be zero when FIRMWARE_CTRL is used. */
	if (addr32(facs))
		put32(t + 36, (uint32_t)facs);
	else
		put64(t + 132, facs);
	put32(t + 40, addr32(dsdt));
	put16(t + 46, LAYOUT_SCI_IRQ);
	/* SMI_CMD 0: ACPI mode is always enabled. */
	put32(t + 56, LAYOUT_PM1A_EVT_PORT);
	put32(t + 64, LAYOUT_PM1A_CNT_PORT);
	t[88] = 4;			/* PM1_EVT_LEN */
	t[89] = 2;			/* PM1_CNT_LEN */
	put16(t + 96, 0xfff);		/* P_LVL2_LAT > 100: no C2 */
	put16(t + 98, 0xfff);		/* P_LVL3_LAT > 1000: no C3 */
	t[108] = 0x32;			/* CENTURY: CMOS index vmm/rtc.c serves */
	put16(t + 109, BOOT_ARCH_VGA_NOT_PRESENT | BOOT_ARCH_PCIE_ASPM_CONTROLS);
	put32(t + 112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON |
		       FADT_RESET_REG_SUP);
	put_gas_io(t + 116, 8, GAS_ACCESS_BYTE, LAYOUT_RESET_PORT);
	t[128] = LAYOUT_RESET_VALUE;
	t[131] = FADT_MINOR;
	put64(t + 140, dsdt);
	put_gas_io(t + 148, 32, GAS_ACCESS_WORD, LAYOUT_PM1A_EVT_PORT);
	put_gas_io(t + 172, 16, GAS_ACCESS_WORD, LAYOUT_PM1A_CNT_PORT);
	sdt_finish(t, FADT_LEN);
	return t;
}

static uint8_t *madt_iso(uint8_t *p, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	p[0] = 2;			/* Interrupt Source Override */
	p[1] = 10;
	p[2] = 0;			/* bus: ISA */
	p[3] = irq;
	put32(p + 4, gsi);
	put16(p + 8, flags);
	return p + 10;
}

static uint8_t *build_madt(struct out *o, unsigned nr_cpus)
{
	size_t len = SDT_HEADER_LEN + 8 + 8 * nr_cpus + 12 + 10 + 6;
	uint8_t *t = sdt_alloc(o, "APIC", len, MADT_REVISION), *p;

	if (!t)
		return NULL;
	put32(t + 36, LAYOUT_LAPIC_BASE);
	put32(t + 40, MADT_PCAT_COMPAT);
	p = t + 44;
	for (unsigned i = 0; i < nr_cpus; i++, p += 8) {
		p[0] = 0;		/* Processor Local APIC */
		p[1] = 8;
		p[2] = (uint8_t)i;	/* ACPI processor uid */
		p[3] = (uint8_t)i;	/* APIC id */
		put32(p + 4, MADT_LAPIC_ENABLED);
	}
	p[0] = 1;			/* I/O APIC, id 0, GSI base 0 */
	p[1] = 12;
	put32(p + 4, LAYOUT_IOAPIC_BASE);
	/*
	 * No IRQ0 -> GSI2 override: KVM's default routing sends the in-kernel
	 * PIT to IOAPIC pin 0, and Linux finds its timer there.
	 */
	p = madt_iso(p + 12, LAYOUT_SCI_IRQ, LAYOUT_SCI_IRQ, MPS_LEVEL_HIGH);
	p[0] = 4;			/* Local APIC NMI */
	p[1] = 6;
	p[2] = 0xff;			/* all processors */
	p[5] = 1;			/* LINT1 */
	sdt_finish(t, len);
	return t;
}

static uint8_t *build_mcfg(struct out *o)
{
	uint8_t *t = sdt_alloc(o, "MCFG", SDT_HEADER_LEN + 8 + 16, 1);

	if (!t)
		return NULL;
	put64(t + 44, LAYOUT_ECAM_BASE);
	/* segment 0, start bus 0 */
	t[55] = LAYOUT_ECAM_LAST_BUS;
	sdt_finish(t, SDT_HEADER_LEN + 8 + 16);
	return t;
}

/* XSDT (width 8) or RSDT (width 4). */
static uint8_t *build_sdt_list(struct out *o, const char *sig, unsigned width,
			       const uint64_t *addr, unsigned n)
{
	size_t len = SDT_HEADER_LEN + (size_t)width * n;
	uint8_t *t = sdt_alloc(o, sig, len, 1);

	if (!t)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		if (width == 8)
			put64(t + SDT_HEADER_LEN + 8 * i, addr[i]);
		else
			put32(t + SDT_HEADER_LEN + 4 * i, (uint32_t)addr[i]);
	}
	sdt_finish(t, len);
	return t;
}

static void build_rsdp(uint8_t *p, uint64_t rsdt, uint64_t xsdt)
{
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, "VMSILO", 6);
	p[15] = 2;			/* revision */
	put32(p + 16, (uint32_t)rsdt);
	put32(p + 20, RSDP_LEN);
	put64(p + 24, xsdt);
	p[8] = checksum(p, 20);
	p[32] = checksum(p, RSDP_LEN);
}

size_t acpi_build(void *buf, size_t buf_size, uint64_t base,
		  const struct acpi_config *cfg)
{
	struct out o = { .buf = buf, .size = buf_size, .base = base };
	uint8_t *rsdp, *facs, *dsdt, *fadt, *madt, *mcfg, *xsdt, *rsdt;
	uint64_t tables[3], rsdt_gpa;

	if (!cfg->nr_cpus || cfg->nr_cpus > ACPI_MAX_CPUS || base % 16)
		return 0;
	rsdp = out_alloc(&o, RSDP_LEN, 16);
	if (!rsdp)
		return 0;
	facs = build_facs(&o);
	if (!facs)
		return 0;
	dsdt = build_dsdt(&o, cfg);
	if (!dsdt)
		return 0;
	fadt = build_fadt(&o, gpa_of(&o, facs), gpa_of(&o, dsdt));
	madt = build_madt(&o, cfg->nr_cpus);
	mcfg = build_mcfg(&o);
	if (!fadt || !madt || !mcfg)
		return 0;
	tables[0] = gpa_of(&o, fadt);
	tables[1] = gpa_of(&o, madt);
	tables[2] = gpa_of(&o, mcfg);
	xsdt = build_sdt_list(&o, "XSDT", 8, tables, 3);
	if (!xsdt)
		return 0;
	/* For old tools; usable only if all of it lies below 4 GiB. */
	rsdt = build_sdt_list(&o, "RSDT", 4, tables, 3);
	if (!rsdt)
		return 0;
	rsdt_gpa = (base + o.len - 1) >> 32 ? 0 : gpa_of(&o, rsdt);
	build_rsdp(rsdp, rsdt_gpa, gpa_of(&o, xsdt));
	return o.len;
}
