#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/console.h"
#include "vmm/errfmt.h"
#include "vmm/log.h"
#include "vmm/runtime_dir.h"

#define ESCAPE_CHAR 0x01	/* Ctrl-A */

static void make_raw(int fd, struct termios *saved)
{
	struct termios t;

	if (tcgetattr(fd, &t))
		return;
	if (saved)
		*saved = t;
	cfmakeraw(&t);
	t.c_oflag |= OPOST;	/* our own log lines still start at column 0 */
	tcsetattr(fd, TCSANOW, &t);
}

static int open_stdout(struct console *con)
{
	con->out_fd = STDOUT_FILENO;
	if (isatty(STDIN_FILENO)) {
		con->in_fd = STDIN_FILENO;
		make_raw(STDIN_FILENO, &con->saved);
		con->tty_raw = true;
		log_info("console: attached to this terminal; press Ctrl-A x to stop the VM");
	}
	return 0;
}

/* <runtime_dir>/<name>/console -> the PTY, both the user's. */
static int publish_pty(struct console *con, struct runtime_dir *rd, const char *pts,
		       char *err, size_t errlen)
{
	if (con->pty_peer_fd < 0)
		return errfmt_sys(err, errlen, errno, "console: cannot open %s", pts);
	if (runtime_dir_give(rd, con->pty_peer_fd) ||
	    runtime_dir_link(rd, "console", pts, err, errlen))
		return -1;
	if (asprintf(&con->link_path, "%s/console", rd->path) < 0)
		con->link_path = NULL;
	log_info("console: %s/console -> %s", rd->path, pts);
	return 0;
}

static int open_pty(struct console *con, struct runtime_dir *rd, char *err, size_t errlen)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	const char *pts;

	if (master < 0 || grantpt(master) || unlockpt(master) || !(pts = ptsname(master))) {
		if (master >= 0)
			close(master);
		return errfmt_sys(err, errlen, errno, "console: cannot allocate a PTY");
	}
	con->pty_peer_fd = open(pts, O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
	if (con->pty_peer_fd >= 0)
		make_raw(con->pty_peer_fd, NULL);
	con->out_fd = con->in_fd = master;
	return publish_pty(con, rd, pts, err, errlen);
}

int console_open(struct console *con, const struct vm_config *cfg, struct runtime_dir *rd,
		 char *err, size_t errlen)
{
	memset(con, 0, sizeof(*con));
	con->mode = cfg->console.mode;
	con->out_fd = con->in_fd = con->pty_peer_fd = -1;
	switch (cfg->console.mode) {
	case CONSOLE_STDOUT:
		return open_stdout(con);
	case CONSOLE_FILE:
		con->out_fd = open(cfg->console.path,
				   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND | O_NOFOLLOW,
				   0640);
		return con->out_fd < 0 ? errfmt_sys(err, errlen, errno, "console: cannot open %s",
						     cfg->console.path) : 0;
	case CONSOLE_PTY:
		return open_pty(con, rd, err, errlen);
	case CONSOLE_NONE:
		return 0;
	}
	return 0;
}

void console_close(struct console *con)
{
	if (con->tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &con->saved);
	free(con->link_path);	/* the link itself goes with the runtime directory */
	if (con->mode == CONSOLE_FILE || con->mode == CONSOLE_PTY)
		close(con->out_fd);
	if (con->pty_peer_fd >= 0)
		close(con->pty_peer_fd);
	memset(con, 0, sizeof(*con));
	con->out_fd = con->in_fd = con->pty_peer_fd = -1;
}

bool console_filter_input(struct console *con, char *buf, size_t *len)
{
	size_t out = 0;

	if (!con->tty_raw)
		return false;
	for (size_t i = 0; i < *len; i++) {
		if (con->saw_escape) {
			con->saw_escape = false;
			if (buf[i] == 'x')
				return true;
			if (buf[i] != ESCAPE_CHAR)
				buf[out++] = ESCAPE_CHAR;
			buf[out++] = buf[i];
		} else if (buf[i] == ESCAPE_CHAR) {
			con->saw_escape = true;
		} else {
			buf[out++] = buf[i];
		}
	}
	*len = out;
	return false;
}
