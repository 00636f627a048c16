/*
 * The vhost-user link against a fake backend in a thread: the handshake
 * and activation send what the spec says in order, with the right
 * payloads and fds; the guest-RAM fd maps the same bytes; kick and call
 * eventfds reach the other side; a config change from the backend
 * reaches the transport; a backend that hangs up fails the device.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "check.h"
#include "fake_vhost_backend.h"
#include "vmm/link_vhost_user.h"

#define RAM_SIZE (2u << 20)

static unsigned resets, config_changes;
static uint8_t changed_config[VDEV_CONFIG_MAX];
static char last_why[160];

static int on_config(void *ctx, unsigned off, const void *bytes, unsigned len)
{
	(void)ctx;
	memcpy(changed_config + off, bytes, len);
	config_changes++;
	return 0;
}

static void on_reset(void *ctx, const char *why)
{
	(void)ctx;
	snprintf(last_why, sizeof(last_why), "%s", why);
	resets++;
}

static const struct vdev_link_events events = { .config_changed = on_config,
						 .needs_reset = on_reset };

static const uint32_t expected[] = {
	VHOST_USER_SET_OWNER, VHOST_USER_GET_FEATURES, VHOST_USER_GET_PROTOCOL_FEATURES,
	VHOST_USER_SET_PROTOCOL_FEATURES, VHOST_USER_GET_QUEUE_NUM, VHOST_USER_GET_CONFIG,
	VHOST_USER_SET_BACKEND_REQ_FD, VHOST_USER_SET_FEATURES, VHOST_USER_SET_MEM_TABLE,
	VHOST_USER_SET_VRING_NUM, VHOST_USER_SET_VRING_ADDR, VHOST_USER_SET_VRING_BASE,
	VHOST_USER_SET_VRING_KICK, VHOST_USER_SET_VRING_CALL, VHOST_USER_SET_VRING_ERR,
	VHOST_USER_SET_VRING_ENABLE,
	VHOST_USER_SET_VRING_NUM, VHOST_USER_SET_VRING_ADDR, VHOST_USER_SET_VRING_BASE,
	VHOST_USER_SET_VRING_KICK, VHOST_USER_SET_VRING_CALL, VHOST_USER_SET_VRING_ERR,
	VHOST_USER_SET_VRING_ENABLE,
	VHOST_USER_GET_VRING_BASE, VHOST_USER_GET_VRING_BASE,
};

static struct fake_backend b;

static void check_order(void)
{
	unsigned n = sizeof(expected) / sizeof(expected[0]);

	CHECK(b.nr_msgs >= n);
	for (unsigned i = 0; i < n && i < b.nr_msgs; i++)
		if (b.msgs[i].m.hdr.request != expected[i]) {
			fprintf(stderr, "message %u: request %u, expected %u\n", i,
				b.msgs[i].m.hdr.request, expected[i]);
			check_failures++;
		}
}

static void check_payloads(const struct guest_mem *mem, struct vdev_link *link)
{
	struct fake_msg *m;
	int i;

	i = fake_find(&b, VHOST_USER_SET_PROTOCOL_FEATURES, 0);
	CHECK(i >= 0);
	/* LOG_SHMFD (1) offered but not ours: left out; INBAND without... kept with BACKEND_REQ */
	CHECK_EQ(b.msgs[i].m.p.u64, (1ull << 0) | (1ull << 3) | (1ull << 5) | (1ull << 9) |
				    (1ull << 13));
	i = fake_find(&b, VHOST_USER_SET_BACKEND_REQ_FD, 0);
	CHECK_EQ(b.msgs[i].nr_fds, 1);
	CHECK(b.msgs[i].m.hdr.flags & VHOST_USER_FLAG_NEED_REPLY);
	CHECK(!(fcntl(b.msgs[i].fds[0], F_GETFL) & O_NONBLOCK));	/* the backend's end blocks */
	i = fake_find(&b, VHOST_USER_SET_FEATURES, 0);
	CHECK_EQ(b.msgs[i].m.p.u64, (1ull << 32) | (1ull << 30));

	i = fake_find(&b, VHOST_USER_SET_MEM_TABLE, 0);
	m = &b.msgs[i];
	CHECK(m->m.hdr.flags & VHOST_USER_FLAG_NEED_REPLY);
	CHECK_EQ(m->m.p.mem.nregions, 1);
	CHECK_EQ(m->nr_fds, 1);
	CHECK_EQ(m->m.p.mem.regions[0].guest_phys_addr, 0);
	CHECK_EQ(m->m.p.mem.regions[0].memory_size, RAM_SIZE);
	CHECK_EQ(m->m.p.mem.regions[0].userspace_addr, (uint64_t)(uintptr_t)mem->host);
	/* The backend's own mapping of the fd it got sees the guest's bytes. */
	uint8_t *map = mmap(NULL, RAM_SIZE, PROT_READ, MAP_SHARED, m->fds[0],
			    (off_t)m->m.p.mem.regions[0].mmap_offset);
	CHECK(map != MAP_FAILED);
	*(volatile uint8_t *)guest_mem_ptr(mem, 0x12345, 1) = 0xa7;
	if (map != MAP_FAILED) {
		CHECK_EQ(map[0x12345], 0xa7);
		munmap(map, RAM_SIZE);
	}

	i = fake_find(&b, VHOST_USER_SET_VRING_ADDR, 0);
	CHECK_EQ(b.msgs[i].m.p.addr.index, 0);
	CHECK_EQ(b.msgs[i].m.p.addr.desc, (uint64_t)(uintptr_t)(mem->host + 0x10000));
	CHECK_EQ(b.msgs[i].m.p.addr.avail, (uint64_t)(uintptr_t)(mem->host + 0x11000));
	CHECK_EQ(b.msgs[i].m.p.addr.used, (uint64_t)(uintptr_t)(mem->host + 0x12000));
	i = fake_find(&b, VHOST_USER_SET_VRING_NUM, 0);
	CHECK_EQ(b.msgs[i].m.p.state.num, 64);

	/* Kick: the link's fd written, the backend's copy reads it. */
	i = fake_find(&b, VHOST_USER_SET_VRING_KICK, 0);
	CHECK_EQ(b.msgs[i].nr_fds, 1);
	CHECK_EQ(b.msgs[i].m.p.u64, 0);
	uint64_t v = 1;
	CHECK_EQ(write(link->kick_fd[0], &v, sizeof(v)), 8);
	v = 0;
	CHECK_EQ(read(b.msgs[i].fds[0], &v, sizeof(v)), 8);
	CHECK_EQ(v, 1);
	/* Call: the backend's copy written, the link's fd reads it. */
	i = fake_find(&b, VHOST_USER_SET_VRING_CALL, (unsigned)i);
	i = fake_find(&b, VHOST_USER_SET_VRING_CALL, (unsigned)i + 1);	/* queue 1 */
	CHECK_EQ(b.msgs[i].m.p.u64, 1);
	v = 3;
	CHECK_EQ(write(b.msgs[i].fds[0], &v, sizeof(v)), 8);
	v = 0;
	CHECK_EQ(read(link->call_fd[1], &v, sizeof(v)), 8);
	CHECK_EQ(v, 3);
}

/* The backend says its config changed (NEED_REPLY): the link fetches it
 * and passes it up, then acks. */
static void check_config_change(struct vdev_link *link)
{
	struct vdev_link_watch w[VDEV_LINK_MAX_WATCHES];
	struct vhost_user_msg m, ack;
	unsigned nr;
	int i = fake_find(&b, VHOST_USER_SET_BACKEND_REQ_FD, 0);
	int chan = b.msgs[i].fds[0];

	pthread_mutex_lock(&b.lock);
	memset(b.config, 0x5c, sizeof(b.config));
	pthread_mutex_unlock(&b.lock);
	vhost_user_msg_empty(&m, VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, VHOST_USER_FLAG_NEED_REPLY);
	CHECK_EQ(vhost_user_send(chan, &m, sizeof(m.hdr), NULL, 0, 1000), 0);
	CHECK_EQ(link->ops->watches(link, w), 4);
	CHECK(w[1].fd >= 0);
	w[1].serve(link, POLLIN);
	CHECK_EQ(config_changes, 1);
	CHECK_EQ(changed_config[0], 0x5c);
	CHECK_EQ(changed_config[39], 0x5c);
	CHECK_EQ(vhost_user_recv(chan, &ack, NULL, 0, &nr, 1000), 0);
	CHECK_EQ(ack.hdr.request, VHOST_USER_BACKEND_CONFIG_CHANGE_MSG);
	CHECK(ack.hdr.flags & VHOST_USER_FLAG_REPLY);
	CHECK_EQ(ack.p.u64, 0);
}

static void check_hangup(struct vdev_link *link)
{
	struct vdev_link_watch w[VDEV_LINK_MAX_WATCHES];
	struct pollfd p;

	shutdown(b.sock, SHUT_RDWR);
	link->ops->watches(link, w);
	p = (struct pollfd){ .fd = w[0].fd, .events = w[0].events };
	CHECK_EQ(poll(&p, 1, 5000), 1);
	w[0].serve(link, p.revents);
	CHECK_EQ(link->ops->status(link), VDEV_LINK_NEEDS_RESET);
	CHECK_EQ(resets, 1);
	CHECK_STR(last_why, "connection: backend closed the connection");
	link->ops->watches(link, w);
	CHECK_EQ(w[0].fd, -1);
	CHECK(link->ops->activate(link, 1ull << 32) < 0);	/* no hang, no crash */
}

/* A new backend for a device the guest is using: the handshake, then the
 * whole setup again, each queue from the used index the dead one left. */
static void check_resume(struct vdev_link *link)
{
	struct fake_backend b2 = { .features = b.features, .protocol = b.protocol, .queues = 2 };
	int sock = fake_backend_start(&b2);
	unsigned seen = 0;

	memcpy(b2.config, b.config, sizeof(b2.config));
	CHECK_EQ(vhost_user_link_reattach(link, sock), 0);
	CHECK_EQ(link->ops->status(link), VDEV_LINK_RUNNING);
	CHECK_EQ(link->ops->reset(link), 0);	/* its reply: all before it is recorded */
	for (unsigned i = 0; i < b2.nr_msgs; i++) {
		const struct vhost_user_msg *m = &b2.msgs[i].m;

		if (m->hdr.request != VHOST_USER_SET_VRING_BASE)
			continue;
		CHECK_EQ(m->p.state.num, m->p.state.index == 0 ? 7u : 3u);
		seen++;
	}
	CHECK_EQ(seen, 2);
	CHECK(fake_find(&b2, VHOST_USER_SET_MEM_TABLE, 0) >= 0);
	shutdown(b2.sock, SHUT_RDWR);
	fake_backend_join(&b2);
}

int main(void)
{
	struct vdev_vring r0 = { 64, 0x10000, 0x11000, 0x12000 };
	struct vdev_vring r1 = { 64, 0x20000, 0x21000, 0x22000 };
	struct guest_mem mem;
	char err[256] = "";
	int memfd = memfd_create("ram", MFD_CLOEXEC);
	uint8_t *host;
	struct vdev_link *link;

	CHECK(!ftruncate(memfd, RAM_SIZE));
	host = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	guest_mem_layout(&mem, host, RAM_SIZE);
	b.features = (1ull << 32) | (1ull << 30) | (1ull << 33) | (1ull << 34) | 1;
	b.protocol = (1ull << 0) | (1ull << 1) | (1ull << 3) | (1ull << 5) | (1ull << 9) |
		     (1ull << 13);
	b.queues = 2;
	memset(b.config, 0x11, sizeof(b.config));

	struct vhost_user_options opt = {
		.name = "fs0", .device_id = 26, .sock_fd = fake_backend_start(&b),
		.queue_size = 128, .mem = &mem, .mem_fd = memfd,
	};
	link = vhost_user_link_create(&opt, err, sizeof(err));
	CHECK(link);
	if (!link) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	vdev_link_subscribe(link, &events, NULL);
	CHECK_EQ(link->nr_queues, 2);
	CHECK_EQ(link->features, (1ull << 32) | 1);	/* 30, 33 (ACCESS_PLATFORM), 34 dropped */
	CHECK_EQ(link->config_size, 40);
	CHECK_EQ(link->config[0], 0x11);
	CHECK_EQ(link->config[39], 0x11);
	CHECK_EQ(link->max_queue_size, 128);
	CHECK_EQ(link->ops->pid(link), 0);

	CHECK_EQ(link->ops->features_ok(link, 1ull << 32), 0);
	CHECK_EQ(link->ops->set_vring(link, 0, &r0), 0);
	CHECK_EQ(link->ops->set_vring(link, 1, &r1), 0);
	CHECK_EQ(link->ops->set_vring(link, 2, &r1), -EINVAL);
	CHECK_EQ(link->ops->activate(link, 1ull << 32), 0);
	CHECK_EQ(link->ops->status(link), VDEV_LINK_RUNNING);
	CHECK_EQ(link->ops->reset(link), 0);	/* GET_VRING_BASE answered: all before is in */
	check_order();
	check_payloads(&mem, link);
	check_config_change(link);
	CHECK_EQ(link->ops->set_config(link, 0, "x", 1), 0);
	CHECK_EQ(link->ops->features_ok(link, 1ull << 32), 0);
	CHECK_EQ(link->ops->set_vring(link, 0, &r0), 0);
	CHECK_EQ(link->ops->set_vring(link, 1, &r1), 0);
	CHECK_EQ(link->ops->activate(link, 1ull << 32), 0);
	host[0x12002] = 7;	/* the used rings' idx, le16 */
	host[0x22002] = 3;
	check_hangup(link);
	check_resume(link);
	fake_backend_join(&b);
	link->ops->stop(link);
	munmap(host, RAM_SIZE);
	close(memfd);
	return check_report("test_link_vhost_user");
}
