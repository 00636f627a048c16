/*
 * A device's map requests, end to end: a fake device in the real jail
 * (real loop, its real policy) makes a memfd in its init step, writes
 * data into it and, on a queue kick, asks the VMM to map it in its
 * shared-memory region. The VMM (link_child over the ring and the fd
 * socket, the virtio-pci transport, memslots recorded by a fake KVM)
 * maps it: the data reads back at BAR base + offset. Then the device
 * unmaps it and the guest address reads nothing. A map the VMM serves
 * only after the device timed out is undone by the unmap the device
 * queued behind it. A map asked from inside
 * a request of the VMM's (activate) is refused with -EDEADLK, not hung.
 * Needs root or unprivileged user namespaces; prints SKIP otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "vmm/link_child.h"
#include "vmm/virtio_pci.h"

#define PAGE 4096u
#define REGION_ID 3
#define MMIO64 0x1000000000ull
#define SLOT 2
#define DATA "mapped by the device"
#define WAIT_MS 10000		/* only so a broken test cannot hang */

static const struct vdev_shm_region regions[] = { { REGION_ID, 1u << 20 } };

/* In the device process. */
static int memfd = -1;
static unsigned kicks;

/* What the device reports: which step, and the status it got. */
struct report {
	int32_t step, rc;
};

static int make_memfd(struct vdev *dev)
{
	(void)dev;
	memfd = memfd_create("shm-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 || ftruncate(memfd, 2 * PAGE) ||
	    pwrite(memfd, DATA, sizeof(DATA), PAGE) != sizeof(DATA) ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK))
		return -1;
	return 0;
}

static void report(struct vdev *dev, int32_t step, int32_t rc)
{
	struct report r = { step, rc };

	vdev_post_event(dev, &r, sizeof(r));
}

/* Inside the VMM's activate request: the map must not wait for the VMM. */
static int map_in_activate(struct vdev *dev)
{
	report(dev, 0, vdev_shm_map(dev, REGION_ID, 0, memfd, 0, PAGE, VDEV_SHM_PROT_READ));
	return 0;
}

/* Kick 1 maps the memfd's second page at 2 pages into the region; kick 2
 * unmaps it; kick 3 maps it at 4 pages, which the VMM answers too late. */
static void probe_notify(struct vdev *dev, unsigned q)
{
	(void)q;
	if (++kicks == 1)
		report(dev, 1, vdev_shm_map(dev, REGION_ID, 2 * PAGE, memfd, PAGE, PAGE,
					    VDEV_SHM_PROT_READ));
	else if (kicks == 2)
		report(dev, 2, vdev_shm_unmap(dev, REGION_ID, 2 * PAGE));
	else
		report(dev, 3, vdev_shm_map(dev, REGION_ID, 4 * PAGE, memfd, PAGE, PAGE,
					    VDEV_SHM_PROT_READ));
}

static const struct vdev_ops probe_ops = {
	.name = "probe", .device_id = 16, .nr_queues = 1, .queue_size = 8,
	.notify = probe_notify, .init_jailed = make_memfd, .activate = map_in_activate,
	.shm_regions = regions, .nr_shm_regions = 1,
};

static const struct sandbox_syscall probe_rules[] = {
	DEVICE_PROCESS_RULES,
	DEVICE_PROCESS_SHM_RULES,
};
static const struct sandbox_policy probe_policy = {
	.name = "probe", .rules = probe_rules,
	.nr_rules = sizeof(probe_rules) / sizeof(probe_rules[0]),
};
static const struct sandbox_policy no_shm_policy = {
	.name = "probe", .rules = probe_rules, .nr_rules = 1,
};

/* In the VMM (this process). */
static struct kvm_userspace_memory_region fake_kvm[MEMSLOTS_MAX];
static struct report got[4];
static unsigned nr_got;

static int fake_set(void *ctx, const struct kvm_userspace_memory_region *r)
{
	(void)ctx;
	fake_kvm[r->slot] = *r;
	return 0;
}

/* What the guest reads at gpa through the slots, or NULL. */
static const char *guest_ptr(uint64_t gpa)
{
	for (unsigned s = 0; s < MEMSLOTS_MAX; s++) {
		const struct kvm_userspace_memory_region *r = &fake_kvm[s];

		if (r->memory_size && gpa >= r->guest_phys_addr &&
		    gpa < r->guest_phys_addr + r->memory_size)
			return (const char *)(uintptr_t)(r->userspace_addr + gpa - r->guest_phys_addr);
	}
	return NULL;
}

static void on_event(void *ctx, const void *buf, unsigned len)
{
	(void)ctx;
	if (len == sizeof(struct report) && nr_got < 4)
		memcpy(&got[nr_got++], buf, len);
}

/* The VMM's main loop for this one link, until the device reported n times. */
static void serve_until(struct vdev_link *link, unsigned n)
{
	struct vdev_link_watch w[VDEV_LINK_MAX_WATCHES];
	struct pollfd p[VDEV_LINK_MAX_WATCHES];

	while (nr_got < n) {
		unsigned k = link->ops->watches(link, w);

		for (unsigned i = 0; i < k; i++)
			p[i] = (struct pollfd){ w[i].fd, w[i].events, 0 };
		if (poll(p, k, WAIT_MS) <= 0) {
			CHECK(!"the device reported in time");
			return;
		}
		for (unsigned i = 0; i < k; i++)
			if (p[i].revents && w[i].fd >= 0)
				w[i].serve(link, p[i].revents);
	}
}

/* Reads the device's stderr (not serving its ring) until needle shows. */
static bool device_logged(struct link_child *lc, const char *needle)
{
	static char text[8192];
	size_t have = 0;
	ssize_t n;

	while (have < sizeof(text) - 1) {
		struct pollfd p = { lc->log_fd, POLLIN, 0 };

		if (poll(&p, 1, WAIT_MS) <= 0)
			return false;
		n = read(lc->log_fd, text + have, sizeof(text) - 1 - have);
		if (n <= 0)
			return false;
		have += (size_t)n;
		text[have] = '\0';
		if (strstr(text, needle))
			return true;
	}
	return false;
}

static unsigned open_fds(void)
{
	unsigned n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static bool start(struct link_child *lc, struct vdev *dev, const struct sandbox_policy *policy,
		  char *err, size_t errlen)
{
	struct link_child_options opt = { .sandbox = true, .policy = policy };

	memset(lc, 0, sizeof(*lc));
	vdev_init(dev, &probe_ops, NULL, "probe0", NULL);
	return !link_child_start(lc, dev, &opt, err, errlen);
}

static void test_map_read_unmap(void)
{
	static struct virtio_pci vp;
	struct msi_routes routes = { 0 };
	struct pci_bus bus;
	struct link_child lc;
	struct memslots ms;
	struct vdev dev;
	char err[256] = "";
	unsigned fds;
	uint64_t base;
	const char *at;

	if (!start(&lc, &dev, &probe_policy, err, sizeof(err))) {
		CHECK_STR(err, "");
		return;
	}
	pci_init(&bus, MMIO64, 16ull << 30);
	CHECK_EQ(virtio_pci_init(&vp, &lc.link, NULL, &routes), 0);
	CHECK_EQ(virtio_pci_plug(&vp, &bus, SLOT), 0);
	CHECK_EQ(memslots_init(&ms, 2, 16, fake_set, NULL), 0);
	virtio_pci_set_memslots(&vp, &ms);
	vdev_link_on_device_event(&lc.link, on_event, NULL);
	base = pci_bar_address(&vp.pci, VIRTIO_PCI_SHM_BAR(0));
	CHECK(base >= MMIO64);
	fds = open_fds();

	CHECK_EQ(lc.link.ops->activate(&lc.link, 0), 0);
	serve_until(&lc.link, 1);
	CHECK_EQ(got[0].step, 0);
	CHECK_EQ(got[0].rc, -EDEADLK);

	CHECK_EQ(write(lc.link.kick_fd[0], &(uint64_t){ 1 }, 8), 8);
	serve_until(&lc.link, 2);
	CHECK_EQ(got[1].step, 1);
	CHECK_EQ(got[1].rc, 0);
	at = guest_ptr(base + 2 * PAGE);
	CHECK(at != NULL);
	if (at)
		CHECK_STR(at, DATA);
	CHECK_EQ(open_fds(), fds);	/* the fd it passed is closed once mapped */

	CHECK_EQ(write(lc.link.kick_fd[0], &(uint64_t){ 1 }, 8), 8);
	serve_until(&lc.link, 3);
	CHECK_EQ(got[2].step, 2);
	CHECK_EQ(got[2].rc, 0);
	CHECK(guest_ptr(base + 2 * PAGE) == NULL);
	CHECK(!lc.dead);

	/* A map the VMM serves only after the device gave up on it (as after
	 * a long stall): the late mapping must not stay in the guest. */
	CHECK_EQ(write(lc.link.kick_fd[0], &(uint64_t){ 1 }, 8), 8);
	CHECK(device_logged(&lc, "no answer in time"));
	serve_until(&lc.link, 4);
	CHECK_EQ(got[3].step, 3);
	CHECK_EQ(got[3].rc, -ETIMEDOUT);
	CHECK(guest_ptr(base + 4 * PAGE) == NULL);
	CHECK(!lc.dead);

	virtio_pci_destroy(&vp);
	link_child_stop(&lc);
	memslots_destroy(&ms);
}

/* A device with regions but without the sendmsg rule does not start. */
static void test_policy_without_shm_rules(void)
{
	struct link_child lc;
	struct vdev dev;
	char err[256] = "";

	CHECK(!start(&lc, &dev, &no_shm_policy, err, sizeof(err)));
	CHECK_STR(err, "probe0: has shared-memory regions, but its policy lacks "
		  "DEVICE_PROCESS_SHM_RULES");
}

static int exit_0(void *arg)
{
	(void)arg;
	return 0;
}

/* Whether this machine can make a jail at all. */
static bool jail_works(void)
{
	struct sandbox_config sc = { .name = "probe", .enable = true, .nofile = 64 };
	struct sandbox_child child;
	char err[256];
	siginfo_t info;

	if (sandbox_spawn(&sc, NULL, exit_0, NULL, &child, err, sizeof(err))) {
		printf("SKIP: jailed tests: %s\n", err);
		return false;
	}
	sandbox_wait(&child, 0, &info);
	sandbox_release(&child);
	return true;
}

int main(void)
{
	if (!jail_works())
		return check_report("test_shm_link");
	test_map_read_unmap();
	test_policy_without_shm_rules();
	return check_report("test_shm_link");
}
