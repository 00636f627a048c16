/*
 * Hostile vhost-user backends: each row of the table answers one request
 * badly. The frontend must fail the device (at create: a link that needs
 * a reset, so the VM still boots, with one log line; later:
 * NEEDS_RESET and an error from the op) with a line naming what was
 * wrong, never crash or hang, and leave no fd of the backend's open.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "check.h"
#include "fake_vhost_backend.h"
#include "log_capture.h"
#include "vmm/link_vhost_user.h"
#include "open_fds.h"

#define RAM_SIZE (1u << 20)

enum phase { AT_CREATE, AT_ACTIVATE, AT_RESET };

enum mode {
	SHORT, WRONG_ID, WRONG_SIZE, NO_REPLY_FLAG, TOO_MANY_FDS, HUGE_QUEUES, CONFIG_SIZE,
	HANGUP_MID_REPLY, SILENT, INFLIGHT_HUGE, INFLIGHT_ZERO, OVERSIZED, NACK, VRING_BASE,
	NO_VERSION_1,
};

struct hostile_case {
	const char *name;
	enum mode mode;
	enum phase phase;
	const char *says;	/* in the error or the needs-reset reason */
};

static const struct hostile_case cases[] = {
	{ "short reply", SHORT, AT_CREATE, "GET_FEATURES: reply of 4 bytes, expected 8" },
	{ "wrong request id", WRONG_ID, AT_CREATE, "reply to GET_QUEUE_NUM, expected one to GET_FEATURES" },
	{ "wrong size", WRONG_SIZE, AT_CREATE, "GET_PROTOCOL_FEATURES: reply of 16 bytes, expected 8" },
	{ "no REPLY flag", NO_REPLY_FLAG, AT_CREATE, "GET_FEATURES: reply without the REPLY flag" },
	{ "too many fds", TOO_MANY_FDS, AT_CREATE, "GET_FEATURES: malformed reply" },
	{ "65535 queues", HUGE_QUEUES, AT_CREATE, "GET_QUEUE_NUM: backend says 65535 queues, at most 16" },
	{ "config size", CONFIG_SIZE, AT_CREATE, "GET_CONFIG: config of 20 bytes at 0, asked for 60 at 0" },
	{ "hang-up mid-reply", HANGUP_MID_REPLY, AT_CREATE, "GET_FEATURES: backend closed the connection" },
	{ "silent", SILENT, AT_CREATE, "GET_FEATURES: no reply in time" },
	{ "oversized reply", OVERSIZED, AT_CREATE, "GET_FEATURES: malformed reply" },
	{ "no VERSION_1", NO_VERSION_1, AT_CREATE, "backend lacks VIRTIO_F_VERSION_1" },
	{ "inflight 1 TiB", INFLIGHT_HUGE, AT_ACTIVATE, "GET_INFLIGHT_FD: inflight area of 1099511627776 bytes" },
	{ "inflight 0", INFLIGHT_ZERO, AT_ACTIVATE, "GET_INFLIGHT_FD: inflight area of 0 bytes" },
	{ "mem table refused", NACK, AT_ACTIVATE, "SET_MEM_TABLE: backend refused it (status 1)" },
	{ "vring base of another queue", VRING_BASE, AT_RESET, "GET_VRING_BASE: base 0 of queue 7" },
};

static uint32_t trigger(enum mode mode)
{
	switch (mode) {
	case WRONG_SIZE: return VHOST_USER_GET_PROTOCOL_FEATURES;
	case HUGE_QUEUES: return VHOST_USER_GET_QUEUE_NUM;
	case CONFIG_SIZE: return VHOST_USER_GET_CONFIG;
	case INFLIGHT_HUGE: case INFLIGHT_ZERO: return VHOST_USER_GET_INFLIGHT_FD;
	case NACK: return VHOST_USER_SET_MEM_TABLE;
	case VRING_BASE: return VHOST_USER_GET_VRING_BASE;
	default: return VHOST_USER_GET_FEATURES;
	}
}

static void send_inflight(struct fake_backend *b, uint64_t size)
{
	struct vhost_user_inflight in = { .mmap_size = size, .num_queues = 1, .queue_size = 64 };
	struct vhost_user_msg r;
	int fd = memfd_create("inflight", MFD_CLOEXEC);

	vhost_user_msg_inflight(&r, VHOST_USER_GET_INFLIGHT_FD, &in);
	r.hdr.flags |= VHOST_USER_FLAG_REPLY;
	fake_send(b, &r, sizeof(r.hdr) + r.hdr.size, &fd, 1);
	close(fd);
}

static void send_oversized(struct fake_backend *b, uint32_t req)
{
	static uint8_t junk[100000];
	struct vhost_user_hdr h = { req, 1 | VHOST_USER_FLAG_REPLY, sizeof(junk) };

	fake_send(b, (void *)&h, sizeof(h), NULL, 0);
	fake_send(b, (void *)junk, sizeof(junk), NULL, 0);
}

static bool hostile(struct fake_backend *b, const struct vhost_user_msg *q)
{
	struct vhost_user_msg r;
	uint32_t req = q->hdr.request;
	int fds[3];

	if (req != trigger((enum mode)b->mode))
		return false;
	switch ((enum mode)b->mode) {
	case SHORT:
		vhost_user_msg_u64(&r, req, VHOST_USER_FLAG_REPLY, 1ull << 32);
		r.hdr.size = 4;
		fake_send(b, &r, 16, NULL, 0);
		return true;
	case WRONG_ID:
		fake_reply_u64(b, VHOST_USER_GET_QUEUE_NUM, 1ull << 32);
		return true;
	case WRONG_SIZE:
		vhost_user_msg_u64(&r, req, VHOST_USER_FLAG_REPLY, 0);
		r.hdr.size = 16;
		fake_send(b, &r, 28, NULL, 0);
		return true;
	case NO_REPLY_FLAG:
		fake_send(b, &r, vhost_user_msg_u64(&r, req, 0, 1ull << 32), NULL, 0);
		return true;
	case TOO_MANY_FDS:
		for (int i = 0; i < 3; i++)
			fds[i] = eventfd(0, EFD_CLOEXEC);
		fake_send(b, &r, vhost_user_msg_u64(&r, req, VHOST_USER_FLAG_REPLY, b->features),
			  fds, 3);
		for (int i = 0; i < 3; i++)
			close(fds[i]);
		return true;
	case HUGE_QUEUES:
		fake_reply_u64(b, req, 65535);
		return true;
	case CONFIG_SIZE:
		vhost_user_msg_config(&r, req, VHOST_USER_FLAG_REPLY, 0, b->config, q->p.config.size);
		r.p.config.size = 20;
		fake_send(b, &r, sizeof(r.hdr) + r.hdr.size, NULL, 0);
		return true;
	case HANGUP_MID_REPLY:
		vhost_user_msg_u64(&r, req, VHOST_USER_FLAG_REPLY, 1ull << 32);
		fake_send(b, &r, 6, NULL, 0);
		shutdown(b->sock, SHUT_WR);
		return true;
	case SILENT:
		return true;
	case OVERSIZED:
		send_oversized(b, req);
		return true;
	case NO_VERSION_1:
		fake_reply_u64(b, req, 1ull << 30);
		return true;
	case INFLIGHT_HUGE:
		send_inflight(b, 1ull << 40);
		return true;
	case INFLIGHT_ZERO:
		send_inflight(b, 0);
		return true;
	case NACK:
		fake_reply_u64(b, req, 1);
		return true;
	case VRING_BASE:
		vhost_user_msg_state(&r, req, 7, 0);
		r.hdr.flags |= VHOST_USER_FLAG_REPLY;
		fake_send(b, &r, sizeof(r.hdr) + r.hdr.size, NULL, 0);
		return true;
	}
	return false;
}

static char reason[200];
static unsigned nr_resets;

static int on_config(void *ctx, unsigned off, const void *bytes, unsigned len)
{
	(void)ctx, (void)off, (void)bytes, (void)len;
	return 0;
}

static void on_reset(void *ctx, const char *why)
{
	(void)ctx;
	snprintf(reason, sizeof(reason), "%s", why);
	nr_resets++;
}

static const struct vdev_link_events events = { on_config, on_reset, NULL, NULL };

/* Runs the phases up to where the case strikes; the text it failed with. */
static void run_phases(const struct hostile_case *c, struct vdev_link *link, char *said,
		       size_t len)
{
	struct vdev_vring r = { 64, 0x1000, 0x2000, 0x3000 };
	int rc;

	vdev_link_subscribe(link, &events, NULL);
	nr_resets = 0;
	reason[0] = '\0';
	link->ops->features_ok(link, 1ull << 32);
	link->ops->set_vring(link, 0, &r);
	rc = link->ops->activate(link, 1ull << 32);
	if (c->phase == AT_RESET) {
		CHECK_EQ(rc, 0);
		rc = link->ops->reset(link);
	}
	CHECK(rc < 0);
	CHECK_EQ(link->ops->status(link), VDEV_LINK_NEEDS_RESET);
	CHECK_EQ(nr_resets, 1);
	snprintf(said, len, "%s", reason);
}

static void run_case(const struct hostile_case *c, struct guest_mem *mem, int memfd)
{
	struct fake_backend b = {
		.features = (1ull << 32) | (1ull << 30), .queues = 1, .bad = hostile,
		.mode = (int)c->mode,
		.protocol = (1ull << VHOST_USER_PROTOCOL_F_MQ) |
			    (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			    (1ull << VHOST_USER_PROTOCOL_F_CONFIG) |
			    (1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) |
			    (1ull << VHOST_USER_PROTOCOL_F_RESET_DEVICE),
	};
	unsigned fds_before = open_fds();
	struct vhost_user_options opt = {
		.name = "blk0", .device_id = 2, .sock_fd = fake_backend_start(&b), .queue_size = 64,
		.mem = mem, .mem_fd = memfd, .timeout_ms = 300,
	};
	char err[256] = "", said[256] = "";
	struct log_capture cap;
	struct vdev_link *link;
	char *logged;

	log_capture_begin(&cap);
	link = vhost_user_link_create(&opt, err, sizeof(err));
	logged = log_capture_end(&cap);
	if (c->phase == AT_CREATE) {
		/* The VM boots anyway: a device that needs a reset, said once. */
		CHECK(link);
		if (link) {
			CHECK_EQ(link->ops->status(link), VDEV_LINK_NEEDS_RESET);
			CHECK_EQ(link->features, 1ull << 32);
			CHECK_EQ(link->nr_queues, 1u);
		}
		snprintf(said, sizeof(said), "%s", logged);
		CHECK(!strstr(logged, "\n") || strstr(logged, "\n") == logged + strlen(logged) - 1);
	} else {
		CHECK(link);
		if (link)
			run_phases(c, link, said, sizeof(said));
	}
	if (link)
		link->ops->stop(link);
	fake_backend_join(&b);
	if (!strstr(said, c->says)) {
		fprintf(stderr, "%s: said \"%s\", expected \"%s\"\n", c->name, said, c->says);
		check_failures++;
	}
	free(logged);
	CHECK_EQ(open_fds(), fds_before);
}

int main(void)
{
	struct guest_mem mem;
	int memfd = memfd_create("ram", MFD_CLOEXEC);
	uint8_t *host;

	CHECK(!ftruncate(memfd, RAM_SIZE));
	host = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	guest_mem_layout(&mem, host, RAM_SIZE);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int before = check_failures;

		run_case(&cases[i], &mem, memfd);
		if (check_failures != before)
			fprintf(stderr, "case \"%s\" failed\n", cases[i].name);
	}
	munmap(host, RAM_SIZE);
	close(memfd);
	return check_report("test_vhost_user_hostile");
}
