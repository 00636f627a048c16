/*
 * virtio-balloon end to end in one process: the transport, a local link,
 * the model, and guest RAM in a memfd mapped MAP_SHARED as the VMM maps it,
 * driven like Linux's driver (queues inflate 0, deflate 1, stats 2,
 * reporting 3). Checks that inflated and reported pages really leave the
 * memfd (st_blocks, and zeroes read back), that PFNs outside guest RAM are
 * refused without breaking the device, the stats round trip, the target in
 * config, "actual" and deflate-on-OOM events, and hostile commands.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "boot/guest_mem.h"
#include "check.h"
#include "devices/balloon.h"
#include "devices/link_local.h"
#include "log_capture.h"
#include "tests/unit/fake_driver.h"
#include "virtio/link_proto.h"
#include "vmm/log.h"
#include "vmm/virtio_pci.h"

#define RAM (8 * MIB)
#define QSIZE 8
#define NR_QUEUES 4
#define QUEUE_AREA(q) (0x1000 + (q) * 0x3000)	/* fake_vq_bytes(QSIZE) each */
#define PFN_BUF 0x10000
#define STATS_BUF 0x11000
#define VICTIM 0x200000				/* 1 MiB of pages to balloon */
#define VICTIM_LEN (1 * MIB)
#define REPORTED 0x400000			/* 512 KiB the guest frees and reports */
#define REPORTED_LEN (512 * 1024)
#define BAR_DEVICE 0x2000
#define BAR_NOTIFY 0x3000

enum { Q_INFLATE, Q_DEFLATE, Q_STATS, Q_REPORT };

static struct virtio_pci vp;
static struct link_local ll;
static uint8_t *ram;
static struct fake_vq vqs[NR_QUEUES];
static int ram_fd;

/* What the device sent up. */
static struct balloon_event_msg last_event;
static unsigned nr_events, config_changes;

static struct balloon_event_msg first_stats;

/* A hostile guest that adds a buffer each time the device answers one:
 * its avail index stays ahead of the device for FLOOD_REFILLS buffers. */
#define FLOOD_REFILLS (10 * QSIZE)
static int flood_q = -1;
static unsigned flood_refills;
static void refill(unsigned q);

static void on_event(void *ctx, const void *buf, unsigned len)
{
	(void)ctx;
	CHECK_EQ(balloon_dec_event(buf, len, RAM / 4096, &last_event), 0);
	if (last_event.kind == BALLOON_EV_STATS && !first_stats.kind)
		first_stats = last_event;
	nr_events++;
	if (flood_q >= 0 && flood_refills < FLOOD_REFILLS) {
		flood_refills++;
		refill((unsigned)flood_q);
	}
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
	tag = htole16(tag);
	val = htole64(val);
	memcpy(p, &tag, 2);
	memcpy(p + 2, &val, 8);
}


static void on_config(void *ctx, unsigned off, const void *buf, unsigned len)
{
	(void)ctx;
	CHECK_EQ(virtio_pci_config_changed(&vp, off, buf, len), 0);
	config_changes++;
}

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

/* How many buffers the device has used on queue q. */
static uint16_t used_of(unsigned q)
{
	return fake_vq_used_idx(&vqs[q]);
}

/* One buffer on queue q, as the driver adds it, then a kick and a poll. */
static void post(unsigned q, uint64_t addr, uint32_t len, bool writable)
{
	fake_vq_post(&vqs[q], &(struct fake_buf){ addr, len, writable }, 1);
	wr(BAR_NOTIFY + q * 4, 2, q);
	link_local_poll(&ll);
}

static void refill(unsigned q)
{
	fake_vq_post(&vqs[q], &(struct fake_buf){ q == Q_STATS ? STATS_BUF : PFN_BUF,
						  q == Q_STATS ? 10 : 4, false }, 1);
}

static void post_pfns(unsigned q, const uint32_t *pfns, unsigned n)
{
	memcpy(ram + PFN_BUF, pfns, n * 4);
	post(q, PFN_BUF, n * 4, false);
}

static void start_driver(uint64_t features)
{
	wr(VIRTIO_PCI_COMMON_STATUS, 1, 3);
	wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	wr(VIRTIO_PCI_COMMON_GF, 4, (uint32_t)features);
	wr(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	wr(VIRTIO_PCI_COMMON_GF, 4, 1);		/* VERSION_1 */
	wr(VIRTIO_PCI_COMMON_STATUS, 1, 0x0b);
	for (unsigned q = 0; q < NR_QUEUES; q++) {
		fake_vq_init(&vqs[q], ram, QUEUE_AREA(q), QSIZE);
		wr(VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		wr(VIRTIO_PCI_COMMON_Q_SIZE, 2, QSIZE);
		wr(VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)vqs[q].desc);
		wr(VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)vqs[q].avail);
		wr(VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)vqs[q].used);
		wr(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	}
	/* As Linux does: the first stats buffer is added and kicked before
	 * DRIVER_OK, while the device is not yet live. */
	put_stat(ram + STATS_BUF, VIRTIO_BALLOON_S_MEMFREE, 111 * 4096);
	put_stat(ram + STATS_BUF + 10, 4242, 7);			/* unknown: ignored */
	put_stat(ram + STATS_BUF + 20, 65535, 5 * 4096);		/* unevictable */
	post(Q_STATS, STATS_BUF, 30, false);
	wr(VIRTIO_PCI_COMMON_STATUS, 1, 0x0f);
}

static long long blocks(void)
{
	struct stat st;

	return fstat(ram_fd, &st) ? -1 : (long long)st.st_blocks;
}

static bool all_zero(uint64_t gpa, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (ram[gpa + i])
			return false;
	return true;
}

static int command(uint32_t op, uint32_t pages)
{
	struct balloon_cmd c = { htole32(op), htole32(pages) };
	uint8_t reply[LINK_DEVICE_REPLY_MAX];
	unsigned reply_len = sizeof(reply);

	return link_local_command(&ll, &c, sizeof(c), reply, &reply_len);
}

/* Inflate punches pages out of the memfd; a bad PFN is refused and logged,
 * and the device goes on working. */
static void test_inflate(void)
{
	static uint32_t pfns[VICTIM_LEN / 4096];
	struct log_capture cap;
	long long before;
	char *log;

	memset(ram + VICTIM, 0xa5, VICTIM_LEN);
	before = blocks();
	for (unsigned i = 0; i < VICTIM_LEN / 4096; i++)	/* descending, as runs */
		pfns[i] = (VICTIM + VICTIM_LEN) / 4096 - 1 - i;
	post_pfns(Q_INFLATE, pfns, 128);
	post_pfns(Q_INFLATE, pfns + 128, 128);
	CHECK_EQ(used_of(Q_INFLATE), 2);
	/* Blocks first: reading a hole of a memfd allocates a page again. */
	CHECK(before - blocks() >= (long long)(VICTIM_LEN / 512 * 8 / 10));	/* >= 80% returned */
	CHECK(all_zero(VICTIM, VICTIM_LEN));

	log_capture_begin(&cap);
	memset(ram + 0x300000, 0x5a, 4096);
	pfns[0] = RAM / 4096;			/* just past RAM */
	pfns[1] = 0xffffffffu;
	pfns[2] = 0x300000 / 4096;		/* a good one in the same request */
	post_pfns(Q_INFLATE, pfns, 3);
	log = log_capture_end(&cap);
	CHECK(strstr(log, "outside guest RAM refused") != NULL);
	free(log);
	CHECK_EQ(used_of(Q_INFLATE), 3);
	CHECK(all_zero(0x300000, 4096));
	CHECK(ll.dev->active);
	CHECK_EQ(rd(VIRTIO_PCI_COMMON_STATUS, 1), 0x0f);	/* no NEEDS_RESET */
}

static void test_target_and_actual(void)
{
	uint32_t actual = htole32(257);
	unsigned changes = config_changes;

	CHECK_EQ(command(BALLOON_CMD_SET_TARGET, 300), 0);
	CHECK_EQ(config_changes, changes + 1);
	CHECK_EQ(rd(BAR_DEVICE, 4), 300);		/* num_pages, as the guest reads it */
	CHECK_EQ(command(BALLOON_CMD_SET_TARGET, RAM / 4096 + 1), -EINVAL);
	CHECK_EQ(rd(BAR_DEVICE, 4), 300);

	virtio_pci_bar_access(&vp, BAR_DEVICE + 4, (uint8_t *)&actual, 4, true);
	CHECK_EQ(last_event.kind, BALLOON_EV_ACTUAL);
	CHECK_EQ(last_event.arg, 257);
	CHECK_EQ(rd(BAR_DEVICE + 4, 4), 257);
	/* num_pages is the device's; actual more than RAM is refused. */
	wr(BAR_DEVICE, 4, 5);
	CHECK_EQ(rd(BAR_DEVICE, 4), 300);
	wr(BAR_DEVICE + 4, 4, RAM / 4096 + 1);
	CHECK_EQ(rd(BAR_DEVICE + 4, 4), 257);
}

/* Deflating below the host's target is the guest's own doing: an event. */
static void test_deflate(void)
{
	uint32_t pfns[] = { VICTIM / 4096, VICTIM / 4096 + 1 };
	unsigned events = nr_events;

	CHECK_EQ(command(BALLOON_CMD_SET_TARGET, 256), 0);	/* 257 inflated */
	post_pfns(Q_DEFLATE, pfns, 1);				/* down to target: asked for */
	CHECK_EQ(used_of(Q_DEFLATE), 1);
	CHECK_EQ(nr_events, events);
	post_pfns(Q_DEFLATE, pfns + 1, 1);			/* below it: OOM */
	CHECK_EQ(nr_events, events + 1);
	CHECK_EQ(last_event.kind, BALLOON_EV_DEFLATED_ON_OOM);
	CHECK_EQ(last_event.arg, 255);
}

/* The guest's first buffer carries real stats; a request gives it back. */
static void test_stats(void)
{
	uint8_t *s = ram + STATS_BUF;

	/* Kicked before DRIVER_OK (start_driver), taken at DRIVER_OK. */
	CHECK_EQ(first_stats.kind, BALLOON_EV_STATS);
	CHECK_EQ(first_stats.arg, 1u << 4 | 1u << 11);
	CHECK_EQ(first_stats.values[4], 111 * 4096);
	CHECK_EQ(first_stats.values[11], 5 * 4096);
	CHECK_EQ(used_of(Q_STATS), 0);				/* held */

	CHECK_EQ(command(BALLOON_CMD_REQUEST_STATS, 0), 0);
	CHECK_EQ(used_of(Q_STATS), 1);				/* returned */
	CHECK_EQ(command(BALLOON_CMD_REQUEST_STATS, 0), -EAGAIN);	/* not refilled yet */
	put_stat(s, VIRTIO_BALLOON_S_MEMFREE, 222 * 4096);
	post(Q_STATS, STATS_BUF, 15, false);				/* a torn entry: logged */
	CHECK_EQ(last_event.kind, BALLOON_EV_STATS);
	CHECK_EQ(last_event.arg, 1u << 4);
	CHECK_EQ(last_event.values[4], 222 * 4096);
}

/*
 * Linux 6.12 sends tags 10..15 (newer uapi headers, VIRTIO_BALLOON_S_NR
 * 16): ignored, and nothing lands past the table; crosvm's 65534/65535
 * land in their own slots.
 */
static void test_stats_newer_tags(void)
{
	static const uint16_t tags[] = { 10, 11, 12, 13, 14, 15, 16, 65533, 65534, 65535, 4 };
	uint8_t *s = ram + STATS_BUF;
	unsigned n = sizeof(tags) / sizeof(tags[0]);

	CHECK_EQ(command(BALLOON_CMD_REQUEST_STATS, 0), 0);	/* give the held one back */
	for (unsigned i = 0; i < n; i++)
		put_stat(s + 10 * i, tags[i], 1000 + i);
	post(Q_STATS, STATS_BUF, 10 * n, false);
	CHECK_EQ(last_event.kind, BALLOON_EV_STATS);
	CHECK_EQ(last_event.arg, 1u << BALLOON_FREE_MEMORY | 1u << BALLOON_SHARED_MEMORY |
				 1u << BALLOON_UNEVICTABLE_MEMORY);
	CHECK_EQ(last_event.values[BALLOON_SHARED_MEMORY], 1008);
	CHECK_EQ(last_event.values[BALLOON_UNEVICTABLE_MEMORY], 1009);
	CHECK_EQ(last_event.values[BALLOON_FREE_MEMORY], 1010);
	for (unsigned i = 0; i < BALLOON_NR_SPEC_TAGS; i++)
		if (i != BALLOON_FREE_MEMORY)
			CHECK_EQ(last_event.values[i], 0);
	CHECK(ll.dev->active);
}

/* Free page reporting: each writable buffer is a free range; it is punched. */
static void test_report(void)
{
	long long before;

	memset(ram + REPORTED, 0x77, REPORTED_LEN);
	before = blocks();
	post(Q_REPORT, REPORTED, REPORTED_LEN, true);
	CHECK_EQ(used_of(Q_REPORT), 1);
	CHECK(before - blocks() >= (long long)(REPORTED_LEN / 512 * 8 / 10));
	CHECK(all_zero(REPORTED, REPORTED_LEN));
}

static void test_hostile_commands(void)
{
	uint8_t junk[LINK_DEVICE_MSG_MAX] = { 9 }, reply[8];
	unsigned reply_len = sizeof(reply);
	struct balloon_event_msg e;
	uint32_t bad[4] = { htole32(BALLOON_EV_ACTUAL), htole32(RAM / 4096 + 1) };

	CHECK_EQ(link_local_command(&ll, junk, 8, reply, &reply_len), -EINVAL);
	CHECK_EQ(link_local_command(&ll, junk, 7, reply, &reply_len), -EINVAL);
	CHECK_EQ(link_local_command(&ll, junk, 0, reply, &reply_len), -EINVAL);
	CHECK_EQ(link_local_command(&ll, junk, sizeof(junk) + 1, reply, &reply_len), -EINVAL);
	/* The VMM's decoder of the device's events. */
	CHECK_EQ(balloon_dec_event(bad, 8, RAM / 4096, &e), -EINVAL);	/* more than RAM */
	bad[1] = htole32(1);
	CHECK_EQ(balloon_dec_event(bad, 8, RAM / 4096, &e), 0);
	CHECK_EQ(balloon_dec_event(bad, 12, RAM / 4096, &e), -EINVAL);	/* wrong size */
	bad[0] = htole32(BALLOON_EV_STATS);
	CHECK_EQ(balloon_dec_event(bad, 8, RAM / 4096, &e), -EINVAL);
	bad[0] = htole32(99);
	CHECK_EQ(balloon_dec_event(bad, 8, RAM / 4096, &e), -EINVAL);
}

/*
 * One notify serves at most a queue's worth of a self-refilling ring, and
 * the device kicks the queue itself for the rest: the loop gets back to
 * its control ring in between, and every buffer is still served.
 */
static void flood(unsigned q)
{
	uint16_t before = used_of(q);
	uint64_t kicked = 0;
	unsigned rounds = 0;

	flood_q = (int)q;
	flood_refills = 0;
	refill(q);
	ll.dev->ops->notify(ll.dev, q);		/* one notify, as the loop makes it */
	CHECK((uint16_t)(used_of(q) - before) <= QSIZE);
	/* Nobody else kicked: the device did, for the rest. */
	CHECK_EQ(read(ll.link.kick_fd[q], &kicked, sizeof(kicked)), sizeof(kicked));
	CHECK(kicked >= 1);
	for (; rounds < 4 * FLOOD_REFILLS && flood_refills < FLOOD_REFILLS; rounds++) {
		CHECK_EQ(write(ll.link.kick_fd[q], &(uint64_t){ 1 }, 8), 8);
		link_local_poll(&ll);
	}
	link_local_poll(&ll);
	flood_q = -1;
	CHECK_EQ(flood_refills, FLOOD_REFILLS);
	CHECK(ll.dev->active);
	CHECK_EQ(rd(VIRTIO_PCI_COMMON_STATUS, 1), 0x0f);
}

static void test_flood(void)
{
	uint32_t pfn = htole32(VICTIM / 4096);

	memcpy(ram + PFN_BUF, &pfn, 4);
	flood(Q_DEFLATE);	/* each below the target: a DEFLATED_ON_OOM event */
	put_stat(ram + STATS_BUF, VIRTIO_BALLOON_S_MEMFREE, 4096);
	flood(Q_STATS);		/* each: a STATS event */
}

/* A reset gives the guest its RAM back: "actual" is 0 for the VMM and in
 * the config the transport serves; the host's target stays. */
static void test_reset(void)
{
	unsigned changes = config_changes;

	CHECK(rd(BAR_DEVICE + 4, 4) != 0);
	wr(VIRTIO_PCI_COMMON_STATUS, 1, 0);
	CHECK_EQ(last_event.kind, BALLOON_EV_ACTUAL);
	CHECK_EQ(last_event.arg, 0);
	CHECK(config_changes > changes);
	CHECK_EQ(rd(BAR_DEVICE + 4, 4), 0);
	CHECK_EQ(rd(BAR_DEVICE, 4), 256);
}

int main(void)
{
	static struct kvm kvm = { .vm_fd = -1, .sys_fd = -1 };
	static struct msi_routes routes;
	static struct vdev dev;
	struct balloon_config cfg = { .free_page_reporting = true, .deflate_on_oom = true,
				      .stats_interval = 2 };
	struct device_grant grant = { 0 };
	struct guest_mem mem;
	struct device_env env = { .mem = &mem };
	char err[128];

	log_set_level(LOG_WARN);
	ram_fd = memfd_create("test-balloon-ram", MFD_CLOEXEC);
	CHECK(ram_fd >= 0 && !ftruncate(ram_fd, RAM));
	ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
	CHECK(ram != MAP_FAILED);
	guest_mem_layout(&mem, ram, RAM);
	msi_routes_init(&routes, &kvm);
	CHECK_EQ(balloon_kind.create(&dev, "balloon0", &env, &cfg, &grant, err, sizeof(err)), 0);
	CHECK_EQ(dev.ops->nr_queues, NR_QUEUES);
	CHECK_EQ(link_local_init(&ll, &dev), 0);
	link_local_set_up(&ll, &(struct vdev_up){ on_event, on_config, NULL });
	CHECK_EQ(virtio_pci_init(&vp, &ll.link, NULL, &routes), 0);
	CHECK_EQ(vp.pci.config[2] | vp.pci.config[3] << 8, 0x1045);

	start_driver(1u << VIRTIO_BALLOON_F_MUST_TELL_HOST | 1u << VIRTIO_BALLOON_F_STATS_VQ |
		     1u << VIRTIO_BALLOON_F_DEFLATE_ON_OOM | 1u << VIRTIO_BALLOON_F_REPORTING);
	CHECK_EQ(rd(VIRTIO_PCI_COMMON_STATUS, 1), 0x0f);
	test_inflate();
	test_target_and_actual();
	test_deflate();
	test_stats();
	test_stats_newer_tags();
	test_report();
	test_hostile_commands();
	test_flood();
	test_reset();

	virtio_pci_destroy(&vp);
	link_local_destroy(&ll);
	vdev_destroy(&dev);
	munmap(ram, RAM);
	close(ram_fd);
	return check_report("test_balloon");
}
