/*
 * virgl: OpenGL for the guest through virglrenderer, in the GPU process.
 * Two context types (capsets VIRGL and VIRGL2, one renderer), the 3D
 * resources gpu_res.c keeps in its table and virglrenderer under the
 * same ids, and fences on virglrenderer's timelines. virglrenderer is
 * one per process: the GPU process has one device.
 */
#ifndef VMSILO_GPU_VIRGL_H
#define VMSILO_GPU_VIRGL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gpu;
struct gpu_resource;
struct gpu_create_3d;
struct gpu_transfer_3d;
struct gpu_ctx_type;

#define GPU_CAPSET_VIRGL	1
#define GPU_CAPSET_VIRGL2	2

/* In create() (the VMM): the two capsets enabled. 0, or -errno with err. */
int gpu_virgl_enable(struct gpu *g, char *err, size_t errlen);
/*
 * In the GPU process, in the jail and before its filter: virglrenderer
 * started (EGL on render_fd if >= 0, else surfaceless EGL on llvmpipe)
 * and its fence fd watched. 0, or -errno after one line.
 */
int gpu_virgl_start(struct gpu *g, int render_fd);

/* What a 3D resource will hold on the host, for the device's budget. */
uint64_t gpu_virgl_3d_bytes(const struct gpu_create_3d *rq);
/* The 3D part of resources; each returns 0 or a VIRTIO_GPU_RESP_ERR_*. */
uint32_t gpu_virgl_create_3d(struct gpu *g, struct gpu_resource *res,
			     const struct gpu_create_3d *rq);
uint32_t gpu_virgl_transfer(struct gpu *g, struct gpu_resource *res, uint32_t ctx_id,
			    const struct gpu_transfer_3d *t, bool to_host);
/* res's backing (res->iov) lent to virglrenderer, taken back. */
uint32_t gpu_virgl_attach_backing(struct gpu *g, struct gpu_resource *res);
void gpu_virgl_detach_backing(struct gpu_resource *res);
void gpu_virgl_unref(struct gpu_resource *res);
/* A virgl context type, whose HOST3D blobs gpu_virgl_create_blob() makes. */
bool gpu_virgl_type(const struct gpu_ctx_type *t);
/*
 * RESOURCE_CREATE_BLOB on a virgl context: *fd (a memfd, or -1) and
 * res->map_info, res->virgl set once virglrenderer holds the resource.
 * 0 or a VIRTIO_GPU_RESP_ERR_*; the caller closes *fd on failure.
 */
uint32_t gpu_virgl_create_blob(struct gpu *g, uint32_t ctx_id, struct gpu_resource *res, int *fd);
/*
 * A fenced command on the global timeline: true if it waits for
 * virglrenderer's fence fence_id (then gpu_fence_signal_global later).
 */
bool gpu_virgl_global_fence(struct gpu *g, uint64_t fence_id);

#endif
