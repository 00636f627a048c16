/*
 * LD_PRELOAD shim for test_vm_start_log.sh: the attacker's move in the
 * window between vm-start's walk of runtime_dir and its open of the log.
 * On the first open of a name ending in SWAP_ON_OPEN_NAME, the directory
 * SWAP_ON_OPEN_DIR is moved aside and replaced by a symlink to
 * SWAP_ON_OPEN_TARGET, then the open goes ahead as asked.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int open(const char *path, int flags, ...);
int open64(const char *path, int flags, ...);
int openat(int at, const char *path, int flags, ...);
int openat64(int at, const char *path, int flags, ...);

static void swap_if_named(const char *path)
{
	const char *name = getenv("SWAP_ON_OPEN_NAME"), *dir = getenv("SWAP_ON_OPEN_DIR"),
		   *target = getenv("SWAP_ON_OPEN_TARGET");
	size_t len = path ? strlen(path) : 0, name_len = name ? strlen(name) : 0;
	char aside[4096];

	if (!name || !dir || !target || len < name_len || strcmp(path + len - name_len, name))
		return;
	unsetenv("SWAP_ON_OPEN_NAME");
	snprintf(aside, sizeof(aside), "%s.aside", dir);
	if (rename(dir, aside) || symlink(target, dir))
		_exit(99);
}

static int real_openat(int at, const char *path, int flags, va_list ap)
{
	mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;

	swap_if_named(path);
	return (int)syscall(SYS_openat, at, path, flags, mode);
}

#define SHIM(fn, at_expr, ...)                                          \
	int fn(__VA_ARGS__, int flags, ...)                            \
	{                                                               \
		va_list ap;                                             \
		int fd;                                                 \
		va_start(ap, flags);                                    \
		fd = real_openat(at_expr, path, flags, ap);             \
		va_end(ap);                                             \
		return fd;                                              \
	}

SHIM(open, AT_FDCWD, const char *path)
SHIM(open64, AT_FDCWD, const char *path)
SHIM(openat, at, int at, const char *path)
SHIM(openat64, at, int at, const char *path)
