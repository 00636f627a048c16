/*
 * virtio-blk (virtio 1.2, 5.2): a disk image or block device the VMM opened,
 * served through the device loop's io_uring (READV, WRITEV, FSYNC,
 * FALLOCATE); the device process itself needs no syscall for I/O.
 *
 * Requests live in a fixed pool per queue (queue_size slots) from pop to
 * completion, with their data iovecs (pointers into guest RAM). A slot's
 * user_data is queue << 16 | slot. When a queue's slots run out the device
 * stops popping and resumes from the next completion.
 *
 * Choices:
 * - A short read or write (regular file or block device) is resubmitted
 *   for the rest; a transfer of 0 bytes (the image shrank) is IOERR.
 * - With O_DIRECT, a data iovec whose address or length is not a multiple
 *   of 512 fails the request with IOERR (no bounce buffer).
 * - size_max is advice to the driver, not enforced; seg_max is, by the
 *   size of a slot's iovec array (a longer request is IOERR).
 * - Without VIRTIO_BLK_F_FLUSH negotiated, writes are RWF_DSYNC
 *   (write-through).
 * - A reset does not wait for I/O in flight: a late completion frees its
 *   slot and touches neither the rings nor the status byte (its data may
 *   still land in the buffers the driver gave).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include "devices/device_process.h"
#include "devices/blk.h"
#include "virtio/iov.h"
#include "vmm/log.h"

#define SECTOR 512u
#define BLK_QUEUE_SIZE 256
#define BLK_SEG_MAX 126				/* data segments per request */
#define BLK_MAX_IOV (BLK_SEG_MAX + 2)		/* + header and status */
#define BLK_SIZE_MAX (1u << 20)			/* per segment, advisory */
#define BLK_MAX_ZERO_SECTORS (1u << 23)		/* discard / write zeroes: 4 GiB */

/* blk_start() results besides a VIRTIO_BLK_S_* status to report now. */
enum { BLK_QUEUED = -1, BLK_MALFORMED = -2 };

struct blk_req {
	uint32_t gen;			/* blk.gen when popped */
	uint32_t type;			/* VIRTIO_BLK_T_* */
	uint16_t head;
	int mode;			/* fallocate mode */
	uint8_t *status;		/* the status byte, in guest RAM */
	uint64_t offset;		/* file offset of the next byte */
	uint64_t left;			/* bytes still to transfer */
	uint32_t done;			/* data bytes written for the driver */
	unsigned nr_iov;
	struct iovec iov[BLK_MAX_IOV];	/* the data still to transfer */
};

struct blk_queue {
	struct blk_req *reqs;
	uint16_t *free;			/* stack of free slots */
	unsigned nr_free;
	bool starved;			/* stopped popping: no free slot */
};

struct blk {
	struct vdev_ops ops;		/* per device: queues and features vary */
	int fd;
	bool ro, direct;
	uint32_t block_size;
	uint64_t sectors;		/* capacity in 512-byte sectors */
	uint32_t gen;			/* bumped by reset: older slots are stale */
	char id[VIRTIO_BLK_ID_BYTES];
	struct blk_queue queues[VDEV_MAX_QUEUES];
	struct virtq_chain chain;	/* scratch for virtq_pop */
};

static bool has(const struct vdev *dev, unsigned bit)
{
	return dev->features & (1ull << bit);
}

static void blk_config(struct vdev *dev, uint8_t *buf)
{
	struct blk *b = dev->priv;
	struct virtio_blk_config c = {
		.capacity = htole64(b->sectors),
		.size_max = htole32(BLK_SIZE_MAX),
		.seg_max = htole32(BLK_SEG_MAX),
		.blk_size = htole32(b->block_size),
		.num_queues = htole16((uint16_t)b->ops.nr_queues),
	};

	if (b->ops.features & (1ull << VIRTIO_BLK_F_DISCARD)) {
		c.max_discard_sectors = htole32(BLK_MAX_ZERO_SECTORS);
		c.max_discard_seg = htole32(1);
		c.discard_sector_alignment = htole32(b->block_size / SECTOR);
		c.max_write_zeroes_sectors = htole32(BLK_MAX_ZERO_SECTORS);
		c.max_write_zeroes_seg = htole32(1);
		c.write_zeroes_may_unmap = 1;
	}
	memcpy(buf, &c, sizeof(c));
}

static void blk_io_error(struct vdev *dev, const struct blk_req *r, int32_t res)
{
	log_ratelimited(LOG_WARN, "%s: request type %u at byte %llu: %s", dev->name, r->type,
			(unsigned long long)r->offset, strerror(-res));
}

/* Is [sector, sector + bytes / 512) on the disk? No product can overflow. */
static bool blk_in_range(const struct blk *b, uint64_t sector, uint64_t bytes)
{
	return sector <= b->sectors && bytes / SECTOR <= b->sectors - sector;
}

/* T_IN / T_OUT: the data is bytes [off, off + len) of iov. */
static int blk_prep_rw(struct blk *b, struct blk_req *r, uint64_t sector,
		       const struct iovec *iov, unsigned n, size_t off, uint64_t len)
{
	if (!len || len % SECTOR || !blk_in_range(b, sector, len))
		return VIRTIO_BLK_S_IOERR;
	r->nr_iov = iov_slice(r->iov, BLK_MAX_IOV, iov, n, off, len);
	if (iov_length(r->iov, r->nr_iov) != len)
		return VIRTIO_BLK_S_IOERR;	/* more segments than seg_max */
	for (unsigned i = 0; b->direct && i < r->nr_iov; i++)
		if ((uintptr_t)r->iov[i].iov_base % SECTOR || r->iov[i].iov_len % SECTOR)
			return VIRTIO_BLK_S_IOERR;
	r->offset = sector * SECTOR;
	r->left = len;
	return BLK_QUEUED;
}

/* T_DISCARD / T_WRITE_ZEROES: one segment after the header. */
static int blk_prep_zero(struct vdev *dev, struct blk_req *r, struct virtq_chain *c)
{
	struct blk *b = dev->priv;
	bool discard = r->type == VIRTIO_BLK_T_DISCARD;
	uint32_t align = discard ? b->block_size / SECTOR : 1;
	struct virtio_blk_discard_write_zeroes seg;
	uint64_t sector;
	uint32_t num, flags;

	if (!has(dev, discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES))
		return VIRTIO_BLK_S_UNSUPP;
	if (b->ro || c->out_len != sizeof(struct virtio_blk_outhdr) + sizeof(seg))
		return VIRTIO_BLK_S_IOERR;
	iov_to_buf(c->iov, c->nr_out, sizeof(struct virtio_blk_outhdr), &seg, sizeof(seg));
	sector = le64toh(seg.sector);
	num = le32toh(seg.num_sectors);
	flags = le32toh(seg.flags);
	if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP || (discard && flags))
		return VIRTIO_BLK_S_UNSUPP;
	if (!num || num > BLK_MAX_ZERO_SECTORS || sector % align || num % align ||
	    !blk_in_range(b, sector, (uint64_t)num * SECTOR))
		return VIRTIO_BLK_S_IOERR;
	r->mode = FALLOC_FL_KEEP_SIZE |
		  (discard || flags ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);
	r->offset = sector * SECTOR;
	r->left = (uint64_t)num * SECTOR;
	return BLK_QUEUED;
}

/* Parses the chain popped into r: a status to report now, or BLK_QUEUED. */
static int blk_start(struct vdev *dev, struct blk_req *r, struct virtq_chain *c)
{
	struct blk *b = dev->priv;
	struct iovec *in = virtq_chain_in(c), st;
	struct virtio_blk_outhdr hdr;
	uint64_t sector;

	if (c->out_len < sizeof(hdr) || !c->in_len ||
	    !iov_slice(&st, 1, in, c->nr_in, c->in_len - 1, 1))
		return BLK_MALFORMED;
	iov_to_buf(c->iov, c->nr_out, 0, &hdr, sizeof(hdr));	/* one fetch */
	r->status = st.iov_base;
	r->head = c->head;
	r->type = le32toh(hdr.type);
	r->done = 0;
	r->mode = 0;
	r->offset = 0;
	sector = le64toh(hdr.sector);
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		return blk_prep_rw(b, r, sector, in, c->nr_in, 0, c->in_len - 1);
	case VIRTIO_BLK_T_OUT:
		if (b->ro)
			return VIRTIO_BLK_S_IOERR;
		return blk_prep_rw(b, r, sector, c->iov, c->nr_out, sizeof(hdr),
				   c->out_len - sizeof(hdr));
	case VIRTIO_BLK_T_FLUSH:
		return BLK_QUEUED;
	case VIRTIO_BLK_T_GET_ID:
		r->done = (uint32_t)buf_to_iov(in, c->nr_in, 0, b->id,
					       c->in_len - 1 < sizeof(b->id) ? c->in_len - 1
									: sizeof(b->id));
		return r->done ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blk_prep_zero(dev, r, c);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* Hands slot's next step to the loop's ring: BLK_QUEUED, or IOERR. */
static int blk_submit(struct vdev *dev, unsigned q, unsigned slot)
{
	struct blk *b = dev->priv;
	struct blk_req *r = &b->queues[q].reqs[slot];
	struct io_uring_sqe *sqe = vdev_get_sqe(dev, (uint64_t)q << 16 | slot);

	if (!sqe) {
		blk_io_error(dev, r, -EBUSY);
		return VIRTIO_BLK_S_IOERR;
	}
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		io_uring_prep_readv(sqe, b->fd, r->iov, r->nr_iov, r->offset);
		break;
	case VIRTIO_BLK_T_OUT:
		io_uring_prep_writev(sqe, b->fd, r->iov, r->nr_iov, r->offset);
		if (!has(dev, VIRTIO_BLK_F_FLUSH))
			sqe->rw_flags = RWF_DSYNC;
		break;
	case VIRTIO_BLK_T_FLUSH:
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
		break;
	default:
		io_uring_prep_fallocate(sqe, b->fd, r->mode, (off_t)r->offset, (off_t)r->left);
	}
	return BLK_QUEUED;
}

/* Writes the status, returns the chain to the driver and frees the slot. */
static void blk_finish(struct vdev *dev, unsigned q, unsigned slot, int status)
{
	struct blk *b = dev->priv;
	struct blk_queue *bq = &b->queues[q];
	struct blk_req *r = &bq->reqs[slot];
	bool data = status == VIRTIO_BLK_S_OK &&
		    (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_GET_ID);

	*r->status = (uint8_t)status;
	virtq_push(&dev->queues[q].vq, r->head, data ? r->done + 1 : 1);
	bq->free[bq->nr_free++] = (uint16_t)slot;
}

/* Pops and starts requests until the ring is empty or the pool is. */
static void blk_notify(struct vdev *dev, unsigned q)
{
	struct blk *b = dev->priv;
	struct blk_queue *bq = &b->queues[q];
	int rc = 0, status;
	unsigned slot;

	bq->starved = false;
	while (dev->active) {
		if (!bq->nr_free) {
			bq->starved = true;
			break;
		}
		rc = virtq_pop(&dev->queues[q].vq, dev->mem, &b->chain);
		if (rc <= 0)
			break;
		slot = bq->free[--bq->nr_free];
		bq->reqs[slot].gen = b->gen;
		status = blk_start(dev, &bq->reqs[slot], &b->chain);
		if (status == BLK_QUEUED)
			status = blk_submit(dev, q, slot);
		if (status == BLK_MALFORMED) {
			bq->nr_free++;
			vdev_fail(dev, "request without a header or a status byte");
			break;
		}
		if (status != BLK_QUEUED)
			blk_finish(dev, q, slot, status);
	}
	if (rc < 0)
		vdev_fail(dev, "malformed request chain");
	vdev_signal(dev, q);
}

/* A CQE for a started request: its final status, or BLK_QUEUED if resubmitted. */
static int blk_done(struct vdev *dev, unsigned q, unsigned slot, int32_t res)
{
	struct blk_req *r = &((struct blk *)dev->priv)->queues[q].reqs[slot];
	bool rw = r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT;

	if (res == -EOPNOTSUPP && r->type == VIRTIO_BLK_T_DISCARD)
		return VIRTIO_BLK_S_OK;		/* discarding is only advice */
	if (res == -EOPNOTSUPP && r->mode & FALLOC_FL_ZERO_RANGE) {
		r->mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;	/* reads zeros too */
		return blk_submit(dev, q, slot);
	}
	if (res < 0 || (rw && (uint64_t)res > r->left) || (rw && !res)) {
		blk_io_error(dev, r, res < 0 ? res : -EIO);
		return VIRTIO_BLK_S_IOERR;
	}
	if (!rw)
		return VIRTIO_BLK_S_OK;
	r->left -= (uint64_t)res;
	r->offset += (uint64_t)res;
	r->done += (uint32_t)res;
	if (!r->left)
		return VIRTIO_BLK_S_OK;
	r->nr_iov = iov_slice(r->iov, BLK_MAX_IOV, r->iov, r->nr_iov, (size_t)res, SIZE_MAX);
	return blk_submit(dev, q, slot);
}

static void blk_complete(struct vdev *dev, uint64_t data, int32_t res)
{
	struct blk *b = dev->priv;
	unsigned q = (unsigned)(data >> 16), slot = (unsigned)(data & 0xffff);
	struct blk_queue *bq;
	int status;

	if (q >= b->ops.nr_queues || slot >= BLK_QUEUE_SIZE)
		return;
	bq = &b->queues[q];
	if (bq->reqs[slot].gen != b->gen) {
		bq->free[bq->nr_free++] = (uint16_t)slot;	/* from before a reset */
	} else {
		status = blk_done(dev, q, slot, res);
		if (status == BLK_QUEUED)
			return;
		blk_finish(dev, q, slot, status);
		vdev_signal(dev, q);
	}
	if (bq->starved && dev->active)
		blk_notify(dev, q);
}

static void blk_reset(struct vdev *dev)
{
	struct blk *b = dev->priv;

	b->gen++;
	for (unsigned q = 0; q < b->ops.nr_queues; q++)
		b->queues[q].starved = false;
}

static void blk_destroy(struct vdev *dev)
{
	struct blk *b = dev->priv;

	free(b->queues[0].reqs);
	free(b->queues[0].free);
	free(b);
}

static const uint8_t blk_uring_ops[] = {
	IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC, IORING_OP_FALLOCATE,
};

static const struct vdev_ops blk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.queue_size = BLK_QUEUE_SIZE,
	.config_size = sizeof(struct virtio_blk_config),
	.config = blk_config,
	.notify = blk_notify,
	.reset = blk_reset,
	.destroy = blk_destroy,
	.uring_ops = blk_uring_ops,
	.nr_uring_ops = sizeof(blk_uring_ops),
	.complete = blk_complete,
};

/* io_uring does all the I/O: nothing beyond what every device process has. */
static const struct sandbox_syscall blk_rules[] = {
	DEVICE_PROCESS_RULES,
};

const struct sandbox_policy blk_policy = {
	"blk", blk_rules, sizeof(blk_rules) / sizeof(blk_rules[0]),
};

static uint64_t blk_features(const struct blk_options *opt, unsigned nr_queues)
{
	uint64_t f = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_SIZE_MAX |
		     1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH |
		     1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_RING_F_INDIRECT_DESC;

	if (nr_queues > 1)
		f |= 1ull << VIRTIO_BLK_F_MQ;
	if (opt->ro)
		f |= 1ull << VIRTIO_BLK_F_RO;
	else if (opt->sparse)
		f |= 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

/* The disk's size in bytes: a regular file's length or a block device's. */
static int blk_disk_size(int fd, uint64_t *bytes)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*bytes = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, bytes) ? -errno : 0;
	return -EINVAL;
}

static int blk_check(const char *name, const struct blk_options *opt, unsigned nr_queues,
		     int fl, char *err, size_t errlen)
{
	const char *why = NULL;

	if (fl < 0)
		why = "no disk file descriptor";
	else if (!opt->ro && (fl & O_ACCMODE) != O_RDWR)
		why = "the disk is open read-only but the device is not read-only";
	else if (opt->block_size < SECTOR || opt->block_size > 65536 ||
		 opt->block_size & (opt->block_size - 1))
		why = "block size must be a power of two from 512 to 65536";
	else if (opt->id && strlen(opt->id) > VIRTIO_BLK_ID_BYTES)
		why = "serial longer than 20 bytes";
	else if (!nr_queues || nr_queues > VDEV_MAX_QUEUES)
		why = "number of queues must be 1 to 16";
	if (why)
		snprintf(err, errlen, "%s: %s", name, why);
	return why ? -EINVAL : 0;
}

static int blk_alloc_queues(struct blk *b, unsigned nr_queues)
{
	struct blk_req *reqs = calloc((size_t)nr_queues * BLK_QUEUE_SIZE, sizeof(*reqs));
	uint16_t *free_slots = calloc((size_t)nr_queues * BLK_QUEUE_SIZE, sizeof(*free_slots));

	if (!reqs || !free_slots) {
		free(reqs);
		free(free_slots);
		return -ENOMEM;
	}
	for (unsigned q = 0; q < nr_queues; q++) {
		struct blk_queue *bq = &b->queues[q];

		bq->reqs = reqs + (size_t)q * BLK_QUEUE_SIZE;
		bq->free = free_slots + (size_t)q * BLK_QUEUE_SIZE;
		for (unsigned i = 0; i < BLK_QUEUE_SIZE; i++)
			bq->free[i] = (uint16_t)(BLK_QUEUE_SIZE - 1 - i);
		bq->nr_free = BLK_QUEUE_SIZE;
	}
	return 0;
}

int blk_create(struct vdev *dev, const char *name, const struct guest_mem *mem,
	       const struct blk_options *opt, char *err, size_t errlen)
{
	unsigned nr_queues = opt->nr_queues;
	int fl = fcntl(opt->fd, F_GETFL);
	struct blk *b;
	uint64_t bytes;
	int rc;

	rc = blk_check(name, opt, nr_queues, fl, err, errlen);
	if (rc)
		return rc;
	rc = blk_disk_size(opt->fd, &bytes);
	if (rc) {
		snprintf(err, errlen, "%s: %s", name,
			 rc == -EINVAL ? "the disk is neither a regular file nor a block device"
				       : strerror(-rc));
		return rc;
	}
	b = calloc(1, sizeof(*b));
	if (!b || blk_alloc_queues(b, nr_queues)) {
		free(b);
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	b->ops = blk_ops;
	b->ops.nr_queues = nr_queues;
	b->ops.features = blk_features(opt, nr_queues);
	b->fd = opt->fd;
	b->ro = opt->ro;
	b->direct = opt->direct || (fl & O_DIRECT);
	b->block_size = opt->block_size;
	b->sectors = bytes / SECTOR;
	if (opt->id)
		memcpy(b->id, opt->id, strlen(opt->id));
	vdev_init(dev, &b->ops, b, name, mem);
	return 0;
}

/* ---- [[disk]] ---- */

static int disk_check_block_size(const void *value, char *why, size_t len)
{
	uint64_t n = *(const uint64_t *)value;

	if (!(n & (n - 1)))
		return 0;
	snprintf(why, len, "must be a power of two, got %llu", (unsigned long long)n);
	return -1;
}

static int disk_check_id(const void *value, char *why, size_t len)
{
	if (strlen(*(const char *const *)value) <= BLK_ID_MAX)
		return 0;
	snprintf(why, len, "at most %d bytes (a virtio-blk serial)", BLK_ID_MAX);
	return -1;
}

#define DISK(field) offsetof(struct disk_config, field)

static const struct cfg_key disk_keys[] = {
	{ "path", CFG_PATH, DISK(path), .doc = "The image: a raw file or a block device." },
	{ "ro", CFG_BOOL, DISK(ro), .def = "false",
	  .doc = "Read-only: advertised to the guest and enforced by the device (writes fail "
		 "with an I/O error, the file is never opened for writing)." },
	{ "sparse", CFG_BOOL, DISK(sparse), .def = "true",
	  .doc = "Offer discard and write-zeroes, done by punching holes in the file." },
	{ "direct", CFG_BOOL, DISK(direct), .def = "false",
	  .doc = "Open the image with `O_DIRECT` (no host page cache)." },
	{ "block_size", CFG_UINT, DISK(block_size), .def = "512", .min = SECTOR, .max = 65536,
	  .check = disk_check_block_size,
	  .doc = "The logical block size the guest sees, a power of two from 512 to 65536." },
	{ "id", CFG_STRING, DISK(id), .def = "none", .check = disk_check_id,
	  .doc = "The serial number the guest reads (`/sys/block/vda/serial`), at most 20 bytes." },
	{ .name = NULL },
};

/* The VMM opens the image; the jailed device only ever gets the fd. */
static int disk_create(struct vdev *dev, const char *name, const struct device_env *env,
		       const void *cfg, struct device_grant *grant, char *err, size_t errlen)
{
	const struct disk_config *disk = cfg;
	int flags = (disk->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | (disk->direct ? O_DIRECT : 0);
	struct blk_options opt = {
		.ro = disk->ro, .sparse = disk->sparse, .direct = disk->direct,
		.block_size = (uint32_t)disk->block_size, .id = disk->id, .nr_queues = env->cpus < VDEV_MAX_QUEUES ? env->cpus : VDEV_MAX_QUEUES,
	};
	int rc;

	opt.fd = open(disk->path, flags);
	if (opt.fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "disk[%u]: %s: %s", env->index, disk->path, strerror(-rc));
		return rc;
	}
	rc = blk_create(dev, name, env->mem, &opt, err, errlen);
	if (rc) {
		close(opt.fd);
		return rc;
	}
	grant->fds[grant->nr_fds++] = opt.fd;
	return 0;
}

const struct device_kind blk_kind = {
	.section = "disk",
	.prefix = "blk",
	.max = BLK_MAX_DISKS,
	.plural = "disks",
	.config_size = sizeof(struct disk_config),
	.keys = disk_keys,
	.doc = "virtio-blk disks, /dev/vda, /dev/vdb, ... in this order",
	.create = disk_create,
	.policy = &blk_policy,
	.essential_first = true,
	.essential_what = "the root disk",
};
