/*
 * A device process with a shared-memory region dies (SIGKILL, as a crash
 * or a kill from outside): the VMM's main loop (vm_device.c) sees it once,
 * the transport shows NEEDS_RESET, the control socket's state is "dead",
 * and what the device had mapped is gone at once, memslot freed, without
 * waiting for the guest's reset. A fake device in the real jail maps a
 * memfd on a queue kick, as the GPU does for MAP_BLOB.
 * Needs root or unprivileged user namespaces; prints SKIP otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "check.h"
#include "vmm/link_child.h"
#include "vmm/vm.h"

#define PAGE 4096u
#define REGION_ID 1
#define MMIO64 0x1000000000ull
#define SLOT 2
#define WAIT_MS 10000

static const struct vdev_shm_region regions[] = { { REGION_ID, 1u << 20 } };

/* In the device process. */
static int memfd = -1;

static int make_memfd(struct vdev *dev)
{
	(void)dev;
	memfd = memfd_create("blob", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 || ftruncate(memfd, PAGE) || pwrite(memfd, "blob", 5, 0) != 5 ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK))
		return -1;
	return 0;
}

static void map_on_kick(struct vdev *dev, unsigned q)
{
	int32_t rc = vdev_shm_map(dev, REGION_ID, PAGE, memfd, 0, PAGE, VDEV_SHM_PROT_READ);

	(void)q;
	vdev_post_event(dev, &rc, sizeof(rc));
}

static const struct vdev_ops probe_ops = {
	.name = "probe", .device_id = 16, .nr_queues = 1, .queue_size = 8,
	.notify = map_on_kick, .init_jailed = make_memfd,
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

/* In the VMM (this process). */
static struct kvm_userspace_memory_region fake_kvm[MEMSLOTS_MAX];
static int mapped_rc = 1;

static int fake_set(void *ctx, const struct kvm_userspace_memory_region *r)
{
	(void)ctx;
	fake_kvm[r->slot] = *r;
	return 0;
}

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
	if (len == sizeof(mapped_rc))
		memcpy(&mapped_rc, buf, len);
}

static struct vm_device *devices[2];
static struct vm vm = { .devices = devices };

/* Turns the main loop until done() or the deadline. */
static bool turn_until(bool (*done)(struct vm_device *), struct vm_device *d)
{
	for (int i = 0; i < WAIT_MS / 10 && !done(d); i++)
		main_loop_turn(&vm, 10);
	return done(d);
}

static bool mapped(struct vm_device *d)
{
	(void)d;
	return mapped_rc != 1;
}

static bool death_seen(struct vm_device *d)
{
	return d->dead_seen;
}

static void test_death_unmaps(void)
{
	static struct vm_device d;
	struct link_child_options opt = { .sandbox = true, .policy = &probe_policy };
	struct msi_routes routes = { 0 };
	struct pci_bus bus;
	char err[256] = "";
	uint64_t base;
	int slot;

	vdev_init(&d.dev, &probe_ops, NULL, "probe0", NULL);
	snprintf(d.name, sizeof(d.name), "probe0");
	d.link = link_child_create(&d.dev, &opt, err, sizeof(err));
	CHECK_STR(err, "");
	if (!d.link)
		return;
	pci_init(&bus, MMIO64, 16ull << 30);
	CHECK_EQ(virtio_pci_init(&d.transport, d.link, NULL, &routes), 0);
	CHECK_EQ(virtio_pci_plug(&d.transport, &bus, SLOT), 0);
	CHECK_EQ(memslots_init(&vm.memslots, 2, 4, fake_set, NULL), 0);
	virtio_pci_set_memslots(&d.transport, &vm.memslots);
	d.plugged = true;
	vdev_link_on_device_event(d.link, on_event, NULL);
	CHECK_EQ(vm_device_watch(&vm, &d), 0);
	devices[0] = &d;
	vm.nr_devices = 1;
	base = pci_bar_address(&d.transport.pci, VIRTIO_PCI_SHM_BAR(0));

	CHECK_EQ(d.link->ops->activate(d.link, 0), 0);
	CHECK_EQ(write(d.link->kick_fd[0], &(uint64_t){ 1 }, 8), 8);
	CHECK(turn_until(mapped, &d));
	CHECK_EQ(mapped_rc, 0);
	CHECK(guest_ptr(base + PAGE) && !strcmp(guest_ptr(base + PAGE), "blob"));
	CHECK_STR(vm_device_state(&d), "running");

	syscall(SYS_pidfd_send_signal, ((struct link_child *)d.link->priv)->child.pidfd, SIGKILL,
		NULL, 0);
	CHECK(turn_until(death_seen, &d));
	CHECK_STR(vm_device_state(&d), "dead");
	CHECK(virtio_pci_status(&d.transport) & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK(guest_ptr(base + PAGE) == NULL);
	/* Its slot is free again: all of them can be taken. */
	for (unsigned i = 2; i < 4; i++) {
		slot = memslots_install(&vm.memslots, base + i * PAGE, PAGE, (void *)&routes, true);
		CHECK(slot >= 0);
	}
	CHECK_EQ(memslots_install(&vm.memslots, base, PAGE, (void *)&routes, true), -ENOSPC);

	vm_device_stop(&vm, &d);
	vdev_destroy(&d.dev);
	memslots_destroy(&vm.memslots);
}

static int exit_0(void *arg)
{
	(void)arg;
	return 0;
}

int main(void)
{
	struct sandbox_config sc = { .name = "probe", .enable = true, .nofile = 64 };
	struct sandbox_child child;
	char err[256];
	siginfo_t info;

	for (unsigned i = 0; i < VM_MAX_WATCHES; i++)
		vm.watches[i].fd = -1;
	if (sandbox_spawn(&sc, NULL, exit_0, NULL, &child, err, sizeof(err))) {
		printf("SKIP: jailed tests: %s\n", err);
		return check_report("test_vm_device_death");
	}
	sandbox_wait(&child, 0, &info);
	sandbox_release(&child);
	test_death_unmaps();
	return check_report("test_vm_device_death");
}
