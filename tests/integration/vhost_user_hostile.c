/*
 * A hostile vhost-user backend for the rig: listens on argv[1], takes one
 * frontend, answers like a plain backend (one queue, VERSION_1, protocol
 * features MQ and REPLY_ACK) except for the one misbehaviour argv[2] names:
 *   short   GET_FEATURES' reply 4 bytes long
 *   size    GET_PROTOCOL_FEATURES' reply 16 bytes long
 *   fds     GET_FEATURES' reply with 8 eventfds attached
 *   queues  GET_QUEUE_NUM says 65535
 *   hangup  half of GET_FEATURES' reply, then the connection closed
 *   silent  GET_FEATURES never answered
 * The VMM must fail that device with a line and live on. Not run by ctest.
 */
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "virtio/vhost_user_proto.h"
#include "vmm/vhost_user_conn.h"

static const char *mode;

static void reply_u64(int sock, uint32_t req, uint64_t v, uint32_t size, const int *fds,
		      unsigned nr)
{
	struct vhost_user_msg r;

	vhost_user_msg_u64(&r, req, VHOST_USER_FLAG_REPLY, v);
	r.hdr.size = size;
	vhost_user_send(sock, &r, sizeof(r.hdr) + size, fds, nr, 5000);
}

/* false: stop serving */
static int misbehave(int sock, const struct vhost_user_msg *q)
{
	uint64_t features = (1ull << 32) | (1ull << 30);
	uint32_t req = q->hdr.request;
	int fds[8];

	if (req == VHOST_USER_GET_FEATURES && !strcmp(mode, "short")) {
		reply_u64(sock, req, features, 4, NULL, 0);
	} else if (req == VHOST_USER_GET_PROTOCOL_FEATURES && !strcmp(mode, "size")) {
		reply_u64(sock, req, 0, 16, NULL, 0);
	} else if (req == VHOST_USER_GET_FEATURES && !strcmp(mode, "fds")) {
		for (int i = 0; i < 8; i++)
			fds[i] = eventfd(0, 0);
		reply_u64(sock, req, features, 8, fds, 8);
	} else if (req == VHOST_USER_GET_QUEUE_NUM && !strcmp(mode, "queues")) {
		reply_u64(sock, req, 65535, 8, NULL, 0);
	} else if (req == VHOST_USER_GET_FEATURES && !strcmp(mode, "hangup")) {
		struct vhost_user_msg r;

		vhost_user_msg_u64(&r, req, VHOST_USER_FLAG_REPLY, features);
		vhost_user_send(sock, &r, 10, NULL, 0, 5000);
		return 0;
	} else if (req == VHOST_USER_GET_FEATURES && !strcmp(mode, "silent")) {
		pause();
	} else {
		return -1;	/* not this one: answer it plainly */
	}
	return 1;
}

static void answer(int sock, const struct vhost_user_msg *q)
{
	switch (q->hdr.request) {
	case VHOST_USER_GET_FEATURES:
		reply_u64(sock, q->hdr.request, (1ull << 32) | (1ull << 30), 8, NULL, 0);
		return;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		reply_u64(sock, q->hdr.request, (1ull << VHOST_USER_PROTOCOL_F_MQ) |
			  (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK), 8, NULL, 0);
		return;
	case VHOST_USER_GET_QUEUE_NUM:
		reply_u64(sock, q->hdr.request, 1, 8, NULL, 0);
		return;
	}
	if (q->hdr.flags & VHOST_USER_FLAG_NEED_REPLY)
		reply_u64(sock, q->hdr.request, 0, 8, NULL, 0);
}

static int serve(int sock)
{
	struct vhost_user_msg q;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nr;

	while (!vhost_user_recv(sock, &q, fds, VHOST_USER_MAX_FDS, &nr, 3600 * 1000)) {
		int rc = misbehave(sock, &q);

		for (unsigned i = 0; i < nr; i++)
			close(fds[i]);
		if (rc == 0)
			break;
		if (rc < 0)
			answer(sock, &q);
	}
	close(sock);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int lsock, sock;

	if (argc != 3 || strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: %s SOCKET short|size|fds|queues|hangup|silent\n", argv[0]);
		return 2;
	}
	mode = argv[2];
	strcpy(addr.sun_path, argv[1]);
	unlink(argv[1]);
	lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsock < 0 || bind(lsock, (struct sockaddr *)&addr, sizeof(addr)) || listen(lsock, 1)) {
		perror(argv[1]);
		return 1;
	}
	sock = accept4(lsock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (sock < 0) {
		perror("accept");
		return 1;
	}
	close(lsock);
	return serve(sock);
}
