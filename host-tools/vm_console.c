#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "host-tools/vm_dir.h"
#include "host-tools/vm_console.h"

#define PTS_DIR "/dev/pts/"
/* Unix98 PTY slaves: majors 136 to 143 (Documentation/admin-guide/devices.txt). */
#define PTY_SLAVE_MAJOR_FIRST 136u
#define PTY_SLAVE_MAJOR_LAST 143u

/* Exactly "/dev/pts/<digits>": no "..", no other directory. */
static bool pty_slave_path(const char *target)
{
	const char *n = target + strlen(PTS_DIR);

	if (strncmp(target, PTS_DIR, strlen(PTS_DIR)) || !*n || strlen(n) > 9)
		return false;
	for (; *n; n++)
		if (!isdigit((unsigned char)*n))
			return false;
	return true;
}

/* The target of the console link into target, if it is a PTY slave's path. */
static int console_target(int dir_fd, char *target, size_t len)
{
	ssize_t n = readlinkat(dir_fd, "console", target, len);

	if (n < 0)
		return errno == EINVAL ? vm_dir_refuse(-1) : -1;	/* EINVAL: not a link */
	if ((size_t)n >= len)
		return vm_dir_refuse(-1);
	target[n] = '\0';
	return pty_slave_path(target) ? 0 : vm_dir_refuse(-1);
}

static bool is_vm_pty(int fd, uid_t owner)
{
	struct stat st;

	return !fstat(fd, &st) && S_ISCHR(st.st_mode) &&
	       major(st.st_rdev) >= PTY_SLAVE_MAJOR_FIRST &&
	       major(st.st_rdev) <= PTY_SLAVE_MAJOR_LAST && st.st_uid == owner;
}

/* Opens what handle pins, not whatever its name now leads to. */
static int reopen(int handle)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", handle);
	return open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
}

int vm_console_open(const char *runtime_dir, const char *name)
{
	char target[64];
	uid_t owner = 0;
	int dir_fd = vm_dir_open(runtime_dir, name, &owner), handle = -1, fd = -1, saved;

	if (dir_fd >= 0 && !console_target(dir_fd, target, sizeof(target)))
		handle = open(target, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (handle >= 0 && !is_vm_pty(handle, owner))
		handle = vm_dir_refuse(handle);
	if (handle >= 0)
		fd = reopen(handle);
	saved = errno;
	if (handle >= 0)
		close(handle);
	if (dir_fd >= 0)
		close(dir_fd);
	errno = saved;
	return fd;
}
