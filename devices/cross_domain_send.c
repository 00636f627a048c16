/*
 * SEND and WRITE: guest bytes and fds out to the compositor, to a pipe it
 * gave or an eventfd. Every write is non-blocking and bounded in time
 * (CD_IO_WAIT_MS), so a compositor that stops reading costs the guest an
 * error, never the device loop a hang.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_gpu.h>

#include "devices/cross_domain_priv.h"
#include "vmm/log.h"

#define WRITE_CHUNK	4096u		/* PIPE_BUF: a pipe's writes stay whole */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Until fd can take more or deadline (ms) passes: 0 or -ETIMEDOUT. */
static int wait_writable(int fd, uint64_t deadline)
{
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int n;

		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)(deadline - now));
		if (n > 0)
			return pfd.revents & (POLLERR | POLLHUP | POLLNVAL) ? -EPIPE : 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* All of buf on the stream sock, fds with its first bytes. */
static int send_all(int sock, const uint8_t *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CROSS_DOMAIN_MAX_IDENTIFIERS)];
		struct cmsghdr align;
	} ctl;
	uint64_t deadline = now_ms() + CD_IO_WAIT_MS;
	size_t sent = 0;

	while (sent < len) {
		struct iovec iov = { (void *)(buf + sent), len - sent };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;
		int err;

		if (!sent && nfds) {
			struct cmsghdr *c;

			msg.msg_control = ctl.buf;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		}
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return n ? -errno : -EIO;
		err = wait_writable(sock, deadline);
		if (err)
			return err;
	}
	return 0;
}

/* All of buf into a non-blocking pipe or eventfd, in PIPE_BUF pieces. */
static int write_bounded(int fd, const uint8_t *buf, size_t len)
{
	uint64_t deadline = now_ms() + CD_IO_WAIT_MS;

	while (len) {
		ssize_t n = write(fd, buf, len < WRITE_CHUNK ? len : WRITE_CHUNK);
		int err;

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return n ? -errno : -EIO;
		err = wait_writable(fd, deadline);
		if (err)
			return err;
	}
	return 0;
}

struct send_fds {
	int fds[CROSS_DOMAIN_MAX_IDENTIFIERS];
	unsigned nfds;
	int pipes[CROSS_DOMAIN_MAX_IDENTIFIERS][2];	/* read pipes made for this SEND */
	uint32_t pipe_ids[CROSS_DOMAIN_MAX_IDENTIFIERS];
	unsigned npipes;
};

static void close_pipes(struct send_fds *s)
{
	for (unsigned i = 0; i < s->npipes; i++) {
		close(s->pipes[i][0]);
		close(s->pipes[i][1]);
	}
	s->npipes = 0;
}

/* The guest predicts each read pipe's id; it counts on even if we fail. */
static uint32_t new_read_pipe(struct cd_ctx *cd, uint32_t id, struct send_fds *s, const char **why)
{
	int p[2] = { -1, -1 };

	if (id != cd->next_read_pipe) {
		*why = "a read pipe id the guest did not predict right";
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	cd->next_read_pipe++;
	if (cd->nr_items + s->npipes >= CD_MAX_ITEMS) {
		*why = "more live items than a context may hold";
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	if (pipe2(p, O_CLOEXEC) || fcntl(p[0], F_SETFL, O_NONBLOCK)) {
		*why = "no pipe";
		if (p[0] >= 0) {
			close(p[0]);
			close(p[1]);
		}
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	s->pipes[s->npipes][0] = p[0];
	s->pipes[s->npipes][1] = p[1];
	s->pipe_ids[s->npipes++] = id;
	s->fds[s->nfds++] = p[1];
	return 0;
}

static uint32_t add_identifier(struct cd_ctx *cd, uint32_t type, uint32_t id, struct send_fds *s,
			       const char **why)
{
	struct gpu_resource *res;
	struct cd_item *it;

	switch (type) {
	case CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB:
		res = gpu_ctx_resource(cd->ctx, id);
		if (!res) {
			*why = "a resource that is not this context's";
			return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
		}
		s->fds[s->nfds] = gpu_res_host_fd(res);
		if (s->fds[s->nfds] < 0) {
			*why = "a resource without host memory";
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		}
		s->nfds++;
		return 0;
	case CROSS_DOMAIN_ID_TYPE_READ_PIPE:
		return new_read_pipe(cd, id, s, why);
	case CROSS_DOMAIN_ID_TYPE_WRITE_PIPE:
	case CROSS_DOMAIN_ID_TYPE_EVENT:
		it = cd_item_find(cd, id);
		if (!it || it->kind != (type == CROSS_DOMAIN_ID_TYPE_EVENT ? CD_ITEM_EVENT : CD_ITEM_WRITE_PIPE)) {
			*why = "an unknown item";
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		}
		s->fds[s->nfds++] = it->fd;
		return 0;
	default:
		*why = "an identifier of an unknown type";
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
}

/* The read ends of a SEND's new pipes become items, polled like the socket. */
static void keep_read_pipes(struct cd_ctx *cd, struct send_fds *s)
{
	for (unsigned i = 0; i < s->npipes; i++) {
		struct cd_item *it = cd_item_new(cd, CD_ITEM_READ_PIPE, s->pipes[i][0], s->pipe_ids[i]);

		close(s->pipes[i][1]);
		if (!it) {
			close(s->pipes[i][0]);
			continue;
		}
		if (cd_source_add(cd, &it->src, it->fd, it))
			cd_item_remove(cd, it);
	}
	s->npipes = 0;
}

static uint32_t send_refused(struct cd_ctx *cd, struct send_fds *s, const char *why, uint32_t rc)
{
	cd_warn(cd->ctx, "SEND refused: %s", why);
	close_pipes(s);
	return rc;
}

uint32_t cd_send(struct cd_ctx *cd, const uint8_t *cmd, uint16_t size)
{
	struct cross_domain_send_receive h;
	struct send_fds s = { .nfds = 0 };
	const char *why = NULL;
	int err;

	if (size < sizeof(h))
		return send_refused(cd, &s, "shorter than its header", VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	memcpy(&h, cmd, sizeof(h));
	if (h.num_identifiers > CROSS_DOMAIN_MAX_IDENTIFIERS || h.opaque_data_size > size - sizeof(h))
		return send_refused(cd, &s, "counts beyond the command", VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	if (cd->sock < 0 || cd->sock_broken)
		return send_refused(cd, &s, "no connection to the compositor", VIRTIO_GPU_RESP_ERR_UNSPEC);
	if (h.num_identifiers && !h.opaque_data_size)
		return send_refused(cd, &s, "fds without bytes", VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	for (uint32_t i = 0; i < h.num_identifiers; i++) {
		uint32_t rc = add_identifier(cd, h.identifier_types[i], h.identifiers[i], &s, &why);

		if (rc)
			return send_refused(cd, &s, why, rc);
	}
	err = send_all(cd->sock, cmd + sizeof(h), h.opaque_data_size, s.fds, s.nfds);
	if (err) {
		/* The stream may hold part of it now: the guest sees the end of it. */
		shutdown(cd->sock, SHUT_RDWR);
		cd->sock_broken = true;
		return send_refused(cd, &s, strerror(-err), VIRTIO_GPU_RESP_ERR_UNSPEC);
	}
	keep_read_pipes(cd, &s);
	return 0;
}

uint32_t cd_write(struct cd_ctx *cd, const uint8_t *cmd, uint16_t size)
{
	struct cross_domain_read_write w;
	struct cd_item *it;
	int err = 0;

	if (size < sizeof(w))
		goto bad;
	memcpy(&w, cmd, sizeof(w));
	it = cd_item_find(cd, w.identifier);
	if (w.opaque_data_size > size - sizeof(w) || !it ||
	    (it->kind != CD_ITEM_WRITE_PIPE && it->kind != CD_ITEM_EVENT))
		goto bad;
	if (it->kind == CD_ITEM_EVENT && w.opaque_data_size != sizeof(uint64_t) &&
	    !(w.hang_up && !w.opaque_data_size))
		goto bad;
	if (w.opaque_data_size)
		err = write_bounded(it->fd, cmd + sizeof(w), w.opaque_data_size);
	if (err)
		cd_warn(cd->ctx, "WRITE to item %u: %s; closed", w.identifier, strerror(-err));
	if (err || w.hang_up)
		cd_item_remove(cd, it);
	return err ? VIRTIO_GPU_RESP_ERR_UNSPEC : 0;
bad:
	cd_warn(cd->ctx, "bad WRITE (%u bytes)", size);
	return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
}
