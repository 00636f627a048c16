/*
 * A device process the VMM must survive. A real device process (a fake
 * device, unjailed, stopped with SIGSTOP once set up) stands in for the
 * one to be killed; the test plays its compromised side, writing the
 * control ring's CQ from here and never reading its kicks. The VMM's main
 * loop is modelled by pump(), bounded by a count of rounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "boot/guest_mem.h"
#include "check.h"
#include "log_capture.h"
#include "virtio/link_proto.h"
#include "vmm/link_child.h"
#include "vmm/log.h"
#include "vmm/virtio_pci.h"

#define RAM (2 * MIB)
#define CONFIG_SIZE 8
#define BAR_DEVICE 0x2000
#define BAR_NOTIFY 0x3000
#define ROUNDS 10		/* main-loop rounds a test may take */
#define HANG_GUARD_S 60		/* a blocked VMM path fails the test */

static void fake_config(struct vdev *dev, uint8_t *buf)
{
	(void)dev;
	for (unsigned i = 0; i < CONFIG_SIZE; i++)
		buf[i] = (uint8_t)(i + 1);
}

static void fake_notify(struct vdev *dev, unsigned q)
{
	(void)dev;
	(void)q;
}

static const struct vdev_ops fake_ops = {
	.name = "fake", .device_id = 4, .nr_queues = 1, .queue_size = 8,
	.config_size = CONFIG_SIZE, .config = fake_config, .notify = fake_notify,
};

static struct kvm kvm = { .vm_fd = -1, .sys_fd = -1 };
static struct msi_routes routes;
static struct guest_mem mem;
static const char *phase = "setup";

/* Each phase gets the hang guard afresh. */
static void begin(const char *name)
{
	phase = name;
	alarm(HANG_GUARD_S);
}

struct rig {
	struct vdev dev;
	struct link_child lc;
	struct virtio_pci vp;
};

static void on_alarm(int sig)
{
	static const char msg[] = "test_link_child: a VMM path blocked; phase: ";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)!write(STDERR_FILENO, phase, strlen(phase));
	(void)!write(STDERR_FILENO, "\n", 1);
	_exit(1);
}

static void rd(struct rig *r, unsigned off, void *buf, unsigned len)
{
	memset(buf, 0, len);
	virtio_pci_bar_access(&r->vp, off, buf, len, false);
}

static void wr(struct rig *r, unsigned off, uint32_t v, unsigned len)
{
	virtio_pci_bar_access(&r->vp, off, (uint8_t *)&v, len, true);
}

static uint8_t status(struct rig *r)
{
	uint8_t s;

	rd(r, VIRTIO_PCI_COMMON_STATUS, &s, 1);
	return s;
}

/* The device process answers the transport's reset, then stops for good. */
static bool start(struct rig *r)
{
	struct link_child_options opt = { .sandbox = false };
	char err[256];
	siginfo_t info;

	memset(r, 0, sizeof(*r));
	vdev_init(&r->dev, &fake_ops, NULL, "fake0", &mem);
	if (link_child_start(&r->lc, &r->dev, &opt, err, sizeof(err))) {
		fprintf(stderr, "link_child_start: %s\n", err);
		CHECK(0);
		return false;
	}
	CHECK_EQ(virtio_pci_init(&r->vp, &r->lc.link, NULL, &routes), 0);
	CHECK_EQ(kill(r->lc.child.pid, SIGSTOP), 0);
	CHECK_EQ(waitid(P_PIDFD, r->lc.child.pidfd, &info, WSTOPPED), 0);
	CHECK(!r->lc.dead);
	return true;
}

static void stop(struct rig *r)
{
	virtio_pci_destroy(&r->vp);
	link_child_stop(&r->lc);
	vdev_destroy(&r->dev);
}

/* The hostile device's side of the CQ. */
static struct ctl_ring_dir *cq(struct rig *r)
{
	return &r->lc.ctl.shm->dir[CTL_CQ];
}

static void cq_put(struct rig *r, const struct ctl_msg *m)
{
	uint32_t tail = __atomic_load_n(&cq(r)->tail, __ATOMIC_RELAXED);

	cq(r)->slots[tail % CTL_RING_SLOTS] = *m;
	__atomic_store_n(&cq(r)->tail, tail + 1, __ATOMIC_RELEASE);
}

static unsigned cq_room(struct rig *r)
{
	return CTL_RING_SLOTS - (cq(r)->tail - __atomic_load_n(&cq(r)->head, __ATOMIC_ACQUIRE));
}

static void ring_doorbell(struct rig *r)
{
	CHECK_EQ(write(r->lc.ctl.rx_bell, &(uint64_t){ 1 }, 8), 8);
}

static void config_msg(struct ctl_msg *m, uint32_t off, const void *bytes, uint32_t len)
{
	struct link_config c = { .offset = htole32(off), .len = htole32(len) };

	memcpy(c.data, bytes, len);
	link_msg_init(m, LINK_CONFIG_CHANGED, &c, (uint32_t)(LINK_CONFIG_HDR + len));
}

static bool readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* vm.c's loop for one device: the rounds in which its ring's fd fired. */
static unsigned pump(struct rig *r, unsigned rounds)
{
	unsigned busy = 0;

	while (busy < rounds && readable(link_child_ctl_fd(&r->lc))) {
		busy++;
		link_child_serve(&r->lc);
	}
	return busy;
}

/* Declared dead: NEEDS_RESET, not polled, and the process got SIGKILL. */
static void expect_killed(struct rig *r)
{
	struct pollfd p = { r->lc.child.pidfd, POLLIN, 0 };
	siginfo_t info = { 0 };

	CHECK(status(r) & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK_EQ(link_child_ctl_fd(&r->lc), -1);
	CHECK(r->lc.dead);
	if (!r->lc.dead)
		return;
	CHECK_EQ(poll(&p, 1, -1), 1);		/* the SIGKILL lands; the alarm guards */
	CHECK_EQ(waitid(P_PIDFD, r->lc.child.pidfd, &info, WEXITED | WNOHANG), 0);
	CHECK_EQ(info.si_code, CLD_KILLED);
	CHECK_EQ(info.si_status, SIGKILL);
}

/* (d) A config change lands at its offset; the rest stays. */
static void test_config_offset(struct rig *r)
{
	static const uint8_t want[CONFIG_SIZE] = { 1, 2, 3, 4, 0xaa, 0xbb, 7, 8 };
	uint8_t got[CONFIG_SIZE], gen = r->vp.config_generation;
	struct ctl_msg m;

	begin("config at an offset");
	config_msg(&m, 4, (const uint8_t[]){ 0xaa, 0xbb }, 2);
	cq_put(r, &m);
	ring_doorbell(r);
	CHECK_EQ(pump(r, ROUNDS), 1);
	CHECK(!r->lc.dead);
	CHECK_EQ((uint8_t)(r->vp.config_generation - gen), 1);
	rd(r, BAR_DEVICE, got, 4);
	rd(r, BAR_DEVICE + 4, got + 4, 4);
	CHECK(!memcmp(got, want, sizeof(want)));
}

/* (b) A flood, refilled before every round: each round takes the budget. */
static void test_flood(struct rig *r)
{
	struct ctl_msg m;

	begin("flood");
	config_msg(&m, 0, (const uint8_t[]){ 1 }, 1);
	for (unsigned round = 0; round < ROUNDS; round++) {
		uint8_t gen = r->vp.config_generation;

		while (cq_room(r))
			cq_put(r, &m);
		ring_doorbell(r);
		CHECK(readable(link_child_ctl_fd(&r->lc)));
		link_child_serve(&r->lc);
		CHECK_EQ((uint8_t)(r->vp.config_generation - gen), LINK_CHILD_SERVE_BUDGET);
		CHECK(readable(link_child_ctl_fd(&r->lc)));	/* served again next round */
	}
	CHECK(!r->lc.dead);
	CHECK_EQ(pump(r, CTL_RING_SLOTS), CTL_RING_SLOTS / LINK_CHILD_SERVE_BUDGET);
	CHECK(!readable(link_child_ctl_fd(&r->lc)));
}

/* (d) Past the end of the config: refused, nothing written, peer dead. */
static void test_config_out_of_range(struct rig *r)
{
	uint8_t before[CONFIG_SIZE], after[CONFIG_SIZE];
	struct ctl_msg m;

	begin("config out of range");
	memcpy(before, r->lc.link.config, CONFIG_SIZE);
	config_msg(&m, 6, (const uint8_t[]){ 9, 9, 9, 9 }, 4);
	cq_put(r, &m);
	ring_doorbell(r);
	CHECK_EQ(pump(r, ROUNDS), 1);
	memcpy(after, r->lc.link.config, CONFIG_SIZE);
	CHECK(!memcmp(before, after, CONFIG_SIZE));
	expect_killed(r);
}

/* (a) A bad CQ index and one doorbell: served once, then never again. */
static void test_bad_index(struct rig *r)
{
	begin("bad index");
	__atomic_store_n(&cq(r)->tail, cq(r)->tail + CTL_RING_SLOTS + 1, __ATOMIC_RELEASE);
	ring_doorbell(r);
	CHECK_EQ(pump(r, ROUNDS), 1);
	expect_killed(r);
}

/* A request the stopped device never answers: the deadline kills it. */
static void test_call_timeout(struct rig *r)
{
	begin("call timeout");
	wr(r, BAR_DEVICE, 0x42, 1);		/* a config write: LINK_SET_CONFIG */
	expect_killed(r);
	wr(r, BAR_DEVICE, 0x43, 1);		/* refused at once now */
	CHECK_EQ(r->lc.link.config[0], 1);
}

static void pci_cfg_notify(struct pci_bus *bus, unsigned at)
{
	uint32_t v = 0;

	pci_ecam_access(bus, 1 << 15 | (at + 4), (uint8_t *)&v, 1, true);	/* bar 0 */
	v = BAR_NOTIFY;
	pci_ecam_access(bus, 1 << 15 | (at + 8), (uint8_t *)&v, 4, true);	/* offset */
	v = 2;
	pci_ecam_access(bus, 1 << 15 | (at + 12), (uint8_t *)&v, 4, true);	/* length */
	v = 0;
	pci_ecam_access(bus, 1 << 15 | (at + 16), (uint8_t *)&v, 4, true);	/* queue 0 */
}

static unsigned pci_cfg_cap(const struct virtio_pci *vp)
{
	const uint8_t *cfg = vp->pci.config;

	for (unsigned c = cfg[0x34]; c; c = cfg[c + 1])
		if (cfg[c] == 0x09 && cfg[c + 3] == VIRTIO_PCI_CAP_PCI_CFG)
			return c;
	return 0;
}

static struct pci_bus bus;

/* A vCPU's notifies that the ioeventfds do not catch. */
static void *vcpu_notifies(void *arg)
{
	struct rig *r = arg;

	wr(r, BAR_NOTIFY, 0, 4);		/* a width KVM does not match */
	pci_cfg_notify(&bus, pci_cfg_cap(&r->vp));
	return NULL;
}

/* (c) A device that never reads its saturated kick counter. */
static void test_saturated_kick(struct rig *r)
{
	uint64_t nearly_full = 0xfffffffffffffffeull;
	struct pollfd p = { r->lc.link.kick_fd[0], POLLOUT, 0 };
	pthread_t vcpu;

	begin("saturated kick");
	pci_init(&bus, 0x100000000ull, 1ull << 30);
	CHECK_EQ(virtio_pci_plug(&r->vp, &bus, 1), 0);
	CHECK_EQ(write(r->lc.link.kick_fd[0], &nearly_full, 8), 8);
	CHECK_EQ(poll(&p, 1, 0), 0);		/* one more would block */
	CHECK_EQ(pthread_create(&vcpu, NULL, vcpu_notifies, r), 0);
	CHECK_EQ(pthread_join(vcpu, NULL), 0);	/* the alarm fails a blocked vCPU */
	CHECK(readable(r->lc.link.kick_fd[0]));	/* the kick is still pending */
	CHECK(!r->lc.dead);
}

/* The device's io_uring read of a non-blocking kick eventfd still waits. */
static void test_uring_waits_for_kick(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	uint64_t counter = 0;

	begin("io_uring kick read");
	CHECK_EQ(io_uring_queue_init(4, &ring, 0), 0);
	io_uring_prep_read(io_uring_get_sqe(&ring), fd, &counter, 8, 0);
	CHECK_EQ(io_uring_submit(&ring), 1);
	CHECK_EQ(io_uring_peek_cqe(&ring, &cqe), -EAGAIN);	/* no -EAGAIN read */
	CHECK_EQ(write(fd, &(uint64_t){ 3 }, 8), 8);
	CHECK_EQ(io_uring_wait_cqe(&ring, &cqe), 0);
	CHECK_EQ(cqe->res, 8);
	CHECK_EQ(counter, 3);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	close(fd);
}

/*
 * A compromised device writes its stderr as fast as it can: the VMM's own
 * stderr gets a bounded number of its lines and how many were dropped,
 * and each serve takes at most its byte budget.
 */
static void test_stderr_flood(struct rig *r)
{
	char path[64], line[64], *out;
	struct log_capture cap;
	unsigned lines = 0, reads = 0;
	time_t t0 = time(NULL);
	int fd;

	begin("stderr flood");
	snprintf(path, sizeof(path), "/proc/%d/fd/2", (int)r->lc.child.pid);
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);	/* the child's end of the pipe */
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	log_capture_begin(&cap);
	for (unsigned i = 0; i < 20000; i++) {
		int len = snprintf(line, sizeof(line), "fake0: flood line %u\n", i);

		while (write(fd, line, (size_t)len) < 0 && errno == EAGAIN && reads < 100000) {
			link_child_serve_log(&r->lc);	/* the main loop's turn */
			reads++;
		}
	}
	while (readable(r->lc.log_fd) && reads++ < 100000)
		link_child_serve_log(&r->lc);
	/* The next line after the interval carries the count of those dropped. */
	sleep((LOG_RATELIMIT_INTERVAL_MS + 999) / 1000 + 1);
	CHECK(write(fd, "fake0: after the flood\n", 23) == 23);
	link_child_serve_log(&r->lc);
	close(fd);
	out = log_capture_end(&cap);
	for (char *p = out; (p = strstr(p, "fake0: flood line")); p++)
		lines++;
	/* The burst, then one a second while it lasted. */
	CHECK(lines >= 1 && lines <= LOG_RATELIMIT_BURST + 2 + (unsigned)(time(NULL) - t0));
	CHECK(strstr(out, "fake0: after the flood (suppressed ") != NULL);
	CHECK(reads > 20000u * 20 / LINK_CHILD_LOG_BUDGET);	/* the budget split the flood */
	free(out);
}

int main(void)
{
	static struct rig r;
	uint8_t *ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	log_set_level(LOG_ERROR);
	signal(SIGALRM, on_alarm);
	begin("setup");
	guest_mem_layout(&mem, ram, RAM);
	msi_routes_init(&routes, &kvm);
	test_uring_waits_for_kick();
	if (start(&r)) {
		test_config_offset(&r);
		test_flood(&r);
		test_config_out_of_range(&r);
		stop(&r);
	}
	if (start(&r)) {
		test_stderr_flood(&r);
		stop(&r);
	}
	if (start(&r)) {
		test_bad_index(&r);
		stop(&r);
	}
	if (start(&r)) {
		test_call_timeout(&r);
		stop(&r);
	}
	if (start(&r)) {	/* last: it starts a thread */
		test_saturated_kick(&r);
		stop(&r);
	}
	alarm(0);
	munmap(ram, RAM);
	return check_report("test_link_child");
}
