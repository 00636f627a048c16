/*
 * A session moves bytes between its client connection and its command,
 * never holding more than bounded buffers: the client is not read while a
 * STDIN payload waits for the command's stdin, and the command's output is
 * not read while the client is behind.
 */
#include "guest-agent/session.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* Room kept for control frames (STARTED, EOF, EXIT, ERROR, STATE). */
#define CONTROL_RESERVE 1024
#define OUT_CAP (2 * AGENT_MAX_FRAME + 2 * CONTROL_RESERVE)
#define KILL_GRACE_MS 3000
#define MAX_ERROR_TEXT 300

static bool bq_init(struct byteq *q, size_t cap)
{
	q->buf = malloc(cap);
	q->start = q->end = 0;
	q->cap = cap;
	return q->buf != NULL;
}

static size_t bq_len(const struct byteq *q)
{
	return q->end - q->start;
}

static size_t bq_room(const struct byteq *q)
{
	return q->cap - bq_len(q);
}

/* Returns n bytes of contiguous space at the tail, or NULL. */
static uint8_t *bq_reserve(struct byteq *q, size_t n)
{
	if (bq_room(q) < n)
		return NULL;
	if (q->cap - q->end < n) {
		memmove(q->buf, q->buf + q->start, bq_len(q));
		q->end -= q->start;
		q->start = 0;
	}
	return q->buf + q->end;
}

static void bq_consume(struct byteq *q, size_t n)
{
	q->start += n;
	if (q->start == q->end)
		q->start = q->end = 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

struct session *session_new(int conn)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->conn = conn;
	s->child_in = s->child_out = s->child_err = -1;
	s->in = malloc(AGENT_MAX_FRAME);
	if (!s->in || !bq_init(&s->out, OUT_CAP) || !bq_init(&s->stdin_q, AGENT_MAX_PAYLOAD)) {
		s->conn = -1;
		session_free(s);
		return NULL;
	}
	return s;
}

void session_free(struct session *s)
{
	close_fd(&s->conn);
	close_fd(&s->child_in);
	close_fd(&s->child_out);
	close_fd(&s->child_err);
	free(s->in);
	free(s->out.buf);
	free(s->stdin_q.buf);
	free(s);
}

static void push_frame(struct session *s, uint32_t type, const void *payload, size_t len)
{
	uint8_t *p = bq_reserve(&s->out, len + AGENT_HEADER_SIZE);

	if (!p) {
		agent_log("client too slow, dropped a %s frame", agent_msg_name(type));
		return;
	}
	s->out.end += agent_encode(p, len + AGENT_HEADER_SIZE, type, payload, len);
}

static void push_u32(struct session *s, uint32_t type, uint32_t v)
{
	uint8_t p[4];

	agent_put_u32(p, v);
	push_frame(s, type, p, sizeof(p));
}

/* Answers ERROR; the connection closes once it is sent. */
static void fail(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct session *s, const char *fmt, ...)
{
	char msg[MAX_ERROR_TEXT];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	push_frame(s, AGENT_MSG_ERROR, msg, (size_t)n);
	s->kind = SESSION_CLOSING;
}

void session_send_state(struct session *s, const struct agent_state *st)
{
	uint8_t p[8];

	agent_put_u32(p, st->running);
	agent_put_u32(p + 4, st->idle_seconds);
	push_frame(s, AGENT_MSG_STATE, p, sizeof(p));
}

static void now_plus(struct timespec *t, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static int ms_until(const struct timespec *t)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

static void drop_stdin(struct session *s)
{
	close_fd(&s->child_in);
	s->stdin_q.start = s->stdin_q.end = 0;
}

/* The client is gone or done: the command loses its terminal. */
static void close_conn(struct session *s)
{
	close_fd(&s->conn);
	drop_stdin(s);
	close_fd(&s->child_out);
	close_fd(&s->child_err);
	s->kind = SESSION_CLOSING;
	if (s->child_alive) {
		kill(-s->pid, SIGHUP);
		kill(-s->pid, SIGCONT);
		s->kill_pending = true;
		now_plus(&s->kill_at, KILL_GRACE_MS);
	}
}

static void start_command(struct session *s, struct agent *a, const uint8_t *p, uint32_t len)
{
	struct agent_exec_view v;
	struct spawned sp;
	char err[MAX_ERROR_TEXT];
	const char *bad = agent_decode_exec(p, len, &v);

	if (bad) {
		fail(s, "bad EXEC: %s", bad);
		return;
	}
	if (spawn_command(agent_spawn_config(a), &v, &sp, err, sizeof(err))) {
		fail(s, "%s", err);
		return;
	}
	push_u32(s, AGENT_MSG_STARTED, (uint32_t)sp.pid);
	if (v.flags & AGENT_EXEC_DETACHED) {
		agent_add_detached(a, sp.pid);
		s->kind = SESSION_CLOSING;
		return;
	}
	s->kind = SESSION_COMMAND;
	s->pid = sp.pid;
	s->child_alive = true;
	s->tty = !!(v.flags & AGENT_EXEC_TTY);
	s->child_in = sp.in_fd;
	s->child_out = sp.out_fd;
	s->child_err = sp.err_fd;
}

static void write_stdin(struct session *s)
{
	while (s->child_in >= 0 && bq_len(&s->stdin_q)) {
		ssize_t n = write(s->child_in, s->stdin_q.buf + s->stdin_q.start,
				  bq_len(&s->stdin_q));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			/* The command closed its stdin; the rest has nowhere to go. */
			drop_stdin(s);
			return;
		}
		bq_consume(&s->stdin_q, (size_t)n);
	}
	if (s->stdin_eof && !bq_len(&s->stdin_q))
		close_fd(&s->child_in);
}

static void command_stdin(struct session *s, const uint8_t *p, uint32_t len)
{
	static const uint8_t eof_char = 4; /* ^D, the default VEOF */

	if (len == 0 && s->tty) {
		/* A terminal has no end of input: type ^D as a user would. */
		p = &eof_char;
		len = 1;
	} else if (len == 0) {
		s->stdin_eof = true;
	}
	if (len && s->child_in >= 0 && !s->stdin_eof) {
		memcpy(bq_reserve(&s->stdin_q, len), p, len);
		s->stdin_q.end += len;
	}
	write_stdin(s);
}

static void command_signal(struct session *s, const uint8_t *p, uint32_t len)
{
	uint32_t sig;
	const char *bad = agent_decode_u32(p, len, &sig);
	pid_t group = s->pid;

	if (bad || sig < 1 || sig > 64) {
		fail(s, "bad SIGNAL: %s", bad ? bad : "no such signal");
		return;
	}
	if (!s->child_alive)
		return;
	/* With a terminal, Ctrl-C belongs to its foreground job. */
	if (s->tty && s->child_out >= 0) {
		pid_t fg;

		if (ioctl(s->child_out, TIOCGPGRP, &fg) == 0 && fg > 0)
			group = fg;
	}
	kill(-group, (int)sig);
}

static void command_winsize(struct session *s, const uint8_t *p, uint32_t len)
{
	struct winsize ws = { 0 };
	const char *bad = agent_decode_winsize(p, len, &ws.ws_row, &ws.ws_col);

	if (bad) {
		fail(s, "bad WINSIZE: %s", bad);
		return;
	}
	if (s->tty && s->child_out >= 0)
		ioctl(s->child_out, TIOCSWINSZ, &ws);
}

static void handle_frame(struct session *s, struct agent *a, uint32_t type,
			 const uint8_t *p, uint32_t len)
{
	struct agent_state st;

	if (type == AGENT_MSG_WATCH && (s->kind == SESSION_NEW || s->kind == SESSION_WATCH)) {
		if (len) {
			fail(s, "bad WATCH: payload must be empty");
			return;
		}
		s->kind = SESSION_WATCH;
		agent_state(a, &st);
		session_send_state(s, &st);
	} else if (type == AGENT_MSG_EXEC && s->kind == SESSION_NEW) {
		start_command(s, a, p, len);
	} else if (s->kind == SESSION_NEW) {
		fail(s, "expected EXEC or WATCH first, got %s (0x%x)", agent_msg_name(type), type);
	} else if (s->kind == SESSION_WATCH) {
		fail(s, "a watch connection only takes WATCH, got %s (0x%x)",
		     agent_msg_name(type), type);
	} else if (type == AGENT_MSG_STDIN) {
		command_stdin(s, p, len);
	} else if (type == AGENT_MSG_SIGNAL) {
		command_signal(s, p, len);
	} else if (type == AGENT_MSG_WINSIZE) {
		command_winsize(s, p, len);
	} else {
		fail(s, "unexpected %s (0x%x) while a command runs", agent_msg_name(type), type);
	}
}

static void process_frames(struct session *s, struct agent *a)
{
	struct agent_header h;

	while (s->kind != SESSION_CLOSING && bq_room(&s->out) >= CONTROL_RESERVE) {
		int r = agent_frame_ready(s->in, s->in_len, &h);

		if (r < 0) {
			fail(s, "frame of %u bytes exceeds the limit of %u", h.length,
			     AGENT_MAX_PAYLOAD);
			return;
		}
		if (r == 0)
			return;
		if (h.type == AGENT_MSG_STDIN && s->kind == SESSION_COMMAND &&
		    bq_len(&s->stdin_q))
			return;
		handle_frame(s, a, h.type, s->in + AGENT_HEADER_SIZE, h.length);
		size_t used = AGENT_HEADER_SIZE + h.length;
		memmove(s->in, s->in + used, s->in_len - used);
		s->in_len -= used;
	}
}

static void read_conn(struct session *s, struct agent *a)
{
	ssize_t n = read(s->conn, s->in + s->in_len, AGENT_MAX_FRAME - s->in_len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close_conn(s);
		return;
	}
	s->in_len += (size_t)n;
	process_frames(s, a);
}

static void flush_conn(struct session *s)
{
	while (bq_len(&s->out)) {
		ssize_t n = write(s->conn, s->out.buf + s->out.start, bq_len(&s->out));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close_conn(s);
			return;
		}
		bq_consume(&s->out, (size_t)n);
	}
}

static bool output_room(const struct session *s)
{
	return bq_room(&s->out) >= AGENT_MAX_FRAME + CONTROL_RESERVE;
}

/*
 * Reads one chunk of the command's output into a frame. Returns false when
 * nothing was available right now.
 */
static bool read_output(struct session *s, int *fd, uint32_t type, bool *eof_sent)
{
	uint8_t *p = bq_reserve(&s->out, AGENT_MAX_FRAME);
	ssize_t n;

	if (!p)
		return false;
	do
		n = read(*fd, p + AGENT_HEADER_SIZE, AGENT_MAX_PAYLOAD);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return false;
	if (n > 0) {
		agent_put_u32(p, type);
		agent_put_u32(p + 4, (uint32_t)n);
		s->out.end += AGENT_HEADER_SIZE + (size_t)n;
		return true;
	}
	/* 0, or EIO from a PTY whose other side is all closed: the end. */
	close_fd(fd);
	push_frame(s, type, NULL, 0);
	*eof_sent = true;
	return false;
}

void session_handle(struct session *s, struct agent *a, enum session_role role,
		    int fd, short revents)
{
	switch (role) {
	case ROLE_CONN:
		if (fd != s->conn)
			return;
		if (revents & POLLOUT)
			flush_conn(s);
		if (s->conn >= 0 && (revents & POLLIN))
			read_conn(s, a);
		else if (s->conn >= 0 && (revents & (POLLHUP | POLLERR)))
			close_conn(s);
		break;
	case ROLE_CHILD_IN:
		if (fd == s->child_in)
			write_stdin(s);
		break;
	case ROLE_CHILD_OUT:
		if (fd == s->child_out && output_room(s))
			read_output(s, &s->child_out, AGENT_MSG_STDOUT, &s->out_eof_sent);
		break;
	case ROLE_CHILD_ERR:
		if (fd == s->child_err && output_room(s))
			read_output(s, &s->child_err, AGENT_MSG_STDERR, &s->err_eof_sent);
		break;
	}
}

int session_poll_fds(const struct session *s, struct pollfd *pfd, enum session_role *roles)
{
	int n = 0;
	bool room = output_room(s);

	if (s->conn >= 0) {
		pfd[n] = (struct pollfd){ .fd = s->conn };
		if (s->kind != SESSION_CLOSING && s->in_len < AGENT_MAX_FRAME)
			pfd[n].events |= POLLIN;
		if (bq_len(&s->out))
			pfd[n].events |= POLLOUT;
		roles[n++] = ROLE_CONN;
	}
	if (s->child_in >= 0 && bq_len(&s->stdin_q)) {
		pfd[n] = (struct pollfd){ .fd = s->child_in, .events = POLLOUT };
		roles[n++] = ROLE_CHILD_IN;
	}
	if (s->child_out >= 0 && room) {
		pfd[n] = (struct pollfd){ .fd = s->child_out, .events = POLLIN };
		roles[n++] = ROLE_CHILD_OUT;
	}
	if (s->child_err >= 0 && room) {
		pfd[n] = (struct pollfd){ .fd = s->child_err, .events = POLLIN };
		roles[n++] = ROLE_CHILD_ERR;
	}
	return n;
}

void session_reaped(struct session *s, int status)
{
	s->child_alive = false;
	s->kill_pending = false;
	s->status = status;
}

bool session_is_running(const struct session *s)
{
	return s->kind == SESSION_COMMAND || s->child_alive;
}

static void send_exit(struct session *s)
{
	struct agent_exit e = { AGENT_EXIT_CODE, 0 };
	uint8_t p[8];

	if (!s->out_eof_sent)
		push_frame(s, AGENT_MSG_STDOUT, NULL, 0);
	if (!s->err_eof_sent)
		push_frame(s, AGENT_MSG_STDERR, NULL, 0);
	if (WIFSIGNALED(s->status)) {
		e.kind = AGENT_EXIT_SIGNAL;
		e.value = (uint32_t)WTERMSIG(s->status);
	} else {
		e.value = (uint32_t)WEXITSTATUS(s->status);
	}
	agent_put_u32(p, e.kind);
	agent_put_u32(p + 4, e.value);
	push_frame(s, AGENT_MSG_EXIT, p, sizeof(p));
	s->kind = SESSION_CLOSING;
}

/*
 * A PTY master keeps blocking while any other process holds the terminal,
 * so once the command itself is gone, take what is buffered and stop.
 */
static void drain_pty(struct session *s)
{
	while (s->child_out >= 0 && output_room(s))
		if (!read_output(s, &s->child_out, AGENT_MSG_STDOUT, &s->out_eof_sent))
			break;
	if (s->child_out >= 0 && output_room(s)) {
		close_fd(&s->child_out);
		push_frame(s, AGENT_MSG_STDOUT, NULL, 0);
		s->out_eof_sent = true;
	}
}

bool session_advance(struct session *s, struct agent *a, int *timeout_ms)
{
	if (s->conn >= 0)
		process_frames(s, a);
	if (s->kind == SESSION_COMMAND && !s->child_alive) {
		drop_stdin(s);
		if (s->tty)
			drain_pty(s);
		if (s->child_out < 0 && s->child_err < 0)
			send_exit(s);
	}
	if (s->conn >= 0 && bq_len(&s->out))
		flush_conn(s);
	if (s->conn >= 0 && s->kind == SESSION_CLOSING && !bq_len(&s->out))
		close_conn(s);
	if (s->kill_pending) {
		int ms = ms_until(&s->kill_at);

		if (ms == 0) {
			kill(-s->pid, SIGKILL);
			s->kill_pending = false;
		} else if (*timeout_ms < 0 || ms < *timeout_ms) {
			*timeout_ms = ms;
		}
	}
	return s->conn < 0 && !s->child_alive;
}
