/* Control rings between the VMM and a device process (see ctl_ring.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "virtio/ctl_ring.h"

#define SLOT_MASK	(CTL_RING_SLOTS - 1)
#define SEALS		(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static_assert((CTL_RING_SLOTS & SLOT_MASK) == 0, "slots: power of two");

/* The handler's fd: readable when the peer rang or a call queued. */
static int make_handler_fd(struct ctl_ring_end *e)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	e->ev_bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->ev_bell < 0)
		return -errno;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0 ||
	    epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->rx_bell, &ev) ||
	    epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->ev_bell, &ev)) {
		err = -errno;
		if (e->epfd >= 0)
			close(e->epfd);
		close(e->ev_bell);
		return err;
	}
	return 0;
}

static int end_init(struct ctl_ring_end *e, struct ctl_ring_shm *shm,
		    int tx, int tx_bell, int rx_bell)
{
	pthread_condattr_t ca;
	int err;

	memset(e, 0, sizeof(*e));
	e->shm = shm;
	e->tx = &shm->dir[tx];
	e->rx = &shm->dir[!tx];
	/* Each side starts from the index it owns; any value is safe. */
	e->tx_tail = __atomic_load_n(&e->tx->tail, __ATOMIC_RELAXED);
	e->rx_head = __atomic_load_n(&e->rx->head, __ATOMIC_RELAXED);
	e->tx_bell = tx_bell;
	e->rx_bell = rx_bell;
	e->peer_fd = -1;
	e->next_tag = 1;
	err = make_handler_fd(e);
	if (err)
		return err;
	pthread_mutex_init(&e->rx_lock, NULL);
	pthread_mutex_init(&e->tx_lock, NULL);
	pthread_mutex_init(&e->pend_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->pend_room, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

/*
 * MADV_DONTFORK: a process forked later (the next device) must not inherit
 * a ring it could forge messages in. Each side maps its end itself.
 */
static struct ctl_ring_shm *map_ring(int mem)
{
	void *shm = mmap(NULL, CTL_RING_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 mem, 0);

	if (shm == MAP_FAILED)
		return NULL;
	if (madvise(shm, CTL_RING_MAP_SIZE, MADV_DONTFORK)) {
		int err = errno;

		munmap(shm, CTL_RING_MAP_SIZE);
		errno = err;
		return NULL;
	}
	return shm;
}

static struct ctl_ring_shm *map_new(int mem)
{
	struct ctl_ring_shm *shm;

	/* Sealed so a child cannot shrink it and SIGBUS the VMM. */
	if (ftruncate(mem, CTL_RING_MAP_SIZE) || fcntl(mem, F_ADD_SEALS, SEALS))
		return NULL;
	shm = map_ring(mem);
	if (!shm)
		return NULL;
	shm->hdr = (struct ctl_ring_hdr){ .magic = CTL_RING_MAGIC,
		.version = CTL_RING_VERSION, .nr_slots = CTL_RING_SLOTS,
		.slot_size = CTL_MSG_SIZE };
	return shm;
}

/* fds[0..1]: SQ and CQ doorbells; fds[2..3]: copies of them. */
static int make_bells(int fds[4])
{
	for (int i = 0; i < 4; i++) {
		if (i < 2)
			fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		else
			fds[i] = fcntl(fds[i - 2], F_DUPFD_CLOEXEC, 0);
		if (fds[i] < 0) {
			int err = -errno;

			ctl_ring_close_fds(fds, i);
			return err;
		}
	}
	return 0;
}

int ctl_ring_create(struct ctl_ring_end *vmm_end, int fds_out[CTL_NR_FDS])
{
	struct ctl_ring_shm *shm;
	int mem, bells[4], err;

	vmm_end->shm = NULL;	/* ctl_ring_close() is then always safe */
	mem = memfd_create("vmsilo-ctl", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mem < 0)
		return -errno;
	shm = map_new(mem);
	if (!shm) {
		err = -errno;
		goto err_mem;
	}
	err = make_bells(bells);
	if (err)
		goto err_map;
	err = end_init(vmm_end, shm, CTL_SQ, bells[0], bells[1]);
	if (err)
		goto err_bells;
	fds_out[CTL_FD_MEM] = mem;
	fds_out[CTL_FD_SQ_BELL] = bells[2];
	fds_out[CTL_FD_CQ_BELL] = bells[3];
	return 0;

err_bells:
	ctl_ring_close_fds(bells, 4);
err_map:
	munmap(shm, CTL_RING_MAP_SIZE);
err_mem:
	close(mem);
	return err;
}

static int check_memfd(int fd)
{
	struct stat st;
	int seals;

	if (fstat(fd, &st))
		return -errno;
	seals = fcntl(fd, F_GET_SEALS);
	if (!S_ISREG(st.st_mode) || st.st_size != (off_t)CTL_RING_MAP_SIZE ||
	    seals < 0 || (seals & SEALS) != SEALS)
		return -EINVAL;
	return 0;
}

static bool hdr_ok(const struct ctl_ring_hdr *shared)
{
	struct ctl_ring_hdr h;

	memcpy(&h, shared, sizeof(h));
	return h.magic == CTL_RING_MAGIC && h.version == CTL_RING_VERSION &&
	       h.nr_slots == CTL_RING_SLOTS && h.slot_size == CTL_MSG_SIZE;
}

/* Our own non-blocking copies of the two doorbells. */
static int dup_bells(const int in[2], int out[2])
{
	for (int i = 0; i < 2; i++) {
		out[i] = fcntl(in[i], F_DUPFD_CLOEXEC, 0);
		if (out[i] < 0 || fcntl(out[i], F_SETFL, O_NONBLOCK)) {
			int err = -errno;

			ctl_ring_close_fds(out, out[i] < 0 ? i : i + 1);
			return err;
		}
	}
	return 0;
}

int ctl_ring_attach(struct ctl_ring_end *dev_end, const int fds[CTL_NR_FDS])
{
	struct ctl_ring_shm *shm;
	int bells[2], err;

	dev_end->shm = NULL;
	err = check_memfd(fds[CTL_FD_MEM]);
	if (err)
		return err;
	shm = map_ring(fds[CTL_FD_MEM]);
	if (!shm)
		return -errno;
	err = -EPROTO;
	if (!hdr_ok(&shm->hdr))
		goto err_map;
	err = dup_bells(&fds[CTL_FD_SQ_BELL], bells);
	if (err)
		goto err_map;
	err = end_init(dev_end, shm, CTL_CQ, bells[1], bells[0]);
	if (err)
		goto err_bells;
	return 0;

err_bells:
	ctl_ring_close_fds(bells, 2);
err_map:
	munmap(shm, CTL_RING_MAP_SIZE);
	return err;
}

void ctl_ring_close(struct ctl_ring_end *end)
{
	if (!end->shm)
		return;
	munmap(end->shm, CTL_RING_MAP_SIZE);
	close(end->tx_bell);
	close(end->rx_bell);
	close(end->ev_bell);
	close(end->epfd);
	pthread_mutex_destroy(&end->rx_lock);
	pthread_mutex_destroy(&end->tx_lock);
	pthread_mutex_destroy(&end->pend_lock);
	pthread_cond_destroy(&end->pend_room);
	end->shm = NULL;
}

void ctl_ring_watch_peer(struct ctl_ring_end *end, int sock)
{
	end->peer_fd = sock;
}

int ctl_ring_rx_fd(const struct ctl_ring_end *end)
{
	return end->epfd;
}

static void bell_ring(int fd)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: the peer wakes anyway. */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

static void bell_clear(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
}

/* Set under either lock, read under the other: hence atomic. */
static int fail(struct ctl_ring_end *e)
{
	__atomic_store_n(&e->dead, true, __ATOMIC_RELAXED);
	return -EPROTO;
}

static bool is_dead(struct ctl_ring_end *e)
{
	return __atomic_load_n(&e->dead, __ATOMIC_RELAXED);
}

/* Caller holds tx_lock. */
static int ring_put(struct ctl_ring_end *e, const struct ctl_msg *m)
{
	uint32_t head, used;

	if (is_dead(e))
		return -EPROTO;
	head = __atomic_load_n(&e->tx->head, __ATOMIC_ACQUIRE);
	used = e->tx_tail - head;
	if (used > CTL_RING_SLOTS)
		return fail(e);
	if (used == CTL_RING_SLOTS)
		return -EAGAIN;
	memcpy(&e->tx->slots[e->tx_tail & SLOT_MASK], m, sizeof(*m));
	e->tx_tail++;
	__atomic_store_n(&e->tx->tail, e->tx_tail, __ATOMIC_RELEASE);
	return 0;
}

/* Caller holds rx_lock. */
static int ring_take(struct ctl_ring_end *e, struct ctl_msg *m)
{
	uint32_t tail, avail;

	tail = __atomic_load_n(&e->rx->tail, __ATOMIC_ACQUIRE);
	avail = tail - e->rx_head;
	if (avail > CTL_RING_SLOTS)
		return fail(e);
	if (!avail)
		return 0;
	memcpy(m, &e->rx->slots[e->rx_head & SLOT_MASK], sizeof(*m));
	/* Only the copy is looked at: no re-reading of shared memory below. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	e->rx_head++;
	__atomic_store_n(&e->rx->head, e->rx_head, __ATOMIC_RELEASE);
	if (m->len > CTL_MSG_PAYLOAD)
		return fail(e);
	return 1;
}

/*
 * Clear the doorbell only when the ring looks empty, then look again: a
 * message published after the clear rings it anew. Only the rx_lock holder
 * clears it, so a waiter in ctl_ring_call() never misses a wakeup; what a
 * call queues rings ev_bell, which only ctl_ring_recv() clears.
 */
static int ring_get(struct ctl_ring_end *e, struct ctl_msg *m)
{
	int r;

	if (is_dead(e))
		return -EPROTO;
	r = ring_take(e, m);
	if (r)
		return r;
	bell_clear(e->rx_bell);
	return ring_take(e, m);
}

int ctl_ring_send(struct ctl_ring_end *end, const struct ctl_msg *m)
{
	int r;

	pthread_mutex_lock(&end->tx_lock);
	r = ring_put(end, m);
	pthread_mutex_unlock(&end->tx_lock);
	if (!r)
		bell_ring(end->tx_bell);
	return r;
}

static bool pend_pop(struct ctl_ring_end *e, struct ctl_msg *m)
{
	bool got;

	pthread_mutex_lock(&e->pend_lock);
	got = e->pend_count;
	if (got) {
		*m = e->pending[e->pend_first];
		e->pend_first = (e->pend_first + 1) % CTL_PENDING_MAX;
		e->pend_count--;
		pthread_cond_signal(&e->pend_room);
	} else if (e->ev_rung) {
		bell_clear(e->ev_bell);
		e->ev_rung = false;
	}
	pthread_mutex_unlock(&e->pend_lock);
	return got;
}

/* Only the rx_lock holder pushes, after checking for room. */
static void pend_push(struct ctl_ring_end *e, const struct ctl_msg *m)
{
	pthread_mutex_lock(&e->pend_lock);
	e->pending[(e->pend_first + e->pend_count) % CTL_PENDING_MAX] = *m;
	e->pend_count++;
	bell_ring(e->ev_bell);
	e->ev_rung = true;
	pthread_mutex_unlock(&e->pend_lock);
}

/* A full queue waits for ctl_ring_recv() to make room, until deadline. */
static bool pend_room(struct ctl_ring_end *e, int64_t deadline)
{
	struct timespec ts = { deadline / 1000, deadline % 1000 * 1000000 };
	bool room;

	pthread_mutex_lock(&e->pend_lock);
	while (e->pend_count == CTL_PENDING_MAX &&
	       !pthread_cond_timedwait(&e->pend_room, &e->pend_lock, &ts))
		;
	room = e->pend_count < CTL_PENDING_MAX;
	pthread_mutex_unlock(&e->pend_lock);
	return room;
}

/*
 * A call in flight owns rx_lock and drains the CQ for us, ringing ev_bell
 * for what it queues: never wait for it here.
 */
int ctl_ring_recv(struct ctl_ring_end *end, struct ctl_msg *m)
{
	int r;

	if (pend_pop(end, m))
		return 1;
	if (pthread_mutex_trylock(&end->rx_lock))
		return is_dead(end) ? -EPROTO : 0;
	r = ring_get(end, m);
	pthread_mutex_unlock(&end->rx_lock);
	return r;
}

static int wait_on(int fd, int peer_fd, int timeout_ms)
{
	/* events 0 on the socket: only hangup and errors wake us there. */
	struct pollfd p[2] = { { fd, POLLIN, 0 }, { peer_fd, 0, 0 } };
	int r;

	do
		r = poll(p, peer_fd >= 0 ? 2 : 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (p[0].revents)
		return 1;
	return r ? -EPIPE : 0;
}

int ctl_ring_wait(struct ctl_ring_end *end, int timeout_ms)
{
	return wait_on(end->epfd, end->peer_fd, timeout_ms);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left > 0 ? (int)left : 0;
}

/* The SQ has no space doorbell: a full SQ is rare, so back off briefly. */
static int put_until(struct ctl_ring_end *e, const struct ctl_msg *m,
		     int64_t deadline)
{
	const struct timespec pause = { 0, 100000 };
	int r;

	while ((r = ctl_ring_send(e, m)) == -EAGAIN) {
		if (!left_ms(deadline))
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
	return r;
}

/* Checks for room before taking a message, so none is ever lost. */
static int await_reply(struct ctl_ring_end *e, uint32_t tag,
		       struct ctl_msg *reply, int64_t deadline)
{
	struct ctl_msg m;
	int r;

	for (;;) {
		if (!pend_room(e, deadline))
			return -ENOBUFS;
		r = ring_get(e, &m);
		if (r < 0)
			return r;
		if (!r) {
			if (!left_ms(deadline))
				return -ETIMEDOUT;
			r = wait_on(e->rx_bell, e->peer_fd, left_ms(deadline));
			if (r < 0)
				return r;
		} else if (!(m.flags & CTL_MSG_F_REPLY)) {
			pend_push(e, &m);
		} else if (m.tag == tag) {
			*reply = m;
			return 0;
		} else if (!left_ms(deadline)) {
			return -ETIMEDOUT;	/* stale replies without end */
		}
	}
}

/* While a call owns the CQ, the handler hears only what it queues. */
static void handler_hears_rx(struct ctl_ring_end *e, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0 };

	epoll_ctl(e->epfd, EPOLL_CTL_MOD, e->rx_bell, &ev);
}

int ctl_ring_call(struct ctl_ring_end *end, const struct ctl_msg *req,
		  struct ctl_msg *reply, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct ctl_msg m = *req;
	int r;

	pthread_mutex_lock(&end->rx_lock);
	handler_hears_rx(end, false);
	m.tag = end->next_tag++;
	if (!end->next_tag)
		end->next_tag = 1;
	m.flags &= ~CTL_MSG_F_REPLY;
	r = put_until(end, &m, deadline);
	if (!r)
		r = await_reply(end, m.tag, reply, deadline);
	handler_hears_rx(end, true);
	pthread_mutex_unlock(&end->rx_lock);
	return r;
}

int ctl_ring_send_fds(int sock, const void *buf, size_t len, const int *fds,
		      unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (!len || nfds > CTL_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

void ctl_ring_close_fds(const int *fds, unsigned int nfds)
{
	for (unsigned int i = 0; i < nfds; i++)
		close(fds[i]);
}

/* Collect SCM_RIGHTS fds; any other control message is an error. */
static int take_fds(struct msghdr *msg, int *fds, unsigned int room,
		    unsigned int *nfds)
{
	struct cmsghdr *c;
	int err = 0;

	*nfds = 0;
	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		const unsigned char *p = CMSG_DATA(c);
		size_t n = 0;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			err = -EPROTO;
			continue;
		}
		if (c->cmsg_len > CMSG_LEN(0))
			n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, p + i * sizeof(int), sizeof(int));
			if (*nfds < room) {
				fds[(*nfds)++] = fd;
			} else {
				close(fd);
				err = -EMSGSIZE;
			}
		}
	}
	return err;
}

int ctl_ring_recv_fds(int sock, void *buf, size_t len, int *fds,
		      unsigned int *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	unsigned int room = *nfds < CTL_MAX_FDS ? *nfds : CTL_MAX_FDS;
	ssize_t n;
	int err;

	*nfds = 0;
	/* Never a wait: its sockets are non-blocking, and a device's filter
	 * allows recvmsg with exactly these flags. */
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	err = take_fds(&msg, fds, room, nfds);
	if (!err && (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		err = -EMSGSIZE;
	if (!err && !n)
		err = -EPIPE;
	if (err) {
		ctl_ring_close_fds(fds, *nfds);
		*nfds = 0;
		return err;
	}
	return (int)n;
}
