#include "vmm/runtime_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/log.h"

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

/* mkdir -p; the parents get 0755, the last one mode. */
static int make_dirs(char *path, mode_t mode)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return mkdir(path, mode);
}

static bool socket_answers(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0 || strlen(path) >= sizeof(addr.sun_path)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	strcpy(addr.sun_path, path);
	live = !connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	close(fd);
	return live;
}

int runtime_dir_open(struct runtime_dir *rd, const struct vm_config *cfg, char *err, size_t errlen)
{
	char control[PATH_MAX];

	memset(rd, 0, sizeof(*rd));
	if (resolve_user(rd, cfg->user, err, errlen))
		return -1;
	if ((size_t)snprintf(rd->path, sizeof(rd->path), "%s/%s", cfg->runtime_dir, cfg->name) >=
	    sizeof(rd->path) - 32) {
		snprintf(err, errlen, "runtime_dir: %s/%s is too long", cfg->runtime_dir, cfg->name);
		return -1;
	}
	if (!make_dirs(rd->path, 0700)) {
		rd->created = true;
	} else if (errno != EEXIST) {
		return fail(err, errlen, "runtime_dir: cannot create", rd->path);
	} else if (!runtime_dir_file(rd, "control.socket", control, sizeof(control)) &&
		   socket_answers(control)) {
		snprintf(err, errlen, "VM \"%s\" is already running (%s answers)", cfg->name, control);
		return -1;
	}
	if (chown(rd->path, rd->uid, rd->gid) || chmod(rd->path, 0700))
		return fail(err, errlen, "runtime_dir: cannot hand to the user", rd->path);
	return 0;
}

int runtime_dir_file(const struct runtime_dir *rd, const char *name, char *buf, size_t len)
{
	return (size_t)snprintf(buf, len, "%s/%s", rd->path, name) < len ? 0 : -1;
}

static void remember(struct runtime_dir *rd, const char *path)
{
	char *copy = strdup(path);

	if (copy && rd->nr_files < RUNTIME_DIR_MAX_FILES)
		rd->files[rd->nr_files++] = copy;
	else
		free(copy);
}

int runtime_dir_listen(struct runtime_dir *rd, const char *name, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (runtime_dir_file(rd, name, addr.sun_path, sizeof(addr.sun_path))) {
		snprintf(err, errlen, "%s/%s: path too long for a Unix socket", rd->path, name);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fail(err, errlen, "cannot create socket", addr.sun_path);
	unlink(addr.sun_path);	/* a stale one: runtime_dir_open checked it is dead */
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 128) ||
	    chown(addr.sun_path, rd->uid, rd->gid) || chmod(addr.sun_path, 0660)) {
		fail(err, errlen, "cannot listen on", addr.sun_path);
		close(fd);
		return -1;
	}
	remember(rd, addr.sun_path);
	return fd;
}

int runtime_dir_give(const struct runtime_dir *rd, const char *path)
{
	if (chown(path, rd->uid, rd->gid)) {
		log_warn("%s: cannot hand to uid %u: %s", path, (unsigned)rd->uid, strerror(errno));
		return -1;
	}
	return 0;
}

void runtime_dir_close(struct runtime_dir *rd)
{
	for (unsigned i = 0; i < rd->nr_files; i++) {
		unlink(rd->files[i]);
		free(rd->files[i]);
	}
	rd->nr_files = 0;
	if (rd->path[0] && rmdir(rd->path) && errno != ENOTEMPTY && errno != EEXIST &&
	    errno != ENOENT)
		log_warn("%s: cannot remove: %s", rd->path, strerror(errno));
	rd->path[0] = '\0';
}
