/* Guest agent protocol: round trips and hostile frames. */
#include "guest-agent/protocol.h"
#include "check.h"

#include <stdlib.h>

static uint8_t frame[AGENT_MAX_FRAME + 64];

static void test_header(void)
{
	struct agent_header h;
	size_t n = agent_encode_u32(frame, sizeof(frame), AGENT_MSG_STARTED, 1234);
	uint32_t pid = 0;

	CHECK_EQ(n, 12);
	CHECK_EQ(frame[0], 0x81);
	CHECK_EQ(frame[4], 4);
	for (size_t have = 0; have < n; have++)
		CHECK_EQ(agent_frame_ready(frame, have, &h), 0);
	CHECK_EQ(agent_frame_ready(frame, n, &h), 1);
	CHECK_EQ(h.type, AGENT_MSG_STARTED);
	CHECK_EQ(h.length, 4);
	CHECK(agent_decode_u32(frame + 8, h.length, &pid) == NULL);
	CHECK_EQ(pid, 1234);
	CHECK(agent_decode_u32(frame + 8, 3, &pid) != NULL);

	agent_put_u32(frame + 4, AGENT_MAX_PAYLOAD + 1);
	CHECK_EQ(agent_frame_ready(frame, 8, &h), -1);
	agent_put_u32(frame + 4, 0xffffffffu);
	CHECK_EQ(agent_frame_ready(frame, 8, &h), -1);
	agent_put_u32(frame + 4, AGENT_MAX_PAYLOAD);
	CHECK_EQ(agent_frame_ready(frame, 8, &h), 0);
}

static void test_data_limits(void)
{
	static uint8_t big[AGENT_MAX_PAYLOAD + 1];
	struct agent_header h;

	CHECK_EQ(agent_encode(frame, sizeof(frame), AGENT_MSG_STDOUT, big,
			      AGENT_MAX_PAYLOAD), AGENT_MAX_FRAME);
	CHECK_EQ(agent_frame_ready(frame, AGENT_MAX_FRAME, &h), 1);
	CHECK_EQ(agent_encode(frame, sizeof(frame), AGENT_MSG_STDOUT, big,
			      AGENT_MAX_PAYLOAD + 1), 0);
	CHECK_EQ(agent_encode(frame, 10, AGENT_MSG_STDOUT, big, 3), 0);
	CHECK_EQ(agent_encode(frame, 11, AGENT_MSG_STDOUT, big, 3), 11);
	CHECK_EQ(agent_encode(frame, 8, AGENT_MSG_STDIN, NULL, 0), 8);
}

static void test_exit_state_winsize(void)
{
	struct agent_exit e = { AGENT_EXIT_SIGNAL, 9 }, e2;
	struct agent_state s = { 3, 0 }, s2;
	uint16_t rows, cols;
	size_t n;

	n = agent_encode_exit(frame, sizeof(frame), &e);
	CHECK_EQ(n, 16);
	CHECK(agent_decode_exit(frame + 8, 8, &e2) == NULL);
	CHECK_EQ(e2.kind, AGENT_EXIT_SIGNAL);
	CHECK_EQ(e2.value, 9);
	agent_put_u32(frame + 8, 7);
	CHECK(agent_decode_exit(frame + 8, 8, &e2) != NULL);
	agent_put_u32(frame + 8, 0);
	agent_put_u32(frame + 12, 256);
	CHECK(agent_decode_exit(frame + 8, 8, &e2) != NULL);
	/* Death by "signal" 0 or 128 would make vm-run exit 128 or 256 (= 0). */
	agent_put_u32(frame + 8, AGENT_EXIT_SIGNAL);
	agent_put_u32(frame + 12, 0);
	CHECK(agent_decode_exit(frame + 8, 8, &e2) != NULL);
	agent_put_u32(frame + 12, 128);
	CHECK(agent_decode_exit(frame + 8, 8, &e2) != NULL);
	agent_put_u32(frame + 12, 64);
	CHECK(agent_decode_exit(frame + 8, 8, &e2) == NULL);
	agent_put_u32(frame + 8, AGENT_EXIT_CODE);
	agent_put_u32(frame + 12, 0);
	CHECK(agent_decode_exit(frame + 8, 8, &e2) == NULL);

	n = agent_encode_state(frame, sizeof(frame), &s);
	CHECK_EQ(n, 16);
	CHECK(agent_decode_state(frame + 8, 8, &s2) == NULL);
	CHECK_EQ(s2.running, 3);
	CHECK_EQ(s2.idle_seconds, 0);
	CHECK(agent_decode_state(frame + 8, 9, &s2) != NULL);

	n = agent_encode_winsize(frame, sizeof(frame), 50, 132);
	CHECK_EQ(n, 12);
	CHECK(agent_decode_winsize(frame + 8, 4, &rows, &cols) == NULL);
	CHECK_EQ(rows, 50);
	CHECK_EQ(cols, 132);
}

static void test_exec_round_trip(void)
{
	const char *argv[] = { "sh", "-c", "echo hi", "" };
	const char *envv[] = { "A=1", "LANG=C.UTF-8" };
	struct agent_exec e = {
		.version = AGENT_PROTOCOL_VERSION, .flags = AGENT_EXEC_TTY,
		.rows = 24, .cols = 80, .argc = 4, .envc = 2,
		.argv = argv, .envv = envv, .cwd = "/tmp",
	};
	struct agent_exec_view v;
	struct agent_header h;
	const char *out[5];
	size_t n = agent_encode_exec(frame, sizeof(frame), &e);

	CHECK(n > 0);
	CHECK_EQ(agent_frame_ready(frame, n, &h), 1);
	CHECK_EQ(h.type, AGENT_MSG_EXEC);
	CHECK(agent_decode_exec(frame + 8, h.length, &v) == NULL);
	CHECK_EQ(v.flags, AGENT_EXEC_TTY);
	CHECK_EQ(v.rows, 24);
	CHECK_EQ(v.cols, 80);
	CHECK_EQ(v.argc, 4);
	CHECK_EQ(v.envc, 2);
	agent_split_strings(v.args, v.argc, out);
	CHECK_STR(out[0], "sh");
	CHECK_STR(out[2], "echo hi");
	CHECK_STR(out[3], "");
	CHECK(out[4] == NULL);
	agent_split_strings(v.envs, v.envc, out);
	CHECK_STR(out[1], "LANG=C.UTF-8");
	CHECK(out[2] == NULL);
	CHECK_STR(v.cwd, "/tmp");

	/* Every truncation of a valid EXEC is refused. */
	for (uint32_t len = 0; len < h.length; len++)
		CHECK(agent_decode_exec(frame + 8, len, &v) != NULL);
	/* A trailing byte too. */
	frame[8 + h.length] = 'x';
	CHECK(agent_decode_exec(frame + 8, h.length + 1, &v) != NULL);

	e.cwd = NULL;
	e.envc = 0;
	n = agent_encode_exec(frame, sizeof(frame), &e);
	CHECK(agent_decode_exec(frame + 8, (uint32_t)n - 8, &v) == NULL);
	CHECK_STR(v.cwd, "");

	e.argc = 0;
	CHECK_EQ(agent_encode_exec(frame, sizeof(frame), &e), 0);
	e.argc = 4;
	CHECK_EQ(agent_encode_exec(frame, 30, &e), 0);
}

static void test_exec_hostile(void)
{
	const char *argv[] = { "true" };
	struct agent_exec e = {
		.version = AGENT_PROTOCOL_VERSION, .argc = 1, .argv = argv,
	};
	struct agent_exec_view v;
	size_t n = agent_encode_exec(frame, sizeof(frame), &e);
	uint32_t len = (uint32_t)n - 8;

	CHECK(agent_decode_exec(frame + 8, len, &v) == NULL);
	agent_put_u32(frame + 8 + 12, 0xffffffffu); /* argc */
	CHECK(agent_decode_exec(frame + 8, len, &v) != NULL);
	agent_put_u32(frame + 8 + 12, 0);
	CHECK(agent_decode_exec(frame + 8, len, &v) != NULL);
	agent_put_u32(frame + 8 + 12, 1);
	agent_put_u32(frame + 8 + 16, 0x7fffffffu); /* envc */
	CHECK(agent_decode_exec(frame + 8, len, &v) != NULL);
	agent_put_u32(frame + 8 + 16, 0);
	agent_put_u32(frame + 8, 2); /* version */
	CHECK(agent_decode_exec(frame + 8, len, &v) != NULL);
	agent_put_u32(frame + 8, AGENT_PROTOCOL_VERSION);
	agent_put_u32(frame + 8 + 4, 1u << 7); /* flags */
	CHECK(agent_decode_exec(frame + 8, len, &v) != NULL);
	agent_put_u32(frame + 8 + 4, 0);
	CHECK(agent_decode_exec(frame + 8, len, &v) == NULL);

	/* No NUL anywhere after the fixed part. */
	memset(frame + 8 + 20, 'a', len - 20);
	CHECK(agent_decode_exec(frame + 8, len, &v) != NULL);

	/* Empty command name. */
	const char *empty[] = { "" };
	e.argv = empty;
	n = agent_encode_exec(frame, sizeof(frame), &e);
	CHECK(agent_decode_exec(frame + 8, (uint32_t)n - 8, &v) != NULL);
}

/* Random bytes never make the decoder read out of bounds (ASan checks). */
static void test_exec_random(void)
{
	srand(4);
	for (int round = 0; round < 20000; round++) {
		uint32_t len = (uint32_t)(rand() % 64);
		uint8_t *p = malloc(len ? len : 1);
		struct agent_exec_view v;

		for (uint32_t i = 0; i < len; i++)
			p[i] = (uint8_t)(rand() % 4 == 0 ? 0 : rand());
		if (len >= 20) {
			agent_put_u32(p, AGENT_PROTOCOL_VERSION);
			agent_put_u32(p + 4, 0);
			agent_put_u32(p + 12, (uint32_t)(rand() % 6));
			agent_put_u32(p + 16, (uint32_t)(rand() % 6));
		}
		if (!agent_decode_exec(p, len, &v)) {
			const char **s = malloc((v.argc + v.envc + 2) * sizeof(*s));

			agent_split_strings(v.args, v.argc, s);
			agent_split_strings(v.envs, v.envc, s);
			free(s);
		}
		free(p);
	}
}

int main(void)
{
	test_header();
	test_data_limits();
	test_exit_state_winsize();
	test_exec_round_trip();
	test_exec_hostile();
	test_exec_random();
	return check_report("test_agent_protocol");
}
