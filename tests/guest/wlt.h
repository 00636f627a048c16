/*
 * vmsilo-wl-test's modes and the session they share: one cross-domain
 * context carrying one Wayland connection, the globals it found, and the
 * state of each mode's objects.
 */
#ifndef VMSILO_WLT_H
#define VMSILO_WLT_H

#include <stdbool.h>
#include <stdint.h>

#include "wl_client.h"

struct wlt_opts {
	const char *mode;
	const char *node;		/* the virtio_gpu DRM node */
	uint32_t width, height;
	int seconds;
	int frames;			/* client: 0, or redraw and time this many */
	const char *title;
	unsigned init_size;
};

struct wlt_global {
	uint32_t name, version;		/* name 0: not offered */
};

struct wlt_window {
	uint32_t compositor, shm, surface, xdg_surface, toplevel, frame_cb;
	uint32_t buffers[2];		/* the second only with --frames */
	bool busy[2];			/* attached, not yet released */
	int32_t conf_width, conf_height;
	bool configured, frame_done;
};

struct wlt_fds {
	bool keymap_done, clip_sent, clip_received, all_done;
	bool offer_text[WLC_MAX_SERVER_IDS];
	bool receiving;
	uint32_t read_pipe;
	uint64_t clip_bytes;
	uint32_t clip_sum;
};

struct wlt_session {
	const struct wlt_opts *o;
	struct xd xd;
	struct wlc wl;
	uint32_t registry, sync_cb, wm_base;
	bool globals_done;
	struct wlt_global compositor, shm, xdg_wm_base, seat, data_device_manager;
	struct wlt_window win;
	struct wlt_fds fds;
};

#define WLT_STEP_SECONDS	30	/* the longest wait for one reply */

/* Open a context with INIT and start the connection: a WLT_* status. */
int wlt_open(struct wlt_session *s, const struct wlt_opts *o);
void wlt_close(struct wlt_session *s);
/*
 * Queue one request. sig gives the arguments: u uint, i int, o object,
 * n new_id (all uint32_t or int), s string (const char *); the fds it
 * carries are items.
 */
void wlt_req(struct wlt_session *s, uint32_t object, uint16_t opcode,
	     const struct cd_item *items, uint32_t n_items, const char *sig, ...);
/* wl_registry.bind of g at min(its version, max_version) as iface. */
uint32_t wlt_bind(struct wlt_session *s, const struct wlt_global *g, const char *name,
		  uint32_t max_version, enum wl_iface iface);
/* get_registry and a sync: print the globals, then "wl-globals-done". */
bool wlt_roundtrip_globals(struct wlt_session *s);

/* Events of the fds mode's objects (keyboard, data device and friends). */
void wlt_fds_event(struct wlt_session *s, uint32_t object, enum wl_iface iface,
		   uint16_t opcode, struct wl_args *args);
void wlt_fds_read(struct wlt_session *s, uint32_t id, bool hang_up, const uint8_t *data,
		  uint32_t len);

/* The modes: each returns the exit status. */
int wlt_client(const struct wlt_opts *o);
int wlt_fds(const struct wlt_opts *o);
int wlt_hostile(const struct wlt_opts *o);

#endif
