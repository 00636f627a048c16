/*
 * A small AML encoder: appends AML bytes to a caller-provided buffer.
 * Objects with a PkgLength (Scope, Device, Package, Buffer) are opened and
 * closed; the length is inserted at close time in its smallest encoding.
 * Errors (buffer full, nesting too deep, bad arguments) set err and make
 * later calls no-ops, so callers check err once at the end.
 */
#ifndef VMSILO_ACPI_AML_H
#define VMSILO_ACPI_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 8
#define AML_PKGLEN_MAX 0xfffffffu	/* 28 bits */

struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	size_t open[AML_MAX_DEPTH];	/* body start of each open object */
	unsigned depth;
	bool err;
};

void aml_init(struct aml *a, void *buf, size_t cap);
void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_byte(struct aml *a, uint8_t b);
/* Writes the PkgLength encoding of len (which counts its own bytes) to out;
 * returns 1..4, or 0 if len > AML_PKGLEN_MAX. */
size_t aml_pkglen_encode(uint8_t out[4], uint32_t len);
/* Writes the smallest ComputationalData encoding of v; returns 1..9. */
size_t aml_int_encode(uint8_t out[9], uint64_t v);

/* "\\_SB", "_S5_", "RTC" (padded with '_'), "\\_SB.PCI0". */
void aml_namestring(struct aml *a, const char *name);
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* NameOp and the name; the caller appends the data object. */
void aml_name(struct aml *a, const char *name);
void aml_name_int(struct aml *a, const char *name, uint64_t v);

void aml_scope_open(struct aml *a, const char *name);
void aml_device_open(struct aml *a, const char *name);
void aml_package_open(struct aml *a, uint8_t nr_elements);
void aml_buffer_open(struct aml *a);
/* Closes the innermost Scope, Device or Package. */
void aml_close(struct aml *a);
/* Closes a Buffer: inserts its BufferSize before the bytes. */
void aml_buffer_close(struct aml *a);

/* The 32-bit integer EISAID("PNP0A08") compiles to; 0 if id is malformed. */
uint32_t aml_eisaid(const char *id);

/* ResourceTemplate: a Buffer of resource descriptors ending in an end tag. */
void aml_restemplate_open(struct aml *a);
void aml_restemplate_close(struct aml *a);
/* IO (Decode16, port, port, 1, len) */
void aml_res_io(struct aml *a, uint16_t port, uint8_t len);
/* IRQNoFlags () { irq } */
void aml_res_irq(struct aml *a, unsigned irq);
/* Memory32Fixed (ReadWrite, base, len) */
void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len);

#define AML_RES_MEM		0
#define AML_RES_IO		1
#define AML_RES_BUS		2
#define AML_MEM_RW		0x01	/* memory type-specific flags */
#define AML_MEM_CACHEABLE	0x02
#define AML_IO_ENTIRE_RANGE	0x03	/* I/O type-specific flags */

/*
 * Word/DWord/QWord address space descriptor (width 2, 4 or 8 bytes):
 * ResourceProducer, PosDecode, MinFixed, MaxFixed, granularity and
 * translation 0, covering [min, max].
 */
void aml_res_addr(struct aml *a, unsigned width, uint8_t type,
		  uint8_t type_flags, uint64_t min, uint64_t max);

#endif
