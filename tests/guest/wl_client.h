/*
 * A Wayland client connection carried by one cross-domain context: client
 * object ids and their interfaces, requests batched into SENDs (their fds
 * as identifiers), and the event loop: one POLL outstanding at a time,
 * each signalled fence one RECEIVE (Wayland bytes, fd items queued in
 * order) or READ (pipe data) taken from the channel ring.
 */
#ifndef VMSILO_WL_CLIENT_H
#define VMSILO_WL_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "guest-agent/wayland/virtgpu_dev.h"
#include "guest-agent/wayland/wl_wire.h"

enum wl_iface {
	IF_NONE, IF_DISPLAY, IF_REGISTRY, IF_CALLBACK, IF_COMPOSITOR, IF_SHM, IF_SHM_POOL,
	IF_BUFFER, IF_SURFACE, IF_WM_BASE, IF_XDG_SURFACE, IF_TOPLEVEL, IF_SEAT, IF_KEYBOARD,
	IF_DATA_DEVICE_MANAGER, IF_DATA_SOURCE, IF_DATA_DEVICE, IF_DATA_OFFER,
};

#define WLC_MAX_CLIENT_IDS	1024
#define WLC_MAX_SERVER_IDS	256
#define WLC_SERVER_ID_START	0xff000000u
#define WLC_MAX_FDS		64
#define WLC_OUT_MAX		WL_MAX_MESSAGE

struct wlc;
/* An event for one of our objects; args start after the header. */
typedef void wlc_event_fn(struct wlc *c, uint32_t object, enum wl_iface iface,
			  uint16_t opcode, struct wl_args *args);
/* Data (or hang-up) from a read pipe we sent. */
typedef void wlc_read_fn(struct wlc *c, uint32_t id, bool hang_up, const uint8_t *data,
			 uint32_t len);

struct wlc {
	struct xd *xd;
	wlc_event_fn *on_event;
	wlc_read_fn *on_read;
	void *user;
	int failed;			/* a WLT_* status once something went wrong */
	bool watch_stdin, stdin_eof;

	uint32_t next_id;
	uint8_t client_iface[WLC_MAX_CLIENT_IDS];
	uint8_t server_iface[WLC_MAX_SERVER_IDS];

	uint8_t out[WLC_OUT_MAX];
	uint32_t out_len, out_n;
	struct cd_item out_items[CROSS_DOMAIN_MAX_IDENTIFIERS];

	uint8_t in[2 * WL_MAX_MESSAGE + CROSS_DOMAIN_RECEIVE_MAX_DATA];
	size_t in_len;
	struct cd_item fds[WLC_MAX_FDS];
	unsigned fd_first, fd_count;
};

void wlc_init(struct wlc *c, struct xd *xd, wlc_event_fn *on_event, wlc_read_fn *on_read,
	      void *user);
/* Record the first failure: one VMSILO line, and status for the exit. */
void wlc_fail(struct wlc *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A new client id for iface (0 when the table is full; failed is set). */
uint32_t wlc_new_id(struct wlc *c, enum wl_iface iface);
/* An object the compositor made (a new_id in an event). */
void wlc_add_server_object(struct wlc *c, uint32_t id, enum wl_iface iface);
enum wl_iface wlc_iface(const struct wlc *c, uint32_t id);

/* Queue one request built with wl_out, with the fds it carries. */
void wlc_request(struct wlc *c, struct wl_out *m, const struct cd_item *items,
		 uint32_t n_items);
void wlc_flush(struct wlc *c);
/* The oldest fd the compositor sent, which must be of type. */
bool wlc_take_fd(struct wlc *c, uint32_t type, struct cd_item *item);

/*
 * Wait up to timeout_ms for one channel message (or stdin's EOF) and
 * handle it. Returns false on timeout or once failed is set.
 */
bool wlc_dispatch(struct wlc *c, int timeout_ms);
/* Dispatch until *done, the deadline (seconds from now) or a failure. */
bool wlc_wait_for(struct wlc *c, const bool *done, int seconds, const char *what);

#endif
