/*
 * libFuzzer harness for the guest agent's wire protocol
 * (guest-agent/protocol.c), both directions: the input is a byte stream
 * of frames, split as vm-run, the VMM's agent watch and an agent session
 * split theirs (agent_frame_ready), and each payload goes through every
 * decoder: the guest's STARTED/EXIT/STATE as vm-run and the VMM read them,
 * the host's EXEC/SIGNAL/WINSIZE as the agent reads them. What a decoder
 * accepts is encoded again and must give the same bytes back.
 */
#include <stdlib.h>
#include <string.h>

#include "guest-agent/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[AGENT_MAX_FRAME];

static void same_frame(size_t n, uint32_t type, const uint8_t *p, uint32_t len)
{
	if (n != AGENT_HEADER_SIZE + len || agent_get_u32(out) != type ||
	    agent_get_u32(out + 4) != len || memcmp(out + AGENT_HEADER_SIZE, p, len))
		abort();
}

static void check_exec(uint32_t type, const uint8_t *p, uint32_t len)
{
	static const char *argv[AGENT_MAX_PAYLOAD], *envv[AGENT_MAX_PAYLOAD];
	struct agent_exec_view v;
	struct agent_exec e;

	if (agent_decode_exec(p, len, &v))
		return;
	/* Each string takes a byte at least: the counts are bounded by len. */
	if (v.argc + (uint64_t)v.envc >= len)
		abort();
	agent_split_strings(v.args, v.argc, argv);
	agent_split_strings(v.envs, v.envc, envv);
	e = (struct agent_exec){
		.version = v.version, .flags = v.flags, .rows = v.rows, .cols = v.cols,
		.argc = v.argc, .envc = v.envc, .argv = argv, .envv = envv, .cwd = v.cwd,
	};
	same_frame(agent_encode_exec(out, sizeof(out), &e), AGENT_MSG_EXEC, p, len);
}

static void check_fixed(uint32_t type, const uint8_t *p, uint32_t len)
{
	struct agent_exit ex;
	struct agent_state st;
	uint16_t rows, cols;
	uint32_t v;

	if (!agent_decode_u32(p, len, &v))
		same_frame(agent_encode_u32(out, sizeof(out), type, v), type, p, len);
	if (!agent_decode_exit(p, len, &ex)) {
		if (ex.value > 255 || (ex.kind == AGENT_EXIT_SIGNAL && !ex.value))
			abort();	/* vm-run's exit status would be wrong */
		same_frame(agent_encode_exit(out, sizeof(out), &ex), AGENT_MSG_EXIT, p, len);
	}
	if (!agent_decode_state(p, len, &st))
		same_frame(agent_encode_state(out, sizeof(out), &st), AGENT_MSG_STATE, p, len);
	if (!agent_decode_winsize(p, len, &rows, &cols))
		same_frame(agent_encode_winsize(out, sizeof(out), rows, cols),
			   AGENT_MSG_WINSIZE, p, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_header h;
	size_t off = 0;
	int r;

	while ((r = agent_frame_ready(data + off, size - off, &h)) == 1) {
		const uint8_t *p = data + off + AGENT_HEADER_SIZE;

		if (h.length > AGENT_MAX_PAYLOAD || AGENT_HEADER_SIZE + (size_t)h.length > size - off)
			abort();
		if (!agent_msg_name(h.type))
			abort();
		check_fixed(h.type, p, h.length);
		check_exec(h.type, p, h.length);
		same_frame(agent_encode(out, sizeof(out), h.type, p, h.length), h.type, p, h.length);
		off += AGENT_HEADER_SIZE + h.length;
	}
	if (r < 0 && h.length <= AGENT_MAX_PAYLOAD)
		abort();
	return 0;
}
