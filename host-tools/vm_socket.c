#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "host-tools/vm_socket.h"
#include "host-tools/vm_dir.h"

#define CONNECT_TIMEOUT_S 5

bool vm_runtime_dir_valid(const char *runtime_dir)
{
	return runtime_dir[0] == '/';
}

/* An O_PATH handle on <file> if it is a socket only the VM's side made. */
static int pin_socket(int dir_fd, const char *file, uid_t owner)
{
	int fd = openat(dir_fd, file, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != 0 && st.st_uid != owner))
		return vm_dir_refuse(fd);
	return fd;
}

/*
 * A Unix stream connect() to a full backlog waits for room, bounded by
 * SO_SNDTIMEO (then EAGAIN): so a listener that never accepts costs a
 * client CONNECT_TIMEOUT_S, not forever. Unset again once connected.
 */
static int set_send_timeout(int fd, time_t seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int connect_pinned(int handle)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d", handle);
	if (fd >= 0 && (set_send_timeout(fd, CONNECT_TIMEOUT_S) ||
			connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
			set_send_timeout(fd, 0))) {
		int saved = errno == EAGAIN ? ETIMEDOUT : errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static bool server_trusted(int fd, uid_t owner)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return !getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) &&
	       (cred.uid == 0 || cred.uid == owner);
}

int vm_socket_connect(const char *runtime_dir, const char *name, const char *file)
{
	uid_t owner = 0;
	int dir_fd = vm_dir_open(runtime_dir, name, &owner), handle = -1, fd = -1, saved;

	if (dir_fd >= 0)
		handle = pin_socket(dir_fd, file, owner);
	if (handle >= 0)
		fd = connect_pinned(handle);
	saved = errno;
	if (fd >= 0 && !server_trusted(fd, owner))
		fd = vm_dir_refuse(fd), saved = EPERM;
	if (handle >= 0)
		close(handle);
	if (dir_fd >= 0)
		close(dir_fd);
	errno = saved;
	return fd;
}
