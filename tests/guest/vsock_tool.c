/*
 * vsock-tool: a small static helper for testing vsock streams, in the guest
 * (AF_VSOCK) and on the host (through a VMM's vsock.socket).
 *
 *   vsock-tool connect ADDR             stdin to the stream, the stream to
 *                                       stdout; stdin's EOF half-closes it
 *   vsock-tool listen PORT              the same for one incoming stream
 *   vsock-tool serve PORT CMD [ARG]...  in the background once listening:
 *                                       each stream runs CMD on its stdin/stdout
 *   vsock-tool many ADDR COUNT BYTES    COUNT streams open at once to an echo
 *                                       server, BYTES of its own data each,
 *                                       every echo compared
 *   vsock-tool gen BYTES [SEED]         BYTES of a repeatable pattern to stdout
 *
 * ADDR is vsock:CID:PORT, or unix:PATH:PORT for a VMM's vsock.socket
 * ("CONNECT PORT" and its "OK" answer first). Exit status 0, or 1 with one
 * line on stderr, e.g. "vsock-tool: connect vsock:2:5001: Connection reset
 * by peer".
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define CHUNK 65536

static _Noreturn void die(const char *fmt, ...)
{
	va_list ap;

	fputs("vsock-tool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static unsigned long long number(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		die("%s: not a number: %s", what, s);
	return v;
}

/* Byte o of the pattern for seed: the same on both ends of a test. */
static uint64_t word(uint64_t seed, uint64_t i)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15ull + i + 1;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Bytes [off, off + len) of the pattern; a word at a time (slow CPUs: TCG). */
static void fill(uint8_t *buf, size_t len, uint64_t seed, uint64_t off)
{
	size_t k = 0;

	for (; k < len && (off + k) % 8; k++)
		buf[k] = (uint8_t)(word(seed, (off + k) / 8) >> ((off + k) % 8 * 8));
	for (; k + 8 <= len; k += 8) {
		uint64_t w = word(seed, (off + k) / 8);

		for (unsigned b = 0; b < 8; b++)
			buf[k + b] = (uint8_t)(w >> (b * 8));
	}
	for (; k < len; k++)
		buf[k] = (uint8_t)(word(seed, (off + k) / 8) >> ((off + k) % 8 * 8));
}

static void write_all(int fd, const uint8_t *buf, size_t len, const char *what)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("%s: %s", what, strerror(errno));
		buf += w;
		len -= (size_t)w;
	}
}

/* "OK <port>" from the VMM, read byte by byte: nothing after it is taken. */
static void handshake(int fd, const char *addr, const char *port)
{
	char line[64];
	size_t n = 0;
	char c;

	snprintf(line, sizeof(line), "CONNECT %s\n", port);
	write_all(fd, (const uint8_t *)line, strlen(line), addr);
	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("connect %s: %s", addr, strerror(errno));
		if (r == 0)
			die("connect %s: refused (closed without OK)", addr);
		if (c == '\n' || n == sizeof(line) - 1)
			break;
		line[n++] = c;
	}
	line[n] = '\0';
	if (strncmp(line, "OK ", 3))
		die("connect %s: expected \"OK <port>\", got \"%s\"", addr, line);
}

static int connect_addr(const char *addr)
{
	char *copy = strdup(addr), *port = strrchr(copy, ':'), *rest;
	int fd;

	if (!port || port == copy)
		die("%s: expected vsock:CID:PORT or unix:PATH:PORT", addr);
	*port++ = '\0';
	if (!strncmp(copy, "vsock:", 6)) {
		struct sockaddr_vm a = {
			.svm_family = AF_VSOCK,
			.svm_cid = (unsigned)number(copy + 6, "cid"),
			.svm_port = (unsigned)number(port, "port"),
		};

		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
			die("connect %s: %s", addr, strerror(errno));
	} else if (!strncmp(copy, "unix:", 5)) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		rest = copy + 5;
		if (strlen(rest) >= sizeof(a.sun_path))
			die("%s: path too long", addr);
		strcpy(a.sun_path, rest);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
			die("connect %s: %s", addr, strerror(errno));
		number(port, "port");
		handshake(fd, addr, port);
	} else {
		die("%s: expected vsock:CID:PORT or unix:PATH:PORT", addr);
	}
	free(copy);
	return fd;
}

static int listen_vsock(const char *port_arg)
{
	struct sockaddr_vm a = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
		.svm_port = (unsigned)number(port_arg, "port"),
	};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 128))
		die("listen on port %s: %s", port_arg, strerror(errno));
	return fd;
}

/*
 * stdin to fd and fd to stdout until both have ended. What stdin gave is
 * sent before more is read, and fd is read meanwhile, so an echoing peer
 * never deadlocks us.
 */
static void relay(int fd, const char *what)
{
	static uint8_t out[CHUNK], in[CHUNK];
	size_t len = 0, off = 0;
	bool in_eof = false, fd_eof = false;

	while (!fd_eof || !in_eof || len) {
		struct pollfd p[2] = {
			{ .fd = !in_eof && !len ? 0 : -1, .events = POLLIN },
			{ .fd = fd, .events = (short)((fd_eof ? 0 : POLLIN) | (len ? POLLOUT : 0)) },
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (p[0].revents) {
			ssize_t r = read(0, out, sizeof(out));

			if (r < 0 && errno != EINTR)
				die("stdin: %s", strerror(errno));
			if (r == 0) {
				in_eof = true;
				shutdown(fd, SHUT_WR);
			}
			len = r > 0 ? (size_t)r : 0, off = 0;
		}
		if (p[1].revents & POLLOUT || (len && p[1].revents & (POLLERR | POLLHUP))) {
			ssize_t w = send(fd, out + off, len, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w < 0 && errno != EAGAIN && errno != EINTR)
				die("%s: %s", what, strerror(errno));
			if (w > 0)
				off += (size_t)w, len -= (size_t)w;
			if (!len && in_eof)
				shutdown(fd, SHUT_WR);
		}
		if (p[1].revents & (POLLIN | POLLERR | POLLHUP) && !fd_eof) {
			ssize_t r = read(fd, in, sizeof(in));

			if (r < 0 && errno != EINTR && errno != EAGAIN)
				die("%s: %s", what, strerror(errno));
			if (r == 0)
				fd_eof = true;
			if (r > 0)
				write_all(1, in, (size_t)r, "stdout");
		}
	}
}

static int accept_one(int lfd)
{
	int fd;

	do
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		die("accept: %s", strerror(errno));
	return fd;
}

static void serve(const char *port, char **cmd)
{
	int lfd = listen_vsock(port);
	struct sigaction sa = { .sa_handler = SIG_IGN, .sa_flags = SA_NOCLDWAIT };

	sigaction(SIGCHLD, &sa, NULL);	/* children reap themselves */
	if (fork())
		exit(0);		/* listening already: the caller may connect */
	setsid();
	for (;;) {
		int fd = accept_one(lfd);

		if (fork() == 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			execvp(cmd[0], cmd);
			die("%s: %s", cmd[0], strerror(errno));
		}
		close(fd);
	}
}

struct stream {
	int fd;
	uint64_t sent, got;
	bool eof;
};

/* All streams open before any byte moves: COUNT at once, for real. */
static void many(const char *addr, unsigned count, uint64_t bytes)
{
	struct stream *s = calloc(count, sizeof(*s));
	struct pollfd *p = calloc(count, sizeof(*p));
	static uint8_t buf[CHUNK], want[CHUNK];
	unsigned done = 0;

	for (unsigned i = 0; i < count; i++)
		s[i].fd = connect_addr(addr);
	while (done < count) {
		for (unsigned i = 0; i < count; i++)
			p[i] = (struct pollfd){
				.fd = s[i].eof ? -1 : s[i].fd,
				.events = (short)(POLLIN | (s[i].sent < bytes ? POLLOUT : 0)),
			};
		if (poll(p, count, 120000) <= 0)
			die("many: no progress for 120 s (%u of %u streams done)", done, count);
		for (unsigned i = 0; i < count; i++) {
			struct stream *t = &s[i];

			if (p[i].revents & POLLOUT && t->sent < bytes) {
				size_t n = bytes - t->sent < CHUNK ? (size_t)(bytes - t->sent) : CHUNK;
				ssize_t w;

				fill(buf, n, i + 1, t->sent);
				w = send(t->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (w < 0 && errno != EAGAIN)
					die("many: stream %u: send: %s", i, strerror(errno));
				if (w > 0)
					t->sent += (uint64_t)w;
				if (t->sent == bytes)
					shutdown(t->fd, SHUT_WR);
			}
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = recv(t->fd, buf, sizeof(buf), MSG_DONTWAIT);

				if (r < 0 && errno != EAGAIN)
					die("many: stream %u: recv: %s", i, strerror(errno));
				if (r == 0) {
					if (t->got != bytes)
						die("many: stream %u ended after %llu of %llu bytes", i,
						    (unsigned long long)t->got, (unsigned long long)bytes);
					t->eof = true;
					done++;
					close(t->fd);
				}
				if (r <= 0)
					continue;
				fill(want, (size_t)r, i + 1, t->got);
				if (t->got + (uint64_t)r > bytes || memcmp(buf, want, (size_t)r))
					die("many: stream %u: wrong data at byte %llu", i,
					    (unsigned long long)t->got);
				t->got += (uint64_t)r;
			}
		}
	}
	printf("many: %u streams of %llu bytes echoed intact\n", count, (unsigned long long)bytes);
}

static void gen(uint64_t bytes, uint64_t seed)
{
	static uint8_t buf[CHUNK];

	for (uint64_t off = 0; off < bytes; off += CHUNK) {
		size_t n = bytes - off < CHUNK ? (size_t)(bytes - off) : CHUNK;

		fill(buf, n, seed, off);
		write_all(1, buf, n, "stdout");
	}
}

static _Noreturn void usage(void)
{
	fputs("usage: vsock-tool connect ADDR | listen PORT | serve PORT CMD [ARG]... |\n"
	      "       many ADDR COUNT BYTES | gen BYTES [SEED]\n"
	      "ADDR: vsock:CID:PORT or unix:PATH:PORT\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && !strcmp(argv[1], "connect")) {
		relay(connect_addr(argv[2]), argv[2]);
	} else if (argc == 3 && !strcmp(argv[1], "listen")) {
		int lfd = listen_vsock(argv[2]), fd = accept_one(lfd);

		close(lfd);
		relay(fd, "stream");
	} else if (argc >= 4 && !strcmp(argv[1], "serve")) {
		serve(argv[2], argv + 3);
	} else if (argc == 5 && !strcmp(argv[1], "many")) {
		many(argv[2], (unsigned)number(argv[3], "count"), number(argv[4], "bytes"));
	} else if ((argc == 3 || argc == 4) && !strcmp(argv[1], "gen")) {
		gen(number(argv[2], "bytes"), argc == 4 ? number(argv[3], "seed") : 0);
	} else {
		usage();
	}
	return 0;
}
