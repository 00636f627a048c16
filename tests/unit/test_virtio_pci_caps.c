/* virtio-poke's capability parser (tests/guest/virtio_pci_caps.c) on the
 * config space of our own transport, used to drive it, and on broken
 * copies of it: short, looping, with reserved BARs, short capabilities. */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "check.h"
#include "tests/guest/virtio_pci_caps.h"
#include "vmm/log.h"
#include "vmm/virtio_pci.h"

#define NR_QUEUES 3

static int noop_set_config(struct vdev_link *l, unsigned off, const void *buf, unsigned len)
{
	return 0;
}

static int noop_set_vring(struct vdev_link *l, unsigned q, const struct vdev_vring *ring)
{
	return 0;
}

static int noop_activate(struct vdev_link *l, uint64_t features)
{
	return 0;
}

static int noop_reset(struct vdev_link *l)
{
	return 0;
}

static const struct vdev_link_ops noop_ops = {
	.set_config = noop_set_config, .set_vring = noop_set_vring,
	.activate = noop_activate, .reset = noop_reset,
};

/* A balloon-shaped link: three queues, 8 bytes of config. */
static struct vdev_link fake_link = {
	.ops = &noop_ops, .name = "fake0", .device_id = 5, .nr_queues = NR_QUEUES,
	.max_queue_size = 128, .config_size = 8, .config = { 1, 2, 3, 4, 5, 6, 7, 8 },
};
static struct msi_routes routes;
static struct kvm kvm = { .vm_fd = -1, .sys_fd = -1 };

static uint32_t bar_read(struct virtio_pci *vp, uint64_t off, unsigned len)
{
	uint32_t v = 0;

	virtio_pci_bar_access(vp, off, (uint8_t *)&v, len, false);
	return v;
}

static void bar_write(struct virtio_pci *vp, uint64_t off, unsigned len, uint32_t v)
{
	virtio_pci_bar_access(vp, off, (uint8_t *)&v, len, true);
}

/* Parses a heap copy of exactly len bytes, so ASan sees any over-read. */
static int parse(const uint8_t *cfg, size_t len, struct virtio_pci_layout *layout, const char **why)
{
	uint8_t *copy = malloc(len);
	int rc;

	memcpy(copy, cfg, len);
	*why = NULL;
	rc = virtio_pci_parse_caps(copy, len, layout, why);
	free(copy);
	return rc;
}

static bool says(const char *why, const char *part)
{
	return why && strstr(why, part);
}

static unsigned vendor_cap(const uint8_t *cfg, uint8_t type)
{
	for (unsigned at = cfg[0x34]; at; at = cfg[at + 1])
		if (cfg[at] == 0x09 && cfg[at + 3] == type)
			return at;
	return 0;
}

static unsigned last_cap(const uint8_t *cfg)
{
	unsigned at = cfg[0x34];

	while (cfg[at + 1])
		at = cfg[at + 1];
	return at;
}

/* The parsed layout reaches the transport's registers. */
static void drive_through_layout(struct virtio_pci *vp, const struct virtio_pci_layout *l)
{
	uint64_t count, notify_off;

	CHECK_EQ(bar_read(vp, l->common.offset + VIRTIO_PCI_COMMON_NUMQ, 2), NR_QUEUES);
	bar_write(vp, l->common.offset + VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);
	notify_off = bar_read(vp, l->common.offset + VIRTIO_PCI_COMMON_Q_NOFF, 2);
	CHECK(notify_off * l->notify_off_multiplier + 2 <= l->notify.length);
	bar_write(vp, l->notify.offset + notify_off * l->notify_off_multiplier, 2, 2);
	CHECK_EQ(read(fake_link.kick_fd[2], &count, 8), 8);
	CHECK_EQ(read(fake_link.kick_fd[1], &count, 8), -1);		/* only queue 2's */
	CHECK_EQ(bar_read(vp, l->device.offset + 4, 4), 0x08070605);
}

static void our_transport(const uint8_t *cfg, struct virtio_pci *vp)
{
	struct virtio_pci_layout l;
	const char *why;

	CHECK_EQ(parse(cfg, PCI_CONFIG_SIZE, &l, &why), 0);
	CHECK(l.common.found && l.notify.found && l.isr.found && l.device.found);
	CHECK_EQ(l.common.bar, 0);
	CHECK_EQ(l.common.length, sizeof(struct virtio_pci_common_cfg));
	CHECK_EQ(l.notify.length, NR_QUEUES * l.notify_off_multiplier);
	CHECK(l.notify_off_multiplier >= 2);
	CHECK_EQ(l.isr.length, 1);
	CHECK_EQ(l.device.length, 8);
	drive_through_layout(vp, &l);
	/* Linux's sysfs config is 256 bytes for conventional PCI: the same. */
	CHECK_EQ(parse(cfg, 256, &l, &why), 0);
}

static void broken_copies(const uint8_t *orig)
{
	static uint8_t cfg[PCI_CONFIG_SIZE];
	struct virtio_pci_layout l;
	const char *why;
	unsigned common = vendor_cap(orig, VIRTIO_PCI_CAP_COMMON_CFG);
	unsigned notify = vendor_cap(orig, VIRTIO_PCI_CAP_NOTIFY_CFG);
	unsigned last = last_cap(orig), spare = (last + 0x20) & ~3u;

	CHECK(common && notify && spare + 20 <= 0x100);
	/* What a non-root reader gets: the header only. */
	CHECK_EQ(parse(orig, 64, &l, &why), -1);
	CHECK(says(why, "outside config space"));
	CHECK_EQ(parse(orig, 32, &l, &why), -1);
	CHECK(says(why, "shorter than the PCI header"));

	memcpy(cfg, orig, sizeof(cfg));
	cfg[0x06] &= ~0x10;
	CHECK_EQ(parse(cfg, sizeof(cfg), &l, &why), -1);
	CHECK(says(why, "no capability list"));

	memcpy(cfg, orig, sizeof(cfg));
	cfg[last + 1] = cfg[0x34];			/* the last points at the first */
	CHECK_EQ(parse(cfg, sizeof(cfg), &l, &why), -1);
	CHECK(says(why, "loops"));
	cfg[last + 1] = (uint8_t)last;			/* at itself */
	CHECK_EQ(parse(cfg, sizeof(cfg), &l, &why), -1);
	CHECK(says(why, "loops"));

	memcpy(cfg, orig, sizeof(cfg));
	cfg[last + 1] = 0x20;				/* into the header */
	CHECK_EQ(parse(cfg, sizeof(cfg), &l, &why), -1);
	CHECK(says(why, "outside config space"));

	/* A vendor capability in the list's last bytes, claiming more. */
	memcpy(cfg, orig, sizeof(cfg));
	cfg[last + 1] = 0xfc;
	cfg[0xfc] = 0x09, cfg[0xfd] = 0, cfg[0xfe] = 0xff, cfg[0xff] = VIRTIO_PCI_CAP_COMMON_CFG;
	CHECK_EQ(parse(cfg, sizeof(cfg), &l, &why), 0);
	CHECK_EQ(l.common.offset, orig[common + 8] | orig[common + 9] << 8);

	memcpy(cfg, orig, sizeof(cfg));
	cfg[common + 4] = 6;				/* a reserved BAR: skipped */
	CHECK_EQ(parse(cfg, sizeof(cfg), &l, &why), -1);
	CHECK(says(why, "no common configuration"));
	/* ... and a usable one later in the list is taken instead. */
	memcpy(&cfg[spare], &orig[common], 16);
	cfg[spare + 1] = 0;
	cfg[spare + 8] = 0x00, cfg[spare + 9] = 0x70;	/* offset 0x7000 */
	cfg[last + 1] = (uint8_t)spare;
	CHECK_EQ(parse(cfg, sizeof(cfg), &l, &why), 0);
	CHECK_EQ(l.common.offset, 0x7000);
	/* With the first one usable again, the first wins. */
	cfg[common + 4] = 0;
	CHECK_EQ(parse(cfg, sizeof(cfg), &l, &why), 0);
	CHECK_EQ(l.common.offset, orig[common + 8] | orig[common + 9] << 8);

	memcpy(cfg, orig, sizeof(cfg));
	cfg[common + 12] = 16, cfg[common + 13] = 0;	/* length 16 */
	CHECK_EQ(parse(cfg, sizeof(cfg), &l, &why), -1);
	CHECK(says(why, "shorter than its structure"));

	memcpy(cfg, orig, sizeof(cfg));
	cfg[notify + 2] = 16;				/* no room for the multiplier */
	CHECK_EQ(parse(cfg, sizeof(cfg), &l, &why), -1);
	CHECK(says(why, "no notify"));
	cfg[notify + 2] = 8;				/* shorter than any virtio cap */
	CHECK_EQ(parse(cfg, sizeof(cfg), &l, &why), -1);
	CHECK(says(why, "no notify"));
}

/* Shared-memory capabilities (cap64, type 8) and no device config. */
static void with_shm_region(void)
{
	static struct virtio_pci vp;
	struct vdev_link shm_link = fake_link;
	struct virtio_pci_layout l;
	const char *why;

	shm_link.config_size = 0;
	shm_link.nr_shm = 1;
	shm_link.shm[0] = (struct vdev_shm_region){ .id = 1, .size = 1u << 20 };
	CHECK_EQ(virtio_pci_init(&vp, &shm_link, NULL, &routes), 0);
	CHECK(vendor_cap(vp.pci.config, VIRTIO_PCI_CAP_SHARED_MEMORY_CFG) != 0);
	CHECK_EQ(parse(vp.pci.config, PCI_CONFIG_SIZE, &l, &why), 0);
	CHECK(l.common.found && l.notify.found && !l.device.found);
	CHECK_EQ(l.common.bar, 0);
	CHECK_EQ(l.notify.bar, 0);
	virtio_pci_destroy(&vp);
}

int main(void)
{
	static struct virtio_pci vp;

	log_set_level(LOG_ERROR);	/* no KVM here: routing ioctls fail quietly */
	for (unsigned q = 0; q < NR_QUEUES; q++) {
		fake_link.kick_fd[q] = eventfd(0, EFD_NONBLOCK);
		fake_link.call_fd[q] = eventfd(0, EFD_NONBLOCK);
	}
	msi_routes_init(&routes, &kvm);
	CHECK_EQ(virtio_pci_init(&vp, &fake_link, NULL, &routes), 0);
	our_transport(vp.pci.config, &vp);
	broken_copies(vp.pci.config);
	virtio_pci_destroy(&vp);
	with_shm_region();
	return check_report("test_virtio_pci_caps");
}
