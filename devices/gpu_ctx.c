/*
 * virtio-gpu 3D contexts: capsets of the enabled context types, the
 * contexts the guest creates on them, what a context may see of the
 * resources (only those attached to it), SUBMIT_3D, and fences on the
 * contexts' rings: a fenced command whose fence its type has not
 * signalled yet is parked, its response written, until gpu_fence_signal
 * reaches it on its timeline (context, ring).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/gpu_internal.h"
#include "devices/gpu_virgl.h"
#include "virtio/iov.h"
#include "vmm/log.h"

static struct gpu_context *of_ctx(struct gpu_ctx *ctx)
{
	return (struct gpu_context *)((char *)ctx - offsetof(struct gpu_context, ctx));
}

struct gpu_context *gpu_context_find(struct gpu *g, uint32_t ctx_id)
{
	for (unsigned i = 0; ctx_id && i < GPU_MAX_CONTEXTS; i++)
		if (g->ctxs[i].used && g->ctxs[i].ctx.id == ctx_id)
			return &g->ctxs[i];
	return NULL;
}

unsigned gpu_context_slot(const struct gpu *g, const struct gpu_context *x)
{
	return (unsigned)(x - g->ctxs);
}

static struct gpu_context *named(struct gpu *g, uint32_t ctx_id, const char *what)
{
	struct gpu_context *x = gpu_context_find(g, ctx_id);

	if (!x)
		log_ratelimited(LOG_WARN, "%s: %s on unknown context %u", g->dev->name, what, ctx_id);
	return x;
}

/* ---- capsets ---- */

static const struct gpu_ctx_type *type_of_capset(const struct gpu *g, uint32_t capset_id)
{
	for (unsigned i = 0; i < g->nr_types; i++)
		if (g->types[i]->capset_id == capset_id)
			return g->types[i];
	return NULL;
}

uint32_t gpu_cmd_get_capset_info(struct gpu *g, struct gpu_call *c)
{
	uint32_t i = c->req.capset_info.index;
	const struct gpu_ctx_type *t;

	if (i >= g->nr_types) {
		log_ratelimited(LOG_WARN, "%s: GET_CAPSET_INFO of capset %u of %u", g->dev->name, i,
				g->nr_types);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	t = g->types[i];
	c->resp_len = gpu_enc_capset_info(c->resp, t->capset_id, t->capset_max_version,
					  t->capset_size);
	return VIRTIO_GPU_RESP_OK_CAPSET_INFO;
}

uint32_t gpu_cmd_get_capset(struct gpu *g, struct gpu_call *c)
{
	const struct gpu_ctx_type *t = type_of_capset(g, c->req.capset.id);

	if (!t || c->req.capset.version > t->capset_max_version) {
		log_ratelimited(LOG_WARN, "%s: GET_CAPSET of capset %u version %u", g->dev->name,
				c->req.capset.id, c->req.capset.version);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	if (c->room < GPU_HDR_SIZE + t->capset_size)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	memset(c->resp + GPU_HDR_SIZE, 0, t->capset_size);
	t->capset(g, c->req.capset.version, c->resp + GPU_HDR_SIZE);
	c->resp_len = GPU_HDR_SIZE + t->capset_size;
	return VIRTIO_GPU_RESP_OK_CAPSET;
}

/* ---- contexts ---- */

static struct gpu_context *free_slot(struct gpu *g)
{
	for (unsigned i = 0; i < GPU_MAX_CONTEXTS; i++)
		if (!g->ctxs[i].used)
			return &g->ctxs[i];
	return NULL;
}

/* context_init's capset; 0: the first enabled type (VIRGL2 with opengl, else cross-domain). */
static const struct gpu_ctx_type *type_of_init(const struct gpu *g, uint32_t context_init)
{
	uint32_t capset = context_init & VIRTIO_GPU_CONTEXT_INIT_CAPSET_ID_MASK;

	if (!capset)
		return g->nr_types ? g->types[0] : NULL;
	return type_of_capset(g, capset);
}

uint32_t gpu_cmd_ctx_create(struct gpu *g, struct gpu_call *c)
{
	uint32_t id = c->req.hdr.ctx_id, init = c->req.ctx_create.context_init;
	const struct gpu_ctx_type *t = type_of_init(g, init);
	struct gpu_context *x;
	int rc;

	if (!id || gpu_context_find(g, id)) {
		log_ratelimited(LOG_WARN, "%s: CTX_CREATE of context %u, %s", g->dev->name, id,
				id ? "which exists" : "an invalid id");
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	}
	if (!t || c->req.ctx_create.nlen > 64) {
		log_ratelimited(LOG_WARN, "%s: CTX_CREATE of context %u: capset %u, name of %u bytes",
				g->dev->name, id, init & VIRTIO_GPU_CONTEXT_INIT_CAPSET_ID_MASK,
				c->req.ctx_create.nlen);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	if (!(x = free_slot(g))) {
		log_ratelimited(LOG_WARN, "%s: %u contexts already", g->dev->name, GPU_MAX_CONTEXTS);
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	*x = (struct gpu_context){ .ctx = { .gpu = g, .id = id, .type = t } };
	memcpy(x->ctx.debug_name, c->req.ctx_create.debug_name, sizeof(x->ctx.debug_name));
	rc = t->create(&x->ctx);
	if (rc) {
		log_ratelimited(LOG_WARN, "%s: %s context %u: %s", g->dev->name, t->name, id,
				strerror(-rc));
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	x->used = true;
	g->nr_ctxs++;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* Parked commands of the context go back (its fences are moot now). */
static void release_parked(struct gpu *g, uint32_t ctx_id)
{
	struct vdev *dev = g->dev;
	bool any = false;

	for (unsigned i = 0; i < GPU_QUEUE_SIZE; i++) {
		struct gpu_parked *p = &g->parked[i];

		if (!p->used || p->ctx_id != ctx_id)
			continue;
		if (dev->active)
			virtq_push(&dev->queues[GPU_QUEUE_CTRL].vq, p->head, p->written);
		p->used = false;
		any = true;
	}
	if (any && dev->active)
		vdev_signal(dev, GPU_QUEUE_CTRL);
}

static void destroy_context(struct gpu *g, struct gpu_context *x, bool release)
{
	uint64_t bit = 1ull << gpu_context_slot(g, x);
	uint32_t id = x->ctx.id;

	x->ctx.type->destroy(&x->ctx);
	x->used = false;
	g->nr_ctxs--;
	if (release)
		release_parked(g, id);
	for (unsigned b = 0; b < GPU_RES_BUCKETS; b++)
		for (struct gpu_resource *r = g->buckets[b]; r; r = r->next)
			r->ctx_mask &= ~bit;
}

uint32_t gpu_cmd_ctx_destroy(struct gpu *g, struct gpu_call *c)
{
	struct gpu_context *x = named(g, c->req.hdr.ctx_id, "CTX_DESTROY");

	if (!x)
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	destroy_context(g, x, true);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

void gpu_contexts_destroy_all(struct gpu *g)
{
	for (unsigned i = 0; i < GPU_MAX_CONTEXTS; i++)
		if (g->ctxs[i].used)
			destroy_context(g, &g->ctxs[i], false);
}

/* The context and the resource c names: 0, or the error response. */
static uint32_t ctx_and_res(struct gpu *g, struct gpu_call *c, const char *what,
			    struct gpu_context **x, struct gpu_resource **res)
{
	*x = named(g, c->req.hdr.ctx_id, what);
	if (!*x)
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	*res = gpu_res_find(g, c->req.res.resource_id);
	if (!*res) {
		log_ratelimited(LOG_WARN, "%s: %s of unknown resource %u", g->dev->name, what,
				c->req.res.resource_id);
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	}
	return 0;
}

uint32_t gpu_cmd_ctx_attach(struct gpu *g, struct gpu_call *c)
{
	struct gpu_context *x;
	struct gpu_resource *res;
	uint32_t rc = ctx_and_res(g, c, "CTX_ATTACH_RESOURCE", &x, &res);

	if (rc)
		return rc;
	if (!(res->ctx_mask & 1ull << gpu_context_slot(g, x)) && x->ctx.type->attach)
		x->ctx.type->attach(&x->ctx, res->id);
	res->ctx_mask |= 1ull << gpu_context_slot(g, x);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static void detach(struct gpu *g, struct gpu_context *x, struct gpu_resource *res)
{
	uint64_t bit = 1ull << gpu_context_slot(g, x);

	if (!(res->ctx_mask & bit))
		return;
	res->ctx_mask &= ~bit;
	if (x->ctx.type->detach)
		x->ctx.type->detach(&x->ctx, res->id);
}

uint32_t gpu_cmd_ctx_detach(struct gpu *g, struct gpu_call *c)
{
	struct gpu_context *x;
	struct gpu_resource *res;
	uint32_t rc = ctx_and_res(g, c, "CTX_DETACH_RESOURCE", &x, &res);

	if (rc)
		return rc;
	detach(g, x, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

void gpu_contexts_forget(struct gpu *g, struct gpu_resource *res)
{
	for (unsigned i = 0; res->ctx_mask && i < GPU_MAX_CONTEXTS; i++)
		if (g->ctxs[i].used)
			detach(g, &g->ctxs[i], res);
}

/* The command stream after the in-fence ids, copied out of guest memory. */
uint32_t gpu_cmd_submit(struct gpu *g, struct gpu_call *c)
{
	struct gpu_context *x = named(g, c->req.hdr.ctx_id, "SUBMIT_3D");
	uint32_t size = c->req.submit.size, nfences = c->req.submit.num_in_fences, rc;
	uint64_t off = gpu_req_size(VIRTIO_GPU_CMD_SUBMIT_3D) + (uint64_t)nfences * 8;
	uint8_t *buf;

	if (!x)
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	if (size > GPU_MAX_SUBMIT || nfences > GPU_MAX_IN_FENCES || c->out_len < off + size) {
		log_ratelimited(LOG_WARN, "%s: SUBMIT_3D of %u bytes after %u fences in a %llu-byte "
				"command", g->dev->name, size, nfences, (unsigned long long)c->out_len);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	if (!(buf = malloc(size ? size : 1)))
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	iov_to_buf(c->out, c->nr_out, off, buf, size);
	rc = x->ctx.type->submit(&x->ctx, buf, size);
	free(buf);
	if (!rc)
		return VIRTIO_GPU_RESP_OK_NODATA;
	return rc >= VIRTIO_GPU_RESP_ERR_UNSPEC && rc <= VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER
	       ? rc : VIRTIO_GPU_RESP_ERR_UNSPEC;
}

/* ---- fences ---- */

/* Has virgl's global timeline passed fence_id (wrap-safe on its 32 bits)? */
static bool global_passed(const struct gpu *g, uint64_t fence_id)
{
	return (int32_t)(g->global_signalled - (uint32_t)fence_id) >= 0;
}

/*
 * A fence on the global timeline (FENCE without INFO_RING_IDX) with virgl
 * on: every one waits for virgl's, 2D commands' too, since Linux signals
 * all earlier fences of the timeline with each one that comes back.
 */
static bool global_fence_pending(struct gpu *g, const struct gpu_hdr *h)
{
	if (!g->virgl || (h->flags & (VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX)) !=
	    VIRTIO_GPU_FLAG_FENCE)
		return false;
	return gpu_virgl_global_fence(g, h->fence_id) && !global_passed(g, h->fence_id);
}

/* Has the fence of h (FENCE | INFO_RING_IDX, on a live context) not come yet? */
static bool fence_pending(struct gpu *g, const struct gpu_hdr *h)
{
	struct gpu_context *x;
	uint64_t *done;

	if ((h->flags & (VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX)) !=
	    (VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX) ||
	    h->ring_idx >= GPU_CTX_MAX_RINGS || !(x = gpu_context_find(g, h->ctx_id)) ||
	    !x->ctx.type->fence)
		return false;
	done = &x->completed[h->ring_idx];
	if (*done >= h->fence_id)
		return false;
	if (x->ctx.type->fence(&x->ctx, h->ring_idx, h->fence_id)) {
		*done = h->fence_id;
		return false;
	}
	return *done < h->fence_id;	/* the type may have signalled it meanwhile */
}

bool gpu_fence_park(struct gpu *g, const struct gpu_hdr *h, uint16_t head, uint32_t written)
{
	bool global = global_fence_pending(g, h);

	if (!global && !fence_pending(g, h))
		return false;
	for (unsigned i = 0; i < GPU_QUEUE_SIZE; i++) {
		struct gpu_parked *p = &g->parked[i];

		if (p->used)
			continue;
		/* A global fence is no context's: CTX_DESTROY does not return it. */
		*p = (struct gpu_parked){ true, head, written, global ? 0 : h->ctx_id,
					  global ? GPU_RING_GLOBAL : h->ring_idx, h->fence_id };
		return true;
	}
	/* Only a driver that made one head available twice gets here. */
	log_ratelimited(LOG_WARN, "%s: more fenced commands than queue entries", g->dev->name);
	return false;
}

void gpu_fences_drop(struct gpu *g)
{
	memset(g->parked, 0, sizeof(g->parked));
}

/*
 * The parked commands of timeline (ctx_id, ring) its fence has passed go
 * back, with one interrupt: up to fence_id, or on the global timeline
 * (ctx_id 0) up to what virgl signalled.
 */
static void release_passed(struct gpu *g, uint32_t ctx_id, uint8_t ring, uint64_t fence_id)
{
	struct vdev *dev = g->dev;
	bool any = false;

	for (unsigned i = 0; i < GPU_QUEUE_SIZE; i++) {
		struct gpu_parked *p = &g->parked[i];

		if (!p->used || p->ctx_id != ctx_id || p->ring != ring ||
		    (ring == GPU_RING_GLOBAL ? !global_passed(g, p->fence_id) : p->fence_id > fence_id))
			continue;
		p->used = false;
		if (dev->active) {
			virtq_push(&dev->queues[GPU_QUEUE_CTRL].vq, p->head, p->written);
			any = true;
		}
	}
	if (any)
		vdev_signal(dev, GPU_QUEUE_CTRL);
}

void gpu_fence_signal(struct gpu_ctx *ctx, uint8_t ring_idx, uint64_t fence_id)
{
	struct gpu_context *x = of_ctx(ctx);
	struct gpu *g = ctx->gpu;

	if (ring_idx >= GPU_CTX_MAX_RINGS)
		return;
	if (fence_id > x->completed[ring_idx])
		x->completed[ring_idx] = fence_id;
	release_passed(g, ctx->id, ring_idx, fence_id);
}

void gpu_fence_signal_global(struct gpu *g, uint32_t fence)
{
	if ((int32_t)(fence - g->global_signalled) > 0)
		g->global_signalled = fence;
	release_passed(g, 0, GPU_RING_GLOBAL, 0);
}

/* ---- what context types get (gpu_ctx.h) ---- */

struct vdev *gpu_vdev(struct gpu *gpu)
{
	return gpu->dev;
}

bool gpu_wayland_enabled(const struct gpu *gpu)
{
	return gpu->cfg.wayland;
}

/* dma-bufs from the compositor are refused for now (no render node). */
bool gpu_supports_dmabuf(const struct gpu *gpu)
{
	(void)gpu;
	return false;
}

int gpu_host_connect(struct gpu *gpu)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (!gpu->cfg.wayland || !gpu->connect_path || !gpu->connect_path[0])
		return -ENOENT;
	if (strlen(gpu->connect_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, gpu->connect_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno, again;

		close(fd);
		/* The jail shows the socket the compositor had at the start: a
		 * restarted one is reached through the VMM. */
		if (err != ECONNREFUSED && err != ENOENT)
			return -err;
		again = vdev_host_connect(gpu->dev);
		return again >= 0 ? again : -err;
	}
	return fd;
}

struct gpu_resource *gpu_ctx_resource(struct gpu_ctx *ctx, uint32_t res_id)
{
	struct gpu *g = ctx->gpu;
	struct gpu_resource *res = gpu_res_find(g, res_id);
	uint64_t bit = 1ull << gpu_context_slot(g, of_ctx(ctx));

	return res && res->ctx_mask & bit ? res : NULL;
}
