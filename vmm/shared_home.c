/*
 * The shared home, made once: the template copied into home.tmp-XXXXXX
 * next to home (a directory only root can enter until the copy is done),
 * every file the VM user's, then renamed into place. The walk is by
 * directory fd with O_NOFOLLOW throughout: a symlink in the template is
 * copied as a symlink, never followed; what is neither a file, a
 * directory nor a symlink (devices, fifos, sockets) is skipped with a log
 * line. A file with several links is copied as separate files: no hard
 * link is ever made. setuid/setgid bits are dropped: the copy is the user's.
 */
#include "vmm/shared_home.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/errfmt.h"
#include "vmm/log.h"
#include "vmm/mkdir_p.h"
#include "vmm/path_trust.h"

#define COPY_DEPTH_MAX 64
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

struct copy {
	uid_t uid;
	gid_t gid;
	char *err;
	size_t errlen;
};

static int copy_dir(struct copy *c, int src, int dst, unsigned depth);

static int copy_bytes(struct copy *c, int in, int out, const char *name)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) > 0)
		for (ssize_t done = 0, w; done < n; done += w)
			if ((w = write(out, buf + done, (size_t)(n - done))) < 0)
				return errfmt_sys(c->err, c->errlen, errno, "shared_home: write %s",
						  name);
	return n < 0 ? errfmt_sys(c->err, c->errlen, errno, "shared_home: read %s", name) : 0;
}

static int copy_file(struct copy *c, int src, int dst, const char *name, const struct stat *st)
{
	int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	int out = -1, r = -1;
	struct stat now;

	if (in < 0 || fstat(in, &now) || now.st_ino != st->st_ino || !S_ISREG(now.st_mode)) {
		errfmt_sys(c->err, c->errlen, errno ? errno : EAGAIN,
			   "shared_home: template file %s changed or unreadable", name);
		goto out;
	}
	out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		errfmt_sys(c->err, c->errlen, errno, "shared_home: create %s", name);
		goto out;
	}
	if (copy_bytes(c, in, out, name))
		goto out;
	if (fchown(out, c->uid, c->gid) || fchmod(out, st->st_mode & 01777))
		errfmt_sys(c->err, c->errlen, errno, "shared_home: chown/chmod %s", name);
	else
		r = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r;
}

static int copy_symlink(struct copy *c, int src, int dst, const char *name)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(src, name, target, sizeof(target) - 1);

	if (n < 0)
		return errfmt_sys(c->err, c->errlen, errno, "shared_home: readlink %s", name);
	target[n] = '\0';
	if (symlinkat(target, dst, name) ||
	    fchownat(dst, name, c->uid, c->gid, AT_SYMLINK_NOFOLLOW))
		return errfmt_sys(c->err, c->errlen, errno, "shared_home: symlink %s", name);
	return 0;
}

static int copy_subdir(struct copy *c, int src, int dst, const char *name,
		       const struct stat *st, unsigned depth)
{
	int in, out, r;

	if (depth >= COPY_DEPTH_MAX)
		return errfmt(c->err, c->errlen, "shared_home: template deeper than %d levels",
			      COPY_DEPTH_MAX);
	if (mkdirat(dst, name, 0700))
		return errfmt_sys(c->err, c->errlen, errno, "shared_home: mkdir %s", name);
	in = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	out = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0 || out < 0)
		r = errfmt_sys(c->err, c->errlen, errno, "shared_home: open directory %s", name);
	else
		r = copy_dir(c, in, out, depth + 1);
	if (!r && (fchown(out, c->uid, c->gid) || fchmod(out, st->st_mode & 01777)))
		r = errfmt_sys(c->err, c->errlen, errno, "shared_home: chown/chmod %s", name);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r;
}

static int copy_entry(struct copy *c, int src, int dst, const char *name, unsigned depth)
{
	struct stat st;

	if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW))
		return errfmt_sys(c->err, c->errlen, errno, "shared_home: stat %s", name);
	if (S_ISREG(st.st_mode))
		return copy_file(c, src, dst, name, &st);
	if (S_ISDIR(st.st_mode))
		return copy_subdir(c, src, dst, name, &st, depth);
	if (S_ISLNK(st.st_mode))
		return copy_symlink(c, src, dst, name);
	log_warn("shared_home: template entry %s is not a file, directory or symlink; skipped",
		 name);
	return 0;
}

static int copy_dir(struct copy *c, int src, int dst, unsigned depth)
{
	int fd = dup(src), r = 0;
	struct dirent *e;
	DIR *d;

	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return errfmt_sys(c->err, c->errlen, errno, "shared_home: read template");
	}
	while (!r && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			r = copy_entry(c, src, dst, e->d_name, depth);
	closedir(d);
	return r;
}

/* What a failed copy left: only we could write there. */
static void remove_tree(int at, const char *name)
{
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *e;
	DIR *d;

	if (fd < 0) {
		unlinkat(at, name, 0);
		return;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			remove_tree(fd, e->d_name);
	closedir(d);
	unlinkat(at, name, AT_REMOVEDIR);
}

static int make_temp(int parent, char *name, size_t len)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";

	for (int tries = 0; tries < 16; tries++) {
		unsigned char rnd[6];

		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -1;
		snprintf(name, len, "home.tmp-");
		for (size_t i = 0; i < sizeof(rnd); i++)
			name[9 + i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
		name[9 + sizeof(rnd)] = '\0';
		if (!mkdirat(parent, name, 0700))
			return openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* The template's tree into tmp, then tmp itself handed to the user. */
static int fill(struct copy *c, int tmp, const char *template_dir)
{
	int src = open(template_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), r = 0;

	if (src < 0 && errno != ENOENT)
		return errfmt_sys(c->err, c->errlen, errno, "shared_home: template %s",
				  template_dir);
	if (src >= 0) {
		r = copy_dir(c, src, tmp, 0);
		close(src);
	}
	if (!r && (fchown(tmp, c->uid, c->gid) || fchmod(tmp, 0700)))
		r = errfmt_sys(c->err, c->errlen, errno, "shared_home: chown the home");
	return r;
}

static int create_home(int parent, const char *name, const char *home, const char *template_dir,
		       struct copy *c)
{
	char tmpname[32];
	int tmp = make_temp(parent, tmpname, sizeof(tmpname)), r;

	if (tmp < 0)
		return errfmt_sys(c->err, c->errlen, errno, "shared_home: cannot create a "
				  "directory next to %s", home);
	r = fill(c, tmp, template_dir ? template_dir : "");
	close(tmp);
	if (!r && syscall(SYS_renameat2, parent, tmpname, parent, name, RENAME_NOREPLACE))
		r = errfmt_sys(c->err, c->errlen, errno, "shared_home: cannot put %s in place",
			       home);
	if (r)
		remove_tree(parent, tmpname);
	return r;
}

/* The parents are root's (or ours) and nobody else may write them. */
static int open_parent(const char *home, char *name, size_t len, char *err, size_t errlen)
{
	struct mkdir_p_trust trust = { .uid = 0, .what = "shared_home" };
	char parent[PATH_MAX];
	const char *slash = strrchr(home, '/');

	if (home[0] != '/' || !slash || !slash[1] || !strcmp(slash + 1, "..") ||
	    !strcmp(slash + 1, ".") || (size_t)(slash - home) >= sizeof(parent) ||
	    (size_t)snprintf(name, len, "%s", slash + 1) >= len)
		return errfmt(err, errlen, "shared_home: %s is not an absolute path to a "
			      "directory", home);
	snprintf(parent, sizeof(parent), "%.*s", (int)(slash - home), home);
	return mkdir_p(parent[0] ? parent : "/", 0755, "shared_home", mkdir_p_trusted, &trust,
		       err, errlen);
}

/*
 * Root copies the template into a home the VM's user will own: whoever
 * could swap it (or a directory above it) would choose that home's
 * contents. A template that does not exist gives an empty home.
 */
static bool template_trusted(const char *template_dir, char *err, size_t errlen)
{
	const struct path_trust t = {
		.key = "home_template", .what = "the template",
		.hint = "keep it in root-owned directories", .last = PATH_TRUST_ROOT_DIR,
	};

	if (!template_dir || !*template_dir)
		return true;
	return !path_trust_check(&t, template_dir, err, errlen) || errno == ENOENT;
}

int shared_home_prepare(const char *home, const char *template_dir, uid_t uid, gid_t gid,
			char *err, size_t errlen)
{
	struct copy c = { .uid = uid, .gid = gid, .err = err, .errlen = errlen };
	char name[NAME_MAX + 1];
	struct stat st;
	int parent = open_parent(home, name, sizeof(name), err, errlen), r = 0;

	if (parent < 0)
		return -1;
	if (!fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW)) {
		if (!S_ISDIR(st.st_mode))
			r = errfmt(err, errlen, "shared_home: %s exists and is not a directory",
				   home);
		else if (st.st_uid != uid)
			r = errfmt(err, errlen, "shared_home: %s is owned by uid %u, not the VM's "
				   "user (%u)", home, (unsigned)st.st_uid, (unsigned)uid);
	} else if (errno != ENOENT) {
		r = errfmt_sys(err, errlen, errno, "shared_home: cannot stat %s", home);
	} else if (!template_trusted(template_dir, err, errlen)) {
		r = -1;
	} else {
		r = create_home(parent, name, home, template_dir, &c);
	}
	close(parent);
	return r;
}
