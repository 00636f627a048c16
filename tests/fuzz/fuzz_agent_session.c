/*
 * libFuzzer harness for the guest agent's side of a connection
 * (guest-agent/session.c): the input is what the host sends, byte for
 * byte. Nothing is executed: spawn_command is a fake here whose "command"
 * is a set of pipes with a pid no process has, and session.c's kill() is
 * this file's fuzz_kill (compiled with -Dkill=fuzz_kill), which refuses a
 * signal to anything but that pid's group. Every frame the agent answers
 * with must be well formed; the session must end once the input does.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest-agent/agent.h"
#include "guest-agent/session.h"

#define FAKE_PID 0x3ffffff0	/* above any pid_max */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fuzz_kill(pid_t pid, int sig);

static const struct spawn_config spawn_cfg = { .user = "nobody" };
static int child_stdin = -1;	/* the fake command's end of its stdin */
static uint8_t answer[1 << 20];
static size_t answer_len;

int fuzz_kill(pid_t pid, int sig)
{
	if (pid != -FAKE_PID || sig < 0 || sig > 64)
		abort();	/* a signal for some other process */
	return 0;
}

const struct spawn_config *agent_spawn_config(const struct agent *a)
{
	return &spawn_cfg;
}

void agent_add_detached(struct agent *a, pid_t pid)
{
	if (pid != FAKE_PID)
		abort();
}

void agent_state(const struct agent *a, struct agent_state *s)
{
	*s = (struct agent_state){ .running = 1, .idle_seconds = 0 };
}

void agent_log(const char *fmt, ...)
{
}

static int output_pipe(const char *text)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		abort();
	if (write(p[1], text, strlen(text)) < 0)
		abort();
	close(p[1]);
	return p[0];
}

/* Checks the strings a decoded EXEC points at, then "starts" it. */
int spawn_command(const struct spawn_config *cfg, const struct agent_exec_view *v,
		  struct spawned *out, char *err, size_t errlen)
{
	const char *s = v->args;
	int in[2];

	for (uint32_t i = 0; i < v->argc + v->envc; i++)
		s += strlen(s) + 1;
	if (s != v->cwd || !v->args[0])
		abort();
	if (v->args[0] == '!') {
		snprintf(err, errlen, "%s: no such command", v->args);
		return -1;
	}
	*out = (struct spawned){ .pid = FAKE_PID, .in_fd = -1, .out_fd = -1, .err_fd = -1 };
	if (v->flags & AGENT_EXEC_DETACHED)
		return 0;
	if (pipe2(in, O_CLOEXEC | O_NONBLOCK))
		abort();
	child_stdin = in[0];
	out->in_fd = in[1];
	out->out_fd = output_pipe("out\n");
	if (!(v->flags & AGENT_EXEC_TTY))
		out->err_fd = output_pipe("err\n");
	return 0;
}

static void drain_child_stdin(void)
{
	uint8_t buf[4096];

	while (child_stdin >= 0 && read(child_stdin, buf, sizeof(buf)) > 0)
		;
}

static void read_answer(int fd)
{
	ssize_t n;

	while ((n = recv(fd, answer + answer_len, sizeof(answer) - answer_len, MSG_DONTWAIT)) > 0)
		answer_len += (size_t)n;
}

/* One round of the agent's poll loop for this session, without waiting. */
static void poll_round(struct session *s)
{
	struct pollfd pfd[4];
	enum session_role roles[4];
	int n = session_poll_fds(s, pfd, roles);

	if (poll(pfd, (nfds_t)n, 0) <= 0)
		return;
	for (int i = 0; i < n; i++)
		if (pfd[i].revents)
			session_handle(s, NULL, roles[i], pfd[i].fd, pfd[i].revents);
}

static void run_session(struct session *s, int client)
{
	for (unsigned round = 0; round < 100000; round++) {
		int timeout = -1;

		poll_round(s);
		drain_child_stdin();
		read_answer(client);
		if (s->conn < 0 && s->child_alive)
			session_reaped(s, 3 << 8);	/* the command exits with 3 */
		if (session_advance(s, NULL, &timeout))
			return;
	}
	abort();	/* the session never ended */
}

static void check_answer(void)
{
	struct agent_header h;
	size_t off = 0;
	int r;

	while ((r = agent_frame_ready(answer + off, answer_len - off, &h)) == 1) {
		const uint8_t *p = answer + off + AGENT_HEADER_SIZE;
		struct agent_exit e;
		uint32_t pid;

		if ((h.type == AGENT_MSG_STARTED && (agent_decode_u32(p, h.length, &pid) ||
						     pid != FAKE_PID)) ||
		    (h.type == AGENT_MSG_EXIT && agent_decode_exit(p, h.length, &e)) ||
		    h.type < AGENT_MSG_STARTED || h.type > AGENT_MSG_STATE)
			abort();
		off += AGENT_HEADER_SIZE + h.length;
	}
	if (r < 0)
		abort();	/* a frame too long; one cut short by the close is fine */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session *s;
	int sv[2];

	if (size > 128 * 1024)
		return 0;	/* more than the socket buffer holds at once */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv))
		abort();
	if (size && send(sv[1], data, size, MSG_NOSIGNAL) != (ssize_t)size)
		abort();
	shutdown(sv[1], SHUT_WR);
	s = session_new(sv[0]);
	if (!s)
		abort();
	answer_len = 0;
	run_session(s, sv[1]);
	read_answer(sv[1]);
	session_free(s);
	if (child_stdin >= 0)
		close(child_stdin);
	child_stdin = -1;
	close(sv[1]);
	check_answer();
	return 0;
}
