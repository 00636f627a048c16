/* The session the modes share: see wlt.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wl_proto.h"
#include "wlt.h"

#define WL_DISPLAY_ID	1

static void registry_global(struct wlt_session *s, struct wl_args *a)
{
	uint32_t name = wl_arg_u32(a);
	const char *iface = wl_arg_string(a);
	uint32_t version = wl_arg_u32(a);
	static const struct {
		const char *iface;
		size_t offset;
	} wanted[] = {
		{ "wl_compositor", offsetof(struct wlt_session, compositor) },
		{ "wl_shm", offsetof(struct wlt_session, shm) },
		{ "xdg_wm_base", offsetof(struct wlt_session, xdg_wm_base) },
		{ "wl_seat", offsetof(struct wlt_session, seat) },
		{ "wl_data_device_manager", offsetof(struct wlt_session, data_device_manager) },
	};

	if (a->bad || !iface) {
		a->bad = true;
		return;
	}
	printf("VMSILO wl-global=%s v%u\n", iface, version);
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		struct wlt_global *g = (struct wlt_global *)((char *)s + wanted[i].offset);

		if (name && !g->name && !strcmp(iface, wanted[i].iface))
			*g = (struct wlt_global){ name, version };
	}
}

static void callback_done(struct wlt_session *s, uint32_t object)
{
	if (object == s->sync_cb) {
		s->globals_done = true;
		printf("VMSILO wl-globals-done\n");
	} else if (object == s->win.frame_cb) {
		s->win.frame_done = true;
	}
}

static void window_event(struct wlt_session *s, enum wl_iface iface, uint16_t opcode,
			 struct wl_args *a)
{
	if (iface == IF_WM_BASE && opcode == XDG_WM_BASE_PING) {
		uint32_t serial = wl_arg_u32(a);

		wlt_req(s, s->wm_base, XDG_WM_BASE_PONG, NULL, 0, "u", serial);
	} else if (iface == IF_TOPLEVEL && opcode == XDG_TOPLEVEL_CONFIGURE) {
		s->win.conf_width = wl_arg_i32(a);
		s->win.conf_height = wl_arg_i32(a);
	} else if (iface == IF_XDG_SURFACE && opcode == XDG_SURFACE_CONFIGURE) {
		uint32_t serial = wl_arg_u32(a);

		wlt_req(s, s->win.xdg_surface, XDG_SURFACE_ACK_CONFIGURE, NULL, 0, "u", serial);
		if (!s->win.configured)
			printf("VMSILO wl-configure=%d %d\n", s->win.conf_width,
			       s->win.conf_height);
		s->win.configured = true;
	}
}

static void on_event(struct wlc *c, uint32_t object, enum wl_iface iface, uint16_t opcode,
		     struct wl_args *a)
{
	struct wlt_session *s = c->user;

	switch (iface) {
	case IF_REGISTRY:
		if (opcode == WL_REGISTRY_GLOBAL)
			registry_global(s, a);
		break;
	case IF_CALLBACK:
		if (opcode == WL_CALLBACK_DONE)
			callback_done(s, object);
		break;
	case IF_WM_BASE:
	case IF_XDG_SURFACE:
	case IF_TOPLEVEL:
		window_event(s, iface, opcode, a);
		break;
	case IF_BUFFER:
		for (int i = 0; i < 2; i++)
			if (opcode == WL_BUFFER_RELEASE && object == s->win.buffers[i])
				s->win.busy[i] = false;
		break;
	case IF_KEYBOARD:
	case IF_DATA_SOURCE:
	case IF_DATA_DEVICE:
	case IF_DATA_OFFER:
		wlt_fds_event(s, object, iface, opcode, a);
		break;
	default:
		break;		/* wl_shm formats, enter/leave: not needed */
	}
}

static void on_read(struct wlc *c, uint32_t id, bool hang_up, const uint8_t *data,
		    uint32_t len)
{
	wlt_fds_read(c->user, id, hang_up, data, len);
}

int wlt_open(struct wlt_session *s, const struct wlt_opts *o)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->o = o;
	rc = xd_open(&s->xd, o->node, o->init_size);
	wlc_init(&s->wl, &s->xd, on_event, on_read, s);
	return rc;
}

void wlt_close(struct wlt_session *s)
{
	xd_close(&s->xd);
}

void wlt_req(struct wlt_session *s, uint32_t object, uint16_t opcode,
	     const struct cd_item *items, uint32_t n_items, const char *sig, ...)
{
	uint8_t buf[WL_MAX_MESSAGE];
	struct wl_out m;
	va_list ap;

	wl_out_begin(&m, buf, sizeof(buf), object, opcode);
	va_start(ap, sig);
	for (const char *p = sig; *p; p++) {
		if (*p == 's')
			wl_out_string(&m, va_arg(ap, const char *));
		else if (*p == 'i')
			wl_out_i32(&m, va_arg(ap, int));
		else
			wl_out_u32(&m, va_arg(ap, unsigned));
	}
	va_end(ap);
	wlc_request(&s->wl, &m, items, n_items);
}

uint32_t wlt_bind(struct wlt_session *s, const struct wlt_global *g, const char *name,
		  uint32_t max_version, enum wl_iface iface)
{
	uint32_t version = g->version < max_version ? g->version : max_version;
	uint32_t id = wlc_new_id(&s->wl, iface);

	wlt_req(s, s->registry, WL_REGISTRY_BIND, NULL, 0, "usun", g->name, name, version, id);
	return id;
}

bool wlt_roundtrip_globals(struct wlt_session *s)
{
	s->registry = wlc_new_id(&s->wl, IF_REGISTRY);
	wlt_req(s, WL_DISPLAY_ID, WL_DISPLAY_GET_REGISTRY, NULL, 0, "n", s->registry);
	s->sync_cb = wlc_new_id(&s->wl, IF_CALLBACK);
	wlt_req(s, WL_DISPLAY_ID, WL_DISPLAY_SYNC, NULL, 0, "n", s->sync_cb);
	return wlc_wait_for(&s->wl, &s->globals_done, WLT_STEP_SECONDS, "the registry");
}
