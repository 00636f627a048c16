/*
 * devices/gpu_socket.c: the compositor socket's path from the config,
 * XDG_RUNTIME_DIR and WAYLAND_DISPLAY, and the checks before the VMM
 * hands it to the GPU's jail: a missing socket, a regular file, a
 * symlink, a socket of another user, a parent someone else could swap
 * (writable by others, owned by another user, sticky with another
 * user's entry) are refused with one line; the VM user's own directory
 * and socket are accepted, and the fd is that socket's.
 * The other-user cases need root (chown); they print SKIP otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "devices/gpu_socket.h"

#define HINT "; start the compositor or set [gpu] wayland_socket"
#define OTHER_UID 4321
#define USER_UID 1234

static char dir[] = "/tmp/vmsilo-gpu-socket-XXXXXX";

static void set_env(const char *xdg, const char *display)
{
	if (xdg)
		setenv("XDG_RUNTIME_DIR", xdg, 1);
	else
		unsetenv("XDG_RUNTIME_DIR");
	if (display)
		setenv("WAYLAND_DISPLAY", display, 1);
	else
		unsetenv("WAYLAND_DISPLAY");
}

static void expect_path(const char *configured, uid_t user, const char *want)
{
	char path[128] = "";

	CHECK_EQ(gpu_socket_path(configured, user, path, sizeof(path)), 0);
	CHECK_STR(path, want);
}

static void test_path(void)
{
	uid_t me = geteuid(), other = me + 1;
	char want[64], tiny[8];

	set_env("/run/me", "wl-1");
	expect_path("/srv/compositor.sock", me, "/srv/compositor.sock");
	expect_path(NULL, me, "/run/me/wl-1");
	set_env("/run/me", NULL);
	expect_path(NULL, me, "/run/me/wayland-0");
	set_env("/run/me", "");
	expect_path(NULL, me, "/run/me/wayland-0");
	set_env("/run/me", "/abs/wayland-9");
	expect_path(NULL, me, "/abs/wayland-9");
	/* Another user's environment is not ours: their /run/user directory. */
	set_env("/run/me", "wl-1");
	snprintf(want, sizeof(want), "/run/user/%u/wl-1", (unsigned)other);
	expect_path(NULL, other, want);
	set_env(NULL, NULL);
	snprintf(want, sizeof(want), "/run/user/%u/wayland-0", (unsigned)me);
	expect_path(NULL, me, want);
	set_env("relative/dir", NULL);
	expect_path(NULL, me, want);
	set_env(NULL, NULL);
	CHECK_EQ(gpu_socket_path(NULL, me, tiny, sizeof(tiny)), -ENAMETOOLONG);
	CHECK_EQ(gpu_socket_path("/a/long/configured/path", me, tiny, sizeof(tiny)), -ENAMETOOLONG);
}

static int listening_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CHECK(s >= 0 && !bind(s, (struct sockaddr *)&sa, sizeof(sa)) && !listen(s, 1));
	return s;
}

/* gpu_socket_open refuses path with exactly "gpu0: no ... at path: why; hint". */
static void expect_refused(const char *path, uid_t user, int want_rc, const char *why)
{
	char err[512] = "", want[512];

	snprintf(want, sizeof(want), "gpu0: no Wayland compositor socket at %s: %s" HINT, path, why);
	CHECK_EQ(gpu_socket_open("gpu0", path, user, err, sizeof(err)), want_rc);
	CHECK_STR(err, want);
}

static void expect_accepted(const char *path, uid_t user)
{
	struct stat want, got;
	char err[512] = "";
	int fd = gpu_socket_open("gpu0", path, user, err, sizeof(err));

	CHECK_STR(err, "");
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(!stat(path, &want) && !fstat(fd, &got));
	CHECK(S_ISSOCK(got.st_mode) && got.st_ino == want.st_ino && got.st_dev == want.st_dev);
	CHECK((fcntl(fd, F_GETFL) & O_PATH) && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
	close(fd);
}

static void test_open(void)
{
	char sock[128], file[128], link[128], why[512];
	uid_t me = geteuid();
	int s, fd;

	snprintf(sock, sizeof(sock), "%s/wayland-0", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(why, sizeof(why), "cannot open %s: No such file or directory", sock);
	expect_refused(sock, me, -ENOENT, why);
	s = listening_socket(sock);
	expect_accepted(sock, me);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	close(fd);
	expect_refused(file, me, -EPERM, "not a socket");
	CHECK_EQ(symlink(sock, link), 0);
	snprintf(why, sizeof(why), "%s is a symlink (never followed)", link);
	expect_refused(link, me, -EPERM, why);
	expect_refused("wayland-0", me, -EPERM, "not an absolute path");
	unlink(link);
	unlink(file);
	close(s);
	unlink(sock);
}

/* In root's directory, a subdirectory of the user's: theirs to swap, nobody else's. */
static void test_other_users_dir(void)
{
	char sub[128], sock[160], why[512];
	int s;

	snprintf(sub, sizeof(sub), "%s/user", dir);
	snprintf(sock, sizeof(sock), "%s/wayland-0", sub);
	CHECK(!mkdir(sub, 0700) && !chown(sub, USER_UID, USER_UID));
	s = listening_socket(sock);
	CHECK_EQ(chown(sock, USER_UID, USER_UID), 0);
	expect_accepted(sock, USER_UID);
	snprintf(why, sizeof(why), "%s is owned by uid %u, who could swap the socket", sub,
		 USER_UID);
	expect_refused(sock, OTHER_UID, -EPERM, why);
	close(s);
	unlink(sock);
	rmdir(sub);
}

/* Cases where someone other than root or the user owns something: root only. */
static void test_other_users(void)
{
	char sock[128], why[512];
	int s;

	if (geteuid()) {
		printf("SKIP: other users' sockets and directories (needs root)\n");
		return;
	}
	snprintf(sock, sizeof(sock), "%s/wayland-0", dir);
	s = listening_socket(sock);
	expect_accepted(sock, USER_UID);	/* root's socket in root's directory */
	CHECK_EQ(chown(sock, OTHER_UID, OTHER_UID), 0);
	snprintf(why, sizeof(why), "owned by uid %u, not root or uid %u", OTHER_UID, USER_UID);
	expect_refused(sock, USER_UID, -EPERM, why);
	CHECK_EQ(chown(sock, USER_UID, USER_UID), 0);
	expect_accepted(sock, USER_UID);
	/* The user's own runtime directory is trusted, another user's is not. */
	CHECK_EQ(chown(dir, USER_UID, USER_UID), 0);
	expect_accepted(sock, USER_UID);
	snprintf(why, sizeof(why), "/tmp is sticky and writable by others, and what is in it is "
		 "owned by uid %u, who could swap the socket", USER_UID);
	expect_refused(sock, OTHER_UID, -EPERM, why);
	/* Writable by others: anyone could swap it; sticky: only an entry's owner. */
	CHECK_EQ(chown(dir, 0, 0), 0);
	CHECK_EQ(chmod(dir, 0777), 0);
	snprintf(why, sizeof(why), "%s is writable by group or others, who could swap the socket",
		 dir);
	expect_refused(sock, USER_UID, -EPERM, why);
	CHECK_EQ(chmod(dir, 01777), 0);
	expect_accepted(sock, USER_UID);
	CHECK_EQ(chown(sock, OTHER_UID, OTHER_UID), 0);
	snprintf(why, sizeof(why), "%s is sticky and writable by others, and what is in it is "
		 "owned by uid %u, who could swap the socket", dir, OTHER_UID);
	expect_refused(sock, USER_UID, -EPERM, why);
	CHECK_EQ(chmod(dir, 0700), 0);
	close(s);
	unlink(sock);
	test_other_users_dir();
}

int main(void)
{
	test_path();
	if (!mkdtemp(dir))
		return 1;
	test_open();
	test_other_users();
	rmdir(dir);
	return check_report("test_gpu_socket");
}
