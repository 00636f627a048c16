/*
 * Talks the raw agent protocol to a running vmsilo-guest-agent (started by
 * test_agent.sh with --listen unix:SOCKET): WATCH/STATE counts, terminal
 * size, disconnect handling, and hostile frames answered with ERROR while
 * the agent keeps serving.
 *
 *   test_agent_wire SOCKET SCRATCH_DIR
 */
#include "guest-agent/protocol.h"
#include "check.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define WAIT_MS 20000

static const char *sock_path;
static const char *scratch;

struct frame {
	uint32_t type;
	uint32_t len;
	uint8_t data[AGENT_MAX_PAYLOAD + 1];
};

static int connect_agent(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		fprintf(stderr, "connect %s: %s\n", sock_path, strerror(errno));
		exit(1);
	}
	return fd;
}

static void send_raw(int fd, const void *p, size_t len)
{
	if (send(fd, p, len, MSG_NOSIGNAL) != (ssize_t)len) {
		fprintf(stderr, "send: %s\n", strerror(errno));
		exit(1);
	}
}

static void send_frame(int fd, uint32_t type, const void *p, size_t len)
{
	static uint8_t buf[AGENT_MAX_FRAME];

	send_raw(fd, buf, agent_encode(buf, sizeof(buf), type, p, len));
}

static void send_exec(int fd, uint32_t flags, const char *script, uint16_t rows, uint16_t cols)
{
	static uint8_t buf[AGENT_MAX_FRAME];
	const char *argv[] = { "sh", "-c", script };
	struct agent_exec e = {
		.version = AGENT_PROTOCOL_VERSION, .flags = flags, .rows = rows,
		.cols = cols, .argc = 3, .argv = argv,
	};

	send_raw(fd, buf, agent_encode_exec(buf, sizeof(buf), &e));
}

/* Reads exactly len bytes; 0 on success, -1 on EOF or timeout. */
static int read_full(int fd, uint8_t *p, size_t len)
{
	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, WAIT_MS) != 1) {
			fprintf(stderr, "timed out waiting for the agent\n");
			return -1;
		}
		n = read(fd, p, len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Next frame, or type 0 at EOF. */
static void recv_frame(int fd, struct frame *f)
{
	uint8_t h[AGENT_HEADER_SIZE];

	f->type = 0;
	f->len = 0;
	if (read_full(fd, h, sizeof(h)))
		return;
	f->type = agent_get_u32(h);
	f->len = agent_get_u32(h + 4);
	if (f->len > AGENT_MAX_PAYLOAD || read_full(fd, f->data, f->len)) {
		f->type = 0;
		return;
	}
	f->data[f->len] = '\0';
}

static void expect_state(int fd, uint32_t running)
{
	static struct frame f;
	struct agent_state st = { 99, 99 };

	recv_frame(fd, &f);
	CHECK_EQ(f.type, AGENT_MSG_STATE);
	CHECK(agent_decode_state(f.data, f.len, &st) == NULL);
	CHECK_EQ(st.running, running);
	if (running)
		CHECK_EQ(st.idle_seconds, 0);
}

/* Reads frames until ERROR; returns its text (static). */
static const char *expect_error(int fd)
{
	static struct frame f;

	do
		recv_frame(fd, &f);
	while (f.type && f.type != AGENT_MSG_ERROR);
	CHECK_EQ(f.type, AGENT_MSG_ERROR);
	return f.type == AGENT_MSG_ERROR ? (const char *)f.data : "";
}

static void expect_closed(int fd)
{
	static struct frame f;

	recv_frame(fd, &f);
	CHECK_EQ(f.type, 0);
}

/* Collects STDOUT of a session until EXIT; returns the exit frame value. */
static int run_to_exit(int fd, char *out, size_t cap)
{
	static struct frame f;
	size_t used = 0;
	struct agent_exit e = { 0, 0 };

	for (;;) {
		recv_frame(fd, &f);
		if (f.type == AGENT_MSG_STDOUT && used + f.len < cap) {
			memcpy(out + used, f.data, f.len);
			used += f.len;
		}
		if (f.type == AGENT_MSG_EXIT || f.type == 0)
			break;
	}
	out[used] = '\0';
	CHECK_EQ(f.type, AGENT_MSG_EXIT);
	CHECK(agent_decode_exit(f.data, f.len, &e) == NULL);
	return e.kind == AGENT_EXIT_SIGNAL ? 128 + (int)e.value : (int)e.value;
}

static uint32_t expect_started(int fd)
{
	static struct frame f;
	uint32_t pid = 0;

	recv_frame(fd, &f);
	CHECK_EQ(f.type, AGENT_MSG_STARTED);
	CHECK(agent_decode_u32(f.data, f.len, &pid) == NULL);
	return pid;
}

static void gate_path(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", scratch, name);
}

static void open_gate(const char *name)
{
	char path[512];
	FILE *f;

	gate_path(path, sizeof(path), name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
}

static void test_watch(void)
{
	char script[1024], gate[512], out[256];
	int w = connect_agent(), a, d;

	send_frame(w, AGENT_MSG_WATCH, NULL, 0);
	expect_state(w, 0);

	/* An attached command makes the agent busy until it exits. */
	a = connect_agent();
	send_exec(a, AGENT_EXEC_ATTACHED, "read line; echo got $line", 0, 0);
	expect_started(a);
	expect_state(w, 1);
	send_frame(a, AGENT_MSG_STDIN, "x\n", 2);
	CHECK_EQ(run_to_exit(a, out, sizeof(out)), 0);
	CHECK_STR(out, "got x\n");
	expect_state(w, 0);
	close(a);

	/* A detached one too, though its connection is long closed. */
	gate_path(gate, sizeof(gate), "watch-gate");
	snprintf(script, sizeof(script), "while [ ! -e %s ]; do sleep 0.05; done", gate);
	d = connect_agent();
	send_exec(d, AGENT_EXEC_DETACHED, script, 0, 0);
	expect_started(d);
	expect_closed(d);
	close(d);
	expect_state(w, 1);
	send_frame(w, AGENT_MSG_WATCH, NULL, 0);
	expect_state(w, 1);
	open_gate("watch-gate");
	expect_state(w, 0);
	send_frame(w, AGENT_MSG_WATCH, NULL, 0);
	expect_state(w, 0);

	/* A watch connection takes nothing else. */
	send_frame(w, AGENT_MSG_STDIN, "x", 1);
	CHECK(strstr(expect_error(w), "only takes WATCH") != NULL);
	expect_closed(w);
	close(w);
}

static void test_tty_winsize(void)
{
	static struct frame f;
	char out[4096] = "";
	size_t used = 0;
	int fd = connect_agent();

	send_exec(fd, AGENT_EXEC_TTY, "stty size; read x; stty size; test -t 0", 24, 80);
	expect_started(fd);
	/* Wait for the first size before changing it. */
	while (!strstr(out, "24 80")) {
		recv_frame(fd, &f);
		if (f.type != AGENT_MSG_STDOUT || !f.len || used + f.len >= sizeof(out))
			break;
		memcpy(out + used, f.data, f.len + 1);
		used += f.len;
	}
	CHECK(strstr(out, "24 80") != NULL);
	uint8_t ws[4];
	agent_put_u16(ws, 50);
	agent_put_u16(ws + 2, 132);
	send_frame(fd, AGENT_MSG_WINSIZE, ws, sizeof(ws));
	send_frame(fd, AGENT_MSG_STDIN, "\n", 1);
	CHECK_EQ(run_to_exit(fd, out, sizeof(out)), 0);
	CHECK(strstr(out, "50 132") != NULL);
	close(fd);
}

static int pid_gone(pid_t pid)
{
	for (int i = 0; i < WAIT_MS / 50; i++) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return 1;
		usleep(50000);
	}
	return 0;
}

/* A client that goes away takes its command (and the command's group) along. */
static void test_disconnect(void)
{
	static struct frame f;
	int fd = connect_agent();
	uint32_t pid;

	send_exec(fd, 0, "sleep 1000 & echo $!; wait", 0, 0);
	pid = expect_started(fd);
	recv_frame(fd, &f);
	CHECK_EQ(f.type, AGENT_MSG_STDOUT);
	pid_t child = (pid_t)atoi((const char *)f.data);
	close(fd);
	CHECK(pid_gone((pid_t)pid));
	CHECK(child > 0 && pid_gone(child));

	/* One that ignores SIGHUP gets SIGKILL. */
	fd = connect_agent();
	send_exec(fd, 0, "trap '' HUP; echo ready; while :; do sleep 1; done", 0, 0);
	pid = expect_started(fd);
	recv_frame(fd, &f);
	CHECK_EQ(f.type, AGENT_MSG_STDOUT);
	close(fd);
	CHECK(pid_gone((pid_t)pid));
}

static void test_signal_frame(void)
{
	static struct frame f;
	char out[64];
	int fd = connect_agent();
	uint8_t sig[4];

	send_exec(fd, 0, "echo ready; while :; do sleep 1; done", 0, 0);
	expect_started(fd);
	recv_frame(fd, &f);
	CHECK_EQ(f.type, AGENT_MSG_STDOUT);
	agent_put_u32(sig, SIGINT);
	send_frame(fd, AGENT_MSG_SIGNAL, sig, sizeof(sig));
	CHECK_EQ(run_to_exit(fd, out, sizeof(out)), 128 + SIGINT);
	close(fd);
}

static void test_hostile(void)
{
	uint8_t h[AGENT_HEADER_SIZE];
	int fd;

	/* A length over the limit. */
	fd = connect_agent();
	agent_put_u32(h, AGENT_MSG_EXEC);
	agent_put_u32(h + 4, 0x7fffffff);
	send_raw(fd, h, sizeof(h));
	CHECK(strstr(expect_error(fd), "exceeds the limit") != NULL);
	expect_closed(fd);
	close(fd);

	/* STDIN before EXEC. */
	fd = connect_agent();
	send_frame(fd, AGENT_MSG_STDIN, "x", 1);
	CHECK(strstr(expect_error(fd), "expected EXEC") != NULL);
	expect_closed(fd);
	close(fd);

	/* An unknown type. */
	fd = connect_agent();
	send_frame(fd, 0x4242, "x", 1);
	CHECK(strstr(expect_error(fd), "expected EXEC") != NULL);
	close(fd);

	/* EXEC from the future. */
	fd = connect_agent();
	uint8_t exec[64] = { 0 };
	agent_put_u32(exec, 7);
	agent_put_u32(exec + 12, 1);
	memcpy(exec + 20, "true\0\0", 6);
	send_frame(fd, AGENT_MSG_EXEC, exec, 26);
	CHECK(strstr(expect_error(fd), "unsupported protocol version") != NULL);
	close(fd);

	/* argc promising more strings than there are. */
	fd = connect_agent();
	agent_put_u32(exec, AGENT_PROTOCOL_VERSION);
	agent_put_u32(exec + 12, 1000);
	send_frame(fd, AGENT_MSG_EXEC, exec, 26);
	CHECK(strstr(expect_error(fd), "truncated") != NULL);
	close(fd);

	/* A second EXEC on a running session, and a bad signal number. */
	fd = connect_agent();
	send_exec(fd, 0, "cat", 0, 0);
	expect_started(fd);
	send_exec(fd, 0, "true", 0, 0);
	CHECK(strstr(expect_error(fd), "while a command runs") != NULL);
	close(fd);
	fd = connect_agent();
	send_exec(fd, 0, "cat", 0, 0);
	expect_started(fd);
	uint8_t sig[4];
	agent_put_u32(sig, 1000);
	send_frame(fd, AGENT_MSG_SIGNAL, sig, sizeof(sig));
	CHECK(strstr(expect_error(fd), "bad SIGNAL") != NULL);
	close(fd);

	/* Garbage, then a connection that vanishes mid-frame. */
	fd = connect_agent();
	send_raw(fd, "\x01\x00\x00\x00\x10\x00", 6);
	close(fd);

	/* The agent still serves. */
	char out[64];
	fd = connect_agent();
	send_exec(fd, 0, "echo still here", 0, 0);
	expect_started(fd);
	CHECK_EQ(run_to_exit(fd, out, sizeof(out)), 0);
	CHECK_STR(out, "still here\n");
	close(fd);
}

/* Everything is over: the agent goes idle (killed commands take a moment). */
static void expect_idle(void)
{
	static struct frame f;
	struct agent_state st = { 1, 0 };
	int w = connect_agent();

	for (int i = 0; i < WAIT_MS / 50 && st.running; i++) {
		if (i)
			usleep(50000);
		send_frame(w, AGENT_MSG_WATCH, NULL, 0);
		recv_frame(w, &f);
		if (f.type != AGENT_MSG_STATE || agent_decode_state(f.data, f.len, &st))
			break;
	}
	CHECK_EQ(st.running, 0);
	close(w);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: test_agent_wire SOCKET SCRATCH_DIR\n");
		return 2;
	}
	sock_path = argv[1];
	scratch = argv[2];
	signal(SIGPIPE, SIG_IGN);
	test_watch();
	test_tty_winsize();
	test_signal_frame();
	test_disconnect();
	test_hostile();
	expect_idle();
	return check_report("test_agent_wire");
}
