/* virtio-blk in one process: the device model behind a local link, a temp
 * file as the disk, rings in fake guest memory, driven like a guest. */
#include <endian.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "boot/guest_mem.h"
#include "check.h"
#include "tests/unit/fake_driver.h"
#include "devices/blk.h"
#include "devices/link_local.h"
#include "vmm/log.h"

#define RAM (8 * MIB)
#define QSIZE 256
#define RINGS(q) (0x10000ull + (q) * 0x4000ull)	/* desc, avail +0x1000, used +0x2000 */
#define SCRATCH 0x100000ull				/* requests from here on */
#define DISK (1 * MIB)
#define SECTORS (DISK / 512)

static uint8_t *ram;
static struct guest_mem mem;
static uint64_t scratch;		/* bump allocator in guest RAM */

struct drv {
	struct link_local ll;
	struct vdev dev;
	struct fake_vq vq[2];
};


static uint64_t galloc(uint32_t len, uint32_t align)
{
	uint64_t gpa = (scratch + align - 1) / align * align;

	scratch = gpa + len;
	CHECK(scratch <= RAM);
	return gpa;
}

static void setup_queues(struct drv *d, uint64_t features)
{
	for (unsigned q = 0; q < d->dev.ops->nr_queues; q++) {
		struct vdev_vring ring;

		fake_vq_init(&d->vq[q], ram, RINGS(q), QSIZE);
		ring = fake_vq_ring(&d->vq[q]);
		CHECK_EQ(d->ll.link.ops->set_vring(&d->ll.link, q, &ring), 0);
	}
	CHECK_EQ(d->ll.link.ops->activate(&d->ll.link, features), 0);
}

static void start(struct drv *d, int fd, const struct blk_options *base)
{
	struct blk_options opt = *base;
	char err[160] = "";

	opt.fd = fd;
	CHECK_EQ(blk_create(&d->dev, "blk0", &mem, &opt, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	CHECK_EQ(link_local_init(&d->ll, &d->dev), 0);
	setup_queues(d, d->ll.link.features);
}

static void stop(struct drv *d)
{
	link_local_destroy(&d->ll);
	vdev_destroy(&d->dev);
}

/* Posts one chain of bufs on queue q; returns its head. */
static uint16_t post(struct drv *d, unsigned q, const struct fake_buf *b, unsigned n)
{
	return fake_vq_post(&d->vq[q], b, n);
}

static void kick(struct drv *d, unsigned q)
{
	CHECK_EQ(write(d->ll.link.kick_fd[q], &(uint64_t){ 1 }, 8), 8);
	link_local_poll(&d->ll);
}

/* The used length of the next used entry on q (checking its id), or -1. */
static long long used(struct drv *d, unsigned q, uint16_t head)
{
	struct vring_used_elem e;

	if (!fake_vq_used(&d->vq[q], &e))
		return -1;
	CHECK_EQ(e.id, head);
	return e.len;
}

struct req {
	uint64_t hdr, data, status;
	uint16_t head;
};

/* Posts header + data + status; data is writable for IN and GET_ID. */
static struct req post_req(struct drv *d, unsigned q, uint32_t type, uint64_t sector,
			   uint64_t data, uint32_t len)
{
	struct req r = { .hdr = galloc(16, 16), .data = data, .status = galloc(1, 1) };
	struct virtio_blk_outhdr h = { .type = htole32(type), .sector = htole64(sector) };
	bool wr = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct fake_buf b[3] = { { r.hdr, 16, false }, { data, len, wr }, { r.status, 1, true } };

	memcpy(ram + r.hdr, &h, sizeof(h));
	ram[r.status] = 0xaa;
	r.head = len ? post(d, q, b, 3) : post(d, q, (struct fake_buf[]){ b[0], b[2] }, 2);
	return r;
}

/* One request, one kick: returns the status byte; *len the used length. */
static int request(struct drv *d, unsigned q, uint32_t type, uint64_t sector, uint64_t data,
		   uint32_t len, long long *used_len)
{
	struct req r = post_req(d, q, type, sector, data, len);
	long long l;

	kick(d, q);
	l = used(d, q, r.head);
	if (used_len)
		*used_len = l;
	return l < 0 ? -1 : ram[r.status];
}

/* A discard or write-zeroes request with one segment (readable data). */
static int zero_req(struct drv *d, uint32_t type, uint64_t sector, uint32_t num, uint32_t flags)
{
	uint64_t seg = galloc(16, 16);
	struct virtio_blk_discard_write_zeroes s = {
		htole64(sector), htole32(num), htole32(flags),
	};
	long long len;
	int status;

	memcpy(ram + seg, &s, sizeof(s));
	status = request(d, 0, type, 0, seg, sizeof(s), &len);
	CHECK_EQ(len, 1);
	return status;
}

static void fill(uint64_t gpa, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		ram[gpa + i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static bool file_is(int fd, uint64_t off, const uint8_t *want, size_t len)
{
	uint8_t *got = malloc(len);
	bool same = pread(fd, got, len, (off_t)off) == (ssize_t)len && !memcmp(got, want, len);

	free(got);
	return same;
}

static int temp_disk(char *path, size_t len)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, len, "%s/test_blk.XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, DISK), 0);
	return fd;
}

static void test_config(struct drv *d)
{
	struct virtio_blk_config c;
	uint64_t f = d->ll.link.features;

	memcpy(&c, d->ll.link.config, sizeof(c));
	CHECK_EQ(le64toh(c.capacity), SECTORS);
	CHECK_EQ(le32toh(c.seg_max), 126);
	CHECK_EQ(le32toh(c.blk_size), 512);
	CHECK_EQ(le16toh(c.num_queues), 2);
	CHECK_EQ(le32toh(c.max_discard_seg), 1);
	CHECK_EQ(le32toh(c.max_write_zeroes_seg), 1);
	CHECK(f & 1ull << VIRTIO_BLK_F_MQ && f & 1ull << VIRTIO_BLK_F_DISCARD);
	CHECK(f & 1ull << VIRTIO_BLK_F_WRITE_ZEROES && f & 1ull << VIRTIO_BLK_F_FLUSH);
	CHECK(f & 1ull << VIRTIO_RING_F_EVENT_IDX && !(f & 1ull << VIRTIO_BLK_F_RO));
}

static void test_rw(struct drv *d, int fd)
{
	uint64_t out = galloc(65536, 4096), in = galloc(65536, 4096);
	long long len;
	uint64_t count;

	fill(out, 65536, 1);
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_OUT, 8, out, 65536, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 1);
	CHECK(file_is(fd, 8 * 512, ram + out, 65536));
	CHECK_EQ(read(d->ll.link.call_fd[0], &count, 8), 8);	/* interrupt raised */
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_IN, 8, in, 65536, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 65537);
	CHECK(!memcmp(ram + in, ram + out, 65536));
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 1);

	/* The same on the second queue, data split over two descriptors. */
	{
		struct req r = { .hdr = galloc(16, 16), .status = galloc(1, 1) };
		struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN),
					       .sector = htole64(9) };
		struct fake_buf b[4] = { { r.hdr, 16, false }, { in, 512, true },
				    { in + 8192, 1024, true }, { r.status, 1, true } };

		memset(ram + in, 0, 65536);
		memcpy(ram + r.hdr, &h, sizeof(h));
		r.head = post(d, 1, b, 4);
		kick(d, 1);
		CHECK_EQ(used(d, 1, r.head), 1537);
		CHECK_EQ(ram[r.status], VIRTIO_BLK_S_OK);
		CHECK(!memcmp(ram + in, ram + out + 512, 512));
		CHECK(!memcmp(ram + in + 8192, ram + out + 1024, 1024));
	}
}

static void test_bad_requests(struct drv *d)
{
	uint64_t buf = galloc(4096, 4096);
	long long len;
	char id[VIRTIO_BLK_ID_BYTES] = "serial-0123456789";

	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_GET_ID, 0, buf, 20, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 21);
	CHECK(!memcmp(ram + buf, id, sizeof(id)));
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_IN, SECTORS, buf, 512, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_IN, SECTORS - 1, buf, 1024, NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_IN, SECTORS - 1, buf, 512, NULL), VIRTIO_BLK_S_OK);
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_OUT, UINT64_MAX / 512 + 1, buf, 512, NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_IN, UINT64_MAX, buf, 4096, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_IN, 0, buf, 100, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_IN, 0, 0, 0, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(request(d, 0, 99, 0, buf, 512, &len), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(len, 1);
	CHECK(d->dev.active);
}

static void test_zeroes(struct drv *d, int fd)
{
	uint64_t buf = galloc(65536, 4096);
	struct stat before, after;

	fill(buf, 4096, 3);
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_OUT, 100, buf, 4096, NULL), VIRTIO_BLK_S_OK);
	CHECK_EQ(zero_req(d, VIRTIO_BLK_T_WRITE_ZEROES, 100, 4, 0), VIRTIO_BLK_S_OK);
	CHECK_EQ(zero_req(d, VIRTIO_BLK_T_WRITE_ZEROES, 104, 4, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_IN, 100, buf, 4096, NULL), VIRTIO_BLK_S_OK);
	CHECK(all_zero(ram + buf, 4096));

	fill(buf, 65536, 5);
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_OUT, 1024, buf, 65536, NULL), VIRTIO_BLK_S_OK);
	CHECK_EQ(fsync(fd), 0);
	CHECK_EQ(fstat(fd, &before), 0);
	CHECK_EQ(zero_req(d, VIRTIO_BLK_T_DISCARD, 1024, 128, 0), VIRTIO_BLK_S_OK);
	CHECK_EQ(fstat(fd, &after), 0);
	CHECK(after.st_blocks < before.st_blocks);
	CHECK_EQ(after.st_size, DISK);
	CHECK_EQ(zero_req(d, VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP),
		 VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(zero_req(d, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 2), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(zero_req(d, VIRTIO_BLK_T_WRITE_ZEROES, SECTORS - 4, 8, 0), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(zero_req(d, VIRTIO_BLK_T_DISCARD, 0, 0, 0), VIRTIO_BLK_S_IOERR);
}

/* 64 writes posted, one kick: all served in one poll, all on disk. */
static void test_batch(struct drv *d, int fd)
{
	uint64_t data = galloc(64 * 4096, 4096);
	struct req r[64];

	fill(data, 64 * 4096, 9);
	for (unsigned i = 0; i < 64; i++)
		r[i] = post_req(d, 0, VIRTIO_BLK_T_OUT, 8 * (64 + i), data + i * 4096, 4096);
	kick(d, 0);
	for (unsigned i = 0; i < 64; i++) {
		CHECK(used(d, 0, r[i].head) >= 0 || !"not completed");
		CHECK_EQ(ram[r[i].status], VIRTIO_BLK_S_OK);
	}
	CHECK(file_is(fd, 64 * 4096, ram + data, 64 * 4096));
}

/*
 * The header and the discard segment are copied once: a guest that
 * rewrites them after notify() checked them and queued the I/O, before it
 * completes, changes neither where it lands nor what the device reports
 * (a write turned into a read must not return 4097 bytes).
 */
static void test_header_read_once(struct drv *d, int fd)
{
	uint64_t data = galloc(4096, 4096), keep = galloc(4096, 4096), seg = galloc(16, 16);
	struct virtio_blk_discard_write_zeroes s = { htole64(300), htole32(8), 0 };
	struct virtio_blk_outhdr *h;
	struct req r;

	fill(keep, 4096, 11);
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_OUT, 0, keep, 4096, NULL), VIRTIO_BLK_S_OK);
	fill(data, 4096, 13);
	r = post_req(d, 0, VIRTIO_BLK_T_OUT, 200, data, 4096);
	h = (struct virtio_blk_outhdr *)(ram + r.hdr);
	d->dev.ops->notify(&d->dev, 0);		/* checked and queued, not yet submitted */
	h->type = htole32(VIRTIO_BLK_T_IN);
	h->sector = htole64(0);
	link_local_poll(&d->ll);
	CHECK_EQ(used(d, 0, r.head), 1);	/* a write's: no data for the driver */
	CHECK_EQ(ram[r.status], VIRTIO_BLK_S_OK);
	CHECK(file_is(fd, 200 * 512, ram + data, 4096));
	CHECK(file_is(fd, 0, ram + keep, 4096));

	memcpy(ram + seg, &s, sizeof(s));
	r = post_req(d, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, sizeof(s));
	d->dev.ops->notify(&d->dev, 0);
	((struct virtio_blk_discard_write_zeroes *)(ram + seg))->sector = htole64(0);
	link_local_poll(&d->ll);
	CHECK_EQ(used(d, 0, r.head), 1);
	CHECK_EQ(ram[r.status], VIRTIO_BLK_S_OK);
	CHECK(file_is(fd, 0, ram + keep, 4096));
}

/* Broken chains: the device fails (needs reset), then works after a reset. */
static void test_malformed(struct drv *d)
{
	uint64_t hdr = galloc(16, 16), st = galloc(1, 1), buf = galloc(512, 512);

	memset(ram + hdr, 0, 16);
	post(d, 0, (struct fake_buf[]){ { hdr, 3, false }, { st, 1, true } }, 2);
	kick(d, 0);
	CHECK(!d->dev.active);
	CHECK_EQ(used(d, 0, 0), -1);
	CHECK_EQ(d->ll.link.ops->reset(&d->ll.link), 0);
	setup_queues(d, d->ll.link.features);
	post(d, 0, (struct fake_buf[]){ { hdr, 16, false }, { buf, 512, false } }, 2);
	kick(d, 0);
	CHECK(!d->dev.active);
	CHECK_EQ(d->ll.link.ops->reset(&d->ll.link), 0);
	setup_queues(d, d->ll.link.features);
	CHECK_EQ(request(d, 0, VIRTIO_BLK_T_IN, 0, buf, 512, NULL), VIRTIO_BLK_S_OK);
}

/* Read-only: writes fail without touching the file; O_DIRECT alignment. */
static void test_read_only(const char *path)
{
	static struct drv d;
	struct blk_options opt = { .ro = true, .sparse = true, .direct = true,
				   .block_size = 4096, .nr_queues = 1 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t buf = galloc(8192, 4096);
	uint8_t *before = malloc(DISK);

	CHECK_EQ(pread(fd, before, DISK, 0), DISK);
	start(&d, fd, &opt);
	CHECK(d.ll.link.features & 1ull << VIRTIO_BLK_F_RO);
	CHECK(!(d.ll.link.features & 1ull << VIRTIO_BLK_F_DISCARD));
	memset(ram + buf, 0x5a, 8192);
	CHECK_EQ(request(&d, 0, VIRTIO_BLK_T_OUT, 0, buf, 4096, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(request(&d, 0, VIRTIO_BLK_T_IN, 16, buf, 4096, NULL), VIRTIO_BLK_S_OK);
	CHECK(!memcmp(ram + buf, before + 16 * 512, 4096));
	CHECK_EQ(request(&d, 0, VIRTIO_BLK_T_IN, 16, buf + 100, 4096, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(zero_req(&d, VIRTIO_BLK_T_DISCARD, 0, 8, 0), VIRTIO_BLK_S_UNSUPP);
	CHECK(file_is(fd, 0, before, DISK));
	stop(&d);
	close(fd);
	free(before);
}

static void test_create_errors(int fd)
{
	static struct vdev dev;
	struct blk_options opt = { .fd = fd, .block_size = 1000, .nr_queues = 1 };
	char err[160];

	CHECK(blk_create(&dev, "blk9", &mem, &opt, err, sizeof(err)) < 0);
	CHECK_STR(err, "blk9: block size must be a power of two from 512 to 65536");
	opt.block_size = 512;
	opt.id = "012345678901234567890";
	CHECK(blk_create(&dev, "blk9", &mem, &opt, err, sizeof(err)) < 0);
	opt.id = NULL;
	opt.fd = -1;
	CHECK(blk_create(&dev, "blk9", &mem, &opt, err, sizeof(err)) < 0);
}

int main(void)
{
	static struct drv d;
	struct blk_options opt = { .sparse = true, .block_size = 512, .nr_queues = 2,
				   .id = "serial-0123456789" };
	char path[256];
	int fd;

	log_set_level(LOG_ERROR);
	ram = aligned_alloc(4096, RAM);	/* like real guest RAM: O_DIRECT checks host addresses */
	memset(ram, 0, RAM);
	guest_mem_layout(&mem, ram, RAM);
	scratch = SCRATCH;
	fd = temp_disk(path, sizeof(path));
	start(&d, fd, &opt);
	test_config(&d);
	test_rw(&d, fd);
	test_bad_requests(&d);
	test_zeroes(&d, fd);
	test_batch(&d, fd);
	test_header_read_once(&d, fd);
	test_malformed(&d);

	/* The image shrank under the device: a read past its end is IOERR. */
	CHECK_EQ(ftruncate(fd, DISK / 2), 0);
	CHECK_EQ(request(&d, 0, VIRTIO_BLK_T_IN, SECTORS - 8, galloc(4096, 4096), 4096, NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(ftruncate(fd, DISK), 0);
	stop(&d);

	test_read_only(path);
	test_create_errors(fd);
	close(fd);
	unlink(path);
	free(ram);
	return check_report("test_blk");
}
