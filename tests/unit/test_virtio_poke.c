/*
 * virtio-poke's driver steps (tests/guest/virtio_poke.c, included here with
 * its MMIO routed to virtio_pci_bar_access) against our transport with a
 * fake balloon-shaped device: what the device sees of the negotiation,
 * the queue and the notify, the ring bytes it would read, and the exit
 * status from its answer or NEEDS_RESET. The sysfs and pagemap parts need
 * a guest (linux_balloon.sh).
 */
#include <sys/eventfd.h>
#include <unistd.h>

#include "check.h"
#include "vmm/log.h"
#include "vmm/virtio_pci.h"

static struct virtio_pci vp;
static uint8_t fake_bar[0x8000];	/* only its addresses: offsets into BAR 0 */

static void bar_access(volatile uint8_t *p, void *v, unsigned len, bool is_write)
{
	virtio_pci_bar_access(&vp, (uint64_t)(p - fake_bar), v, len, is_write);
}

#define VIRTIO_POKE_TEST_MMIO
static void w8(volatile uint8_t *p, uint8_t v) { bar_access(p, &v, 1, true); }
static void w16(volatile uint8_t *p, uint16_t v) { bar_access(p, &v, 2, true); }
static void w32(volatile uint8_t *p, uint32_t v) { bar_access(p, &v, 4, true); }
static uint8_t r8(volatile uint8_t *p) { uint8_t v; bar_access(p, &v, 1, false); return v; }
static uint16_t r16(volatile uint8_t *p) { uint16_t v; bar_access(p, &v, 2, false); return v; }
static uint32_t r32(volatile uint8_t *p) { uint32_t v; bar_access(p, &v, 4, false); return v; }

#define main virtio_poke_main
int virtio_poke_main(int argc, char **argv);	/* the program's; unused here */
#include "tests/guest/virtio_poke.c"
#undef main

static struct {
	unsigned set_vring, features_ok, activate;
	unsigned q;
	struct vdev_vring ring;
	uint64_t ok_features, active_features;
} fake;

static int fake_set_config(struct vdev_link *l, unsigned off, const void *buf, unsigned len)
{
	return 0;
}

static int fake_set_vring(struct vdev_link *l, unsigned q, const struct vdev_vring *ring)
{
	fake.set_vring++;
	fake.q = q;
	fake.ring = *ring;
	return 0;
}

static int fake_features_ok(struct vdev_link *l, uint64_t features)
{
	fake.features_ok++;
	fake.ok_features = features;
	return 0;
}

static int fake_activate(struct vdev_link *l, uint64_t features)
{
	fake.activate++;
	fake.active_features = features;
	return 0;
}

static int fake_reset(struct vdev_link *l)
{
	return 0;
}

static const struct vdev_link_ops fake_ops = {
	.set_config = fake_set_config, .set_vring = fake_set_vring,
	.features_ok = fake_features_ok, .activate = fake_activate, .reset = fake_reset,
};

/* virtio-balloon's shape: three queues of 128, MUST_TELL_HOST and STATS_VQ. */
static struct vdev_link fake_link = {
	.ops = &fake_ops, .name = "balloon0", .device_id = 5, .features = 1 | 2,
	.nr_queues = 3, .max_queue_size = 128, .config_size = 8,
};

static void set_used_idx(uint8_t *ring, uint16_t idx)
{
	memcpy(ring + USED_AT + 2, &idx, 2);
}

/* The bytes the device reads: descriptor 0 with the PFNs, avail idx 1. */
static void check_ring(const uint8_t *ring, uint64_t pa)
{
	static const uint8_t pfns[] = { 0x00, 0xf0, 0xff, 0xff, 0xf0, 0xff, 0xff, 0x7f };
	struct vring_desc_le desc;
	uint16_t avail[3];

	memcpy(&desc, ring + DESC_AT, sizeof(desc));
	CHECK_EQ(desc.addr, pa + BUF_AT);
	CHECK_EQ(desc.len, sizeof(pfns));
	CHECK_EQ(desc.flags, 0);				/* device-readable */
	memcpy(avail, ring + AVAIL_AT, sizeof(avail));
	CHECK_EQ(avail[1], 1);
	CHECK_EQ(avail[2], 0);
	CHECK(!memcmp(ring + BUF_AT, pfns, sizeof(pfns)));
}

int main(void)
{
	static uint8_t ring_mem[PAGE];
	static struct msi_routes routes;
	static struct kvm kvm = { .vm_fd = -1, .sys_fd = -1 };
	static struct device d;
	struct ring r = { .va = ring_mem, .pa = 0x107654000 };	/* both address halves */
	struct ring r2 = { .va = ring_mem, .pa = 0x2000 };
	char *args[] = { "0xfffff000", "0x7ffffff0" };
	const char *why;
	uint64_t count;
	int len;

	log_set_level(LOG_ERROR);	/* no KVM here: routing ioctls fail quietly */
	for (unsigned q = 0; q < fake_link.nr_queues; q++) {
		fake_link.kick_fd[q] = eventfd(0, EFD_NONBLOCK);
		fake_link.call_fd[q] = eventfd(0, EFD_NONBLOCK);
	}
	msi_routes_init(&routes, &kvm);
	CHECK_EQ(virtio_pci_init(&vp, &fake_link, NULL, &routes), 0);

	/* What parse_config and in_window do, with BAR 0 "mapped". */
	CHECK_EQ(virtio_pci_parse_caps(vp.pci.config, 256, &d.layout, &why), 0);
	d.bar[0] = fake_bar;
	d.bar_size[0] = sizeof(fake_bar);
	d.common = in_window(&d, &d.layout.common, 0, sizeof(struct virtio_pci_common_cfg), "common");

	/* VERSION_1 only, though the device offers more. */
	negotiate(&d, 0);
	CHECK_EQ(fake.features_ok, 1);
	CHECK_EQ(fake.ok_features, 1ull << VIRTIO_F_VERSION_1);
	CHECK_EQ(status(&d), 0x0b);

	/* Queue 2 first: its notify address is queue_notify_off times the
	 * multiplier into the notify window. */
	setup_queue(&d, 2, &r2);
	CHECK_EQ(fake.q, 2);
	w16(d.notify, 2);
	CHECK_EQ(read(fake_link.kick_fd[2], &count, 8), 8);
	CHECK_EQ(read(fake_link.kick_fd[0], &count, 8), -1);
	setup_queue(&d, 0, &r);
	CHECK_EQ(fake.set_vring, 2);
	CHECK_EQ(fake.q, 0);
	CHECK_EQ(fake.ring.size, QUEUE_SIZE);
	CHECK_EQ(fake.ring.desc, r.pa + DESC_AT);
	CHECK_EQ(fake.ring.avail, r.pa + AVAIL_AT);
	CHECK_EQ(fake.ring.used, r.pa + USED_AT);
	add_status(&d, VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK_EQ(fake.activate, 1);
	CHECK_EQ(fake.active_features, 1ull << VIRTIO_F_VERSION_1);
	CHECK_EQ(status(&d), 0x0f);

	len = build_pfns(2, args, ring_mem + BUF_AT, PAGE - BUF_AT);
	CHECK_EQ(len, 8);
	post(&d, 0, &r, (uint32_t)len);
	check_ring(ring_mem, r.pa);
	CHECK_EQ(read(fake_link.kick_fd[0], &count, 8), 8);	/* queue 0's notify */
	CHECK_EQ(read(fake_link.kick_fd[1], &count, 8), -1);
	CHECK_EQ(read(fake_link.kick_fd[2], &count, 8), -1);

	/* The device answers: exit 0; NEEDS_RESET with or without an answer: 3. */
	set_used_idx(ring_mem, 1);
	CHECK_EQ(await_used(&d, &r), 0);
	vdev_link_needs_reset(&fake_link, "test");
	CHECK_EQ(await_used(&d, &r), EXIT_NEEDS_RESET);
	set_used_idx(ring_mem, 0);
	CHECK_EQ(await_used(&d, &r), EXIT_NEEDS_RESET);

	/* Arguments that are not 32-bit PFNs build nothing. */
	CHECK_EQ(build_pfns(1, (char *[]){ "0x100000000" }, ring_mem + BUF_AT, PAGE - BUF_AT), -1);
	CHECK_EQ(build_pfns(1, (char *[]){ "12x" }, ring_mem + BUF_AT, PAGE - BUF_AT), -1);
	CHECK_EQ(build_pfns(0, args, ring_mem + BUF_AT, PAGE - BUF_AT), -1);
	CHECK_EQ(build_pfns(2, args, ring_mem + BUF_AT, 4), -1);
	virtio_pci_destroy(&vp);
	return check_report("test_virtio_poke");
}
