/*
 * virtio-gpu resources: 2D resources with their host copy and guest
 * backing, transfers into the host copy, scanouts, blob resources (guest
 * pages, or host memory a context type made) and the mapping of host
 * blobs into the host-visible region through the VMM (vdev_shm_map).
 *
 * Every id, rect, offset and count from the guest is checked here
 * against the resource, its backing, guest RAM and the region; a bad one
 * is an error response and one rate-limited line, never a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/guest_mem.h"
#include "devices/gpu_internal.h"
#include "devices/gpu_virgl.h"
#include "virtio/iov.h"
#include "vmm/log.h"

#define BPP 4u
#define ENTRY_CHUNK 256u	/* mem entries read from the chain at once */
#define BLOB_FLAGS (VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE | VIRTIO_GPU_BLOB_FLAG_USE_SHAREABLE | \
		    VIRTIO_GPU_BLOB_FLAG_USE_CROSS_DEVICE)

static uint64_t page_up(uint64_t n)
{
	return (n + GPU_PAGE - 1) & ~(uint64_t)(GPU_PAGE - 1);
}

static unsigned bucket_of(uint32_t id)
{
	return (id * 2654435761u) >> 20 & (GPU_RES_BUCKETS - 1);
}

struct gpu_resource *gpu_res_find(struct gpu *g, uint32_t id)
{
	for (struct gpu_resource *r = g->buckets[bucket_of(id)]; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

/* The resource c's command names, or NULL after a rate-limited line. */
static struct gpu_resource *named(struct gpu *g, uint32_t id, const char *what)
{
	struct gpu_resource *res = gpu_res_find(g, id);

	if (!res)
		log_ratelimited(LOG_WARN, "%s: %s of unknown resource %u", g->dev->name, what, id);
	return res;
}

/* A new resource's id: 0 if it can be made, else the error response. */
static uint32_t id_free(struct gpu *g, uint32_t id)
{
	if (!id || gpu_res_find(g, id)) {
		log_ratelimited(LOG_WARN, "%s: resource id %u is %s", g->dev->name, id,
				id ? "in use" : "invalid");
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	}
	if (g->nr_resources >= GPU_MAX_RESOURCES) {
		log_ratelimited(LOG_WARN, "%s: the guest has %u resources already", g->dev->name,
				g->nr_resources);
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	return 0;
}

static bool budget_ok(struct gpu *g, uint64_t bytes)
{
	if (bytes <= GPU_MAX_HOST_BYTES - g->host_bytes)
		return true;
	log_ratelimited(LOG_WARN, "%s: %llu more bytes of host memory refused (%llu in use)",
			g->dev->name, (unsigned long long)bytes, (unsigned long long)g->host_bytes);
	return false;
}

static struct gpu_resource *res_alloc(uint32_t id)
{
	struct gpu_resource *res = calloc(1, sizeof(*res));

	if (res) {
		res->id = id;
		res->fd = -1;
		res->map = -1;
	}
	return res;
}

static void res_insert(struct gpu *g, struct gpu_resource *res)
{
	unsigned b = bucket_of(res->id);

	res->next = g->buckets[b];
	g->buckets[b] = res;
	g->nr_resources++;
	g->host_bytes += res->host_bytes;
}

static void res_release(struct gpu_resource *res)
{
	gpu_virgl_unref(res);
	free(res->pixels);
	free(res->iov);
	if (res->fd >= 0)
		close(res->fd);
	free(res);
}

/* ---- guest backing ---- */

static uint32_t bad_entry(struct gpu *g, uint32_t id, unsigned i, const struct gpu_mem_entry *e)
{
	log_ratelimited(LOG_WARN, "%s: resource %u: backing entry %u (%#llx, %u bytes) is not "
			"guest RAM", g->dev->name, id, i, (unsigned long long)e->addr, e->length);
	return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
}

/* Entries [first, first + n) of the command's, from its readable part at off. */
static uint32_t read_entries(struct gpu *g, const struct gpu_call *c, uint64_t off, unsigned first,
			     unsigned n, struct gpu_resource *res)
{
	uint8_t raw[ENTRY_CHUNK * GPU_MEM_ENTRY_SIZE];
	size_t bytes = (size_t)n * GPU_MEM_ENTRY_SIZE;

	if (iov_to_buf(c->out, c->nr_out, off + (uint64_t)first * GPU_MEM_ENTRY_SIZE, raw, bytes) != bytes)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	for (unsigned i = 0; i < n; i++) {
		struct gpu_mem_entry e;
		void *host;

		gpu_dec_mem_entry(raw + i * GPU_MEM_ENTRY_SIZE, &e);
		host = e.length ? guest_mem_ptr(g->dev->mem, e.addr, e.length) : NULL;
		if (!host)
			return bad_entry(g, res->id, first + i, &e);
		res->iov[first + i] = (struct iovec){ host, e.length };
		res->backing_len += e.length;
	}
	return 0;
}

static void drop_backing(struct gpu_resource *res)
{
	free(res->iov);
	res->iov = NULL;
	res->nr_iov = 0;
	res->backing_len = 0;
}

/* nr mem entries after the fixed part of c's command become res's backing. */
static uint32_t take_backing(struct gpu *g, const struct gpu_call *c, uint32_t nr,
			     struct gpu_resource *res)
{
	uint64_t off = gpu_req_size(c->req.hdr.type);
	uint32_t rc = 0;

	if (!nr || nr > GPU_MAX_BACKING_ENTRIES) {
		log_ratelimited(LOG_WARN, "%s: resource %u: %u backing entries (1 to %u)",
				g->dev->name, res->id, nr, GPU_MAX_BACKING_ENTRIES);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	if (c->out_len < off + (uint64_t)nr * GPU_MEM_ENTRY_SIZE) {
		log_ratelimited(LOG_WARN, "%s: resource %u: %u backing entries in a %llu-byte command",
				g->dev->name, res->id, nr, (unsigned long long)c->out_len);
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	res->iov = calloc(nr, sizeof(*res->iov));
	if (!res->iov)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	res->nr_iov = nr;
	res->backing_len = 0;
	for (unsigned i = 0; i < nr && !rc; i += ENTRY_CHUNK)
		rc = read_entries(g, c, off, i, nr - i < ENTRY_CHUNK ? nr - i : ENTRY_CHUNK, res);
	if (rc)
		drop_backing(res);
	return rc;
}

uint32_t gpu_cmd_attach_backing(struct gpu *g, struct gpu_call *c)
{
	struct gpu_resource *res = named(g, c->req.attach_backing.resource_id, "ATTACH_BACKING");
	uint32_t rc;

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (res->blob || res->iov) {
		log_ratelimited(LOG_WARN, "%s: resource %u has its backing already", g->dev->name,
				res->id);
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	rc = take_backing(g, c, c->req.attach_backing.nr_entries, res);
	if (!rc && res->virgl && (rc = gpu_virgl_attach_backing(g, res)))
		drop_backing(res);
	return rc ? rc : VIRTIO_GPU_RESP_OK_NODATA;
}

uint32_t gpu_cmd_detach_backing(struct gpu *g, struct gpu_call *c)
{
	struct gpu_resource *res = named(g, c->req.res.resource_id, "DETACH_BACKING");

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	gpu_virgl_detach_backing(res);
	drop_backing(res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- what context types may do with their resources (gpu_ctx.h) ---- */

static bool backing_range(const struct gpu_resource *res, uint64_t off, size_t len)
{
	return res->iov && off <= res->backing_len && len <= res->backing_len - off;
}

int gpu_res_write(struct gpu_resource *res, uint64_t off, const void *buf, size_t len)
{
	if (!backing_range(res, off, len))
		return -EINVAL;
	buf_to_iov(res->iov, res->nr_iov, off, buf, len);
	return 0;
}

int gpu_res_read(struct gpu_resource *res, uint64_t off, void *buf, size_t len)
{
	if (!backing_range(res, off, len))
		return -EINVAL;
	iov_to_buf(res->iov, res->nr_iov, off, buf, len);
	return 0;
}

uint64_t gpu_res_size(const struct gpu_resource *res)
{
	return res->blob ? res->size : (uint64_t)res->stride * res->height;
}

int gpu_res_host_fd(const struct gpu_resource *res)
{
	return res->fd;
}

/* ---- 2D ---- */

uint32_t gpu_cmd_create_2d(struct gpu *g, struct gpu_call *c)
{
	const struct gpu_create_2d *rq = &c->req.create_2d;
	struct gpu_resource *res;
	uint8_t rgb[3];
	uint64_t bytes;
	uint32_t rc = id_free(g, rq->resource_id);

	if (rc)
		return rc;
	if (!gpu_format_rgb(rq->format, rgb) || !rq->width || !rq->height ||
	    rq->width > GPU_MAX_WIDTH || rq->height > GPU_MAX_HEIGHT) {
		log_ratelimited(LOG_WARN, "%s: resource %u: format %u, %ux%u refused", g->dev->name,
				rq->resource_id, rq->format, rq->width, rq->height);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	bytes = (uint64_t)rq->width * rq->height * BPP;
	if (!budget_ok(g, bytes))
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	res = res_alloc(rq->resource_id);
	if (!res || !(res->pixels = calloc(1, bytes))) {
		free(res);
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	res->format = rq->format;
	res->width = rq->width;
	res->height = rq->height;
	res->stride = rq->width * BPP;
	res->host_bytes = bytes;
	res_insert(g, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* r lies in the resource and is not empty. */
static bool rect_inside(const struct gpu_resource *res, const struct gpu_rect *r)
{
	return r->width && r->height && r->x <= res->width && r->width <= res->width - r->x &&
	       r->y <= res->height && r->height <= res->height - r->y;
}

static uint32_t bad_rect(struct gpu *g, const char *what, const struct gpu_resource *res,
			 const struct gpu_rect *r)
{
	log_ratelimited(LOG_WARN, "%s: %s: rect %ux%u+%u+%u outside resource %u (%ux%u)",
			g->dev->name, what, r->width, r->height, r->x, r->y, res->id, res->width,
			res->height);
	return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
}

/* A 2D resource c names, or NULL with *rc the error. */
static struct gpu_resource *res_2d(struct gpu *g, uint32_t id, const char *what, uint32_t *rc)
{
	struct gpu_resource *res = named(g, id, what);

	*rc = VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (res && (res->blob || res->virgl)) {
		log_ratelimited(LOG_WARN, "%s: %s of %s resource %u", g->dev->name, what,
				res->blob ? "blob" : "3D", id);
		*rc = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		return NULL;
	}
	return res;
}

/* Where a copy out of the backing stands: rows go forward only. */
struct iov_pos {
	unsigned i;
	uint64_t start;		/* of iov[i] in the backing */
};

static void copy_out(const struct gpu_resource *res, struct iov_pos *p, uint64_t off,
		     uint8_t *dst, size_t len)
{
	uint64_t start;

	while (p->i < res->nr_iov && off >= p->start + res->iov[p->i].iov_len)
		p->start += res->iov[p->i++].iov_len;
	start = p->start;
	for (unsigned i = p->i; len && i < res->nr_iov; start += res->iov[i++].iov_len) {
		uint64_t in = off - start, avail = res->iov[i].iov_len - in;
		size_t n = len < avail ? len : (size_t)avail;

		memcpy(dst, (const uint8_t *)res->iov[i].iov_base + in, n);
		dst += n;
		len -= n;
		off += n;
	}
}

uint32_t gpu_cmd_transfer_2d(struct gpu *g, struct gpu_call *c)
{
	const struct gpu_transfer *rq = &c->req.transfer;
	struct iov_pos pos = { 0, 0 };
	struct gpu_resource *res;
	uint64_t row, last;
	uint32_t rc;

	res = res_2d(g, rq->resource_id, "TRANSFER_TO_HOST_2D", &rc);
	if (!res)
		return rc;
	if (!rect_inside(res, &rq->r))
		return bad_rect(g, "TRANSFER_TO_HOST_2D", res, &rq->r);
	if (!res->iov) {
		log_ratelimited(LOG_WARN, "%s: transfer to resource %u, which has no backing",
				g->dev->name, res->id);
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	row = (uint64_t)rq->r.width * BPP;
	last = (uint64_t)(rq->r.height - 1) * res->stride + row;
	if (rq->offset > res->backing_len || last > res->backing_len - rq->offset) {
		log_ratelimited(LOG_WARN, "%s: transfer from offset %llu past resource %u's %llu-byte "
				"backing", g->dev->name, (unsigned long long)rq->offset, res->id,
				(unsigned long long)res->backing_len);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	for (uint32_t y = 0; y < rq->r.height; y++)
		copy_out(res, &pos, rq->offset + (uint64_t)y * res->stride,
			 res->pixels + (uint64_t)(rq->r.y + y) * res->stride + (uint64_t)rq->r.x * BPP,
			 (size_t)row);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

uint32_t gpu_cmd_set_scanout(struct gpu *g, struct gpu_call *c)
{
	const struct gpu_set_scanout *rq = &c->req.set_scanout;
	struct gpu_resource *res;
	uint32_t rc;

	if (rq->scanout_id >= g->cfg.displays) {
		log_ratelimited(LOG_WARN, "%s: SET_SCANOUT of scanout %u", g->dev->name, rq->scanout_id);
		return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	}
	if (!rq->resource_id) {
		g->scanouts[rq->scanout_id] = (struct gpu_scanout){ 0 };
		return VIRTIO_GPU_RESP_OK_NODATA;
	}
	res = res_2d(g, rq->resource_id, "SET_SCANOUT", &rc);
	if (!res)
		return rc;
	if (!rect_inside(res, &rq->r) || rq->r.width > GPU_MAX_MODE || rq->r.height > GPU_MAX_MODE)
		return bad_rect(g, "SET_SCANOUT", res, &rq->r);
	g->scanouts[rq->scanout_id] = (struct gpu_scanout){ res->id, rq->r };
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* Nothing to show on: the host copy is what a screenshot reads. */
uint32_t gpu_cmd_flush(struct gpu *g, struct gpu_call *c)
{
	struct gpu_resource *res;
	uint32_t rc;

	res = res_2d(g, c->req.flush.resource_id, "RESOURCE_FLUSH", &rc);
	if (!res)
		return rc;
	return rect_inside(res, &c->req.flush.r) ? VIRTIO_GPU_RESP_OK_NODATA
						 : bad_rect(g, "RESOURCE_FLUSH", res, &c->req.flush.r);
}

/* ---- 3D (virgl) ---- */

uint32_t gpu_cmd_create_3d(struct gpu *g, struct gpu_call *c)
{
	struct gpu_resource *res;
	uint32_t rc;

	if (!g->virgl) {
		log_ratelimited(LOG_WARN, "%s: RESOURCE_CREATE_3D without opengl", g->dev->name);
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	if ((rc = id_free(g, c->req.create_3d.resource_id)))
		return rc;
	if (!(res = res_alloc(c->req.create_3d.resource_id)))
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	res->host_bytes = gpu_virgl_3d_bytes(&c->req.create_3d);
	rc = budget_ok(g, res->host_bytes) ? gpu_virgl_create_3d(g, res, &c->req.create_3d)
					   : VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	if (rc) {
		free(res);
		return rc;
	}
	res_insert(g, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/*
 * ctx_id 0 (Linux's for a resource no context has yet) or a live context.
 * A context of another type (the Wayland proxy's cross-domain context
 * reading back a client's GL buffer) reaches only resources attached to
 * it, and virglrenderer does those transfers outside any virgl context.
 */
static uint32_t transfer_3d(struct gpu *g, struct gpu_call *c, bool to_host, const char *what)
{
	const struct gpu_transfer_3d *t = &c->req.transfer_3d;
	struct gpu_resource *res = named(g, t->resource_id, what);
	uint32_t ctx = c->req.hdr.ctx_id, rc;
	struct gpu_context *x = ctx ? gpu_context_find(g, ctx) : NULL;

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (ctx && !x) {
		log_ratelimited(LOG_WARN, "%s: %s on unknown context %u", g->dev->name, what, ctx);
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	}
	if (x && !gpu_virgl_type(x->ctx.type)) {
		if (!(res->ctx_mask & 1ull << gpu_context_slot(g, x))) {
			log_ratelimited(LOG_WARN, "%s: %s of resource %u, not attached to %s context "
					"%u", g->dev->name, what, res->id, x->ctx.type->name, ctx);
			return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
		}
		ctx = 0;
	}
	rc = gpu_virgl_transfer(g, res, ctx, t, to_host);
	return rc ? rc : VIRTIO_GPU_RESP_OK_NODATA;
}

uint32_t gpu_cmd_transfer_to_3d(struct gpu *g, struct gpu_call *c)
{
	return transfer_3d(g, c, true, "TRANSFER_TO_HOST_3D");
}

uint32_t gpu_cmd_transfer_from_3d(struct gpu *g, struct gpu_call *c)
{
	return transfer_3d(g, c, false, "TRANSFER_FROM_HOST_3D");
}

/* ---- blobs ---- */

static uint32_t guest_blob(struct gpu *g, struct gpu_call *c, struct gpu_resource *res)
{
	uint32_t rc = take_backing(g, c, c->req.create_blob.nr_entries, res);

	if (rc)
		return rc;
	if (res->size > res->backing_len) {
		log_ratelimited(LOG_WARN, "%s: blob %u of %llu bytes on %llu bytes of guest pages",
				g->dev->name, res->id, (unsigned long long)res->size,
				(unsigned long long)res->backing_len);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	return 0;
}

/* The type's fd is checked as the VMM will: a regular file that holds the
 * blob, sealed against shrinking. */
static bool host_fd_ok(int fd, uint64_t size)
{
	int seals = fd >= 0 ? fcntl(fd, F_GET_SEALS) : -1;
	struct stat st;

	return seals >= 0 && (seals & F_SEAL_SHRINK) && !fstat(fd, &st) && S_ISREG(st.st_mode) &&
	       (uint64_t)st.st_size >= size;
}

/* The context type's memory for the blob: virgl's, or the type's op. */
static uint32_t type_blob(struct gpu *g, struct gpu_context *x, struct gpu_resource *res, int *fd)
{
	if (gpu_virgl_type(x->ctx.type))
		return gpu_virgl_create_blob(g, x->ctx.id, res, fd);
	return x->ctx.type->create_blob(&x->ctx, res->blob_id, res->size, res->blob_flags, fd,
					&res->map_info);
}

static uint32_t host_blob(struct gpu *g, struct gpu_context *x, struct gpu_resource *res)
{
	uint32_t rc;
	int fd = -1;

	if (!x || !(x->ctx.type->create_blob || gpu_virgl_type(x->ctx.type))) {
		log_ratelimited(LOG_WARN, "%s: host blob %u without a context that makes them",
				g->dev->name, res->id);
		return x ? VIRTIO_GPU_RESP_ERR_UNSPEC : VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	}
	if (!res->size || res->size > GPU_MAX_BLOB_SIZE) {
		log_ratelimited(LOG_WARN, "%s: host blob %u of %llu bytes", g->dev->name, res->id,
				(unsigned long long)res->size);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	res->host_bytes = page_up(res->size);
	if (!budget_ok(g, res->host_bytes))
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	rc = type_blob(g, x, res, &fd);
	if (!rc && !host_fd_ok(fd, res->size)) {
		log_ratelimited(LOG_WARN, "%s: %s made no usable memory for blob %u", g->dev->name,
				x->ctx.type->name, res->id);
		rc = VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	if (rc && fd >= 0)
		close(fd);
	if (rc)
		return rc > VIRTIO_GPU_RESP_ERR_UNSPEC && rc <= VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER
		       ? rc : VIRTIO_GPU_RESP_ERR_UNSPEC;
	res->fd = fd;
	return 0;
}

static uint32_t blob_params_ok(struct gpu *g, const struct gpu_call *c)
{
	const struct gpu_create_blob *rq = &c->req.create_blob;
	bool host = rq->blob_mem == VIRTIO_GPU_BLOB_MEM_HOST3D;

	if ((rq->blob_mem != VIRTIO_GPU_BLOB_MEM_GUEST && !host &&
	     rq->blob_mem != VIRTIO_GPU_BLOB_MEM_HOST3D_GUEST) || rq->blob_flags & ~BLOB_FLAGS ||
	    (host && rq->nr_entries)) {
		log_ratelimited(LOG_WARN, "%s: blob %u: memory %u, flags %#x, %u entries refused",
				g->dev->name, rq->resource_id, rq->blob_mem, rq->blob_flags,
				rq->nr_entries);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	return 0;
}

uint32_t gpu_cmd_create_blob(struct gpu *g, struct gpu_call *c)
{
	const struct gpu_create_blob *rq = &c->req.create_blob;
	struct gpu_context *x = c->req.hdr.ctx_id ? gpu_context_find(g, c->req.hdr.ctx_id) : NULL;
	struct gpu_resource *res;
	uint32_t rc = id_free(g, rq->resource_id);

	if (!rc)
		rc = blob_params_ok(g, c);
	if (!rc && c->req.hdr.ctx_id && !x) {
		log_ratelimited(LOG_WARN, "%s: blob %u on unknown context %u", g->dev->name,
				rq->resource_id, c->req.hdr.ctx_id);
		rc = VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	}
	if (rc)
		return rc;
	if (!(res = res_alloc(rq->resource_id)))
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	res->blob = true;
	res->blob_mem = rq->blob_mem;
	res->blob_flags = rq->blob_flags;
	res->blob_id = rq->blob_id;
	res->size = rq->size;
	if (rq->blob_mem != VIRTIO_GPU_BLOB_MEM_HOST3D)
		rc = guest_blob(g, c, res);
	if (!rc && rq->blob_mem != VIRTIO_GPU_BLOB_MEM_GUEST)
		rc = host_blob(g, x, res);
	if (rc) {
		res_release(res);
		return rc;
	}
	if (x)
		res->ctx_mask |= 1ull << gpu_context_slot(g, x);
	res_insert(g, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- the host-visible region ---- */

static bool overlaps(const struct gpu *g, uint64_t off, uint64_t size)
{
	for (unsigned i = 0; i < GPU_MAX_MAPPINGS; i++) {
		const struct gpu_mapping *m = &g->maps[i];

		if (m->used && off < m->offset + m->size && m->offset < off + size)
			return true;
	}
	return false;
}

static int free_map_slot(const struct gpu *g)
{
	for (int i = 0; i < GPU_MAX_MAPPINGS; i++)
		if (!g->maps[i].used)
			return i;
	return -1;
}

/* The fd's access mode: a read-only memfd (a keymap) is mapped read-only. */
static uint32_t prot_of(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && (fl & O_ACCMODE) == O_RDONLY)
		return VDEV_SHM_PROT_READ;
	return VDEV_SHM_PROT_READ | VDEV_SHM_PROT_WRITE;
}

static uint32_t map_refused(struct gpu *g, const struct gpu_resource *res, uint64_t off,
			    const char *why)
{
	log_ratelimited(LOG_WARN, "%s: MAP_BLOB of resource %u at %#llx: %s", g->dev->name, res->id,
			(unsigned long long)off, why);
	return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
}

static uint32_t map_checked(struct gpu *g, struct gpu_resource *res, uint64_t off, uint64_t size)
{
	int slot = free_map_slot(g), rc;

	if (slot < 0) {
		log_ratelimited(LOG_WARN, "%s: %u blobs mapped already", g->dev->name, GPU_MAX_MAPPINGS);
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	rc = vdev_shm_map(g->dev, GPU_SHM_ID_HOST_VISIBLE, off, res->fd, 0, size, prot_of(res->fd));
	if (rc) {
		log_ratelimited(LOG_WARN, "%s: the VMM did not map resource %u at %#llx: %s",
				g->dev->name, res->id, (unsigned long long)off, strerror(-rc));
		return rc == -ENOSPC ? VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY : VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	g->maps[slot] = (struct gpu_mapping){ true, off, size, res->id };
	res->map = slot;
	return 0;
}

uint32_t gpu_cmd_map_blob(struct gpu *g, struct gpu_call *c)
{
	struct gpu_resource *res = named(g, c->req.map_blob.resource_id, "MAP_BLOB");
	uint64_t off = c->req.map_blob.offset, size;
	uint32_t rc;

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (res->fd < 0 || !(res->blob_flags & VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE))
		return map_refused(g, res, off, "not a mappable host blob");
	if (res->map >= 0)
		return map_refused(g, res, off, "mapped already");
	size = page_up(res->size);
	if (off % GPU_PAGE || off > g->shm.size || size > g->shm.size - off)
		return map_refused(g, res, off, "outside the host-visible region");
	if (overlaps(g, off, size))
		return map_refused(g, res, off, "over another mapping");
	if (!host_fd_ok(res->fd, size))
		return map_refused(g, res, off, "its memory is not whole pages");
	if ((rc = map_checked(g, res, off, size)))
		return rc;
	c->resp_len = gpu_enc_map_info(c->resp, res->map_info & VIRTIO_GPU_MAP_CACHE_MASK);
	return VIRTIO_GPU_RESP_OK_MAP_INFO;
}

/* ask_vmm false: a reset, whose transport drops the mappings itself. */
static void unmap(struct gpu *g, struct gpu_resource *res, bool ask_vmm)
{
	struct gpu_mapping *m = &g->maps[res->map];
	int rc = ask_vmm ? vdev_shm_unmap(g->dev, GPU_SHM_ID_HOST_VISIBLE, m->offset) : 0;

	if (rc)
		log_ratelimited(LOG_WARN, "%s: unmap of resource %u at %#llx: %s", g->dev->name,
				res->id, (unsigned long long)m->offset, strerror(-rc));
	*m = (struct gpu_mapping){ 0 };
	res->map = -1;
}

uint32_t gpu_cmd_unmap_blob(struct gpu *g, struct gpu_call *c)
{
	struct gpu_resource *res = named(g, c->req.res.resource_id, "UNMAP_BLOB");

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (res->map < 0) {
		log_ratelimited(LOG_WARN, "%s: UNMAP_BLOB of resource %u, which is not mapped",
				g->dev->name, res->id);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	unmap(g, res, true);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* ---- uuids, unref ---- */

uint32_t gpu_cmd_assign_uuid(struct gpu *g, struct gpu_call *c)
{
	struct gpu_resource *res = named(g, c->req.res.resource_id, "ASSIGN_UUID");

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!res->has_uuid) {
		if (getrandom(res->uuid, sizeof(res->uuid), GRND_NONBLOCK) != sizeof(res->uuid))
			return VIRTIO_GPU_RESP_ERR_UNSPEC;
		res->uuid[6] = (uint8_t)((res->uuid[6] & 0x0f) | 0x40);	/* version 4 */
		res->uuid[8] = (uint8_t)((res->uuid[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
		res->has_uuid = true;
	}
	c->resp_len = gpu_enc_uuid(c->resp, res->uuid);
	return VIRTIO_GPU_RESP_OK_RESOURCE_UUID;
}

static void unlink_res(struct gpu *g, struct gpu_resource *res)
{
	struct gpu_resource **p = &g->buckets[bucket_of(res->id)];

	while (*p != res)
		p = &(*p)->next;
	*p = res->next;
	g->nr_resources--;
	g->host_bytes -= res->host_bytes;
}

uint32_t gpu_cmd_unref(struct gpu *g, struct gpu_call *c)
{
	struct gpu_resource *res = named(g, c->req.res.resource_id, "RESOURCE_UNREF");

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	for (unsigned i = 0; i < GPU_MAX_SCANOUTS; i++)
		if (g->scanouts[i].resource_id == res->id)
			g->scanouts[i] = (struct gpu_scanout){ 0 };
	if (g->cursor.resource_id == res->id)
		g->cursor.resource_id = 0;
	gpu_contexts_forget(g, res);
	if (res->map >= 0)
		unmap(g, res, true);
	unlink_res(g, res);
	res_release(res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

void gpu_res_free_all(struct gpu *g, bool ask_vmm)
{
	for (unsigned b = 0; b < GPU_RES_BUCKETS; b++)
		while (g->buckets[b]) {
			struct gpu_resource *res = g->buckets[b];

			if (res->map >= 0)
				unmap(g, res, ask_vmm);
			unlink_res(g, res);
			res_release(res);
		}
	memset(g->scanouts, 0, sizeof(g->scanouts));
	g->cursor.resource_id = 0;
}
