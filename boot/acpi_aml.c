#include "boot/acpi_aml.h"

#include <string.h>

#define AML_ZERO_OP		0x00
#define AML_NAME_OP		0x08
#define AML_BYTE_PREFIX		0x0a
#define AML_WORD_PREFIX		0x0b
#define AML_DWORD_PREFIX	0x0c
#define AML_STRING_PREFIX	0x0d
#define AML_QWORD_PREFIX	0x0e
#define AML_SCOPE_OP		0x10
#define AML_BUFFER_OP		0x11
#define AML_PACKAGE_OP		0x12
#define AML_DUAL_NAME_PREFIX	0x2e
#define AML_MULTI_NAME_PREFIX	0x2f
#define AML_EXT_OP_PREFIX	0x5b
#define AML_ROOT_CHAR		0x5c
#define AML_DEVICE_OP		0x82	/* after AML_EXT_OP_PREFIX */

void aml_init(struct aml *a, void *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = cap;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->err)
		return;
	if (n > a->cap - a->len) {
		a->err = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

/* Inserts n bytes at pos, moving everything after pos up. */
static void aml_insert(struct aml *a, size_t pos, const uint8_t *p, size_t n)
{
	if (a->err)
		return;
	if (n > a->cap - a->len) {
		a->err = true;
		return;
	}
	memmove(a->buf + pos + n, a->buf + pos, a->len - pos);
	memcpy(a->buf + pos, p, n);
	a->len += n;
}

size_t aml_pkglen_encode(uint8_t out[4], uint32_t len)
{
	size_t n;

	if (len <= 0x3f) {
		out[0] = (uint8_t)len;
		return 1;
	}
	if (len > AML_PKGLEN_MAX)
		return 0;
	n = len <= 0xfff ? 2 : len <= 0xfffff ? 3 : 4;
	/* Lead byte: count of following bytes in bits 7-6, low nibble in 3-0. */
	out[0] = (uint8_t)((n - 1) << 6 | (len & 0xf));
	for (size_t i = 1; i < n; i++)
		out[i] = (uint8_t)(len >> (4 + 8 * (i - 1)));
	return n;
}

size_t aml_int_encode(uint8_t out[9], uint64_t v)
{
	unsigned n;

	if (v <= 1) {
		out[0] = (uint8_t)v;	/* ZeroOp, OneOp */
		return 1;
	}
	if (v <= 0xff) {
		out[0] = AML_BYTE_PREFIX;
		n = 1;
	} else if (v <= 0xffff) {
		out[0] = AML_WORD_PREFIX;
		n = 2;
	} else if (v <= 0xffffffff) {
		out[0] = AML_DWORD_PREFIX;
		n = 4;
	} else {
		out[0] = AML_QWORD_PREFIX;
		n = 8;
	}
	for (unsigned i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return 1 + n;
}

static void aml_pkg_open(struct aml *a)
{
	if (a->err)
		return;
	if (a->depth == AML_MAX_DEPTH) {
		a->err = true;
		return;
	}
	a->open[a->depth++] = a->len;
}

void aml_close(struct aml *a)
{
	uint8_t enc[4];
	size_t pos, body, n = 1, m;

	if (a->err || !a->depth) {
		a->err = true;
		return;
	}
	pos = a->open[--a->depth];
	body = a->len - pos;
	/* The length counts its own bytes, which may push it to a longer form. */
	for (;;) {
		if (body + n > AML_PKGLEN_MAX) {
			a->err = true;
			return;
		}
		m = aml_pkglen_encode(enc, (uint32_t)(body + n));
		if (m == n)
			break;
		n = m;
	}
	aml_insert(a, pos, enc, n);
}

void aml_namestring(struct aml *a, const char *name)
{
	size_t nsegs = 0;

	if (*name == '\\') {
		aml_byte(a, AML_ROOT_CHAR);
		name++;
	}
	if (*name)
		nsegs = 1;
	for (const char *p = name; *p; p++)
		nsegs += *p == '.';
	if (nsegs == 0)
		aml_byte(a, AML_ZERO_OP);	/* NullName */
	else if (nsegs == 2)
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	else if (nsegs > 2 && nsegs <= 255)
		aml_bytes(a, (uint8_t[]){ AML_MULTI_NAME_PREFIX, (uint8_t)nsegs }, 2);
	else if (nsegs > 255)
		a->err = true;
	while (nsegs--) {
		size_t len = strcspn(name, ".");
		uint8_t seg[4];

		if (len == 0 || len > 4) {
			a->err = true;
			return;
		}
		memset(seg, '_', sizeof(seg));
		memcpy(seg, name, len);
		aml_bytes(a, seg, sizeof(seg));
		name += len + (name[len] == '.');
	}
}

void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t enc[9];

	aml_bytes(a, enc, aml_int_encode(enc, v));
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, name);
}

void aml_name_int(struct aml *a, const char *name, uint64_t v)
{
	aml_name(a, name);
	aml_integer(a, v);
}

void aml_scope_open(struct aml *a, const char *name)
{
	aml_byte(a, AML_SCOPE_OP);
	aml_pkg_open(a);
	aml_namestring(a, name);
}

void aml_device_open(struct aml *a, const char *name)
{
	aml_bytes(a, (uint8_t[]){ AML_EXT_OP_PREFIX, AML_DEVICE_OP }, 2);
	aml_pkg_open(a);
	aml_namestring(a, name);
}

void aml_package_open(struct aml *a, uint8_t nr_elements)
{
	aml_byte(a, AML_PACKAGE_OP);
	aml_pkg_open(a);
	aml_byte(a, nr_elements);
}

void aml_buffer_open(struct aml *a)
{
	aml_byte(a, AML_BUFFER_OP);
	aml_pkg_open(a);
}

void aml_buffer_close(struct aml *a)
{
	uint8_t enc[9];
	size_t pos;

	if (a->err || !a->depth) {
		a->err = true;
		return;
	}
	pos = a->open[a->depth - 1];
	aml_insert(a, pos, enc, aml_int_encode(enc, a->len - pos));
	aml_close(a);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

uint32_t aml_eisaid(const char *id)
{
	uint32_t v = 0;
	int i;

	if (strlen(id) != 7)
		return 0;
	for (i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return 0;
		v = v << 5 | (uint32_t)(id[i] - 0x40);
	}
	for (; i < 7; i++) {
		if (hex_digit(id[i]) < 0)
			return 0;
		v = v << 4 | (uint32_t)hex_digit(id[i]);
	}
	/* The compressed id is stored big-endian in the integer's bytes. */
	return __builtin_bswap32(v);
}

void aml_restemplate_open(struct aml *a)
{
	aml_buffer_open(a);
}

void aml_restemplate_close(struct aml *a)
{
	/* End tag; checksum 0 means "treat as valid". */
	aml_bytes(a, (uint8_t[]){ 0x79, 0x00 }, 2);
	aml_buffer_close(a);
}

void aml_res_io(struct aml *a, uint16_t port, uint8_t len)
{
	aml_bytes(a, (uint8_t[]){ 0x47, 0x01 }, 2);	/* Decode16 */
	aml_le(a, port, 2);
	aml_le(a, port, 2);
	aml_byte(a, 1);		/* alignment */
	aml_byte(a, len);
}

void aml_res_irq(struct aml *a, unsigned irq)
{
	if (irq > 15) {
		a->err = true;
		return;
	}
	aml_byte(a, 0x22);
	aml_le(a, 1u << irq, 2);
}

void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len)
{
	aml_bytes(a, (uint8_t[]){ 0x86, 0x09, 0x00, AML_MEM_RW }, 4);
	aml_le(a, base, 4);
	aml_le(a, len, 4);
}

void aml_res_addr(struct aml *a, unsigned width, uint8_t type,
		  uint8_t type_flags, uint64_t min, uint64_t max)
{
	uint8_t tag = width == 2 ? 0x88 : width == 4 ? 0x87 : 0x8a;

	if ((width != 2 && width != 4 && width != 8) || min > max ||
	    (width < 8 && max >> (8 * width))) {
		a->err = true;
		return;
	}
	aml_byte(a, tag);
	aml_le(a, 3 + 5 * width, 2);
	/* General flags 0x0c: producer, positive decode, min and max fixed. */
	aml_bytes(a, (uint8_t[]){ type, 0x0c, type_flags }, 3);
	aml_le(a, 0, width);			/* granularity */
	aml_le(a, min, width);
	aml_le(a, max, width);
	aml_le(a, 0, width);			/* translation */
	aml_le(a, max - min + 1, width);	/* length */
}
