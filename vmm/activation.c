#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/activation.h"
#include "vmm/errfmt.h"
#include "vmm/log.h"

#define MAX_ACTIVATION_FDS 64

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && !*end && *out <= max;
}

/* Index of want in the colon-separated names, or -1; -2 if the count is wrong. */
static int find_name(const char *names, unsigned long n, const char *want)
{
	size_t want_len = strlen(want);
	unsigned long i = 0;
	int found = -1;

	for (const char *p = names;; i++) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);

		if (found < 0 && len == want_len && !memcmp(p, want, len))
			found = (int)i;
		if (!colon)
			break;
		p = colon + 1;
	}
	return i + 1 == n ? found : -2;
}

int activation_parse(const char *listen_pid, const char *listen_fds, const char *fdnames,
		     pid_t self, const char *want, int *fd, char *err, size_t errlen)
{
	unsigned long pid, n;
	int index = 0;

	*fd = -1;
	if (!listen_pid || !listen_fds)
		return 0;
	if (!parse_uint(listen_pid, LONG_MAX, &pid) || pid != (unsigned long)self)
		return 0;	/* meant for another process */
	if (!parse_uint(listen_fds, MAX_ACTIVATION_FDS, &n)) {
		snprintf(err, errlen, "socket activation: LISTEN_FDS=\"%s\" is not a number of fds "
			 "(0..%d)", listen_fds, MAX_ACTIVATION_FDS);
		return -1;
	}
	if (n == 0)
		return 0;
	if (fdnames)
		index = find_name(fdnames, n, want);
	if (index == -2) {
		snprintf(err, errlen, "socket activation: LISTEN_FDNAMES=\"%s\" does not name the "
			 "%lu fds of LISTEN_FDS", fdnames, n);
		return -1;
	}
	if (index < 0 && n > 1) {
		snprintf(err, errlen, "socket activation: %lu sockets handed in and none is named "
			 "\"%s\" (set FileDescriptorName=%s in the .socket unit)", n, want, want);
		return -1;
	}
	*fd = ACTIVATION_FIRST_FD + (index < 0 ? 0 : index);
	return 0;
}

static int prepare_listener(int fd, char *err, size_t errlen)
{
	struct stat st;
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);

	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &(socklen_t){ sizeof(int) }) ||
	    !listening) {
		snprintf(err, errlen, "socket activation: fd %d is not a listening stream socket "
			 "(use ListenStream= without Accept=yes)", fd);
		return -1;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)) {
		return errfmt_sys(err, errlen, errno, "socket activation: fd %d", fd);
	}
	return 0;
}

int activation_command_fd(int *fd, char *err, size_t errlen)
{
	const char *fds = getenv("LISTEN_FDS");
	unsigned long n = 0;
	int rc = activation_parse(getenv("LISTEN_PID"), fds, getenv("LISTEN_FDNAMES"), getpid(),
				  "command", fd, err, errlen);

	if (*fd >= 0 && parse_uint(fds, MAX_ACTIVATION_FDS, &n)) {
		for (unsigned long i = 0; i < n; i++) {
			int other = ACTIVATION_FIRST_FD + (int)i;

			if (other != *fd) {
				log_warn("socket activation: closing fd %d, which is not \"command\"", other);
				close(other);
			}
		}
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (rc || *fd < 0)
		return rc;
	if (prepare_listener(*fd, err, errlen)) {
		*fd = -1;
		return -1;
	}
	log_info("socket activation: command.socket is fd %d", *fd);
	return 0;
}

static struct sockaddr_un notify_addr;
static socklen_t notify_addr_len;

void notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len = path ? strlen(path) : 0;

	notify_addr_len = 0;
	if (!path)
		return;
	if (len < 2 || len >= sizeof(notify_addr.sun_path) || (path[0] != '/' && path[0] != '@')) {
		log_warn("NOTIFY_SOCKET=\"%s\" is not a Unix socket path; not notifying", path);
	} else {
		notify_addr.sun_family = AF_UNIX;
		memcpy(notify_addr.sun_path, path, len);
		if (path[0] == '@')
			notify_addr.sun_path[0] = '\0';	/* abstract: no NUL at the end */
		else
			len++;
		notify_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	}
	unsetenv("NOTIFY_SOCKET");
}

int notify_send(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int fd, len;
	ssize_t sent;

	if (!notify_addr_len)
		return 0;
	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(msg))
		len = sizeof(msg) - 1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sent = sendto(fd, msg, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT,
		      (const struct sockaddr *)&notify_addr, notify_addr_len);
	close(fd);
	if (sent != len) {
		log_warn("sd_notify \"%.*s\": %s", len, msg, sent < 0 ? strerror(errno) : "short send");
		return -1;
	}
	return 0;
}
