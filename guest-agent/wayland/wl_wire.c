/* The Wayland wire format: see wl_wire.h. */
#include <string.h>

#include "guest-agent/wayland/wl_wire.h"

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static void put(struct wl_out *m, const void *data, size_t len, size_t padded)
{
	if (m->overflow || padded > m->cap - m->len || m->len + padded > WL_MAX_MESSAGE) {
		m->overflow = true;
		return;
	}
	memcpy(m->buf + m->len, data, len);
	memset(m->buf + m->len + len, 0, padded - len);
	m->len += padded;
}

void wl_out_begin(struct wl_out *m, void *buf, size_t cap, uint32_t object, uint16_t opcode)
{
	uint32_t word = opcode;

	m->buf = buf;
	m->cap = cap;
	m->len = 0;
	m->overflow = false;
	wl_out_u32(m, object);
	wl_out_u32(m, word);
}

void wl_out_u32(struct wl_out *m, uint32_t v)
{
	put(m, &v, 4, 4);
}

void wl_out_i32(struct wl_out *m, int32_t v)
{
	put(m, &v, 4, 4);
}

void wl_out_fixed(struct wl_out *m, double v)
{
	wl_out_i32(m, (int32_t)(v * 256.0 + (v < 0 ? -0.5 : 0.5)));
}

void wl_out_string(struct wl_out *m, const char *s)
{
	size_t len;

	if (!s) {
		wl_out_u32(m, 0);
		return;
	}
	len = strlen(s) + 1;
	if (len > WL_MAX_MESSAGE) {
		m->overflow = true;
		return;
	}
	wl_out_u32(m, (uint32_t)len);
	put(m, s, len, pad4(len));
}

void wl_out_array(struct wl_out *m, const void *data, uint32_t len)
{
	if (len > WL_MAX_MESSAGE) {
		m->overflow = true;
		return;
	}
	wl_out_u32(m, len);
	put(m, data, len, pad4(len));
}

size_t wl_out_end(struct wl_out *m)
{
	uint32_t word;

	if (m->overflow || m->len < WL_HEADER_SIZE)
		return 0;
	memcpy(&word, m->buf + 4, 4);
	word = (uint32_t)m->len << 16 | (word & 0xffff);
	memcpy(m->buf + 4, &word, 4);
	return m->len;
}

int wl_in_header(const void *buf, size_t len, struct wl_hdr *h)
{
	uint32_t word;

	if (len < WL_HEADER_SIZE)
		return 0;
	memcpy(&h->object, buf, 4);
	memcpy(&word, (const uint8_t *)buf + 4, 4);
	h->opcode = word & 0xffff;
	h->size = word >> 16;
	if (h->size < WL_HEADER_SIZE || h->size % 4 || h->size > WL_MAX_MESSAGE)
		return -1;
	return len >= h->size;
}

void wl_args_init(struct wl_args *a, const void *msg, size_t size)
{
	a->p = (const uint8_t *)msg + WL_HEADER_SIZE;
	a->left = size >= WL_HEADER_SIZE ? size - WL_HEADER_SIZE : 0;
	a->bad = size < WL_HEADER_SIZE;
}

/* The next n bytes (n a multiple of 4), or NULL with bad set. */
static const uint8_t *take(struct wl_args *a, size_t n)
{
	const uint8_t *p = a->p;

	if (a->bad || n > a->left) {
		a->bad = true;
		return NULL;
	}
	a->p += n;
	a->left -= n;
	return p;
}

uint32_t wl_arg_u32(struct wl_args *a)
{
	const uint8_t *p = take(a, 4);
	uint32_t v = 0;

	if (p)
		memcpy(&v, p, 4);
	return v;
}

int32_t wl_arg_i32(struct wl_args *a)
{
	return (int32_t)wl_arg_u32(a);
}

double wl_arg_fixed(struct wl_args *a)
{
	return wl_arg_i32(a) / 256.0;
}

const char *wl_arg_string(struct wl_args *a)
{
	uint32_t len = wl_arg_u32(a);
	const char *s;

	if (a->bad || len == 0)
		return NULL;
	s = (const char *)take(a, pad4(len));
	if (!s)
		return NULL;
	if (s[len - 1] != '\0' || memchr(s, '\0', len - 1)) {
		a->bad = true;
		return NULL;
	}
	return s;
}

const void *wl_arg_array(struct wl_args *a, uint32_t *len)
{
	const uint8_t *p;

	*len = wl_arg_u32(a);
	if (a->bad)
		return NULL;
	p = take(a, pad4(*len));
	if (!p)
		*len = 0;
	return p;
}
