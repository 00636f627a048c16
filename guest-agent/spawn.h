/* Starting a requested command: user, environment, stdio, exec. */
#ifndef VMSILO_AGENT_SPAWN_H
#define VMSILO_AGENT_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "guest-agent/protocol.h"

struct spawn_config {
	const char *user;        /* run as this account; NULL = the agent's own */
	const char *passwd_path; /* /etc/passwd unless a test says otherwise */
	const char *group_path;
};

struct spawned {
	pid_t pid;  /* also its process group and session id */
	int in_fd;  /* write end of its stdin, or -1 (detached) */
	int out_fd; /* read end of stdout (the PTY master with TTY), or -1 */
	int err_fd; /* read end of stderr, or -1 (detached or TTY) */
};

/*
 * Forks and execs the command of v. Returns 0 once the exec succeeded,
 * -1 with a one-line reason in err (exec failed, unknown user, ...). The
 * parent's fds are non-blocking and close-on-exec.
 */
int spawn_command(const struct spawn_config *cfg, const struct agent_exec_view *v,
		  struct spawned *out, char *err, size_t errlen);

#endif
