/*
 * The host compositor's socket of gpu_socket.h: its path from the config
 * or the environment, then vmm/path_trust.h's walk with the VM's user
 * trusted besides root (their runtime directory is theirs), ending on an
 * O_PATH fd of the socket that the jail binds.
 */
#include "devices/gpu_socket.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/path_trust.h"

#define DEFAULT_DISPLAY "wayland-0"
#define HINT "start the compositor or set [gpu] wayland_socket"

int gpu_socket_path(const char *configured, uid_t user, char *path, size_t len)
{
	const char *display = getenv("WAYLAND_DISPLAY"), *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (!display || !*display)
		display = DEFAULT_DISPLAY;
	if (configured)
		n = snprintf(path, len, "%s", configured);
	else if (display[0] == '/')
		n = snprintf(path, len, "%s", display);
	else if (geteuid() == user && xdg && xdg[0] == '/')
		n = snprintf(path, len, "%s/%s", xdg, display);
	else
		n = snprintf(path, len, "/run/user/%u/%s", (unsigned)user, display);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * path_trust's line is "<name>: <path>: <why>" with "; <hint>" after a
 * refusal: the why alone, into why.
 */
static void reason_only(const char *line, const char *name, const char *path, char *why,
			size_t len)
{
	size_t skip = strlen(name) + 2 + strlen(path) + 2, n;
	const char *end;

	if (strlen(line) < skip || strncmp(line, name, strlen(name)) ||
	    strncmp(line + strlen(name) + 2, path, strlen(path)))
		skip = 0;	/* not in that shape: all of it */
	line += skip;
	end = strstr(line, "; " HINT);
	n = end ? (size_t)(end - line) : strlen(line);
	snprintf(why, len, "%.*s", (int)n, line);
}

int gpu_socket_open(const char *name, const char *path, uid_t user, char *err, size_t errlen)
{
	const struct path_trust trust = {
		.key = name, .what = "the socket", .hint = HINT, .last = PATH_TRUST_SOCKET,
		.user = user,
	};
	char line[512], why[512];
	int fd = path_trust_open(&trust, path, line, sizeof(line)), e = errno;

	if (fd >= 0)
		return fd;
	reason_only(line, name, path, why, sizeof(why));
	snprintf(err, errlen, "%s: no Wayland compositor socket at %s: %s; " HINT, name, path, why);
	return e == ENOENT ? -ENOENT : -EPERM;
}

int gpu_socket_connect(const char *name, const char *path, uid_t user, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int at = gpu_socket_open(name, path, user, err, errlen), fd, e;

	if (at < 0)
		return at;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", at);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(at);
		return fd;
	}
	e = errno;
	snprintf(err, errlen, "%s: cannot connect to the compositor at %s: %s", name, path,
		 strerror(e));
	if (fd >= 0)
		close(fd);
	close(at);
	return -e;
}
