/*
 * vhost_user_recv against a peer that splits a reply one byte per
 * sendmsg, each with 10 fds: whatever the kernel installed is closed,
 * the receive fails with -EPROTO at the first bad segment, and no fd is
 * left open.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
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
	return check_report("test_vhost_user_conn");
}
