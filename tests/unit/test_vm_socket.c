/*
 * Host tools run as root connect only to the VM's own sockets in a runtime
 * directory its user may have rigged: a link or hard link to another
 * socket, a symlinked <name>/ and a server of a third user are refused, and
 * the other sockets never see a connection. Needs root; skips otherwise.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "host-tools/control_client.h"
#include "host-tools/vm_socket.h"

static char top[] = "/tmp/test_vm_socket.XXXXXX";
static char run[PATH_MAX], vm_dir[PATH_MAX];
static uid_t user_uid;
static gid_t user_gid;

static void path_in(char *buf, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		abort();	/* the test's own paths are short */
}

/* A socket bound at path (root's), not listening yet. */
static int bound(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	CHECK((size_t)snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path) <
	      sizeof(addr.sun_path));
	CHECK(fd >= 0);
	CHECK_EQ(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	return fd;
}

/* A listening socket at path, root's unless chowned, with mode. */
static int listener(const char *path, mode_t mode)
{
	int fd = bound(path);

	CHECK_EQ(chmod(path, mode), 0);
	CHECK_EQ(listen(fd, 8), 0);
	return fd;
}

static bool got_connection(int fd)
{
	int conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (conn >= 0)
		close(conn);
	return conn >= 0;
}

/* ctl_connect (vm-stop, vm-start) refused with EPERM. */
static void expect_refused(void)
{
	struct ctl_conn c;

	CHECK_EQ(ctl_connect(&c, run, "vm"), -1);
	CHECK_EQ(errno, EPERM);
	CHECK_EQ(vm_socket_connect(run, "vm", "control.socket"), -1);
}

/* top (root 0755): run/ (root, like /run/vmsilo), run/vm/ (the user's, 0700) */
static void setup(void)
{
	CHECK(mkdtemp(top) != NULL);
	CHECK_EQ(chmod(top, 0755), 0);
	path_in(run, top, "run");
	path_in(vm_dir, run, "vm");
	CHECK_EQ(mkdir(run, 0755), 0);
	CHECK_EQ(mkdir(vm_dir, 0700), 0);
	CHECK_EQ(chown(vm_dir, user_uid, user_gid), 0);
}

static void test_links_refused(void)
{
	char root_only[PATH_MAX], open_sock[PATH_MAX], entry[PATH_MAX], moved[PATH_MAX];
	int secret, open_fd;

	path_in(root_only, top, "root-only.socket");
	path_in(open_sock, run, "open.socket");		/* same filesystem: can be hard-linked */
	path_in(entry, vm_dir, "control.socket");
	secret = listener(root_only, 0600);
	open_fd = listener(open_sock, 0666);

	CHECK_EQ(symlink(root_only, entry), 0);	/* a link to a root-only socket */
	expect_refused();
	CHECK(!got_connection(secret));
	CHECK_EQ(unlink(entry), 0);

	CHECK_EQ(link(open_sock, entry), 0);	/* a hard link to a root socket */
	expect_refused();
	CHECK(!got_connection(open_fd));
	CHECK_EQ(unlink(entry), 0);

	path_in(moved, run, "vm.real");		/* <name>/ itself a link */
	CHECK_EQ(rename(vm_dir, moved), 0);
	CHECK_EQ(symlink(top, vm_dir), 0);
	CHECK_EQ(unlink(root_only), 0);
	path_in(root_only, top, "control.socket");
	close(secret);
	secret = listener(root_only, 0600);
	expect_refused();
	CHECK(!got_connection(secret));
	CHECK_EQ(unlink(vm_dir), 0);
	CHECK_EQ(rename(moved, vm_dir), 0);
	close(secret);
	close(open_fd);
	unlink(root_only);
	unlink(open_sock);
}

/* The VM's own socket (the user's, served by root) is reached; a third user's server is not. */
static void test_servers(void)
{
	char entry[PATH_MAX];
	struct ctl_conn c;
	pid_t pid;
	int fd, status, ready[2];

	path_in(entry, vm_dir, "control.socket");
	fd = listener(entry, 0660);
	CHECK_EQ(chown(entry, user_uid, user_gid), 0);
	CHECK_EQ(ctl_connect(&c, run, "vm"), 0);
	CHECK(got_connection(fd));
	ctl_close(&c);
	close(fd);
	unlink(entry);

	/* Bound as the user's, but listening as uid 54321: SO_PEERCRED says whose. */
	fd = bound(entry);
	CHECK_EQ(chown(entry, user_uid, user_gid), 0);
	CHECK_EQ(pipe(ready), 0);
	pid = fork();
	if (pid == 0) {
		char byte = 1;

		if (setresuid(54321, 54321, 54321) || listen(fd, 8) || write(ready[1], &byte, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	{
		char byte;

		CHECK_EQ(read(ready[0], &byte, 1), 1);
	}
	expect_refused();
	kill(pid, SIGKILL);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	close(fd);
	close(ready[0]);
	close(ready[1]);
	unlink(entry);
}

/*
 * A control.socket whose listener never accepts and whose backlog is full:
 * the client gives up with ETIMEDOUT instead of hanging (the alarm fails
 * the test if it hangs).
 */
static void test_full_backlog(void)
{
	char entry[PATH_MAX];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, clients[16], n = 0;

	path_in(entry, vm_dir, "control.socket");
	fd = bound(entry);
	CHECK_EQ(chown(entry, user_uid, user_gid), 0);
	CHECK_EQ(listen(fd, 0), 0);
	CHECK((size_t)snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", entry) <
	      sizeof(addr.sun_path));
	for (; n < 16; n++) {
		clients[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (connect(clients[n], (struct sockaddr *)&addr, sizeof(addr))) {
			CHECK_EQ(errno, EAGAIN);
			close(clients[n]);
			break;
		}
	}
	CHECK(n < 16);
	alarm(60);
	CHECK_EQ(vm_socket_connect(run, "vm", "control.socket"), -1);
	CHECK_EQ(errno, ETIMEDOUT);
	alarm(0);
	while (n--)
		close(clients[n]);
	close(fd);
	unlink(entry);
}

static void cleanup(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", top);
}

int main(void)
{
	struct passwd *pw = getpwnam("nobody");

	if (geteuid() != 0 || !pw) {
		fprintf(stderr, "test_vm_socket: needs root and a user \"nobody\"; skipped\n");
		return 77;
	}
	user_uid = pw->pw_uid;
	user_gid = pw->pw_gid;
	setup();
	test_links_refused();
	test_servers();
	test_full_backlog();
	cleanup();
	return check_report("test_vm_socket");
}
