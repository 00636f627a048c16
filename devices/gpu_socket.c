/* STUB until hD's lands: the least of gpu_socket.h for gpu.c to build and run. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/gpu_socket.h"

int gpu_socket_path(const char *configured, uid_t user, char *path, size_t len)
{
	const char *dir = getenv("XDG_RUNTIME_DIR"), *display = getenv("WAYLAND_DISPLAY");
	int n;

	if (!display || !*display)
		display = "wayland-0";
	if (configured)
		n = snprintf(path, len, "%s", configured);
	else if (display[0] == '/')
		n = snprintf(path, len, "%s", display);
	else if (dir && *dir && geteuid() == user)
		n = snprintf(path, len, "%s/%s", dir, display);
	else
		n = snprintf(path, len, "/run/user/%u/%s", (unsigned)user, display);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int gpu_socket_open(const char *name, const char *path, uid_t user, char *err, size_t errlen)
{
	int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) || !S_ISSOCK(st.st_mode) ||
	    (st.st_uid != user && st.st_uid != 0)) {
		int e = fd < 0 ? errno : ENOTSOCK;

		snprintf(err, errlen, "%s: no Wayland compositor socket at %s: %s; start the "
			 "compositor or set [gpu] wayland_socket", name, path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}
