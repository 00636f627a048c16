/*
 * GET_IMAGE_REQUIREMENTS without a render node: a linear memfd layout,
 * planes one after the other, each row's bytes rounded up to 4 (pixman's
 * wl_shm needs it), the size page-rounded. The reply names a template
 * that a later CREATE_BLOB(HOST3D, blob_id, size) turns into a memfd.
 * The same query gets the same template back; at most CD_MAX_TEMPLATES
 * are kept, the least recently used one giving way (crosvm keeps every
 * one until the context goes, so a guest could fill the host with them).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_gpu.h>

#include "devices/cross_domain_priv.h"
#include "devices/gpu.h"
#include "vmm/log.h"

/* DRM fourccs (drm_fourcc.h is in libdrm only on bookworm). */
#define FOURCC(a, b, c, d) \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

struct cd_format {
	uint32_t fourcc;
	uint8_t planes;
	uint8_t bpp[3];		/* bytes per (subsampled) pixel of each plane */
	uint8_t sub[3];		/* horizontal and vertical subsampling of each plane */
};

#define PACKED(a, b, c, d, n)	{ FOURCC(a, b, c, d), 1, { n }, { 1 } }
#define YUV2(a, b, c, d)	{ FOURCC(a, b, c, d), 2, { 1, 2 }, { 1, 2 } }
#define YUV3(a, b, c, d)	{ FOURCC(a, b, c, d), 3, { 1, 1, 1 }, { 1, 2, 2 } }

/* The formats guest proxies and gralloc ask for (minigbm's list). */
static const struct cd_format formats[] = {
	PACKED('R', '8', ' ', ' ', 1),
	PACKED('G', 'R', '8', '8', 2), PACKED('R', 'G', '8', '8', 2),
	PACKED('R', 'G', '1', '6', 2), PACKED('B', 'G', '1', '6', 2),
	PACKED('R', 'G', '2', '4', 3), PACKED('B', 'G', '2', '4', 3),
	PACKED('X', 'R', '2', '4', 4), PACKED('X', 'B', '2', '4', 4),
	PACKED('A', 'R', '2', '4', 4), PACKED('A', 'B', '2', '4', 4),
	PACKED('R', 'X', '2', '4', 4), PACKED('B', 'X', '2', '4', 4),
	PACKED('R', 'A', '2', '4', 4), PACKED('B', 'A', '2', '4', 4),
	PACKED('X', 'R', '3', '0', 4), PACKED('X', 'B', '3', '0', 4),
	PACKED('A', 'R', '3', '0', 4), PACKED('A', 'B', '3', '0', 4),
	PACKED('X', 'B', '4', 'H', 8), PACKED('A', 'B', '4', 'H', 8),
	YUV2('N', 'V', '1', '2'), YUV2('N', 'V', '2', '1'),
	YUV3('Y', 'U', '1', '2'), YUV3('Y', 'V', '1', '2'),
};

static const struct cd_format *find_format(uint32_t fourcc)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].fourcc == fourcc)
			return &formats[i];
	return NULL;
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

int cd_image_layout(uint32_t width, uint32_t height, uint32_t fourcc,
		    struct cross_domain_image_requirements *req)
{
	const struct cd_format *f = find_format(fourcc);
	uint64_t size = 0;

	memset(req, 0, sizeof(*req));
	if (!f || !width || !height || width > GPU_MAX_WIDTH || height > GPU_MAX_HEIGHT)
		return -EINVAL;
	for (unsigned p = 0; p < f->planes; p++) {
		uint64_t stride = div_up(div_up(width, f->sub[p]) * f->bpp[p], 4) * 4;

		req->strides[p] = (uint32_t)stride;
		req->offsets[p] = (uint32_t)size;
		size += stride * div_up(height, f->sub[p]);
	}
	req->size = div_up(size, CD_PAGE) * CD_PAGE;
	if (req->size > GPU_MAX_BLOB_SIZE) {
		memset(req, 0, sizeof(*req));
		return -EINVAL;
	}
	req->map_info = VIRTIO_GPU_MAP_CACHE_CACHED;
	req->memory_idx = -1;
	req->physical_device_idx = -1;
	return 0;
}

struct cd_template *cd_template_find(struct cd_ctx *cd, uint64_t blob_id)
{
	for (struct cd_template *t = cd->templates; t; t = t->next)
		if (t->reply.blob_id == blob_id)
			return t;
	return NULL;
}

static struct cd_template *find_same(struct cd_ctx *cd, uint32_t w, uint32_t h, uint32_t format)
{
	for (struct cd_template *t = cd->templates; t; t = t->next)
		if (t->width == w && t->height == h && t->format == format)
			return t;
	return NULL;
}

static void evict_oldest(struct cd_ctx *cd)
{
	struct cd_template **oldest = &cd->templates, *gone;

	for (struct cd_template **p = &cd->templates; *p; p = &(*p)->next)
		if ((*p)->last_use < (*oldest)->last_use)
			oldest = p;
	gone = *oldest;
	*oldest = gone->next;
	free(gone);
	cd->nr_templates--;
}

static struct cd_template *template_new(struct cd_ctx *cd, uint32_t w, uint32_t h, uint32_t format,
					const struct cross_domain_image_requirements *req)
{
	struct cd_template *t;
	uint32_t id;

	if (cd->nr_templates >= CD_MAX_TEMPLATES)
		evict_oldest(cd);
	id = cd_fresh_id(cd);
	t = id ? calloc(1, sizeof(*t)) : NULL;
	if (!t)
		return NULL;
	*t = (struct cd_template){ .next = cd->templates, .width = w, .height = h, .format = format,
				   .reply = *req };
	t->reply.blob_id = id;
	cd->templates = t;
	cd->nr_templates++;
	return t;
}

void cd_templates_free(struct cd_ctx *cd)
{
	while (cd->templates) {
		struct cd_template *t = cd->templates;

		cd->templates = t->next;
		free(t);
	}
	cd->nr_templates = 0;
}

/* A query that fails still gets a reply, all zero: no stale blob_id. */
uint32_t cd_get_image_requirements(struct cd_ctx *cd, const uint8_t *cmd, uint16_t size)
{
	struct cross_domain_get_image_requirements q;
	struct cross_domain_image_requirements req = { 0 };
	struct cd_template *t = NULL;
	uint32_t rc = 0;

	if (!cd->inited || size < sizeof(q)) {
		cd_warn(cd->ctx, "bad GET_IMAGE_REQUIREMENTS (%u bytes%s)", size, cd->inited ? "" : ", before INIT");
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	memcpy(&q, cmd, sizeof(q));
	t = find_same(cd, q.width, q.height, q.drm_format);
	if (!t && cd_image_layout(q.width, q.height, q.drm_format, &req)) {
		cd_warn(cd->ctx, "no layout for %ux%u of format 0x%08x", q.width, q.height, q.drm_format);
		rc = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	} else if (!t && !(t = template_new(cd, q.width, q.height, q.drm_format, &req))) {
		memset(&req, 0, sizeof(req));
		rc = VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	if (t) {
		t->last_use = ++cd->clock;
		req = t->reply;
	}
	if (cd_ring_write(cd, cd->query_ring, &req, sizeof(req)) && !rc)
		rc = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	return rc;
}
