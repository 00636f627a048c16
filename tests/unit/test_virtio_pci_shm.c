/*
 * Shared-memory regions on the transport: a fake device (behind
 * link_local) declares two; the function shows each with a
 * VIRTIO_PCI_CAP_SHARED_MEMORY_CFG capability naming its BAR (2, 4:
 * 64-bit prefetchable, sized like any BAR), and a memfd the device maps
 * reads back at BAR base + offset through the fake KVM's slots, moves
 * when the guest reprograms the BAR, and is gone after a device reset.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_pci.h>

#include "check.h"
#include "devices/link_local.h"
#include "vmm/virtio_pci.h"

#define PAGE 4096u
#define MMIO64 0x1000000000ull
#define SLOT 3
#define ECAM(slot, reg) ((uint64_t)(slot) << 15 | (reg))

static const struct vdev_shm_region regions[] = { { 1, 1u << 20 }, { 5, 1ull << 33 } };

static void fake_notify(struct vdev *dev, unsigned q)
{
	(void)dev;
	(void)q;
}

static const struct vdev_ops fake_ops = {
	.name = "fake", .device_id = 16, .nr_queues = 1, .queue_size = 8, .notify = fake_notify,
	.shm_regions = regions, .nr_shm_regions = 2,
};

static struct kvm_userspace_memory_region fake_kvm[MEMSLOTS_MAX];

static int fake_set(void *ctx, const struct kvm_userspace_memory_region *r)
{
	(void)ctx;
	fake_kvm[r->slot] = *r;
	return 0;
}

static int guest_read(uint64_t gpa)
{
	for (unsigned s = 0; s < MEMSLOTS_MAX; s++) {
		const struct kvm_userspace_memory_region *r = &fake_kvm[s];

		if (r->memory_size && gpa >= r->guest_phys_addr &&
		    gpa < r->guest_phys_addr + r->memory_size)
			return *(uint8_t *)(uintptr_t)(r->userspace_addr + gpa - r->guest_phys_addr);
	}
	return -1;
}

static struct pci_bus bus;

static uint32_t cfg_rd(unsigned reg)
{
	uint32_t v = 0;

	pci_ecam_access(&bus, ECAM(SLOT, reg), (uint8_t *)&v, 4, false);
	return v;
}

static void cfg_wr(unsigned reg, uint32_t v)
{
	pci_ecam_access(&bus, ECAM(SLOT, reg), (uint8_t *)&v, 4, true);
}

/* The SHARED_MEMORY_CFG capability with this id, or 0. */
static unsigned find_shm_cap(const struct virtio_pci *vp, uint8_t id)
{
	for (unsigned at = vp->pci.config[0x34]; at; at = vp->pci.config[at + 1]) {
		const uint8_t *c = &vp->pci.config[at];

		if (c[0] == 0x09 && c[offsetof(struct virtio_pci_cap, cfg_type)] ==
		    VIRTIO_PCI_CAP_SHARED_MEMORY_CFG && c[offsetof(struct virtio_pci_cap, id)] == id)
			return at;
	}
	return 0;
}

static void check_cap(const struct virtio_pci *vp, unsigned i)
{
	unsigned at = find_shm_cap(vp, regions[i].id);
	struct virtio_pci_cap64 c;

	CHECK(at);
	if (!at)
		return;
	memcpy(&c, &vp->pci.config[at], sizeof(c));
	CHECK_EQ(c.cap.cap_len, sizeof(c));
	CHECK_EQ(c.cap.bar, VIRTIO_PCI_SHM_BAR(i));
	CHECK_EQ(c.cap.offset, 0);
	CHECK_EQ(c.offset_hi, 0);
	CHECK_EQ((uint64_t)c.length_hi << 32 | c.cap.length, regions[i].size);
}

/* BAR sizing as a guest does it: all ones in both halves, read the mask. */
static void check_bar(unsigned i)
{
	unsigned reg = 0x10 + 4 * VIRTIO_PCI_SHM_BAR(i);
	uint32_t lo = cfg_rd(reg), hi = cfg_rd(reg + 4);
	uint64_t mask;

	CHECK_EQ(lo & 0xf, 0xc);	/* memory, 64-bit, prefetchable */
	cfg_wr(reg, 0xffffffff);
	cfg_wr(reg + 4, 0xffffffff);
	mask = (uint64_t)cfg_rd(reg + 4) << 32 | (cfg_rd(reg) & ~0xfu);
	CHECK_EQ(~mask + 1, regions[i].size);
	cfg_wr(reg, lo);
	cfg_wr(reg + 4, hi);
}

int main(void)
{
	static struct virtio_pci vp;
	struct msi_routes routes = { 0 };
	struct link_local ll;
	struct memslots ms;
	struct vdev dev;
	uint64_t base, moved = MMIO64 + (64ull << 30);
	int fd = memfd_create("shm", MFD_CLOEXEC);

	CHECK_EQ(ftruncate(fd, PAGE), 0);
	CHECK_EQ(pwrite(fd, "\x5a", 1, 0), 1);
	pci_init(&bus, MMIO64, 256ull << 30);
	vdev_init(&dev, &fake_ops, NULL, "fake0", NULL);
	CHECK_EQ(link_local_init(&ll, &dev), 0);
	CHECK_EQ(virtio_pci_init(&vp, &ll.link, NULL, &routes), 0);
	CHECK_EQ(virtio_pci_plug(&vp, &bus, SLOT), 0);
	CHECK_EQ(memslots_init(&ms, 2, 16, fake_set, NULL), 0);
	for (unsigned i = 0; i < 2; i++) {
		check_cap(&vp, i);
		check_bar(i);
	}
	CHECK_EQ(virtio_pci_shm_map(&vp, 1, PAGE, fd, 0, PAGE, SHM_PROT_READ), -ENODEV);
	virtio_pci_set_memslots(&vp, &ms);
	base = pci_bar_address(&vp.pci, 2);
	CHECK(base >= MMIO64);
	CHECK_EQ(virtio_pci_shm_map(&vp, 2, 0, fd, 0, PAGE, SHM_PROT_READ), -ENODEV);	/* no region 2 */
	CHECK_EQ(virtio_pci_shm_map(&vp, 1, PAGE, fd, 0, PAGE, SHM_PROT_READ), 0);
	CHECK_EQ(guest_read(base + PAGE), 0x5a);
	/* The guest moves BAR 2. */
	cfg_wr(0x18, (uint32_t)moved | 0xc);
	cfg_wr(0x1c, (uint32_t)(moved >> 32));
	CHECK_EQ(pci_bar_address(&vp.pci, 2), moved);
	CHECK_EQ(guest_read(base + PAGE), -1);
	CHECK_EQ(guest_read(moved + PAGE), 0x5a);
	/* A device reset drops what it mapped. */
	virtio_pci_bar_access(&vp, VIRTIO_PCI_COMMON_STATUS, (uint8_t[]){ 0 }, 1, true);
	CHECK_EQ(guest_read(moved + PAGE), -1);
	CHECK_EQ(virtio_pci_shm_unmap(&vp, 1, PAGE), -EINVAL);
	virtio_pci_destroy(&vp);
	link_local_destroy(&ll);
	memslots_destroy(&ms);
	close(fd);
	return check_report("test_virtio_pci_shm");
}
