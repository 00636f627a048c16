/*
 * Map requests from a hostile device process. The fake device runs in a
 * real device process (unjailed, so it can make pipes and sockets at
 * will) and, on a kick, writes straight into its control ring and fd
 * socket what an honest device never sends. The VMM must answer each
 * with an error (or kill the device for a malformed ring message), log
 * it, never block, and hold no fd it did not map. Its requests for a new
 * host connection (LINK_HOST_CONNECT) get the socket the VMM made, an
 * error when the VMM cannot make one, or ENOSYS with none granted; a
 * malformed one kills it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "log_capture.h"
#include "virtio/link_proto.h"
#include "vmm/link_child.h"
#include "vmm/virtio_pci.h"
#include "open_fds.h"

#define PAGE 4096u
#define REGION_ID 3
#define MMIO64 0x1000000000ull
#define MAX_REPORTS 16
#define WAIT_MS 10000		/* only so a broken test cannot hang */

enum scenario {
	BAD_FDS,		/* pipe, eventfd, socket, unsealed, small; bad region; overlap */
	NO_FD,			/* a request whose fd never came */
	STRAY_FD,		/* an fd without a request, then an honest map */
	TWO_FDS,		/* two fds in one datagram */
	CUT_CMSG,		/* more fds than the VMM's control buffer: MSG_CTRUNC */
	FD_FLOOD,		/* fds and no requests, until the socket is full */
	MALFORMED,		/* a map request of the wrong length */
	HOST_CONNECT,		/* three new host connections: ok, refused, ok */
	CONNECT_MALFORMED,	/* a host connection request with reserved bits */
};

static const struct vdev_shm_region regions[] = { { REGION_ID, 1u << 20 } };
static enum scenario scenario;
static struct link_child lc;	/* the device process has its copy: its ends */

/* --- the device process --- */

static void report(struct vdev *dev, int32_t rc)
{
	vdev_post_event(dev, &rc, sizeof(rc));
}

static int sealed_memfd(unsigned pages, bool seal)
{
	int fd = memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, pages * PAGE) ||
	    (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK)))
		abort();
	return fd;
}

/* A map request put on the ring as it is, its reply's status. */
static int32_t raw_map(uint32_t seq, uint8_t region, uint32_t len)
{
	struct link_shm_map p = {
		.seq = htole32(seq), .region = region, .prot = htole32(LINK_SHM_PROT_READ),
		.size = htole64(PAGE),
	};
	struct ctl_msg m, reply;
	int status;

	link_msg_init(&m, LINK_SHM_MAP, &p, len);
	if (ctl_ring_call(&lc.proc.ctl, &m, &reply, 1000))
		return -ETIMEDOUT;
	return link_dec_reply(&reply, reply.tag, &status, NULL, 0) ? -EPROTO : status;
}

static void send_fd_msg(uint32_t seq, const int *fds, unsigned n)
{
	struct link_shm_fd f = { .seq = htole32(seq) };

	ctl_ring_send_fds(lc.proc.shm_sock, &f, sizeof(f), fds, n);
}

/* SCM_RIGHTS with n fds, past what ctl_ring_send_fds allows. */
static void send_many_fds(uint32_t seq, int fd, unsigned n)
{
	struct link_shm_fd f = { .seq = htole32(seq) };
	char cbuf[CMSG_SPACE(sizeof(int) * 32)] = { 0 };
	struct iovec iov = { &f, sizeof(f) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	for (unsigned i = 0; i < n; i++)
		memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
	sendmsg(lc.proc.shm_sock, &msg, MSG_NOSIGNAL);
}

static void bad_fds(struct vdev *dev)
{
	int pipes[2], socks[2], ok = sealed_memfd(2, true);

	if (pipe(pipes) || socketpair(AF_UNIX, SOCK_STREAM, 0, socks))
		abort();
	report(dev, vdev_shm_map(dev, REGION_ID, 0, pipes[0], 0, PAGE, VDEV_SHM_PROT_READ));
	report(dev, vdev_shm_map(dev, REGION_ID, 0, eventfd(0, 0), 0, PAGE, VDEV_SHM_PROT_READ));
	report(dev, vdev_shm_map(dev, REGION_ID, 0, socks[0], 0, PAGE, VDEV_SHM_PROT_READ));
	report(dev, vdev_shm_map(dev, REGION_ID, 0, sealed_memfd(2, false), 0, PAGE,
				 VDEV_SHM_PROT_READ));
	report(dev, vdev_shm_map(dev, REGION_ID, 0, sealed_memfd(1, true), 0, 2 * PAGE,
				 VDEV_SHM_PROT_READ));
	send_fd_msg(900, &ok, 1);
	report(dev, raw_map(900, 9, sizeof(struct link_shm_map)));	/* no region 9 */
	report(dev, vdev_shm_map(dev, REGION_ID, 0, ok, 0, 2 * PAGE, VDEV_SHM_PROT_READ));
	report(dev, vdev_shm_map(dev, REGION_ID, PAGE, ok, 0, PAGE, VDEV_SHM_PROT_READ));
	report(dev, vdev_shm_unmap(dev, REGION_ID, 5 * PAGE));
}

static void hostile_notify(struct vdev *dev, unsigned q)
{
	int memfd = sealed_memfd(1, true), two[2] = { memfd, memfd };

	(void)q;
	switch (scenario) {
	case BAD_FDS:
		bad_fds(dev);
		break;
	case NO_FD:
		report(dev, raw_map(999, REGION_ID, sizeof(struct link_shm_map)));
		break;
	case STRAY_FD:
		send_fd_msg(500, &memfd, 1);
		report(dev, vdev_shm_map(dev, REGION_ID, 0, memfd, 0, PAGE, VDEV_SHM_PROT_READ));
		break;
	case TWO_FDS:
		send_fd_msg(7, two, 2);
		report(dev, raw_map(7, REGION_ID, sizeof(struct link_shm_map)));
		break;
	case CUT_CMSG:
		send_many_fds(8, memfd, 20);
		report(dev, raw_map(8, REGION_ID, sizeof(struct link_shm_map)));
		break;
	case FD_FLOOD:
		for (uint32_t i = 0; i < 1000 && !ctl_ring_send_fds(lc.proc.shm_sock,
			&(struct link_shm_fd){ .seq = i }, sizeof(struct link_shm_fd), &memfd, 1); i++)
			;
		report(dev, 0);
		break;
	case MALFORMED:
		report(dev, raw_map(1, REGION_ID, sizeof(struct link_shm_map) - 1));
		break;
	case HOST_CONNECT:
		for (int i = 0; i < 3; i++) {
			int s = vdev_host_connect(dev);

			report(dev, s < 0 ? s : write(s, "h", 1) == 1 ? 0 : -EIO);
			if (s >= 0)
				close(s);
		}
		break;
	case CONNECT_MALFORMED: {
		struct link_shm_fd f = { .seq = 1, .reserved = 7 };
		struct ctl_msg m, reply;

		link_msg_init(&m, LINK_HOST_CONNECT, &f, sizeof(f));
		report(dev, ctl_ring_call(&lc.proc.ctl, &m, &reply, 1000));
		break;
	}
	}
}

static const struct vdev_ops hostile_ops = {
	.name = "hostile", .device_id = 16, .nr_queues = 1, .queue_size = 8,
	.notify = hostile_notify, .shm_regions = regions, .nr_shm_regions = 1,
};

/* --- the VMM (this process) --- */

static struct kvm_userspace_memory_region fake_kvm[MEMSLOTS_MAX];
static int32_t got[MAX_REPORTS];
static unsigned nr_got;

static int fake_set(void *ctx, const struct kvm_userspace_memory_region *r)
{
	(void)ctx;
	fake_kvm[r->slot] = *r;
	return 0;
}

static void on_event(void *ctx, const void *buf, unsigned len)
{
	(void)ctx;
	if (len == sizeof(int32_t) && nr_got < MAX_REPORTS)
		memcpy(&got[nr_got++], buf, len);
}

/* The VMM's socket_connect: every other call refused; else one end of a
 * socket pair whose other end the test reads. */
static int connect_calls, peer = -1;

static int fake_connect(struct vdev *dev, char *err, size_t errlen)
{
	int sv[2];

	(void)dev;
	if (connect_calls++ % 2) {
		snprintf(err, errlen, "hostile0: cannot connect to the compositor: refused");
		return -ECONNREFUSED;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	if (peer >= 0)
		close(peer);
	peer = sv[1];
	return sv[0];
}

static int (*socket_connect)(struct vdev *dev, char *err, size_t errlen);

/* The main loop for this link, until n reports came or the link died. */
static void serve_until(unsigned n)
{
	struct vdev_link_watch w[VDEV_LINK_MAX_WATCHES];
	struct pollfd p[VDEV_LINK_MAX_WATCHES];

	while (nr_got < n && !lc.dead) {
		unsigned k = lc.link.ops->watches(&lc.link, w);

		for (unsigned i = 0; i < k; i++)
			p[i] = (struct pollfd){ w[i].fd, w[i].events, 0 };
		if (poll(p, k, WAIT_MS) <= 0) {
			CHECK(!"the device reported in time");
			return;
		}
		for (unsigned i = 0; i < k; i++)
			if (p[i].revents && w[i].fd >= 0)
				w[i].serve(&lc.link, p[i].revents);
	}
}

struct outcome {
	char *log;
	unsigned fds_before, fds_after;
};

/* One fresh device process plays s; the VMM serves it until n reports. */
static struct outcome play(enum scenario s, unsigned n)
{
	static struct virtio_pci vp;
	struct link_child_options opt = { .sandbox = false, .socket_connect = socket_connect };
	struct msi_routes routes = { 0 };
	struct outcome o = { 0 };
	struct log_capture cap;
	struct pci_bus bus;
	struct memslots ms;
	struct vdev dev;
	char err[256];

	scenario = s;
	nr_got = 0;
	memset(&lc, 0, sizeof(lc));
	vdev_init(&dev, &hostile_ops, NULL, "hostile0", NULL);
	if (link_child_start(&lc, &dev, &opt, err, sizeof(err))) {
		CHECK_STR(err, "");
		return o;
	}
	pci_init(&bus, MMIO64, 16ull << 30);
	CHECK_EQ(virtio_pci_init(&vp, &lc.link, NULL, &routes), 0);
	CHECK_EQ(virtio_pci_plug(&vp, &bus, 2), 0);
	CHECK_EQ(memslots_init(&ms, 2, 16, fake_set, NULL), 0);
	virtio_pci_set_memslots(&vp, &ms);
	vdev_link_on_device_event(&lc.link, on_event, NULL);
	CHECK_EQ(lc.link.ops->activate(&lc.link, 0), 0);	/* kicks reach notify */
	log_capture_begin(&cap);
	o.fds_before = open_fds();
	CHECK_EQ(write(lc.link.kick_fd[0], &(uint64_t){ 1 }, 8), 8);
	serve_until(n);
	for (unsigned i = 0; i < 64 && link_child_shm_sock_fd(&lc) >= 0; i++)
		link_child_shm_serve(&lc);	/* what is left of a flood */
	virtio_pci_shm_unmap(&vp, REGION_ID, 0);	/* what a scenario mapped holds no fd */
	o.fds_after = open_fds();
	o.log = log_capture_end(&cap);
	virtio_pci_destroy(&vp);
	link_child_stop(&lc);
	memslots_destroy(&ms);
	return o;
}

static void expect(struct outcome o, const char *line)
{
	CHECK(o.log && strstr(o.log, line));
	if (o.log && !strstr(o.log, line))
		fprintf(stderr, "want \"%s\" in:\n%s\n", line, o.log);
}

static void test_bad_fds(void)
{
	static const int32_t want[] = {
		-EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -ENODEV, 0, -EINVAL, -EINVAL,
	};
	struct outcome o = play(BAD_FDS, 9);

	CHECK_EQ(nr_got, 9);
	for (unsigned i = 0; i < nr_got && i < 9; i++)
		CHECK_EQ(got[i], want[i]);
	expect(o, "not a memfd sealed against shrinking");
	expect(o, "refused: Invalid argument");
	expect(o, "refused: No such device");
	CHECK(!lc.dead);
	CHECK_EQ(o.fds_after, o.fds_before);
	free(o.log);
}

static void test_no_fd(void)
{
	struct outcome o = play(NO_FD, 1);

	CHECK_EQ(nr_got, 1);
	CHECK_EQ(got[0], -EBADF);
	expect(o, "hostile0: map request 999 came without its fd");
	CHECK(!lc.dead);
	free(o.log);
}

static void test_stray_fd(void)
{
	struct outcome o = play(STRAY_FD, 1);

	CHECK_EQ(nr_got, 1);
	CHECK_EQ(got[0], 0);	/* the honest request still finds its own fd */
	expect(o, "hostile0: fd 500 came without its map request; closed");
	CHECK_EQ(o.fds_after, o.fds_before);
	free(o.log);
}

static void test_two_fds(void)
{
	struct outcome o = play(TWO_FDS, 1);

	CHECK_EQ(nr_got, 1);
	CHECK_EQ(got[0], -EBADF);
	expect(o, "fd message refused: more than one fd, or cut short");
	CHECK_EQ(o.fds_after, o.fds_before);
	free(o.log);
}

static void test_cut_cmsg(void)
{
	struct outcome o = play(CUT_CMSG, 1);

	CHECK_EQ(nr_got, 1);
	CHECK_EQ(got[0], -EBADF);
	expect(o, "fd message refused: more than one fd, or cut short");
	CHECK_EQ(o.fds_after, o.fds_before);
	free(o.log);
}

static void test_fd_flood(void)
{
	struct outcome o = play(FD_FLOOD, 1);

	CHECK_EQ(nr_got, 1);
	expect(o, "came without its map request; closed");
	CHECK(o.fds_after <= o.fds_before + 1);	/* one held for a request, at most */
	CHECK(!lc.dead);
	free(o.log);
}

static void test_malformed(void)
{
	struct outcome o = play(MALFORMED, 1);

	CHECK(lc.dead);
	expect(o, "hostile0: malformed message type 0x104; killing its device process");
	free(o.log);
}

static void test_host_connect(void)
{
	struct outcome o;
	char byte = 0;

	o = play(HOST_CONNECT, 3);	/* none granted */
	CHECK_EQ(nr_got, 3);
	for (unsigned i = 0; i < nr_got; i++)
		CHECK_EQ(got[i], -ENOSYS);
	free(o.log);
	socket_connect = fake_connect;
	o = play(HOST_CONNECT, 3);
	CHECK_EQ(nr_got, 3);
	CHECK_EQ(got[0], 0);
	CHECK_EQ(got[1], -ECONNREFUSED);
	CHECK_EQ(got[2], 0);
	CHECK(peer >= 0 && read(peer, &byte, 1) == 1 && byte == 'h');
	expect(o, "hostile0: cannot connect to the compositor: refused");
	CHECK(!lc.dead);
	CHECK(o.fds_after <= o.fds_before + 1);	/* the peer of the last pair */
	free(o.log);
	o = play(CONNECT_MALFORMED, 1);
	CHECK(lc.dead);
	expect(o, "hostile0: malformed message type 0x106; killing its device process");
	free(o.log);
	socket_connect = NULL;
	close(peer);
}

int main(void)
{
	test_bad_fds();
	test_no_fd();
	test_stray_fd();
	test_two_fds();
	test_cut_cmsg();
	test_fd_flood();
	test_malformed();
	test_host_connect();
	return check_report("test_shm_link_hostile");
}
