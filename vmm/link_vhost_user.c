#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "virtio/vhost_user_proto.h"
#include "vmm/link_vhost_user.h"
#include "vmm/log.h"
#include "vmm/vhost_user_conn.h"

#define DEFAULT_TIMEOUT_MS 2000
#define DEFAULT_QUEUE_SIZE 256
#define VIRTIO_F_VERSION_1 32
#define WHY_MAX 160
/* "REQUEST: why": room for the request's name and a WHY_MAX reason. */
#define FAILURE_MAX (WHY_MAX + 40)

/* Device bits 0-23, ANY_LAYOUT, INDIRECT_DESC, EVENT_IDX, VERSION_1: what
 * the transport can offer; the rest (ACCESS_PLATFORM, RING_PACKED, ...) not. */
#define FEATURES_KEPT (0xffffffull | (1ull << 27) | (1ull << 28) | (1ull << 29) | \
		       (1ull << VIRTIO_F_VERSION_1))

struct vu_link {
	struct vdev_link link;
	char name[32];
	pthread_mutex_t lock;		/* the main socket: one request and its reply */
	int sock;			/* -1 once the backend is gone */
	int req_sock;			/* our end of the backend request channel */
	int err_fd;			/* every queue's vring error eventfd */
	int watches_fd;			/* written when sock or req_sock changes */
	int inflight_fd;
	struct vhost_user_inflight inflight;
	bool inflight_resend;		/* a new backend gets the area back */
	const struct guest_mem *mem;
	int mem_fd;
	char *socket_path;
	uid_t peer_uid;			/* besides root, who may serve socket_path */
	uint64_t deadline_ms;		/* of the operation holding the lock */
	unsigned timeout_ms, want_queues, want_config;
	uint8_t opt_config[VDEV_CONFIG_MAX];
	uint64_t protocol;		/* negotiated protocol features */
	bool has_protocol;		/* VHOST_USER_F_PROTOCOL_FEATURES */
	uint64_t driver_features;
	uint64_t active_features;	/* what the running device was activated with */
	struct vdev_vring rings[VDEV_MAX_QUEUES];
	bool ring_set[VDEV_MAX_QUEUES], started[VDEV_MAX_QUEUES];
	bool failed;			/* NEEDS_RESET; atomics */
	bool running;			/* create() is done: failures are logged */
	char pending[FAILURE_MAX];	/* a failure to tell the transport, after unlock */
	uint8_t staged[VDEV_CONFIG_MAX];	/* a new backend's config, likewise */
	bool config_staged;
	char why[FAILURE_MAX];		/* the last failure, for create's err */
	struct log_ratelimit limit;
};

static struct vu_link *of(struct vdev_link *link)
{
	return link->priv;
}

static bool has(const struct vu_link *vl, unsigned bit)
{
	return vl->protocol & (1ull << bit);
}

static uint32_t ack_flag(const struct vu_link *vl)
{
	return has(vl, VHOST_USER_PROTOCOL_F_REPLY_ACK) ? VHOST_USER_FLAG_NEED_REPLY : 0;
}

/*
 * The device failed: one line, NEEDS_RESET, and the transport told once
 * the link's lock is released (it takes its own lock, which a vCPU may
 * hold while it waits for ours).
 */
static void fail(struct vu_link *vl, const char *what, const char *why)
{
	snprintf(vl->why, sizeof(vl->why), "%s: %s", what, why);
	if (!vl->running)
		return;
	log_ratelimited_msg(&vl->limit, LOG_WARN, "%s: %s; the device needs a reset", vl->name,
			    vl->why);
	if (!__atomic_exchange_n(&vl->failed, true, __ATOMIC_ACQ_REL))
		snprintf(vl->pending, sizeof(vl->pending), "%s", vl->why);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Each locked section is one operation with one budget for all its
 * replies, so a backend answering just in time cannot stretch it. */
static void lock(struct vu_link *vl)
{
	pthread_mutex_lock(&vl->lock);
	vl->deadline_ms = now_ms() + vl->timeout_ms;
}

static void unlock(struct vu_link *vl)
{
	uint8_t config[VDEV_CONFIG_MAX];
	bool new_config = vl->config_staged;
	char why[FAILURE_MAX];

	snprintf(why, sizeof(why), "%s", vl->pending);
	vl->pending[0] = '\0';
	if (new_config)
		memcpy(config, vl->staged, vl->link.config_size);
	vl->config_staged = false;
	pthread_mutex_unlock(&vl->lock);
	if (new_config)
		vdev_link_config_changed(&vl->link, 0, config, vl->link.config_size);
	if (why[0])
		vdev_link_needs_reset(&vl->link, why);
}

/* The main loop re-reads the watches after serving any of them: this
 * one fires when a vCPU (reset) or reattach changed the others. */
static void watches_changed(struct vu_link *vl)
{
	if (vl->watches_fd >= 0)
		(void)!write(vl->watches_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
}

static void drop_socket(struct vu_link *vl)
{
	if (vl->sock >= 0) {
		close(vl->sock);
		watches_changed(vl);
	}
	vl->sock = -1;
}

static int check_reply(struct vu_link *vl, const struct vhost_user_msg *req,
		       const struct vhost_user_msg *reply, unsigned nr_fds, char *why)
{
	int size = vhost_user_reply_size(req->hdr.request, req->hdr.size);
	bool acked = size < 0;
	int rc;

	(void)vl;
	rc = vhost_user_check_reply_hdr(&reply->hdr, req->hdr.request,
					acked ? sizeof(uint64_t) : (uint32_t)size, why, WHY_MAX);
	if (!rc)
		rc = vhost_user_check_reply_fds(req->hdr.request, nr_fds, why, WHY_MAX);
	if (!rc && acked)
		rc = vhost_user_check_ack(reply->p.u64, why, WHY_MAX);
	return rc;
}

static const char *reason(int rc)
{
	switch (rc) {
	case -ETIMEDOUT: return "no reply in time";
	case -EPIPE: return "backend closed the connection";
	case -EPROTO: return "malformed reply";
	default: return strerror(-rc);
	}
}

/* What is left of the operation's budget, at least 1 ms: a send that
 * needs no wait still goes out. */
static unsigned budget_left(const struct vu_link *vl)
{
	uint64_t now = now_ms();

	return vl->deadline_ms > now + 1 ? (unsigned)(vl->deadline_ms - now) : 1;
}

/*
 * One request (lock held), and its reply when it has one or asked for an
 * ack. Any failure leaves the stream unusable: the socket is dropped and
 * the device fails. reply_fd: where the one fd of a reply that carries one
 * goes.
 */
static int request(struct vu_link *vl, struct vhost_user_msg *m, size_t len, const int *fds,
		   unsigned nr_fds, struct vhost_user_msg *reply, int *reply_fd)
{
	struct vhost_user_msg local;
	char name[24], why[WHY_MAX] = "";
	bool wants_reply = vhost_user_reply_size(m->hdr.request, m->hdr.size) >= 0 ||
			   (m->hdr.flags & VHOST_USER_FLAG_NEED_REPLY);
	int got_fds[1], rc;
	unsigned nr = 0;

	if (vl->sock < 0)
		return -EPIPE;
	if (!reply)
		reply = &local;
	rc = vhost_user_send(vl->sock, m, len, fds, nr_fds, budget_left(vl));
	if (!rc && wants_reply)
		rc = vhost_user_recv(vl->sock, reply, got_fds, reply_fd ? 1 : 0, &nr, budget_left(vl));
	if (!rc && wants_reply)
		rc = check_reply(vl, m, reply, nr, why);
	if (rc) {
		for (unsigned i = 0; i < nr; i++)
			close(got_fds[i]);
		if (rc != -EPROTO || !why[0])
			snprintf(why, sizeof(why), "%s", reason(rc));
		fail(vl, vhost_user_request_name(m->hdr.request, name, sizeof(name)), why);
		drop_socket(vl);
		return rc;
	}
	if (reply_fd)
		*reply_fd = nr ? got_fds[0] : -1;
	return 0;
}

static int send_empty(struct vu_link *vl, uint32_t req)
{
	struct vhost_user_msg m;

	return request(vl, &m, vhost_user_msg_empty(&m, req, 0), NULL, 0, NULL, NULL);
}

static int send_u64(struct vu_link *vl, uint32_t req, uint32_t flags, uint64_t val)
{
	struct vhost_user_msg m;

	return request(vl, &m, vhost_user_msg_u64(&m, req, flags, val), NULL, 0, NULL, NULL);
}

static int get_u64(struct vu_link *vl, uint32_t req, uint64_t *val)
{
	struct vhost_user_msg m, reply;
	int rc = request(vl, &m, vhost_user_msg_empty(&m, req, 0), NULL, 0, &reply, NULL);

	*val = rc ? 0 : reply.p.u64;
	return rc;
}

static int send_state(struct vu_link *vl, uint32_t req, unsigned q, uint32_t num)
{
	struct vhost_user_msg m;

	return request(vl, &m, vhost_user_msg_state(&m, req, q, num), NULL, 0, NULL, NULL);
}

static int send_vring_fd(struct vu_link *vl, uint32_t req, unsigned q, int fd)
{
	struct vhost_user_msg m;

	return request(vl, &m, vhost_user_msg_u64(&m, req, 0, q), &fd, 1, NULL, NULL);
}

/* --- the handshake --- */

static unsigned default_queues(uint16_t device_id)
{
	switch (device_id) {
	case 1: return 2;	/* net */
	case 3: return 2;	/* console */
	case 16: return 2;	/* gpu */
	case 18: return 2;	/* input */
	case 19: return 3;	/* vsock */
	case 25: return 4;	/* sound */
	case 26: return 2;	/* fs */
	default: return 1;	/* blk, rng, the rest */
	}
}

static unsigned default_config_size(uint16_t device_id)
{
	switch (device_id) {
	case 1: return 12;	/* net */
	case 2: return 60;	/* blk */
	case 16: return 24;	/* gpu */
	case 18: return 136;	/* input */
	case 19: return 8;	/* vsock */
	case 25: return 16;	/* sound */
	case 26: return 40;	/* fs */
	default: return 0;
	}
}

static int refuse(struct vu_link *vl, const char *what, const char *why)
{
	fail(vl, what, why);
	drop_socket(vl);
	return -EPROTO;
}

static int negotiate_protocol(struct vu_link *vl)
{
	uint64_t offered;
	int rc = get_u64(vl, VHOST_USER_GET_PROTOCOL_FEATURES, &offered);

	if (rc)
		return rc;
	vl->protocol = offered & VHOST_USER_PROTOCOL_SUPPORTED;
	/* Vring calls over the channel need the channel. */
	if (!has(vl, VHOST_USER_PROTOCOL_F_BACKEND_REQ))
		vl->protocol &= ~(1ull << VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS);
	return send_u64(vl, VHOST_USER_SET_PROTOCOL_FEATURES, 0, vl->protocol);
}

static int count_queues(struct vu_link *vl, unsigned *nr)
{
	char why[WHY_MAX];
	uint64_t val;
	int rc;

	if (vl->want_queues) {
		*nr = vl->want_queues;
		return 0;
	}
	if (!has(vl, VHOST_USER_PROTOCOL_F_MQ)) {
		*nr = default_queues(vl->link.device_id);
		return 0;
	}
	rc = get_u64(vl, VHOST_USER_GET_QUEUE_NUM, &val);
	if (!rc && vhost_user_check_queue_num(val, VDEV_MAX_QUEUES, why, sizeof(why)))
		return refuse(vl, "GET_QUEUE_NUM", why);
	*nr = (unsigned)val;
	return rc;
}

/* GET_CONFIG of the whole config space into buf. */
static int read_config(struct vu_link *vl, uint8_t *buf)
{
	struct vhost_user_msg m, reply;
	unsigned size = vl->link.config_size;
	char why[WHY_MAX];
	size_t len = vhost_user_msg_config(&m, VHOST_USER_GET_CONFIG, 0, 0, NULL, size);
	int rc = request(vl, &m, len, NULL, 0, &reply, NULL);

	if (!rc && vhost_user_check_config(&reply.p.config, 0, size, why, sizeof(why)))
		return refuse(vl, "GET_CONFIG", why);
	if (!rc)
		memcpy(buf, reply.p.config.data, size);
	return rc;
}

static int open_backend_channel(struct vu_link *vl)
{
	struct vhost_user_msg m;
	int sv[2], rc;

	/* Blocking, as the backend expects its end; non-blocking ours only. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return refuse(vl, "SET_BACKEND_REQ_FD", strerror(errno));
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK)) {
		close(sv[0]);
		close(sv[1]);
		return refuse(vl, "SET_BACKEND_REQ_FD", strerror(errno));
	}
	rc = request(vl, &m, vhost_user_msg_empty(&m, VHOST_USER_SET_BACKEND_REQ_FD, ack_flag(vl)),
		     &sv[1], 1, NULL, NULL);
	close(sv[1]);
	if (rc) {
		close(sv[0]);
		return rc;
	}
	vl->req_sock = sv[0];
	watches_changed(vl);
	return 0;
}

static int set_features_from(struct vu_link *vl, uint64_t offered)
{
	if (!(offered & (1ull << VIRTIO_F_VERSION_1)))
		return refuse(vl, "GET_FEATURES", "backend lacks VIRTIO_F_VERSION_1");
	vl->has_protocol = offered & (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
	vl->link.features = offered & FEATURES_KEPT;
	return 0;
}

/*
 * SET_OWNER, features, protocol features, queues, config, backend channel
 * (lock held). config: where the backend's config goes (NULL: straight
 * into the link's cache, before anyone reads it).
 */
static int handshake(struct vu_link *vl, unsigned *nr_queues, uint8_t *config)
{
	uint64_t offered;
	int rc = send_empty(vl, VHOST_USER_SET_OWNER);

	vl->protocol = 0;
	if (!rc)
		rc = get_u64(vl, VHOST_USER_GET_FEATURES, &offered);
	if (!rc)
		rc = set_features_from(vl, offered);
	if (!rc && vl->has_protocol)
		rc = negotiate_protocol(vl);
	if (!rc)
		rc = count_queues(vl, nr_queues);
	if (!rc && has(vl, VHOST_USER_PROTOCOL_F_CONFIG) && vl->link.config_size)
		rc = read_config(vl, config);
	else if (!rc)
		memcpy(config, vl->opt_config, vl->link.config_size);
	if (!rc && has(vl, VHOST_USER_PROTOCOL_F_BACKEND_REQ))
		rc = open_backend_channel(vl);
	return rc;
}

/* --- activation --- */

static int send_mem_table(struct vu_link *vl)
{
	const struct guest_mem *mem = vl->mem;
	struct vhost_user_region r[VHOST_USER_MAX_REGIONS];
	int fds[VHOST_USER_MAX_REGIONS];
	struct vhost_user_msg m;
	size_t len;

	for (unsigned i = 0; i < mem->nr_regions; i++) {
		r[i] = (struct vhost_user_region){
			.guest_phys_addr = mem->regions[i].gpa,
			.memory_size = mem->regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)(mem->host + mem->regions[i].offset),
			.mmap_offset = mem->regions[i].offset,
		};
		fds[i] = vl->mem_fd;
	}
	len = vhost_user_msg_mem_table(&m, ack_flag(vl), r, mem->nr_regions);
	if (!len)
		return refuse(vl, "SET_MEM_TABLE", "no guest memory regions");
	return request(vl, &m, len, fds, mem->nr_regions, NULL, NULL);
}

static int get_inflight(struct vu_link *vl)
{
	struct vhost_user_inflight want = {
		.num_queues = (uint16_t)vl->link.nr_queues, .queue_size = vl->link.max_queue_size,
	};
	struct vhost_user_msg m, reply;
	char why[WHY_MAX];
	int fd = -1;
	int rc = request(vl, &m, vhost_user_msg_inflight(&m, VHOST_USER_GET_INFLIGHT_FD, &want),
			 NULL, 0, &reply, &fd);

	if (!rc && vhost_user_check_inflight(&reply.p.inflight, why, sizeof(why))) {
		close(fd);
		return refuse(vl, "GET_INFLIGHT_FD", why);
	}
	if (rc)
		return rc;
	vl->inflight_fd = fd;
	vl->inflight = reply.p.inflight;
	return 0;
}

/* INFLIGHT_SHMFD: the area is asked for once, and given back to a new backend. */
static int share_inflight(struct vu_link *vl)
{
	struct vhost_user_msg m;
	size_t len;
	int rc;

	if (!has(vl, VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD))
		return 0;
	if (vl->inflight_fd < 0)
		return get_inflight(vl);
	if (!vl->inflight_resend)
		return 0;
	len = vhost_user_msg_inflight(&m, VHOST_USER_SET_INFLIGHT_FD, &vl->inflight);
	m.hdr.flags |= ack_flag(vl);
	rc = request(vl, &m, len, &vl->inflight_fd, 1, NULL, NULL);
	if (!rc)
		vl->inflight_resend = false;
	return rc;
}

/* The ring's parts as the VMM's own addresses; false if any is outside RAM. */
static bool ring_host_addrs(const struct vu_link *vl, const struct vdev_vring *r, uint64_t *desc,
			    uint64_t *avail, uint64_t *used)
{
	void *d = guest_mem_ptr(vl->mem, r->desc, 16ull * r->size);
	void *a = guest_mem_ptr(vl->mem, r->avail, 6 + 2ull * r->size);
	void *u = guest_mem_ptr(vl->mem, r->used, 6 + 8ull * r->size);

	*desc = (uint64_t)(uintptr_t)d;
	*avail = (uint64_t)(uintptr_t)a;
	*used = (uint64_t)(uintptr_t)u;
	return d && a && u;
}

static int start_queue(struct vu_link *vl, unsigned q, uint16_t base)
{
	const struct vdev_vring *r = &vl->rings[q];
	struct vhost_user_msg m;
	uint64_t desc, avail, used;
	char why[WHY_MAX];
	int rc;

	if (!ring_host_addrs(vl, r, &desc, &avail, &used)) {
		snprintf(why, sizeof(why), "queue %u's rings are outside guest RAM", q);
		fail(vl, "SET_VRING_ADDR", why);
		return -EFAULT;
	}
	rc = send_state(vl, VHOST_USER_SET_VRING_NUM, q, r->size);
	if (!rc)
		rc = request(vl, &m, vhost_user_msg_addr(&m, q, desc, used, avail), NULL, 0, NULL,
			     NULL);
	if (!rc)
		rc = send_state(vl, VHOST_USER_SET_VRING_BASE, q, base);
	if (!rc)
		rc = send_vring_fd(vl, VHOST_USER_SET_VRING_KICK, q, vl->link.kick_fd[q]);
	if (!rc)
		rc = send_vring_fd(vl, VHOST_USER_SET_VRING_CALL, q, vl->link.call_fd[q]);
	if (!rc)
		rc = send_vring_fd(vl, VHOST_USER_SET_VRING_ERR, q, vl->err_fd);
	if (!rc && vl->has_protocol)
		rc = send_state(vl, VHOST_USER_SET_VRING_ENABLE, q, 1);
	vl->started[q] = !rc;
	return rc;
}

/*
 * Where a new backend picks up queue q of a running device: the used
 * ring's index, what the dead one finished. Exact for a backend that
 * completes in order (the C virtiofsd without a thread pool); one that
 * did not may see a request again or never. 0 for a fresh start.
 */
static uint16_t resume_base(const struct vu_link *vl, unsigned q, bool resume)
{
	const struct vdev_vring *r = &vl->rings[q];
	const volatile uint16_t *used_idx = guest_mem_ptr(vl->mem, r->used + 2, 2);

	return resume && used_idx ? le16toh(*used_idx) : 0;
}

static int activate_locked(struct vu_link *vl, uint64_t features, bool resume)
{
	uint64_t f = features | (vl->has_protocol ? 1ull << VHOST_USER_F_PROTOCOL_FEATURES : 0);
	int rc = send_u64(vl, VHOST_USER_SET_FEATURES, 0, f);

	vl->active_features = features;
	if (!rc)
		rc = send_mem_table(vl);
	if (!rc)
		rc = share_inflight(vl);
	for (unsigned q = 0; !rc && q < vl->link.nr_queues; q++)
		if (vl->ring_set[q])
			rc = start_queue(vl, q, resume_base(vl, q, resume));
	return rc;
}

/* --- the ops --- */

static int vu_features_ok(struct vdev_link *link, uint64_t features)
{
	struct vu_link *vl = of(link);

	lock(vl);
	vl->driver_features = features;
	unlock(vl);
	return 0;
}

static int vu_set_vring(struct vdev_link *link, unsigned q, const struct vdev_vring *ring)
{
	struct vu_link *vl = of(link);

	if (q >= link->nr_queues || !ring->size || ring->size > link->max_queue_size)
		return -EINVAL;
	lock(vl);
	vl->rings[q] = *ring;
	vl->ring_set[q] = true;
	unlock(vl);
	return 0;
}

static int vu_activate(struct vdev_link *link, uint64_t features)
{
	struct vu_link *vl = of(link);
	int rc;

	lock(vl);
	rc = vl->sock < 0 ? -EPIPE : activate_locked(vl, features, false);
	unlock(vl);
	return rc;
}

static int stop_queues(struct vu_link *vl)
{
	struct vhost_user_msg m, reply;
	char why[WHY_MAX];
	int rc = 0;

	for (unsigned q = 0; !rc && q < vl->link.nr_queues; q++) {
		if (!vl->started[q])
			continue;
		rc = request(vl, &m, vhost_user_msg_state(&m, VHOST_USER_GET_VRING_BASE, q, 0),
			     NULL, 0, &reply, NULL);
		if (!rc && vhost_user_check_vring_base(&reply.p.state, q, why, sizeof(why)))
			rc = refuse(vl, "GET_VRING_BASE", why);
	}
	return rc;
}

static void forget_queues(struct vu_link *vl)
{
	memset(vl->started, 0, sizeof(vl->started));
	memset(vl->ring_set, 0, sizeof(vl->ring_set));
	vl->driver_features = 0;
}

static int reconnect_locked(struct vu_link *vl, int sock);

static void say_foreign_peer(struct vu_link *vl, uid_t peer)
{
	char why[WHY_MAX];

	snprintf(why, sizeof(why), "the backend on %s runs as uid %u, neither root nor the "
		 "VM's user", vl->socket_path, (unsigned)peer);
	fail(vl, "reconnect", why);
}

static int reset_locked(struct vu_link *vl)
{
	int rc = vl->sock < 0 ? -EPIPE : stop_queues(vl);

	if (!rc)
		rc = has(vl, VHOST_USER_PROTOCOL_F_RESET_DEVICE)
		     ? send_empty(vl, VHOST_USER_RESET_DEVICE)
		     : send_empty(vl, VHOST_USER_RESET_OWNER);
	forget_queues(vl);
	if (rc && vl->socket_path) {	/* one new connection per reset: bounded */
		uid_t peer = 0;
		int sock = vhost_user_connect(vl->socket_path, vl->peer_uid, &peer);

		if (sock == -EPERM)
			say_foreign_peer(vl, peer);
		rc = sock < 0 ? sock : reconnect_locked(vl, sock);
	}
	return rc;
}

static int vu_reset(struct vdev_link *link)
{
	struct vu_link *vl = of(link);
	int rc;

	lock(vl);
	rc = reset_locked(vl);
	if (!rc)
		__atomic_store_n(&vl->failed, false, __ATOMIC_RELEASE);
	unlock(vl);
	return rc;
}

static int vu_set_config(struct vdev_link *link, unsigned offset, const void *buf, unsigned len)
{
	struct vu_link *vl = of(link);
	struct vhost_user_msg m;
	size_t n;
	int rc;

	if (!has(vl, VHOST_USER_PROTOCOL_F_CONFIG))
		return -EOPNOTSUPP;
	n = vhost_user_msg_config(&m, VHOST_USER_SET_CONFIG, ack_flag(vl), offset, buf, len);
	if (!n)
		return -EINVAL;
	lock(vl);
	rc = request(vl, &m, n, NULL, 0, NULL, NULL);
	unlock(vl);
	return rc;
}

/* --- the watches --- */

/* Nothing comes on the main socket unasked: bytes or a hang-up mean the
 * backend is gone (or broken). The lock waits out a request in flight,
 * whose reply made the socket readable. */
static void serve_sock(struct vdev_link *link, short revents)
{
	struct vu_link *vl = of(link);
	struct pollfd p;

	(void)revents;
	/* Busy: a request is in flight, its reply made the socket readable,
	 * and it sees a hang-up itself. The main loop never waits for it. */
	if (pthread_mutex_trylock(&vl->lock))
		return;
	p = (struct pollfd){ .fd = vl->sock, .events = POLLIN | POLLRDHUP };
	if (vl->sock >= 0 && poll(&p, 1, 0) > 0) {
		fail(vl, "connection", "backend closed the connection");
		drop_socket(vl);
	}
	unlock(vl);
}

static void serve_err(struct vdev_link *link, short revents)
{
	struct vu_link *vl = of(link);
	uint64_t n;

	(void)revents;
	if (read(vl->err_fd, &n, sizeof(n)) != sizeof(n))
		return;
	lock(vl);
	fail(vl, "vring error", "the backend reported a queue error");
	unlock(vl);
}

static void close_backend_channel(struct vu_link *vl)
{
	if (vl->req_sock >= 0) {
		close(vl->req_sock);
		watches_changed(vl);
	}
	vl->req_sock = -1;
}

static void serve_watches_changed(struct vdev_link *link, short revents)
{
	uint64_t n;

	(void)revents;
	(void)!read(of(link)->watches_fd, &n, sizeof(n));
}

static void answer(struct vu_link *vl, const struct vhost_user_hdr *h, uint64_t status)
{
	struct vhost_user_msg m;
	size_t len;

	if (!(h->flags & VHOST_USER_FLAG_NEED_REPLY))
		return;
	len = vhost_user_msg_u64(&m, h->request, VHOST_USER_FLAG_REPLY, status);
	/* Lock held: no wait (the backend, waiting for this, has read all). */
	if (vhost_user_send(vl->req_sock, &m, len, NULL, 0, 0))
		close_backend_channel(vl);
}

/* CONFIG_CHANGE_MSG (lock held): the new config is fetched and staged;
 * unlock() passes it up. */
static uint64_t config_changed(struct vu_link *vl)
{
	int rc = -EOPNOTSUPP;

	if (has(vl, VHOST_USER_PROTOCOL_F_CONFIG) && vl->link.config_size)
		rc = read_config(vl, vl->staged);
	if (!rc)
		vl->config_staged = true;
	return rc ? 1 : 0;
}

static uint64_t vring_call(struct vu_link *vl, const struct vhost_user_msg *m)
{
	if (!has(vl, VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS) ||
	    m->hdr.size != sizeof(m->p.state) || m->p.state.index >= vl->link.nr_queues)
		return 1;
	(void)!write(vl->link.call_fd[m->p.state.index], &(uint64_t){ 1 }, sizeof(uint64_t));
	return 0;
}

/*
 * One backend request, all under the lock so that a reset reconnecting
 * on a vCPU cannot swap req_sock meanwhile. The read does not wait (a
 * backend writes a request at once); one cut short fails the channel.
 */
static void serve_backend_request_locked(struct vu_link *vl)
{
	struct vhost_user_msg m;
	char why[WHY_MAX], name[32];
	unsigned nr;
	uint64_t status;
	int rc;

	struct pollfd p = { .fd = vl->req_sock, .events = POLLIN };

	if (vl->req_sock < 0 || poll(&p, 1, 0) <= 0)
		return;	/* replaced, closed or drained since the main loop's poll */
	rc = vhost_user_recv(vl->req_sock, &m, NULL, 0, &nr, 0);
	if (!rc)
		rc = vhost_user_check_backend_hdr(&m.hdr, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", reason(rc));
	if (rc) {
		close_backend_channel(vl);
		if (rc != -EPIPE)	/* the main socket's watch tells of a death */
			fail(vl, "backend request", why);
		return;
	}
	if (m.hdr.request == VHOST_USER_BACKEND_CONFIG_CHANGE_MSG)
		status = config_changed(vl);
	else if (m.hdr.request == VHOST_USER_BACKEND_VRING_CALL)
		status = vring_call(vl, &m);
	else
		status = 1;
	if (status)
		log_ratelimited_msg(&vl->limit, LOG_WARN, "%s: backend request %s refused",
				    vl->name,
				    vhost_user_backend_request_name(m.hdr.request, name, sizeof(name)));
	answer(vl, &m.hdr, status);
}

static void serve_backend_request(struct vdev_link *link, short revents)
{
	struct vu_link *vl = of(link);

	(void)revents;
	lock(vl);
	serve_backend_request_locked(vl);
	unlock(vl);
}

static unsigned vu_watches(struct vdev_link *link, struct vdev_link_watch *w)
{
	struct vu_link *vl = of(link);

	w[0] = (struct vdev_link_watch){ vl->sock, POLLIN | POLLRDHUP, serve_sock };
	w[1] = (struct vdev_link_watch){ vl->req_sock, POLLIN, serve_backend_request };
	w[2] = (struct vdev_link_watch){ vl->err_fd, POLLIN, serve_err };
	w[3] = (struct vdev_link_watch){ vl->watches_fd, POLLIN, serve_watches_changed };
	return 4;
}

static enum vdev_link_status vu_status(struct vdev_link *link)
{
	return __atomic_load_n(&of(link)->failed, __ATOMIC_ACQUIRE) ? VDEV_LINK_NEEDS_RESET
								     : VDEV_LINK_RUNNING;
}

static pid_t vu_pid(struct vdev_link *link)
{
	(void)link;
	return 0;
}

static void destroy(struct vu_link *vl)
{
	drop_socket(vl);
	close_backend_channel(vl);
	for (unsigned q = 0; q < VDEV_MAX_QUEUES; q++) {
		if (vl->link.kick_fd[q] >= 0)
			close(vl->link.kick_fd[q]);
		if (vl->link.call_fd[q] >= 0)
			close(vl->link.call_fd[q]);
	}
	if (vl->err_fd >= 0)
		close(vl->err_fd);
	if (vl->watches_fd >= 0)
		close(vl->watches_fd);
	if (vl->inflight_fd >= 0)
		close(vl->inflight_fd);
	pthread_mutex_destroy(&vl->lock);
	free(vl->socket_path);
	free(vl);
}

static void vu_stop(struct vdev_link *link)
{
	destroy(of(link));
}

static const struct vdev_link_ops vu_ops = {
	.set_config = vu_set_config, .set_vring = vu_set_vring,
	.features_ok = vu_features_ok, .activate = vu_activate, .reset = vu_reset,
	.watches = vu_watches, .status = vu_status, .pid = vu_pid, .stop = vu_stop,
};

/* --- create and reattach --- */

/* Idempotent: a second call (offer_broken after a failure part-way)
 * makes only the eventfds still missing. */
static int make_queue_fds(struct vu_link *vl)
{
	for (unsigned q = 0; q < vl->link.nr_queues; q++) {
		if (vl->link.kick_fd[q] < 0)
			vl->link.kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vl->link.kick_fd[q] < 0)
			return -errno;
		if (vl->link.call_fd[q] < 0)
			vl->link.call_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vl->link.call_fd[q] < 0)
			return -errno;
	}
	return 0;
}

static int take_socket(int sock)
{
	int flags = fcntl(sock, F_GETFL);

	if (flags < 0 || fcntl(sock, F_SETFL, flags | O_NONBLOCK) ||
	    fcntl(sock, F_SETFD, FD_CLOEXEC))
		return -errno;
	return sock;
}

static struct vu_link *new_link(const struct vhost_user_options *opt)
{
	struct vu_link *vl = calloc(1, sizeof(*vl));

	if (!vl)
		return NULL;
	snprintf(vl->name, sizeof(vl->name), "%s", opt->name ? opt->name : "vhost-user");
	pthread_mutex_init(&vl->lock, NULL);
	vl->sock = vl->req_sock = vl->err_fd = vl->inflight_fd = -1;
	vl->watches_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (unsigned q = 0; q < VDEV_MAX_QUEUES; q++)
		vl->link.kick_fd[q] = vl->link.call_fd[q] = -1;
	vl->mem = opt->mem;
	vl->mem_fd = opt->mem_fd;
	vl->timeout_ms = opt->timeout_ms ? opt->timeout_ms : DEFAULT_TIMEOUT_MS;
	vl->peer_uid = opt->peer_uid;
	vl->want_queues = opt->nr_queues;
	vl->link.ops = &vu_ops;
	vl->link.priv = vl;
	vl->link.name = vl->name;
	vl->link.device_id = opt->device_id;
	vl->link.max_queue_size = opt->queue_size ? opt->queue_size : DEFAULT_QUEUE_SIZE;
	vl->link.config_size = opt->config_size ? opt->config_size
						: default_config_size(opt->device_id);
	if (vl->link.config_size > VDEV_CONFIG_MAX)
		vl->link.config_size = VDEV_CONFIG_MAX;
	if (opt->config)
		memcpy(vl->opt_config, opt->config, vl->link.config_size);
	if (opt->socket_path && !(vl->socket_path = strdup(opt->socket_path))) {
		destroy(vl);
		return NULL;
	}
	return vl;
}

static int start(struct vu_link *vl, const struct vhost_user_options *opt, bool *connected)
{
	uid_t peer = 0;
	int rc;

	char why[WHY_MAX];

	if (vl->want_queues > VDEV_MAX_QUEUES) {
		snprintf(why, sizeof(why), "%u asked for, at most %u", vl->want_queues,
			 VDEV_MAX_QUEUES);
		return refuse(vl, "queues", why);
	}
	if (!vl->mem || !vl->mem->nr_regions || vl->mem_fd < 0)
		return refuse(vl, "memory", "no guest-RAM fd to share");
	vl->sock = opt->sock_fd >= 0 ? take_socket(opt->sock_fd)
				     : vhost_user_connect(opt->socket_path, vl->peer_uid, &peer);
	if (vl->sock < 0 && opt->sock_fd >= 0)
		close(opt->sock_fd);
	if (vl->sock == -EPERM) {
		snprintf(vl->why, sizeof(vl->why), "the backend on %s runs as uid %u, neither "
			 "root nor the VM's user", opt->socket_path, (unsigned)peer);
		return -EPERM;
	}
	if (vl->sock < 0) {
		rc = vl->sock;
		snprintf(vl->why, sizeof(vl->why), "connecting to %s: %s",
			 opt->socket_path ? opt->socket_path : "(no socket)", strerror(-rc));
		return rc;
	}
	vl->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vl->err_fd < 0 || vl->watches_fd < 0)
		return refuse(vl, "vring error eventfd", strerror(errno));
	*connected = true;
	vl->deadline_ms = now_ms() + vl->timeout_ms;	/* no one else has the link yet */
	rc = handshake(vl, &vl->link.nr_queues, vl->link.config);
	if (!rc && make_queue_fds(vl))
		rc = refuse(vl, "queue eventfds", strerror(errno));
	return rc;
}

/*
 * A backend that answered the handshake wrongly: the VM still boots, with
 * a device that has only VERSION_1 and the type's queues and needs a
 * reset; the guest's reset tries the backend again (socket_path).
 */
static int offer_broken(struct vu_link *vl)
{
	vl->link.features = 1ull << VIRTIO_F_VERSION_1;
	vl->link.nr_queues = vl->want_queues ? vl->want_queues : default_queues(vl->link.device_id);
	memcpy(vl->link.config, vl->opt_config, vl->link.config_size);
	if (make_queue_fds(vl))
		return -1;
	vl->failed = true;
	/* The queue count is fixed now: a later backend with more cannot fit. */
	log_warn("%s: %s; the device needs a reset (retried when the guest resets it%s)",
		 vl->name, vl->why,
		 vl->want_queues ? "" : "; set queues = N to let a later reset recover it");
	return 0;
}

struct vdev_link *vhost_user_link_create(const struct vhost_user_options *opt, char *err,
					 size_t errlen)
{
	struct vu_link *vl = new_link(opt);
	bool connected = false;

	if (!vl) {
		snprintf(err, errlen, "%s: %s", opt->name ? opt->name : "vhost-user", strerror(ENOMEM));
		if (opt->sock_fd >= 0)
			close(opt->sock_fd);
		return NULL;
	}
	if (!opt->socket_path && opt->sock_fd < 0) {
		snprintf(err, errlen, "%s: neither a socket nor its path", vl->name);
		destroy(vl);
		return NULL;
	}
	if (start(vl, opt, &connected) && (!connected || offer_broken(vl))) {
		snprintf(err, errlen, "%s: %s", vl->name, vl->why);
		destroy(vl);
		return NULL;
	}
	vl->running = true;
	return &vl->link;
}

/* A new backend on sock (lock held): the handshake again, for the same
 * queues; the config it reports replaces the cache once unlocked. */
static int reconnect_locked(struct vu_link *vl, int sock)
{
	bool running = false;
	unsigned nr = 0;
	int rc;

	for (unsigned q = 0; q < vl->link.nr_queues; q++)
		running |= vl->started[q];
	drop_socket(vl);
	close_backend_channel(vl);
	memset(vl->started, 0, sizeof(vl->started));
	vl->sock = take_socket(sock);
	if (vl->sock < 0) {
		close(sock);
		return vl->sock;
	}
	watches_changed(vl);
	rc = handshake(vl, &nr, vl->staged);
	if (!rc && nr != vl->link.nr_queues) {
		char why[WHY_MAX];

		snprintf(why, sizeof(why), "the new backend has %u queues, the device %u", nr,
			 vl->link.nr_queues);
		rc = refuse(vl, "reattach", why);
	}
	vl->config_staged = !rc && vl->link.config_size;
	if (!rc)
		vl->inflight_resend = vl->inflight_fd >= 0;
	/* A device the guest is using goes on where the dead backend left
	 * it: Linux's virtio-fs never resets on NEEDS_RESET, and its
	 * requests in flight would wait for ever. */
	if (!rc && running)
		rc = activate_locked(vl, vl->active_features, true);
	if (!rc && running)
		__atomic_store_n(&vl->failed, false, __ATOMIC_RELEASE);
	/* Rings of a device being set up stay: only a reset forgets them. */
	return rc;
}

int vhost_user_link_reattach(struct vdev_link *link, int sock_fd)
{
	struct vu_link *vl = of(link);
	int rc;

	lock(vl);
	rc = reconnect_locked(vl, sock_fd);
	unlock(vl);
	return rc;
}
