/* The virtio_gpu DRM node and one cross-domain context: see virtgpu_dev.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest-agent/wayland/virtgpu_dev.h"
#include "guest-agent/wayland/virtgpu_uapi.h"

#define DRI_DIR		"/dev/dri"
#define DRIVER_NAME	"virtio_gpu"
#define SUBMIT_MAX	65536u

int vgpu_ioctl(int fd, unsigned long req, void *arg, const char *name)
{
	int err;

	do {
		if (ioctl(fd, req, arg) == 0)
			return 0;
		err = errno;
	} while (err == EINTR);
	printf("VMSILO drm-error ioctl=%s errno=%d (%s)\n", name, err, strerror(err));
	return -err;
}

static bool is_virtio_gpu(int fd)
{
	char name[64] = "";
	struct vgpu_drm_version v = { .name = name, .name_len = sizeof(name) - 1 };

	if (ioctl(fd, VGPU_IOCTL_VERSION, &v) != 0)
		return false;
	name[v.name_len < sizeof(name) ? v.name_len : sizeof(name) - 1] = '\0';
	return strcmp(name, DRIVER_NAME) == 0;
}

static int name_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* The first node named prefix* that is virtio_gpu, into path. */
static bool find_with_prefix(struct dirent **names, int n, const char *prefix, char *path,
			     size_t cap)
{
	for (int i = 0; i < n; i++) {
		int fd;
		bool found;

		if (strncmp(names[i]->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(path, cap, "%s/%s", DRI_DIR, names[i]->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		found = is_virtio_gpu(fd);
		close(fd);
		if (found)
			return true;
	}
	return false;
}

int vgpu_find_node(char *path, size_t cap)
{
	struct dirent **names;
	int n = scandir(DRI_DIR, &names, NULL, name_order);
	bool found;

	if (n < 0) {
		printf("VMSILO drm-error no %s: %s\n", DRI_DIR, strerror(errno));
		return -ENOENT;
	}
	found = find_with_prefix(names, n, "renderD", path, cap) ||
		find_with_prefix(names, n, "card", path, cap);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (!found) {
		printf("VMSILO drm-error no %s node in %s\n", DRIVER_NAME, DRI_DIR);
		return -ENOENT;
	}
	return 0;
}

int vgpu_get_caps(int fd, uint32_t capset, void *caps, uint32_t size)
{
	struct vgpu_get_caps gc = {
		.cap_set_id = capset, .cap_set_ver = 0,
		.addr = (uint64_t)(uintptr_t)caps, .size = size,
	};

	return vgpu_ioctl(fd, VGPU_IOCTL_GET_CAPS, &gc, "GET_CAPS");
}

static int context_init(int fd)
{
	struct vgpu_context_set_param params[] = {
		{ VGPU_CONTEXT_PARAM_CAPSET_ID, CROSS_DOMAIN_CAPSET_ID },
		{ VGPU_CONTEXT_PARAM_NUM_RINGS, 2 },
		{ VGPU_CONTEXT_PARAM_POLL_RINGS_MASK, 1u << CROSS_DOMAIN_CHANNEL_RING },
	};
	struct vgpu_context_init init = {
		.num_params = sizeof(params) / sizeof(params[0]),
		.ctx_set_params = (uint64_t)(uintptr_t)params,
	};

	return vgpu_ioctl(fd, VGPU_IOCTL_CONTEXT_INIT, &init, "CONTEXT_INIT");
}

int vgpu_create_blob(int fd, uint32_t mem, uint32_t flags, uint64_t blob_id, uint64_t size,
		     struct vgpu_bo *bo)
{
	struct vgpu_create_blob cb = {
		.blob_mem = mem, .blob_flags = flags, .size = size, .blob_id = blob_id,
	};
	int rc = vgpu_ioctl(fd, VGPU_IOCTL_CREATE_BLOB, &cb, "RESOURCE_CREATE_BLOB");

	memset(bo, 0, sizeof(*bo));
	if (rc)
		return rc;
	bo->bo = cb.bo_handle;
	bo->res = cb.res_handle;
	return 0;
}

int vgpu_map_bo(int fd, struct vgpu_bo *bo, size_t size, int prot)
{
	struct vgpu_map m = { .handle = bo->bo };
	int rc = vgpu_ioctl(fd, VGPU_IOCTL_MAP, &m, "MAP");
	void *p;

	if (rc)
		return rc;
	p = mmap(NULL, size, prot, MAP_SHARED, fd, (off_t)m.offset);
	if (p == MAP_FAILED) {
		rc = errno;
		printf("VMSILO drm-error ioctl=mmap errno=%d (%s)\n", rc, strerror(rc));
		return -rc;
	}
	bo->map = p;
	bo->map_size = size;
	return 0;
}

int vgpu_resource_info(int fd, uint32_t bo, uint32_t *res, uint32_t *size)
{
	struct vgpu_resource_info ri = { .bo_handle = bo };
	int rc = vgpu_ioctl(fd, VGPU_IOCTL_RESOURCE_INFO, &ri, "RESOURCE_INFO");

	if (rc)
		return rc;
	*res = ri.res_handle;
	*size = ri.size;
	return 0;
}

void vgpu_free_bo(int fd, struct vgpu_bo *bo)
{
	struct vgpu_drm_gem_close gc = { .handle = bo->bo };

	if (bo->map)
		munmap(bo->map, bo->map_size);
	if (bo->bo)
		vgpu_ioctl(fd, VGPU_IOCTL_GEM_CLOSE, &gc, "GEM_CLOSE");
	memset(bo, 0, sizeof(*bo));
}

int vgpu_import(int fd, int dmabuf, struct vgpu_bo *bo, uint32_t *size)
{
	struct vgpu_prime_handle ph = { .fd = dmabuf };
	int rc = vgpu_ioctl(fd, VGPU_IOCTL_PRIME_FD_TO_HANDLE, &ph, "PRIME_FD_TO_HANDLE");

	memset(bo, 0, sizeof(*bo));
	if (rc)
		return rc;
	bo->bo = ph.handle;
	rc = vgpu_resource_info(fd, bo->bo, &bo->res, size);
	if (rc)
		vgpu_free_bo(fd, bo);
	return rc;
}

int vgpu_transfer_from_host(int fd, uint32_t bo, uint32_t width, uint32_t y0, uint32_t y1,
			    uint32_t offset, uint32_t stride)
{
	struct vgpu_transfer t = { .bo_handle = bo, .box = { 0, y0, 0, width, y1 - y0, 1 },
				   .offset = offset, .stride = stride };

	return vgpu_ioctl(fd, VGPU_IOCTL_TRANSFER_FROM_HOST, &t, "TRANSFER_FROM_HOST");
}

int vgpu_wait(int fd, uint32_t bo)
{
	struct vgpu_wait w = { .handle = bo };

	return vgpu_ioctl(fd, VGPU_IOCTL_WAIT, &w, "WAIT");
}

static int make_ring(int fd, struct vgpu_bo *ring)
{
	int rc = vgpu_create_blob(fd, VGPU_BLOB_MEM_GUEST, VGPU_BLOB_FLAG_USE_MAPPABLE, 0,
				  CROSS_DOMAIN_RING_SIZE, ring);

	if (rc)
		return rc;
	return vgpu_map_bo(fd, ring, CROSS_DOMAIN_RING_SIZE, PROT_READ | PROT_WRITE);
}

int xd_init(struct xd *x, unsigned init_size, uint32_t query_res, uint32_t channel_res)
{
	uint8_t cmd[sizeof(struct cross_domain_init)];
	size_t size = cd_init(cmd, sizeof(cmd), init_size, query_res, channel_res,
			      CROSS_DOMAIN_CHANNEL_WAYLAND);

	if (!size)
		return -EINVAL;
	return xd_submit(x, cmd, (uint32_t)size, -1);
}

int xd_open(struct xd *x, const char *path, unsigned init_size)
{
	memset(x, 0, sizeof(*x));
	x->last_read_pipe = CROSS_DOMAIN_PIPE_READ_START;
	x->fd = open(path, O_RDWR | O_CLOEXEC);
	if (x->fd < 0) {
		printf("VMSILO drm-error open %s: %s\n", path, strerror(errno));
		return WLT_DRM;
	}
	if (context_init(x->fd) || make_ring(x->fd, &x->query))
		return WLT_DRM;
	x->channel = &x->query;
	if (init_size != CROSS_DOMAIN_INIT_SIZE_LEGACY) {
		if (make_ring(x->fd, &x->channel_bo))
			return WLT_DRM;
		x->channel = &x->channel_bo;
	}
	if (init_size && xd_init(x, init_size, x->query.res, x->channel->res))
		return WLT_DRM;
	return WLT_OK;
}

void xd_close(struct xd *x)
{
	if (x->fd < 0)
		return;
	vgpu_free_bo(x->fd, &x->channel_bo);
	vgpu_free_bo(x->fd, &x->query);
	close(x->fd);
	x->fd = -1;
}

int xd_submit(struct xd *x, const void *cmd, uint32_t size, int ring)
{
	uint32_t bo = ring == CROSS_DOMAIN_CHANNEL_RING ? x->channel->bo : x->query.bo;
	struct vgpu_execbuffer eb = {
		.size = size, .command = (uint64_t)(uintptr_t)cmd, .fence_fd = -1,
	};

	if (ring >= 0) {
		eb.flags = VGPU_EXECBUF_RING_IDX;
		eb.ring_idx = (uint32_t)ring;
		eb.bo_handles = (uint64_t)(uintptr_t)&bo;
		eb.num_bo_handles = 1;
	}
	return vgpu_ioctl(x->fd, VGPU_IOCTL_EXECBUFFER, &eb, "EXECBUFFER");
}

int xd_poll(struct xd *x)
{
	uint8_t cmd[16];
	size_t size = cd_poll(cmd, sizeof(cmd));
	int rc = xd_submit(x, cmd, (uint32_t)size, CROSS_DOMAIN_CHANNEL_RING);

	if (rc == 0)
		x->polling = true;
	return rc;
}

int xd_read_fences(struct xd *x)
{
	uint8_t buf[1024];
	ssize_t n = read(x->fd, buf, sizeof(buf));
	int fences = 0;

	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		printf("VMSILO drm-error ioctl=read errno=%d (%s)\n", errno, strerror(errno));
		return -errno;
	}
	for (size_t at = 0; at + sizeof(struct vgpu_drm_event) <= (size_t)n;) {
		struct vgpu_drm_event e;

		memcpy(&e, buf + at, sizeof(e));
		if (e.length < sizeof(e) || e.length > (size_t)n - at)
			break;
		if (e.type == VGPU_EVENT_FENCE_SIGNALED)
			fences++;
		at += e.length;
	}
	if (fences)
		x->polling = false;
	return fences;
}

int xd_image_req(struct xd *x, uint32_t width, uint32_t height, uint32_t drm_format,
		 uint32_t flags, struct cross_domain_image_requirements *reply)
{
	uint8_t cmd[sizeof(struct cross_domain_get_image_requirements)];
	size_t size = cd_image_req(cmd, sizeof(cmd), width, height, drm_format, flags);
	int rc = xd_submit(x, cmd, (uint32_t)size, CROSS_DOMAIN_QUERY_RING);

	if (rc == 0)
		rc = vgpu_wait(x->fd, x->query.bo);
	if (rc == 0)
		memcpy(reply, x->query.map, sizeof(*reply));
	return rc;
}

int xd_send(struct xd *x, const void *data, uint32_t len, const struct cd_item *items,
	    uint32_t n_items)
{
	static uint8_t cmd[SUBMIT_MAX];
	size_t size = cd_send(cmd, sizeof(cmd), items, n_items, data, len);

	if (!size)
		return -E2BIG;
	return xd_submit(x, cmd, (uint32_t)size, -1);
}

int xd_write(struct xd *x, uint32_t id, bool hang_up, const void *data, uint32_t len)
{
	static uint8_t cmd[SUBMIT_MAX];
	size_t size = cd_write(cmd, sizeof(cmd), id, hang_up, data, len);

	if (!size)
		return -E2BIG;
	return xd_submit(x, cmd, (uint32_t)size, -1);
}

uint32_t xd_next_read_pipe(struct xd *x)
{
	return ++x->last_read_pipe;
}
