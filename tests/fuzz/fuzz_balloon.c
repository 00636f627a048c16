/*
 * libFuzzer harness for virtio-balloon (devices/balloon.c) driven as a
 * hostile guest drives it: descriptor tables, avail entries, PFN, stats
 * and report buffers, config writes, kicks, resets, interleaved with the
 * VMM's posted commands. Guest RAM is a memfd mapped MAP_SHARED, as the
 * VMM maps it, so MADV_REMOVE really punches pages.
 *
 * Beyond ASan/UBSan, after every step:
 *  - each new used entry names a head the driver made available (and
 *    not yet used), so the used index never runs ahead of the avail one;
 *  - RAM changed only in the used rings or by whole pages that now read
 *    as zero (punched);
 *  - every event the device posts decodes with balloon_dec_event, and
 *    config changes stay inside its 8 bytes.
 * A page holding an avail or used ring may be punched too (the guest can
 * name it): a canary there tells, and the used checks pause until reset.
 *
 * Input: struct input_hdr, then steps (enum step, then its bytes).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "boot/guest_mem.h"
#include "devices/balloon.h"
#include "devices/link_local.h"
#include "virtio/link_proto.h"
#include "vmm/log.h"

#define RAM		0x20000u
#define PAGE		4096u
#define NR_QUEUES	4
#define RING_PAGE(q)	((q) * PAGE)		/* avail at +0, used at +USED_OFF */
#define USED_OFF	0x400u
#define USED_AREA	0x808u			/* flags, idx, 128 entries, avail_event */
#define CANARY_OFF	0xff8u
#define DESC(q)		(4 * PAGE + (q) * 0x800u)	/* 128 descriptors each */
#define FIRST_FREE	(6 * PAGE)		/* buffers from here; the rest is rings */
#define MAX_HEADS	256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input_hdr {
	uint8_t features;	/* F_* below: what the driver acks */
	uint8_t cfg;		/* bit 0 free_page_reporting, bit 1 deflate_on_oom */
	uint8_t qsize_log[NR_QUEUES];
};

enum step {
	STEP_WRITE,		/* u16 offset / 2, u8 len, bytes: into buffer pages */
	STEP_DESC,		/* q, index, le32 addr, le16 len, flags, next */
	STEP_AVAIL,		/* q, head */
	STEP_KICK,		/* q */
	STEP_CONFIG,		/* off, len, 4 bytes */
	STEP_COMMAND,		/* op, le32 pages: posted, as balloon_ctl sends it */
	STEP_RAW_COMMAND,	/* len, bytes */
	STEP_RESET,		/* features */
	NR_STEPS
};

static const uint64_t feature_of[] = {
	1ull << VIRTIO_BALLOON_F_STATS_VQ, 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
	1ull << VIRTIO_BALLOON_F_REPORTING, 1ull << VIRTIO_RING_F_EVENT_IDX,
	1ull << VIRTIO_BALLOON_F_MUST_TELL_HOST, 1ull << VIRTIO_F_VERSION_1,
};

static struct guest_mem mem;
static uint8_t *ram;
static uint8_t shadow[RAM];	/* what RAM holds as far as the driver knows */
static struct vdev dev;
static struct link_local ll;
static uint8_t qsize_log[NR_QUEUES];

struct queue_state {
	uint16_t size, avail_idx, used_seen;
	unsigned outstanding;
	uint16_t made_available[MAX_HEADS];	/* per head: available, not yet used */
};

static struct queue_state qs[NR_QUEUES];
static bool rings_lost;		/* a ring page was punched: used checks paused */

static void guest_write(uint64_t off, const void *buf, size_t len)
{
	memcpy(ram + off, buf, len);
	memcpy(shadow + off, buf, len);
}

static void on_event(void *ctx, const void *buf, unsigned len)
{
	struct balloon_event_msg e;

	(void)ctx;
	if (balloon_dec_event(buf, len, RAM / BALLOON_PAGE_SIZE, &e))
		abort();
}

static void on_config(void *ctx, unsigned off, const void *buf, unsigned len)
{
	(void)ctx, (void)buf;
	if (off > 8 || len > 8 - off)
		abort();
}

static void on_failed(struct vdev *d, const char *why)
{
	(void)d, (void)why;
}

static bool in_used_area(uint64_t off)
{
	uint64_t in_page = off % PAGE;

	return off < NR_QUEUES * PAGE && in_page >= USED_OFF && in_page < USED_OFF + USED_AREA;
}

/* Fresh rings, as a driver lays them out before DRIVER_OK. */
static void set_up_rings(uint8_t features)
{
	static const uint64_t canary = 0xa5a5a5a5a5a5a5a5ull;
	struct vdev_link *link = &ll.link;
	uint64_t f = 0;

	for (unsigned q = 0; q < NR_QUEUES; q++) {
		uint8_t zero[CANARY_OFF] = { 0 };

		guest_write(RING_PAGE(q), zero, sizeof(zero));
		guest_write(RING_PAGE(q) + CANARY_OFF, &canary, sizeof(canary));
		memset(&qs[q], 0, sizeof(qs[q]));
	}
	rings_lost = false;
	for (unsigned q = 0; q < link->nr_queues; q++) {
		struct vdev_vring ring = {
			.size = (uint16_t)(1u << qsize_log[q] % 8),
			.desc = DESC(q), .avail = RING_PAGE(q), .used = RING_PAGE(q) + USED_OFF,
		};

		qs[q].size = ring.size;
		if (link->ops->set_vring(link, q, &ring))
			abort();
	}
	for (unsigned i = 0; i < sizeof(feature_of) / sizeof(feature_of[0]); i++)
		if (features & (1u << i))
			f |= feature_of[i];
	(void)link->ops->activate(link, f & link->features);
}

static bool canaries_intact(void)
{
	for (unsigned q = 0; q < NR_QUEUES; q++)
		if (memcmp(ram + RING_PAGE(q) + CANARY_OFF, shadow + RING_PAGE(q) + CANARY_OFF, 8))
			return false;
	return true;
}

/* Every used entry since the last check was a head made available. */
static void check_used(unsigned q)
{
	struct queue_state *s = &qs[q];
	const uint8_t *used = ram + RING_PAGE(q) + USED_OFF;
	uint16_t idx, delta;

	if (!s->size)
		return;
	memcpy(&idx, used + 2, 2);
	idx = le16toh(idx);
	delta = (uint16_t)(idx - s->used_seen);
	if (delta > s->outstanding)
		abort();
	for (; s->used_seen != idx; s->used_seen++) {
		uint32_t id;

		memcpy(&id, used + 4 + (s->used_seen % s->size) * 8, 4);
		id = le32toh(id);
		if (id >= MAX_HEADS || !s->made_available[id])
			abort();
		s->made_available[id]--;
		s->outstanding--;
	}
}

/* Outside the used rings, a page is as the driver left it, or punched. */
static void check_ram(void)
{
	for (uint64_t page = 0; page < RAM; page += PAGE) {
		bool zero = true, same = true;

		if (!memcmp(ram + page, shadow + page, PAGE))
			continue;
		for (uint64_t off = page; off < page + PAGE; off++) {
			if (in_used_area(off))
				continue;
			zero &= !ram[off];
			same &= ram[off] == shadow[off];
		}
		if (!same && !zero)
			abort();
		memcpy(shadow + page, ram + page, PAGE);
	}
}

static void check_device(void)
{
	if (!canaries_intact())
		rings_lost = true;
	if (!rings_lost)
		for (unsigned q = 0; q < ll.link.nr_queues; q++)
			check_used(q);
	check_ram();
}

static void make_available(unsigned q, uint8_t head)
{
	struct queue_state *s = &qs[q];
	uint16_t entry = htole16(head), idx;

	if (!s->size || s->outstanding >= s->size)
		return;		/* a driver has no more descriptors */
	guest_write(RING_PAGE(q) + 4 + (s->avail_idx % s->size) * 2u, &entry, 2);
	s->avail_idx++;
	idx = htole16(s->avail_idx);
	guest_write(RING_PAGE(q) + 2, &idx, 2);
	s->made_available[head]++;
	s->outstanding++;
}

static void kick(unsigned q)
{
	if (q < ll.link.nr_queues && write(ll.link.kick_fd[q], &(uint64_t){ 1 }, 8) != 8)
		abort();
	link_local_poll(&ll);
}

struct cursor {
	const uint8_t *p;
	size_t left;
};

static uint8_t byte(struct cursor *c)
{
	if (!c->left)
		return 0;
	c->left--;
	return *c->p++;
}

static uint32_t le(struct cursor *c, unsigned n)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)byte(c) << (8 * i);
	return v;
}

static void step_write(struct cursor *c)
{
	uint64_t off = (uint64_t)le(c, 2) * 2;
	uint8_t len = byte(c), buf[256];

	off = FIRST_FREE + off % (RAM - FIRST_FREE);
	for (unsigned i = 0; i < len; i++)
		buf[i] = byte(c);
	if (len > RAM - off)
		len = (uint8_t)(RAM - off);
	guest_write(off, buf, len);
}

static void step_desc(struct cursor *c)
{
	unsigned q = byte(c) % NR_QUEUES, i = byte(c) % 128;
	struct vring_desc d = { .addr = htole64(le(c, 4) % (RAM + PAGE)) };

	d.len = htole32(le(c, 2));
	d.flags = htole16(byte(c) & (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE | VRING_DESC_F_INDIRECT));
	d.next = htole16(byte(c));
	guest_write(DESC(q) + i * sizeof(d), &d, sizeof(d));
}

static void step_command(struct cursor *c, bool raw)
{
	uint8_t buf[LINK_DEVICE_MSG_MAX + 1], reply[LINK_DEVICE_REPLY_MAX];
	unsigned len, reply_len = sizeof(reply);

	if (raw) {
		len = byte(c) % sizeof(buf);
		for (unsigned i = 0; i < len; i++)
			buf[i] = byte(c);
		(void)link_local_command(&ll, buf, len, reply, &reply_len);
		return;
	}
	struct balloon_cmd cmd = { htole32(byte(c) % 3), htole32(le(c, 4)) };

	(void)ll.link.ops->post(&ll.link, &cmd, sizeof(cmd));
}

static void step(struct cursor *c)
{
	uint8_t cfg[4];
	unsigned off, len;

	switch (byte(c) % NR_STEPS) {
	case STEP_WRITE:
		step_write(c);
		break;
	case STEP_DESC:
		step_desc(c);
		break;
	case STEP_AVAIL:
		off = byte(c) % NR_QUEUES;
		make_available(off, byte(c));
		break;
	case STEP_KICK:
		kick(byte(c) % NR_QUEUES);
		break;
	case STEP_CONFIG:
		off = byte(c) % 12;
		len = byte(c) % 9;
		for (unsigned i = 0; i < 4; i++)
			cfg[i] = byte(c);
		(void)ll.link.ops->set_config(&ll.link, off, cfg, len > 4 ? 4 : len);
		break;
	case STEP_COMMAND:
		step_command(c, false);
		break;
	case STEP_RAW_COMMAND:
		step_command(c, true);
		break;
	case STEP_RESET:
		ll.link.ops->reset(&ll.link);
		check_device();		/* what the device did up to the reset */
		set_up_rings(byte(c));
		break;
	}
	check_device();
}

static void map_ram(void)
{
	int fd = memfd_create("fuzz-balloon-ram", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, RAM))
		abort();
	ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ram == MAP_FAILED)
		abort();
	close(fd);
	guest_mem_layout(&mem, ram, RAM);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdev_up up = { .event = on_event, .config_changed = on_config };
	struct cursor c = { data, size };
	struct device_env env = { .vm_name = "fuzz", .mem = &mem, .ram_bytes = RAM,
				  .rundir_fd = -1, .command_fd = -1, .vsock_fd = -1 };
	struct balloon_config cfg;
	struct input_hdr hdr;
	char err[160];

	log_set_level(LOG_ERROR);
	if (!ram)
		map_ram();
	if (size < sizeof(hdr))
		return 0;
	memcpy(&hdr, data, sizeof(hdr));
	c.p += sizeof(hdr);
	c.left -= sizeof(hdr);
	memcpy(qsize_log, hdr.qsize_log, sizeof(qsize_log));
	cfg = (struct balloon_config){ .free_page_reporting = hdr.cfg & 1,
				       .deflate_on_oom = hdr.cfg & 2 };
	memset(ram, 0, RAM);
	memset(shadow, 0, RAM);
	if (balloon_kind.create(&dev, "balloon0", &env, &cfg, NULL, err, sizeof(err)))
		abort();
	dev.failed = on_failed;
	if (link_local_init(&ll, &dev))
		abort();
	link_local_set_up(&ll, &up);
	set_up_rings(hdr.features);
	while (c.left)
		step(&c);
	link_local_destroy(&ll);
	vdev_destroy(&dev);
	return 0;
}
