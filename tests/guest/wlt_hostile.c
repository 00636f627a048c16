/*
 * vmsilo-wl-test hostile: cross-domain input no proxy sends, each on a
 * fresh context, one "VMSILO hostile-NAME=ok|ERRNO" line each (ok: the
 * guest kernel took it; what the device did shows in its log and in
 * whether it still serves), then the client flow once more.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest-agent/wayland/virtgpu_uapi.h"
#include "wl_proto.h"
#include "guest-agent/wayland/wl_wire.h"
#include "wlt.h"

#define FLOOD_QUERIES	10000u
#define FLOOD_PER_SUBMIT 50u
#define WRONG_PIPE_ID	(CROSS_DOMAIN_PIPE_READ_START + 5)
#define UNKNOWN_ID	0x7fff1234u

static void report(const char *name, int rc)
{
	if (rc == 0)
		printf("VMSILO hostile-%s=ok\n", name);
	else
		printf("VMSILO hostile-%s=%d\n", name, rc < 0 ? -rc : rc);
}

/*
 * Command cmd claiming cmd_size, in a buffer of len bytes, on no ring. A
 * POLL is a no-op that parses, so a loop that advances by 0 never ends.
 */
static int bad_cmd_size(const struct wlt_opts *o, uint8_t cmd, uint16_t cmd_size,
			uint32_t len)
{
	struct xd x;
	uint8_t buf[64] = { 0 };
	struct cross_domain_hdr h = { .cmd = cmd, .cmd_size = cmd_size };
	int rc = xd_open(&x, o->node, o->init_size) ? -ENODEV : 0;

	memcpy(buf, &h, sizeof(h));
	if (rc == 0)
		rc = xd_submit(&x, buf, len, -1);
	xd_close(&x);
	return rc;
}

/* 10,000 distinct sizes, FLOOD_PER_SUBMIT commands back to back per submit. */
static int image_req_flood(const struct wlt_opts *o)
{
	enum { CMD = sizeof(struct cross_domain_get_image_requirements) };
	static uint8_t buf[FLOOD_PER_SUBMIT * CMD];
	struct xd x;
	int rc = xd_open(&x, o->node, o->init_size) ? -ENODEV : 0;

	for (uint32_t i = 0; i < FLOOD_QUERIES && rc == 0; i += FLOOD_PER_SUBMIT) {
		for (uint32_t j = 0; j < FLOOD_PER_SUBMIT; j++)
			cd_image_req(buf + j * CMD, CMD, 1 + (i + j) % 100, 1 + (i + j) / 100,
				     DRM_FORMAT_XRGB8888, CROSS_DOMAIN_USE_LINEAR);
		rc = xd_submit(&x, buf, sizeof(buf), CROSS_DOMAIN_QUERY_RING);
	}
	if (rc == 0)
		rc = vgpu_wait(x.fd, x.query.bo);
	xd_close(&x);
	return rc;
}

/* A wl_display.sync, so that each SEND carries real Wayland bytes. */
static size_t sync_message(uint8_t *buf, size_t cap)
{
	struct wl_out m;

	wl_out_begin(&m, buf, cap, 1, WL_DISPLAY_SYNC);
	wl_out_new_id(&m, 2);
	return wl_out_end(&m);
}

/* SEND with these items on x; n_claimed goes in num_identifiers. */
static int send_items(struct xd *x, const struct cd_item *items, uint32_t n_items,
		      uint32_t n_claimed)
{
	static uint8_t cmd[sizeof(struct cross_domain_send_receive) + 64];
	uint8_t msg[16];
	size_t msg_len = sync_message(msg, sizeof(msg));
	size_t size = cd_send(cmd, sizeof(cmd), items, n_items, msg, (uint32_t)msg_len);
	struct cross_domain_send_receive *s = (struct cross_domain_send_receive *)cmd;

	s->num_identifiers = n_claimed;
	return xd_submit(x, cmd, (uint32_t)size, -1);
}

static int send_on_fresh(const struct wlt_opts *o, const struct cd_item *items,
			 uint32_t n_items, uint32_t n_claimed)
{
	struct xd x;
	int rc = xd_open(&x, o->node, o->init_size) ? -ENODEV : 0;

	if (rc == 0)
		rc = send_items(&x, items, n_items, n_claimed);
	xd_close(&x);
	return rc;
}

static int send_too_many(const struct wlt_opts *o)
{
	struct cd_item items[CROSS_DOMAIN_MAX_IDENTIFIERS] = { 0 };

	for (unsigned i = 0; i < CROSS_DOMAIN_MAX_IDENTIFIERS; i++)
		items[i] = (struct cd_item){ UNKNOWN_ID + i, CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB, 0 };
	return send_on_fresh(o, items, CROSS_DOMAIN_MAX_IDENTIFIERS,
			     CROSS_DOMAIN_MAX_IDENTIFIERS + 1);
}

/* Context a's host blob, named in a SEND on context b. */
static int send_foreign(const struct wlt_opts *o)
{
	struct xd a = { .fd = -1 }, b = { .fd = -1 };
	struct cross_domain_image_requirements r;
	struct vgpu_bo bo = { 0 };
	struct cd_item item = { 0, CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB, 0 };
	int rc = xd_open(&a, o->node, o->init_size) ? -ENODEV : 0;

	if (rc == 0)
		rc = xd_image_req(&a, 64, 64, DRM_FORMAT_XRGB8888, CROSS_DOMAIN_USE_LINEAR, &r);
	if (rc == 0)
		rc = vgpu_create_blob(a.fd, VGPU_BLOB_MEM_HOST3D, VGPU_BLOB_FLAG_USE_SHAREABLE,
				      r.blob_id, r.size, &bo);
	if (rc == 0) {
		item.id = bo.res;
		rc = xd_open(&b, o->node, o->init_size) ? -ENODEV : 0;
	}
	if (rc == 0)
		rc = send_items(&b, &item, 1, 1);
	xd_close(&b);
	vgpu_free_bo(a.fd, &bo);
	xd_close(&a);
	return rc;
}

/* INIT on b naming a's query ring, which is not attached to b. */
static int init_unattached(const struct wlt_opts *o)
{
	struct xd a = { .fd = -1 }, b = { .fd = -1 };
	int rc = xd_open(&a, o->node, o->init_size) ? -ENODEV : 0;

	if (rc == 0)
		rc = xd_open(&b, o->node, 0) ? -ENODEV : 0;
	if (rc == 0)
		rc = xd_init(&b, CROSS_DOMAIN_INIT_SIZE_V1, a.query.res, b.channel->res);
	xd_close(&b);
	xd_close(&a);
	return rc;
}

static int write_unknown(const struct wlt_opts *o)
{
	struct xd x;
	int rc = xd_open(&x, o->node, o->init_size) ? -ENODEV : 0;

	if (rc == 0)
		rc = xd_write(&x, UNKNOWN_ID, false, "hello", 5);
	xd_close(&x);
	return rc;
}

int wlt_hostile(const struct wlt_opts *o)
{
	const struct cd_item unknown = { UNKNOWN_ID, CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB, 0 };
	const struct cd_item wrong_pipe = { WRONG_PIPE_ID, CROSS_DOMAIN_ID_TYPE_READ_PIPE, 0 };
	int status;

	report("cmd-size-0", bad_cmd_size(o, CROSS_DOMAIN_CMD_POLL, 0, 16));
	report("cmd-size-7", bad_cmd_size(o, CROSS_DOMAIN_CMD_POLL, 7, 16));
	report("cmd-size-oversized",
	       bad_cmd_size(o, CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS, 4096, 24));
	report("image-req-flood", image_req_flood(o));
	report("send-unknown-id", send_on_fresh(o, &unknown, 1, 1));
	report("send-29-ids", send_too_many(o));
	report("send-foreign-resource", send_foreign(o));
	report("init-unattached-ring", init_unattached(o));
	report("read-pipe-wrong-id", send_on_fresh(o, &wrong_pipe, 1, 1));
	report("write-unknown-id", write_unknown(o));
	status = wlt_client(o);
	printf("VMSILO hostile-client=%s\n", status == WLT_OK ? "ok" : "failed");
	return status;
}
