/*
 * A device process's map and unmap requests for its shared-memory
 * regions: LINK_SHM_MAP / _UNMAP on the control ring, the fd to map on the
 * link's fd socket, paired by the seq both carry. The device sends the fd
 * first, then the request, and waits for the reply; so when a request is
 * served its fd is already queued (or never comes: the request fails at
 * once, the VMM waits for nothing). At most one received fd is held for a
 * request still to come; every fd not mapped is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "virtio/link_proto.h"
#include "vmm/link_child.h"
#include "vmm/log.h"

/* Datagrams taken from the fd socket per serve, or per request. */
#define SHM_SOCK_BUDGET 8

static_assert(LINK_SHM_PROT_READ == VDEV_SHM_PROT_READ &&
	      LINK_SHM_PROT_WRITE == VDEV_SHM_PROT_WRITE, "prot bits");

#define refuse(lc, ...) log_ratelimited_msg(&(lc)->shm_log, LOG_WARN, __VA_ARGS__)

int link_child_shm_open(struct link_child *lc)
{
	int sv[2];

	lc->shm_sock = lc->proc.shm_sock = lc->shm_fd = -1;
	if (!lc->dev->ops->nr_shm_regions)
		return 0;
	/* Non-blocking both ends: the VMM never waits for the device, and a
	 * device whose fds the VMM does not take fails its send. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv))
		return -errno;
	lc->shm_sock = sv[0];
	lc->proc.shm_sock = sv[1];
	return 0;
}

static void drop_held_fd(struct link_child *lc)
{
	if (lc->shm_fd < 0)
		return;
	refuse(lc, "%s: fd %u came without its map request; closed", lc->link.name,
	       lc->shm_fd_seq);
	close(lc->shm_fd);
	lc->shm_fd = -1;
}

void link_child_shm_close(struct link_child *lc)
{
	if (lc->shm_fd >= 0)
		close(lc->shm_fd);
	if (lc->shm_sock >= 0)
		close(lc->shm_sock);
	lc->shm_fd = lc->shm_sock = -1;
}

/* The device hung up its fd socket (or sent an empty datagram): no more maps. */
static void sock_gone(struct link_child *lc)
{
	refuse(lc, "%s: its fd socket closed; it can map nothing more", lc->link.name);
	close(lc->shm_sock);
	lc->shm_sock = -1;
}

/*
 * One datagram: a link_shm_fd and exactly one fd, held for its request
 * (closing one held before). Anything else is logged and its fds closed
 * (ctl_ring_recv_fds closes them when there are more than one or the
 * control data was cut: MSG_CTRUNC). 1: took one, 0: nothing to take.
 */
static int recv_one(struct link_child *lc)
{
	uint8_t buf[sizeof(struct link_shm_fd) + 1];	/* one more: longer is wrong */
	unsigned nfds = 1;
	uint32_t seq;
	int fd = -1, n;

	if (lc->shm_sock < 0)
		return 0;
	n = ctl_ring_recv_fds(lc->shm_sock, buf, sizeof(buf), &fd, &nfds);
	if (n == -EAGAIN || n == -EWOULDBLOCK || n == -EINTR)
		return 0;
	if (n == -EPIPE || n == -ECONNRESET) {
		sock_gone(lc);
		return 0;
	}
	if (n < 0) {
		refuse(lc, "%s: fd message refused: %s", lc->link.name,
		       n == -EMSGSIZE ? "more than one fd, or cut short" : strerror(-n));
		return n == -EMSGSIZE || n == -EPROTO ? 1 : 0;
	}
	if (nfds != 1 || link_dec_shm_fd(buf, (size_t)n, &seq)) {
		refuse(lc, "%s: fd message refused: %s", lc->link.name,
		       nfds ? "malformed" : "no fd in it");
		ctl_ring_close_fds(&fd, nfds);
		return 1;
	}
	drop_held_fd(lc);
	lc->shm_fd = fd;
	lc->shm_fd_seq = seq;
	return 1;
}

int link_child_shm_sock_fd(const struct link_child *lc)
{
	return __atomic_load_n(&lc->dead, __ATOMIC_ACQUIRE) ? -1 : lc->shm_sock;
}

void link_child_shm_serve(struct link_child *lc)
{
	for (unsigned n = 0; n < SHM_SOCK_BUDGET && recv_one(lc); n++)
		;
}

/* The fd sent for request seq, now the caller's, or -1. */
static int take_fd(struct link_child *lc, uint32_t seq)
{
	int fd;

	for (unsigned n = 0; n <= SHM_SOCK_BUDGET; n++) {
		if (lc->shm_fd >= 0 && lc->shm_fd_seq == seq) {
			fd = lc->shm_fd;
			lc->shm_fd = -1;
			return fd;
		}
		if (!recv_one(lc))
			break;
	}
	return -1;
}

/* A memfd the device cannot shrink: the guest never faults on a page
 * that has gone. Regular files and dma-bufs are not taken (yet). */
static bool sealed_memfd(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	return seals >= 0 && (seals & F_SEAL_SHRINK);
}

static int map(struct link_child *lc, const struct link_shm_map *p)
{
	int fd = take_fd(lc, p->seq), rc;

	if (fd < 0) {
		refuse(lc, "%s: map request %u came without its fd", lc->link.name, p->seq);
		return -EBADF;
	}
	if (!sealed_memfd(fd)) {
		refuse(lc, "%s: map request %u: not a memfd sealed against shrinking",
		       lc->link.name, p->seq);
		close(fd);
		return -EINVAL;
	}
	rc = vdev_link_shm_map(&lc->link, p->region, p->offset, fd, p->fd_offset, p->size,
			       p->prot);
	close(fd);
	if (rc)
		refuse(lc, "%s: map of %#llx bytes at %#llx of region %u refused: %s",
		       lc->link.name, (unsigned long long)p->size, (unsigned long long)p->offset,
		       p->region, strerror(-rc));
	return rc;
}

static int unmap(struct link_child *lc, const struct link_shm_unmap *u)
{
	int rc = vdev_link_shm_unmap(&lc->link, u->region, u->offset);

	if (rc)
		refuse(lc, "%s: unmap at %#llx of region %u refused: %s", lc->link.name,
		       (unsigned long long)u->offset, u->region, strerror(-rc));
	return rc;
}

/* A fresh connection to the device's host socket, sent before the reply. */
static int host_connect(struct link_child *lc, uint32_t seq)
{
	struct link_shm_fd f = { .seq = htole32(seq) };
	char err[256];
	int fd, rc;

	if (!lc->socket_connect || lc->shm_sock < 0)
		return -ENOSYS;
	fd = lc->socket_connect(lc->dev, err, sizeof(err));
	if (fd < 0) {
		refuse(lc, "%s", err);
		return fd;
	}
	rc = ctl_ring_send_fds(lc->shm_sock, &f, sizeof(f), &fd, 1);
	close(fd);
	return rc;
}

bool link_child_shm_request(struct link_child *lc, const struct ctl_msg *m)
{
	struct link_shm_unmap u;
	struct link_shm_map p;
	struct ctl_msg reply;
	uint32_t seq;
	int status;

	if (m->type == LINK_HOST_CONNECT) {
		if (link_dec_host_connect(m, &seq))
			return false;
		status = host_connect(lc, seq);
	} else if (m->type == LINK_SHM_MAP) {
		if (link_dec_shm_map(m, &p))
			return false;
		status = map(lc, &p);
	} else {
		if (link_dec_shm_unmap(m, &u))
			return false;
		status = unmap(lc, &u);
	}
	link_reply_init(&reply, m, status, NULL, 0);
	if (ctl_ring_send(&lc->ctl, &reply))	/* its SQ full: it will time out */
		refuse(lc, "%s: no room for a map reply", lc->link.name);
	return true;
}
