/*
 * Where the guest's serial console goes: stdout (input forwarded from a
 * terminal, raw, with Ctrl-A x to stop the VM), a file, a PTY published as
 * <runtime_dir>/<name>/console, or nowhere.
 */
#ifndef VMSILO_CONSOLE_H
#define VMSILO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

#include "vmm/config.h"

struct console {
	enum console_mode mode;
	int out_fd;		/* -1: discard */
	int in_fd;		/* -1: no input */
	int pty_peer_fd;	/* PTY mode: our open slave keeps reads from failing */
	char *link_path;	/* PTY mode: the published symlink, for messages */
	bool tty_raw;		/* stdin is a terminal we put in raw mode */
	struct termios saved;
	bool saw_escape;	/* Ctrl-A was the last byte */
};

struct runtime_dir;
/* PTY mode publishes the link in rd (and hands the PTY to its user). */
int console_open(struct console *con, const struct vm_config *cfg, struct runtime_dir *rd,
		 char *err, size_t errlen);
void console_close(struct console *con);
/* Filters input for the escape sequence: returns true when the user asked to
 * stop the VM; *len is shortened to the bytes meant for the guest. */
bool console_filter_input(struct console *con, char *buf, size_t *len);

#endif
