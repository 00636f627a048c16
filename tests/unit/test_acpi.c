#include "boot/acpi.h"
#include "boot/acpi_aml.h"
#include "boot/layout.h"
#include "tests/unit/check.h"

#include <stdbool.h>
#include <stdlib.h>

#define AREA_SIZE (LAYOUT_ACPI_END - LAYOUT_ACPI_START)

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return sum;
}

#define CHECK_BYTES(got, ...) do { \
	const uint8_t want_[] = { __VA_ARGS__ }; \
	CHECK(!memcmp((got), want_, sizeof(want_))); \
} while (0)

/* ---- AML encoder ---- */

static void test_pkglen_encode(void)
{
	static const struct {
		uint32_t len;
		size_t n;
		uint8_t bytes[4];
	} cases[] = {
		{ 0, 1, { 0x00 } },
		{ 63, 1, { 0x3f } },
		{ 64, 2, { 0x40, 0x04 } },
		{ 4095, 2, { 0x4f, 0xff } },
		{ 4096, 3, { 0x80, 0x00, 0x01 } },
		{ 0xfffff, 3, { 0x8f, 0xff, 0xff } },
		{ 0x100000, 4, { 0xc0, 0x00, 0x00, 0x01 } },
		{ 0xfffffff, 4, { 0xcf, 0xff, 0xff, 0xff } },
	};
	uint8_t out[4];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 0xaa, sizeof(out));
		CHECK_EQ(aml_pkglen_encode(out, cases[i].len), cases[i].n);
		CHECK(!memcmp(out, cases[i].bytes, cases[i].n));
	}
	CHECK_EQ(aml_pkglen_encode(out, 0x10000000), 0);
}

/* Decodes a PkgLength; *n gets its size in bytes. */
static uint32_t pkglen_decode(const uint8_t *p, size_t *n)
{
	unsigned follow = p[0] >> 6;
	uint32_t len;

	*n = 1 + follow;
	if (!follow)
		return p[0] & 0x3f;
	len = p[0] & 0x0f;
	for (unsigned i = 0; i < follow; i++)
		len |= (uint32_t)p[1 + i] << (4 + 8 * i);
	return len;
}

/* A Package whose body (NumElements + filler) is body bytes long. */
static void check_pkg_close(uint8_t *buf, size_t cap, size_t body, size_t want_n)
{
	struct aml a;
	size_t n;
	uint32_t len;

	aml_init(&a, buf, cap);
	aml_package_open(&a, 0);
	for (size_t i = 1; i < body; i++)
		aml_byte(&a, 0x01);
	aml_close(&a);
	CHECK(!a.err);
	CHECK_EQ(a.depth, 0);
	CHECK_EQ(buf[0], 0x12);
	len = pkglen_decode(buf + 1, &n);
	CHECK_EQ(n, want_n);
	CHECK_EQ(len, body + n);
	CHECK_EQ(a.len, 1 + len);
	CHECK_EQ(buf[1 + n], 0);	/* NumElements moved intact */
}

static void test_pkg_close(void)
{
	size_t cap = 0x100010;
	uint8_t *buf = malloc(cap);

	check_pkg_close(buf, cap, 1, 1);
	check_pkg_close(buf, cap, 62, 1);	/* 63 */
	check_pkg_close(buf, cap, 63, 2);	/* 64 needs 2 bytes: 65 */
	check_pkg_close(buf, cap, 4093, 2);	/* 4095 */
	check_pkg_close(buf, cap, 4094, 3);	/* 4096 needs 3 bytes: 4097 */
	check_pkg_close(buf, cap, 0xffffc, 3);	/* 0xfffff */
	check_pkg_close(buf, cap, 0xffffd, 4);	/* 0x100001 */
	free(buf);
}

static void check_int(uint64_t v, size_t n, const uint8_t *want)
{
	uint8_t out[9];

	CHECK_EQ(aml_int_encode(out, v), n);
	CHECK(!memcmp(out, want, n));
}

static void test_int_encode(void)
{
	check_int(0, 1, (uint8_t[]){ 0x00 });
	check_int(1, 1, (uint8_t[]){ 0x01 });
	check_int(2, 2, (uint8_t[]){ 0x0a, 0x02 });
	check_int(0xff, 2, (uint8_t[]){ 0x0a, 0xff });
	check_int(0x100, 3, (uint8_t[]){ 0x0b, 0x00, 0x01 });
	check_int(0xffff, 3, (uint8_t[]){ 0x0b, 0xff, 0xff });
	check_int(0x10000, 5, (uint8_t[]){ 0x0c, 0x00, 0x00, 0x01, 0x00 });
	check_int(0xffffffff, 5, (uint8_t[]){ 0x0c, 0xff, 0xff, 0xff, 0xff });
	check_int(0x100000000, 9, (uint8_t[]){ 0x0e, 0, 0, 0, 0, 1, 0, 0, 0 });
	check_int(0x0123456789abcdef, 9,
		  (uint8_t[]){ 0x0e, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01 });
}

static void test_names(void)
{
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "_S5_");
	aml_namestring(&a, "RTC");
	aml_namestring(&a, "\\_SB");
	aml_namestring(&a, "\\_SB.PCI0");
	aml_namestring(&a, "A.B.C");
	aml_namestring(&a, "\\");
	CHECK(!a.err);
	CHECK_EQ(a.len, 4 + 4 + 5 + 10 + 14 + 2);
	CHECK_BYTES(buf, '_', 'S', '5', '_', 'R', 'T', 'C', '_',
		    '\\', '_', 'S', 'B', '_',
		    '\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0',
		    0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_',
		    '\\', 0x00);

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "TOOLONG");
	CHECK(a.err);
	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "A..B");
	CHECK(a.err);
}

static void test_objects(void)
{
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_string(&a, "ab");
	aml_name_int(&a, "_UID", 0x1234);
	CHECK(!a.err);
	CHECK_EQ(a.len, 4 + 8);
	CHECK_BYTES(buf, 0x0d, 'a', 'b', 0x00, 0x08, '_', 'U', 'I', 'D', 0x0b, 0x34, 0x12);

	aml_init(&a, buf, sizeof(buf));
	aml_scope_open(&a, "\\_SB");
	aml_device_open(&a, "DEV");
	aml_close(&a);
	aml_close(&a);
	CHECK(!a.err);
	CHECK_EQ(a.len, 14);
	CHECK_BYTES(buf, 0x10, 13, '\\', '_', 'S', 'B', '_',
		    0x5b, 0x82, 5, 'D', 'E', 'V', '_');
}

static void test_eisaid(void)
{
	CHECK_EQ(aml_eisaid("PNP0A08"), 0x080ad041);
	CHECK_EQ(aml_eisaid("PNP0A03"), 0x030ad041);
	CHECK_EQ(aml_eisaid("PNP0501"), 0x0105d041);
	CHECK_EQ(aml_eisaid("PNP0B00"), 0x000bd041);
	CHECK_EQ(aml_eisaid("PNP0C02"), 0x020cd041);
	CHECK_EQ(aml_eisaid("pnp0a08"), 0);
	CHECK_EQ(aml_eisaid("PNP0A0"), 0);
	CHECK_EQ(aml_eisaid("PNP0A0G"), 0);
}

static void test_restemplate(void)
{
	uint8_t buf[128];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_restemplate_open(&a);
	aml_res_io(&a, 0x3f8, 8);
	aml_res_irq(&a, 4);
	aml_restemplate_close(&a);
	CHECK(!a.err);
	CHECK_EQ(a.len, 17);
	CHECK_BYTES(buf, 0x11, 0x10, 0x0a, 0x0d,
		    0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,
		    0x22, 0x10, 0x00, 0x79, 0x00);

	aml_init(&a, buf, sizeof(buf));
	aml_res_addr(&a, 2, AML_RES_IO, AML_IO_ENTIRE_RANGE, 0xd00, 0xffff);
	aml_res_mem32_fixed(&a, 0xe0000000, 0x10000000);
	CHECK(!a.err);
	CHECK_EQ(a.len, 16 + 12);
	CHECK_BYTES(buf, 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0,
		    0x00, 0x0d, 0xff, 0xff, 0, 0, 0x00, 0xf3,
		    0x86, 0x09, 0x00, 0x01, 0, 0, 0, 0xe0, 0, 0, 0, 0x10);

	aml_init(&a, buf, sizeof(buf));
	aml_res_addr(&a, 8, AML_RES_MEM, AML_MEM_RW, 0x100000000, 0x1ffffffff);
	CHECK(!a.err);
	CHECK_EQ(a.len, 46);
	CHECK_BYTES(buf, 0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x01);
	CHECK_EQ(get64(buf + 6 + 8), 0x100000000);
	CHECK_EQ(get64(buf + 6 + 16), 0x1ffffffff);
	CHECK_EQ(get64(buf + 6 + 32), 0x100000000);
}

static void test_aml_errors(void)
{
	uint8_t buf[16];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_res_addr(&a, 2, AML_RES_IO, 0, 0, 0x10000);
	CHECK(a.err);
	aml_init(&a, buf, sizeof(buf));
	aml_res_addr(&a, 3, AML_RES_IO, 0, 0, 1);
	CHECK(a.err);
	aml_init(&a, buf, sizeof(buf));
	aml_res_addr(&a, 4, AML_RES_MEM, 0, 2, 1);
	CHECK(a.err);
	aml_init(&a, buf, sizeof(buf));
	aml_res_irq(&a, 16);
	CHECK(a.err);
	aml_init(&a, buf, sizeof(buf));
	aml_close(&a);
	CHECK(a.err);

	aml_init(&a, buf, sizeof(buf));
	for (int i = 0; i <= AML_MAX_DEPTH; i++)
		aml_buffer_open(&a);
	CHECK(a.err);

	/* Full buffer: also when only the inserted length does not fit. */
	aml_init(&a, buf, 3);
	aml_device_open(&a, "DEV");
	CHECK(a.err);
	CHECK(a.len <= 3);
	aml_init(&a, buf, 6);
	aml_package_open(&a, 1);
	aml_bytes(&a, "\x0a\x05\x0a\x05", 4);
	CHECK(!a.err);
	aml_close(&a);
	CHECK(a.err);
}

/* ---- Generated tables ---- */

struct image {
	const uint8_t *buf;
	size_t used;
	uint64_t base;
};

/* Checks the common header of the table at gpa; NULL if it is unusable. */
static const uint8_t *table_at(const struct image *img, uint64_t gpa, const char *sig)
{
	const uint8_t *t;
	uint64_t off;
	uint32_t len;

	if (gpa < img->base || gpa - img->base + 36 > img->used) {
		fprintf(stderr, "%s at 0x%" PRIx64 " outside the tables\n", sig, gpa);
		CHECK(false);
		return NULL;
	}
	off = gpa - img->base;
	t = img->buf + off;
	len = get32(t + 4);
	if (memcmp(t, sig, 4) || len < 36 || off + len > img->used) {
		fprintf(stderr, "bad %s at 0x%" PRIx64 "\n", sig, gpa);
		CHECK(false);
		return NULL;
	}
	CHECK_EQ(sum8(t, len), 0);
	CHECK(!memcmp(t + 10, "VMSILO", 6));
	CHECK(!memcmp(t + 16, "VMSILOVM", 8));
	CHECK_EQ(get32(t + 24), 1);
	CHECK(!memcmp(t + 28, "VMSL", 4));
	CHECK_EQ(get32(t + 32), 1);
	return t;
}

static void check_gas_io(const uint8_t *g, unsigned bits, uint64_t port)
{
	CHECK_EQ(g[0], 1);
	CHECK_EQ(g[1], bits);
	CHECK_EQ(g[2], 0);
	CHECK_EQ(get64(g + 4), port);
}

static void check_fadt(const struct image *img, const uint8_t *t)
{
	uint64_t facs32 = get32(t + 36), xfacs = get64(t + 132), facs_gpa;
	const uint8_t *facs;

	CHECK_EQ(get32(t + 4), 276);
	CHECK_EQ(t[8], 6);
	CHECK_EQ(t[131], 4);			/* minor version */
	/* Exactly one of FIRMWARE_CTRL / X_FIRMWARE_CTRL may be used. */
	CHECK(!facs32 != !xfacs);
	CHECK_EQ(!!xfacs, img->base >= LAYOUT_4G);
	facs_gpa = facs32 ? facs32 : xfacs;
	CHECK_EQ(facs_gpa % 64, 0);
	CHECK(facs_gpa >= img->base && facs_gpa + 64 - img->base <= img->used);
	facs = img->buf + (facs_gpa - img->base);
	CHECK(!memcmp(facs, "FACS", 4));
	CHECK_EQ(get32(facs + 4), 64);

	if (img->base < LAYOUT_4G)
		CHECK_EQ(get32(t + 40), get64(t + 140));
	else
		CHECK_EQ(get32(t + 40), 0);
	CHECK_EQ(t[45], 0);			/* preferred PM profile */
	CHECK_EQ(get16(t + 46), LAYOUT_SCI_IRQ);
	CHECK_EQ(get32(t + 48), 0);		/* SMI_CMD */
	CHECK_EQ(get32(t + 56), LAYOUT_PM1A_EVT_PORT);
	CHECK_EQ(get32(t + 60), 0);
	CHECK_EQ(get32(t + 64), LAYOUT_PM1A_CNT_PORT);
	for (int off = 68; off < 88; off += 4)
		CHECK_EQ(get32(t + off), 0);	/* PM1b, PM2, PM_TMR, GPE0/1 */
	CHECK_BYTES(t + 88, 4, 2, 0, 0, 0, 0);
	CHECK_EQ(get16(t + 109), 0x14);		/* VGA not present, ASPM */
	CHECK_EQ(get32(t + 112), 0x425);	/* WBINVD C1 SLP_BUTTON RESET */
	check_gas_io(t + 116, 8, LAYOUT_RESET_PORT);
	CHECK_EQ(t[128], LAYOUT_RESET_VALUE);
	check_gas_io(t + 148, 32, LAYOUT_PM1A_EVT_PORT);
	check_gas_io(t + 172, 16, LAYOUT_PM1A_CNT_PORT);
	for (int off = 160; off < 276; off++)
		if (off < 172 || off >= 184)
			CHECK_EQ(t[off], 0);
}

static void check_madt(const uint8_t *t, unsigned nr_cpus)
{
	uint32_t len = get32(t + 4), off;
	unsigned lapics = 0, ioapics = 0, nmis = 0, isos = 0;

	CHECK_EQ(get32(t + 36), LAYOUT_LAPIC_BASE);
	CHECK_EQ(get32(t + 40), 1);
	for (off = 44; off + 2 <= len && t[off + 1] >= 2; off += t[off + 1]) {
		const uint8_t *e = t + off;

		switch (e[0]) {
		case 0:
			CHECK_EQ(e[1], 8);
			CHECK_EQ(e[2], lapics);
			CHECK_EQ(e[3], lapics);
			CHECK_EQ(get32(e + 4), 1);
			lapics++;
			break;
		case 1:
			CHECK_EQ(e[1], 12);
			CHECK_EQ(e[2], 0);
			CHECK_EQ(get32(e + 4), LAYOUT_IOAPIC_BASE);
			CHECK_EQ(get32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			CHECK_EQ(e[1], 10);
			CHECK_EQ(e[2], 0);
			CHECK_EQ(e[3], LAYOUT_SCI_IRQ);
			CHECK_EQ(get32(e + 4), LAYOUT_SCI_IRQ);
			CHECK_EQ(get16(e + 8), 0x000d);
			isos++;
			break;
		case 4:
			CHECK_EQ(e[1], 6);
			CHECK_EQ(e[2], 0xff);
			CHECK_EQ(get16(e + 3), 0);
			CHECK_EQ(e[5], 1);
			nmis++;
			break;
		default:
			CHECK(!"unexpected MADT entry");
		}
	}
	CHECK_EQ(off, len);
	CHECK_EQ(lapics, nr_cpus);
	CHECK_EQ(ioapics, 1);
	CHECK_EQ(isos, 1);
	CHECK_EQ(nmis, 1);
}

static void check_mcfg(const uint8_t *t)
{
	CHECK_EQ(get32(t + 4), 60);
	CHECK_EQ(get64(t + 44), LAYOUT_ECAM_BASE);
	CHECK_EQ(get16(t + 52), 0);
	CHECK_EQ(t[54], 0);
	CHECK_EQ(t[55], LAYOUT_ECAM_LAST_BUS);
}

/* ---- A small AML walker for what the DSDT contains ---- */

struct addr_desc {
	uint8_t tag, type;
	uint64_t min, max;
};

struct walk {
	unsigned tags[256];		/* resource descriptors by tag byte */
	struct addr_desc addr[8];
	unsigned nr_addr, devices, names;
};

static const uint8_t *walk_namestring(const uint8_t *p, const uint8_t *end)
{
	unsigned nsegs = 1;

	if (p < end && *p == '\\')
		p++;
	if (p >= end)
		return NULL;
	if (*p == 0x00)
		return p + 1;
	if (*p == 0x2e) {
		nsegs = 2;
		p++;
	} else if (*p == 0x2f) {
		if (p + 1 >= end)
			return NULL;
		nsegs = p[1];
		p += 2;
	}
	return p + 4 * nsegs <= end ? p + 4 * nsegs : NULL;
}

/* Reads a PkgLength at p; the object ends at *obj_end. */
static const uint8_t *walk_pkg(const uint8_t *p, const uint8_t *end,
			       const uint8_t **obj_end)
{
	size_t n;
	uint32_t len;

	if (p >= end)
		return NULL;
	len = pkglen_decode(p, &n);
	if (n > (size_t)(end - p) || len > (size_t)(end - p) || len < n)
		return NULL;
	*obj_end = p + len;
	return p + n;
}

static const uint8_t *walk_int(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	static const unsigned sizes[] = { [0x0a] = 1, [0x0b] = 2, [0x0c] = 4, [0x0e] = 8 };
	unsigned n;

	if (p >= end)
		return NULL;
	if (*p <= 1) {
		*v = *p;
		return p + 1;
	}
	if (*p > 0x0e || !sizes[*p] || sizes[*p] >= (size_t)(end - p))
		return NULL;
	n = sizes[*p];
	*v = 0;
	for (unsigned i = 0; i < n; i++)
		*v |= (uint64_t)p[1 + i] << (8 * i);
	return p + 1 + n;
}

static bool walk_resources(const uint8_t *p, const uint8_t *end, struct walk *w)
{
	static const uint8_t known[] = { 0x22, 0x47, 0x79, 0x86, 0x87, 0x88, 0x8a };

	while (p < end) {
		size_t size = *p & 0x80 ? 3 + (size_t)get16(p + 1) : 1 + (size_t)(*p & 7);

		if (size > (size_t)(end - p) || !memchr(known, *p, sizeof(known)))
			return false;
		w->tags[*p]++;
		if ((*p == 0x88 || *p == 0x87 || *p == 0x8a) && w->nr_addr < 8) {
			unsigned width = *p == 0x88 ? 2 : *p == 0x87 ? 4 : 8;
			struct addr_desc *d = &w->addr[w->nr_addr++];
			uint64_t max, len;

			d->tag = *p;
			d->type = p[3];
			d->min = width == 2 ? get16(p + 6 + 2) : width == 4 ?
				 get32(p + 6 + 4) : get64(p + 6 + 8);
			max = width == 2 ? get16(p + 6 + 4) : width == 4 ?
			      get32(p + 6 + 8) : get64(p + 6 + 16);
			len = width == 2 ? get16(p + 6 + 8) : width == 4 ?
			      get32(p + 6 + 16) : get64(p + 6 + 32);
			d->max = max;
			CHECK_EQ(size, 6 + 5 * width);
			CHECK_EQ(p[4], 0x0c);	/* producer, fixed window */
			CHECK_EQ(len, max - d->min + 1);
		}
		if (*p == 0x79)
			return p + size == end;
		p += size;
	}
	return false;
}

static const uint8_t *walk_data(const uint8_t *p, const uint8_t *end, struct walk *w);

static const uint8_t *walk_package(const uint8_t *p, const uint8_t *end, struct walk *w)
{
	const uint8_t *obj_end;
	unsigned count = 0, nr;

	p = walk_pkg(p, end, &obj_end);
	if (!p || p >= obj_end)
		return NULL;
	nr = *p++;
	while (p && p < obj_end) {
		p = walk_data(p, obj_end, w);
		count++;
	}
	return p == obj_end && count == nr ? p : NULL;
}

static const uint8_t *walk_buffer(const uint8_t *p, const uint8_t *end, struct walk *w)
{
	const uint8_t *obj_end;
	uint64_t size = 0;

	p = walk_pkg(p, end, &obj_end);
	if (p)
		p = walk_int(p, obj_end, &size);
	if (!p || size != (uint64_t)(obj_end - p))
		return NULL;
	/* Every buffer in our DSDT is a ResourceTemplate. */
	return walk_resources(p, obj_end, w) ? obj_end : NULL;
}

static const uint8_t *walk_data(const uint8_t *p, const uint8_t *end, struct walk *w)
{
	uint64_t v;

	if (p >= end)
		return NULL;
	switch (*p) {
	case 0x0d:
		p = memchr(p, 0, (size_t)(end - p));
		return p ? p + 1 : NULL;
	case 0x11:
		return walk_buffer(p + 1, end, w);
	case 0x12:
		return walk_package(p + 1, end, w);
	default:
		return walk_int(p, end, &v);
	}
}

/* Walks a TermList; true if every object ends exactly at end. */
static bool walk_terms(const uint8_t *p, const uint8_t *end, struct walk *w)
{
	const uint8_t *obj_end;

	while (p && p < end) {
		if (*p == 0x08) {
			p = walk_namestring(p + 1, end);
			p = p ? walk_data(p, end, w) : NULL;
			w->names++;
			continue;
		}
		if (*p == 0x10) {
			p++;
		} else if (*p == 0x5b && p + 1 < end && p[1] == 0x82) {
			p += 2;
			w->devices++;
		} else {
			return false;
		}
		p = walk_pkg(p, end, &obj_end);
		p = p ? walk_namestring(p, obj_end) : NULL;
		if (!p || !walk_terms(p, obj_end, w))
			return false;
		p = obj_end;
	}
	return p == end;
}

static bool has_bytes(const uint8_t *t, size_t len, const void *s, size_t n)
{
	return memmem(t, len, s, n) != NULL;
}

static void check_dsdt(const uint8_t *t, const struct acpi_config *cfg)
{
	uint32_t len = get32(t + 4);
	struct walk w;
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
				      0x0a, 5, 0x0a, 5, 0x00, 0x00 };

	CHECK_EQ(t[8], 2);
	memset(&w, 0, sizeof(w));
	CHECK(walk_terms(t + 36, t + len, &w));
	CHECK_EQ(w.devices, 4);
	CHECK_EQ(w.names, 1 + 6 + 3 + 3 + 2);
	CHECK_EQ(w.tags[0x79], 4);		/* four _CRS */
	CHECK_EQ(w.tags[0x47], 3);		/* 0xcf8, COM1, RTC */
	CHECK_EQ(w.tags[0x22], 2);
	CHECK_EQ(w.tags[0x86], 1);
	CHECK_EQ(w.tags[0x88], 3);
	CHECK_EQ(w.tags[0x87], 1);
	CHECK_EQ(w.tags[0x8a], cfg->mmio64_size ? 1 : 0);
	CHECK_EQ(w.nr_addr, cfg->mmio64_size ? 5 : 4);
	if (w.nr_addr >= 4) {
		CHECK(w.addr[0].type == 2 && w.addr[0].min == 0 &&
		      w.addr[0].max == LAYOUT_ECAM_LAST_BUS);
		CHECK(w.addr[1].type == 1 && w.addr[1].min == 0 && w.addr[1].max == 0xcf7);
		CHECK(w.addr[2].type == 1 && w.addr[2].min == 0xd00 && w.addr[2].max == 0xffff);
		CHECK(w.addr[3].type == 0 && w.addr[3].min == LAYOUT_MMIO32_BASE &&
		      w.addr[3].max == LAYOUT_MMIO32_BASE + LAYOUT_MMIO32_SIZE - 1);
	}
	if (w.nr_addr == 5)
		CHECK(w.addr[4].tag == 0x8a && w.addr[4].min == cfg->mmio64_base &&
		      w.addr[4].max == cfg->mmio64_base + cfg->mmio64_size - 1);

	CHECK(has_bytes(t, len, s5, sizeof(s5)));
	CHECK(has_bytes(t, len, "\\_SB_", 5));
	CHECK(has_bytes(t, len, "PCI0", 4));
	CHECK(has_bytes(t, len, "MBRD", 4));
	CHECK(has_bytes(t, len, "COM1", 4));
	CHECK(has_bytes(t, len, "RTC_", 4));
	CHECK(has_bytes(t, len, "\x08_HID\x0c\x41\xd0\x0a\x08", 10));	/* PNP0A08 */
	CHECK(has_bytes(t, len, "\x08_CID\x0c\x41\xd0\x0a\x03", 10));	/* PNP0A03 */
	CHECK(has_bytes(t, len, "\x08_HID\x0c\x41\xd0\x0c\x02", 10));	/* PNP0C02 */
	CHECK(has_bytes(t, len, "\x08_HID\x0c\x41\xd0\x05\x01", 10));	/* PNP0501 */
	CHECK(has_bytes(t, len, "\x08_HID\x0c\x41\xd0\x0b\x00", 10));	/* PNP0B00 */
	/* Memory32Fixed over the ECAM window. */
	uint8_t ecam[12] = { 0x86, 0x09, 0x00, 0x01 };

	put_le32(ecam + 4, LAYOUT_ECAM_BASE);
	put_le32(ecam + 8, LAYOUT_ECAM_SIZE);
	CHECK(has_bytes(t, len, ecam, 12));
	CHECK(has_bytes(t, len, "\x47\x01\xf8\x03\xf8\x03\x01\x08\x22\x10\x00", 11));
	CHECK(has_bytes(t, len, "\x47\x01\x70\x00\x70\x00\x01\x02\x22\x00\x01", 11));
}

static void check_image(const struct image *img, const struct acpi_config *cfg)
{
	static const char *const sigs[] = { "FACP", "APIC", "MCFG" };
	const uint8_t *rsdp = img->buf, *xsdt, *rsdt = NULL, *t[3];

	CHECK(!memcmp(rsdp, "RSD PTR ", 8));
	CHECK_EQ(sum8(rsdp, 20), 0);
	CHECK_EQ(sum8(rsdp, 36), 0);
	CHECK(!memcmp(rsdp + 9, "VMSILO", 6));
	CHECK_EQ(rsdp[15], 2);
	CHECK_EQ(get32(rsdp + 20), 36);
	xsdt = table_at(img, get64(rsdp + 24), "XSDT");
	if (!xsdt)
		return;
	CHECK_EQ(get32(xsdt + 4), 36 + 3 * 8);
	if (img->base < LAYOUT_4G) {
		rsdt = table_at(img, get32(rsdp + 16), "RSDT");
		if (rsdt)
			CHECK_EQ(get32(rsdt + 4), 36 + 3 * 4);
	} else {
		CHECK_EQ(get32(rsdp + 16), 0);
	}
	for (int i = 0; i < 3; i++) {
		uint64_t gpa = get64(xsdt + 36 + 8 * i);

		if (rsdt)
			CHECK_EQ(get32(rsdt + 36 + 4 * i), gpa);
		t[i] = table_at(img, gpa, sigs[i]);
		if (!t[i])
			return;
	}
	check_fadt(img, t[0]);
	check_madt(t[1], cfg->nr_cpus);
	check_mcfg(t[2]);
	t[0] = table_at(img, get64(t[0] + 140), "DSDT");
	if (t[0])
		check_dsdt(t[0], cfg);
}

static void test_build(unsigned nr_cpus, uint64_t base, uint64_t mmio64_size)
{
	struct acpi_config cfg = {
		.nr_cpus = nr_cpus,
		.mmio64_base = 0x4000000000,
		.mmio64_size = mmio64_size,
	};
	uint8_t *buf = malloc(AREA_SIZE), *dirty = malloc(AREA_SIZE);
	struct image img = { .buf = buf, .base = base };
	size_t used;

	memset(buf, 0, AREA_SIZE);
	img.used = acpi_build(buf, AREA_SIZE, base, &cfg);
	CHECK(img.used > 0);
	if (img.used)
		check_image(&img, &cfg);

	/* Padding is written too: old buffer contents do not leak through. */
	memset(dirty, 0xa5, AREA_SIZE);
	used = acpi_build(dirty, AREA_SIZE, base, &cfg);
	CHECK_EQ(used, img.used);
	CHECK(!memcmp(buf, dirty, used));
	free(dirty);
	free(buf);
}

static void test_too_small(void)
{
	struct acpi_config cfg = { .nr_cpus = 4, .mmio64_base = 0x4000000000,
				   .mmio64_size = LAYOUT_MMIO64_SIZE };
	uint8_t *big = malloc(AREA_SIZE);
	size_t used = acpi_build(big, AREA_SIZE, LAYOUT_ACPI_START, &cfg);
	size_t fails = 0;

	CHECK(used > 0);
	CHECK_EQ(acpi_build(big, used, LAYOUT_ACPI_START, &cfg), used);
	/* Exact-size heap buffers so the sanitizer catches any overrun. */
	for (size_t size = 0; size < used; size++) {
		uint8_t *buf = malloc(size ? size : 1);

		fails += acpi_build(buf, size, LAYOUT_ACPI_START, &cfg) != 0;
		free(buf);
	}
	CHECK_EQ(fails, 0);
	free(big);
}

static void test_bad_config(void)
{
	static uint8_t buf[AREA_SIZE];
	struct acpi_config cfg = { .nr_cpus = 0 };

	CHECK_EQ(acpi_build(buf, sizeof(buf), LAYOUT_ACPI_START, &cfg), 0);
	cfg.nr_cpus = 256;
	CHECK_EQ(acpi_build(buf, sizeof(buf), LAYOUT_ACPI_START, &cfg), 0);
	cfg.nr_cpus = 1;
	CHECK_EQ(acpi_build(buf, sizeof(buf), LAYOUT_ACPI_START + 8, &cfg), 0);
	cfg.mmio64_base = ~0ull - 0xfff;
	cfg.mmio64_size = 0x2000;		/* wraps around */
	CHECK_EQ(acpi_build(buf, sizeof(buf), LAYOUT_ACPI_START, &cfg), 0);
}

int main(void)
{
	static const unsigned cpus[] = { 1, 2, 4, 64, 255 };

	test_pkglen_encode();
	test_pkg_close();
	test_int_encode();
	test_names();
	test_objects();
	test_eisaid();
	test_restemplate();
	test_aml_errors();
	for (size_t i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++) {
		test_build(cpus[i], LAYOUT_ACPI_START, LAYOUT_MMIO64_SIZE);
		test_build(cpus[i], LAYOUT_ACPI_START, 0);
	}
	test_build(8, LAYOUT_4G + 0x10000, LAYOUT_MMIO64_SIZE);
	test_too_small();
	test_bad_config();
	return check_report("test_acpi");
}
