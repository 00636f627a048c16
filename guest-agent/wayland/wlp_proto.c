/*
 * The message tables: wayland.xml (1.21), xdg-shell.xml (stable) and
 * xdg-decoration-unstable-v1.xml and linux-dmabuf-unstable-v1.xml (v4), in
 * opcode order per direction.
 */
#include <string.h>

#include "guest-agent/wayland/wlp_proto.h"

#define M(name, sig)		{ name, sig, WLP_NONE }
#define MN(name, sig, iface)	{ name, sig, iface }
#define N(a)			(uint16_t)(sizeof(a) / sizeof((a)[0]))
#define IFACE(id, nm, ver, req, ev, glob) \
	[id] = { nm, ver, req, ev, N(req), N(ev), glob, 0 }
#define IFACE_LOCAL(id, nm, ver, req, ev, glob) \
	[id] = { nm, ver, req, ev, N(req), N(ev), glob, 1 }

static const struct wlp_msg display_req[] = {
	MN("sync", "n", WLP_CALLBACK), MN("get_registry", "n", WLP_REGISTRY),
};
static const struct wlp_msg display_ev[] = { M("error", "ous"), M("delete_id", "u") };
static const struct wlp_msg registry_req[] = { M("bind", "usun") };
static const struct wlp_msg registry_ev[] = { M("global", "usu"), M("global_remove", "u") };
static const struct wlp_msg callback_ev[] = { M("done", "u") };
static const struct wlp_msg none[] = { { NULL, NULL, WLP_NONE } };
static const struct wlp_msg compositor_req[] = {
	MN("create_surface", "n", WLP_SURFACE), MN("create_region", "n", WLP_REGION),
};
static const struct wlp_msg shm_pool_req[] = {
	MN("create_buffer", "niiiiu", WLP_BUFFER), M("destroy", ""), M("resize", "i"),
};
static const struct wlp_msg shm_req[] = { MN("create_pool", "nhi", WLP_SHM_POOL) };
static const struct wlp_msg shm_ev[] = { M("format", "u") };
static const struct wlp_msg buffer_req[] = { M("destroy", "") };
static const struct wlp_msg buffer_ev[] = { M("release", "") };
static const struct wlp_msg data_offer_req[] = {
	M("accept", "u?s"), M("receive", "sh"), M("destroy", ""), M("finish", ""),
	M("set_actions", "uu"),
};
static const struct wlp_msg data_offer_ev[] = {
	M("offer", "s"), M("source_actions", "u"), M("action", "u"),
};
static const struct wlp_msg data_source_req[] = {
	M("offer", "s"), M("destroy", ""), M("set_actions", "u"),
};
static const struct wlp_msg data_source_ev[] = {
	M("target", "?s"), M("send", "sh"), M("cancelled", ""), M("dnd_drop_performed", ""),
	M("dnd_finished", ""), M("action", "u"),
};
static const struct wlp_msg data_device_req[] = {
	M("start_drag", "?oo?ou"), M("set_selection", "?ou"), M("release", ""),
};
static const struct wlp_msg data_device_ev[] = {
	MN("data_offer", "n", WLP_DATA_OFFER), M("enter", "uoff?o"), M("leave", ""),
	M("motion", "uff"), M("drop", ""), M("selection", "?o"),
};
static const struct wlp_msg data_device_manager_req[] = {
	MN("create_data_source", "n", WLP_DATA_SOURCE),
	MN("get_data_device", "no", WLP_DATA_DEVICE),
};
static const struct wlp_msg surface_req[] = {
	M("destroy", ""), M("attach", "?oii"), M("damage", "iiii"),
	MN("frame", "n", WLP_CALLBACK), M("set_opaque_region", "?o"),
	M("set_input_region", "?o"), M("commit", ""), M("set_buffer_transform", "i"),
	M("set_buffer_scale", "i"), M("damage_buffer", "iiii"), M("offset", "ii"),
};
static const struct wlp_msg surface_ev[] = { M("enter", "o"), M("leave", "o") };
static const struct wlp_msg seat_req[] = {
	MN("get_pointer", "n", WLP_POINTER), MN("get_keyboard", "n", WLP_KEYBOARD),
	MN("get_touch", "n", WLP_TOUCH), M("release", ""),
};
static const struct wlp_msg seat_ev[] = { M("capabilities", "u"), M("name", "s") };
static const struct wlp_msg pointer_req[] = { M("set_cursor", "u?oii"), M("release", "") };
static const struct wlp_msg pointer_ev[] = {
	M("enter", "uoff"), M("leave", "uo"), M("motion", "uff"), M("button", "uuuu"),
	M("axis", "uuf"), M("frame", ""), M("axis_source", "u"), M("axis_stop", "uu"),
	M("axis_discrete", "ui"),
};
static const struct wlp_msg release_req[] = { M("release", "") };
static const struct wlp_msg keyboard_ev[] = {
	M("keymap", "uhu"), M("enter", "uoa"), M("leave", "uo"), M("key", "uuuu"),
	M("modifiers", "uuuuu"), M("repeat_info", "ii"),
};
static const struct wlp_msg touch_ev[] = {
	M("down", "uuoiff"), M("up", "uui"), M("motion", "uiff"), M("frame", ""),
	M("cancel", ""), M("shape", "iff"), M("orientation", "if"),
};
static const struct wlp_msg output_ev[] = {
	M("geometry", "iiiiissi"), M("mode", "uiii"), M("done", ""), M("scale", "i"),
	M("name", "s"), M("description", "s"),
};
static const struct wlp_msg region_req[] = {
	M("destroy", ""), M("add", "iiii"), M("subtract", "iiii"),
};
static const struct wlp_msg subcompositor_req[] = {
	M("destroy", ""), MN("get_subsurface", "noo", WLP_SUBSURFACE),
};
static const struct wlp_msg subsurface_req[] = {
	M("destroy", ""), M("set_position", "ii"), M("place_above", "o"),
	M("place_below", "o"), M("set_sync", ""), M("set_desync", ""),
};
static const struct wlp_msg wm_base_req[] = {
	M("destroy", ""), MN("create_positioner", "n", WLP_XDG_POSITIONER),
	MN("get_xdg_surface", "no", WLP_XDG_SURFACE), M("pong", "u"),
};
static const struct wlp_msg wm_base_ev[] = { M("ping", "u") };
static const struct wlp_msg positioner_req[] = {
	M("destroy", ""), M("set_size", "ii"), M("set_anchor_rect", "iiii"),
	M("set_anchor", "u"), M("set_gravity", "u"), M("set_constraint_adjustment", "u"),
	M("set_offset", "ii"), M("set_reactive", ""), M("set_parent_size", "ii"),
	M("set_parent_configure", "u"),
};
static const struct wlp_msg xdg_surface_req[] = {
	M("destroy", ""), MN("get_toplevel", "n", WLP_XDG_TOPLEVEL),
	MN("get_popup", "n?oo", WLP_XDG_POPUP), M("set_window_geometry", "iiii"),
	M("ack_configure", "u"),
};
static const struct wlp_msg xdg_surface_ev[] = { M("configure", "u") };
static const struct wlp_msg toplevel_req[] = {
	M("destroy", ""), M("set_parent", "?o"), M("set_title", "s"), M("set_app_id", "s"),
	M("show_window_menu", "ouii"), M("move", "ou"), M("resize", "ouu"),
	M("set_max_size", "ii"), M("set_min_size", "ii"), M("set_maximized", ""),
	M("unset_maximized", ""), M("set_fullscreen", "?o"), M("unset_fullscreen", ""),
	M("set_minimized", ""),
};
static const struct wlp_msg toplevel_ev[] = {
	M("configure", "iia"), M("close", ""), M("configure_bounds", "ii"),
	M("wm_capabilities", "a"),
};
static const struct wlp_msg popup_req[] = {
	M("destroy", ""), M("grab", "ou"), M("reposition", "ou"),
};
static const struct wlp_msg popup_ev[] = {
	M("configure", "iiii"), M("popup_done", ""), M("repositioned", "u"),
};
static const struct wlp_msg decoration_manager_req[] = {
	M("destroy", ""), MN("get_toplevel_decoration", "no", WLP_TOPLEVEL_DECORATION),
};
static const struct wlp_msg decoration_req[] = {
	M("destroy", ""), M("set_mode", "u"), M("unset_mode", ""),
};
static const struct wlp_msg decoration_ev[] = { M("configure", "u") };
static const struct wlp_msg dmabuf_req[] = {
	M("destroy", ""), MN("create_params", "n", WLP_DMABUF_PARAMS),
	MN("get_default_feedback", "n", WLP_DMABUF_FEEDBACK),
	MN("get_surface_feedback", "no", WLP_DMABUF_FEEDBACK),
};
static const struct wlp_msg dmabuf_ev[] = { M("format", "u"), M("modifier", "uuu") };
static const struct wlp_msg params_req[] = {
	M("destroy", ""), M("add", "huuuuu"), M("create", "iiuu"),
	MN("create_immed", "niiuu", WLP_BUFFER),
};
static const struct wlp_msg params_ev[] = { MN("created", "n", WLP_BUFFER), M("failed", "") };
static const struct wlp_msg feedback_req[] = { M("destroy", "") };
static const struct wlp_msg feedback_ev[] = {
	M("done", ""), M("format_table", "hu"), M("main_device", "a"), M("tranche_done", ""),
	M("tranche_target_device", "a"), M("tranche_formats", "a"), M("tranche_flags", "u"),
};

/* "none" tables have one empty entry; the counts below leave it out. */
#define IFACE0(id, nm, ver, req, glob) [id] = { nm, ver, req, none, N(req), 0, glob, 0 }
#define IFACE_EV(id, nm, ver, ev) [id] = { nm, ver, none, ev, 0, N(ev), 0, 0 }

const struct wlp_interface wlp_ifaces[WLP_NR_IFACES] = {
	IFACE(WLP_DISPLAY, "wl_display", 1, display_req, display_ev, 0),
	IFACE(WLP_REGISTRY, "wl_registry", 1, registry_req, registry_ev, 0),
	IFACE_EV(WLP_CALLBACK, "wl_callback", 1, callback_ev),
	IFACE0(WLP_COMPOSITOR, "wl_compositor", 5, compositor_req, 1),
	IFACE0(WLP_SHM_POOL, "wl_shm_pool", 1, shm_pool_req, 0),
	IFACE(WLP_SHM, "wl_shm", 1, shm_req, shm_ev, 1),
	IFACE(WLP_BUFFER, "wl_buffer", 1, buffer_req, buffer_ev, 0),
	IFACE(WLP_DATA_OFFER, "wl_data_offer", 3, data_offer_req, data_offer_ev, 0),
	IFACE(WLP_DATA_SOURCE, "wl_data_source", 3, data_source_req, data_source_ev, 0),
	IFACE(WLP_DATA_DEVICE, "wl_data_device", 3, data_device_req, data_device_ev, 0),
	IFACE0(WLP_DATA_DEVICE_MANAGER, "wl_data_device_manager", 3, data_device_manager_req, 1),
	IFACE(WLP_SURFACE, "wl_surface", 5, surface_req, surface_ev, 0),
	IFACE(WLP_SEAT, "wl_seat", 7, seat_req, seat_ev, 1),
	IFACE(WLP_POINTER, "wl_pointer", 7, pointer_req, pointer_ev, 0),
	IFACE(WLP_KEYBOARD, "wl_keyboard", 7, release_req, keyboard_ev, 0),
	IFACE(WLP_TOUCH, "wl_touch", 7, release_req, touch_ev, 0),
	IFACE(WLP_OUTPUT, "wl_output", 4, release_req, output_ev, 1),
	IFACE0(WLP_REGION, "wl_region", 1, region_req, 0),
	IFACE0(WLP_SUBCOMPOSITOR, "wl_subcompositor", 1, subcompositor_req, 1),
	IFACE0(WLP_SUBSURFACE, "wl_subsurface", 1, subsurface_req, 0),
	IFACE(WLP_XDG_WM_BASE, "xdg_wm_base", 5, wm_base_req, wm_base_ev, 1),
	IFACE0(WLP_XDG_POSITIONER, "xdg_positioner", 5, positioner_req, 0),
	IFACE(WLP_XDG_SURFACE, "xdg_surface", 5, xdg_surface_req, xdg_surface_ev, 0),
	IFACE(WLP_XDG_TOPLEVEL, "xdg_toplevel", 5, toplevel_req, toplevel_ev, 0),
	IFACE(WLP_XDG_POPUP, "xdg_popup", 5, popup_req, popup_ev, 0),
	IFACE0(WLP_DECORATION_MANAGER, "zxdg_decoration_manager_v1", 1, decoration_manager_req,
	       1),
	IFACE(WLP_TOPLEVEL_DECORATION, "zxdg_toplevel_decoration_v1", 1, decoration_req,
	      decoration_ev, 0),
	IFACE_LOCAL(WLP_DMABUF, "zwp_linux_dmabuf_v1", 4, dmabuf_req, dmabuf_ev, 1),
	IFACE_LOCAL(WLP_DMABUF_PARAMS, "zwp_linux_buffer_params_v1", 4, params_req, params_ev, 0),
	IFACE_LOCAL(WLP_DMABUF_FEEDBACK, "zwp_linux_dmabuf_feedback_v1", 4, feedback_req,
		    feedback_ev, 0),
};

enum wlp_iface wlp_iface_by_name(const char *name)
{
	for (int i = WLP_NONE + 1; i < WLP_NR_IFACES; i++)
		if (!strcmp(wlp_ifaces[i].name, name))
			return (enum wlp_iface)i;
	return WLP_NONE;
}

const struct wlp_msg *wlp_request(enum wlp_iface iface, uint16_t opcode)
{
	if (iface <= WLP_NONE || iface >= WLP_NR_IFACES || opcode >= wlp_ifaces[iface].nr_requests)
		return NULL;
	return &wlp_ifaces[iface].requests[opcode];
}

const struct wlp_msg *wlp_event(enum wlp_iface iface, uint16_t opcode)
{
	if (iface <= WLP_NONE || iface >= WLP_NR_IFACES || opcode >= wlp_ifaces[iface].nr_events)
		return NULL;
	return &wlp_ifaces[iface].events[opcode];
}
