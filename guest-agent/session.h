/* One client connection: a command session or a state watch. */
#ifndef VMSILO_AGENT_SESSION_H
#define VMSILO_AGENT_SESSION_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "guest-agent/agent.h"

/* A byte queue of fixed capacity; data lives in buf[start, end). */
struct byteq {
	uint8_t *buf;
	size_t start, end, cap;
};

enum session_kind {
	SESSION_NEW,     /* waiting for EXEC or WATCH */
	SESSION_COMMAND, /* an attached command */
	SESSION_WATCH,
	SESSION_CLOSING, /* flushing the last frames, then closing */
};

enum session_role { ROLE_CONN, ROLE_CHILD_IN, ROLE_CHILD_OUT, ROLE_CHILD_ERR };

struct session {
	enum session_kind kind;
	int conn;
	uint8_t *in;    /* received bytes, at most one whole frame */
	size_t in_len;
	struct byteq out;      /* frames for the client */
	struct byteq stdin_q;  /* one STDIN payload on its way to the command */
	bool stdin_eof;
	bool tty;
	pid_t pid;
	bool child_alive;
	int status;
	int child_in, child_out, child_err;
	bool out_eof_sent, err_eof_sent;
	bool kill_pending;
	struct timespec kill_at;
};

struct session *session_new(int conn);
void session_free(struct session *s);

/* Adds the session's fds to pfd/roles; returns how many. At most 4. */
int session_poll_fds(const struct session *s, struct pollfd *pfd, enum session_role *roles);
void session_handle(struct session *s, struct agent *a, enum session_role role,
		    int fd, short revents);
/*
 * Moves the session on after I/O: queued frames, finished commands,
 * deadlines. Returns true when the session is over and can be freed.
 * *timeout_ms is lowered to the session's next deadline.
 */
bool session_advance(struct session *s, struct agent *a, int *timeout_ms);
/* The command (s->pid) exited with wait status. */
void session_reaped(struct session *s, int status);
/* Counts towards the agent's running commands. */
bool session_is_running(const struct session *s);
void session_send_state(struct session *s, const struct agent_state *st);

#endif
