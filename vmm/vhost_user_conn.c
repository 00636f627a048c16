#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/vhost_user_conn.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events until the deadline: 0, or -ETIMEDOUT / -errno. */
static int wait_for(int sock, short events, int64_t deadline)
{
	struct pollfd p = { .fd = sock, .events = events };

	for (;;) {
		int64_t left = deadline - now_ms();
		int n;

		if (left < 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;	/* readable, or hung up: the next call says which */
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* The socket file, pinned without following a symlink in its last component. */
static int open_socket_file(const char *path)
{
	struct stat st;
	int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISSOCK(st.st_mode)) {
		close(fd);
		return -ENOTSOCK;
	}
	return fd;
}

/* Guest RAM goes to whoever answers: root or the VM's user only. */
static int check_peer(int sock, uid_t allowed, uid_t *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) || len != sizeof(cred))
		return -errno ? -errno : -EPROTO;
	*peer = cred.uid;
	return cred.uid == 0 || cred.uid == allowed ? 0 : -EPERM;
}

int vhost_user_connect(const char *path, uid_t allowed, uid_t *peer)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int file = open_socket_file(path), sock, rc;

	if (file < 0)
		return file;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d", file);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sock < 0) {
		rc = -errno;
		close(file);
		return rc;
	}
	/* A local stream socket connects at once or fails (EAGAIN: backlog full). */
	rc = connect(sock, (struct sockaddr *)&addr, sizeof(addr)) ? -errno : 0;
	close(file);
	if (!rc)
		rc = check_peer(sock, allowed, peer);
	if (rc) {
		close(sock);
		return rc;
	}
	return sock;
}

static void put_fds(struct msghdr *mh, char *cbuf, size_t cbuf_len, const int *fds,
		    unsigned nr)
{
	struct cmsghdr *c;

	if (!nr)
		return;
	memset(cbuf, 0, cbuf_len);
	mh->msg_control = cbuf;
	mh->msg_controllen = CMSG_SPACE(nr * sizeof(int));
	c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nr * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nr * sizeof(int));
}

int vhost_user_send(int sock, const void *msg, size_t len, const int *fds, unsigned nr_fds,
		    unsigned timeout_ms)
{
	char cbuf[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
	int64_t deadline = now_ms() + timeout_ms;
	size_t done = 0;

	if (nr_fds > VHOST_USER_MAX_FDS)
		return -EINVAL;
	while (done < len) {
		struct iovec iov = { (char *)msg + done, len - done };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;
		int rc;

		if (!done)	/* the fds go with the first byte */
			put_fds(&mh, cbuf, sizeof(cbuf), fds, nr_fds);
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return errno == ECONNRESET ? -EPIPE : -errno;
		rc = wait_for(sock, POLLOUT, deadline);
		if (rc)
			return rc;
	}
	return 0;
}

struct fd_take {
	int *fds;
	unsigned max, nr;
	bool bad;	/* extra or cut-off fds came */
};

static void close_fds(int *fds, unsigned nr)
{
	for (unsigned i = 0; i < nr; i++)
		close(fds[i]);
}

/* Every fd the kernel installed (as many as cmsg_len says, which the
 * buffer's alignment may make more than asked for) is kept or closed. */
static void take_fds(struct fd_take *t, struct msghdr *mh)
{
	if (mh->msg_flags & MSG_CTRUNC)
		t->bad = true;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		const unsigned char *data = CMSG_DATA(c);
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, data + i * sizeof(int), sizeof(fd));
			if (t->nr < t->max) {
				t->fds[t->nr++] = fd;
			} else {
				close(fd);
				t->bad = true;
			}
		}
	}
}

/* Exactly len bytes (NULL buf: discarded) before the deadline. */
static int read_exact(int sock, void *buf, size_t len, struct fd_take *t, int64_t deadline)
{
	char cbuf[CMSG_SPACE((VHOST_USER_MAX_FDS + 1) * sizeof(int))];
	char sink[256];
	size_t done = 0;

	while (done < len) {
		size_t want = len - done;
		struct iovec iov = { buf ? (char *)buf + done : sink,
				     buf ? want : (want < sizeof(sink) ? want : sizeof(sink)) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		int rc;

		if (n > 0) {
			take_fds(t, &mh);
			if (t->bad)	/* read no further into a broken stream */
				return -EPROTO;
			done += (size_t)n;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return errno == ECONNRESET ? -EPIPE : -errno;
		rc = wait_for(sock, POLLIN, deadline);
		if (rc)
			return rc;
	}
	return 0;
}

int vhost_user_recv(int sock, struct vhost_user_msg *m, int *fds, unsigned max_fds,
		    unsigned *nr_fds, unsigned timeout_ms)
{
	struct fd_take t = { .fds = fds, .max = max_fds };
	int64_t deadline = now_ms() + timeout_ms;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = read_exact(sock, &m->hdr, sizeof(m->hdr), &t, deadline);
	if (!rc && m->hdr.size > VHOST_USER_PAYLOAD_MAX) {
		rc = read_exact(sock, NULL, m->hdr.size, &t, deadline);
		if (!rc)
			rc = -EPROTO;
	} else if (!rc) {
		rc = read_exact(sock, &m->p, m->hdr.size, &t, deadline);
	}
	if (!rc && t.bad)
		rc = -EPROTO;
	if (rc) {
		close_fds(t.fds, t.nr);
		t.nr = 0;
	}
	*nr_fds = t.nr;
	return rc;
}
