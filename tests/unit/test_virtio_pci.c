/* The virtio-pci transport against a fake device, driven as Linux's
 * virtio_pci driver does, plus out-of-order and out-of-range accesses. */
#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "check.h"
#include "vmm/log.h"
#include "vmm/virtio_pci.h"

static struct {
	unsigned set_vring, activate, reset, set_config, features_ok;
	uint64_t refused;		/* features_ok refuses any of these */
	uint64_t offered_ok;		/* what features_ok last saw */
	unsigned last_q;
	struct vdev_vring ring;
	uint64_t features;
	int fail_vring;
} fake;

static int fake_set_config(struct vdev_link *l, unsigned off, const void *buf, unsigned len)
{
	fake.set_config++;
	return off == 0 ? -EPERM : 0;	/* byte 0 is read-only in this device */
}

static int fake_set_vring(struct vdev_link *l, unsigned q, const struct vdev_vring *ring)
{
	fake.set_vring++;
	fake.last_q = q;
	fake.ring = *ring;
	return fake.fail_vring;
}

static int fake_features_ok(struct vdev_link *l, uint64_t features)
{
	fake.features_ok++;
	fake.offered_ok = features;
	return features & fake.refused ? -ENOTSUP : 0;
}

static int fake_activate(struct vdev_link *l, uint64_t features)
{
	fake.activate++;
	fake.features = features;
	return 0;
}

static int fake_reset(struct vdev_link *l)
{
	fake.reset++;
	return 0;
}

static const struct vdev_link_ops fake_ops = {
	.set_config = fake_set_config, .set_vring = fake_set_vring,
	.features_ok = fake_features_ok, .activate = fake_activate, .reset = fake_reset,
};

static struct virtio_pci vp;

static uint32_t rd(unsigned off, unsigned len)
{
	uint32_t v = 0;

	virtio_pci_bar_access(&vp, off, (uint8_t *)&v, len, false);
	return v;
}

static void wr(unsigned off, unsigned len, uint32_t v)
{
	virtio_pci_bar_access(&vp, off, (uint8_t *)&v, len, true);
}

/* Walks the capability list as the driver does; returns the BAR offset of
 * the capability of the given virtio type. */
static int find_cap(uint8_t type, uint32_t *length)
{
	const uint8_t *cfg = vp.pci.config;

	for (unsigned at = cfg[0x34]; at; at = cfg[at + 1]) {
		if (cfg[at] == 0x09 && cfg[at + 3] == type) {
			memcpy(length, &cfg[at + 12], 4);
			CHECK_EQ(cfg[at + 4], 0);	/* BAR 0 */
			return (int)(cfg[at + 8] | cfg[at + 9] << 8 | cfg[at + 10] << 16);
		}
	}
	return -1;
}

#define C(field) VIRTIO_PCI_COMMON_##field

int main(void)
{
	static struct kvm kvm = { .vm_fd = -1, .sys_fd = -1 };
	static struct msi_routes routes;
	static struct vdev_link link = {
		.ops = &fake_ops, .name = "fake0", .device_id = 2, .features = 1ull << 1,
		.nr_queues = 2, .max_queue_size = 256, .config_size = 8,
		.config = { 1, 2, 3, 4, 5, 6, 7, 8 },
	};
	uint32_t len, common, notify, isr, device;
	uint64_t count;

	log_set_level(LOG_ERROR);	/* no KVM here: routing ioctls fail quietly */
	for (unsigned q = 0; q < 2; q++) {
		link.kick_fd[q] = eventfd(0, EFD_NONBLOCK);
		link.call_fd[q] = eventfd(0, EFD_NONBLOCK);
	}
	msi_routes_init(&routes, &kvm);
	CHECK_EQ(virtio_pci_init(&vp, &link, NULL, &routes), 0);

	/* Identity and capabilities. */
	CHECK_EQ(vp.pci.config[0] | vp.pci.config[1] << 8, 0x1af4);
	CHECK_EQ(vp.pci.config[2] | vp.pci.config[3] << 8, 0x1042);
	CHECK(vp.pci.config[8] >= 1);				/* modern: revision >= 1 */
	common = (uint32_t)find_cap(VIRTIO_PCI_CAP_COMMON_CFG, &len);
	CHECK_EQ(len, sizeof(struct virtio_pci_common_cfg));
	notify = (uint32_t)find_cap(VIRTIO_PCI_CAP_NOTIFY_CFG, &len);
	CHECK_EQ(len, 8);
	isr = (uint32_t)find_cap(VIRTIO_PCI_CAP_ISR_CFG, &len);
	device = (uint32_t)find_cap(VIRTIO_PCI_CAP_DEVICE_CFG, &len);
	CHECK_EQ(len, 8);

	/* Reset, acknowledge, features. */
	wr(common + C(STATUS), 1, 0);
	CHECK_EQ(fake.reset, 2);				/* init and this one */
	wr(common + C(STATUS), 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(common + C(DFSELECT), 4, 0);
	CHECK_EQ(rd(common + C(DF), 4), 2);
	wr(common + C(DFSELECT), 4, 1);
	CHECK_EQ(rd(common + C(DF), 4), 1);			/* VERSION_1 */
	wr(common + C(DFSELECT), 4, 7);
	CHECK_EQ(rd(common + C(DF), 4), 0);
	CHECK_EQ(rd(common + C(NUMQ), 2), 2);
	/* A feature the device never offered: FEATURES_OK does not stick. */
	wr(common + C(GFSELECT), 4, 0);
	wr(common + C(GF), 4, 2 | 4);
	wr(common + C(GFSELECT), 4, 1);
	wr(common + C(GF), 4, 1);
	wr(common + C(STATUS), 1, 0x0b);
	CHECK_EQ(rd(common + C(STATUS), 1) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	/* Without VERSION_1 neither. */
	wr(common + C(GFSELECT), 4, 0);
	wr(common + C(GF), 4, 2);
	wr(common + C(GFSELECT), 4, 1);
	wr(common + C(GF), 4, 0);
	wr(common + C(STATUS), 1, 0x0b);
	CHECK_EQ(rd(common + C(STATUS), 1) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	/* A subset the device refuses: FEATURES_OK does not stick either. */
	CHECK_EQ(fake.features_ok, 0);			/* not asked about the others */
	fake.refused = 2;
	wr(common + C(GF), 4, 1);
	wr(common + C(STATUS), 1, 0x0b);
	CHECK_EQ(rd(common + C(STATUS), 1) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	CHECK_EQ(fake.features_ok, 1);
	CHECK_EQ(fake.offered_ok, 1ull << 32 | 2);
	fake.refused = 0;
	wr(common + C(STATUS), 1, 0x0b);
	CHECK_EQ(rd(common + C(STATUS), 1), 0x0b);
	CHECK_EQ(fake.features_ok, 2);
	wr(common + C(GF), 4, 0);				/* frozen now */
	CHECK_EQ(rd(common + C(GF), 4), 1);

	/* Queue 1 setup. */
	wr(common + C(MSIX), 2, 0);
	CHECK_EQ(rd(common + C(MSIX), 2), 0);
	wr(common + C(MSIX), 2, 99);				/* beyond the table */
	CHECK_EQ(rd(common + C(MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	wr(common + C(Q_SELECT), 2, 1);
	CHECK_EQ(rd(common + C(Q_SIZE), 2), 256);
	CHECK_EQ(rd(common + C(Q_NOFF), 2), 1);
	wr(common + C(Q_SIZE), 2, 512);				/* too big: ignored */
	CHECK_EQ(rd(common + C(Q_SIZE), 2), 256);
	wr(common + C(Q_SIZE), 2, 100);				/* not a power of two */
	CHECK_EQ(rd(common + C(Q_SIZE), 2), 256);
	wr(common + C(Q_SIZE), 2, 128);
	wr(common + C(Q_MSIX), 2, 2);
	CHECK_EQ(rd(common + C(Q_MSIX), 2), 2);
	wr(common + C(Q_DESCLO), 4, 0x1000);
	wr(common + C(Q_DESCHI), 4, 0x1);
	wr(common + C(Q_AVAILLO), 4, 0x2000);
	wr(common + C(Q_USEDLO), 4, 0x3000);
	wr(common + C(Q_DESCLO), 2, 0xdead);			/* half a field: ignored */
	wr(common + C(Q_ENABLE), 2, 1);
	CHECK_EQ(fake.set_vring, 1);
	CHECK_EQ(fake.last_q, 1);
	CHECK_EQ(fake.ring.size, 128);
	CHECK_EQ(fake.ring.desc, 0x100001000ull);
	CHECK_EQ(fake.ring.avail, 0x2000);
	CHECK_EQ(fake.ring.used, 0x3000);
	CHECK_EQ(rd(common + C(Q_ENABLE), 2), 1);
	wr(common + C(Q_DESCLO), 4, 0x5000);			/* frozen once enabled */
	CHECK_EQ(rd(common + C(Q_DESCLO), 4), 0x1000);
	wr(common + C(Q_SELECT), 2, 7);				/* no such queue */
	CHECK_EQ(rd(common + C(Q_SIZE), 2), 0);
	wr(common + C(Q_ENABLE), 2, 1);
	CHECK_EQ(fake.set_vring, 1);

	/* DRIVER_OK activates with the negotiated features. */
	wr(common + C(STATUS), 1, 0x0f);
	CHECK_EQ(fake.activate, 1);
	CHECK_EQ(fake.features, 1ull << 32 | 2);

	/* Device config: cached reads, checked writes. */
	CHECK_EQ(rd(device + 4, 4), 0x08070605);
	wr(device + 2, 1, 0x42);
	CHECK_EQ(rd(device + 2, 1), 0x42);
	wr(device + 0, 1, 0x42);				/* the device refused */
	CHECK_EQ(rd(device + 0, 1), 1);
	CHECK_EQ(rd(device + 6, 4), 0);				/* crosses the end */
	wr(device + 7, 4, 0xffffffff);
	CHECK_EQ(rd(device + 7, 1), 8);

	/* A notify write reaches the queue's kick eventfd. */
	wr(notify + 4, 2, 1);
	CHECK_EQ(read(link.kick_fd[1], &count, 8), 8);
	wr(notify + 64, 2, 1);					/* no such queue */
	CHECK_EQ(read(link.kick_fd[0], &count, 8), -1);

	/* Config change from the device, through the link's event: generation,
	 * ISR read-to-clear. */
	CHECK_EQ(vdev_link_config_changed(&link, 0, (const uint8_t[]){ 9, 9 }, 2), 0);
	CHECK_EQ(rd(common + C(CFGGENERATION), 1), 1);
	CHECK_EQ(rd(device, 1), 9);
	CHECK_EQ(rd(isr, 1), VIRTIO_PCI_ISR_CONFIG);
	CHECK_EQ(rd(isr, 1), 0);
	/* At an offset, and only within the config. */
	CHECK_EQ(virtio_pci_config_changed(&vp, 4, (const uint8_t[]){ 0xaa, 0xbb }, 2), 0);
	CHECK_EQ(rd(device, 4), 0x04420909);		/* 0x42: the driver wrote it */
	CHECK_EQ(rd(device + 4, 4), 0x0807bbaa);
	CHECK_EQ(rd(common + C(CFGGENERATION), 1), 2);
	CHECK_EQ(virtio_pci_config_changed(&vp, 7, (const uint8_t[]){ 1, 1 }, 2), -EINVAL);
	CHECK_EQ(virtio_pci_config_changed(&vp, 0xffffffff, (const uint8_t[]){ 1, 1 }, 2), -EINVAL);
	CHECK_EQ(virtio_pci_config_changed(&vp, 9, (const uint8_t[]){ 1 }, 1), -EINVAL);
	CHECK_EQ(rd(device + 4, 4), 0x0807bbaa);
	CHECK_EQ(rd(common + C(CFGGENERATION), 1), 2);
	CHECK_EQ(rd(isr, 1), VIRTIO_PCI_ISR_CONFIG);

	/* The device breaks (an event up the link): NEEDS_RESET until the
	 * driver resets it. */
	vdev_link_needs_reset(&link, "test");
	CHECK_EQ(rd(common + C(STATUS), 1) & VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_CONFIG_S_NEEDS_RESET);
	wr(common + C(STATUS), 1, 0);
	CHECK_EQ(rd(common + C(STATUS), 1), 0);
	CHECK_EQ(fake.reset, 3);
	wr(common + C(Q_SELECT), 2, 1);
	CHECK_EQ(rd(common + C(Q_ENABLE), 2), 0);
	CHECK_EQ(rd(common + C(Q_SIZE), 2), 256);

	/* A failing queue setup marks the device broken, not the VMM. */
	fake.fail_vring = -EINVAL;
	wr(common + C(STATUS), 1, 0x03);
	wr(common + C(Q_ENABLE), 2, 1);
	CHECK_EQ(rd(common + C(Q_ENABLE), 2), 0);
	CHECK_EQ(rd(common + C(STATUS), 1) & VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_CONFIG_S_NEEDS_RESET);

	/* The PCI_CFG window reaches the BAR through config space. */
	{
		static struct pci_bus bus;
		uint32_t v, at = 0;
		const uint8_t *cfg = vp.pci.config;

		pci_init(&bus, 0x100000000ull, 1ull << 30);
		CHECK_EQ(virtio_pci_plug(&vp, &bus, 1), 0);
		for (unsigned c = cfg[0x34]; c; c = cfg[c + 1])
			if (cfg[c] == 0x09 && cfg[c + 3] == VIRTIO_PCI_CAP_PCI_CFG)
				at = c;
		CHECK(at != 0);
		v = 0;
		pci_ecam_access(&bus, 1 << 15 | (at + 4), (uint8_t *)&v, 1, true);	/* bar 0 */
		v = common + C(NUMQ);
		pci_ecam_access(&bus, 1 << 15 | (at + 8), (uint8_t *)&v, 4, true);	/* offset */
		v = 2;
		pci_ecam_access(&bus, 1 << 15 | (at + 12), (uint8_t *)&v, 4, true);	/* length */
		pci_ecam_access(&bus, 1 << 15 | (at + 16), (uint8_t *)&v, 4, false);
		CHECK_EQ(v & 0xffff, 2);					/* num_queues */
		v = common + C(Q_SELECT);
		pci_ecam_access(&bus, 1 << 15 | (at + 8), (uint8_t *)&v, 4, true);
		v = 1;
		pci_ecam_access(&bus, 1 << 15 | (at + 16), (uint8_t *)&v, 4, true);
		CHECK_EQ(rd(common + C(Q_SELECT), 2), 1);			/* a write through it */
		v = 3;							/* bad length */
		pci_ecam_access(&bus, 1 << 15 | (at + 12), (uint8_t *)&v, 4, true);
		pci_ecam_access(&bus, 1 << 15 | (at + 16), (uint8_t *)&v, 4, false);
		CHECK_EQ(v, 0);
		v = 0x7ffe;						/* past the BAR */
		pci_ecam_access(&bus, 1 << 15 | (at + 8), (uint8_t *)&v, 4, true);
		v = 4;
		pci_ecam_access(&bus, 1 << 15 | (at + 12), (uint8_t *)&v, 4, true);
		pci_ecam_access(&bus, 1 << 15 | (at + 16), (uint8_t *)&v, 4, false);
		CHECK_EQ(v, 0);
	}

	/* Stray accesses anywhere in the BAR do nothing harmful. */
	for (unsigned off = 0; off < 0x8000; off += 61)
		wr(off, 4, 0xffffffff);
	virtio_pci_destroy(&vp);
	CHECK(link.events == NULL);			/* unsubscribed */
	CHECK_EQ(vdev_link_config_changed(&link, 0, (const uint8_t[]){ 1 }, 1), -ENOTCONN);
	return check_report("test_virtio_pci");
}
