/*
 * vm-run: run a command in a VM through its guest agent.
 *
 *   vm-run [--runtime-dir DIR] [--detach] [--tty|--no-tty] NAME CMD [ARG...]
 *
 * Connects to DIR/NAME/command.socket, a stream to the guest agent (see
 * docs/agent-protocol.md), and behaves like the remote command: its stdin,
 * stdout and stderr, and its exit status (128+N for death by signal N).
 */
#include "guest-agent/protocol.h"
#include "host-tools/vm_socket.h"
#include "vmm/vm_name.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define SEND_CAP (2 * AGENT_MAX_FRAME)
#define EXIT_PROTOCOL 255
#define EXIT_EXEC_FAILED 127
/* Interrupts after which vm-run stops waiting for the command and leaves. */
#define GIVE_UP_SIGNALS 3
/*
 * Kept free of input in the send queue: the SIGNAL frames sent before
 * giving up always fit, even when the agent reads nothing.
 */
#define SIGNAL_ROOM (GIVE_UP_SIGNALS * (AGENT_HEADER_SIZE + 4))

struct options {
	const char *runtime_dir;
	const char *name;
	bool detach;
	int tty; /* -1: decide from stdin and stdout */
	char **argv;
	int argc;
};

struct client {
	const char *name;
	int sock;
	int sig_fd;
	bool tty;
	bool stdin_open;
	bool sock_writable;
	bool started;
	bool winsize_due;	/* the terminal changed size; not yet queued */
	uint8_t send[SEND_CAP];
	size_t send_len;
	uint8_t recv[AGENT_MAX_FRAME];
	size_t recv_len;
	int interrupts;
};

static struct termios saved_termios;
static bool termios_saved;

static void restore_terminal(void)
{
	if (termios_saved)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_termios);
	termios_saved = false;
}

static void die(int status, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
static void die(int status, const char *name, const char *fmt, ...)
{
	va_list ap;

	restore_terminal();
	fprintf(stderr, "vm-run: ");
	if (name)
		fprintf(stderr, "%s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vm-run [--runtime-dir DIR] [--detach] [--tty|--no-tty] NAME CMD [ARG...]\n"
		"Runs CMD in the VM NAME and exits with its status (128+N if signal N killed it).\n"
		"  --runtime-dir DIR  where the VMs' sockets are (default %s)\n"
		"  --detach, -d       start CMD (a GUI program) and return at once\n"
		"  --tty, -t          run CMD on a terminal (default when stdin and stdout are one)\n"
		"  --no-tty, -T       never\n",
		VMSILO_DEFAULT_RUNTIME_DIR);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	int i = 1;

	*o = (struct options){ .runtime_dir = VMSILO_DEFAULT_RUNTIME_DIR, .tty = -1 };
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "--runtime-dir") && i + 1 < argc) {
			o->runtime_dir = argv[++i];
		} else if (!strncmp(a, "--runtime-dir=", 14)) {
			o->runtime_dir = a + 14;
		} else if (!strcmp(a, "--detach") || !strcmp(a, "-d")) {
			o->detach = true;
		} else if (!strcmp(a, "--tty") || !strcmp(a, "-t")) {
			o->tty = 1;
		} else if (!strcmp(a, "--no-tty") || !strcmp(a, "-T")) {
			o->tty = 0;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else {
			fprintf(stderr, "vm-run: unknown option %s\n", a);
			usage(stderr);
			exit(2);
		}
	}
	if (argc - i < 2) {
		usage(stderr);
		exit(2);
	}
	o->name = argv[i];
	o->argv = argv + i + 1;
	o->argc = argc - i - 1;
	if (!vm_name_valid(o->name))
		die(2, NULL, "\"%s\" is not a VM name ([A-Za-z0-9_.-], 1..64 chars)", o->name);
	if (!vm_runtime_dir_valid(o->runtime_dir))
		die(2, NULL, "--runtime-dir must be an absolute path, got \"%s\"", o->runtime_dir);
}

static int connect_vm(const struct options *o)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s/command.socket", o->runtime_dir, o->name);
	int fd;

	if (n < 0 || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		die(2, o->name, "socket path too long: %s/%s/command.socket",
		    o->runtime_dir, o->name);
	fd = vm_socket_connect(o->runtime_dir, o->name, "command.socket");
	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENOTDIR)
		die(EXIT_PROTOCOL, o->name, "no such VM socket %s (is the VM started? vm-start %s)",
		    path, o->name);
	if (errno == ECONNREFUSED)
		die(EXIT_PROTOCOL, o->name, "nothing listens on %s (is the VM started? vm-start %s)",
		    path, o->name);
	if (errno == EACCES)
		die(EXIT_PROTOCOL, o->name, "permission denied on %s (only root and the VM's user may run commands)",
		    path);
	if (errno == EPERM)
		die(EXIT_PROTOCOL, o->name, "refusing %s: not a socket of the VM's (a link, or "
		    "someone else's)", path);
	die(EXIT_PROTOCOL, o->name, "cannot connect to %s: %s", path, strerror(errno));
}

static void queue_frame(struct client *c, uint32_t type, const void *p, size_t len)
{
	size_t n = agent_encode(c->send + c->send_len, SEND_CAP - c->send_len, type, p, len);

	if (!n)
		die(EXIT_PROTOCOL, c->name, "internal error: send queue full");
	c->send_len += n;
}

static void flush_send(struct client *c)
{
	size_t off = 0;

	while (off < c->send_len && c->sock_writable) {
		ssize_t n = send(c->sock, c->send + off, c->send_len - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			/* The agent closed; what it said before is still to be read. */
			c->sock_writable = false;
			c->stdin_open = false;
			off = c->send_len;
			break;
		}
		off += (size_t)n;
	}
	memmove(c->send, c->send + off, c->send_len - off);
	c->send_len -= off;
}

static void terminal_size(uint16_t *rows, uint16_t *cols)
{
	struct winsize ws = { 0 };

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws))
		ws.ws_row = ws.ws_col = 0;
	*rows = ws.ws_row;
	*cols = ws.ws_col;
}

static void send_exec(struct client *c, const struct options *o)
{
	const char *envv[1];
	char term[256];
	const char *t = getenv("TERM");
	struct agent_exec e = {
		.version = AGENT_PROTOCOL_VERSION,
		.flags = (o->detach ? AGENT_EXEC_DETACHED : 0) | (c->tty ? AGENT_EXEC_TTY : 0),
		.argc = (uint32_t)o->argc,
		.argv = (const char *const *)o->argv,
		.envv = envv,
	};
	size_t n;

	if (c->tty) {
		terminal_size(&e.rows, &e.cols);
		if (t && *t && strlen(t) < sizeof(term) - 6) {
			snprintf(term, sizeof(term), "TERM=%s", t);
			envv[e.envc++] = term;
		}
	}
	n = agent_encode_exec(c->send, SEND_CAP, &e);
	if (!n)
		die(2, c->name, "command line too long (the limit is %u bytes)", AGENT_MAX_PAYLOAD);
	c->send_len = n;
}

static void write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return; /* a closed stdout: the output is not wanted */
		p += n;
		len -= (size_t)n;
	}
}

static int exit_status(struct client *c, const uint8_t *p, uint32_t len)
{
	struct agent_exit e;
	const char *bad = agent_decode_exit(p, len, &e);

	if (bad)
		die(EXIT_PROTOCOL, c->name, "protocol error: %s", bad);
	return e.kind == AGENT_EXIT_SIGNAL ? 128 + (int)e.value : (int)e.value;
}

/* Handles one frame from the agent; returns an exit status when done, else -1. */
static int handle_frame(struct client *c, bool detach, uint32_t type,
			const uint8_t *p, uint32_t len)
{
	uint32_t pid;

	switch (type) {
	case AGENT_MSG_STARTED:
		if (agent_decode_u32(p, len, &pid))
			die(EXIT_PROTOCOL, c->name, "protocol error: bad STARTED");
		c->started = true;
		return detach ? 0 : -1;
	case AGENT_MSG_STDOUT:
		write_all(STDOUT_FILENO, p, len);
		return -1;
	case AGENT_MSG_STDERR:
		write_all(STDERR_FILENO, p, len);
		return -1;
	case AGENT_MSG_EXIT:
		return exit_status(c, p, len);
	case AGENT_MSG_ERROR:
		die(c->started ? EXIT_PROTOCOL : EXIT_EXEC_FAILED, c->name, "%.*s",
		    (int)len, (const char *)p);
	default:
		die(EXIT_PROTOCOL, c->name, "protocol error: unexpected %s (0x%x) from the agent",
		    agent_msg_name(type), type);
	}
}

static int read_sock(struct client *c, bool detach)
{
	struct agent_header h;
	ssize_t n;
	int r;

	do
		n = read(c->sock, c->recv + c->recv_len, sizeof(c->recv) - c->recv_len);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		die(EXIT_PROTOCOL, c->name, "the connection to the VM closed before the command %s",
		    c->started ? "finished" : "started");
	c->recv_len += (size_t)n;
	while ((r = agent_frame_ready(c->recv, c->recv_len, &h)) == 1) {
		int status = handle_frame(c, detach, h.type, c->recv + AGENT_HEADER_SIZE, h.length);
		size_t used = AGENT_HEADER_SIZE + h.length;

		if (status >= 0)
			return status;
		memmove(c->recv, c->recv + used, c->recv_len - used);
		c->recv_len -= used;
	}
	if (r < 0)
		die(EXIT_PROTOCOL, c->name, "protocol error: frame of %u bytes from the agent",
		    h.length);
	return -1;
}

static void read_stdin(struct client *c)
{
	uint8_t buf[AGENT_MAX_PAYLOAD];
	ssize_t n;

	do
		n = read(STDIN_FILENO, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		c->stdin_open = false;
		n = 0;
	}
	queue_frame(c, AGENT_MSG_STDIN, buf, (size_t)n);
}

/* Room in the send queue for input and window sizes. */
static size_t send_room(const struct client *c)
{
	size_t left = SEND_CAP - c->send_len;

	return left > SIGNAL_ROOM ? left - SIGNAL_ROOM : 0;
}

/* Only the latest size matters: one WINSIZE, once the queue has room. */
static void queue_winsize(struct client *c)
{
	uint16_t rows, cols;
	uint8_t p[4];

	if (!c->winsize_due || send_room(c) < AGENT_HEADER_SIZE + sizeof(p))
		return;
	terminal_size(&rows, &cols);
	agent_put_u16(p, rows);
	agent_put_u16(p + 2, cols);
	queue_frame(c, AGENT_MSG_WINSIZE, p, sizeof(p));
	c->winsize_due = false;
}

static void forward_signal(struct client *c)
{
	struct signalfd_siginfo si;
	uint8_t p[4];

	while (read(c->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGWINCH) {
			c->winsize_due |= c->tty;
			continue;
		}
		if (++c->interrupts >= GIVE_UP_SIGNALS)
			die(128 + (int)si.ssi_signo, c->name,
			    "gave up waiting for the command; disconnected");
		agent_put_u32(p, si.ssi_signo);
		queue_frame(c, AGENT_MSG_SIGNAL, p, sizeof(p));
	}
}

static int setup_signals(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		die(EXIT_PROTOCOL, NULL, "signalfd: %s", strerror(errno));
	return fd;
}

static void raw_terminal(void)
{
	struct termios t;

	if (tcgetattr(STDIN_FILENO, &saved_termios))
		return;
	termios_saved = true;
	atexit(restore_terminal);
	t = saved_termios;
	cfmakeraw(&t);
	tcsetattr(STDIN_FILENO, TCSADRAIN, &t);
}

static int run(struct client *c, bool detach)
{
	enum { P_SOCK, P_SIG, P_STDIN, P_COUNT };
	struct pollfd pfd[P_COUNT];

	for (;;) {
		bool room = send_room(c) >= AGENT_MAX_FRAME;

		pfd[P_SOCK] = (struct pollfd){ .fd = c->sock, .events = POLLIN };
		if (c->send_len && c->sock_writable)
			pfd[P_SOCK].events |= POLLOUT;
		pfd[P_SIG] = (struct pollfd){ .fd = c->sig_fd, .events = POLLIN };
		pfd[P_STDIN] = (struct pollfd){
			.fd = c->stdin_open && room ? STDIN_FILENO : -1, .events = POLLIN };
		if (poll(pfd, P_COUNT, -1) < 0) {
			if (errno == EINTR)
				continue;
			die(EXIT_PROTOCOL, c->name, "poll: %s", strerror(errno));
		}
		if (pfd[P_SIG].revents)
			forward_signal(c);
		queue_winsize(c);
		if (pfd[P_STDIN].revents)
			read_stdin(c);
		if (pfd[P_SOCK].revents & (POLLIN | POLLHUP | POLLERR)) {
			int status = read_sock(c, detach);

			if (status >= 0)
				return status;
		}
		flush_send(c);
	}
}

int main(int argc, char **argv)
{
	static struct client c;
	struct options o;

	parse_options(argc, argv, &o);
	c.name = o.name;
	c.tty = !o.detach &&
		(o.tty == 1 || (o.tty == -1 && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)));
	c.sig_fd = setup_signals();
	c.sock = connect_vm(&o);
	c.sock_writable = true;
	c.stdin_open = !o.detach;
	send_exec(&c, &o);
	if (c.tty && isatty(STDIN_FILENO))
		raw_terminal();
	flush_send(&c);
	return run(&c, o.detach);
}
