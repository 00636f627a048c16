/*
 * The Wayland wire format, both ways, without libwayland: a message is a
 * header (object id, then (size << 16) | opcode, host-endian) and 32-bit
 * aligned arguments. int/uint/fixed/object/new_id are 4 bytes; a string
 * is its length including the NUL, then the bytes padded to 4 (length 0:
 * a null string); an array is its length, then the bytes padded to 4.
 * fd arguments are not in the byte stream (they travel beside it).
 */
#ifndef VMSILO_WL_WIRE_H
#define VMSILO_WL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WL_HEADER_SIZE	8
#define WL_MAX_MESSAGE	4096	/* libwayland's limit for one message */

/* Building one request. Any argument that does not fit sets overflow. */
struct wl_out {
	uint8_t *buf;
	size_t cap, len;
	bool overflow;
};

void wl_out_begin(struct wl_out *m, void *buf, size_t cap, uint32_t object, uint16_t opcode);
void wl_out_u32(struct wl_out *m, uint32_t v);
void wl_out_i32(struct wl_out *m, int32_t v);
void wl_out_fixed(struct wl_out *m, double v);
void wl_out_string(struct wl_out *m, const char *s);	/* NULL: a null string */
void wl_out_array(struct wl_out *m, const void *data, uint32_t len);
/* The message's size, written into its header; 0 if it overflowed. */
size_t wl_out_end(struct wl_out *m);

#define wl_out_object	wl_out_u32
#define wl_out_new_id	wl_out_u32

struct wl_hdr {
	uint32_t object;
	uint16_t opcode;
	uint16_t size;
};

/*
 * The header of the message at buf: 1 when all of its size bytes are in
 * len, 0 when more bytes are needed, -1 when it cannot be a message (size
 * below the header, not a multiple of 4, above WL_MAX_MESSAGE).
 */
int wl_in_header(const void *buf, size_t len, struct wl_hdr *h);

/* Reading one message's arguments. A short or malformed one sets bad. */
struct wl_args {
	const uint8_t *p;
	size_t left;
	bool bad;
};

void wl_args_init(struct wl_args *a, const void *msg, size_t size);
uint32_t wl_arg_u32(struct wl_args *a);
int32_t wl_arg_i32(struct wl_args *a);
double wl_arg_fixed(struct wl_args *a);
/* NULL for a null string (bad unchanged) or a malformed one (bad set). */
const char *wl_arg_string(struct wl_args *a);
const void *wl_arg_array(struct wl_args *a, uint32_t *len);

#define wl_arg_object	wl_arg_u32
#define wl_arg_new_id	wl_arg_u32

#endif
