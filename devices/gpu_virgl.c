/*
 * virgl in the GPU process (gpu_virgl.h). virglrenderer decodes the
 * guest's command streams itself; what reaches it from here is checked
 * first where it names our state: contexts and resources exist, a
 * resource's backing is guest RAM (gpu_res.c), a transfer's box and
 * offset lie inside the resource and its backing, sizes are bounded.
 * Its own checks of the stream (object ids, formats, shader text) are
 * its own: a stream it refuses is an error for that command, and a
 * context it put in an error state stays refused until destroyed.
 *
 * Choices:
 * - virglrenderer starts in the jail before the filter: Mesa opens every
 *   file it needs (glvnd's vendor file, the DRI driver, LLVM) and starts
 *   llvmpipe's threads there, and opens nothing afterwards.
 * - VIRGL_RENDERER_USE_EXTERNAL_BLOB: virglrenderer keeps a GL buffer's
 *   persistent mapping in this process, where the VMM cannot map it into
 *   the guest, so it must not offer ARB_buffer_storage (Mesa would then
 *   put every upload in such a HOST3D blob and the guest's draws would
 *   have no vertices). With the flag it offers only blobs it can export;
 *   the guest's buffers go through their guest pages and transfers.
 * - Fences: VIRGL_RENDERER_THREAD_SYNC gives an eventfd that fires when
 *   a fence may have passed; the loop then calls virgl_renderer_poll(),
 *   which runs our callbacks. Without the fd (a driver without native
 *   fences), fences are polled after each command the guest sends.
 */
#define VIRGL_RENDERER_UNSTABLE_APIS
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <virglrenderer.h>

#include "devices/gpu_internal.h"
#include "devices/gpu_virgl.h"
#include "vmm/log.h"

/* virglrenderer's transfer box; opaque in its header, defined by its ABI. */
struct virgl_box {
	uint32_t x, y, z, w, h, d;
};

#define PIPE_BUFFER		0
#define PIPE_MAX_TEXTURE_TYPES	9
#define MAX_DEPTH		2048u	/* GL's 3D textures and array layers at most */
#define MAX_LEVELS		15u	/* log2(16384) + 1 */
#define MAX_SAMPLES		32u

static struct gpu *the_gpu;	/* virglrenderer's callbacks have one device */
static bool poll_after_each;	/* no fence fd: poll when the guest sends */

static struct gpu_ctx_type virgl_types[2];

/* ---- callbacks, run inside virgl_renderer_poll() ---- */

static void on_fence(void *cookie, uint32_t fence)
{
	gpu_fence_signal_global(cookie, fence);
}

static void on_context_fence(void *cookie, uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id)
{
	struct gpu_context *x = gpu_context_find(cookie, ctx_id);

	if (x && ring_idx < GPU_CTX_MAX_RINGS)
		gpu_fence_signal(&x->ctx, (uint8_t)ring_idx, fence_id);
}

static int render_node_fd = -1;

/* virglrenderer takes ownership of what this returns. */
static int get_drm_fd(void *cookie)
{
	(void)cookie;
	return render_node_fd >= 0 ? dup(render_node_fd) : -1;
}

static struct virgl_renderer_callbacks callbacks = {
	.version = 4,
	.write_fence = on_fence,
	.get_drm_fd = get_drm_fd,
	.write_context_fence = on_context_fence,
};

static void poll_fences(struct vdev *dev, int fd, uint32_t events, void *arg)
{
	uint64_t n;

	(void)dev, (void)events, (void)arg;
	(void)!read(fd, &n, sizeof(n));
	virgl_renderer_poll();
}

/* virglrenderer's and Mesa's messages (its start, a context's errors): the device's log. */
static void on_debug(const char *fmt, va_list ap)
{
	char line[256];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_ratelimited(LOG_INFO, "%s: virglrenderer: %s", the_gpu ? the_gpu->dev->name : "gpu", line);
}

int gpu_virgl_start(struct gpu *g, int render_fd)
{
	int flags = VIRGL_RENDERER_USE_EGL | VIRGL_RENDERER_THREAD_SYNC |
		    VIRGL_RENDERER_USE_EXTERNAL_BLOB, fd, rc;

	if (the_gpu) {
		log_msg(LOG_ERROR, "%s: virglrenderer serves another device in this process",
			g->dev->name);
		return -EBUSY;
	}
	render_node_fd = render_fd;
	if (render_fd < 0)
		flags |= VIRGL_RENDERER_USE_SURFACELESS;
	/* The shader cache would write under $HOME, which the jail has not. */
	setenv("MESA_SHADER_CACHE_DISABLE", "true", 1);
	virgl_set_debug_callback(on_debug);
	the_gpu = g;
	rc = virgl_renderer_init(g, flags, &callbacks);
	if (rc) {
		log_msg(LOG_ERROR, "%s: virglrenderer does not start (%s EGL): %d; is Mesa's "
			"libgl1-mesa-dri installed?", g->dev->name,
			render_fd < 0 ? "surfaceless" : "render node", rc);
		the_gpu = NULL;
		return -ENODEV;
	}
	fd = virgl_renderer_get_poll_fd();
	poll_after_each = fd < 0;
	if (fd >= 0 && vdev_watch_fd(g->dev, fd, POLLIN, poll_fences, NULL) < 0) {
		log_msg(LOG_ERROR, "%s: cannot watch virglrenderer's fence fd", g->dev->name);
		return -EMFILE;
	}
	return 0;
}

/* After a command that may have passed fences, with no fd to say so. */
static void maybe_poll(void)
{
	if (poll_after_each)
		virgl_renderer_poll();
}

/* ---- the context types ---- */

/* buf has the capset_size virglrenderer reported for the set. */
static void virgl_capset(struct gpu *g, uint32_t version, void *buf)
{
	(void)g;
	virgl_renderer_fill_caps(GPU_CAPSET_VIRGL, version, buf);
}

static void virgl2_capset(struct gpu *g, uint32_t version, void *buf)
{
	(void)g;
	virgl_renderer_fill_caps(GPU_CAPSET_VIRGL2, version, buf);
}

static int virgl_create(struct gpu_ctx *ctx)
{
	uint32_t flags = ctx->type->capset_id;
	const char *name = ctx->debug_name;

	if (virgl_renderer_context_create_with_flags(ctx->id, flags, (uint32_t)strlen(name), name))
		return -EINVAL;
	return 0;
}

static void virgl_destroy(struct gpu_ctx *ctx)
{
	virgl_renderer_context_destroy(ctx->id);
	maybe_poll();
}

static uint32_t virgl_submit(struct gpu_ctx *ctx, const uint8_t *cmd, uint32_t len)
{
	int rc;

	if (len % 4) {
		log_ratelimited(LOG_WARN, "%s: virgl context %u: a %u-byte stream is not whole "
				"dwords", ctx->gpu->dev->name, ctx->id, len);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	/* virglrenderer reads the stream in place: it is our copy, not guest memory. */
	rc = virgl_renderer_submit_cmd((void *)cmd, (int)ctx->id, (int)(len / 4));
	maybe_poll();
	if (rc) {
		log_ratelimited(LOG_WARN, "%s: virgl context %u refused a %u-byte stream: %d",
				ctx->gpu->dev->name, ctx->id, len, rc);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	return 0;
}

/* virglrenderer's GL contexts have one timeline: ring 0. */
static bool virgl_fence(struct gpu_ctx *ctx, uint8_t ring_idx, uint64_t fence_id)
{
	if (ring_idx || virgl_renderer_context_create_fence(ctx->id, 0, ring_idx, fence_id)) {
		log_ratelimited(LOG_WARN, "%s: virgl context %u: fence %llu on ring %u refused, "
				"signalled now", ctx->gpu->dev->name, ctx->id,
				(unsigned long long)fence_id, ring_idx);
		return true;
	}
	maybe_poll();
	return false;
}

static void virgl_attach(struct gpu_ctx *ctx, uint32_t res_id)
{
	virgl_renderer_ctx_attach_resource((int)ctx->id, (int)res_id);
}

static void virgl_detach(struct gpu_ctx *ctx, uint32_t res_id)
{
	virgl_renderer_ctx_detach_resource((int)ctx->id, (int)res_id);
}

static const struct gpu_ctx_type virgl_template = {
	.create = virgl_create, .destroy = virgl_destroy, .submit = virgl_submit,
	.fence = virgl_fence, .attach = virgl_attach, .detach = virgl_detach,
};

int gpu_virgl_enable(struct gpu *g, char *err, size_t errlen)
{
	static const struct { uint32_t id; const char *name; void (*fill)(struct gpu *, uint32_t, void *); }
	sets[2] = {
		{ GPU_CAPSET_VIRGL2, "virgl2", virgl2_capset },
		{ GPU_CAPSET_VIRGL, "virgl", virgl_capset },
	};

	for (unsigned i = 0; i < 2; i++) {
		struct gpu_ctx_type *t = &virgl_types[i];
		uint32_t max_ver = 0, size = 0;

		/* Known before virgl_renderer_init: the sizes of its caps structs. */
		virgl_renderer_get_cap_set(sets[i].id, &max_ver, &size);
		*t = virgl_template;
		t->name = sets[i].name;
		t->capset_id = sets[i].id;
		t->capset_max_version = max_ver;
		t->capset_size = size;
		t->capset = sets[i].fill;
		if (!size || gpu_add_ctx_type(g, t)) {
			snprintf(err, errlen, "gpu: virglrenderer reports capset %s of %u bytes, which "
				 "this device cannot offer", sets[i].name, size);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- 3D resources ---- */

static uint32_t refused(struct gpu *g, uint32_t id, const char *what)
{
	log_ratelimited(LOG_WARN, "%s: 3D resource %u: %s", g->dev->name, id, what);
	return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
}

/* Bounds virglrenderer would otherwise meet as allocations of any size. */
static const char *create_3d_problem(const struct gpu_create_3d *rq)
{
	if (!the_gpu)
		return "virgl is not running";
	if (rq->target >= PIPE_MAX_TEXTURE_TYPES)
		return "unknown target";
	if (!rq->width || !rq->height || !rq->depth || !rq->array_size)
		return "empty";
	if (rq->target == PIPE_BUFFER ? rq->width > GPU_MAX_BLOB_SIZE || rq->height != 1
				      : rq->width > GPU_MAX_WIDTH || rq->height > GPU_MAX_HEIGHT)
		return "too large";
	if (rq->depth > MAX_DEPTH || rq->array_size > MAX_DEPTH || rq->last_level >= MAX_LEVELS ||
	    rq->nr_samples > MAX_SAMPLES)
		return "depth, layers, levels or samples out of range";
	return NULL;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/*
 * What the renderer will hold for it, for the device's budget (checked
 * before the bounds, so saturating): 4 bytes a texel (most formats;
 * 16-byte ones are under-counted 4 times, still bounded), a third more
 * with mip levels, times samples.
 */
uint64_t gpu_virgl_3d_bytes(const struct gpu_create_3d *rq)
{
	uint64_t bytes = rq->width;

	if (rq->target != PIPE_BUFFER)
		bytes = mul_sat(mul_sat(mul_sat(mul_sat(bytes, rq->height), rq->depth),
					rq->array_size), 4);
	if (rq->last_level)
		bytes = mul_sat(bytes / 3, 4);
	return mul_sat(bytes, rq->nr_samples ? rq->nr_samples : 1);
}

uint32_t gpu_virgl_create_3d(struct gpu *g, struct gpu_resource *res,
			     const struct gpu_create_3d *rq)
{
	struct virgl_renderer_resource_create_args a = {
		.handle = res->id, .target = rq->target, .format = rq->format, .bind = rq->bind,
		.width = rq->width, .height = rq->height, .depth = rq->depth,
		.array_size = rq->array_size, .last_level = rq->last_level,
		.nr_samples = rq->nr_samples, .flags = rq->flags,
	};
	const char *problem = create_3d_problem(rq);
	int rc;

	if (problem)
		return refused(g, res->id, problem);
	rc = virgl_renderer_resource_create(&a, NULL, 0);
	if (rc)
		return refused(g, res->id, "virglrenderer refused its format or size");
	res->virgl = true;
	res->width = rq->width;
	res->height = rq->height;
	return 0;
}

uint32_t gpu_virgl_attach_backing(struct gpu *g, struct gpu_resource *res)
{
	if (virgl_renderer_resource_attach_iov((int)res->id, res->iov, (int)res->nr_iov))
		return refused(g, res->id, "virglrenderer refused its backing");
	return 0;
}

/* virglrenderer hands back our iov array; gpu_res.c frees it. */
void gpu_virgl_detach_backing(struct gpu_resource *res)
{
	struct iovec *iov = NULL;
	int n = 0;

	if (res->virgl && res->iov)
		virgl_renderer_resource_detach_iov((int)res->id, &iov, &n);
}

void gpu_virgl_unref(struct gpu_resource *res)
{
	if (!res->virgl)
		return;
	gpu_virgl_detach_backing(res);
	virgl_renderer_resource_unref(res->id);
	res->virgl = false;
}

/*
 * The box in the resource (level 0's size bounds every level), and the
 * guest side inside the backing: virglrenderer computes the bytes from
 * the box, stride and format, and checks against the iov itself; we
 * bound what it cannot know is hostile.
 */
static const char *transfer_problem(const struct gpu_resource *res, const struct gpu_transfer_3d *t)
{
	const uint32_t *b = t->box;

	if (!res->virgl)
		return "not a 3D resource";
	if (b[0] > res->width || b[3] > res->width - b[0] || b[1] > res->height ||
	    b[4] > res->height - b[1] || b[2] > MAX_DEPTH || b[5] > MAX_DEPTH - b[2] ||
	    t->level >= MAX_LEVELS)
		return "box outside the resource";
	if (t->offset > res->backing_len)
		return "offset past its backing";
	return NULL;
}

uint32_t gpu_virgl_transfer(struct gpu *g, struct gpu_resource *res, uint32_t ctx_id,
			    const struct gpu_transfer_3d *t, bool to_host)
{
	struct virgl_box box = { t->box[0], t->box[1], t->box[2], t->box[3], t->box[4], t->box[5] };
	const char *problem = transfer_problem(res, t);
	int rc;

	if (problem)
		return refused(g, res->id, problem);
	if (!res->iov)
		return refused(g, res->id, "no backing to transfer through");
	rc = to_host ? virgl_renderer_transfer_write_iov(res->id, ctx_id, (int)t->level, t->stride,
							 t->layer_stride, &box, t->offset, NULL, 0)
		     : virgl_renderer_transfer_read_iov(res->id, ctx_id, t->level, t->stride,
							t->layer_stride, &box, t->offset, NULL, 0);
	maybe_poll();
	if (rc)
		return refused(g, res->id, "virglrenderer refused the transfer");
	return 0;
}

/* ---- blobs ---- */

static uint32_t blob_refused(struct gpu *g, uint32_t id, const char *what)
{
	log_ratelimited(LOG_WARN, "%s: virgl blob %u: %s", g->dev->name, id, what);
	return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
}

bool gpu_virgl_type(const struct gpu_ctx_type *t)
{
	return t == &virgl_types[0] || t == &virgl_types[1];
}

/*
 * A HOST3D blob the context's stream made (PIPE_RESOURCE_CREATE with
 * this blob_id), taken out of the context; its memory only if
 * virglrenderer exports it as shareable memory (a memfd), sealed against
 * shrinking here (gpu_res.c checks the rest). A failure leaves res->virgl
 * set, so releasing res frees virglrenderer's resource too.
 */
uint32_t gpu_virgl_create_blob(struct gpu *g, uint32_t ctx_id, struct gpu_resource *res, int *fd)
{
	struct virgl_renderer_resource_create_blob_args a = {
		.res_handle = res->id, .ctx_id = ctx_id, .blob_mem = VIRGL_RENDERER_BLOB_MEM_HOST3D,
		.blob_flags = res->blob_flags, .blob_id = res->blob_id, .size = res->size,
	};
	uint32_t type = 0;

	if (res->blob_mem != VIRTIO_GPU_BLOB_MEM_HOST3D)
		return blob_refused(g, res->id, "a virgl blob with guest pages too");
	if (virgl_renderer_resource_create_blob(&a))
		return blob_refused(g, res->id, "virglrenderer has no such blob in the context");
	res->virgl = true;
	maybe_poll();
	if (virgl_renderer_resource_export_blob(res->id, &type, fd) ||
	    type != VIRGL_RENDERER_BLOB_FD_TYPE_SHM)
		return blob_refused(g, res->id, "virglrenderer keeps its memory");
	(void)fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK);
	if (virgl_renderer_resource_get_map_info(res->id, &res->map_info))
		res->map_info = VIRTIO_GPU_MAP_CACHE_CACHED;
	return 0;
}

/* ---- the global timeline ---- */

bool gpu_virgl_global_fence(struct gpu *g, uint64_t fence_id)
{
	if (!the_gpu || virgl_renderer_create_fence((int)(uint32_t)fence_id, 0)) {
		if (the_gpu)
			log_ratelimited(LOG_WARN, "%s: virgl fence %llu refused, signalled now",
					g->dev->name, (unsigned long long)fence_id);
		return false;
	}
	maybe_poll();	/* may signal it at once: gpu_ctx.c checks */
	return true;
}
