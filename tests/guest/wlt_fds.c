/*
 * vmsilo-wl-test fds: fds the compositor sends, through cross-domain
 * items. A wl_keyboard keymap (a blob item, made a HOST3D resource and
 * mapped read-only) and the clipboard both ways: our data source's send
 * (a write-pipe item we WRITE into) and the compositor's selection offer
 * (a read pipe we send, whose data comes back as READs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fnv1a.h"
#include "guest-agent/wayland/virtgpu_uapi.h"
#include "wl_proto.h"
#include "wlt.h"

#define MIME_TEXT	"text/plain"
#define CLIP_LINE	"vmsilo-clipboard-guest-to-host\n"
#define CLIP_REPEAT	200
#define WRITE_CHUNK	4000
#define MAX_KEYMAP	(1u << 20)
#define MAX_CLIP	(1u << 20)

static void fds_progress(struct wlt_session *s)
{
	struct wlt_fds *f = &s->fds;

	f->all_done = f->keymap_done && f->clip_sent && f->clip_received;
}

/* wl_keyboard.keymap: its fd is a blob item the size of the keymap. */
static void keymap(struct wlt_session *s, struct wl_args *a)
{
	uint32_t format = wl_arg_u32(a), size = wl_arg_u32(a);
	size_t map_size;
	struct cd_item item;
	struct vgpu_bo bo;

	if (a->bad || !wlc_take_fd(&s->wl, CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB, &item))
		return;
	printf("VMSILO keymap-item id=%u size=%u format=%u\n", item.id, item.size, format);
	if (!size || size > MAX_KEYMAP || size > item.size) {
		wlc_fail(&s->wl, WLT_PROTOCOL, "keymap of %u bytes in a blob of %u", size,
			 item.size);
		return;
	}
	map_size = (item.size + VGPU_PAGE - 1) & ~(size_t)(VGPU_PAGE - 1);
	if (vgpu_create_blob(s->xd.fd, VGPU_BLOB_MEM_HOST3D,
			     VGPU_BLOB_FLAG_USE_MAPPABLE | VGPU_BLOB_FLAG_USE_SHAREABLE,
			     item.id, item.size, &bo) ||
	    vgpu_map_bo(s->xd.fd, &bo, map_size, PROT_READ)) {
		wlc_fail(&s->wl, WLT_DRM, "the keymap blob could not be made and mapped");
		vgpu_free_bo(s->xd.fd, &bo);
		return;
	}
	printf("VMSILO keymap-size=%u keymap-sum=%08x\n", size,
	       fnv1a(FNV1A_INIT, bo.map, size));
	vgpu_free_bo(s->xd.fd, &bo);
	s->fds.keymap_done = true;
}

/* wl_data_source.send: our text into the write pipe, then its hang-up. */
static void source_send(struct wlt_session *s, struct wl_args *a)
{
	static char text[sizeof(CLIP_LINE) * CLIP_REPEAT];
	size_t len = 0;
	const char *mime = wl_arg_string(a);
	struct cd_item item;

	if (a->bad || !wlc_take_fd(&s->wl, CROSS_DOMAIN_ID_TYPE_WRITE_PIPE, &item))
		return;
	printf("VMSILO clip-send mime=%s id=%u\n", mime ? mime : "(null)", item.id);
	for (int i = 0; i < CLIP_REPEAT; i++, len += strlen(CLIP_LINE))
		memcpy(text + len, CLIP_LINE, strlen(CLIP_LINE));
	wlc_flush(&s->wl);
	for (size_t at = 0; at < len && !s->wl.failed; at += WRITE_CHUNK) {
		uint32_t n = len - at < WRITE_CHUNK ? (uint32_t)(len - at) : WRITE_CHUNK;

		if (xd_write(&s->xd, item.id, false, text + at, n))
			wlc_fail(&s->wl, WLT_DRM, "WRITE failed");
	}
	if (!s->wl.failed && xd_write(&s->xd, item.id, true, NULL, 0))
		wlc_fail(&s->wl, WLT_DRM, "WRITE (hang-up) failed");
	if (s->wl.failed)
		return;
	printf("VMSILO clip-sent=%zu\n", len);
	s->fds.clip_sent = true;
}

/* wl_data_device.selection: receive the first text offer through a read pipe. */
static void selection(struct wlt_session *s, struct wl_args *a)
{
	uint32_t offer = wl_arg_object(a);
	struct cd_item item = { 0, CROSS_DOMAIN_ID_TYPE_READ_PIPE, 0 };
	struct wlt_fds *f = &s->fds;

	if (a->bad || !offer || f->receiving || wlc_iface(&s->wl, offer) != IF_DATA_OFFER)
		return;
	if (!f->offer_text[offer - WLC_SERVER_ID_START]) {
		printf("VMSILO clip-offer=%u without %s\n", offer, MIME_TEXT);
		return;
	}
	item.id = xd_next_read_pipe(&s->xd);
	f->read_pipe = item.id;
	f->receiving = true;
	f->clip_sum = FNV1A_INIT;
	printf("VMSILO clip-receive offer=%u id=%#x\n", offer, item.id);
	wlt_req(s, offer, WL_DATA_OFFER_RECEIVE, &item, 1, "s", MIME_TEXT);
}

static void data_offer(struct wlt_session *s, struct wl_args *a)
{
	uint32_t id = wl_arg_new_id(a);

	if (a->bad)
		return;
	wlc_add_server_object(&s->wl, id, IF_DATA_OFFER);
	if (!s->wl.failed)
		s->fds.offer_text[id - WLC_SERVER_ID_START] = false;
}

static void offer_mime(struct wlt_session *s, uint32_t offer, struct wl_args *a)
{
	const char *mime = wl_arg_string(a);

	if (mime && !strcmp(mime, MIME_TEXT) && offer >= WLC_SERVER_ID_START)
		s->fds.offer_text[offer - WLC_SERVER_ID_START] = true;
}

void wlt_fds_event(struct wlt_session *s, uint32_t object, enum wl_iface iface,
		   uint16_t opcode, struct wl_args *args)
{
	if (iface == IF_KEYBOARD && opcode == WL_KEYBOARD_KEYMAP)
		keymap(s, args);
	else if (iface == IF_DATA_SOURCE && opcode == WL_DATA_SOURCE_SEND)
		source_send(s, args);
	else if (iface == IF_DATA_DEVICE && opcode == WL_DATA_DEVICE_DATA_OFFER)
		data_offer(s, args);
	else if (iface == IF_DATA_DEVICE && opcode == WL_DATA_DEVICE_SELECTION)
		selection(s, args);
	else if (iface == IF_DATA_OFFER && opcode == WL_DATA_OFFER_OFFER)
		offer_mime(s, object, args);
	fds_progress(s);
}

void wlt_fds_read(struct wlt_session *s, uint32_t id, bool hang_up, const uint8_t *data,
		  uint32_t len)
{
	struct wlt_fds *f = &s->fds;

	if (!f->receiving || id != f->read_pipe || f->clip_received) {
		wlc_fail(&s->wl, WLT_PROTOCOL, "READ for pipe %#x, which we are not reading", id);
		return;
	}
	f->clip_bytes += len;
	f->clip_sum = fnv1a(f->clip_sum, data, len);
	if (f->clip_bytes > MAX_CLIP) {
		wlc_fail(&s->wl, WLT_PROTOCOL, "clipboard data beyond %u bytes", MAX_CLIP);
		return;
	}
	if (!hang_up)
		return;
	printf("VMSILO clip-received=%llu clip-sum=%08x\n", (unsigned long long)f->clip_bytes,
	       f->clip_sum);
	f->clip_received = true;
	fds_progress(s);
}

static bool start(struct wlt_session *s)
{
	uint32_t seat, ddm, keyboard, source, device;

	if (!s->seat.name || !s->data_device_manager.name) {
		wlc_fail(&s->wl, WLT_PROTOCOL, "the compositor offers no %s",
			 !s->seat.name ? "wl_seat" : "wl_data_device_manager");
		return false;
	}
	seat = wlt_bind(s, &s->seat, "wl_seat", 5, IF_SEAT);
	ddm = wlt_bind(s, &s->data_device_manager, "wl_data_device_manager", 3,
		       IF_DATA_DEVICE_MANAGER);
	keyboard = wlc_new_id(&s->wl, IF_KEYBOARD);
	wlt_req(s, seat, WL_SEAT_GET_KEYBOARD, NULL, 0, "n", keyboard);
	source = wlc_new_id(&s->wl, IF_DATA_SOURCE);
	wlt_req(s, ddm, WL_DATA_DEVICE_MANAGER_CREATE_DATA_SOURCE, NULL, 0, "n", source);
	wlt_req(s, source, WL_DATA_SOURCE_OFFER, NULL, 0, "s", MIME_TEXT);
	device = wlc_new_id(&s->wl, IF_DATA_DEVICE);
	wlt_req(s, ddm, WL_DATA_DEVICE_MANAGER_GET_DATA_DEVICE, NULL, 0, "no", device, seat);
	wlt_req(s, device, WL_DATA_DEVICE_SET_SELECTION, NULL, 0, "ou", source, 0);
	return !s->wl.failed;
}

int wlt_fds(const struct wlt_opts *o)
{
	struct wlt_session *s = calloc(1, sizeof(*s));
	int status;

	if (!s)
		return WLT_DRM;
	status = wlt_open(s, o);
	if (status == WLT_OK) {
		if (wlt_roundtrip_globals(s) && start(s) &&
		    wlc_wait_for(&s->wl, &s->fds.all_done, o->seconds, "keymap and clipboard"))
			printf("VMSILO fds-done\n");
		status = s->wl.failed;
		if (status)
			printf("VMSILO fds-state keymap=%d clip-sent=%d clip-received=%d\n",
			       s->fds.keymap_done, s->fds.clip_sent, s->fds.clip_received);
	}
	wlt_close(s);
	free(s);
	return status;
}
