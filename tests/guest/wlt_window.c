/*
 * vmsilo-wl-test client: one xdg toplevel whose wl_shm buffer is a host
 * blob (GET_IMAGE_REQUIREMENTS, CREATE_BLOB HOST3D, mapped through the
 * host-visible window) painted with the test pattern. With --frames, the
 * blob holds two buffers, redrawn in turn for tests/bench/gpu.sh.
 */
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pattern.h"
#include "guest-agent/wayland/virtgpu_uapi.h"
#include "wl_proto.h"
#include "wlt.h"

#define MAX_BLOB_SIZE	(256u << 20)	/* the device's own bound on one blob */
#define APP_ID		"vmsilo-wl-test"

static bool need_globals(struct wlt_session *s)
{
	const char *missing = !s->compositor.name ? "wl_compositor" :
			      !s->shm.name ? "wl_shm" :
			      !s->xdg_wm_base.name ? "xdg_wm_base" : NULL;

	if (missing)
		wlc_fail(&s->wl, WLT_PROTOCOL, "the compositor offers no %s", missing);
	return !missing;
}

/* A toplevel committed without a buffer, until its first configure. */
static bool make_toplevel(struct wlt_session *s)
{
	struct wlt_window *w = &s->win;

	w->compositor = wlt_bind(s, &s->compositor, "wl_compositor", 4, IF_COMPOSITOR);
	w->shm = wlt_bind(s, &s->shm, "wl_shm", 1, IF_SHM);
	s->wm_base = wlt_bind(s, &s->xdg_wm_base, "xdg_wm_base", 1, IF_WM_BASE);
	w->surface = wlc_new_id(&s->wl, IF_SURFACE);
	wlt_req(s, w->compositor, WL_COMPOSITOR_CREATE_SURFACE, NULL, 0, "n", w->surface);
	w->xdg_surface = wlc_new_id(&s->wl, IF_XDG_SURFACE);
	wlt_req(s, s->wm_base, XDG_WM_BASE_GET_XDG_SURFACE, NULL, 0, "no", w->xdg_surface,
		w->surface);
	w->toplevel = wlc_new_id(&s->wl, IF_TOPLEVEL);
	wlt_req(s, w->xdg_surface, XDG_SURFACE_GET_TOPLEVEL, NULL, 0, "n", w->toplevel);
	wlt_req(s, w->toplevel, XDG_TOPLEVEL_SET_TITLE, NULL, 0, "s", s->o->title);
	wlt_req(s, w->toplevel, XDG_TOPLEVEL_SET_APP_ID, NULL, 0, "s", APP_ID);
	wlt_req(s, w->surface, WL_SURFACE_COMMIT, NULL, 0, "");
	return wlc_wait_for(&s->wl, &w->configured, WLT_STEP_SECONDS, "xdg_surface.configure");
}

/* One buffer, or two one above the other for --frames. */
static uint32_t blob_rows(const struct wlt_opts *o)
{
	return o->frames ? 2 * o->height : o->height;
}

static bool requirements_fit(struct wlt_session *s,
			     const struct cross_domain_image_requirements *r)
{
	uint64_t row = (uint64_t)s->o->width * 4;
	uint64_t need = r->offsets[0] + (uint64_t)r->strides[0] * blob_rows(s->o);

	printf("VMSILO wl-image stride=%u offset=%u size=%llu blob_id=%u\n", r->strides[0],
	       r->offsets[0], (unsigned long long)r->size, r->blob_id);
	if (r->strides[0] < row || need > r->size || r->size > MAX_BLOB_SIZE) {
		wlc_fail(&s->wl, WLT_PROTOCOL, "image requirements do not fit %ux%u XRGB8888",
			 s->o->width, s->o->height);
		return false;
	}
	return true;
}

static void paint(void *map, const struct cross_domain_image_requirements *r, uint32_t width,
		  uint32_t height)
{
	for (uint32_t y = 0; y < height; y++) {
		uint32_t *row = (uint32_t *)((uint8_t *)map + r->offsets[0] +
					     (size_t)r->strides[0] * y);

		for (uint32_t x = 0; x < width; x++)
			row[x] = pattern_pixel(x, width);
	}
}

/* The host blob, mapped and painted. */
static bool make_blob(struct wlt_session *s, struct vgpu_bo *bo,
		      struct cross_domain_image_requirements *r)
{
	int fd = s->xd.fd;
	uint32_t res, size;

	if (xd_image_req(&s->xd, s->o->width, blob_rows(s->o), DRM_FORMAT_XRGB8888,
			 CROSS_DOMAIN_USE_LINEAR | CROSS_DOMAIN_USE_SW_WRITE_OFTEN, r)) {
		wlc_fail(&s->wl, WLT_DRM, "GET_IMAGE_REQUIREMENTS failed");
		return false;
	}
	if (!requirements_fit(s, r))
		return false;
	if (vgpu_create_blob(fd, VGPU_BLOB_MEM_HOST3D,
			     VGPU_BLOB_FLAG_USE_MAPPABLE | VGPU_BLOB_FLAG_USE_SHAREABLE,
			     r->blob_id, r->size, bo) ||
	    vgpu_map_bo(fd, bo, (r->size + VGPU_PAGE - 1) & ~(uint64_t)(VGPU_PAGE - 1),
			PROT_READ | PROT_WRITE) ||
	    vgpu_resource_info(fd, bo->bo, &res, &size)) {
		wlc_fail(&s->wl, WLT_DRM, "the host blob could not be made and mapped");
		return false;
	}
	printf("VMSILO wl-blob res=%u bo=%u size=%u\n", res, bo->bo, size);
	bo->res = res;
	paint(bo->map, r, s->o->width, blob_rows(s->o));
	return true;
}

static void commit_buffer(struct wlt_session *s, int i)
{
	struct wlt_window *w = &s->win;
	uint16_t damage = s->compositor.version >= 4 ? WL_SURFACE_DAMAGE_BUFFER : WL_SURFACE_DAMAGE;

	w->busy[i] = true;
	w->frame_done = false;
	wlt_req(s, w->surface, WL_SURFACE_ATTACH, NULL, 0, "oii", w->buffers[i], 0, 0);
	wlt_req(s, w->surface, damage, NULL, 0, "iiii", 0, 0, (int)s->o->width, (int)s->o->height);
	w->frame_cb = wlc_new_id(&s->wl, IF_CALLBACK);
	wlt_req(s, w->surface, WL_SURFACE_FRAME, NULL, 0, "n", w->frame_cb);
	wlt_req(s, w->surface, WL_SURFACE_COMMIT, NULL, 0, "");
}

/* The blob as a wl_shm pool and buffer, attached, damaged and committed. */
static bool show(struct wlt_session *s, const struct vgpu_bo *bo,
		 const struct cross_domain_image_requirements *r)
{
	struct wlt_window *w = &s->win;
	struct cd_item fd = { bo->res, CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB, (uint32_t)r->size };
	uint32_t pool = wlc_new_id(&s->wl, IF_SHM_POOL);
	int width = (int)s->o->width, height = (int)s->o->height;

	wlt_req(s, w->shm, WL_SHM_CREATE_POOL, &fd, 1, "ni", pool, (int)r->size);
	for (int i = 0; i < (s->o->frames ? 2 : 1); i++) {
		w->buffers[i] = wlc_new_id(&s->wl, IF_BUFFER);
		wlt_req(s, pool, WL_SHM_POOL_CREATE_BUFFER, NULL, 0, "niiiiu", w->buffers[i],
			(int)(r->offsets[0] + (uint64_t)r->strides[0] * height * i), width, height,
			(int)r->strides[0], WL_SHM_FORMAT_XRGB8888);
	}
	commit_buffer(s, 0);
	if (!wlc_wait_for(&s->wl, &w->frame_done, WLT_STEP_SECONDS, "wl_surface.frame"))
		return false;
	printf("VMSILO wl-frame-done=1\n");
	return true;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int free_buffer(struct wlt_session *s)
{
	for (int i = 0; i < 2; i++)
		if (!s->win.busy[i])
			return i;
	return -1;
}

/* --frames: as wl-floor-client does on the host, each buffer redrawn whole
 * from one row of the pattern, committed, its frame callback waited for. */
static bool bench(struct wlt_session *s, const struct vgpu_bo *bo,
		  const struct cross_domain_image_requirements *r)
{
	uint32_t width = s->o->width, height = s->o->height;
	uint32_t *row = malloc(width * sizeof(*row));
	double start = now_s(), latency = 0;
	int i, b;

	if (!row)
		return false;
	for (uint32_t x = 0; x < width; x++)
		row[x] = pattern_pixel(x, width);
	for (i = 0; i < s->o->frames && !s->wl.failed; i++) {
		double t;

		while ((b = free_buffer(s)) < 0 && wlc_dispatch(&s->wl, WLT_STEP_SECONDS * 1000))
			;
		if (b < 0)
			break;
		t = now_s();
		for (uint32_t y = 0; y < height; y++)
			memcpy((uint8_t *)bo->map + r->offsets[0] +
			       (size_t)r->strides[0] * (height * (uint32_t)b + y), row,
			       width * sizeof(*row));
		commit_buffer(s, b);
		if (!wlc_wait_for(&s->wl, &s->win.frame_done, WLT_STEP_SECONDS, "wl_surface.frame"))
			break;
		latency += now_s() - t;
	}
	free(row);
	if (i < s->o->frames) {
		if (!s->wl.failed)
			wlc_fail(&s->wl, WLT_PROTOCOL, "no buffer came back after frame %d", i);
		return false;
	}
	printf("VMSILO bench fps=%.1f ms-per-frame=%.2f frames=%d\n", i / (now_s() - start),
	       1000 * latency / i, i);
	return true;
}

/* stdin is watched for EOF only when it can end: a pipe, socket or terminal. */
static bool stdin_can_close(void)
{
	struct stat st;

	if (fstat(STDIN_FILENO, &st))
		return false;
	return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(STDIN_FILENO);
}

static void stay_mapped(struct wlt_session *s, int seconds)
{
	struct timespec start, now;
	long long left_ms = seconds * 1000ll;

	s->wl.watch_stdin = stdin_can_close();
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!s->wl.failed && !s->wl.stdin_eof && left_ms > 0) {
		wlc_dispatch(&s->wl, (int)left_ms);
		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ms = seconds * 1000ll - ((now.tv_sec - start.tv_sec) * 1000ll +
					      (now.tv_nsec - start.tv_nsec) / 1000000);
	}
	if (!s->wl.failed)
		printf("VMSILO wl-client-done reason=%s\n",
		       s->wl.stdin_eof ? "stdin-closed" : "time");
}

int wlt_client(const struct wlt_opts *o)
{
	struct wlt_session *s = calloc(1, sizeof(*s));
	struct cross_domain_image_requirements r;
	struct vgpu_bo bo = { 0 };
	int status;

	if (!s)
		return WLT_DRM;
	status = wlt_open(s, o);
	if (status == WLT_OK) {
		if (wlt_roundtrip_globals(s) && need_globals(s) && make_toplevel(s) &&
		    make_blob(s, &bo, &r) && show(s, &bo, &r) && (!o->frames || bench(s, &bo, &r)))
			stay_mapped(s, o->seconds);
		status = s->wl.failed;
		vgpu_free_bo(s->xd.fd, &bo);
	}
	wlt_close(s);
	free(s);
	return status;
}
