/* virtio-rng end to end in one process: the transport, a local link, the
 * device model and rings in fake guest memory, driven like a guest. */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "boot/guest_mem.h"
#include "check.h"
#include "devices/rng.h"
#include "devices/link_local.h"
#include "vmm/log.h"
#include "vmm/virtio_pci.h"

#define RAM (4 * MIB)
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x10000
#define QSIZE 8

static struct virtio_pci vp;

static void wr(unsigned off, unsigned len, uint32_t v)
{
	virtio_pci_bar_access(&vp, off, (uint8_t *)&v, len, true);
}

static uint32_t rd(unsigned off, unsigned len)
{
	uint32_t v = 0;

	virtio_pci_bar_access(&vp, off, (uint8_t *)&v, len, false);
	return v;
}

/* The driver side: one writable buffer per request. */
static void post(uint8_t *ram, uint16_t *avail_idx, uint16_t slot, uint64_t addr, uint32_t len)
{
	struct vring_desc *desc = (struct vring_desc *)(ram + DESC);
	struct vring_avail *avail = (struct vring_avail *)(ram + AVAIL);

	desc[slot] = (struct vring_desc){ .addr = addr, .len = len, .flags = VRING_DESC_F_WRITE };
	avail->ring[*avail_idx % QSIZE] = slot;
	__atomic_store_n(&avail->idx, ++*avail_idx, __ATOMIC_RELEASE);
}

static bool nonzero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return true;
	return false;
}

int main(void)
{
	static struct kvm kvm = { .vm_fd = -1, .sys_fd = -1 };
	static struct msi_routes routes;
	static struct link_local ll;
	static struct vdev dev;
	struct guest_mem mem;
	uint8_t *ram = calloc(1, RAM);
	struct vring_used *used = (struct vring_used *)(ram + USED);
	uint16_t avail_idx = 0;
	uint64_t count;

	log_set_level(LOG_ERROR);
	guest_mem_layout(&mem, ram, RAM);
	msi_routes_init(&routes, &kvm);
	CHECK_EQ(rng_create(&dev, "rng0", &mem), 0);
	CHECK_EQ(link_local_init(&ll, &dev), 0);
	CHECK_EQ(virtio_pci_init(&vp, &ll.link, NULL, &routes), 0);
	CHECK_EQ(vp.pci.config[2] | vp.pci.config[3] << 8, 0x1044);

	wr(VIRTIO_PCI_COMMON_STATUS, 1, 3);
	wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	wr(VIRTIO_PCI_COMMON_GF, 4, 1);
	wr(VIRTIO_PCI_COMMON_STATUS, 1, 0x0b);
	wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, QSIZE);
	wr(VIRTIO_PCI_COMMON_Q_DESCLO, 4, DESC);
	wr(VIRTIO_PCI_COMMON_Q_AVAILLO, 4, AVAIL);
	wr(VIRTIO_PCI_COMMON_Q_USEDLO, 4, USED);
	wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	wr(VIRTIO_PCI_COMMON_STATUS, 1, 0x0f);
	CHECK_EQ(rd(VIRTIO_PCI_COMMON_STATUS, 1), 0x0f);

	/* A 4 KiB request is filled entirely. */
	post(ram, &avail_idx, 0, BUF, 4096);
	wr(0x3000, 2, 0);				/* notify queue 0 */
	link_local_poll(&ll);
	CHECK_EQ(used->idx, 1);
	CHECK_EQ(used->ring[0].id, 0);
	CHECK_EQ(used->ring[0].len, 4096);
	CHECK(nonzero(ram + BUF, 4096));
	CHECK_EQ(read(ll.link.call_fd[0], &count, 8), 8);	/* interrupt raised */

	/* A 1 MiB request gets the per-request cap, and no byte beyond it. */
	post(ram, &avail_idx, 1, BUF + 0x10000, 1 << 20);
	wr(0x3000, 2, 0);
	link_local_poll(&ll);
	CHECK_EQ(used->idx, 2);
	CHECK_EQ(used->ring[1].len, 64 * 1024);
	CHECK(!nonzero(ram + BUF + 0x10000 + 64 * 1024, 4096));

	/* A buffer outside guest RAM: the device gives up, the VMM survives. */
	post(ram, &avail_idx, 2, RAM - 16, 4096);
	wr(0x3000, 2, 0);
	link_local_poll(&ll);
	CHECK_EQ(used->idx, 2);
	CHECK(!dev.active);

	/* Reset brings it back. */
	wr(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	CHECK(!dev.active);
	virtio_pci_destroy(&vp);
	link_local_destroy(&ll);
	vdev_destroy(&dev);
	free(ram);
	return check_report("test_rng");
}
