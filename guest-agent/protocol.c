/* Frame encoding and decoding for the guest agent protocol (protocol.h). */
#include "guest-agent/protocol.h"

#include <string.h>

#define EXEC_FIXED_SIZE 20

void agent_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void agent_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

uint16_t agent_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t agent_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int agent_frame_ready(const uint8_t *buf, size_t have, struct agent_header *h)
{
	if (have < AGENT_HEADER_SIZE)
		return 0;
	h->type = agent_get_u32(buf);
	h->length = agent_get_u32(buf + 4);
	if (h->length > AGENT_MAX_PAYLOAD)
		return -1;
	return have - AGENT_HEADER_SIZE >= h->length;
}

static size_t frame_size_ok(size_t cap, size_t len)
{
	if (len > AGENT_MAX_PAYLOAD || len + AGENT_HEADER_SIZE > cap)
		return 0;
	return len + AGENT_HEADER_SIZE;
}

size_t agent_encode(uint8_t *out, size_t cap, uint32_t type,
		    const void *payload, size_t len)
{
	size_t total = frame_size_ok(cap, len);

	if (!total)
		return 0;
	agent_put_u32(out, type);
	agent_put_u32(out + 4, (uint32_t)len);
	if (len)
		memmove(out + AGENT_HEADER_SIZE, payload, len);
	return total;
}

size_t agent_encode_u32(uint8_t *out, size_t cap, uint32_t type, uint32_t v)
{
	uint8_t p[4];

	agent_put_u32(p, v);
	return agent_encode(out, cap, type, p, sizeof(p));
}

size_t agent_encode_exit(uint8_t *out, size_t cap, const struct agent_exit *e)
{
	uint8_t p[8];

	agent_put_u32(p, e->kind);
	agent_put_u32(p + 4, e->value);
	return agent_encode(out, cap, AGENT_MSG_EXIT, p, sizeof(p));
}

size_t agent_encode_state(uint8_t *out, size_t cap, const struct agent_state *s)
{
	uint8_t p[8];

	agent_put_u32(p, s->running);
	agent_put_u32(p + 4, s->idle_seconds);
	return agent_encode(out, cap, AGENT_MSG_STATE, p, sizeof(p));
}

size_t agent_encode_winsize(uint8_t *out, size_t cap, uint16_t rows, uint16_t cols)
{
	uint8_t p[4];

	agent_put_u16(p, rows);
	agent_put_u16(p + 2, cols);
	return agent_encode(out, cap, AGENT_MSG_WINSIZE, p, sizeof(p));
}

/* Appends n strings with their NULs; returns the new offset or 0 if full. */
static size_t put_strings(uint8_t *out, size_t off, size_t end,
			  const char *const *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		size_t len = strlen(s[i]) + 1;

		if (len > end - off)
			return 0;
		memcpy(out + off, s[i], len);
		off += len;
	}
	return off;
}

size_t agent_encode_exec(uint8_t *out, size_t cap, const struct agent_exec *e)
{
	size_t end = cap < AGENT_MAX_FRAME ? cap : AGENT_MAX_FRAME;
	size_t off = AGENT_HEADER_SIZE + EXEC_FIXED_SIZE;
	const char *cwd = e->cwd ? e->cwd : "";

	if (end < off || e->argc == 0)
		return 0;
	off = put_strings(out, off, end, e->argv, e->argc);
	if (off)
		off = put_strings(out, off, end, e->envv, e->envc);
	if (off)
		off = put_strings(out, off, end, &cwd, 1);
	if (!off)
		return 0;
	agent_put_u32(out, AGENT_MSG_EXEC);
	agent_put_u32(out + 4, (uint32_t)(off - AGENT_HEADER_SIZE));
	uint8_t *p = out + AGENT_HEADER_SIZE;
	agent_put_u32(p, e->version);
	agent_put_u32(p + 4, e->flags);
	agent_put_u16(p + 8, e->rows);
	agent_put_u16(p + 10, e->cols);
	agent_put_u32(p + 12, e->argc);
	agent_put_u32(p + 16, e->envc);
	return off;
}

const char *agent_decode_u32(const uint8_t *p, uint32_t len, uint32_t *v)
{
	if (len != 4)
		return "payload must be 4 bytes";
	*v = agent_get_u32(p);
	return NULL;
}

const char *agent_decode_exit(const uint8_t *p, uint32_t len, struct agent_exit *e)
{
	if (len != 8)
		return "EXIT payload must be 8 bytes";
	e->kind = agent_get_u32(p);
	e->value = agent_get_u32(p + 4);
	if (e->kind != AGENT_EXIT_CODE && e->kind != AGENT_EXIT_SIGNAL)
		return "EXIT has an unknown kind";
	if (e->value > 255)
		return "EXIT value out of range";
	/* vm-run exits with 128 + N: signal 0 or 128+ would read as another status. */
	if (e->kind == AGENT_EXIT_SIGNAL && (e->value < 1 || e->value > 127))
		return "EXIT names no signal";
	return NULL;
}

const char *agent_decode_state(const uint8_t *p, uint32_t len, struct agent_state *s)
{
	if (len != 8)
		return "STATE payload must be 8 bytes";
	s->running = agent_get_u32(p);
	s->idle_seconds = agent_get_u32(p + 4);
	return NULL;
}

const char *agent_decode_winsize(const uint8_t *p, uint32_t len,
				 uint16_t *rows, uint16_t *cols)
{
	if (len != 4)
		return "WINSIZE payload must be 4 bytes";
	*rows = agent_get_u16(p);
	*cols = agent_get_u16(p + 2);
	return NULL;
}

/*
 * Skips n NUL-terminated strings starting at *off; each NUL must lie
 * before len. Counting with the remaining bytes keeps a huge n from
 * looping long: every string takes at least one byte.
 */
static int skip_strings(const uint8_t *p, uint32_t len, uint32_t *off, uint32_t n)
{
	if (n > len - *off)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *nul = memchr(p + *off, 0, len - *off);

		if (!nul)
			return -1;
		*off = (uint32_t)(nul - p) + 1;
	}
	return 0;
}

const char *agent_decode_exec(const uint8_t *p, uint32_t len,
			      struct agent_exec_view *v)
{
	uint32_t off = EXEC_FIXED_SIZE;

	if (len < EXEC_FIXED_SIZE)
		return "EXEC payload too short";
	v->version = agent_get_u32(p);
	v->flags = agent_get_u32(p + 4);
	v->rows = agent_get_u16(p + 8);
	v->cols = agent_get_u16(p + 10);
	v->argc = agent_get_u32(p + 12);
	v->envc = agent_get_u32(p + 16);
	if (v->version != AGENT_PROTOCOL_VERSION)
		return "unsupported protocol version";
	if (v->flags & ~AGENT_EXEC_KNOWN_FLAGS)
		return "EXEC has unknown flags";
	if (v->argc == 0)
		return "EXEC has an empty argv";
	v->args = (const char *)p + off;
	if (skip_strings(p, len, &off, v->argc))
		return "EXEC argv is truncated";
	v->envs = (const char *)p + off;
	if (skip_strings(p, len, &off, v->envc))
		return "EXEC environment is truncated";
	v->cwd = (const char *)p + off;
	if (skip_strings(p, len, &off, 1))
		return "EXEC working directory is missing";
	if (off != len)
		return "EXEC has trailing bytes";
	if (!v->args[0])
		return "EXEC has an empty command name";
	return NULL;
}

void agent_split_strings(const char *first, uint32_t n, const char **out)
{
	for (uint32_t i = 0; i < n; i++) {
		out[i] = first;
		first += strlen(first) + 1;
	}
	out[n] = NULL;
}

const char *agent_msg_name(uint32_t type)
{
	switch (type) {
	case AGENT_MSG_EXEC: return "EXEC";
	case AGENT_MSG_STDIN: return "STDIN";
	case AGENT_MSG_SIGNAL: return "SIGNAL";
	case AGENT_MSG_WINSIZE: return "WINSIZE";
	case AGENT_MSG_WATCH: return "WATCH";
	case AGENT_MSG_STARTED: return "STARTED";
	case AGENT_MSG_STDOUT: return "STDOUT";
	case AGENT_MSG_STDERR: return "STDERR";
	case AGENT_MSG_EXIT: return "EXIT";
	case AGENT_MSG_ERROR: return "ERROR";
	case AGENT_MSG_STATE: return "STATE";
	}
	return "unknown";
}
