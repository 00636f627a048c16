/*
 * zwp_linux_dmabuf_v1 as the proxy's own global. A guest client's GL
 * buffers are virgl resources; the host compositor cannot import them
 * (no render node in the jail, or a different GPU), so the proxy answers
 * the protocol itself: its feedback names the guest's virtio-gpu node,
 * so Mesa renders on virgl, and each buffer the client makes becomes a
 * host wl_shm buffer that wlp_shm.c fills from the resource on commit.
 * Only what Mesa's virgl makes is taken: one linear plane of ARGB8888 or
 * XRGB8888, rows of exactly width x 4 bytes (a virgl resource's own
 * stride, the only one Linux transfers a non-blob resource with),
 * through create_immed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest-agent/wayland/wlp.h"

#define DRM_FORMAT_MOD_INVALID	0x00ffffffffffffffull
#define DRM_FORMAT_MOD_LINEAR	0ull
#define MAX_SIDE		16384

static const struct {
	uint32_t drm, shm;
} formats[] = {
	{ 0x34325241u, 0 },	/* ARGB8888, wl_shm's argb8888 */
	{ 0x34325258u, 1 },	/* XRGB8888, wl_shm's xrgb8888 */
};
#define NR_FORMATS	(sizeof(formats) / sizeof(formats[0]))

/* zwp_linux_buffer_params_v1's error codes. */
enum { ALREADY_USED, PLANE_IDX, PLANE_SET, INCOMPLETE, INVALID_FORMAT, INVALID_DIMENSIONS,
       OUT_OF_BOUNDS, INVALID_WL_BUFFER };

struct wlp_params {
	int fd;
	uint32_t offset, stride;
	bool added, used;
};

bool wlp_dmabuf_offered(const struct wlp_conn *c)
{
	const struct wlp_link_ops *ops = c->link->ops;

	return ops->dmabuf_import && ops->dmabuf_device(c->link);
}

static void send_event(struct wlp_conn *c, struct wl_out *m, int fd)
{
	size_t size = wl_out_end(m);

	if (!size) {
		if (fd >= 0)
			close(fd);
		wlp_conn_kill(c, "an event of the proxy's own did not fit");
		return;
	}
	wlp_to_client(c, m->buf, size, &fd, fd >= 0);
}

void wlp_dmabuf_announce(struct wlp_conn *c, uint32_t registry)
{
	uint8_t buf[64];
	struct wl_out m;

	if (!wlp_dmabuf_offered(c))
		return;
	wl_out_begin(&m, buf, sizeof(buf), registry, WLP_REGISTRY_GLOBAL);
	wl_out_u32(&m, WLP_DMABUF_NAME);
	wl_out_string(&m, wlp_ifaces[WLP_DMABUF].name);
	wl_out_u32(&m, wlp_ifaces[WLP_DMABUF].version);
	send_event(c, &m, -1);
}

/* Before version 4 the formats come as events on the global itself. */
void wlp_dmabuf_bound(struct wlp_conn *c, uint32_t id, uint32_t version)
{
	for (size_t i = 0; i < NR_FORMATS && version < 4; i++) {
		uint8_t buf[32];
		struct wl_out m;

		wl_out_begin(&m, buf, sizeof(buf), id, version >= 3 ? 1 : 0);
		wl_out_u32(&m, formats[i].drm);
		if (version >= 3) {
			wl_out_u32(&m, (uint32_t)(DRM_FORMAT_MOD_INVALID >> 32));
			wl_out_u32(&m, (uint32_t)DRM_FORMAT_MOD_INVALID);
		}
		send_event(c, &m, -1);
	}
}

/* The format table: (format, padding, modifier) entries, the implicit
 * modifier only, so Mesa makes its buffers the driver's default way. */
static int format_table(uint32_t *size)
{
	uint8_t table[NR_FORMATS * 16] = { 0 };
	uint64_t mod = DRM_FORMAT_MOD_INVALID;
	int fd = memfd_create("vmsilo-dmabuf-formats", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	for (size_t i = 0; i < NR_FORMATS; i++) {
		memcpy(table + i * 16, &formats[i].drm, 4);
		memcpy(table + i * 16 + 8, &mod, 8);
	}
	if (fd < 0)
		return -1;
	if (write(fd, table, sizeof(table)) != (ssize_t)sizeof(table) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)) {
		close(fd);
		return -1;
	}
	*size = sizeof(table);
	return fd;
}

static void feedback_event(struct wlp_conn *c, uint32_t id, uint16_t opcode, const void *array,
			   uint32_t len)
{
	uint8_t buf[64];
	struct wl_out m;

	wl_out_begin(&m, buf, sizeof(buf), id, opcode);
	if (array)
		wl_out_array(&m, array, len);
	send_event(c, &m, -1);
}

/* One tranche: every format, on the device the feedback names. */
static void send_feedback(struct wlp_conn *c, uint32_t id)
{
	uint64_t dev = c->link->ops->dmabuf_device(c->link);
	uint16_t indices[NR_FORMATS];
	uint8_t buf[32];
	struct wl_out m;
	uint32_t size;
	int fd = format_table(&size);

	if (fd < 0) {
		wlp_conn_kill(c, "no memfd for the dma-buf format table: %s", strerror(errno));
		return;
	}
	for (size_t i = 0; i < NR_FORMATS; i++)
		indices[i] = (uint16_t)i;
	wl_out_begin(&m, buf, sizeof(buf), id, WLP_FEEDBACK_FORMAT_TABLE);
	wl_out_u32(&m, size);
	send_event(c, &m, fd);
	feedback_event(c, id, WLP_FEEDBACK_MAIN_DEVICE, &dev, sizeof(dev));
	feedback_event(c, id, WLP_FEEDBACK_TRANCHE_TARGET_DEVICE, &dev, sizeof(dev));
	feedback_event(c, id, WLP_FEEDBACK_TRANCHE_FORMATS, indices, sizeof(indices));
	wl_out_begin(&m, buf, sizeof(buf), id, WLP_FEEDBACK_TRANCHE_FLAGS);
	wl_out_u32(&m, 0);
	send_event(c, &m, -1);
	feedback_event(c, id, WLP_FEEDBACK_TRANCHE_DONE, NULL, 0);
	feedback_event(c, id, WLP_FEEDBACK_DONE, NULL, 0);
}

/* The client destroyed one of the proxy's objects: the proxy deletes it. */
static void destroyed(struct wlp_conn *c, uint32_t id)
{
	uint8_t buf[16];
	struct wl_out m;

	wlp_obj_gone(c, id);
	wl_out_begin(&m, buf, sizeof(buf), 1, WLP_DISPLAY_DELETE_ID);
	wl_out_u32(&m, id);
	send_event(c, &m, -1);
}

/* A client that breaks the protocol gets a protocol error, as from a compositor. */
static void protocol_error(struct wlp_conn *c, uint32_t object, uint32_t code, const char *what)
{
	uint8_t buf[256];
	struct wl_out m;

	wl_out_begin(&m, buf, sizeof(buf), 1, WLP_DISPLAY_ERROR);
	wl_out_object(&m, object);
	wl_out_u32(&m, code);
	wl_out_string(&m, what);
	send_event(c, &m, -1);
	wlp_conn_kill(c, "zwp_linux_buffer_params_v1 %u: %s", object, what);
}

void wlp_dmabuf_free_params(struct wlp_params *p)
{
	if (p && p->added)
		close(p->fd);
	free(p);
}

static void add_plane(struct wlp_conn *c, uint32_t id, struct wlp_params *p, const uint8_t *msg,
		      size_t size, int fd)
{
	struct wl_args a;
	uint32_t plane, mod_hi, mod_lo;
	uint64_t mod;

	wl_args_init(&a, msg, size);
	plane = wl_arg_u32(&a);
	p->offset = wl_arg_u32(&a);
	p->stride = wl_arg_u32(&a);
	mod_hi = wl_arg_u32(&a);
	mod_lo = wl_arg_u32(&a);
	mod = (uint64_t)mod_hi << 32 | mod_lo;
	if (p->added || p->used) {
		close(fd);
		protocol_error(c, id, p->used ? ALREADY_USED : PLANE_SET,
			       "a plane added twice, or after create");
		return;
	}
	p->fd = fd;
	p->added = true;
	if (plane != 0)
		protocol_error(c, id, PLANE_IDX, "only one plane is taken through the proxy");
	else if (mod != DRM_FORMAT_MOD_INVALID && mod != DRM_FORMAT_MOD_LINEAR)
		protocol_error(c, id, INVALID_FORMAT, "a modifier other than linear or implicit");
}

static const char *buffer_problem(const struct wlp_params *p, int32_t w, int32_t h,
				  uint32_t flags, size_t format, uint32_t *code)
{
	static const struct {
		uint32_t code;
		const char *what;
	} problems[] = {
		{ ALREADY_USED, "create_immed on used parameters" },
		{ INCOMPLETE, "no plane" },
		{ INVALID_DIMENSIONS, "a size out of bounds" },
		{ INVALID_FORMAT, "flags the proxy does not take (y-invert, interlaced)" },
		{ INVALID_FORMAT, "a format the proxy did not offer" },
		{ OUT_OF_BOUNDS, "a stride other than 4 bytes a pixel, or a buffer too large" },
	};
	bool bad[] = {
		p->used, !p->added, w <= 0 || h <= 0 || w > MAX_SIDE || h > MAX_SIDE, flags != 0,
		format == NR_FORMATS,
		p->stride != (uint32_t)w * 4 || (uint64_t)p->stride * (uint64_t)h > WLP_MAX_POOL,
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (bad[i]) {
			*code = problems[i].code;
			return problems[i].what;
		}
	return NULL;
}

static size_t format_index(uint32_t drm)
{
	size_t i = 0;

	while (i < NR_FORMATS && formats[i].drm != drm)
		i++;
	return i;
}

static void create_immed(struct wlp_conn *c, uint32_t id, struct wlp_params *p,
			 const uint8_t *msg, size_t size)
{
	struct wl_args a;
	struct wlp_dmabuf d;
	uint32_t buffer, format, flags;
	int32_t w, h;
	uint32_t code;
	size_t f;
	const char *why;
	int rc;

	wl_args_init(&a, msg, size);
	buffer = wl_arg_new_id(&a);
	w = wl_arg_i32(&a);
	h = wl_arg_i32(&a);
	format = wl_arg_u32(&a);
	flags = wl_arg_u32(&a);
	f = format_index(format);
	why = buffer_problem(p, w, h, flags, f, &code);
	p->used = true;
	if (why) {
		protocol_error(c, id, code, why);
		return;
	}
	rc = c->link->ops->dmabuf_import(c->link, p->fd, &d);
	close(p->fd);
	p->added = false;
	if (rc) {
		protocol_error(c, id, INVALID_WL_BUFFER,
			       "not a buffer of this virtio-gpu (import failed)");
		return;
	}
	if ((uint64_t)p->offset + (uint64_t)p->stride * (uint64_t)h > d.size) {
		c->link->ops->dmabuf_free(c->link, &d);
		protocol_error(c, id, OUT_OF_BOUNDS, "the plane runs past the dma-buf's end");
		return;
	}
	wlp_shm_dmabuf_buffer(c, buffer, &d, w, h, p->offset, p->stride, formats[f].shm);
}

static void params_request(struct wlp_conn *c, uint32_t id, struct wlp_obj *o, uint16_t opcode,
			   const uint8_t *msg, size_t size, int fd)
{
	struct wlp_params *p = o->data;
	uint8_t buf[16];
	struct wl_out m;

	if (!p && !(p = o->data = calloc(1, sizeof(*p)))) {
		if (fd >= 0)
			close(fd);
		wlp_conn_kill(c, "out of memory");
		return;
	}
	switch (opcode) {
	case WLP_PARAMS_DESTROY:
		destroyed(c, id);
		break;
	case WLP_PARAMS_ADD:
		add_plane(c, id, p, msg, size, fd);
		break;
	case WLP_PARAMS_CREATE:
		/* The buffer would need an id in the compositor's range, which
		 * the proxy does not hand out: clients fall back on failed. */
		wlp_log("client %d: zwp_linux_buffer_params_v1.create answered failed "
			"(create_immed is taken)", c->id);
		p->used = true;
		wl_out_begin(&m, buf, sizeof(buf), id, WLP_PARAMS_FAILED);
		send_event(c, &m, -1);
		break;
	case WLP_PARAMS_CREATE_IMMED:
		create_immed(c, id, p, msg, size);
		break;
	}
}

void wlp_dmabuf_request(struct wlp_conn *c, uint32_t object, enum wlp_iface iface,
			uint16_t opcode, const uint8_t *msg, size_t size, int fd)
{
	struct wlp_obj *o = wlp_obj(c, object);
	struct wl_args a;

	if (iface == WLP_DMABUF_PARAMS) {
		params_request(c, object, o, opcode, msg, size, fd);
		return;
	}
	if (fd >= 0)
		close(fd);
	wl_args_init(&a, msg, size);
	if (opcode == 0) {
		destroyed(c, object);
	} else if (iface == WLP_DMABUF && (opcode == WLP_DMABUF_GET_DEFAULT_FEEDBACK ||
					   opcode == WLP_DMABUF_GET_SURFACE_FEEDBACK)) {
		send_feedback(c, wl_arg_new_id(&a));
	}
}
