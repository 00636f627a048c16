/* Socket activation's variables and fds, and sd_notify datagrams to a
 * test socket (a path and an abstract address). */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "vmm/activation.h"

static char err[256];

static int parse(const char *pid, const char *fds, const char *names, int *fd)
{
	err[0] = '\0';
	return activation_parse(pid, fds, names, 1234, "command", fd, err, sizeof(err));
}

static void test_parse(void)
{
	int fd = 99;

	CHECK_EQ(parse(NULL, NULL, NULL, &fd), 0);
	CHECK_EQ(fd, -1);
	CHECK_EQ(parse("1234", NULL, NULL, &fd), 0);
	CHECK_EQ(fd, -1);
	CHECK_EQ(parse("999", "1", NULL, &fd), 0);	/* another process's */
	CHECK_EQ(fd, -1);
	CHECK_EQ(parse("x", "1", NULL, &fd), 0);
	CHECK_EQ(fd, -1);
	CHECK_EQ(parse("1234", "0", NULL, &fd), 0);
	CHECK_EQ(fd, -1);
	CHECK_EQ(parse("1234", "1", NULL, &fd), 0);
	CHECK_EQ(fd, 3);
	CHECK_EQ(parse("1234", "1", "vmsilo-banking-command.socket", &fd), 0);	/* a single fd */
	CHECK_EQ(fd, 3);
	CHECK_EQ(parse("1234", "3", "a:command:b", &fd), 0);
	CHECK_EQ(fd, 4);
	CHECK_EQ(parse("1234", "2", "command:command", &fd), 0);
	CHECK_EQ(fd, 3);
	CHECK_EQ(parse("1234", "1", "command", &fd), 0);
	CHECK_EQ(fd, 3);

	CHECK_EQ(parse("1234", "2", "a:b", &fd), -1);
	CHECK(strstr(err, "none is named \"command\"") != NULL);
	CHECK_EQ(fd, -1);
	CHECK_EQ(parse("1234", "2", "command", &fd), -1);
	CHECK(strstr(err, "does not name the 2 fds") != NULL);
	CHECK_EQ(parse("1234", "1", "a:command", &fd), -1);
	CHECK_EQ(parse("1234", "two", NULL, &fd), -1);
	CHECK(strstr(err, "LISTEN_FDS=\"two\"") != NULL);
	CHECK_EQ(parse("1234", "-1", NULL, &fd), -1);
	CHECK_EQ(parse("1234", "3x", NULL, &fd), -1);
	CHECK_EQ(parse("1234", "99999999999999999999999", NULL, &fd), -1);
	CHECK_EQ(parse("1234", "65", NULL, &fd), -1);
	CHECK_EQ(parse("1234", "", NULL, &fd), -1);
}

static int listener(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	/* autobind to an abstract address, then listen */
	bind(fd, (struct sockaddr *)&addr, sizeof(sa_family_t));
	listen(fd, 4);
	return fd;
}

/* Puts fd at number to, as the service manager would. */
static void place(int fd, int to)
{
	if (fd != to) {
		dup2(fd, to);
		close(fd);
	}
	fcntl(to, F_SETFD, 0);
}

static void test_take_fd(void)
{
	char pid[16];
	int fd = 99, flags;

	/* fds 3 and 4 become a pipe end and a listener */
	int p[2];

	CHECK_EQ(pipe(p), 0);
	place(p[0], 30);
	close(p[1]);
	place(listener(), 31);
	place(30, 3);
	place(31, 4);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_FDNAMES", "other:command", 1);
	CHECK_EQ(activation_command_fd(&fd, err, sizeof(err)), 0);
	CHECK_EQ(fd, 4);
	CHECK(fcntl(3, F_GETFD) < 0);		/* the other one is closed */
	flags = fcntl(4, F_GETFD);
	CHECK(flags >= 0 && (flags & FD_CLOEXEC));
	CHECK(fcntl(4, F_GETFL) & O_NONBLOCK);
	CHECK(!getenv("LISTEN_PID") && !getenv("LISTEN_FDS") && !getenv("LISTEN_FDNAMES"));
	close(4);

	/* Not activated: nothing happens. */
	CHECK_EQ(activation_command_fd(&fd, err, sizeof(err)), 0);
	CHECK_EQ(fd, -1);

	/* A handed-in fd that is not a listening socket is refused. */
	CHECK_EQ(pipe(p), 0);
	place(p[0], 30);
	close(p[1]);
	place(30, 3);
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	CHECK_EQ(activation_command_fd(&fd, err, sizeof(err)), -1);
	CHECK(strstr(err, "fd 3 is not a listening stream socket") != NULL);
	CHECK_EQ(fd, -1);
	close(3);
}

static int notify_receiver(const char *name, bool abstract)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memcpy(addr.sun_path, name, strlen(name));
	if (abstract)
		addr.sun_path[0] = '\0';
	else
		len++;
	unlink(name);
	CHECK_EQ(bind(fd, (struct sockaddr *)&addr, len), 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[600];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	CHECK(n >= 0);
	buf[n < 0 ? 0 : n] = '\0';
	CHECK_STR(buf, want);
}

static void test_notify(void)
{
	char path[64], abstract[64];
	int fd;

	/* Unset: nothing is sent and nothing fails. */
	unsetenv("NOTIFY_SOCKET");
	notify_init();
	CHECK_EQ(notify_send("READY=1"), 0);

	snprintf(path, sizeof(path), "/tmp/test_activation.%d", (int)getpid());
	fd = notify_receiver(path, false);
	setenv("NOTIFY_SOCKET", path, 1);
	notify_init();
	CHECK(!getenv("NOTIFY_SOCKET"));	/* not passed on */
	CHECK_EQ(notify_send("READY=1\nSTATUS=%s", "running"), 0);
	expect_datagram(fd, "READY=1\nSTATUS=running");
	CHECK_EQ(notify_send("STOPPING=1"), 0);
	expect_datagram(fd, "STOPPING=1");
	close(fd);
	unlink(path);
	CHECK_EQ(notify_send("READY=1"), -1);	/* the receiver is gone */

	snprintf(abstract, sizeof(abstract), "@vmsilo-test-notify-%d", (int)getpid());
	fd = notify_receiver(abstract, true);
	setenv("NOTIFY_SOCKET", abstract, 1);
	notify_init();
	CHECK_EQ(notify_send("READY=1"), 0);
	expect_datagram(fd, "READY=1");
	close(fd);

	setenv("NOTIFY_SOCKET", "relative/path", 1);
	notify_init();
	CHECK_EQ(notify_send("READY=1"), 0);	/* ignored, with a warning */
}

int main(void)
{
	test_parse();
	test_take_fd();
	test_notify();
	return check_report("test_activation");
}
