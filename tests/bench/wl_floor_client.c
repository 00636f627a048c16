/*
 * wl-floor-client: vmsilo-wl-test's client flow run on the host straight
 * against the compositor, on libwayland-client and wl_shm: the floor
 * tests/bench/gpu.sh compares the guest's cross-domain path with, and the
 * host-side check that a screenshot of its window holds the pattern
 * (tests/unit/test_weston_pattern.sh).
 *
 *   wl-floor-client --socket PATH [--width W] [--height H] [--frames N]
 *                   [--seconds S] [--title T]
 *
 * A toplevel (app_id "vmsilo-wl-test") showing the test pattern: four
 * vertical bands, red, green, blue, white (XRGB8888), column x in band
 * x * 4 / W; default 200 x 120. Each frame redraws the whole buffer,
 * damages all of it, commits and waits for its frame callback. Prints
 *   VMSILO wl-configure=W H
 *   VMSILO wl-frame-done=1
 *   VMSILO bench fps=F ms-per-frame=L frames=N    (with --frames N)
 * where L is the mean time from commit to frame callback. It then stays
 * mapped S seconds (default 30; 0 with --frames) or until a pipe on stdin
 * closes. Exit 0, 1 usage, 2 a protocol error or no such global.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <wayland-client.h>
#include "xdg-shell-client-protocol.h"

#define MAX_SIDE 8192
static const uint32_t bands[4] = { 0xffff0000, 0xff00ff00, 0xff0000ff, 0xffffffff };

struct buffer {
	struct wl_buffer *wl;
	uint32_t *pixels;
	bool busy;
};

struct client {
	struct wl_display *display;
	struct wl_compositor *compositor;
	struct wl_shm *shm;
	struct xdg_wm_base *wm;
	struct wl_surface *surface;
	struct xdg_surface *xdg;
	struct xdg_toplevel *toplevel;
	struct buffer buf[2];
	uint32_t *row;			/* one row of the pattern */
	int width, height;
	bool configured, frame_done, closed;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void wm_ping(void *data, struct xdg_wm_base *wm, uint32_t serial)
{
	xdg_wm_base_pong(wm, serial);
}

static const struct xdg_wm_base_listener wm_listener = { .ping = wm_ping };

static void xdg_configure(void *data, struct xdg_surface *xdg, uint32_t serial)
{
	struct client *c = data;

	xdg_surface_ack_configure(xdg, serial);
	/* A later configure (kiosk-shell sends one after the first buffer) shows once committed. */
	if (c->configured)
		wl_surface_commit(c->surface);
	else
		printf("VMSILO wl-configure=%d %d\n", c->width, c->height);
	c->configured = true;
}

static const struct xdg_surface_listener xdg_listener = { .configure = xdg_configure };

/* The compositor's size is only reported: the buffer keeps its own. */
static void toplevel_configure(void *data, struct xdg_toplevel *t, int32_t w, int32_t h,
			       struct wl_array *states)
{
	if (w > 0 && h > 0)
		printf("VMSILO wl-toplevel-size=%d %d\n", w, h);
}

static void toplevel_close(void *data, struct xdg_toplevel *t)
{
	((struct client *)data)->closed = true;
}

static const struct xdg_toplevel_listener toplevel_listener = {
	.configure = toplevel_configure,
	.close = toplevel_close,
};

static void buffer_release(void *data, struct wl_buffer *wl)
{
	((struct buffer *)data)->busy = false;
}

static const struct wl_buffer_listener buffer_listener = { .release = buffer_release };

static void frame_done(void *data, struct wl_callback *cb, uint32_t time)
{
	((struct client *)data)->frame_done = true;
	wl_callback_destroy(cb);
}

static const struct wl_callback_listener frame_listener = { .done = frame_done };

static void global(void *data, struct wl_registry *reg, uint32_t name, const char *iface,
		   uint32_t version)
{
	struct client *c = data;

	if (!strcmp(iface, wl_compositor_interface.name) && version >= 4)
		c->compositor = wl_registry_bind(reg, name, &wl_compositor_interface, 4);
	else if (!strcmp(iface, wl_shm_interface.name))
		c->shm = wl_registry_bind(reg, name, &wl_shm_interface, 1);
	else if (!strcmp(iface, xdg_wm_base_interface.name)) {
		c->wm = wl_registry_bind(reg, name, &xdg_wm_base_interface, 1);
		xdg_wm_base_add_listener(c->wm, &wm_listener, c);
	}
}

static void global_remove(void *data, struct wl_registry *reg, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = global,
	.global_remove = global_remove,
};

/* Two buffers in one memfd pool, and the pattern's row. */
static bool make_buffers(struct client *c)
{
	size_t one = (size_t)c->width * c->height * 4;
	struct wl_shm_pool *pool;
	uint32_t *map;
	int fd = memfd_create("wl-floor-client", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, 2 * one) < 0)
		return false;
	map = mmap(NULL, 2 * one, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return false;
	}
	pool = wl_shm_create_pool(c->shm, fd, 2 * one);
	for (int i = 0; i < 2; i++) {
		c->buf[i].pixels = map + i * one / 4;
		c->buf[i].wl = wl_shm_pool_create_buffer(pool, i * one, c->width, c->height,
							 c->width * 4, WL_SHM_FORMAT_XRGB8888);
		wl_buffer_add_listener(c->buf[i].wl, &buffer_listener, &c->buf[i]);
	}
	wl_shm_pool_destroy(pool);
	close(fd);
	c->row = malloc(c->width * sizeof(*c->row));
	if (!c->row)
		return false;
	for (int x = 0; x < c->width; x++)
		c->row[x] = bands[x * 4 / c->width];
	return true;
}

static struct buffer *free_buffer(struct client *c)
{
	for (int i = 0; i < 2; i++)
		if (!c->buf[i].busy)
			return &c->buf[i];
	return NULL;
}

/* Redraws all of b and commits it with full damage and a frame callback. */
static void draw(struct client *c, struct buffer *b)
{
	for (int y = 0; y < c->height; y++)
		memcpy(b->pixels + (size_t)y * c->width, c->row, c->width * sizeof(*c->row));
	b->busy = true;
	c->frame_done = false;
	wl_surface_attach(c->surface, b->wl, 0, 0);
	wl_surface_damage_buffer(c->surface, 0, 0, c->width, c->height);
	wl_callback_add_listener(wl_surface_frame(c->surface), &frame_listener, c);
	wl_surface_commit(c->surface);
}

static bool dispatch(struct client *c)
{
	return wl_display_dispatch(c->display) >= 0 && !c->closed;
}

static bool map_window(struct client *c, const char *title)
{
	c->surface = wl_compositor_create_surface(c->compositor);
	c->xdg = xdg_wm_base_get_xdg_surface(c->wm, c->surface);
	xdg_surface_add_listener(c->xdg, &xdg_listener, c);
	c->toplevel = xdg_surface_get_toplevel(c->xdg);
	xdg_toplevel_add_listener(c->toplevel, &toplevel_listener, c);
	xdg_toplevel_set_title(c->toplevel, title);
	xdg_toplevel_set_app_id(c->toplevel, "vmsilo-wl-test");
	wl_surface_commit(c->surface);
	while (!c->configured)
		if (!dispatch(c))
			return false;
	return make_buffers(c);
}

/* frames frames, each waited for; prints the bench line when frames > 1. */
static bool run_frames(struct client *c, int frames)
{
	double start = now(), latency = 0;

	for (int i = 0; i < frames; i++) {
		struct buffer *b;
		double t;

		while (!(b = free_buffer(c)))
			if (!dispatch(c))
				return false;
		t = now();
		draw(c, b);
		while (!c->frame_done)
			if (!dispatch(c))
				return false;
		latency += now() - t;
		if (i == 0)
			printf("VMSILO wl-frame-done=1\n");
	}
	if (frames > 1)
		printf("VMSILO bench fps=%.1f ms-per-frame=%.2f frames=%d\n",
		       frames / (now() - start), 1000 * latency / frames, frames);
	return true;
}

/* Until seconds pass, the compositor closes the window, or a stdin pipe closes. */
static bool stay(struct client *c, int seconds)
{
	struct stat st;
	bool watch_stdin = fstat(0, &st) == 0 && S_ISFIFO(st.st_mode);
	double end = now() + seconds;

	while (!c->closed && now() < end) {
		struct pollfd p[2] = {
			{ .fd = wl_display_get_fd(c->display), .events = POLLIN },
			{ .fd = watch_stdin ? 0 : -1, .events = POLLIN },
		};
		char byte;

		wl_display_flush(c->display);
		if (poll(p, 2, (int)((end - now()) * 1000) + 1) < 0 && errno != EINTR)
			return false;
		if (p[1].revents && read(0, &byte, 1) <= 0)
			break;
		if (p[0].revents && wl_display_dispatch(c->display) < 0)
			return false;
	}
	return true;
}

static struct wl_display *connect_to(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct wl_display *display;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return NULL;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    !(display = wl_display_connect_to_fd(fd))) {
		close(fd);
		return NULL;
	}
	return display;
}

static void destroy(struct client *c, struct wl_registry *registry)
{
	for (int i = 0; i < 2; i++)
		if (c->buf[i].wl) {
			wl_buffer_destroy(c->buf[i].wl);
			munmap(c->buf[i].pixels, (size_t)c->width * c->height * 4);
		}
	free(c->row);
	if (c->toplevel)
		xdg_toplevel_destroy(c->toplevel);
	if (c->xdg)
		xdg_surface_destroy(c->xdg);
	if (c->surface)
		wl_surface_destroy(c->surface);
	if (c->wm)
		xdg_wm_base_destroy(c->wm);
	if (c->shm)
		wl_shm_destroy(c->shm);
	if (c->compositor)
		wl_compositor_destroy(c->compositor);
	wl_registry_destroy(registry);
	wl_display_roundtrip(c->display);
	wl_display_disconnect(c->display);
}

static int usage(void)
{
	fprintf(stderr, "usage: wl-floor-client --socket PATH [--width W] [--height H] "
		"[--frames N] [--seconds S] [--title T]\n");
	return 1;
}

int main(int argc, char **argv)
{
	struct client c = { .width = 200, .height = 120 };
	const char *path = NULL, *title = "vmsilo-wl-test";
	int frames = 1, seconds = -1;
	struct wl_registry *registry;
	bool ok;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--socket"))
			path = argv[i + 1];
		else if (!strcmp(argv[i], "--width"))
			c.width = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--height"))
			c.height = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--frames"))
			frames = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--title"))
			title = argv[i + 1];
		else
			return usage();
	}
	if (!path || argc % 2 == 0 || c.width < 4 || c.width > MAX_SIDE || c.height < 1 ||
	    c.height > MAX_SIDE || frames < 1)
		return usage();
	if (seconds < 0)
		seconds = frames > 1 ? 0 : 30;
	setvbuf(stdout, NULL, _IOLBF, 0);
	c.display = connect_to(path);
	if (!c.display) {
		fprintf(stderr, "wl-floor-client: cannot connect to %s\n", path);
		return 2;
	}
	registry = wl_display_get_registry(c.display);
	wl_registry_add_listener(registry, &registry_listener, &c);
	ok = wl_display_roundtrip(c.display) >= 0 && c.compositor && c.shm && c.wm &&
	     map_window(&c, title) && run_frames(&c, frames) && stay(&c, seconds);
	if (!ok)
		fprintf(stderr, "wl-floor-client: %s\n", wl_display_get_error(c.display) ?
			"protocol error" : "no wl_compositor v4, wl_shm or xdg_wm_base");
	destroy(&c, registry);
	return ok ? 0 : 2;
}
