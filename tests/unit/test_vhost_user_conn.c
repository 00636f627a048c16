/*
 * vhost_user_recv against a peer that splits a reply one byte per
 * sendmsg, each with 10 fds: whatever the kernel installed is closed,
 * the receive fails with -EPROTO at the first bad segment, and no fd is
 * left open. vhost_user_connect: a backend running as another user is
 * refused, and so is a symlink in the socket's place.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "open_fds.h"
#include "vmm/vhost_user_conn.h"

#define FDS_PER_BYTE 10

struct sender {
	int sock;
	const unsigned char *bytes;
	size_t len;
};

static void send_byte_with_fds(int sock, const unsigned char *byte, int fd)
{
	char cbuf[CMSG_SPACE(FDS_PER_BYTE * sizeof(int))];
	struct iovec iov = { (void *)byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	int fds[FDS_PER_BYTE];

	for (unsigned k = 0; k < FDS_PER_BYTE; k++)
		fds[k] = fd;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	(void)sendmsg(sock, &mh, MSG_NOSIGNAL);
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	for (size_t i = 0; i < s->len; i++)
		send_byte_with_fds(s->sock, &s->bytes[i], null_fd);
	close(null_fd);
	return NULL;
}

static void check_no_leak(const char *what, const void *msg, size_t len)
{
	struct sender s = { .bytes = msg, .len = len };
	struct vhost_user_msg m;
	unsigned before, nr = 7;
	pthread_t t;
	int sv[2], rc;

	CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	CHECK(!fcntl(sv[0], F_SETFL, O_NONBLOCK));
	s.sock = sv[1];
	before = open_fds();
	pthread_create(&t, NULL, sender_main, &s);
	rc = vhost_user_recv(sv[0], &m, NULL, 0, &nr, 2000);
	close(sv[0]);	/* a sender blocked on a full queue sees EPIPE */
	pthread_join(t, NULL);
	if (rc != -EPROTO || nr || open_fds() != before - 1)
		fprintf(stderr, "%s: rc %d nr %u fds %u -> %u\n", what, rc, nr, before,
			open_fds());
	CHECK_EQ(rc, -EPROTO);
	CHECK_EQ(nr, 0u);
	CHECK_EQ(open_fds(), before - 1);	/* sv[0] is closed */
	close(sv[1]);
}

/* A backend listening on path as uid; the parent gets its pid. */
static pid_t serve_as(const char *path, uid_t uid, int ready)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		/* SO_PEERCRED reports who called listen(). */
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || setuid(uid) || listen(s, 4))
			_exit(1);
		(void)!write(ready, "r", 1);
		pause();
		_exit(0);
	}
	return pid;
}

/* Guest RAM goes only to root or the VM's user, and never through a
 * symlink planted where the socket should be. */
static void check_peer(void)
{
	char dir[] = "/tmp/vhu-peer-XXXXXX", path[64], link[64];
	uid_t peer = 0;
	int pipefd[2], sock;
	pid_t pid;
	char c;

	if (geteuid() != 0) {
		fprintf(stderr, "check_peer: skipped (not root)\n");
		return;
	}
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/b.sock", dir);
	snprintf(link, sizeof(link), "%s/l.sock", dir);
	CHECK(!pipe(pipefd));
	pid = serve_as(path, 65534, pipefd[1]);
	CHECK_EQ(read(pipefd[0], &c, 1), 1);
	CHECK_EQ(vhost_user_connect(path, 1000, &peer), -EPERM);
	CHECK_EQ(peer, 65534u);
	sock = vhost_user_connect(path, 65534, &peer);
	CHECK(sock >= 0);
	if (sock >= 0)
		close(sock);
	CHECK(!symlink(path, link));
	/* O_PATH | O_NOFOLLOW opens the link itself: not a socket. */
	CHECK_EQ(vhost_user_connect(link, 65534, &peer), -ENOTSOCK);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pipefd[0]);
	close(pipefd[1]);
	unlink(link);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	struct vhost_user_hdr big = { VHOST_USER_GET_FEATURES,
				      VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY, 4000 };
	unsigned char oversized[sizeof(big) + 4000] = { 0 };
	struct vhost_user_msg m;
	size_t n = vhost_user_msg_u64(&m, VHOST_USER_GET_FEATURES, VHOST_USER_FLAG_REPLY, 1);

	check_no_leak("a u64 reply, 1 byte per sendmsg", &m, n);
	memcpy(oversized, &big, sizeof(big));
	check_no_leak("an oversized reply being drained", oversized, sizeof(oversized));
	check_peer();
	return check_report("test_vhost_user_conn");
}
