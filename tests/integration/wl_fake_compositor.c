/*
 * wl-fake-compositor: a small Wayland compositor on libwayland-server that
 * sends its clients the fds Weston headless never does (it has no seat):
 * a keymap memfd and both directions of a clipboard transfer. The GPU
 * tests point a VM's [gpu] wayland_socket at it and check, on both sides,
 * that the bytes crossed cross-domain intact (linux_gpu.sh).
 *
 *   wl-fake-compositor --socket PATH [--log FILE] [--bad-fd]
 *
 * SIGUSR1 turns --bad-fd on or off, for the next keyboards: a VM's GPU
 * holds the socket's inode, so the compositor cannot be restarted under it.
 * Globals: wl_compositor v4 (surfaces whose commits only answer frame
 * callbacks and release buffers), wl_shm (libwayland's), wl_seat v5 with a
 * keyboard, wl_data_device_manager v3. What it did goes to stdout (and
 * FILE) as "FAKE ..." lines:
 *   FAKE ready                                  listening on PATH
 *   FAKE keymap bytes=N sum=H                   sent a keymap to a keyboard
 *   FAKE keymap-bad-fd sent                     --bad-fd: a keymap whose fd is a socket
 *   FAKE bad-fd=on|off                          after SIGUSR1
 *   FAKE clip-to-guest bytes=N                  wrote the clipboard into a receive fd
 *   FAKE clip-from-guest bytes=N sum=H          read a client's selection to EOF
 * H is the FNV-1a 32-bit hash of the bytes, 8 lowercase hex digits.
 * Exits 0 on SIGTERM or SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <wayland-server.h>

#define KEYMAP_TEXT	"vmsilo-keymap\n"
#define KEYMAP_SIZE	4196		/* 4096 + 100: the blob spans two pages */
#define CLIP_TO_GUEST	"vmsilo-clipboard-host-to-guest\n"
#define CLIP_TO_GUEST_REPEAT 150
#define CLIP_MIME	"text/plain"
/* A client's selection is only counted, but a transfer still ends. */
#define CLIP_FROM_GUEST_MAX (64u << 20)

static FILE *log_file;
static bool bad_fd;

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (log_file) {
		va_start(ap, fmt);
		vfprintf(log_file, fmt, ap);
		va_end(ap);
		fputc('\n', log_file);
		fflush(log_file);
	}
}

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

static void destroy_resource(struct wl_client *client, struct wl_resource *res)
{
	wl_resource_destroy(res);
}

/* ---- wl_compositor: enough for a client's registry and commits ---- */

struct surface {
	struct wl_resource *buffer;	/* attached, not yet committed */
	struct wl_listener buffer_gone;
	struct wl_list frames;		/* wl_callback resources' links */
};

static void surface_drop_buffer(struct surface *s)
{
	if (s->buffer)
		wl_list_remove(&s->buffer_gone.link);
	s->buffer = NULL;
}

static void surface_buffer_gone(struct wl_listener *listener, void *data)
{
	struct surface *s = wl_container_of(listener, s, buffer_gone);

	surface_drop_buffer(s);
}

static void surface_attach(struct wl_client *client, struct wl_resource *res,
			   struct wl_resource *buffer, int32_t x, int32_t y)
{
	struct surface *s = wl_resource_get_user_data(res);

	surface_drop_buffer(s);
	if (!buffer)
		return;
	s->buffer = buffer;
	wl_resource_add_destroy_listener(buffer, &s->buffer_gone);
}

static void surface_damage(struct wl_client *client, struct wl_resource *res,
			   int32_t x, int32_t y, int32_t w, int32_t h)
{
}

static void callback_unlink(struct wl_resource *res)
{
	wl_list_remove(wl_resource_get_link(res));
}

static void surface_frame(struct wl_client *client, struct wl_resource *res, uint32_t id)
{
	struct surface *s = wl_resource_get_user_data(res);
	struct wl_resource *cb = wl_resource_create(client, &wl_callback_interface, 1, id);

	if (!cb) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(cb, NULL, NULL, callback_unlink);
	wl_list_insert(s->frames.prev, wl_resource_get_link(cb));
}

static void surface_region(struct wl_client *client, struct wl_resource *res,
			   struct wl_resource *region)
{
}

/* Shown at once: the buffer goes back and the frame callbacks fire. */
static void surface_commit(struct wl_client *client, struct wl_resource *res)
{
	struct surface *s = wl_resource_get_user_data(res);
	struct wl_resource *cb, *next;

	if (s->buffer)
		wl_buffer_send_release(s->buffer);
	surface_drop_buffer(s);
	wl_resource_for_each_safe(cb, next, &s->frames) {
		wl_callback_send_done(cb, 0);
		wl_resource_destroy(cb);
	}
}

static void surface_int(struct wl_client *client, struct wl_resource *res, int32_t v)
{
}

static const struct wl_surface_interface surface_impl = {
	.destroy = destroy_resource,
	.attach = surface_attach,
	.damage = surface_damage,
	.frame = surface_frame,
	.set_opaque_region = surface_region,
	.set_input_region = surface_region,
	.commit = surface_commit,
	.set_buffer_transform = surface_int,
	.set_buffer_scale = surface_int,
	.damage_buffer = surface_damage,
};

static void surface_free(struct wl_resource *res)
{
	struct surface *s = wl_resource_get_user_data(res);
	struct wl_resource *cb, *next;

	surface_drop_buffer(s);
	wl_resource_for_each_safe(cb, next, &s->frames)
		wl_resource_destroy(cb);
	free(s);
}

static void surface_create(struct wl_client *client, struct wl_resource *res, uint32_t id)
{
	struct surface *s = calloc(1, sizeof(*s));
	struct wl_resource *sr;

	if (!s) {
		wl_client_post_no_memory(client);
		return;
	}
	sr = wl_resource_create(client, &wl_surface_interface, wl_resource_get_version(res), id);
	if (!sr) {
		free(s);
		wl_client_post_no_memory(client);
		return;
	}
	wl_list_init(&s->frames);
	s->buffer_gone.notify = surface_buffer_gone;
	wl_resource_set_implementation(sr, &surface_impl, s, surface_free);
}

static void region_rect(struct wl_client *client, struct wl_resource *res,
			int32_t x, int32_t y, int32_t w, int32_t h)
{
}

static const struct wl_region_interface region_impl = {
	.destroy = destroy_resource,
	.add = region_rect,
	.subtract = region_rect,
};

static void region_create(struct wl_client *client, struct wl_resource *res, uint32_t id)
{
	struct wl_resource *r = wl_resource_create(client, &wl_region_interface, 1, id);

	if (!r) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(r, &region_impl, NULL, NULL);
}

static const struct wl_compositor_interface compositor_impl = {
	.create_surface = surface_create,
	.create_region = region_create,
};

static void compositor_bind(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *res = wl_resource_create(client, &wl_compositor_interface, version, id);

	if (!res) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(res, &compositor_impl, NULL, NULL);
}

/* ---- wl_seat with a keyboard: the keymap memfd ---- */

/*
 * The keymap as real compositors hand it out: a memfd sealed against any
 * change, reopened read-only through /proc so the client cannot write it.
 * fd or -1.
 */
static int keymap_fd(uint32_t *sum)
{
	static const char text[] = KEYMAP_TEXT;
	char buf[KEYMAP_SIZE];
	int fd, ro;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = text[i % (sizeof(text) - 1)];
	*sum = fnv1a(FNV1A_INIT, buf, sizeof(buf));
	fd = memfd_create("vmsilo-keymap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	ro = -1;
	if (write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf) &&
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) == 0) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ro = open(path, O_RDONLY | O_CLOEXEC);
	}
	close(fd);
	return ro;
}

static void keyboard_send_keymap(struct wl_resource *kbd)
{
	uint32_t sum;
	int fd = keymap_fd(&sum);

	if (fd < 0) {
		say("FAKE error: keymap memfd: %s", strerror(errno));
		return;
	}
	/* libwayland sends a dup: ours is closed at once. */
	wl_keyboard_send_keymap(kbd, WL_KEYBOARD_KEYMAP_FORMAT_XKB_V1, fd, KEYMAP_SIZE);
	close(fd);
	say("FAKE keymap bytes=%u sum=%08x", KEYMAP_SIZE, sum);
}

/* --bad-fd: a keymap whose fd is a socket, a type no blob can be made of. */
static void keyboard_send_bad_keymap(struct wl_resource *kbd)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		say("FAKE error: socketpair: %s", strerror(errno));
		return;
	}
	wl_keyboard_send_keymap(kbd, WL_KEYBOARD_KEYMAP_FORMAT_XKB_V1, sv[0], KEYMAP_SIZE);
	close(sv[0]);
	close(sv[1]);
	say("FAKE keymap-bad-fd sent");
}

static const struct wl_keyboard_interface keyboard_impl = {
	.release = destroy_resource,
};
static const struct wl_pointer_interface pointer_impl = {
	.release = destroy_resource,
};
static const struct wl_touch_interface touch_impl = {
	.release = destroy_resource,
};

static struct wl_resource *seat_device(struct wl_client *client, struct wl_resource *seat,
				       const struct wl_interface *iface, const void *impl,
				       uint32_t id)
{
	struct wl_resource *res = wl_resource_create(client, iface,
						     wl_resource_get_version(seat), id);

	if (!res) {
		wl_client_post_no_memory(client);
		return NULL;
	}
	wl_resource_set_implementation(res, impl, NULL, NULL);
	return res;
}

static void seat_get_keyboard(struct wl_client *client, struct wl_resource *res, uint32_t id)
{
	struct wl_resource *kbd = seat_device(client, res, &wl_keyboard_interface,
					      &keyboard_impl, id);

	if (!kbd)
		return;
	keyboard_send_keymap(kbd);
	if (bad_fd)
		keyboard_send_bad_keymap(kbd);
}

/* Not among the capabilities, but a request the protocol allows. */
static void seat_get_pointer(struct wl_client *client, struct wl_resource *res, uint32_t id)
{
	seat_device(client, res, &wl_pointer_interface, &pointer_impl, id);
}

static void seat_get_touch(struct wl_client *client, struct wl_resource *res, uint32_t id)
{
	seat_device(client, res, &wl_touch_interface, &touch_impl, id);
}

static const struct wl_seat_interface seat_impl = {
	.get_pointer = seat_get_pointer,
	.get_keyboard = seat_get_keyboard,
	.get_touch = seat_get_touch,
	.release = destroy_resource,
};

static void seat_bind(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *res = wl_resource_create(client, &wl_seat_interface, version, id);

	if (!res) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(res, &seat_impl, NULL, NULL);
	wl_seat_send_capabilities(res, WL_SEAT_CAPABILITY_KEYBOARD);
	if (version >= WL_SEAT_NAME_SINCE_VERSION)
		wl_seat_send_name(res, "seat0");
}

/* ---- the clipboard: a pipe each way, moved on the event loop ---- */

struct transfer {
	struct wl_list link;		/* transfers */
	struct wl_event_source *source;
	int fd;
	const char *out;		/* to the client: what is left to write */
	size_t len, off;
	size_t count;			/* from the client: bytes read, their hash */
	uint32_t sum;
};

static struct wl_event_loop *loop;
static struct wl_list transfers;

static struct transfer *transfer_start(int fd, uint32_t mask, wl_event_loop_fd_func_t func)
{
	struct transfer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->fd = fd;
	t->source = wl_event_loop_add_fd(loop, fd, mask, func, t);
	if (!t->source) {
		free(t);
		return NULL;
	}
	wl_list_insert(&transfers, &t->link);
	return t;
}

static void transfer_end(struct transfer *t)
{
	wl_list_remove(&t->link);
	wl_event_source_remove(t->source);
	close(t->fd);
	free(t);
}

static int clip_write_ready(int fd, uint32_t mask, void *data)
{
	struct transfer *t = data;
	ssize_t n = write(fd, t->out + t->off, t->len - t->off);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n > 0)
		t->off += n;
	if (n > 0 && t->off < t->len)
		return 0;
	if (n <= 0)
		say("FAKE clip-to-guest error=%s bytes=%zu", n < 0 ? strerror(errno) : "short",
		    t->off);
	else
		say("FAKE clip-to-guest bytes=%zu", t->off);
	transfer_end(t);
	return 0;
}

static const char *clip_to_guest_text(size_t *len)
{
	static char buf[sizeof(CLIP_TO_GUEST) * CLIP_TO_GUEST_REPEAT];
	const size_t one = sizeof(CLIP_TO_GUEST) - 1;

	for (size_t i = 0; i < CLIP_TO_GUEST_REPEAT; i++)
		memcpy(buf + i * one, CLIP_TO_GUEST, one);
	*len = one * CLIP_TO_GUEST_REPEAT;
	return buf;
}

static void offer_receive(struct wl_client *client, struct wl_resource *res,
			  const char *mime, int32_t fd)
{
	struct transfer *t = NULL;

	if (strcmp(mime, CLIP_MIME) == 0 &&
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0)
		t = transfer_start(fd, WL_EVENT_WRITABLE, clip_write_ready);
	if (!t) {
		say("FAKE clip-to-guest error=refused mime=%s", mime);
		close(fd);
		return;
	}
	t->out = clip_to_guest_text(&t->len);
}

static void offer_accept(struct wl_client *client, struct wl_resource *res,
			 uint32_t serial, const char *mime)
{
}

static void offer_finish(struct wl_client *client, struct wl_resource *res)
{
}

static void offer_set_actions(struct wl_client *client, struct wl_resource *res,
			      uint32_t actions, uint32_t preferred)
{
}

static const struct wl_data_offer_interface offer_impl = {
	.accept = offer_accept,
	.receive = offer_receive,
	.destroy = destroy_resource,
	.finish = offer_finish,
	.set_actions = offer_set_actions,
};

/* The host's selection, offered to every new data device at once. */
static void device_offer_selection(struct wl_client *client, struct wl_resource *device)
{
	struct wl_resource *offer = wl_resource_create(client, &wl_data_offer_interface,
						       wl_resource_get_version(device), 0);

	if (!offer) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(offer, &offer_impl, NULL, NULL);
	wl_data_device_send_data_offer(device, offer);
	wl_data_offer_send_offer(offer, CLIP_MIME);
	wl_data_device_send_selection(device, offer);
}

static int clip_read_ready(int fd, uint32_t mask, void *data)
{
	struct transfer *t = data;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n > 0) {
		t->count += n;
		t->sum = fnv1a(t->sum, buf, n);
		if (t->count < CLIP_FROM_GUEST_MAX)
			return 0;
	}
	if (n < 0)
		say("FAKE clip-from-guest error=%s bytes=%zu", strerror(errno), t->count);
	else
		say("FAKE clip-from-guest bytes=%zu sum=%08x", t->count, t->sum);
	transfer_end(t);
	return 0;
}

/* Asks the new selection's owner for its text and reads it to EOF. */
static void device_set_selection(struct wl_client *client, struct wl_resource *res,
				 struct wl_resource *source, uint32_t serial)
{
	struct transfer *t;
	int p[2];

	if (!source)
		return;
	if (pipe2(p, O_CLOEXEC) < 0) {
		say("FAKE clip-from-guest error=%s", strerror(errno));
		return;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	t = transfer_start(p[0], WL_EVENT_READABLE, clip_read_ready);
	if (!t) {
		say("FAKE clip-from-guest error=no memory");
		close(p[0]);
		close(p[1]);
		return;
	}
	t->sum = FNV1A_INIT;
	wl_data_source_send_send(source, CLIP_MIME, p[1]);
	close(p[1]);
}

static void device_start_drag(struct wl_client *client, struct wl_resource *res,
			      struct wl_resource *source, struct wl_resource *origin,
			      struct wl_resource *icon, uint32_t serial)
{
}

static const struct wl_data_device_interface device_impl = {
	.start_drag = device_start_drag,
	.set_selection = device_set_selection,
	.release = destroy_resource,
};

static void source_offer(struct wl_client *client, struct wl_resource *res, const char *mime)
{
}

static void source_set_actions(struct wl_client *client, struct wl_resource *res,
			       uint32_t actions)
{
}

static const struct wl_data_source_interface source_impl = {
	.offer = source_offer,
	.destroy = destroy_resource,
	.set_actions = source_set_actions,
};

static void manager_create_source(struct wl_client *client, struct wl_resource *res, uint32_t id)
{
	struct wl_resource *src = wl_resource_create(client, &wl_data_source_interface,
						     wl_resource_get_version(res), id);

	if (!src) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(src, &source_impl, NULL, NULL);
}

static void manager_get_device(struct wl_client *client, struct wl_resource *res, uint32_t id,
			       struct wl_resource *seat)
{
	struct wl_resource *dev = wl_resource_create(client, &wl_data_device_interface,
						     wl_resource_get_version(res), id);

	if (!dev) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(dev, &device_impl, NULL, NULL);
	device_offer_selection(client, dev);
}

static const struct wl_data_device_manager_interface manager_impl = {
	.create_data_source = manager_create_source,
	.get_data_device = manager_get_device,
};

static void manager_bind(struct wl_client *client, void *data, uint32_t version, uint32_t id)
{
	struct wl_resource *res = wl_resource_create(client, &wl_data_device_manager_interface,
						     version, id);

	if (!res) {
		wl_client_post_no_memory(client);
		return;
	}
	wl_resource_set_implementation(res, &manager_impl, NULL, NULL);
}

/* ---- setup ---- */

static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "wl-fake-compositor: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0) {
		fprintf(stderr, "wl-fake-compositor: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int stop(int signal_number, void *data)
{
	wl_display_terminate(data);
	return 0;
}

static int toggle_bad_fd(int signal_number, void *data)
{
	bad_fd = !bad_fd;
	say("FAKE bad-fd=%s", bad_fd ? "on" : "off");
	return 0;
}

static bool add_globals(struct wl_display *display)
{
	return wl_global_create(display, &wl_compositor_interface, 4, NULL, compositor_bind) &&
	       wl_display_init_shm(display) == 0 &&
	       wl_global_create(display, &wl_seat_interface, 5, NULL, seat_bind) &&
	       wl_global_create(display, &wl_data_device_manager_interface, 3, NULL,
				manager_bind);
}

static int usage(void)
{
	fprintf(stderr, "usage: wl-fake-compositor --socket PATH [--log FILE] [--bad-fd]\n");
	return 1;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *log_path = NULL;
	struct wl_display *display;
	struct wl_event_source *on_term, *on_int, *on_usr1;
	struct transfer *t, *next;
	int fd;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "--log") && i + 1 < argc)
			log_path = argv[++i];
		else if (!strcmp(argv[i], "--bad-fd"))
			bad_fd = true;
		else
			return usage();
	}
	if (!path)
		return usage();
	if (log_path && !(log_file = fopen(log_path, "a"))) {
		fprintf(stderr, "wl-fake-compositor: %s: %s\n", log_path, strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	display = wl_display_create();
	if (!display || !add_globals(display))
		return 1;
	loop = wl_display_get_event_loop(display);
	wl_list_init(&transfers);
	on_term = wl_event_loop_add_signal(loop, SIGTERM, stop, display);
	on_int = wl_event_loop_add_signal(loop, SIGINT, stop, display);
	on_usr1 = wl_event_loop_add_signal(loop, SIGUSR1, toggle_bad_fd, NULL);
	fd = listen_on(path);
	if (fd < 0 || wl_display_add_socket_fd(display, fd) < 0)
		return 1;
	say("FAKE ready");
	wl_display_run(display);
	wl_list_for_each_safe(t, next, &transfers, link)
		transfer_end(t);
	wl_event_source_remove(on_term);
	wl_event_source_remove(on_int);
	wl_event_source_remove(on_usr1);
	wl_display_destroy_clients(display);
	wl_display_destroy(display);
	unlink(path);
	return 0;
}
