/*
 * wl-fake-client: on the host, what `vmsilo-wl-test fds` does in the
 * guest, straight on libwayland-client: takes wl-fake-compositor's keymap
 * and both clipboard directions, and prints the same VMSILO lines, so the
 * compositor and wl_fds_check.sh are tested without a VM
 * (tests/unit/test_wl_fake_compositor.sh).
 *
 *   wl-fake-client --socket PATH [--seconds S]
 *
 * Prints
 *   VMSILO keymap-size=N keymap-sum=H keymap-ro=0|1 keymap-sealed=0|1
 *   VMSILO keymap-fd=<type>                 a keymap fd that is no file
 *   VMSILO clip-sent=N
 *   VMSILO clip-received=N clip-sum=H
 * and exits 0 once it has the keymap and both transfers are done, 2 on a
 * protocol error or the timeout (default 10 s).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
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

#define CLIP_FROM_GUEST "vmsilo-clipboard-guest-to-host\n"
#define CLIP_FROM_GUEST_REPEAT 200
#define CLIP_MIME "text/plain"
#define ALL_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

struct client {
	struct wl_display *display;
	struct wl_seat *seat;
	struct wl_data_device_manager *manager;
	struct wl_keyboard *keyboard;
	struct wl_data_source *source;
	struct wl_data_device *device;
	struct wl_data_offer *offer;	/* announced, not yet the selection */
	bool keymap, sent, received;
};

static uint32_t fnv1a(uint32_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x01000193u;
	}
	return h;
}
#define FNV1A_INIT 0x811c9dc5u

static const char *fd_type(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return "bad";
	if (S_ISSOCK(st.st_mode))
		return "socket";
	if (S_ISFIFO(st.st_mode))
		return "pipe";
	return S_ISREG(st.st_mode) ? "file" : "other";
}

static void keymap(void *data, struct wl_keyboard *kbd, uint32_t format, int32_t fd,
		   uint32_t size)
{
	struct client *c = data;
	int seals = fcntl(fd, F_GET_SEALS);
	void *p;

	if (strcmp(fd_type(fd), "file") != 0) {
		printf("VMSILO keymap-fd=%s\n", fd_type(fd));
		close(fd);
		return;
	}
	p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		printf("VMSILO keymap-error=%s\n", strerror(errno));
	} else {
		printf("VMSILO keymap-size=%u keymap-sum=%08x keymap-ro=%d keymap-sealed=%d\n",
		       size, fnv1a(FNV1A_INIT, p, size),
		       (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY,
		       seals >= 0 && (seals & ALL_SEALS) == ALL_SEALS);
		munmap(p, size);
		c->keymap = true;
	}
	close(fd);
}

static void kbd_enter(void *data, struct wl_keyboard *kbd, uint32_t serial,
		      struct wl_surface *surface, struct wl_array *keys)
{
}

static void kbd_leave(void *data, struct wl_keyboard *kbd, uint32_t serial,
		      struct wl_surface *surface)
{
}

static void kbd_key(void *data, struct wl_keyboard *kbd, uint32_t serial, uint32_t time,
		    uint32_t key, uint32_t state)
{
}

static void kbd_modifiers(void *data, struct wl_keyboard *kbd, uint32_t serial, uint32_t dep,
			  uint32_t latched, uint32_t locked, uint32_t group)
{
}

static void kbd_repeat(void *data, struct wl_keyboard *kbd, int32_t rate, int32_t delay)
{
}

static const struct wl_keyboard_listener keyboard_listener = {
	.keymap = keymap,
	.enter = kbd_enter,
	.leave = kbd_leave,
	.key = kbd_key,
	.modifiers = kbd_modifiers,
	.repeat_info = kbd_repeat,
};

static void source_target(void *data, struct wl_data_source *src, const char *mime)
{
}

static void source_send(void *data, struct wl_data_source *src, const char *mime, int32_t fd)
{
	struct client *c = data;
	const size_t one = sizeof(CLIP_FROM_GUEST) - 1;
	size_t sent = 0;

	for (int i = 0; i < CLIP_FROM_GUEST_REPEAT; i++)
		if (write(fd, CLIP_FROM_GUEST, one) == (ssize_t)one)
			sent += one;
	close(fd);
	printf("VMSILO clip-sent=%zu\n", sent);
	c->sent = true;
}

static void source_cancelled(void *data, struct wl_data_source *src)
{
}

static void source_dnd(void *data, struct wl_data_source *src)
{
}

static void source_action(void *data, struct wl_data_source *src, uint32_t action)
{
}

static const struct wl_data_source_listener source_listener = {
	.target = source_target,
	.send = source_send,
	.cancelled = source_cancelled,
	.dnd_drop_performed = source_dnd,
	.dnd_finished = source_dnd,
	.action = source_action,
};

static void offer_offer(void *data, struct wl_data_offer *offer, const char *mime)
{
}

static void offer_actions(void *data, struct wl_data_offer *offer, uint32_t actions)
{
}

static const struct wl_data_offer_listener offer_listener = {
	.offer = offer_offer,
	.source_actions = offer_actions,
	.action = offer_actions,
};

static void device_data_offer(void *data, struct wl_data_device *dev, struct wl_data_offer *offer)
{
	struct client *c = data;

	c->offer = offer;
	wl_data_offer_add_listener(offer, &offer_listener, c);
}

static void device_enter(void *data, struct wl_data_device *dev, uint32_t serial,
			 struct wl_surface *surface, wl_fixed_t x, wl_fixed_t y,
			 struct wl_data_offer *offer)
{
}

static void device_leave(void *data, struct wl_data_device *dev)
{
}

static void device_motion(void *data, struct wl_data_device *dev, uint32_t time, wl_fixed_t x,
			  wl_fixed_t y)
{
}

/* Reads the host's selection to EOF (the compositor writes it on its own loop). */
static void device_selection(void *data, struct wl_data_device *dev, struct wl_data_offer *offer)
{
	struct client *c = data;
	uint32_t sum = FNV1A_INIT;
	size_t count = 0;
	char buf[4096];
	ssize_t n;
	int p[2];

	if (!offer || pipe2(p, O_CLOEXEC) < 0)
		return;
	wl_data_offer_receive(offer, CLIP_MIME, p[1]);
	close(p[1]);
	wl_display_flush(c->display);
	while ((n = read(p[0], buf, sizeof(buf))) > 0) {
		count += n;
		sum = fnv1a(sum, buf, n);
	}
	close(p[0]);
	printf("VMSILO clip-received=%zu clip-sum=%08x\n", count, sum);
	wl_data_offer_destroy(offer);
	c->offer = NULL;
	c->received = true;
}

static const struct wl_data_device_listener device_listener = {
	.data_offer = device_data_offer,
	.enter = device_enter,
	.leave = device_leave,
	.motion = device_motion,
	.drop = device_leave,
	.selection = device_selection,
};

static void global(void *data, struct wl_registry *reg, uint32_t name, const char *iface,
		   uint32_t version)
{
	struct client *c = data;

	if (!strcmp(iface, wl_seat_interface.name) && version >= 5)
		c->seat = wl_registry_bind(reg, name, &wl_seat_interface, 5);
	else if (!strcmp(iface, wl_data_device_manager_interface.name) && version >= 3)
		c->manager = wl_registry_bind(reg, name, &wl_data_device_manager_interface, 3);
}

static void global_remove(void *data, struct wl_registry *reg, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
	.global = global,
	.global_remove = global_remove,
};

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

static void start(struct client *c)
{
	c->keyboard = wl_seat_get_keyboard(c->seat);
	wl_keyboard_add_listener(c->keyboard, &keyboard_listener, c);
	c->source = wl_data_device_manager_create_data_source(c->manager);
	wl_data_source_add_listener(c->source, &source_listener, c);
	wl_data_source_offer(c->source, CLIP_MIME);
	c->device = wl_data_device_manager_get_data_device(c->manager, c->seat);
	wl_data_device_add_listener(c->device, &device_listener, c);
	wl_data_device_set_selection(c->device, c->source, 0);
}

/* One round of events, waiting at most until deadline. false: error or time out. */
static bool dispatch_until(struct wl_display *display, time_t deadline)
{
	struct pollfd pfd = { .fd = wl_display_get_fd(display), .events = POLLIN };
	int left = (int)(deadline - time(NULL));

	while (wl_display_prepare_read(display) != 0)
		if (wl_display_dispatch_pending(display) < 0)
			return false;
	if (wl_display_flush(display) < 0 && errno != EAGAIN) {
		wl_display_cancel_read(display);
		return false;
	}
	if (left <= 0 || poll(&pfd, 1, left * 1000) <= 0) {
		wl_display_cancel_read(display);
		return false;
	}
	return wl_display_read_events(display) == 0 && wl_display_dispatch_pending(display) >= 0;
}

static void stop(struct client *c, struct wl_registry *registry)
{
	wl_keyboard_release(c->keyboard);
	wl_data_source_destroy(c->source);
	wl_data_device_release(c->device);
	wl_data_device_manager_destroy(c->manager);
	wl_seat_release(c->seat);
	wl_registry_destroy(registry);
}

static int usage(void)
{
	fprintf(stderr, "usage: wl-fake-client --socket PATH [--seconds S]\n");
	return 1;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	struct client c = { 0 };
	struct wl_display *display;
	struct wl_registry *registry;
	time_t deadline;
	int seconds = 10;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atoi(argv[++i]);
		else
			return usage();
	}
	if (!path || seconds <= 0)
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	display = c.display = connect_to(path);
	if (!display) {
		fprintf(stderr, "wl-fake-client: cannot connect to %s\n", path);
		return 2;
	}
	registry = wl_display_get_registry(display);
	wl_registry_add_listener(registry, &registry_listener, &c);
	if (wl_display_roundtrip(display) < 0 || !c.seat || !c.manager) {
		fprintf(stderr, "wl-fake-client: no wl_seat v5 or wl_data_device_manager v3\n");
		return 2;
	}
	start(&c);
	deadline = time(NULL) + seconds;
	while (!(c.keymap && c.sent && c.received))
		if (!dispatch_until(display, deadline)) {
			fprintf(stderr, "wl-fake-client: %s\n", wl_display_get_error(display) ?
				"protocol error" : "timed out");
			return 2;
		}
	stop(&c, registry);
	wl_display_roundtrip(display);
	wl_display_disconnect(display);
	return 0;
}
