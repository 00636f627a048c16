/*
 * The parts of Linux's DRM and virtio-gpu UAPI (include/uapi/drm/drm.h and
 * virtgpu_drm.h of 6.x) that vmsilo-wl-test uses. Debian 12's headers lack
 * CONTEXT_INIT, blob_id and the fence event, and libdrm is not linked into
 * a static test binary, so the layouts are written out here from the
 * documented UAPI, with our own names so that a system drm.h cannot clash.
 *
 * The execbuffer struct is 6.12's (ring_idx, then pad). Newer kernels add
 * syncobj fields after ring_idx; the DRM core zero-fills the tail of a
 * shorter user struct, so this layout works on them too.
 */
#ifndef VMSILO_VIRTGPU_UAPI_H
#define VMSILO_VIRTGPU_UAPI_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

/* drm.h */
#define VGPU_DRM_IOCTL_BASE	'd'
#define VGPU_DRM_COMMAND_BASE	0x40

struct vgpu_drm_version {
	int version_major;
	int version_minor;
	int version_patchlevel;
	size_t name_len;
	char *name;
	size_t date_len;
	char *date;
	size_t desc_len;
	char *desc;
};

struct vgpu_drm_gem_close {
	uint32_t handle;
	uint32_t pad;
};

/* Header of each record read() returns on a DRM fd. */
struct vgpu_drm_event {
	uint32_t type;
	uint32_t length;		/* the whole record, header included */
};

#define VGPU_IOCTL_VERSION	_IOWR(VGPU_DRM_IOCTL_BASE, 0x00, struct vgpu_drm_version)
#define VGPU_IOCTL_GEM_CLOSE	_IOW(VGPU_DRM_IOCTL_BASE, 0x09, struct vgpu_drm_gem_close)

/* drm.h: a dma-buf fd to a GEM handle on this fd. */
struct vgpu_prime_handle {
	uint32_t handle;		/* out */
	uint32_t flags;
	int32_t fd;
};

#define VGPU_IOCTL_PRIME_FD_TO_HANDLE _IOWR(VGPU_DRM_IOCTL_BASE, 0x2e, struct vgpu_prime_handle)

/* virtgpu_drm.h */
struct vgpu_map {
	uint64_t offset;		/* out: the fake offset to mmap the DRM fd at */
	uint32_t handle;
	uint32_t pad;
};

#define VGPU_EXECBUF_FENCE_FD_IN	0x01
#define VGPU_EXECBUF_FENCE_FD_OUT	0x02
#define VGPU_EXECBUF_RING_IDX		0x04

struct vgpu_execbuffer {
	uint32_t flags;
	uint32_t size;
	uint64_t command;		/* user pointer */
	uint64_t bo_handles;		/* user pointer to uint32_t[num_bo_handles] */
	uint32_t num_bo_handles;
	int32_t fence_fd;
	uint32_t ring_idx;		/* with VGPU_EXECBUF_RING_IDX */
	uint32_t pad;
};

#define VGPU_PARAM_3D_FEATURES		1
#define VGPU_PARAM_RESOURCE_BLOB	3
#define VGPU_PARAM_HOST_VISIBLE		4
#define VGPU_PARAM_CONTEXT_INIT		6
#define VGPU_PARAM_SUPPORTED_CAPSET_IDS	7

struct vgpu_getparam {
	uint64_t param;
	uint64_t value;			/* user pointer to an int */
};

struct vgpu_resource_info {
	uint32_t bo_handle;
	uint32_t res_handle;		/* out */
	uint32_t size;			/* out */
	uint32_t blob_mem;		/* out */
};

struct vgpu_box {
	uint32_t x, y, z, w, h, d;
};

/* TRANSFER_FROM_HOST: the host's copy of box into the BO's backing, at
 * offset with stride bytes per row. */
struct vgpu_transfer {
	uint32_t bo_handle;
	struct vgpu_box box;
	uint32_t level;
	uint32_t offset;
	uint32_t stride;
	uint32_t layer_stride;
};

#define VGPU_WAIT_NOWAIT	1

struct vgpu_wait {
	uint32_t handle;
	uint32_t flags;
};

struct vgpu_get_caps {
	uint32_t cap_set_id;
	uint32_t cap_set_ver;
	uint64_t addr;			/* user pointer */
	uint32_t size;
	uint32_t pad;
};

#define VGPU_BLOB_MEM_GUEST		0x0001
#define VGPU_BLOB_MEM_HOST3D		0x0002
#define VGPU_BLOB_MEM_HOST3D_GUEST	0x0003

#define VGPU_BLOB_FLAG_USE_MAPPABLE	0x0001
#define VGPU_BLOB_FLAG_USE_SHAREABLE	0x0002
#define VGPU_BLOB_FLAG_USE_CROSS_DEVICE	0x0004

struct vgpu_create_blob {
	uint32_t blob_mem;
	uint32_t blob_flags;
	uint32_t bo_handle;		/* out */
	uint32_t res_handle;		/* out */
	uint64_t size;			/* the kernel rounds it up to a page */
	uint32_t pad;
	uint32_t cmd_size;		/* an optional SUBMIT_3D sent first */
	uint64_t cmd;
	uint64_t blob_id;		/* HOST3D: the context type's id */
};

#define VGPU_CONTEXT_PARAM_CAPSET_ID		0x0001
#define VGPU_CONTEXT_PARAM_NUM_RINGS		0x0002
#define VGPU_CONTEXT_PARAM_POLL_RINGS_MASK	0x0003

struct vgpu_context_set_param {
	uint64_t param;
	uint64_t value;
};

struct vgpu_context_init {
	uint32_t num_params;
	uint32_t pad;
	uint64_t ctx_set_params;	/* user pointer to vgpu_context_set_param[] */
};

/* A drm_event, on a ring in POLL_RINGS_MASK whose fence signalled. */
#define VGPU_EVENT_FENCE_SIGNALED	0x90000000u

#define VGPU_IOWR(nr, type)	_IOWR(VGPU_DRM_IOCTL_BASE, VGPU_DRM_COMMAND_BASE + (nr), type)
#define VGPU_IOCTL_MAP		VGPU_IOWR(0x01, struct vgpu_map)
#define VGPU_IOCTL_EXECBUFFER	VGPU_IOWR(0x02, struct vgpu_execbuffer)
#define VGPU_IOCTL_GETPARAM	VGPU_IOWR(0x03, struct vgpu_getparam)
#define VGPU_IOCTL_RESOURCE_INFO VGPU_IOWR(0x05, struct vgpu_resource_info)
#define VGPU_IOCTL_TRANSFER_FROM_HOST VGPU_IOWR(0x06, struct vgpu_transfer)
#define VGPU_IOCTL_WAIT		VGPU_IOWR(0x08, struct vgpu_wait)
#define VGPU_IOCTL_GET_CAPS	VGPU_IOWR(0x09, struct vgpu_get_caps)
#define VGPU_IOCTL_CREATE_BLOB	VGPU_IOWR(0x0a, struct vgpu_create_blob)
#define VGPU_IOCTL_CONTEXT_INIT	VGPU_IOWR(0x0b, struct vgpu_context_init)

/* The sizes are part of the ioctl numbers: pin them to the kernel's. */
static_assert(sizeof(struct vgpu_drm_version) == 64, "drm_version");
static_assert(sizeof(struct vgpu_drm_gem_close) == 8, "drm_gem_close");
static_assert(sizeof(struct vgpu_drm_event) == 8, "drm_event");
static_assert(sizeof(struct vgpu_map) == 16, "drm_virtgpu_map");
static_assert(sizeof(struct vgpu_execbuffer) == 40, "drm_virtgpu_execbuffer (6.12)");
static_assert(offsetof(struct vgpu_execbuffer, ring_idx) == 32, "execbuffer ring_idx");
static_assert(sizeof(struct vgpu_getparam) == 16, "drm_virtgpu_getparam");
static_assert(sizeof(struct vgpu_resource_info) == 16, "drm_virtgpu_resource_info");
static_assert(sizeof(struct vgpu_wait) == 8, "drm_virtgpu_3d_wait");
static_assert(sizeof(struct vgpu_prime_handle) == 12, "drm_prime_handle");
static_assert(sizeof(struct vgpu_transfer) == 44, "drm_virtgpu_3d_transfer_from_host");
static_assert(sizeof(struct vgpu_get_caps) == 24, "drm_virtgpu_get_caps");
static_assert(sizeof(struct vgpu_create_blob) == 48, "drm_virtgpu_resource_create_blob");
static_assert(offsetof(struct vgpu_create_blob, size) == 16, "create_blob size");
static_assert(offsetof(struct vgpu_create_blob, blob_id) == 40, "create_blob blob_id");
static_assert(sizeof(struct vgpu_context_set_param) == 16, "drm_virtgpu_context_set_param");
static_assert(sizeof(struct vgpu_context_init) == 16, "drm_virtgpu_context_init");

#endif
