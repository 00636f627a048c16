#include "vmm/mkdir_p.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/errfmt.h"

int dir_open_nofollow(int at, const char *name, int flags, const char *what,
		      const char *shown, char *err, size_t errlen)
{
	int fd = openat(at, name, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd >= 0)
		return fd;
	if ((errno == ELOOP || errno == ENOTDIR) &&
	    !fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode))
		return errfmt(err, errlen, "%s: %s is a symlink; name the directory it points "
			      "to instead", what, shown);
	return errfmt_sys(err, errlen, errno, "%s: cannot open %s", what, shown);
}

/* An opened directory through check, or closed. */
static int checked(int fd, const char *shown, mkdir_p_check check, void *ctx, char *err,
		   size_t errlen)
{
	if (fd >= 0 && check && check(fd, shown, ctx, err, errlen)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One more component: made if missing, opened, checked. */
static int step(int at, const char *name, const char *shown, mode_t mode, const char *what,
		mkdir_p_check check, void *ctx, char *err, size_t errlen)
{
	if (!strcmp(name, ".."))
		return errfmt(err, errlen, "%s: %s has a \"..\" component", what, shown);
	if (mkdirat(at, name, mode) && errno != EEXIST)
		return errfmt_sys(err, errlen, errno, "%s: cannot create %s", what, shown);
	return checked(dir_open_nofollow(at, name, O_PATH, what, shown, err, errlen), shown,
		       check, ctx, err, errlen);
}

int mkdir_p(const char *path, mode_t mode, const char *what, mkdir_p_check check, void *ctx,
	    char *err, size_t errlen)
{
	char walked[PATH_MAX] = "", copy[PATH_MAX], *save = NULL;
	size_t walked_len = 0;
	int fd;

	if (path[0] != '/')
		return errfmt(err, errlen, "%s: %s is not an absolute path", what, path);
	if ((size_t)snprintf(copy, sizeof(copy), "%s", path) >= sizeof(copy))
		return errfmt(err, errlen, "%s: %s is too long", what, path);
	fd = checked(dir_open_nofollow(AT_FDCWD, "/", O_PATH, what, "/", err, errlen), "/",
		     check, ctx, err, errlen);
	for (char *name = strtok_r(copy, "/", &save); name && fd >= 0;
	     name = strtok_r(NULL, "/", &save)) {
		int next;

		if (!strcmp(name, "."))
			continue;
		walked_len += (size_t)snprintf(walked + walked_len, sizeof(walked) - walked_len,
					       "/%s", name);
		next = step(fd, name, walked, mode, what, check, ctx, err, errlen);
		close(fd);
		fd = next;
	}
	return fd;
}

/* Root, we and the directory's user may own a directory on the way. */
static int trusted_owner(uid_t owner, uid_t user)
{
	return owner == 0 || owner == geteuid() || owner == user;
}

int mkdir_p_trusted(int fd, const char *shown, void *trust, char *err, size_t errlen)
{
	const struct mkdir_p_trust *t = trust;
	struct stat st;

	if (fstat(fd, &st))
		return errfmt_sys(err, errlen, errno, "%s: cannot stat %s", t->what, shown);
	if (!trusted_owner(st.st_uid, t->uid))
		return errfmt(err, errlen, "%s: %s is owned by uid %u, not root or uid %u; "
			      "choose a %s only they can write", t->what, shown,
			      (unsigned)st.st_uid, (unsigned)t->uid, t->what);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		return errfmt(err, errlen, "%s: %s is writable by group or others (mode %04o); "
			      "chmod go-w it or choose another %s", t->what, shown,
			      (unsigned)(st.st_mode & 07777), t->what);
	return 0;
}
