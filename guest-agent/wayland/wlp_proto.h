/*
 * The Wayland interfaces vmsilo-wayland-proxy lets through, each message
 * with its arguments, so that every message can be split into its
 * arguments and the fds it carries found. A global whose interface is not
 * here is hidden from clients; a global offered at a higher version than
 * ours is announced at ours, so no client can speak a message we do not
 * know.
 *
 * A signature has one letter per argument: i int, u uint, f fixed,
 * s string, o object, n new_id, a array, h fd; '?' before s or o: may
 * be null. wl_registry.bind's untyped new_id is written "sun".
 * zwp_linux_dmabuf_v1 is the proxy's own (see wlp_dmabuf.c).
 */
#ifndef VMSILO_WLP_PROTO_H
#define VMSILO_WLP_PROTO_H

#include <stdint.h>

enum wlp_iface {
	WLP_NONE,
	WLP_DISPLAY, WLP_REGISTRY, WLP_CALLBACK, WLP_COMPOSITOR, WLP_SHM_POOL, WLP_SHM,
	WLP_BUFFER, WLP_DATA_OFFER, WLP_DATA_SOURCE, WLP_DATA_DEVICE, WLP_DATA_DEVICE_MANAGER,
	WLP_SURFACE, WLP_SEAT, WLP_POINTER, WLP_KEYBOARD, WLP_TOUCH, WLP_OUTPUT, WLP_REGION,
	WLP_SUBCOMPOSITOR, WLP_SUBSURFACE, WLP_XDG_WM_BASE, WLP_XDG_POSITIONER, WLP_XDG_SURFACE,
	WLP_XDG_TOPLEVEL, WLP_XDG_POPUP, WLP_DECORATION_MANAGER, WLP_TOPLEVEL_DECORATION,
	WLP_DMABUF, WLP_DMABUF_PARAMS, WLP_DMABUF_FEEDBACK,
	WLP_NR_IFACES
};

struct wlp_msg {
	const char *name;
	const char *sig;
	enum wlp_iface new_iface;	/* the interface of its typed new_id */
};

struct wlp_interface {
	const char *name;
	uint32_t version;		/* the highest we speak */
	const struct wlp_msg *requests, *events;
	uint16_t nr_requests, nr_events;
	/* A global clients may bind (others are made by requests). */
	unsigned global : 1;
	/* The proxy's own (wlp_dmabuf.c): no host object behind it, and the
	 * host's global of the same name is hidden. */
	unsigned local : 1;
};

extern const struct wlp_interface wlp_ifaces[WLP_NR_IFACES];

/* The interface called name, WLP_NONE if it is not ours. */
enum wlp_iface wlp_iface_by_name(const char *name);
/* The message, NULL when the interface has no such opcode. */
const struct wlp_msg *wlp_request(enum wlp_iface iface, uint16_t opcode);
const struct wlp_msg *wlp_event(enum wlp_iface iface, uint16_t opcode);

/* Opcodes the proxy acts on. */
#define WLP_DISPLAY_ERROR		0
#define WLP_DISPLAY_DELETE_ID		1
#define WLP_REGISTRY_BIND		0
#define WLP_REGISTRY_GLOBAL		0
#define WLP_REGISTRY_GLOBAL_REMOVE	1
#define WLP_SHM_CREATE_POOL		0
#define WLP_SHM_POOL_CREATE_BUFFER	0
#define WLP_SHM_POOL_DESTROY		1
#define WLP_SHM_POOL_RESIZE		2
#define WLP_BUFFER_DESTROY		0
#define WLP_SURFACE_DESTROY		0
#define WLP_SURFACE_ATTACH		1
#define WLP_SURFACE_DAMAGE		2
#define WLP_SURFACE_COMMIT		6
#define WLP_SURFACE_SET_BUFFER_TRANSFORM 7
#define WLP_SURFACE_SET_BUFFER_SCALE	8
#define WLP_SURFACE_DAMAGE_BUFFER	9
#define WLP_DATA_OFFER_RECEIVE		1
#define WLP_DATA_SOURCE_SEND		1
#define WLP_KEYBOARD_KEYMAP		0
#define WLP_XDG_TOPLEVEL_SET_TITLE	2
#define WLP_DISPLAY_GET_REGISTRY	1
#define WLP_DMABUF_DESTROY		0
#define WLP_DMABUF_CREATE_PARAMS	1
#define WLP_DMABUF_GET_DEFAULT_FEEDBACK	2
#define WLP_DMABUF_GET_SURFACE_FEEDBACK	3
#define WLP_PARAMS_DESTROY		0
#define WLP_PARAMS_ADD			1
#define WLP_PARAMS_CREATE		2
#define WLP_PARAMS_CREATE_IMMED		3
#define WLP_PARAMS_FAILED		1
#define WLP_FEEDBACK_DESTROY		0
#define WLP_FEEDBACK_DONE		0
#define WLP_FEEDBACK_FORMAT_TABLE	1
#define WLP_FEEDBACK_MAIN_DEVICE	2
#define WLP_FEEDBACK_TRANCHE_DONE	3
#define WLP_FEEDBACK_TRANCHE_TARGET_DEVICE 4
#define WLP_FEEDBACK_TRANCHE_FORMATS	5
#define WLP_FEEDBACK_TRANCHE_FLAGS	6

#endif
