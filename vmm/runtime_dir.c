#include "vmm/runtime_dir.h"

#include <dirent.h>
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

#include "vmm/errfmt.h"
#include "vmm/log.h"
#include "vmm/mkdir_p.h"
#include "vmm/vm_name.h"

#define DIR_OPEN_FLAGS (O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

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

/* <runtime_dir> from /, never following a link, every component trusted;
 * missing components 0755. */
static int open_parent(const struct runtime_dir *rd, const char *path, char *err, size_t errlen)
{
	struct mkdir_p_trust trust = { .uid = rd->uid, .what = "runtime_dir" };

	return mkdir_p(path, 0755, "runtime_dir", mkdir_p_trusted, &trust, err, errlen);
}

/*
 * Whether the socket <name> (not a link to one elsewhere) takes a
 * connection from the user: pinned by its inode, so what was checked is
 * what is reached. Non-blocking, so a listener the user planted with a
 * full backlog cannot hang start-up: EAGAIN means someone listens.
 */
static bool socket_answers(const struct runtime_dir *rd, const char *name)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int handle = openat(rd->dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC), fd = -1;
	bool live = false;
	struct stat st;

	if (handle >= 0 && !fstat(handle, &st) && S_ISSOCK(st.st_mode))
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0) {
		snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d", handle);
		become_user(rd);
		live = !connect(fd, (struct sockaddr *)&addr, sizeof(addr)) || errno == EAGAIN ||
		       errno == EINPROGRESS;
		become_self();
		close(fd);
	}
	if (handle >= 0)
		close(handle);
	return live;
}

/* <name> in parent_fd: made (or an old one taken over) and handed to the user. */
static int open_vm_dir(struct runtime_dir *rd, char *err, size_t errlen)
{
	struct stat st;

	rd->created = !mkdirat(rd->parent_fd, rd->name, 0700);
	if (!rd->created && errno != EEXIST)
		return errfmt_sys(err, errlen, errno, "runtime_dir: cannot create %s", rd->path);
	rd->dir_fd = dir_open_nofollow(rd->parent_fd, rd->name, O_RDONLY, "runtime_dir", rd->path,
				       err, errlen);
	if (rd->dir_fd < 0)
		return -1;
	if (fstat(rd->dir_fd, &st))
		return errfmt_sys(err, errlen, errno, "runtime_dir: cannot stat %s", rd->path);
	if (st.st_uid != geteuid() && st.st_uid != rd->uid) {
		snprintf(err, errlen, "runtime_dir: %s is owned by uid %u, not by the VM's user "
			 "(uid %u); remove it", rd->path, (unsigned)st.st_uid, (unsigned)rd->uid);
		return -1;
	}
	if (fchown(rd->dir_fd, rd->uid, rd->gid) || fchmod(rd->dir_fd, 0700))
		return errfmt_sys(err, errlen, errno, "runtime_dir: cannot hand to the user %s", rd->path);
	return 0;
}

static int set_paths(struct runtime_dir *rd, const struct vm_config *cfg, char *err,
		     size_t errlen)
{
	if (!vm_name_valid(cfg->name) ||
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

static void remember(struct runtime_dir *rd, const char *name, int handle)
{
	char *copy = strdup(name);

	if (copy && rd->nr_files < RUNTIME_DIR_MAX_FILES) {
		rd->files[rd->nr_files++] = (struct runtime_file){ copy, handle };
		return;
	}
	free(copy);
	if (handle >= 0)
		close(handle);
}

/*
 * A directory in dir_fd that only we can write, where a listener is bound,
 * given to the user and its inode pinned before it takes its name. If the
 * user swaps another directory in, it is not ours (owner, mode): refused.
 */
static int open_own_stage(const struct runtime_dir *rd, const char *stage)
{
	int fd = openat(rd->dir_fd, stage, O_RDONLY | DIR_OPEN_FLAGS);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/*
 * What a crashed run left in its stage (a bound socket): only we could
 * write there, so it is ours to remove. Entries are unlinked, never followed.
 */
static void empty_own_stage(const struct runtime_dir *rd, const char *stage)
{
	int fd = open_own_stage(rd, stage);
	struct dirent *e;
	DIR *d;

	if (fd < 0)
		return;		/* not ours (or gone): left alone, rmdir decides */
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    unlinkat(fd, e->d_name, 0) && errno == EISDIR)
			unlinkat(fd, e->d_name, AT_REMOVEDIR);
	closedir(d);
}

static int open_stage(const struct runtime_dir *rd, const char *stage)
{
	if (mkdirat(rd->dir_fd, stage, 0700) && errno == EEXIST) {
		empty_own_stage(rd, stage);	/* a dead run's */
		unlinkat(rd->dir_fd, stage, AT_REMOVEDIR);
		if (mkdirat(rd->dir_fd, stage, 0700))
			return -1;
	}
	return open_own_stage(rd, stage);
}

/* Bound in the stage under umask 0117 (mode 0660), then handed to the user. */
static int bind_staged(const struct runtime_dir *rd, int stage_fd, int fd, const char *name)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	mode_t old_mask;
	int r;

	if ((size_t)snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s",
			     stage_fd, name) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	old_mask = umask(0117);
	r = bind(fd, (const struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	return r ? r : fchownat(stage_fd, name, rd->uid, rd->gid, AT_SYMLINK_NOFOLLOW);
}

/* Listening in the stage, pinned (the handle), then renamed into place. */
static int listen_staged(const struct runtime_dir *rd, const char *stage, int fd,
			 const char *name, int *handle)
{
	int stage_fd = open_stage(rd, stage), r = -1;

	if (stage_fd < 0)
		return -1;
	if (!bind_staged(rd, stage_fd, fd, name) && !listen(fd, 128)) {
		*handle = openat(stage_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		r = *handle >= 0 ? renameat(stage_fd, name, rd->dir_fd, name) : -1;
	}
	if (r)
		unlinkat(stage_fd, name, 0);
	close(stage_fd);
	unlinkat(rd->dir_fd, stage, AT_REMOVEDIR);
	return r;
}

int runtime_dir_listen(struct runtime_dir *rd, const char *name, char *err, size_t errlen)
{
	return runtime_dir_listen_type(rd, name, SOCK_STREAM, err, errlen);
}

int runtime_dir_listen_type(struct runtime_dir *rd, const char *name, int type,
			    char *err, size_t errlen)
{
	char shown[PATH_MAX + NAME_MAX + 2], stage[NAME_MAX + 1];	/* shown: path/name */
	int fd, handle = -1;

	runtime_dir_file(rd, name, shown, sizeof(shown));
	if ((size_t)snprintf(stage, sizeof(stage), ".%s.new", name) >= sizeof(stage)) {
		snprintf(err, errlen, "%s: name too long", shown);
		return -1;
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errfmt_sys(err, errlen, errno, "cannot create socket %s", shown);
	/* A stale one is replaced: runtime_dir_open checked it is dead. */
	if (listen_staged(rd, stage, fd, name, &handle)) {
		errfmt_sys(err, errlen, errno, "cannot listen on %s", shown);
		if (handle >= 0)
			close(handle);
		close(fd);
		return -1;
	}
	remember(rd, name, handle);
	return fd;
}

static int handle_of(const struct runtime_dir *rd, const char *name)
{
	for (unsigned i = 0; i < rd->nr_files; i++)
		if (rd->files[i].handle >= 0 && !strcmp(rd->files[i].name, name))
			return rd->files[i].handle;
	return -1;
}

int runtime_dir_connect(const struct runtime_dir *rd, const char *name)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int handle = handle_of(rd, name), fd;

	if (handle < 0) {
		errno = ENOENT;
		return -1;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d", handle);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
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
		return errfmt_sys(err, errlen, errno, "cannot create %s", shown);
	remember(rd, name, -1);
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
		unlinkat(rd->dir_fd, rd->files[i].name, 0);
		free(rd->files[i].name);
		if (rd->files[i].handle >= 0)
			close(rd->files[i].handle);
	}
	rd->nr_files = 0;
	if (rd->parent_fd >= 0 && unlinkat(rd->parent_fd, rd->name, AT_REMOVEDIR) &&
	    errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT && errno != ENOTDIR)
		log_warn("%s: cannot remove: %s", rd->path, strerror(errno));
	close_fds(rd);
	rd->path[0] = '\0';
}
