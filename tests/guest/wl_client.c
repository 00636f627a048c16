/* A Wayland connection over cross-domain: see wl_client.h. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wl_client.h"

#define WL_DISPLAY_ID		1
#define DISPLAY_EV_ERROR	0
#define DISPLAY_EV_DELETE_ID	1

void wlc_init(struct wlc *c, struct xd *xd, wlc_event_fn *on_event, wlc_read_fn *on_read,
	      void *user)
{
	memset(c, 0, sizeof(*c));
	c->xd = xd;
	c->on_event = on_event;
	c->on_read = on_read;
	c->user = user;
	c->next_id = WL_DISPLAY_ID + 1;
	c->client_iface[WL_DISPLAY_ID] = IF_DISPLAY;
}

void wlc_fail(struct wlc *c, int status, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;
	c->failed = status;
	fputs("VMSILO error: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

uint32_t wlc_new_id(struct wlc *c, enum wl_iface iface)
{
	if (c->next_id >= WLC_MAX_CLIENT_IDS) {
		wlc_fail(c, WLT_PROTOCOL, "out of client object ids");
		return 0;
	}
	c->client_iface[c->next_id] = (uint8_t)iface;
	return c->next_id++;
}

void wlc_add_server_object(struct wlc *c, uint32_t id, enum wl_iface iface)
{
	if (id < WLC_SERVER_ID_START || id - WLC_SERVER_ID_START >= WLC_MAX_SERVER_IDS) {
		wlc_fail(c, WLT_PROTOCOL, "compositor object id %#x out of range", id);
		return;
	}
	c->server_iface[id - WLC_SERVER_ID_START] = (uint8_t)iface;
}

enum wl_iface wlc_iface(const struct wlc *c, uint32_t id)
{
	if (id < WLC_MAX_CLIENT_IDS)
		return (enum wl_iface)c->client_iface[id];
	if (id >= WLC_SERVER_ID_START && id - WLC_SERVER_ID_START < WLC_MAX_SERVER_IDS)
		return (enum wl_iface)c->server_iface[id - WLC_SERVER_ID_START];
	return IF_NONE;
}

void wlc_flush(struct wlc *c)
{
	int rc;

	if (c->failed || (!c->out_len && !c->out_n))
		return;
	rc = xd_send(c->xd, c->out, c->out_len, c->out_items, c->out_n);
	c->out_len = 0;
	c->out_n = 0;
	if (rc)
		wlc_fail(c, WLT_DRM, "SEND failed: %s", strerror(-rc));
}

void wlc_request(struct wlc *c, struct wl_out *m, const struct cd_item *items,
		 uint32_t n_items)
{
	size_t size = wl_out_end(m);

	if (!size || n_items > CROSS_DOMAIN_MAX_IDENTIFIERS) {
		wlc_fail(c, WLT_PROTOCOL, "request too long to encode");
		return;
	}
	if (c->out_len + size > sizeof(c->out) ||
	    c->out_n + n_items > CROSS_DOMAIN_MAX_IDENTIFIERS)
		wlc_flush(c);
	memcpy(c->out + c->out_len, m->buf, size);
	c->out_len += (uint32_t)size;
	if (n_items)
		memcpy(c->out_items + c->out_n, items, n_items * sizeof(*items));
	c->out_n += n_items;
}

bool wlc_take_fd(struct wlc *c, uint32_t type, struct cd_item *item)
{
	if (!c->fd_count) {
		wlc_fail(c, WLT_PROTOCOL, "an event carries an fd the host did not send");
		return false;
	}
	*item = c->fds[c->fd_first];
	c->fd_first = (c->fd_first + 1) % WLC_MAX_FDS;
	c->fd_count--;
	if (item->type != type) {
		wlc_fail(c, WLT_PROTOCOL, "fd item %#x has type %u where %u was expected",
			 item->id, item->type, type);
		return false;
	}
	return true;
}

static void display_event(struct wlc *c, uint16_t opcode, struct wl_args *a)
{
	if (opcode == DISPLAY_EV_ERROR) {
		uint32_t object = wl_arg_object(a), code = wl_arg_u32(a);
		const char *message = wl_arg_string(a);

		printf("VMSILO wl-display-error object=%u code=%u message=%s\n", object, code,
		       message ? message : "(null)");
		wlc_fail(c, WLT_PROTOCOL, "the compositor sent wl_display.error");
	} else if (opcode == DISPLAY_EV_DELETE_ID) {
		uint32_t id = wl_arg_u32(a);

		if (id < WLC_MAX_CLIENT_IDS && id != WL_DISPLAY_ID)
			c->client_iface[id] = IF_NONE;
	}
}

/* Events for ids we do not know (destroyed objects) are dropped. */
static void deliver(struct wlc *c, const struct wl_hdr *h, const uint8_t *msg)
{
	enum wl_iface iface = wlc_iface(c, h->object);
	struct wl_args args;

	wl_args_init(&args, msg, h->size);
	if (iface == IF_DISPLAY)
		display_event(c, h->opcode, &args);
	else if (iface != IF_NONE)
		c->on_event(c, h->object, iface, h->opcode, &args);
	if (args.bad)
		wlc_fail(c, WLT_PROTOCOL, "malformed event %u on object %u", h->opcode,
			 h->object);
}

static void dispatch_in(struct wlc *c)
{
	size_t at = 0;

	while (!c->failed) {
		struct wl_hdr h;
		int r = wl_in_header(c->in + at, c->in_len - at, &h);

		if (r < 0)
			wlc_fail(c, WLT_PROTOCOL, "malformed Wayland message header");
		if (r <= 0)
			break;
		deliver(c, &h, c->in + at);
		at += h.size;
	}
	memmove(c->in, c->in + at, c->in_len - at);
	c->in_len -= at;
}

static bool queue_receive(struct wlc *c, const struct cd_msg *m)
{
	if (m->len > sizeof(c->in) - c->in_len) {
		wlc_fail(c, WLT_PROTOCOL, "incomplete Wayland message longer than %u bytes",
			 WL_MAX_MESSAGE);
		return false;
	}
	if (m->n_items > WLC_MAX_FDS - c->fd_count) {
		wlc_fail(c, WLT_PROTOCOL, "more than %u fds waiting for their events",
			 WLC_MAX_FDS);
		return false;
	}
	memcpy(c->in + c->in_len, m->data, m->len);
	c->in_len += m->len;
	for (uint32_t i = 0; i < m->n_items; i++) {
		c->fds[(c->fd_first + c->fd_count) % WLC_MAX_FDS] = m->items[i];
		c->fd_count++;
	}
	return true;
}

/* The ring is copied out before the next POLL lets the host reuse it. */
static void take_message(struct wlc *c)
{
	uint8_t read_data[CROSS_DOMAIN_READ_MAX_DATA];
	struct cd_msg m;
	const char *why;
	int fences = xd_read_fences(c->xd);

	if (fences < 0)
		wlc_fail(c, WLT_DRM, "reading DRM events failed");
	if (fences > 1)
		wlc_fail(c, WLT_PROTOCOL, "%d fences signalled for one POLL", fences);
	if (fences != 1 || c->failed)
		return;
	if (cd_parse(c->xd->channel->map, CROSS_DOMAIN_RING_SIZE, &m, &why)) {
		wlc_fail(c, WLT_PROTOCOL, "channel ring: %s", why);
		return;
	}
	if (m.cmd == CROSS_DOMAIN_CMD_RECEIVE && !queue_receive(c, &m))
		return;
	if (m.cmd == CROSS_DOMAIN_CMD_READ)
		memcpy(read_data, m.data, m.len);
	if (xd_poll(c->xd)) {
		wlc_fail(c, WLT_DRM, "POLL failed");
		return;
	}
	if (m.cmd == CROSS_DOMAIN_CMD_RECEIVE)
		dispatch_in(c);
	else
		c->on_read(c, m.id, m.hang_up, read_data, m.len);
}

static void read_stdin(struct wlc *c)
{
	char buf[256];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
		c->stdin_eof = true;
}

bool wlc_dispatch(struct wlc *c, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = c->xd->fd, .events = POLLIN } };
	nfds_t n = 1;
	int rc;

	wlc_flush(c);
	if (c->failed)
		return false;
	if (!c->xd->polling && xd_poll(c->xd)) {
		wlc_fail(c, WLT_DRM, "POLL failed");
		return false;
	}
	if (c->watch_stdin && !c->stdin_eof)
		p[n++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
	rc = poll(p, n, timeout_ms);
	if (rc < 0 && errno != EINTR)
		wlc_fail(c, WLT_DRM, "poll: %s", strerror(errno));
	if (rc <= 0)
		return false;
	if (n > 1 && p[1].revents)
		read_stdin(c);
	if (p[0].revents & POLLIN)
		take_message(c);
	else if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
		wlc_fail(c, WLT_DRM, "the DRM fd failed");
	return !c->failed;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000ll + t.tv_nsec / 1000000;
}

bool wlc_wait_for(struct wlc *c, const bool *done, int seconds, const char *what)
{
	long long deadline = now_ms() + seconds * 1000ll;

	while (!*done && !c->failed) {
		long long left = deadline - now_ms();

		if (left <= 0) {
			wlc_fail(c, WLT_PROTOCOL, "timeout after %d s waiting for %s", seconds,
				 what);
			break;
		}
		wlc_dispatch(c, (int)left);
	}
	return *done && !c->failed;
}
