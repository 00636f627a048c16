/*
 * virtio-poke: a hostile virtio driver in userspace, for rig tests that need
 * a guest to send what Linux's drivers never do. Run as root in the guest,
 * it takes one virtio-pci device from its kernel driver and drives it
 * through sysfs (config, enable, resourceN) and /proc/self/pagemap:
 *
 *   virtio-poke --device ID COMMAND [ARG]...
 *
 * ID is the PCI device id in hex (1045: virtio-balloon, 1050: virtio-gpu),
 * the first device of vendor 0x1af4 with it is taken. Commands:
 *   inflate PFN...   one device-readable buffer of le32 PFNs on queue 0
 *                    (virtio-balloon's inflateq)
 *   gpu-map WINDOW   virtio-gpu MAP_BLOB at hostile offsets into a
 *                    host-visible region of WINDOW bytes
 *                    (virtio_poke_gpu.c says what and what it prints)
 *   gpu-virgl        hostile virgl streams, 3D resources and transfers,
 *                    then a render read back (virtio_poke_virgl.c)
 * The device is initialised with VIRTIO_F_VERSION_1 and the command's
 * features only, one queue of up to 8 entries is set up. A buffer command
 * posts its buffer and notifies; once the device returns it: "used N" and
 * "status 0xSS". A script command makes its own calls (poke_call).
 * Exit status: 0 the device answered without NEEDS_RESET, 1 a setup error,
 * 2 no reply within 10 s, 3 NEEDS_RESET, 4 an answer not the one expected
 * (scripts); each failure one line on stderr. A new command is a queue
 * index, its features and a buffer builder or a script in commands[].
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>

#include "virtio_pci_caps.h"
#include "virtio_poke.h"

#define SYSFS_PCI	"/sys/bus/pci/devices"
#define PATH_LEN	512
#define VIRTIO_VENDOR	0x1af4
#define PCI_CONFIG_MAX	4096
#define PCI_COMMAND_REG	0x04
#define PCI_COMMAND_MASTER_BIT 0x4
#define NR_BARS		6
#define PAGE		4096
#define QUEUE_SIZE	8
#define REPLY_TIMEOUT_NS (10 * 1000000000ll)

/* The ring page: split virtqueue (2.7) parts, then the buffer. */
#define DESC_AT		0	/* 16 bytes each */
#define AVAIL_AT	128	/* flags, idx, ring[QUEUE_SIZE] */
#define USED_AT		256	/* flags, idx, {id, len}[QUEUE_SIZE] */
#define BUF_AT		512
#define RESP_AT		2048	/* poke_call: the request before, the reply here */

enum { EXIT_SETUP = 1, EXIT_NO_REPLY = 2, EXIT_NEEDS_RESET = 3 };

struct vring_desc_le {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct device {
	char bdf[64];
	struct virtio_pci_layout layout;
	volatile uint8_t *bar[NR_BARS];
	size_t bar_size[NR_BARS];
	volatile uint8_t *common, *notify;	/* notify: the queue's address */
};

struct ring {
	uint8_t *va;
	uint64_t pa;
	uint16_t size;
	uint16_t posted;	/* avail idx: buffers made available so far */
};

struct poke {
	struct device *d;
	struct ring *r;
	unsigned q;
};

struct command {
	const char *name;
	unsigned queue;
	uint64_t features;	/* accepted besides VIRTIO_F_VERSION_1 */
	/* Fills buf (room bytes) from args; the length, or -1 with a message. */
	int (*build)(int argc, char **argv, uint8_t *buf, size_t room);
	/* Or a script run on the ready device: the exit status. */
	int (*script)(struct poke *p, int argc, char **argv);
};

static _Noreturn void die(const char *fmt, ...)
{
	va_list ap;

	fputs("virtio-poke: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_SETUP);
}

/* --- MMIO: aligned accesses of the field's width (4.1.3.1) --- */

#ifndef VIRTIO_POKE_TEST_MMIO	/* tests/unit/test_virtio_poke.c: to the transport */
static void w8(volatile uint8_t *p, uint8_t v) { *p = v; }
static void w16(volatile uint8_t *p, uint16_t v) { *(volatile uint16_t *)(void *)p = v; }
static void w32(volatile uint8_t *p, uint32_t v) { *(volatile uint32_t *)(void *)p = v; }
static uint8_t r8(volatile uint8_t *p) { return *p; }
static uint16_t r16(volatile uint8_t *p) { return *(volatile uint16_t *)(void *)p; }
static uint32_t r32(volatile uint8_t *p) { return *(volatile uint32_t *)(void *)p; }
#endif

static void w64_split(volatile uint8_t *lo, uint64_t v)
{
	w32(lo, (uint32_t)v);
	w32(lo + 4, (uint32_t)(v >> 32));
}

/* --- the device in sysfs --- */

static bool read_sysfs_id(const char *bdf, const char *file, unsigned long *id)
{
	char path[PATH_LEN], text[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), SYSFS_PCI "/%s/%s", bdf, file);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(text, sizeof(text), f))
		text[0] = 0;
	fclose(f);
	*id = strtoul(text, NULL, 16);
	return text[0] != 0;
}

/* The device's sysfs file; path (PATH_LEN bytes) names it for messages. */
static int open_sysfs(const struct device *d, const char *file, int flags, char *path)
{
	int fd;

	snprintf(path, PATH_LEN, SYSFS_PCI "/%s/%s", d->bdf, file);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	return fd;
}

static void write_sysfs(const struct device *d, const char *file, const char *text)
{
	char path[PATH_LEN];
	int fd = open_sysfs(d, file, O_WRONLY, path);

	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die("write %s: %s", path, strerror(errno));
	close(fd);
}

static void find_device(unsigned long want, struct device *d)
{
	DIR *dir = opendir(SYSFS_PCI);
	struct dirent *e;
	unsigned long vendor, id;

	if (!dir)
		die("%s: %s", SYSFS_PCI, strerror(errno));
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(d->bdf))
			continue;
		if (read_sysfs_id(e->d_name, "vendor", &vendor) && vendor == VIRTIO_VENDOR &&
		    read_sysfs_id(e->d_name, "device", &id) && id == want) {
			strcpy(d->bdf, e->d_name);
			closedir(dir);
			return;
		}
	}
	closedir(dir);
	die("no PCI device %04x:%04lx", VIRTIO_VENDOR, want);
}

/* Bus mastering: the kernel turns it off with the driver gone, and a
 * device that honours it would not touch the rings without it. */
static void enable_bus_master(struct device *d)
{
	char path[PATH_LEN];
	uint16_t command;
	int fd = open_sysfs(d, "config", O_RDWR, path);

	if (pread(fd, &command, 2, PCI_COMMAND_REG) != 2)
		die("read %s: %s", path, strerror(errno));
	command |= PCI_COMMAND_MASTER_BIT;
	if (pwrite(fd, &command, 2, PCI_COMMAND_REG) != 2)
		die("write %s: %s", path, strerror(errno));
	close(fd);
}

/* Unbinds the kernel's driver, if one holds the device, and turns memory
 * decode (sysfs's enable) and bus mastering on. */
static void take_device(struct device *d)
{
	char path[PATH_LEN];

	snprintf(path, sizeof(path), SYSFS_PCI "/%s/driver", d->bdf);
	if (access(path, F_OK) == 0)
		write_sysfs(d, "driver/unbind", d->bdf);
	write_sysfs(d, "enable", "1");
	enable_bus_master(d);
}

static void parse_config(struct device *d)
{
	static uint8_t cfg[PCI_CONFIG_MAX];
	char path[PATH_LEN];
	const char *why;
	int fd = open_sysfs(d, "config", O_RDONLY, path);
	size_t len = 0;
	ssize_t n = 0;

	while (len < sizeof(cfg) && (n = read(fd, cfg + len, sizeof(cfg) - len)) > 0)
		len += (size_t)n;
	if (n < 0)
		die("read %s: %s", path, strerror(errno));
	close(fd);
	if (virtio_pci_parse_caps(cfg, len, &d->layout, &why))
		die("%s: %s", d->bdf, why);
}

/* A pointer to the window's bytes [at, at + len), the BAR mapped first. */
static volatile uint8_t *in_window(struct device *d, const struct virtio_pci_window *w,
				   uint64_t at, uint64_t len, const char *what)
{
	char path[PATH_LEN], file[16];
	struct stat st;
	void *p;
	int fd;

	if (at + len > w->length)
		die("%s: %s at %#" PRIx64 "+%" PRIu64 " is outside its capability's %" PRIu32 " bytes",
		    d->bdf, what, at, len, w->length);
	if (!d->bar[w->bar]) {
		snprintf(file, sizeof(file), "resource%u", w->bar);
		fd = open_sysfs(d, file, O_RDWR, path);
		if (fstat(fd, &st))
			die("%s: %s", path, strerror(errno));
		p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			die("mmap %s: %s", path, strerror(errno));
		close(fd);
		d->bar[w->bar] = p;
		d->bar_size[w->bar] = (size_t)st.st_size;
	}
	if ((uint64_t)w->offset + at + len > d->bar_size[w->bar])
		die("%s: %s is past the end of BAR %u", d->bdf, what, w->bar);
	return d->bar[w->bar] + w->offset + at;
}

/* --- the ring page: locked, with its guest-physical address --- */

static uint64_t physical_address(void *va)
{
	uint64_t entry, pfn;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || pread(fd, &entry, sizeof(entry), (off_t)((uintptr_t)va / PAGE * 8)) != 8)
		die("/proc/self/pagemap: %s", strerror(errno));
	close(fd);
	pfn = entry & ((1ull << 55) - 1);
	if (!(entry >> 63))
		die("the ring page is not present in /proc/self/pagemap");
	if (!pfn)
		die("/proc/self/pagemap shows no PFNs (needs CAP_SYS_ADMIN)");
	return pfn * PAGE;
}

uint64_t poke_page(uint8_t **va)
{
	if (sysconf(_SC_PAGESIZE) != PAGE)
		die("the page size is not %d", PAGE);
	*va = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE, -1, 0);
	if (*va == MAP_FAILED || mlock(*va, PAGE))
		die("a locked page: %s", strerror(errno));
	memset(*va, 0, PAGE);
	return physical_address(*va);
}

static void ring_alloc(struct ring *r)
{
	r->pa = poke_page(&r->va);
}

/* --- virtio initialisation (3.1.1) --- */

#define COMMON(d, field) ((d)->common + VIRTIO_PCI_COMMON_##field)

static uint8_t status(struct device *d)
{
	return r8(COMMON(d, STATUS));
}

static void add_status(struct device *d, uint8_t bits)
{
	w8(COMMON(d, STATUS), status(d) | bits);
}

static void reset(struct device *d)
{
	w8(COMMON(d, STATUS), 0);
	for (int i = 0; i < 1000 && status(d); i++)
		usleep(1000);
	if (status(d))
		die("%s: the device did not reset (status %#x)", d->bdf, status(d));
}

static uint64_t device_features(struct device *d)
{
	uint64_t f;

	w32(COMMON(d, DFSELECT), 1);
	f = (uint64_t)r32(COMMON(d, DF)) << 32;
	w32(COMMON(d, DFSELECT), 0);
	return f | r32(COMMON(d, DF));
}

static void negotiate(struct device *d, uint64_t extra)
{
	uint64_t want = 1ull << VIRTIO_F_VERSION_1 | extra, offered;

	reset(d);
	add_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	add_status(d, VIRTIO_CONFIG_S_DRIVER);
	offered = device_features(d);
	if (want & ~offered)
		die("%s: the device offers features %#" PRIx64 ", not all of %#" PRIx64,
		    d->bdf, offered, want);
	w32(COMMON(d, GFSELECT), 0);
	w32(COMMON(d, GF), (uint32_t)want);
	w32(COMMON(d, GFSELECT), 1);
	w32(COMMON(d, GF), (uint32_t)(want >> 32));
	add_status(d, VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(status(d) & VIRTIO_CONFIG_S_FEATURES_OK))
		die("%s: FEATURES_OK did not stick (status %#x)", d->bdf, status(d));
}

static void setup_queue(struct device *d, unsigned q, struct ring *r)
{
	uint16_t max, notify_off;

	w16(COMMON(d, Q_SELECT), (uint16_t)q);
	max = r16(COMMON(d, Q_SIZE));
	if (!max)
		die("%s: the device has no queue %u", d->bdf, q);
	r->size = max < QUEUE_SIZE ? max : QUEUE_SIZE;
	w16(COMMON(d, Q_SIZE), r->size);
	w64_split(COMMON(d, Q_DESCLO), r->pa + DESC_AT);
	w64_split(COMMON(d, Q_AVAILLO), r->pa + AVAIL_AT);
	w64_split(COMMON(d, Q_USEDLO), r->pa + USED_AT);
	w16(COMMON(d, Q_ENABLE), 1);
	if (r16(COMMON(d, Q_ENABLE)) != 1)
		die("%s: queue %u did not enable (status %#x)", d->bdf, q, status(d));
	notify_off = r16(COMMON(d, Q_NOFF));
	d->notify = in_window(d, &d->layout.notify,
			      (uint64_t)notify_off * d->layout.notify_off_multiplier, 2, "the queue's notify");
}

/* --- one buffer through the queue --- */

static volatile uint16_t *used_idx(struct ring *r)
{
	return (volatile uint16_t *)(void *)(r->va + USED_AT + 2);
}

/* Descriptor 0's chain into the next avail slot, published and notified. */
static void publish(struct device *d, unsigned q, struct ring *r)
{
	uint16_t *avail = (void *)(r->va + AVAIL_AT);

	avail[2 + r->posted % r->size] = 0;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	*(volatile uint16_t *)&avail[1] = ++r->posted;	/* idx */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* idx before the notify */
	w16(d->notify, (uint16_t)q);
}

static void post(struct device *d, unsigned q, struct ring *r, uint32_t len)
{
	struct vring_desc_le *desc = (void *)(r->va + DESC_AT);

	desc[0] = (struct vring_desc_le){ .addr = r->pa + BUF_AT, .len = len };	/* device-readable */
	publish(d, q, r);
}

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Polls for the device's answer (no interrupts: nothing is bound to them). */
static int await_reply(struct device *d, struct ring *r)
{
	int64_t deadline = now_ns() + REPLY_TIMEOUT_NS;

	while (*used_idx(r) != r->posted) {
		if (status(d) & VIRTIO_CONFIG_S_NEEDS_RESET) {
			fprintf(stderr, "virtio-poke: %s: NEEDS_RESET instead of an answer (status %#x)\n",
				d->bdf, status(d));
			return EXIT_NEEDS_RESET;
		}
		if (now_ns() > deadline) {
			fprintf(stderr, "virtio-poke: %s: no reply in 10 s (status %#x)\n", d->bdf,
				status(d));
			return EXIT_NO_REPLY;
		}
		usleep(1000);
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return 0;
}

static int await_used(struct device *d, struct ring *r)
{
	int rc = await_reply(d, r);

	if (rc)
		return rc;
	printf("used %u\nstatus 0x%02x\n", *used_idx(r), status(d));
	return status(d) & VIRTIO_CONFIG_S_NEEDS_RESET ? EXIT_NEEDS_RESET : 0;
}

/* A request and a reply buffer as one chain; what the device wrote. */
int poke_call(struct poke *p, const void *req, uint32_t req_len, void *resp, uint32_t resp_len)
{
	struct vring_desc_le *desc = (void *)(p->r->va + DESC_AT);
	uint32_t used_len;
	uint16_t slot = p->r->posted % p->r->size;
	int rc;

	if (req_len > RESP_AT - BUF_AT || resp_len > PAGE - RESP_AT)
		die("a call of %u + %u bytes does not fit the ring page", req_len, resp_len);
	memcpy(p->r->va + BUF_AT, req, req_len);
	memset(p->r->va + RESP_AT, 0, resp_len);
	desc[0] = (struct vring_desc_le){ .addr = p->r->pa + BUF_AT, .len = req_len,
					  .flags = VRING_DESC_F_NEXT, .next = 1 };
	desc[1] = (struct vring_desc_le){ .addr = p->r->pa + RESP_AT, .len = resp_len,
					  .flags = VRING_DESC_F_WRITE };
	publish(p->d, p->q, p->r);
	if ((rc = await_reply(p->d, p->r)))
		return -rc;
	memcpy(&used_len, p->r->va + USED_AT + 4 + 8 * slot + 4, sizeof(used_len));
	if (used_len > resp_len)
		used_len = resp_len;
	memcpy(resp, p->r->va + RESP_AT, used_len);
	return (int)used_len;
}

bool poke_needs_reset(struct poke *p)
{
	return status(p->d) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

/* --- commands --- */

static int build_pfns(int argc, char **argv, uint8_t *buf, size_t room)
{
	if (argc < 1 || (size_t)argc * 4 > room) {
		fprintf(stderr, "virtio-poke: inflate takes 1 to %zu PFNs\n", room / 4);
		return -1;
	}
	for (int i = 0; i < argc; i++) {
		char *end;
		unsigned long long pfn;

		errno = 0;
		pfn = strtoull(argv[i], &end, 0);
		if (errno || *end || end == argv[i] || pfn > UINT32_MAX) {
			fprintf(stderr, "virtio-poke: not a 32-bit PFN: %s\n", argv[i]);
			return -1;
		}
		for (int b = 0; b < 4; b++)	/* le32 */
			buf[4 * i + b] = (uint8_t)(pfn >> (8 * b));
	}
	return argc * 4;
}

static const struct command commands[] = {
	{ .name = "inflate", .queue = 0, .build = build_pfns },
	{ .name = "gpu-map", .queue = 0, .features = POKE_GPU_FEATURES, .script = poke_gpu_map },
	{ .name = "gpu-virgl", .queue = 0, .features = POKE_GPU_FEATURES, .script = poke_gpu_virgl },
};

static _Noreturn void usage(void)
{
	fputs("usage: virtio-poke --device ID inflate PFN...\n"
	      "       virtio-poke --device ID gpu-map WINDOW_BYTES\n"
	      "       virtio-poke --device ID gpu-virgl\n", stderr);
	exit(EXIT_SETUP);
}

static const struct command *command_named(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	usage();
}

int main(int argc, char **argv)
{
	static struct device d;
	static uint8_t buf[PAGE - BUF_AT];
	const struct command *cmd;
	struct ring r = { 0 };
	unsigned long id;
	char *end;
	int len, rc;

	if (argc < 4 || strcmp(argv[1], "--device"))
		usage();
	id = strtoul(argv[2], &end, 16);
	if (*end || end == argv[2] || id > 0xffff)
		usage();
	cmd = command_named(argv[3]);
	len = cmd->build ? cmd->build(argc - 4, argv + 4, buf, sizeof(buf)) : 0;
	if (len < 0)
		return EXIT_SETUP;

	find_device(id, &d);
	ring_alloc(&r);
	memcpy(r.va + BUF_AT, buf, (size_t)len);
	take_device(&d);
	parse_config(&d);
	d.common = in_window(&d, &d.layout.common, 0, sizeof(struct virtio_pci_common_cfg),
			     "the common configuration");
	negotiate(&d, cmd->features);
	setup_queue(&d, cmd->queue, &r);
	add_status(&d, VIRTIO_CONFIG_S_DRIVER_OK);
	if (cmd->script) {
		struct poke p = { &d, &r, cmd->queue };

		rc = cmd->script(&p, argc - 4, argv + 4);
	} else {
		post(&d, cmd->queue, &r, (uint32_t)len);
		rc = await_used(&d, &r);
	}
	/* The device must not keep a ring in memory this process gives back. */
	w8(COMMON(&d, STATUS), 0);
	return rc;
}
