/*
 * Wire protocol between vm-run (or the VMM) and vmsilo-guest-agent.
 * Documented in docs/agent-protocol.md.
 *
 * A connection is a byte stream of frames: u32 type, u32 payload length
 * (both little endian), then the payload. Payloads are at most
 * AGENT_MAX_PAYLOAD bytes; a longer length is a protocol error and ends
 * the connection (the stream cannot be resynchronised).
 *
 * Everything here is plain byte handling with no allocation, so the agent,
 * the host tools and the VMM share it.
 */
#ifndef VMSILO_AGENT_PROTOCOL_H
#define VMSILO_AGENT_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define VMSILO_AGENT_PORT 5000
#define AGENT_PROTOCOL_VERSION 1

#define AGENT_HEADER_SIZE 8
#define AGENT_MAX_PAYLOAD 65536u
#define AGENT_MAX_FRAME (AGENT_HEADER_SIZE + AGENT_MAX_PAYLOAD)

enum agent_msg_type {
	/* client -> agent */
	AGENT_MSG_EXEC = 0x01,    /* see struct agent_exec */
	AGENT_MSG_STDIN = 0x02,   /* data; empty payload = EOF */
	AGENT_MSG_SIGNAL = 0x03,  /* u32 signo, sent to the process group */
	AGENT_MSG_WINSIZE = 0x04, /* u16 rows, u16 cols (TTY sessions) */
	AGENT_MSG_WATCH = 0x05,   /* empty; answered with STATE */

	/* agent -> client */
	AGENT_MSG_STARTED = 0x81, /* u32 pid */
	AGENT_MSG_STDOUT = 0x82,  /* data; empty payload = EOF */
	AGENT_MSG_STDERR = 0x83,  /* data; empty payload = EOF */
	AGENT_MSG_EXIT = 0x84,    /* u32 kind (enum agent_exit_kind), u32 value */
	AGENT_MSG_ERROR = 0x85,   /* UTF-8 text, no NUL; the agent then closes */
	AGENT_MSG_STATE = 0x86,   /* u32 running, u32 idle seconds */
};

/* EXEC flags. Attached is the absence of DETACHED. */
#define AGENT_EXEC_ATTACHED 0u
#define AGENT_EXEC_DETACHED (1u << 0)
#define AGENT_EXEC_TTY (1u << 1)
#define AGENT_EXEC_KNOWN_FLAGS (AGENT_EXEC_DETACHED | AGENT_EXEC_TTY)

enum agent_exit_kind {
	AGENT_EXIT_CODE = 0,   /* value = exit status 0..255 */
	AGENT_EXIT_SIGNAL = 1, /* value = signal number that killed it */
};

/*
 * EXEC payload:
 *   u32 version, u32 flags, u16 rows, u16 cols, u32 argc, u32 envc,
 *   argc NUL-terminated strings (argv, argc >= 1),
 *   envc NUL-terminated strings ("NAME=VALUE", added to the environment),
 *   one NUL-terminated string: the working directory ("" = home),
 * and nothing after it.
 */
struct agent_exec {
	uint32_t version;
	uint32_t flags;
	uint16_t rows, cols;
	uint32_t argc, envc;
	/* Decoded: point into the payload. Encoded: caller's arrays. */
	const char *const *argv;
	const char *const *envv;
	const char *cwd; /* NULL or "" for the default */
};

/* Decoded EXEC: strings stay in the payload buffer. */
struct agent_exec_view {
	uint32_t version;
	uint32_t flags;
	uint16_t rows, cols;
	uint32_t argc, envc;
	const char *args; /* argc consecutive NUL-terminated strings */
	const char *envs; /* envc consecutive NUL-terminated strings */
	const char *cwd;  /* "" for the default */
};

struct agent_header {
	uint32_t type;
	uint32_t length;
};

struct agent_exit {
	uint32_t kind;
	uint32_t value;
};

struct agent_state {
	uint32_t running;      /* attached sessions + live detached processes */
	uint32_t idle_seconds; /* since running last became 0; 0 while busy */
};

void agent_put_u16(uint8_t *p, uint16_t v);
void agent_put_u32(uint8_t *p, uint32_t v);
uint16_t agent_get_u16(const uint8_t *p);
uint32_t agent_get_u32(const uint8_t *p);

/*
 * Looks at the start of a receive buffer: 1 and *h filled when a whole
 * frame (header + payload) is there, 0 when more bytes are needed, -1 when
 * the header announces a payload longer than AGENT_MAX_PAYLOAD.
 */
int agent_frame_ready(const uint8_t *buf, size_t have, struct agent_header *h);

/*
 * Encoders write one whole frame to out (capacity cap) and return its size,
 * or 0 when it does not fit in cap or in AGENT_MAX_PAYLOAD.
 */
size_t agent_encode(uint8_t *out, size_t cap, uint32_t type,
		    const void *payload, size_t len);
size_t agent_encode_u32(uint8_t *out, size_t cap, uint32_t type, uint32_t v);
size_t agent_encode_exit(uint8_t *out, size_t cap, const struct agent_exit *e);
size_t agent_encode_state(uint8_t *out, size_t cap, const struct agent_state *s);
size_t agent_encode_winsize(uint8_t *out, size_t cap, uint16_t rows, uint16_t cols);
size_t agent_encode_exec(uint8_t *out, size_t cap, const struct agent_exec *e);

/*
 * Decoders check a received payload; they return NULL on success or a
 * short description of what is wrong (for an ERROR reply or a log line).
 */
const char *agent_decode_u32(const uint8_t *p, uint32_t len, uint32_t *v);
const char *agent_decode_exit(const uint8_t *p, uint32_t len, struct agent_exit *e);
const char *agent_decode_state(const uint8_t *p, uint32_t len, struct agent_state *s);
const char *agent_decode_winsize(const uint8_t *p, uint32_t len,
				 uint16_t *rows, uint16_t *cols);
/* The payload must stay alive while the view is used. */
const char *agent_decode_exec(const uint8_t *p, uint32_t len,
			      struct agent_exec_view *v);

/*
 * Fills out[0..n-1] with the n strings starting at first (as in an
 * agent_exec_view) and out[n] with NULL.
 */
void agent_split_strings(const char *first, uint32_t n, const char **out);

const char *agent_msg_name(uint32_t type);

#endif
