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
#include "tests/unit/fake_driver.h"
#include "vmm/log.h"
#include "vmm/virtio_pci.h"

#define RAM (4 * MIB)
#define RINGS 0x1000
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
static void post(struct fake_vq *vq, uint64_t addr, uint32_t len)
{
	fake_vq_post(vq, &(struct fake_buf){ addr, len, true }, 1);
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
	struct fake_vq vq;
	struct vring_used_elem e;
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
	fake_vq_init(&vq, ram, RINGS, QSIZE);
	wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, QSIZE);
	wr(VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)vq.desc);
	wr(VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)vq.avail);
	wr(VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)vq.used);
	wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	wr(VIRTIO_PCI_COMMON_STATUS, 1, 0x0f);
	CHECK_EQ(rd(VIRTIO_PCI_COMMON_STATUS, 1), 0x0f);

	/* A 4 KiB request is filled entirely. */
	post(&vq, BUF, 4096);
	wr(0x3000, 2, 0);				/* notify queue 0 */
	link_local_poll(&ll);
	CHECK_EQ(fake_vq_used_idx(&vq), 1);
	e = fake_vq_take(&vq);
	CHECK_EQ(e.id, 0);
	CHECK_EQ(e.len, 4096);
	CHECK(nonzero(ram + BUF, 4096));
	CHECK_EQ(read(ll.link.call_fd[0], &count, 8), 8);	/* interrupt raised */

	/* A 1 MiB request gets the per-request cap, and no byte beyond it. */
	post(&vq, BUF + 0x10000, 1 << 20);
	wr(0x3000, 2, 0);
	link_local_poll(&ll);
	CHECK_EQ(fake_vq_used_idx(&vq), 2);
	CHECK_EQ(fake_vq_take(&vq).len, 64 * 1024);
	CHECK(!nonzero(ram + BUF + 0x10000 + 64 * 1024, 4096));

	/* A buffer outside guest RAM: the device gives up, the VMM survives. */
	post(&vq, RAM - 16, 4096);
	wr(0x3000, 2, 0);
	link_local_poll(&ll);
	CHECK_EQ(fake_vq_used_idx(&vq), 2);
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
