/*
 * The cross-domain type against a real compositor: Weston headless in a
 * private XDG_RUNTIME_DIR, reached through fake_gpu's connect to its
 * socket. The test speaks Wayland as a guest proxy would, through SEND
 * and the RECEIVEs its polls bring: the registry it gets lists the same
 * globals as wayland-info on the host, and a wl_shm pool made from a
 * GET_IMAGE_REQUIREMENTS template's blob is accepted (no protocol error).
 * SKIP (77) without weston.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "devices/cross_domain.h"
#include "devices/cross_domain_proto.h"
#include "fake_gpu.h"

#define PAGE		4096u
#define SOCKET		"wl-cross-domain"
#define MAX_GLOBALS	64
#define SKIP		77

static struct gpu *gpu;
static struct gpu_ctx *ctx;
static struct gpu_resource *query_ring, *channel_ring;
static uint64_t next_fence = 1;

/* What came from the compositor, not parsed yet. */
static uint8_t in[65536];
static size_t in_len;

struct globals {
	char names[MAX_GLOBALS][64];
	uint32_t ids[MAX_GLOBALS];
	unsigned n;
};

/* ---- Wayland on the wire: header (object, size << 16 | opcode), args ---- */

struct out {
	uint8_t buf[512];
	size_t len, start;
};

static void put32(struct out *o, uint32_t v)
{
	memcpy(o->buf + o->len, &v, 4);
	o->len += 4;
}

static void put_str(struct out *o, const char *s)
{
	uint32_t n = (uint32_t)strlen(s) + 1;

	put32(o, n);
	memset(o->buf + o->len, 0, (n + 3) & ~3u);
	memcpy(o->buf + o->len, s, n);
	o->len += (n + 3) & ~3u;
}

static void begin(struct out *o, uint32_t object, uint16_t opcode)
{
	o->start = o->len;
	put32(o, object);
	put32(o, opcode);
}

static void end(struct out *o)
{
	uint32_t word;

	memcpy(&word, o->buf + o->start + 4, 4);
	word = (uint32_t)(o->len - o->start) << 16 | (word & 0xffff);
	memcpy(o->buf + o->start + 4, &word, 4);
}

static uint32_t guest_send(const struct out *o, uint32_t blob_res)
{
	static uint8_t buf[sizeof(struct cross_domain_send_receive) + sizeof(o->buf)];
	struct cross_domain_send_receive s = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_SEND, .cmd_size = (uint16_t)(sizeof(s) + o->len) },
		.num_identifiers = blob_res ? 1 : 0, .opaque_data_size = (uint32_t)o->len,
		.identifiers = { blob_res }, .identifier_types = { CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB },
	};

	memcpy(buf, &s, sizeof(s));
	memcpy(buf + sizeof(s), o->buf, o->len);
	return cross_domain_type.submit(ctx, buf, (uint32_t)(sizeof(s) + o->len));
}

/* One poll: a fence, the loop until it is signalled, the message appended. */
static bool poll_once(void)
{
	const struct fake_fence *f;
	unsigned before = fake_gpu_fences(gpu, &f);
	struct cross_domain_send_receive r;

	if (cross_domain_type.fence(ctx, CROSS_DOMAIN_CHANNEL_RING, next_fence++))
		return false;
	for (int i = 0; i < 300 && fake_gpu_fences(gpu, &f) == before; i++)
		fake_gpu_pump(10);
	if (fake_gpu_fences(gpu, &f) == before)
		return false;
	memcpy(&r, fake_res_data(channel_ring), sizeof(r));
	if (r.hdr.cmd != CROSS_DOMAIN_CMD_RECEIVE || !r.opaque_data_size ||
	    r.opaque_data_size > sizeof(in) - in_len)
		return false;
	memcpy(in + in_len, fake_res_data(channel_ring) + sizeof(r), r.opaque_data_size);
	in_len += r.opaque_data_size;
	return true;
}

/*
 * Reads events until wl_callback callback's done; globals of the registry
 * (object 2) are collected. false on a protocol error or no answer.
 */
static bool roundtrip(uint32_t callback, struct globals *g)
{
	for (;;) {
		size_t off = 0;
		bool done = false;

		while (in_len - off >= 8) {
			uint32_t obj, word, size;

			memcpy(&obj, in + off, 4);
			memcpy(&word, in + off + 4, 4);
			size = word >> 16;
			if (size < 8 || size > in_len - off)
				break;
			if (obj == 1 && (word & 0xffff) == 0) {
				fprintf(stderr, "wl_display.error: %.*s\n", (int)(size - 20),
					(const char *)in + off + 20);
				return false;
			}
			if (obj == 2 && (word & 0xffff) == 0 && g && g->n < MAX_GLOBALS) {
				memcpy(&g->ids[g->n], in + off + 8, 4);
				snprintf(g->names[g->n++], sizeof(g->names[0]), "%s",
					 (const char *)in + off + 16);
			}
			done |= obj == callback;
			off += size;
		}
		memmove(in, in + off, in_len - off);
		in_len -= off;
		if (done)
			return true;
		if (!poll_once())
			return false;
	}
}

/* ---- the compositor and wayland-info ---- */

static pid_t start_weston(const char *dir)
{
	char path[256];
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		setenv("XDG_RUNTIME_DIR", dir, 1);
		execlp("weston", "weston", "--backend=headless-backend.so", "--use-pixman",
		       "--socket=" SOCKET, "--idle-time=0", "--width=320", "--height=240",
		       "--shell=kiosk-shell.so", (char *)NULL);
		_exit(SKIP);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, SOCKET);
	for (int i = 0; i < 100; i++) {	/* up to 10 s for its socket */
		struct stat st;
		int status;

		if (!stat(path, &st))
			return pid;
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -1;
		nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* The interfaces wayland-info lists, or -1 if it does not run. */
static int host_globals(const char *dir, struct globals *g)
{
	char cmd[512], line[512];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "XDG_RUNTIME_DIR=%s WAYLAND_DISPLAY=%s wayland-info 2>/dev/null",
		 dir, SOCKET);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p) && g->n < MAX_GLOBALS) {
		char *s = strstr(line, "interface: '"), *e;

		if (s && (e = strchr(s + 12, '\'')) && s == line) {
			*e = 0;
			snprintf(g->names[g->n++], sizeof(g->names[0]), "%s", s + 12);
		}
	}
	return pclose(p) == 0 && g->n ? 0 : -1;
}

static bool has(const struct globals *g, const char *name, uint32_t *id)
{
	for (unsigned i = 0; i < g->n; i++) {
		if (!strcmp(g->names[i], name)) {
			if (id)
				*id = g->ids[i];
			return true;
		}
	}
	return false;
}

/* ---- the test ---- */

static void setup_context(const char *socket_path)
{
	struct cross_domain_init init = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_INIT, .cmd_size = CROSS_DOMAIN_INIT_SIZE_V1 },
		.query_ring_id = 1, .channel_ring_id = 2,
		.channel_type = CROSS_DOMAIN_CHANNEL_WAYLAND,
	};

	gpu = fake_gpu_new(true, false);
	fake_gpu_connect_path(gpu, socket_path);
	ctx = fake_ctx_new(gpu, 1, &cross_domain_type);
	query_ring = fake_res_guest(gpu, 1, PAGE);
	channel_ring = fake_res_guest(gpu, 2, PAGE);
	fake_res_attach(query_ring, ctx);
	fake_res_attach(channel_ring, ctx);
	CHECK_EQ(cross_domain_type.submit(ctx, (const uint8_t *)&init,
					  CROSS_DOMAIN_INIT_SIZE_V1), 0);
}

static void test_registry(const char *dir, struct globals *g)
{
	struct globals host = { .n = 0 };
	struct out o = { .len = 0 };

	begin(&o, 1, 1);	/* wl_display.get_registry(2) */
	put32(&o, 2);
	end(&o);
	begin(&o, 1, 0);	/* wl_display.sync(3) */
	put32(&o, 3);
	end(&o);
	CHECK_EQ(guest_send(&o, 0), 0);
	CHECK(roundtrip(3, g));
	CHECK(has(g, "wl_compositor", NULL) && has(g, "wl_shm", NULL) && has(g, "xdg_wm_base", NULL));
	if (host_globals(dir, &host)) {
		printf("note: no wayland-info: the registry is not compared\n");
		return;
	}
	CHECK_EQ(g->n, host.n);
	for (unsigned i = 0; i < host.n; i++) {
		if (!has(g, host.names[i], NULL))
			fprintf(stderr, "missing through cross-domain: %s\n", host.names[i]);
		CHECK(has(g, host.names[i], NULL));
	}
}

/* A pool from a template's blob: the fd reaches Weston, which maps it. */
static void test_shm_pool(const struct globals *g)
{
	struct cross_domain_get_image_requirements q = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS, .cmd_size = sizeof(q) },
		.width = 64, .height = 64, .drm_format = 0x34325258,
	};
	struct cross_domain_image_requirements req;
	struct out o = { .len = 0 };
	uint32_t shm = 0, map_info;
	int fd = -1;

	CHECK(has(g, "wl_shm", &shm));
	CHECK_EQ(cross_domain_type.submit(ctx, (const uint8_t *)&q, sizeof(q)), 0);
	memcpy(&req, fake_res_data(query_ring), sizeof(req));
	CHECK_EQ(req.strides[0], 256);
	CHECK_EQ(cross_domain_type.create_blob(ctx, req.blob_id, req.size, 0, &fd, &map_info), 0);
	if (fd < 0)
		return;
	fake_res_attach(fake_res_host(gpu, 50, fd, req.size), ctx);
	begin(&o, 2, 0);	/* wl_registry.bind(shm, "wl_shm", 1, 4) */
	put32(&o, shm);
	put_str(&o, "wl_shm");
	put32(&o, 1);
	put32(&o, 4);
	end(&o);
	begin(&o, 4, 0);	/* wl_shm.create_pool(5, fd, size) */
	put32(&o, 5);
	put32(&o, (uint32_t)req.size);
	end(&o);
	begin(&o, 5, 0);	/* wl_shm_pool.create_buffer(6, 0, 64, 64, 256, XRGB8888) */
	put32(&o, 6);
	put32(&o, 0);
	put32(&o, 64);
	put32(&o, 64);
	put32(&o, 256);
	put32(&o, 1);
	end(&o);
	begin(&o, 1, 0);	/* wl_display.sync(7) */
	put32(&o, 7);
	end(&o);
	CHECK_EQ(guest_send(&o, 50), 0);
	CHECK(roundtrip(7, NULL));
}

int main(void)
{
	char dir[] = "/tmp/test_cross_domain_weston.XXXXXX", path[256];
	struct globals g = { .n = 0 };
	pid_t weston;

	if (!mkdtemp(dir))
		return 1;
	weston = start_weston(dir);
	if (weston < 0) {
		printf("SKIP: no weston headless here\n");
		rmdir(dir);
		return SKIP;
	}
	cross_domain_prepare();
	snprintf(path, sizeof(path), "%s/%s", dir, SOCKET);
	setup_context(path);
	test_registry(dir, &g);
	printf("%u globals through cross-domain\n", g.n);
	test_shm_pool(&g);
	fake_gpu_free(gpu);
	kill(weston, SIGTERM);
	waitpid(weston, NULL, 0);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path))
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_report("test_cross_domain_weston");
}
