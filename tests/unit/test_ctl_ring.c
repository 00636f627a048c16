/* Control rings and the link protocol: ordering, limits, hostile peers. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "virtio/ctl_ring.h"
#include "virtio/link_proto.h"

#define N		CTL_RING_SLOTS
#define T_DATA		7
#define T_STOP		99
#define T_CALL		100	/* async message, stale reply, then the reply */
#define T_SILENT	101	/* never replied to */
#define T_FLOOD		102	/* too many async messages before the reply */
#define T_ASYNC		50

static int pair_fds(struct ctl_ring_end *vmm, struct ctl_ring_end *dev,
		    int fds[CTL_NR_FDS])
{
	int r = ctl_ring_create(vmm, fds);

	if (r)
		return r;
	r = ctl_ring_attach(dev, fds);
	if (r)
		ctl_ring_close(vmm);
	return r;
}

static int pair(struct ctl_ring_end *vmm, struct ctl_ring_end *dev)
{
	int fds[CTL_NR_FDS], r = pair_fds(vmm, dev, fds);

	if (!r)
		ctl_ring_close_fds(fds, CTL_NR_FDS);
	return r;
}

static void fill(struct ctl_msg *m, uint32_t seq)
{
	memset(m, 0, sizeof(*m));
	m->type = T_DATA;
	m->tag = seq;
	m->len = seq % (CTL_MSG_PAYLOAD + 1);
	for (unsigned int i = 0; i < CTL_MSG_PAYLOAD; i++)
		m->payload[i] = (uint8_t)(seq * 31 + i);
}

static bool same(const struct ctl_msg *m, uint32_t seq)
{
	struct ctl_msg want;

	fill(&want, seq);
	return !memcmp(m, &want, sizeof(want));
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_round_trip(void)
{
	struct ctl_ring_end vmm, dev;
	struct ctl_msg m, got;

	CHECK_EQ(pair(&vmm, &dev), 0);
	CHECK_EQ(ctl_ring_wait(&dev, 0), 0);
	fill(&m, 42);
	CHECK_EQ(ctl_ring_send(&vmm, &m), 0);
	CHECK_EQ(ctl_ring_wait(&dev, 0), 1);
	CHECK_EQ(ctl_ring_recv(&dev, &got), 1);
	CHECK(same(&got, 42));
	CHECK_EQ(ctl_ring_recv(&dev, &got), 0);
	CHECK_EQ(ctl_ring_wait(&dev, 0), 0);	/* drained: doorbell cleared */
	fill(&m, 240);
	CHECK_EQ(ctl_ring_send(&dev, &m), 0);
	CHECK_EQ(ctl_ring_recv(&vmm, &got), 1);
	CHECK(same(&got, 240));
	CHECK_EQ(ctl_ring_recv(&vmm, &got), 0);
	CHECK(ctl_ring_rx_fd(&vmm) >= 0);
	ctl_ring_close(&vmm);
	ctl_ring_close(&dev);
}

static void test_full(void)
{
	struct ctl_ring_end vmm, dev;
	struct ctl_msg m;

	CHECK_EQ(pair(&vmm, &dev), 0);
	for (uint32_t i = 0; i < N; i++) {
		fill(&m, i);
		CHECK_EQ(ctl_ring_send(&vmm, &m), 0);
	}
	fill(&m, N);
	CHECK_EQ(ctl_ring_send(&vmm, &m), -EAGAIN);
	CHECK_EQ(ctl_ring_recv(&dev, &m), 1);
	CHECK(same(&m, 0));
	fill(&m, N);
	CHECK_EQ(ctl_ring_send(&vmm, &m), 0);
	for (uint32_t i = 1; i <= N; i++) {
		CHECK_EQ(ctl_ring_recv(&dev, &m), 1);
		CHECK(same(&m, i));
	}
	CHECK_EQ(ctl_ring_recv(&dev, &m), 0);
	ctl_ring_close(&vmm);
	ctl_ring_close(&dev);
}

static void set_sq_index(struct ctl_ring_end *vmm, struct ctl_ring_end *dev,
			 uint32_t idx)
{
	vmm->shm->dir[CTL_SQ].head = idx;
	vmm->shm->dir[CTL_SQ].tail = idx;
	vmm->tx_tail = idx;
	dev->rx_head = idx;
}

static void test_wrap(void)
{
	struct ctl_ring_end vmm, dev;
	struct ctl_msg m;
	uint32_t seq = 0, got = 0;

	CHECK_EQ(pair(&vmm, &dev), 0);
	set_sq_index(&vmm, &dev, UINT32_MAX - N / 2);
	for (int round = 0; round < 4; round++) {
		while (ctl_ring_send(&vmm, (fill(&m, seq), &m)) == 0)
			seq++;
		CHECK_EQ(seq - got, N);
		while (ctl_ring_recv(&dev, &m) == 1)
			CHECK(same(&m, got++));
		CHECK_EQ(got, seq);
	}
	CHECK(vmm.tx_tail < UINT32_MAX - N / 2);	/* wrapped past 0 */
	CHECK_EQ(vmm.tx_tail, dev.rx_head);
	ctl_ring_close(&vmm);
	ctl_ring_close(&dev);
}

/* Child: echo T_DATA, answer calls, exit on T_STOP. */
static int device_child(const int fds[CTL_NR_FDS])
{
	struct ctl_ring_end e;
	struct ctl_msg m, r;
	int rc;

	if (ctl_ring_attach(&e, fds))
		return 1;
	for (;;) {
		rc = ctl_ring_recv(&e, &m);
		if (rc < 0)
			return 2;
		if (!rc) {
			if (ctl_ring_wait(&e, 10000) <= 0)
				return 3;
			continue;
		}
		if (m.type == T_STOP)
			return 0;
		if (m.type == T_SILENT)
			continue;
		if (m.type == T_CALL || m.type == T_FLOOD) {
			int n = m.type == T_FLOOD ? CTL_PENDING_MAX + 1 : 1;

			link_msg_init(&r, T_ASYNC, NULL, 0);
			for (int i = 0; i < n; i++)
				ctl_ring_send(&e, &r);
			link_reply_init(&r, &m, 0, m.payload, 4);
			r.tag += 1000;
			ctl_ring_send(&e, &r);
			link_reply_init(&r, &m, 0, m.payload, 4);
			m = r;
		}
		while ((rc = ctl_ring_send(&e, &m)) == -EAGAIN)
			poll(NULL, 0, 1);
		if (rc)
			return 4;
	}
}

static pid_t spawn_device(struct ctl_ring_end *vmm, int sock[2])
{
	int fds[CTL_NR_FDS];
	pid_t pid;

	if (ctl_ring_create(vmm, fds))
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(sock[0]);
		_exit(device_child(fds));
	}
	close(sock[1]);
	ctl_ring_close_fds(fds, CTL_NR_FDS);
	ctl_ring_watch_peer(vmm, sock[0]);
	return pid;
}

static int reap(pid_t pid)
{
	int status = -1;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void stop_device(struct ctl_ring_end *vmm, pid_t pid)
{
	struct ctl_msg m;

	link_msg_init(&m, T_STOP, NULL, 0);
	CHECK_EQ(ctl_ring_send(vmm, &m), 0);
	CHECK_EQ(reap(pid), 0);
}

/* Pipelined echo through a child: every payload, in order. */
static void test_fork_order(void)
{
	const uint32_t total = 10000;
	uint32_t sent = 0, got = 0, bad = 0;
	struct ctl_ring_end vmm;
	struct ctl_msg m;
	int sock[2], r = 0;
	pid_t pid;

	pid = spawn_device(&vmm, sock);
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	while (got < total) {
		bool progress = false;

		for (; sent < total; sent++, progress = true) {
			fill(&m, sent);
			if (ctl_ring_send(&vmm, &m))
				break;
		}
		while ((r = ctl_ring_recv(&vmm, &m)) == 1) {
			bad += !same(&m, got++);
			progress = true;
		}
		if (r < 0)
			break;
		if (!progress && ctl_ring_wait(&vmm, 10000) <= 0)
			break;
	}
	CHECK_EQ(r, 0);
	CHECK_EQ(got, total);
	CHECK_EQ(bad, 0);
	stop_device(&vmm, pid);
	ctl_ring_close(&vmm);
	close(sock[0]);
}

static void test_fds(void)
{
	int sv[2], efd[3], in[CTL_MAX_FDS + 1], many[CTL_MAX_FDS + 1];
	unsigned int n = 3;
	uint64_t v = 0;
	char buf[16];
	int before;

	CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	for (int i = 0; i < 3; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC);
	before = count_fds();
	CHECK_EQ(ctl_ring_send_fds(sv[0], "setup", 5, efd, 3), 0);
	CHECK_EQ(ctl_ring_recv_fds(sv[1], buf, sizeof(buf), in, &n), 5);
	CHECK_EQ(n, 3);
	CHECK(!memcmp(buf, "setup", 5));
	for (int i = 0; i < 3 && n == 3; i++) {
		uint64_t one = i + 1;

		CHECK_EQ(write(in[i], &one, 8), 8);
		CHECK_EQ(read(efd[i], &v, 8), 8);
		CHECK_EQ(v, i + 1);
	}
	ctl_ring_close_fds(in, n);
	CHECK_EQ(count_fds(), before);

	/* More fds than room, truncated data: nothing leaks. */
	CHECK_EQ(ctl_ring_send_fds(sv[0], "x", 1, efd, 3), 0);
	n = 2;
	CHECK_EQ(ctl_ring_recv_fds(sv[1], buf, sizeof(buf), in, &n), -EMSGSIZE);
	CHECK_EQ(n, 0);
	CHECK_EQ(ctl_ring_send_fds(sv[0], "0123456789", 10, efd, 3), 0);
	n = 3;
	CHECK_EQ(ctl_ring_recv_fds(sv[1], buf, 4, in, &n), -EMSGSIZE);
	CHECK_EQ(count_fds(), before);

	/* Beyond CTL_MAX_FDS: the sender refuses, a raw sender truncates. */
	for (int i = 0; i <= CTL_MAX_FDS; i++)
		many[i] = efd[i % 3];
	CHECK_EQ(ctl_ring_send_fds(sv[0], "x", 1, many, CTL_MAX_FDS + 1),
		 -EINVAL);
	CHECK_EQ(ctl_ring_send_fds(sv[0], "", 0, NULL, 0), -EINVAL);
	{
		char cbuf[CMSG_SPACE(sizeof(many))] = { 0 };
		struct iovec iov = { "x", 1 };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = cbuf,
				      .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(many));
		memcpy(CMSG_DATA(c), many, sizeof(many));
		CHECK_EQ(sendmsg(sv[0], &msg, 0), 1);
	}
	n = CTL_MAX_FDS;
	CHECK_EQ(ctl_ring_recv_fds(sv[1], buf, sizeof(buf), in, &n), -EMSGSIZE);
	CHECK_EQ(count_fds(), before);

	/* Credentials are not fds: a foreign control message is refused. */
	CHECK_EQ(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &(int){ 1 },
			    sizeof(int)), 0);
	CHECK_EQ(ctl_ring_send_fds(sv[0], "x", 1, efd, 1), 0);
	n = 3;
	CHECK_EQ(ctl_ring_recv_fds(sv[1], buf, sizeof(buf), in, &n), -EPROTO);
	CHECK_EQ(count_fds(), before);

	close(sv[0]);
	n = 3;
	CHECK_EQ(ctl_ring_recv_fds(sv[1], buf, sizeof(buf), in, &n), -EPIPE);
	close(sv[1]);
	ctl_ring_close_fds(efd, 3);
}

static int do_call(struct ctl_ring_end *vmm, uint32_t type, uint32_t arg,
		   int timeout_ms)
{
	struct ctl_msg req, reply;
	uint32_t echo = 0;
	int r, status = -1;

	link_msg_init(&req, type, &arg, sizeof(arg));
	r = ctl_ring_call(vmm, &req, &reply, timeout_ms);
	if (r)
		return r;
	if (link_dec_reply(&reply, reply.tag, &status, &echo, 4) || status)
		return -EBADMSG;
	return echo == arg ? 0 : -EBADMSG;
}

struct async_ctx {
	struct ctl_ring_end *end;
	int want, seen, other;
};

/* An epoll-style handler on another thread while calls run. */
static void *async_thread(void *arg)
{
	struct async_ctx *a = arg;
	struct ctl_msg m;
	int r;

	while (a->seen < a->want) {
		r = ctl_ring_recv(a->end, &m);
		if (r < 0)
			break;
		if (r && m.type == T_ASYNC)
			a->seen++;
		else if (r && !(m.flags & CTL_MSG_F_REPLY))
			a->other++;
		else if (!r && ctl_ring_wait(a->end, 5000) <= 0)
			break;
	}
	return NULL;
}

static int recv_wait(struct ctl_ring_end *e, struct ctl_msg *m)
{
	int r;

	while (!(r = ctl_ring_recv(e, m)))
		if (ctl_ring_wait(e, 5000) <= 0)
			break;
	return r;
}

static void test_call(void)
{
	struct async_ctx a = { .want = 200 };
	struct ctl_ring_end vmm;
	struct ctl_msg m;
	struct timespec t0, t1;
	pthread_t th;
	int sock[2], fails = 0;
	pid_t pid;

	pid = spawn_device(&vmm, sock);
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	/* The async message waits in the pending queue; the fd says so. */
	CHECK_EQ(do_call(&vmm, T_CALL, 0x1234, 5000), 0);
	CHECK_EQ(ctl_ring_wait(&vmm, 0), 1);
	CHECK_EQ(ctl_ring_recv(&vmm, &m), 1);
	CHECK_EQ(m.type, T_ASYNC);
	CHECK_EQ(ctl_ring_recv(&vmm, &m), 0);
	CHECK_EQ(do_call(&vmm, T_SILENT, 1, 50), -ETIMEDOUT);

	a.end = &vmm;
	CHECK_EQ(pthread_create(&th, NULL, async_thread, &a), 0);
	for (int i = 0; i < a.want; i++)
		fails += do_call(&vmm, T_CALL, i, 5000) != 0;
	pthread_join(th, NULL);
	CHECK_EQ(fails, 0);
	CHECK_EQ(a.seen, a.want);
	CHECK_EQ(a.other, 0);

	CHECK_EQ(do_call(&vmm, T_FLOOD, 7, 200), -ENOBUFS);
	for (int i = 0; i <= CTL_PENDING_MAX; i++) {
		CHECK_EQ(recv_wait(&vmm, &m), 1);
		CHECK_EQ(m.type, T_ASYNC);
	}
	/* Then the stale reply and the real one, for the handler to drop. */
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(recv_wait(&vmm, &m), 1);
		CHECK(m.flags & CTL_MSG_F_REPLY);
	}

	/* A dead child is seen at once through the socket, not the timeout. */
	stop_device(&vmm, pid);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(do_call(&vmm, T_CALL, 1, 5000), -EPIPE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(t1.tv_sec - t0.tv_sec < 2);
	ctl_ring_close(&vmm);
	close(sock[0]);
}

static void expect_dead(struct ctl_ring_end *e)
{
	struct ctl_msg m;

	CHECK_EQ(ctl_ring_recv(e, &m), -EPROTO);
	CHECK_EQ(ctl_ring_recv(e, &m), -EPROTO);
	fill(&m, 1);
	CHECK_EQ(ctl_ring_send(e, &m), -EPROTO);
}

static void test_hostile_indices(void)
{
	struct ctl_ring_end vmm, dev;
	struct ctl_ring_dir *sq;
	struct ctl_msg m;

	CHECK_EQ(pair(&vmm, &dev), 0);
	sq = &vmm.shm->dir[CTL_SQ];
	sq->tail = dev.rx_head + N + 1;			/* too far ahead */
	expect_dead(&dev);
	ctl_ring_close(&dev);
	ctl_ring_close(&vmm);

	CHECK_EQ(pair(&vmm, &dev), 0);
	vmm.shm->dir[CTL_SQ].tail = dev.rx_head - 1;	/* behind */
	expect_dead(&dev);
	ctl_ring_close(&dev);
	ctl_ring_close(&vmm);

	CHECK_EQ(pair(&vmm, &dev), 0);
	fill(&m, 3);
	CHECK_EQ(ctl_ring_send(&vmm, &m), 0);
	vmm.shm->dir[CTL_SQ].slots[0].len = 0xffffffff;
	expect_dead(&dev);
	ctl_ring_close(&dev);
	ctl_ring_close(&vmm);

	/* The producer checks the consumer's head the same way. */
	CHECK_EQ(pair(&vmm, &dev), 0);
	vmm.shm->dir[CTL_SQ].head = vmm.tx_tail + 1;
	fill(&m, 3);
	CHECK_EQ(ctl_ring_send(&vmm, &m), -EPROTO);
	CHECK_EQ(ctl_ring_send(&vmm, &m), -EPROTO);
	ctl_ring_close(&dev);
	ctl_ring_close(&vmm);
}

static int garbage;	/* messages of random bytes accepted */

static void poke_all(struct ctl_ring_end *e, int *bad)
{
	struct ctl_msg m;
	int r;

	for (int i = 0; i < N + 2; i++) {
		r = ctl_ring_recv(e, &m);
		*bad += !(r == 0 || r == -EPROTO ||
			  (r == 1 && m.len <= CTL_MSG_PAYLOAD));
		garbage += r == 1;
		fill(&m, i);
		r = ctl_ring_send(e, &m);
		*bad += !(r == 0 || r == -EAGAIN || r == -EPROTO);
	}
}

static void randomize(struct ctl_ring_shm *shm)
{
	uint64_t *w = (uint64_t *)shm;

	for (size_t i = 0; i < sizeof(*shm) / 8; i++)
		w[i] = rnd();
}

/* Random contents behind consistent indices: garbage within bounds. */
static void plausible(struct ctl_ring_end *vmm, struct ctl_ring_end *dev)
{
	struct ctl_ring_dir *d = vmm->shm->dir;

	for (int i = 0; i < 2; i++) {
		d[i].tail = d[i].head + (uint32_t)(rnd() % (N + 1));
		for (int j = 0; j < N; j++)
			d[i].slots[j].len %= CTL_MSG_PAYLOAD + 1;
	}
	dev->rx_head = d[CTL_SQ].head;
	vmm->tx_tail = d[CTL_SQ].tail;
	vmm->rx_head = d[CTL_CQ].head;
	dev->tx_tail = d[CTL_CQ].tail;
}

/* Random bytes over the whole shared mapping: errors or garbage, no crash. */
static void test_hostile_random(void)
{
	int bad = 0, dead = 0, attach_ok = 0;

	for (int iter = 0; iter < 2000; iter++) {
		struct ctl_ring_end vmm, dev, dev2;
		int fds[CTL_NR_FDS];

		if (pair_fds(&vmm, &dev, fds)) {
			bad++;
			break;
		}
		randomize(vmm.shm);
		if (iter % 2)	/* keep the header so attach succeeds */
			vmm.shm->hdr = (struct ctl_ring_hdr){ CTL_RING_MAGIC,
				CTL_RING_VERSION, N, CTL_MSG_SIZE, { 0 } };
		if (iter % 4 == 1)
			plausible(&vmm, &dev);
		poke_all(&dev, &bad);
		poke_all(&vmm, &bad);
		dead += dev.dead + vmm.dead;
		if (!ctl_ring_attach(&dev2, fds)) {
			attach_ok++;
			poke_all(&dev2, &bad);
			ctl_ring_close(&dev2);
		}
		ctl_ring_close_fds(fds, CTL_NR_FDS);
		ctl_ring_close(&dev);
		ctl_ring_close(&vmm);
	}
	CHECK_EQ(bad, 0);
	CHECK(dead > 0);
	CHECK(garbage > 0);
	CHECK_EQ(attach_ok, 1000);
}

struct scribble {
	struct ctl_ring_shm *shm;
	bool stop;		/* atomic: gcc -O2 with the sanitizers hoisted a volatile read */
	bool lens_only;
	bool running;
};

static struct ctl_msg *sq_slot(struct scribble *s, int i)
{
	return &s->shm->dir[CTL_SQ].slots[i];
}

static void *scribbler(void *arg)
{
	struct scribble *s = arg;
	uint32_t *w = (uint32_t *)s->shm;
	uint64_t x = 12345;

	__atomic_store_n(&s->running, true, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		if (!s->lens_only) {
			w[(x >> 33) % (sizeof(*s->shm) / 4)] = x >> 7;
			continue;
		}
		for (int i = 0; i < N; i++)
			__atomic_store_n(&sq_slot(s, i)->len,
					 x & 1 ? 0xffffffff : 8,
					 __ATOMIC_RELAXED);
	}
	return NULL;
}

/* The peer rewrites shared memory while we read it. */
static void test_hostile_concurrent(void)
{
	struct ctl_ring_end vmm, dev;
	struct scribble s = { 0 };
	int fds[CTL_NR_FDS], bad = 0;
	pthread_t th;

	CHECK_EQ(pair_fds(&vmm, &dev, fds), 0);
	s.shm = vmm.shm;
	CHECK_EQ(pthread_create(&th, NULL, scribbler, &s), 0);
	for (int i = 0; i < 3000; i++) {
		struct ctl_ring_end e;

		s.shm->hdr = (struct ctl_ring_hdr){ CTL_RING_MAGIC,
			CTL_RING_VERSION, N, CTL_MSG_SIZE, { 0 } };
		if (ctl_ring_attach(&e, fds))
			continue;
		poke_all(&e, &bad);
		ctl_ring_close(&e);
	}
	__atomic_store_n(&s.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	CHECK_EQ(bad, 0);
	ctl_ring_close_fds(fds, CTL_NR_FDS);
	ctl_ring_close(&dev);
	ctl_ring_close(&vmm);
}

/* len flips between good and bad under the consumer: one fetch decides. */
static void test_hostile_len_race(void)
{
	struct scribble s = { .lens_only = true };
	struct ctl_ring_end vmm, dev;
	int fds[CTL_NR_FDS], bad = 0, good = 0, dead = 0;
	struct ctl_msg m;
	pthread_t th;

	CHECK_EQ(pair_fds(&vmm, &dev, fds), 0);
	ctl_ring_close(&dev);
	s.shm = vmm.shm;
	CHECK_EQ(pthread_create(&th, NULL, scribbler, &s), 0);
	while (!__atomic_load_n(&s.running, __ATOMIC_ACQUIRE))
		;
	for (int i = 0; i < 5000; i++) {
		int r;

		if (ctl_ring_attach(&dev, fds))
			break;
		fill(&m, 8);
		while (!ctl_ring_send(&vmm, &m))
			;
		while ((r = ctl_ring_recv(&dev, &m)) == 1) {
			bad += m.len > CTL_MSG_PAYLOAD;
			good++;
		}
		dead += r == -EPROTO;
		ctl_ring_close(&dev);
	}
	__atomic_store_n(&s.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	CHECK_EQ(bad, 0);
	CHECK(good > 0 && dead > 0);
	ctl_ring_close_fds(fds, CTL_NR_FDS);
	ctl_ring_close(&vmm);
}

static void test_attach_checks(void)
{
	struct ctl_ring_end vmm, dev;
	int fds[CTL_NR_FDS], plain, saved;

	CHECK_EQ(ctl_ring_create(&vmm, fds), 0);
	/* An unsealed memfd could be shrunk under us: SIGBUS. */
	plain = memfd_create("plain", MFD_CLOEXEC);
	CHECK_EQ(ftruncate(plain, CTL_RING_MAP_SIZE), 0);
	saved = fds[CTL_FD_MEM];
	fds[CTL_FD_MEM] = plain;
	CHECK_EQ(ctl_ring_attach(&dev, fds), -EINVAL);
	CHECK_EQ(ftruncate(plain, CTL_RING_MAP_SIZE / 2), 0);
	CHECK_EQ(ctl_ring_attach(&dev, fds), -EINVAL);
	close(plain);
	fds[CTL_FD_MEM] = saved;
	vmm.shm->hdr.magic ^= 1;
	CHECK_EQ(ctl_ring_attach(&dev, fds), -EPROTO);
	vmm.shm->hdr.magic ^= 1;
	vmm.shm->hdr.version = 2;
	CHECK_EQ(ctl_ring_attach(&dev, fds), -EPROTO);
	vmm.shm->hdr.version = CTL_RING_VERSION;
	vmm.shm->hdr.nr_slots = 2 * N;
	CHECK_EQ(ctl_ring_attach(&dev, fds), -EPROTO);
	vmm.shm->hdr.nr_slots = N;
	CHECK_EQ(ctl_ring_attach(&dev, fds), 0);
	/* The child cannot undo the seals. */
	CHECK(ftruncate(fds[CTL_FD_MEM], 4096) < 0);
	ctl_ring_close(&dev);
	ctl_ring_close(&vmm);
	ctl_ring_close_fds(fds, CTL_NR_FDS);
}

static const struct link_limits lim = { .nr_queues = 2, .max_queue_size = 256,
					.config_size = 60 };

static void msg(struct ctl_msg *m, uint32_t type, const void *p, uint32_t len)
{
	link_msg_init(m, type, p, len);
}

static int vring_state(uint32_t type, uint32_t index, uint32_t num)
{
	struct link_vring_state s = { htole32(index), htole32(num) };
	struct ctl_msg m;

	msg(&m, type, &s, sizeof(s));
	return link_dec_vring_state(&m, type, &lim, &s);
}

static void test_link_vring(void)
{
	struct link_vring_addr a = { .desc = 0x1000, .avail = 0x2002,
				     .used = 0x3004 };
	struct ctl_msg m;

	CHECK_EQ(vring_state(LINK_SET_VRING_NUM, 1, 256), 0);
	CHECK_EQ(vring_state(LINK_SET_VRING_NUM, 2, 256), -EINVAL);
	CHECK_EQ(vring_state(LINK_SET_VRING_NUM, 0, 512), -EINVAL);
	CHECK_EQ(vring_state(LINK_SET_VRING_NUM, 0, 96), -EINVAL);
	CHECK_EQ(vring_state(LINK_SET_VRING_NUM, 0, 0), -EINVAL);
	CHECK_EQ(vring_state(LINK_SET_VRING_ENABLE, 0, 1), 0);
	CHECK_EQ(vring_state(LINK_SET_VRING_ENABLE, 0, 0), -EINVAL);	/* only reset stops */
	CHECK_EQ(vring_state(LINK_SET_VRING_ENABLE, 0, 2), -EINVAL);
	CHECK_EQ(vring_state(LINK_SET_VRING_ENABLE, 2, 1), -EINVAL);
	CHECK_EQ(vring_state(8, 0, 0), -EINVAL);		/* retired: SET_VRING_BASE */
	CHECK_EQ(vring_state(LINK_RESET, 0, 0), -EINVAL);

	msg(&m, LINK_SET_VRING_ADDR, &a, sizeof(a));
	CHECK_EQ(link_dec_vring_addr(&m, &lim, &a), 0);
	CHECK_EQ(a.used, 0x3004);
	a.desc = 0x1008;
	msg(&m, LINK_SET_VRING_ADDR, &a, sizeof(a));
	CHECK_EQ(link_dec_vring_addr(&m, &lim, &a), -EINVAL);
	a.desc = 0x1000;
	a.flags = 1;
	msg(&m, LINK_SET_VRING_ADDR, &a, sizeof(a));
	CHECK_EQ(link_dec_vring_addr(&m, &lim, &a), -EINVAL);
	msg(&m, LINK_SET_VRING_ADDR, &a, sizeof(a) - 1);
	CHECK_EQ(link_dec_vring_addr(&m, &lim, &a), -EINVAL);
}

static int config(uint32_t type, uint32_t off, uint32_t len, uint32_t msg_len)
{
	struct link_config c = { htole32(off), htole32(len), { 0 } };
	struct ctl_msg m;

	msg(&m, type, &c, msg_len);
	return link_dec_config(&m, type, &lim, &c);
}

static void test_link_config(void)
{
	CHECK_EQ(config(LINK_SET_CONFIG, 56, 4, 12), 0);
	CHECK_EQ(config(LINK_SET_CONFIG, 57, 4, 12), -EINVAL);
	CHECK_EQ(config(LINK_SET_CONFIG, 0xfffffffc, 8, 16), -EINVAL);
	CHECK_EQ(config(LINK_SET_CONFIG, 0, 0, 8), -EINVAL);
	CHECK_EQ(config(LINK_SET_CONFIG, 8, 4, 12), 0);
	CHECK_EQ(config(LINK_SET_CONFIG, 8, 4, 13), -EINVAL);
	CHECK_EQ(config(LINK_SET_CONFIG, 8, 4, 4), -EINVAL);
	CHECK_EQ(config(LINK_SET_CONFIG, 0, 232, 240), -EINVAL);
	CHECK_EQ(config(LINK_CONFIG_CHANGED, 0, 60, 68), 0);
	CHECK_EQ(config(LINK_CONFIG_CHANGED, 0, 61, 69), -EINVAL);
	CHECK_EQ(config(LINK_CONFIG_CHANGED, 4, 2, 10), 0);
	CHECK_EQ(config(LINK_CONFIG_CHANGED, 59, 2, 10), -EINVAL);	/* past the end */
	CHECK_EQ(config(LINK_CONFIG_CHANGED, 0xfffffffe, 4, 12), -EINVAL);	/* wraps */
	CHECK_EQ(config(LINK_CONFIG_CHANGED, 61, 1, 9), -EINVAL);
}

/* What the decoder hands back holds the message's bytes and zeros only. */
static void test_link_config_no_leftovers(void)
{
	struct link_config c = { htole32(4), htole32(2), { 0xaa, 0xbb } }, out;
	struct ctl_msg m;

	msg(&m, LINK_CONFIG_CHANGED, &c, LINK_CONFIG_HDR + 2);
	memset(&out, 0x5a, sizeof(out));
	CHECK_EQ(link_dec_config(&m, LINK_CONFIG_CHANGED, &lim, &out), 0);
	CHECK_EQ(out.offset, 4);
	CHECK_EQ(out.len, 2);
	CHECK_EQ(out.data[0], 0xaa);
	CHECK_EQ(out.data[1], 0xbb);
	for (unsigned i = 2; i < sizeof(out.data); i++)
		CHECK_EQ(out.data[i], 0);
}

static void test_link_config_type(void)
{
	struct link_config c = { 0, htole32(4), { 0 } };
	struct ctl_msg m;

	msg(&m, LINK_SET_CONFIG, &c, LINK_CONFIG_HDR + 4);
	CHECK_EQ(link_dec_config(&m, LINK_SET_CONFIG, &lim, &c), 0);
	msg(&m, LINK_SET_CONFIG, &c, LINK_CONFIG_HDR + 4);
	CHECK_EQ(link_dec_config(&m, LINK_CONFIG_CHANGED, &lim, &c), -EINVAL);
}

static void test_link_misc(void)
{
	struct ctl_msg m, req;
	uint64_t v = 0, feat = htole64(1ull << 32);
	char reason[16];
	int status = 1;

	msg(&m, LINK_SET_FEATURES, &feat, 8);
	CHECK_EQ(link_dec_u64(&m, LINK_SET_FEATURES, &v), 0);
	CHECK_EQ(v, 1ull << 32);
	CHECK_EQ(link_dec_u64(&m, LINK_ACTIVATE, &v), -EINVAL);
	m.flags = CTL_MSG_F_REPLY;
	CHECK_EQ(link_dec_u64(&m, LINK_SET_FEATURES, &v), -EINVAL);
	msg(&m, LINK_RESET, NULL, 0);
	CHECK_EQ(link_dec_empty(&m, LINK_RESET), 0);
	m.len = 1;
	CHECK_EQ(link_dec_empty(&m, LINK_RESET), -EINVAL);

	msg(&m, LINK_NEEDS_RESET, "bad\033[2Jdescriptor chain", 24);
	CHECK_EQ(link_dec_needs_reset(&m, reason, sizeof(reason)), 0);
	CHECK_STR(reason, "bad?[2Jdescript");
	m.len = 0xffffffff;
	CHECK_EQ(link_dec_needs_reset(&m, reason, sizeof(reason)), -EINVAL);

	msg(&req, LINK_SET_FEATURES, &feat, 8);
	req.tag = 9;
	link_reply_init(&m, &req, 0, &feat, 8);
	CHECK_EQ(link_dec_reply(&m, 9, &status, &v, 8), 0);
	CHECK_EQ(status, 0);
	CHECK_EQ(link_dec_reply(&m, 8, &status, &v, 8), -EINVAL);
	CHECK_EQ(link_dec_reply(&m, 9, &status, &v, 4), -EINVAL);
	link_reply_init(&m, &req, -ENODEV, NULL, 0);
	CHECK_EQ(link_dec_reply(&m, 9, &status, &v, 8), 0);
	CHECK_EQ(status, -ENODEV);
	link_reply_init(&m, &req, 5, NULL, 0);
	CHECK_EQ(link_dec_reply(&m, 9, &status, &v, 0), -EINVAL);
	link_reply_init(&m, &req, -100000, NULL, 0);
	CHECK_EQ(link_dec_reply(&m, 9, &status, &v, 0), -EINVAL);
	link_reply_init(&m, &req, 0, NULL, 0);
	m.flags = 0;
	CHECK_EQ(link_dec_reply(&m, 9, &status, &v, 0), -EINVAL);
}

int main(void)
{
	int fds = count_fds();

	test_round_trip();
	test_full();
	test_wrap();
	test_fork_order();
	test_fds();
	test_call();
	test_hostile_indices();
	test_hostile_random();
	test_hostile_concurrent();
	test_hostile_len_race();
	test_attach_checks();
	test_link_vring();
	test_link_config();
	test_link_config_type();
	test_link_config_no_leftovers();
	test_link_misc();
	CHECK_EQ(count_fds(), fds);
	return check_report("test_ctl_ring");
}
