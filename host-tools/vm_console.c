#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "host-tools/vm_console.h"

int vm_console_open(const char *runtime_dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/console", runtime_dir, name) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 && !isatty(fd)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}
