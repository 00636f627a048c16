/*
 * The GPU's host-visible region (8 GiB by default, GPU_DEFAULT_HOST_VISIBLE)
 * fits the VM's 64-bit MMIO window (LAYOUT_MMIO64_SIZE above RAM, 1 GiB
 * aligned, as vm.c sets up the PCI bus and ACPI's _CRS) for every RAM size,
 * naturally aligned as a BAR must be: so does 32 GiB, the largest power of
 * two the window holds wherever it starts; 64 GiB does not in general.
 */
#include "check.h"
#include "boot/guest_mem.h"
#include "boot/layout.h"
#include "devices/gpu.h"
#include "devices/link_local.h"
#include "vmm/virtio_pci.h"

#define SLOT 1

static struct vdev_shm_region region = { GPU_SHM_ID_HOST_VISIBLE, GPU_DEFAULT_HOST_VISIBLE };

static void fake_notify(struct vdev *dev, unsigned q)
{
	(void)dev;
	(void)q;
}

static const struct vdev_ops fake_ops = {
	.name = "gpu", .device_id = 16, .nr_queues = 2, .queue_size = 64, .notify = fake_notify,
	.shm_regions = &region, .nr_shm_regions = 1,
};

/* Plugs a device with the region on a VM of ram bytes; the BAR's address, or 0. */
static uint64_t plug(uint64_t ram, uint64_t size, uint64_t *window)
{
	static struct virtio_pci vp;
	struct msi_routes routes = { 0 };
	struct guest_mem mem;
	struct pci_bus bus;
	struct link_local ll;
	struct vdev dev;
	uint64_t at = 0;

	region.size = size;
	guest_mem_layout(&mem, NULL, ram);
	*window = guest_mem_mmio64_base(&mem);
	pci_init(&bus, *window, LAYOUT_MMIO64_SIZE);
	vdev_init(&dev, &fake_ops, NULL, "gpu0", NULL);
	CHECK_EQ(link_local_init(&ll, &dev), 0);
	CHECK_EQ(virtio_pci_init(&vp, &ll.link, NULL, &routes), 0);
	if (!virtio_pci_plug(&vp, &bus, SLOT))
		at = pci_bar_address(&vp.pci, VIRTIO_PCI_SHM_BAR(0));
	virtio_pci_destroy(&vp);
	link_local_destroy(&ll);
	return at;
}

static void check_fits(uint64_t ram, uint64_t size)
{
	uint64_t window, at = plug(ram, size, &window);

	if (!at || at < window || at + size > window + LAYOUT_MMIO64_SIZE || at % size)
		fprintf(stderr, "RAM %llu MiB, region %llu GiB: window 0x%llx, BAR at 0x%llx\n",
			(unsigned long long)(ram >> 20), (unsigned long long)(size >> 30),
			(unsigned long long)window, (unsigned long long)at);
	CHECK(at && at >= window && at + size <= window + LAYOUT_MMIO64_SIZE && !(at % size));
	CHECK(window >= LAYOUT_4G + (ram > LAYOUT_PCI_HOLE_START ? ram - LAYOUT_PCI_HOLE_START : 0));
}

int main(void)
{
	static const uint64_t rams[] = {
		64ull << 20, 512ull << 20, 3ull << 30, 3ull << 30 | 1 << 20, 4ull << 30,
		5ull << 30 | 512ull << 20, 9ull << 30, 16ull << 30, 61ull << 30, 1ull << 40,
	};
	uint64_t window;

	for (size_t i = 0; i < sizeof(rams) / sizeof(rams[0]); i++) {
		check_fits(rams[i], GPU_DEFAULT_HOST_VISIBLE);
		check_fits(rams[i], 32ull << 30);
	}
	/* 64 GiB only fits when the window happens to start 64 GiB aligned. */
	CHECK_EQ(plug(5ull << 30, 64ull << 30, &window), 0);
	return check_report("test_gpu_bar_window");
}
