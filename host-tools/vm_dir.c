#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host-tools/vm_dir.h"

int vm_dir_refuse(int fd)
{
	if (fd >= 0)
		close(fd);
	errno = EPERM;
	return -1;
}

int vm_dir_open(const char *runtime_dir, const char *name, uid_t *owner)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", runtime_dir, name) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)	/* ELOOP, ENOTDIR: a link */
		return errno == ELOOP || errno == ENOTDIR ? vm_dir_refuse(-1) : -1;
	if (fstat(fd, &st)) {
		close(fd);
		return -1;
	}
	*owner = st.st_uid;
	return fd;
}
