/*
 * vm-shell: this terminal on a VM's serial console, the PTY its VMM links
 * as <runtime_dir>/<NAME>/console ([console] mode = "pty"). Ctrl-]
 * detaches and leaves the VM running.
 *
 *   vm-shell [--runtime-dir DIR] NAME
 *
 * Exit status 0 after detaching or when the VM's console closes, 1 when
 * it cannot attach.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "host-tools/control_client.h"
#include "host-tools/vm_console.h"
#include "host-tools/vm_socket.h"

#define ESCAPE_BYTE 0x1d	/* Ctrl-] */

static struct termios saved;
static bool raw;

static void restore_terminal(void)
{
	if (raw)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
	raw = false;
}

static void make_raw(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved))
		return;
	t = saved;
	cfmakeraw(&t);
	if (!tcsetattr(STDIN_FILENO, TCSADRAIN, &t)) {
		raw = true;
		atexit(restore_terminal);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vm-shell [--runtime-dir DIR] NAME\n"
		"Attaches this terminal to the serial console of the VM NAME (its config needs\n"
		"[console] mode = \"pty\"). Ctrl-] detaches; the VM keeps running.\n"
		"  --runtime-dir DIR  where the VMs' sockets are (default %s)\n",
		VMSILO_DEFAULT_RUNTIME_DIR);
}

static const char *parse_options(int argc, char **argv, const char **runtime_dir)
{
	int i;

	*runtime_dir = VMSILO_DEFAULT_RUNTIME_DIR;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "--runtime-dir") && i + 1 < argc)
			*runtime_dir = argv[++i];
		else if (!strncmp(argv[i], "--runtime-dir=", 14))
			*runtime_dir = argv[i] + 14;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			usage(stdout), exit(0);
		else
			usage(stderr), exit(1);
	}
	if (i + 1 != argc) {
		usage(stderr);
		exit(1);
	}
	if (!vm_name_valid(argv[i])) {
		fprintf(stderr, "vm-shell: \"%s\" is not a VM name ([A-Za-z0-9_.-], 1..64 chars)\n",
			argv[i]);
		exit(1);
	}
	if (!vm_runtime_dir_valid(*runtime_dir)) {
		fprintf(stderr, "vm-shell: --runtime-dir must be an absolute path, got \"%s\"\n",
			*runtime_dir);
		exit(1);
	}
	return argv[i];
}

static int open_console(const char *runtime_dir, const char *name)
{
	char control[PATH_MAX];
	struct stat st;
	int fd = vm_console_open(runtime_dir, name), err = errno;

	if (fd >= 0)
		return fd;
	if (err == ENAMETOOLONG ||
	    vm_runtime_path(control, sizeof(control), runtime_dir, name, "control.socket"))
		fprintf(stderr, "vm-shell: %s/%s: path too long\n", runtime_dir, name);
	else if (err == EPERM)
		fprintf(stderr, "vm-shell: refused %s/%s/console: not the VM's console PTY "
			"(a link to /dev/pts/N owned by the directory's owner)\n", runtime_dir, name);
	else if (err == ENOENT && !stat(control, &st))
		fprintf(stderr, "vm-shell: %s has no console PTY (its config needs [console] "
			"mode = \"pty\")\n", name);
	else if (err == ENOENT)
		fprintf(stderr, "vm-shell: %s is not running (no %s/%s/console)\n", name,
			runtime_dir, name);
	else
		fprintf(stderr, "vm-shell: %s/%s/console: %s\n", runtime_dir, name, strerror(err));
	exit(1);
}

/* Writes all of buf to a possibly non-blocking fd; -1 when it is gone. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			poll(&(struct pollfd){ .fd = fd, .events = POLLOUT }, 1, 1000);
			continue;
		}
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int stop_signals_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_CLOEXEC);
}

enum end { DETACHED, CLOSED, SIGNALLED };

static enum end relay(int console, int sig_fd)
{
	char buf[4096];

	for (;;) {
		struct pollfd fds[] = {
			{ .fd = STDIN_FILENO, .events = POLLIN },
			{ .fd = console, .events = POLLIN },
			{ .fd = sig_fd, .events = POLLIN },
		};
		ssize_t n;

		if (poll(fds, 3, -1) < 0 && errno != EINTR)
			return CLOSED;
		if (fds[2].revents)
			return SIGNALLED;
		if (fds[1].revents) {
			n = read(console, buf, sizeof(buf));
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				return CLOSED;	/* EIO: the VMM closed its side */
			if (n > 0 && write_all(STDOUT_FILENO, buf, (size_t)n))
				return CLOSED;
		}
		if (fds[0].revents) {
			char *escape;

			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return DETACHED;	/* no more input: nothing left to do */
			escape = memchr(buf, ESCAPE_BYTE, (size_t)n);
			if (write_all(console, buf, escape ? (size_t)(escape - buf) : (size_t)n))
				return CLOSED;
			if (escape)
				return DETACHED;
		}
	}
}

int main(int argc, char **argv)
{
	const char *runtime_dir, *name = parse_options(argc, argv, &runtime_dir);
	int console = open_console(runtime_dir, name);
	int sig_fd = stop_signals_fd();
	enum end end;

	fprintf(stderr, "vm-shell: attached to the console of %s; Ctrl-] detaches\r\n", name);
	make_raw();
	end = relay(console, sig_fd);
	restore_terminal();
	if (end == CLOSED)
		fprintf(stderr, "\r\nvm-shell: the console of %s closed (the VM stopped)\n", name);
	else
		fprintf(stderr, "\r\nvm-shell: detached from %s; it keeps running\n", name);
	return 0;
}
