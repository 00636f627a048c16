/* The walk of path_trust.h. */
#include "vmm/path_trust.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/errfmt.h"

static int refuse(const struct path_trust *t, const char *path, const char *why, char *err,
		  size_t errlen)
{
	errfmt(err, errlen, "%s: %s: %s; %s", t->key, path, why, t->hint);
	errno = EPERM;
	return -1;
}

static bool writable_by_others(const struct stat *st)
{
	return st->st_mode & (S_IWGRP | S_IWOTH);
}

static bool trusted(const struct path_trust *t, uid_t uid)
{
	return uid == 0 || uid == t->user;
}

/* Whether someone untrusted could rename or replace what is inside dir. */
static bool parent_unsafe(const struct path_trust *t, const struct stat *dir,
			  const struct stat *next)
{
	if (!trusted(t, dir->st_uid))
		return true;
	if (!writable_by_others(dir))
		return false;
	return !(dir->st_mode & S_ISVTX) || !trusted(t, next->st_uid);
}

static int check_parent(const struct path_trust *t, const char *path, const char *shown,
			const struct stat *dir, const struct stat *next, char *err, size_t errlen)
{
	char why[PATH_MAX + 256];

	if (!parent_unsafe(t, dir, next))
		return 0;
	if (!trusted(t, dir->st_uid))
		snprintf(why, sizeof(why), "%s is owned by uid %u, who could swap %s", shown,
			 (unsigned)dir->st_uid, t->what);
	else if (dir->st_mode & S_ISVTX)
		snprintf(why, sizeof(why), "%s is sticky and writable by others, and what is in "
			 "it is owned by uid %u, who could swap %s", shown, (unsigned)next->st_uid,
			 t->what);
	else
		snprintf(why, sizeof(why), "%s is writable by group or others, who could swap %s",
			 shown, t->what);
	return refuse(t, path, why, err, errlen);
}

static int check_socket(const struct path_trust *t, const char *path, const struct stat *st,
			char *err, size_t errlen)
{
	char why[128];

	if (!S_ISSOCK(st->st_mode))
		return refuse(t, path, "not a socket", err, errlen);
	if (trusted(t, st->st_uid))
		return 0;
	if (t->user)
		snprintf(why, sizeof(why), "owned by uid %u, not root or uid %u",
			 (unsigned)st->st_uid, (unsigned)t->user);
	else
		snprintf(why, sizeof(why), "owned by uid %u, not root", (unsigned)st->st_uid);
	return refuse(t, path, why, err, errlen);
}

static int check_last(const struct path_trust *t, const char *path, const struct stat *st,
		      char *err, size_t errlen)
{
	bool want_dir = t->last != PATH_TRUST_ROOT_FILE;
	char why[PATH_MAX + 256];

	if (t->last == PATH_TRUST_SOCKET)
		return check_socket(t, path, st, err, errlen);
	if (want_dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))
		return refuse(t, path, want_dir ? "not a directory" : "not a regular file", err,
			      errlen);
	if (t->last == PATH_TRUST_ANY_DIR)
		return 0;
	if (st->st_uid != 0) {
		snprintf(why, sizeof(why), "owned by uid %u, not root", (unsigned)st->st_uid);
		return refuse(t, path, why, err, errlen);
	}
	if (writable_by_others(st))
		return refuse(t, path, "writable by group or others", err, errlen);
	return 0;
}

/* The next component of *p (skipping "/" and "."), into name; false at the end. */
static bool next_component(const char **p, char *name, size_t len)
{
	for (;;) {
		size_t n;

		while (**p == '/')
			(*p)++;
		n = strcspn(*p, "/");
		if (!n)
			return false;
		snprintf(name, len, "%.*s", (int)(n < len ? n : len - 1), *p);
		*p += n;
		if (strcmp(name, "."))
			return true;
	}
}

static int open_component(const struct path_trust *t, const char *path, int dir,
			  const char *name, const char *shown, char *err, size_t errlen)
{
	int fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char why[PATH_MAX + 64];

	if (fd < 0) {
		int e = errno;

		errfmt_sys(err, errlen, e, "%s: %s: cannot open %s", t->key, path, shown);
		errno = e == ENOENT ? ENOENT : EPERM;
		return -1;
	}
	if (!fstat(fd, &st) && S_ISLNK(st.st_mode)) {
		close(fd);
		snprintf(why, sizeof(why), "%s is a symlink (never followed)", shown);
		return refuse(t, path, why, err, errlen);
	}
	return fd;
}

int path_trust_open(const struct path_trust *t, const char *path, char *err, size_t errlen)
{
	char name[NAME_MAX + 1], shown[PATH_MAX], child[PATH_MAX];
	const char *p = path;
	struct stat dir_st, st;
	int dir, r = 0;

	if (!path || path[0] != '/' || strlen(path) >= sizeof(shown))
		return refuse(t, path ? path : "(none)", "not an absolute path", err, errlen);
	dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0 || fstat(dir, &dir_st))
		return errfmt_sys(err, errlen, errno, "%s: cannot open /", t->key);
	snprintf(shown, sizeof(shown), "/");
	st = dir_st;
	while (!r && next_component(&p, name, sizeof(name))) {
		int fd;

		if (!strcmp(name, "..")) {
			r = refuse(t, path, "has a \"..\" component", err, errlen);
			break;
		}
		snprintf(child, sizeof(child), "%.*s", (int)(p - path), path);
		fd = open_component(t, path, dir, name, child, err, errlen);
		if (fd < 0 || fstat(fd, &st)) {
			r = -1;
			if (fd >= 0)
				close(fd);
			break;
		}
		r = check_parent(t, path, shown, &dir_st, &st, err, errlen);
		snprintf(shown, sizeof(shown), "%s", child);
		close(dir);
		dir = fd;
		dir_st = st;
		if (!r && *p && !S_ISDIR(st.st_mode))
			r = refuse(t, path, "a component is not a directory", err, errlen);
	}
	if (!r)
		r = check_last(t, path, &st, err, errlen);
	if (!r)
		return dir;
	close(dir);
	return -1;
}

int path_trust_check(const struct path_trust *t, const char *path, char *err, size_t errlen)
{
	int fd = path_trust_open(t, path, err, errlen);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}
