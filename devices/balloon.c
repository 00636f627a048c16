/*
 * virtio-balloon (virtio 1.2, 5.5): the guest gives pages back to the host
 * (inflate), takes them again (deflate), reports its memory stats and,
 * with free page reporting, hands over pages it freed on its own. Pages
 * given back are punched out of the guest-RAM memfd (MADV_REMOVE on the
 * inherited MAP_SHARED mapping), so the host gets the memory back; a
 * later guest access faults in a zeroed page.
 *
 * Queue indices: Linux numbers only the queues whose feature was
 * negotiated (inflate, deflate, then stats, free-page-hint, reporting as
 * present), so with STATS_VQ + REPORTING and no FREE_PAGE_HINT (never
 * offered here) reporting is queue 3, and queue 2 without STATS_VQ.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_ids.h>

#include "devices/balloon.h"
#include "devices/device_process.h"
#include "virtio/iov.h"
#include "vmm/log.h"

#define BALLOON_QUEUE_SIZE 128
#define BALLOON_CONFIG_SIZE 8		/* num_pages, actual */
#define BALLOON_MAX_PFNS 1024		/* per request; Linux sends at most 256 */
#define STAT_SIZE 10			/* struct virtio_balloon_stat: le16 tag, le64 val */
/* A guest's stats buffer may be any size: entries past these are not read
 * (Linux sends 16 at most; the bound keeps a huge chain from holding the loop). */
#define STATS_MAX_BYTES (64 * STAT_SIZE)
#define QUEUE_NONE -1

/* The spec's tags 0..9 are enum balloon_stat's first indices, whatever
 * VIRTIO_BALLOON_S_NR the system's headers have (16 in newer ones). */
static_assert(VIRTIO_BALLOON_S_SWAP_IN == BALLOON_SWAP_IN &&
	      VIRTIO_BALLOON_S_MEMFREE == BALLOON_FREE_MEMORY &&
	      VIRTIO_BALLOON_S_AVAIL == BALLOON_AVAILABLE_MEMORY &&
	      VIRTIO_BALLOON_S_HTLB_PGFAIL + 1 == BALLOON_NR_SPEC_TAGS, "stat tags");

struct balloon {
	struct vdev_ops ops;		/* features depend on the config */
	struct balloon_config cfg;
	uint32_t ram_pages;		/* guest RAM in 4 KiB pages */
	uint32_t num_pages;		/* the target (config, device-written) */
	uint32_t actual;		/* config, driver-written */
	uint32_t inflated;		/* pages the driver put in, less those it took back */
	int q_inflate, q_deflate, q_stats, q_report;
	bool stats_held;		/* the guest's stats buffer, kept until a request */
	uint16_t stats_head;
	uint32_t pfns[BALLOON_MAX_PFNS];
	struct virtq_chain chain;
};

static struct balloon *of(struct vdev *dev)
{
	return dev->priv;
}

static bool negotiated(const struct vdev *dev, unsigned bit)
{
	return dev->features & (1ull << bit);
}

/* Gives host memory of guest RAM back to the host (punched out of the memfd). */
static void punch(struct vdev *dev, void *host, size_t len)
{
	if (madvise(host, len, MADV_REMOVE))
		log_ratelimited(LOG_WARN, "%s: MADV_REMOVE of %zu bytes: %s", dev->name, len,
				strerror(errno));
}

/* The chain's PFNs (le32), at most BALLOON_MAX_PFNS; the count. */
static unsigned read_pfns(struct vdev *dev, struct balloon *b)
{
	struct virtq_chain *c = &b->chain;
	size_t bytes = iov_to_buf(c->iov, c->nr_out, 0, b->pfns, sizeof(b->pfns));

	if (c->out_len > sizeof(b->pfns) || c->out_len % 4)
		log_ratelimited(LOG_WARN, "%s: PFN buffer of %llu bytes; taking %zu PFNs",
				dev->name, (unsigned long long)c->out_len, bytes / 4);
	for (size_t i = 0; i < bytes / 4; i++)
		b->pfns[i] = le32toh(b->pfns[i]);
	return (unsigned)(bytes / 4);
}

/* Consecutive PFNs as one run, each checked against guest RAM and punched
 * (inflate); the number of pages accepted. */
static uint32_t take_pfns(struct vdev *dev, struct balloon *b, unsigned n, bool inflate)
{
	uint32_t accepted = 0;

	for (unsigned i = 0; i < n;) {
		uint64_t first = b->pfns[i];
		unsigned run = 1;

		while (i + run < n && b->pfns[i + run] == first + run)
			run++;
		size_t len = (size_t)run * BALLOON_PAGE_SIZE;
		void *host = guest_mem_ptr(dev->mem, first * BALLOON_PAGE_SIZE, len);

		if (!host) {
			log_ratelimited(LOG_WARN, "%s: %s of PFNs %#llx+%u outside guest RAM refused",
					dev->name, inflate ? "inflate" : "deflate",
					(unsigned long long)first, run);
		} else {
			if (inflate)
				punch(dev, host, len);
			accepted += run;
		}
		i += run;
	}
	return accepted;
}

static void post_pages(struct vdev *dev, uint32_t kind, uint32_t pages)
{
	struct balloon_event_msg e = { .kind = htole32(kind), .arg = htole32(pages) };

	vdev_post_event(dev, &e, BALLOON_EVENT_HDR);
}

/*
 * The host asked for a deflate only while the balloon is above its target:
 * pages taken back below it were taken under memory pressure (the Linux
 * driver's OOM notifier, with DEFLATE_ON_OOM).
 */
static void count_deflate(struct vdev *dev, struct balloon *b, uint32_t pages)
{
	b->inflated = pages < b->inflated ? b->inflated - pages : 0;
	if (pages && b->inflated < b->num_pages && negotiated(dev, VIRTIO_BALLOON_F_DEFLATE_ON_OOM))
		post_pages(dev, BALLOON_EV_DEFLATED_ON_OOM, b->inflated);
}

/*
 * Each notify serves at most a queue's worth of chains: a guest that keeps
 * its avail index ahead would hold the loop, and the control messages
 * behind it, for ever. The rest is served from a kick of our own.
 */
static int pop_budgeted(struct vdev *dev, struct balloon *b, unsigned q, unsigned *served)
{
	struct vdev_queue *vq = &dev->queues[q];

	if (*served == vq->vq.size) {
		vdev_requeue(dev, q);
		return 0;
	}
	(*served)++;
	return virtq_pop(&vq->vq, dev->mem, &b->chain);
}

static void serve_pfns(struct vdev *dev, struct balloon *b, unsigned q, bool inflate)
{
	struct vdev_queue *vq = &dev->queues[q];
	unsigned served = 0;
	int rc;

	while ((rc = pop_budgeted(dev, b, q, &served)) > 0) {
		uint32_t pages = take_pfns(dev, b, read_pfns(dev, b), inflate);

		if (inflate)
			b->inflated = pages > b->ram_pages - b->inflated ? b->ram_pages : b->inflated + pages;
		else
			count_deflate(dev, b, pages);
		virtq_push(&vq->vq, b->chain.head, 0);
	}
	if (rc < 0)
		vdev_fail(dev, "malformed balloon request chain");
	vdev_signal(dev, q);
}

/* Each writable buffer of a report is a free range of guest RAM (virtq_pop
 * checked it); whole pages of it go back to the host. */
static void serve_report(struct vdev *dev, struct balloon *b, unsigned q)
{
	struct vdev_queue *vq = &dev->queues[q];
	unsigned served = 0;
	int rc;

	while ((rc = pop_budgeted(dev, b, q, &served)) > 0) {
		struct iovec *iov = virtq_chain_in(&b->chain);

		for (unsigned i = 0; i < b->chain.nr_in; i++) {
			uintptr_t start = ((uintptr_t)iov[i].iov_base + BALLOON_PAGE_SIZE - 1) &
					  ~(uintptr_t)(BALLOON_PAGE_SIZE - 1);
			uintptr_t end = ((uintptr_t)iov[i].iov_base + iov[i].iov_len) &
					~(uintptr_t)(BALLOON_PAGE_SIZE - 1);

			if (end > start)
				punch(dev, (void *)start, end - start);
		}
		virtq_push(&vq->vq, b->chain.head, (uint32_t)b->chain.in_len);
	}
	if (rc < 0)
		vdev_fail(dev, "malformed free page report");
	vdev_signal(dev, q);
}

static void post_stats(struct vdev *dev, struct balloon *b)
{
	struct virtq_chain *c = &b->chain;
	struct balloon_event_msg e = { .kind = htole32(BALLOON_EV_STATS) };
	uint32_t present = 0;
	uint8_t stat[STAT_SIZE];

	uint64_t len = c->out_len < STATS_MAX_BYTES ? c->out_len : STATS_MAX_BYTES;

	if (c->out_len % STAT_SIZE || c->out_len > STATS_MAX_BYTES)
		log_ratelimited(LOG_WARN, "%s: stats buffer of %llu bytes; reading %llu entries",
				dev->name, (unsigned long long)c->out_len,
				(unsigned long long)(len / STAT_SIZE));
	for (size_t off = 0; off + STAT_SIZE <= len; off += STAT_SIZE) {
		uint16_t tag;
		uint64_t val;
		int i;

		if (iov_to_buf(c->iov, c->nr_out, off, stat, STAT_SIZE) != STAT_SIZE)
			break;
		memcpy(&tag, stat, 2);
		memcpy(&val, stat + 2, 8);
		i = balloon_stat_index(le16toh(tag));
		if (i < 0)
			continue;	/* a tag from a newer spec, or junk */
		e.values[i] = val;	/* already little-endian */
		present |= 1u << i;
	}
	e.arg = htole32(present);
	vdev_post_event(dev, &e, sizeof(e));
}

/* The guest's stats buffer: read, then kept until the host wants fresh ones. */
static void serve_stats(struct vdev *dev, struct balloon *b, unsigned q)
{
	struct vdev_queue *vq = &dev->queues[q];
	unsigned served = 0;
	int rc;

	while ((rc = pop_budgeted(dev, b, q, &served)) > 0) {
		if (b->stats_held)	/* a second one: give the older back */
			virtq_push(&vq->vq, b->stats_head, 0);
		b->stats_head = b->chain.head;
		b->stats_held = true;
		post_stats(dev, b);
	}
	if (rc < 0)
		vdev_fail(dev, "malformed stats chain");
	vdev_signal(dev, q);
}

static void balloon_notify(struct vdev *dev, unsigned q)
{
	struct balloon *b = of(dev);
	int role = (int)q;

	if (role == b->q_inflate || role == b->q_deflate)
		serve_pfns(dev, b, q, role == b->q_inflate);
	else if (role == b->q_stats)
		serve_stats(dev, b, q);
	else if (role == b->q_report)
		serve_report(dev, b, q);
}

static int balloon_activate(struct vdev *dev)
{
	struct balloon *b = of(dev);
	int next = 2;

	b->q_inflate = 0;
	b->q_deflate = 1;
	b->q_stats = negotiated(dev, VIRTIO_BALLOON_F_STATS_VQ) ? next++ : QUEUE_NONE;
	b->q_report = negotiated(dev, VIRTIO_BALLOON_F_REPORTING) ? next++ : QUEUE_NONE;
	return 0;
}

static void balloon_reset(struct vdev *dev)
{
	struct balloon *b = of(dev);

	/* A reset driver owns all its RAM again; the target stays. The VMM
	 * (balloon_ctl) and the transport's cached config hear of it. */
	b->actual = b->inflated = 0;
	b->stats_held = false;
	b->q_inflate = b->q_deflate = b->q_stats = b->q_report = QUEUE_NONE;
	post_pages(dev, BALLOON_EV_ACTUAL, 0);
	vdev_config_changed(dev, 4, 4);
}

static void balloon_config(struct vdev *dev, uint8_t *buf)
{
	struct balloon *b = of(dev);
	uint32_t num = htole32(b->num_pages), actual = htole32(b->actual);

	memcpy(buf, &num, 4);
	memcpy(buf + 4, &actual, 4);
}

/* Only "actual" is the driver's to write. */
static int balloon_write_config(struct vdev *dev, unsigned off, const uint8_t *buf, unsigned len)
{
	struct balloon *b = of(dev);
	uint32_t actual;

	if (off != 4 || len != 4)
		return -1;
	memcpy(&actual, buf, 4);
	actual = le32toh(actual);
	if (actual > b->ram_pages) {
		log_ratelimited(LOG_WARN, "%s: actual of %u pages is more than guest RAM",
				dev->name, actual);
		return -1;
	}
	b->actual = actual;
	post_pages(dev, BALLOON_EV_ACTUAL, actual);
	return 0;
}

static int request_stats(struct vdev *dev, struct balloon *b)
{
	struct vdev_queue *vq;

	if (!dev->active || b->q_stats == QUEUE_NONE || !b->stats_held)
		return -EAGAIN;
	vq = &dev->queues[b->q_stats];
	virtq_push(&vq->vq, b->stats_head, 0);
	b->stats_held = false;
	vdev_signal(dev, (unsigned)b->q_stats);
	return 0;
}

static int balloon_command(struct vdev *dev, const void *req, unsigned len, void *reply,
			   unsigned *reply_len)
{
	struct balloon *b = of(dev);
	struct balloon_cmd c;

	*reply_len = 0;
	if (balloon_dec_cmd(req, len, &c))
		return -EINVAL;
	if (c.op == BALLOON_CMD_REQUEST_STATS)
		return request_stats(dev, b);
	if (c.pages > b->ram_pages)
		return -EINVAL;
	b->num_pages = c.pages;
	vdev_config_changed(dev, 0, 4);
	return 0;
}

static void balloon_destroy(struct vdev *dev)
{
	free(dev->priv);
}

static const struct sandbox_syscall balloon_rules[] = {
	DEVICE_PROCESS_RULES,
	/* Only MADV_REMOVE: it frees the pages of the shared guest-RAM memfd
	 * the guest gave back; other advice (MADV_DONTFORK, MERGEABLE, ...)
	 * has no use here and widens what a compromised device could do. */
	SANDBOX_ALLOW_EQ(madvise, 2, MADV_REMOVE, "return ballooned and reported pages to the host"),
};

const struct sandbox_policy balloon_policy = {
	"balloon", balloon_rules, sizeof(balloon_rules) / sizeof(balloon_rules[0]),
};

static uint64_t offered_features(const struct balloon_config *cfg)
{
	uint64_t f = 1ull << VIRTIO_BALLOON_F_MUST_TELL_HOST | 1ull << VIRTIO_BALLOON_F_STATS_VQ;

	if (cfg->deflate_on_oom)
		f |= 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (cfg->free_page_reporting)
		f |= 1ull << VIRTIO_BALLOON_F_REPORTING;
	return f;
}

static int balloon_create(struct vdev *dev, const char *name, const struct device_env *env,
			  const void *cfg, struct device_grant *grant, char *err, size_t errlen)
{
	struct balloon *b = calloc(1, sizeof(*b));

	(void)grant;
	if (!b) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	b->cfg = *(const struct balloon_config *)cfg;
	b->ram_pages = (uint32_t)(env->mem->total / BALLOON_PAGE_SIZE);
	b->ops = (struct vdev_ops){
		.name = "balloon", .device_id = VIRTIO_ID_BALLOON,
		.nr_queues = b->cfg.free_page_reporting ? 4 : 3,
		.queue_size = BALLOON_QUEUE_SIZE, .config_size = BALLOON_CONFIG_SIZE,
		.features = offered_features(&b->cfg),
		.config = balloon_config, .write_config = balloon_write_config,
		.activate = balloon_activate, .notify = balloon_notify, .reset = balloon_reset,
		.destroy = balloon_destroy, .command = balloon_command,
	};
	vdev_init(dev, &b->ops, b, name, env->mem);
	balloon_reset(dev);
	return 0;
}

static const struct cfg_key balloon_keys[] = {
	{ .name = "free_page_reporting", .type = CFG_BOOL,
	  .offset = offsetof(struct balloon_config, free_page_reporting), .def = "true",
	  .doc = "Pages the guest frees go back to the host without ballooning (`VIRTIO_BALLOON_F_REPORTING`)." },
	{ .name = "deflate_on_oom", .type = CFG_BOOL,
	  .offset = offsetof(struct balloon_config, deflate_on_oom), .def = "true",
	  .doc = "The guest may take ballooned pages back when it runs out of memory." },
	{ .name = "stats_interval", .type = CFG_UINT,
	  .offset = offsetof(struct balloon_config, stats_interval), .def = "2", .min = 0, .max = 3600,
	  .doc = "Seconds between guest memory stats updates; `0`: only on request." },
	{ .name = NULL },
};

const struct device_kind balloon_kind = {
	.section = "balloon", .prefix = "balloon", .max = 1,
	.config_size = sizeof(struct balloon_config), .keys = balloon_keys,
	.doc = "A virtio-balloon device: the host takes memory from the guest and gives it "
	       "back (`balloon` on the control socket, `vm-balloon`), and reads its memory stats.",
	.create = balloon_create, .policy = &balloon_policy,
};
