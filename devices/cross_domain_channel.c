/*
 * The channel ring: what the host has for the guest. Each ring-1 fence the
 * guest parks (the fence of its POLL) is worth exactly one message, a
 * RECEIVE from the compositor's socket or a READ from a pipe or eventfd,
 * written at offset 0 of the channel ring before the fence is signalled;
 * the guest reads it and polls again. Nothing is read from the host while
 * no fence is parked, so a guest that never polls makes the host buffer
 * nothing here (the compositor's writes back up in its own socket).
 *
 * One epoll set per device holds every context's fds, EPOLLONESHOT, and
 * is the device's only fd watch (the loop has 16, a device may have 64
 * contexts). A source fires once; a context with a parked fence serves it
 * and, with more fences queued, arms all its sources again; a context
 * without one ignores it, and its next fence arms it again. epoll_wait
 * takes one event at a time, so no event outlives the source it names.
 *
 * When the compositor hangs up, what it sent first is delivered, then one
 * RECEIVE of 0 bytes and no fds: wayland-proxy-virtwl reads that as the
 * end of the stream and closes its client (crosvm sends nothing, and the
 * guest waits on its fence for ever).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/cross_domain_priv.h"
#include "devices/vdev.h"
#include "vmm/log.h"

#define MAX_POLLERS 8		/* GPU devices in one process (tests have several) */

struct cd_poller {
	struct gpu *gpu;
	int epfd;
	int watch;
	unsigned users;		/* contexts that joined */
};

static struct cd_poller pollers[MAX_POLLERS];
static uint8_t ring_msg[CROSS_DOMAIN_RING_SIZE];

static void source_ready(struct cd_source *src);

static void on_ready(struct vdev *dev, int fd, uint32_t revents, void *arg)
{
	struct cd_poller *p = arg;
	struct epoll_event ev;

	if (fd < 0) {	/* the loop dropped the watch: take it again */
		p->watch = vdev_watch_fd(dev, p->epfd, POLLIN, on_ready, p);
		if (p->watch < 0)
			log_err("%s: cross-domain: no fd watch (%s): contexts get no more messages",
				dev->name, strerror(-p->watch));
		return;
	}
	if (epoll_wait(p->epfd, &ev, 1, 0) == 1)
		source_ready(ev.data.ptr);
}

static struct cd_poller *poller_new(struct gpu *gpu)
{
	for (unsigned i = 0; i < MAX_POLLERS; i++) {
		struct cd_poller *p = &pollers[i];

		if (p->users)
			continue;
		p->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (p->epfd < 0)
			return NULL;
		p->watch = vdev_watch_fd(gpu_vdev(gpu), p->epfd, POLLIN, on_ready, p);
		if (p->watch < 0) {
			close(p->epfd);
			return NULL;
		}
		p->gpu = gpu;
		return p;
	}
	return NULL;
}

int cd_poller_join(struct cd_ctx *cd)
{
	struct cd_poller *p = NULL;

	if (cd->poller)
		return 0;
	for (unsigned i = 0; i < MAX_POLLERS && !p; i++)
		if (pollers[i].users && pollers[i].gpu == cd->ctx->gpu)
			p = &pollers[i];
	if (!p && !(p = poller_new(cd->ctx->gpu))) {
		cd_warn(cd->ctx, "cannot poll the host (%s)", strerror(errno));
		return -ENOSPC;
	}
	p->users++;
	cd->poller = p;
	return 0;
}

void cd_poller_leave(struct cd_ctx *cd)
{
	struct cd_poller *p = cd->poller;

	cd->poller = NULL;
	if (!p || --p->users)
		return;
	if (p->watch >= 0)
		vdev_unwatch_fd(gpu_vdev(p->gpu), p->watch);
	close(p->epfd);
	*p = (struct cd_poller){ .epfd = -1, .watch = -1 };
}

static int source_ctl(struct cd_source *src, int op, bool armed)
{
	struct epoll_event ev = {
		.events = EPOLLONESHOT | (armed ? EPOLLIN : 0), .data.ptr = src,
	};

	if (epoll_ctl(src->cd->poller->epfd, op, src->fd, &ev)) {
		cd_warn(src->cd->ctx, "cannot poll an fd: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int cd_source_add(struct cd_ctx *cd, struct cd_source *src, int fd, struct cd_item *item)
{
	*src = (struct cd_source){ .cd = cd, .item = item, .fd = fd };
	if (!cd->poller || source_ctl(src, EPOLL_CTL_ADD, cd->nr_fences > 0))
		return -ENODEV;
	src->added = true;
	return 0;
}

void cd_source_del(struct cd_source *src)
{
	if (!src->added)
		return;
	epoll_ctl(src->cd->poller->epfd, EPOLL_CTL_DEL, src->fd, NULL);
	src->added = false;
}

static void arm(struct cd_source *src)
{
	if (src->added)
		source_ctl(src, EPOLL_CTL_MOD, true);
}

static void arm_all(struct cd_ctx *cd)
{
	if (cd->sock >= 0)
		arm(&cd->sock_src);
	for (struct cd_item *it = cd->items; it; it = it->next)
		arm(&it->src);
}

void cd_host_close(struct cd_ctx *cd)
{
	if (cd->sock < 0)
		return;
	cd_source_del(&cd->sock_src);
	close(cd->sock);
	cd->sock = -1;
}

bool cd_fence_park(struct cd_ctx *cd, uint64_t fence_id)
{
	if (!cd->channel_ring || cd->nr_fences >= CD_MAX_FENCES) {
		cd_warn(cd->ctx, "ring-1 fence %llu %s: signalled at once", (unsigned long long)fence_id,
				cd->channel_ring ? "beyond the queue" : "without a channel ring");
		return true;
	}
	cd->fences[cd->nr_fences++] = fence_id;
	if (cd->nr_fences == 1)
		arm_all(cd);
	return false;
}

static void signal_oldest(struct cd_ctx *cd)
{
	uint64_t id = cd->fences[0];

	cd->nr_fences--;
	memmove(cd->fences, cd->fences + 1, cd->nr_fences * sizeof(cd->fences[0]));
	gpu_fence_signal(cd->ctx, CROSS_DOMAIN_CHANNEL_RING, id);
	if (cd->nr_fences)
		arm_all(cd);
}

static uint32_t id_type(enum cd_item_kind kind)
{
	switch (kind) {
	case CD_ITEM_WRITE_PIPE:
		return CROSS_DOMAIN_ID_TYPE_WRITE_PIPE;
	case CD_ITEM_EVENT:
		return CROSS_DOMAIN_ID_TYPE_EVENT;
	default:
		return CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB;
	}
}

/* Every SCM_RIGHTS fd of msg into fds (at most max; the rest closed). */
static unsigned take_fds(struct msghdr *msg, int *fds, unsigned max)
{
	unsigned n = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (n < max)
				fds[n++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

/* The end of the stream for the guest: RECEIVE of nothing, then no socket. */
static int deliver_hang_up(struct cd_ctx *cd)
{
	struct cross_domain_send_receive h = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_RECEIVE, .cmd_size = sizeof(h) },
	};

	cd_host_close(cd);
	cd_ring_write(cd, cd->channel_ring, &h, sizeof(h));
	return 1;
}

static void close_fds(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

/* One recvmsg from the compositor into the channel ring: 1, or 0 if none. */
static int receive(struct cd_ctx *cd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CROSS_DOMAIN_MAX_IDENTIFIERS)];
		struct cmsghdr align;
	} ctl;
	struct cross_domain_send_receive h = { .hdr.cmd = CROSS_DOMAIN_CMD_RECEIVE };
	struct iovec iov = { ring_msg + sizeof(h), CROSS_DOMAIN_RECEIVE_MAX_DATA };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	int fds[CROSS_DOMAIN_MAX_IDENTIFIERS];
	ssize_t n = recvmsg(cd->sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	unsigned nfds;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0)
		return deliver_hang_up(cd);
	nfds = take_fds(&msg, fds, CROSS_DOMAIN_MAX_IDENTIFIERS);
	if (msg.msg_flags & MSG_CTRUNC)
		cd_warn(cd->ctx, "the compositor sent more than %u fds "
				"at once: the rest are lost", CROSS_DOMAIN_MAX_IDENTIFIERS);
	if (cd->nr_items + nfds > CD_MAX_ITEMS) {
		cd_warn(cd->ctx, "more than %u items held: "
				"the connection ends", CD_MAX_ITEMS);
		close_fds(fds, nfds);
		return deliver_hang_up(cd);
	}
	for (unsigned i = 0; i < nfds; i++) {
		struct cd_item *it = cd_item_from_host(cd, fds[i]);
		unsigned k = h.num_identifiers;

		if (!it)
			continue;
		h.identifiers[k] = it->id;
		h.identifier_types[k] = id_type(it->kind);
		h.identifier_sizes[k] = it->kind == CD_ITEM_BLOB ? (uint32_t)it->size : 0;
		h.num_identifiers++;
	}
	h.opaque_data_size = (uint32_t)n;
	h.hdr.cmd_size = (uint16_t)(sizeof(h) + (size_t)n);
	memcpy(ring_msg, &h, sizeof(h));
	if (cd_ring_write(cd, cd->channel_ring, ring_msg, sizeof(h) + (size_t)n))
		cd_host_close(cd);	/* the stream lost bytes: it cannot go on */
	return 1;
}

/* One read of a pipe or eventfd into the channel ring: 1, or 0 if none. */
static int read_item(struct cd_ctx *cd, struct cd_item *it)
{
	struct cross_domain_read_write r = { .hdr.cmd = CROSS_DOMAIN_CMD_READ, .identifier = it->id };
	size_t want = it->kind == CD_ITEM_EVENT ? sizeof(uint64_t) : CROSS_DOMAIN_READ_MAX_DATA;
	ssize_t n = read(it->fd, ring_msg + sizeof(r), want);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	r.hang_up = n <= 0;
	r.opaque_data_size = n > 0 ? (uint32_t)n : 0;
	r.hdr.cmd_size = (uint16_t)(sizeof(r) + r.opaque_data_size);
	memcpy(ring_msg, &r, sizeof(r));
	cd_ring_write(cd, cd->channel_ring, ring_msg, sizeof(r) + r.opaque_data_size);
	if (r.hang_up)
		cd_item_remove(cd, it);
	return 1;
}

static void source_ready(struct cd_source *src)
{
	struct cd_ctx *cd = src->cd;

	if (!cd->nr_fences || !cd->channel_ring)
		return;		/* disarmed by EPOLLONESHOT until the next fence */
	if (!(src->item ? read_item(cd, src->item) : receive(cd))) {
		arm(src);	/* nothing after all: wait on */
		return;
	}
	signal_oldest(cd);
}
