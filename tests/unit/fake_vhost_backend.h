/* A vhost-user backend in a thread, on one end of a socketpair, for the
 * frontend's tests: it records every message (with its fds) and answers
 * as a well-behaved backend would, unless told to answer one request
 * badly (hostile). */
#ifndef VMSILO_FAKE_VHOST_BACKEND_H
#define VMSILO_FAKE_VHOST_BACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "virtio/vhost_user_proto.h"
#include "vmm/vhost_user_conn.h"

#define FAKE_MAX_MSGS 64

struct fake_msg {
	struct vhost_user_msg m;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nr_fds;
};

/* A reply the backend sends instead of the right one (bad != NULL). */
struct fake_backend;
typedef bool (*fake_bad_reply)(struct fake_backend *b, const struct vhost_user_msg *req);

struct fake_backend {
	int sock;
	pthread_t thread;
	pthread_mutex_t lock;
	uint64_t features, protocol, queues;
	uint8_t config[VHOST_USER_CONFIG_MAX];
	struct fake_msg msgs[FAKE_MAX_MSGS];
	unsigned nr_msgs;
	fake_bad_reply bad;	/* true: it answered (or chose not to) itself */
	int mode;
};

static inline void fake_send(struct fake_backend *b, struct vhost_user_msg *m, size_t len,
			     const int *fds, unsigned nr)
{
	(void)vhost_user_send(b->sock, m, len, fds, nr, 5000);
}

static inline void fake_reply_u64(struct fake_backend *b, uint32_t req, uint64_t v)
{
	struct vhost_user_msg r;

	fake_send(b, &r, vhost_user_msg_u64(&r, req, VHOST_USER_FLAG_REPLY, v), NULL, 0);
}

static inline void fake_answer(struct fake_backend *b, const struct vhost_user_msg *q)
{
	struct vhost_user_msg r;

	switch (q->hdr.request) {
	case VHOST_USER_GET_FEATURES:
		fake_reply_u64(b, q->hdr.request, b->features);
		return;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		fake_reply_u64(b, q->hdr.request, b->protocol);
		return;
	case VHOST_USER_GET_QUEUE_NUM:
		fake_reply_u64(b, q->hdr.request, b->queues);
		return;
	case VHOST_USER_GET_CONFIG:
		pthread_mutex_lock(&b->lock);
		vhost_user_msg_config(&r, q->hdr.request, VHOST_USER_FLAG_REPLY, q->p.config.offset,
				      b->config, q->p.config.size);
		pthread_mutex_unlock(&b->lock);
		fake_send(b, &r, sizeof(r.hdr) + r.hdr.size, NULL, 0);
		return;
	case VHOST_USER_GET_INFLIGHT_FD: {
		struct vhost_user_inflight in = { .mmap_size = 4096 };
		int fd = memfd_create("inflight", MFD_CLOEXEC);

		vhost_user_msg_inflight(&r, q->hdr.request, &in);
		r.hdr.flags |= VHOST_USER_FLAG_REPLY;
		fake_send(b, &r, sizeof(r.hdr) + r.hdr.size, &fd, 1);
		close(fd);
		return;
	}
	case VHOST_USER_GET_VRING_BASE:
		vhost_user_msg_state(&r, q->hdr.request, q->p.state.index, 0);
		r.hdr.flags |= VHOST_USER_FLAG_REPLY;
		fake_send(b, &r, sizeof(r.hdr) + r.hdr.size, NULL, 0);
		return;
	}
	if (q->hdr.flags & VHOST_USER_FLAG_NEED_REPLY)
		fake_reply_u64(b, q->hdr.request, 0);
}

static inline void *fake_backend_main(void *arg)
{
	struct fake_backend *b = arg;
	struct fake_msg fm;

	for (;;) {
		memset(&fm, 0, sizeof(fm));
		if (vhost_user_recv(b->sock, &fm.m, fm.fds, VHOST_USER_MAX_FDS, &fm.nr_fds, 30000))
			break;
		pthread_mutex_lock(&b->lock);
		if (b->nr_msgs < FAKE_MAX_MSGS)
			b->msgs[b->nr_msgs++] = fm;
		pthread_mutex_unlock(&b->lock);
		if (!b->bad || !b->bad(b, &fm.m))
			fake_answer(b, &fm.m);
	}
	return NULL;
}

/* The frontend's end of a new socketpair; the backend serves the other. */
static inline int fake_backend_start(struct fake_backend *b)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv))
		return -1;
	b->sock = sv[1];
	pthread_mutex_init(&b->lock, NULL);
	pthread_create(&b->thread, NULL, fake_backend_main, b);
	return sv[0];
}

static inline void fake_backend_join(struct fake_backend *b)
{
	pthread_join(b->thread, NULL);
	close(b->sock);
	for (unsigned i = 0; i < b->nr_msgs; i++)
		for (unsigned f = 0; f < b->msgs[i].nr_fds; f++)
			close(b->msgs[i].fds[f]);
}

/* The index of the first message of type req from from, or -1. */
static inline int fake_find(struct fake_backend *b, uint32_t req, unsigned from)
{
	int at = -1;

	pthread_mutex_lock(&b->lock);
	for (unsigned i = from; i < b->nr_msgs && at < 0; i++)
		if (b->msgs[i].m.hdr.request == req)
			at = (int)i;
	pthread_mutex_unlock(&b->lock);
	return at;
}

#endif
