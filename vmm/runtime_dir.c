#include "vmm/runtime_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/log.h"

#define DIR_OPEN_FLAGS (O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static int fail(char *err, size_t errlen, const char *what, const char *path)
{
	snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
	return -1;
}

static int resolve_user(struct runtime_dir *rd, const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	rd->uid = getuid();
	rd->gid = getgid();
	if (!user)
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "user: no such user \"%s\" on this host", user);
		return -1;
	}
	if (getuid() != 0 && pw->pw_uid != getuid()) {
		snprintf(err, errlen, "user: \"%s\" is not the invoking user; only root may run "
			 "a VM for another user", user);
		return -1;
	}
	rd->uid = pw->pw_uid;
	rd->gid = pw->pw_gid;
	return 0;
}

/*
 * Filesystem identity of the user for one call (per thread): what the
 * call makes is theirs from the start, and what it reaches they could.
 */
static void become_user(const struct runtime_dir *rd)
{
	setfsgid(rd->gid);
	setfsuid(rd->uid);
}

static void become_self(void)
{
	setfsuid(geteuid());
	setfsgid(getegid());
}

/* name in the directory, reachable whatever happens to the path above it. */
static int fd_path(const struct runtime_dir *rd, const char *name, char *buf, size_t len)
{
	return (size_t)snprintf(buf, len, "/proc/self/fd/%d/%s", rd->dir_fd, name) < len ? 0 : -1;
}

/* Root, we and the VM's user may own a directory on the way. */
static bool trusted_owner(const struct runtime_dir *rd, uid_t uid)
{
	return uid == 0 || uid == geteuid() || uid == rd->uid;
}

static int check_component(const struct runtime_dir *rd, int fd, const char *shown,
			   char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st))
		return fail(err, errlen, "runtime_dir: cannot stat", shown);
	if (!trusted_owner(rd, st.st_uid)) {
		snprintf(err, errlen, "runtime_dir: %s is owned by uid %u, not root or uid %u; "
			 "choose a runtime_dir only they can write", shown, (unsigned)st.st_uid,
			 (unsigned)rd->uid);
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		snprintf(err, errlen, "runtime_dir: %s is writable by group or others "
			 "(mode %04o); chmod go-w it or choose another runtime_dir", shown,
			 (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* openat(at, name) as a directory, saying why not; a symlink is refused. */
static int open_dir_at(int at, const char *name, int flags, const char *shown,
		       char *err, size_t errlen)
{
	int fd = openat(at, name, flags | DIR_OPEN_FLAGS);
	struct stat st;

	if (fd >= 0)
		return fd;
	if ((errno == ELOOP || errno == ENOTDIR) &&
	    !fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode))
		snprintf(err, errlen, "runtime_dir: %s is a symlink; name the directory it points "
			 "to instead", shown);
	else
		fail(err, errlen, "runtime_dir: cannot open", shown);
	return -1;
}

/* One more component of the walk: made if missing (0755), opened, checked. */
static int step(const struct runtime_dir *rd, int at, const char *name, const char *shown,
		char *err, size_t errlen)
{
	int fd;

	if (!strcmp(name, "..")) {
		snprintf(err, errlen, "runtime_dir: %s has a \"..\" component", shown);
		return -1;
	}
	if (mkdirat(at, name, 0755) && errno != EEXIST)
		return fail(err, errlen, "runtime_dir: cannot create", shown);
	fd = open_dir_at(at, name, O_PATH, shown, err, errlen);
	if (fd >= 0 && check_component(rd, fd, shown, err, errlen)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* <runtime_dir> from /, never following a link. */
static int open_parent(const struct runtime_dir *rd, const char *path, char *err, size_t errlen)
{
	char walked[PATH_MAX] = "", copy[PATH_MAX], *save = NULL;
	size_t walked_len = 0;
	int fd;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open_dir_at(AT_FDCWD, "/", O_PATH, "/", err, errlen);
	if (fd >= 0 && check_component(rd, fd, "/", err, errlen)) {
		close(fd);
		return -1;
	}
	for (char *name = strtok_r(copy, "/", &save); name && fd >= 0;
	     name = strtok_r(NULL, "/", &save)) {
		int next;

		if (!strcmp(name, "."))
			continue;
		walked_len += (size_t)snprintf(walked + walked_len, sizeof(walked) - walked_len,
					       "/%s", name);
		next = step(rd, fd, name, walked, err, errlen);
		close(fd);
		fd = next;
	}
	return fd;
}

static bool socket_answers(const struct runtime_dir *rd, const char *name)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live = false;

	if (fd >= 0 && !fd_path(rd, name, addr.sun_path, sizeof(addr.sun_path))) {
		become_user(rd);
		live = !connect(fd, (struct sockaddr *)&addr, sizeof(addr));
		become_self();
	}
	if (fd >= 0)
		close(fd);
	return live;
}

/* <name> in parent_fd: made (or an old one taken over) and handed to the user. */
static int open_vm_dir(struct runtime_dir *rd, char *err, size_t errlen)
{
	struct stat st;

	rd->created = !mkdirat(rd->parent_fd, rd->name, 0700);
	if (!rd->created && errno != EEXIST)
		return fail(err, errlen, "runtime_dir: cannot create", rd->path);
	rd->dir_fd = open_dir_at(rd->parent_fd, rd->name, O_RDONLY, rd->path, err, errlen);
	if (rd->dir_fd < 0)
		return -1;
	if (fstat(rd->dir_fd, &st))
		return fail(err, errlen, "runtime_dir: cannot stat", rd->path);
	if (st.st_uid != geteuid() && st.st_uid != rd->uid) {
		snprintf(err, errlen, "runtime_dir: %s is owned by uid %u, not by the VM's user "
			 "(uid %u); remove it", rd->path, (unsigned)st.st_uid, (unsigned)rd->uid);
		return -1;
	}
	if (fchown(rd->dir_fd, rd->uid, rd->gid) || fchmod(rd->dir_fd, 0700))
		return fail(err, errlen, "runtime_dir: cannot hand to the user", rd->path);
	return 0;
}

static int set_paths(struct runtime_dir *rd, const struct vm_config *cfg, char *err,
		     size_t errlen)
{
	if (strchr(cfg->name, '/') || !strcmp(cfg->name, ".") || !strcmp(cfg->name, "..") ||
	    snprintf(rd->name, sizeof(rd->name), "%s", cfg->name) >= (int)sizeof(rd->name)) {
		snprintf(err, errlen, "runtime_dir: \"%s\" cannot name a directory", cfg->name);
		return -1;
	}
	if ((size_t)snprintf(rd->path, sizeof(rd->path), "%s/%s", cfg->runtime_dir, cfg->name) >=
	    sizeof(rd->path) - 32) {
		snprintf(err, errlen, "runtime_dir: %s/%s is too long", cfg->runtime_dir, cfg->name);
		return -1;
	}
	return 0;
}

static void close_fds(struct runtime_dir *rd)
{
	if (rd->dir_fd >= 0)
		close(rd->dir_fd);
	if (rd->parent_fd >= 0)
		close(rd->parent_fd);
	rd->dir_fd = rd->parent_fd = -1;
}

int runtime_dir_open(struct runtime_dir *rd, const struct vm_config *cfg, char *err, size_t errlen)
{
	memset(rd, 0, sizeof(*rd));
	rd->parent_fd = rd->dir_fd = -1;
	if (resolve_user(rd, cfg->user, err, errlen) || set_paths(rd, cfg, err, errlen))
		return -1;
	rd->parent_fd = open_parent(rd, cfg->runtime_dir, err, errlen);
	if (rd->parent_fd < 0 || open_vm_dir(rd, err, errlen)) {
		close_fds(rd);
		return -1;
	}
	if (!rd->created && socket_answers(rd, "control.socket")) {
		snprintf(err, errlen, "VM \"%s\" is already running (%s/control.socket answers)",
			 cfg->name, rd->path);
		close_fds(rd);
		return -1;
	}
	return 0;
}

int runtime_dir_file(const struct runtime_dir *rd, const char *name, char *buf, size_t len)
{
	return (size_t)snprintf(buf, len, "%s/%s", rd->path, name) < len ? 0 : -1;
}

static void remember(struct runtime_dir *rd, const char *name)
{
	char *copy = strdup(name);

	if (copy && rd->nr_files < RUNTIME_DIR_MAX_FILES)
		rd->files[rd->nr_files++] = copy;
	else
		free(copy);
}

/* bind() as the user, with the mode right from the start. */
static int bind_as_user(const struct runtime_dir *rd, int fd, const struct sockaddr_un *addr)
{
	mode_t old_mask = umask(0117);
	int r;

	become_user(rd);
	r = bind(fd, (const struct sockaddr *)addr, sizeof(*addr));
	become_self();
	umask(old_mask);
	return r;
}

int runtime_dir_listen(struct runtime_dir *rd, const char *name, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char shown[PATH_MAX + NAME_MAX + 2];	/* path + "/" + name */
	int fd;

	runtime_dir_file(rd, name, shown, sizeof(shown));
	if (fd_path(rd, name, addr.sun_path, sizeof(addr.sun_path))) {
		snprintf(err, errlen, "%s: name too long for a Unix socket", shown);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fail(err, errlen, "cannot create socket", shown);
	unlinkat(rd->dir_fd, name, 0);	/* a stale one: runtime_dir_open checked it is dead */
	if (bind_as_user(rd, fd, &addr) || listen(fd, 128)) {
		fail(err, errlen, "cannot listen on", shown);
		close(fd);
		return -1;
	}
	remember(rd, name);
	return fd;
}

int runtime_dir_link(struct runtime_dir *rd, const char *name, const char *target,
		     char *err, size_t errlen)
{
	char shown[PATH_MAX + NAME_MAX + 2];	/* path + "/" + name */
	int r;

	runtime_dir_file(rd, name, shown, sizeof(shown));
	unlinkat(rd->dir_fd, name, 0);
	become_user(rd);
	r = symlinkat(target, rd->dir_fd, name);
	become_self();
	if (r)
		return fail(err, errlen, "cannot create", shown);
	remember(rd, name);
	return 0;
}

int runtime_dir_give(const struct runtime_dir *rd, int fd)
{
	if (fchown(fd, rd->uid, rd->gid)) {
		log_warn("%s: cannot hand a file to uid %u: %s", rd->path, (unsigned)rd->uid,
			 strerror(errno));
		return -1;
	}
	return 0;
}

void runtime_dir_close(struct runtime_dir *rd)
{
	for (unsigned i = 0; i < rd->nr_files; i++) {
		unlinkat(rd->dir_fd, rd->files[i], 0);
		free(rd->files[i]);
	}
	rd->nr_files = 0;
	if (rd->parent_fd >= 0 && unlinkat(rd->parent_fd, rd->name, AT_REMOVEDIR) &&
	    errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT && errno != ENOTDIR)
		log_warn("%s: cannot remove: %s", rd->path, strerror(errno));
	close_fds(rd);
	rd->path[0] = '\0';
}
