/*
 * A proxied client's link through one cross-domain context: the DRM fd is
 * the context, one POLL on the channel ring is kept outstanding, and each
 * signalled fence is one host message, copied out of the ring before the
 * next POLL lets the host write the ring again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "guest-agent/wayland/virtgpu_dev.h"
#include "guest-agent/wayland/virtgpu_uapi.h"
#include "guest-agent/wayland/wlp_link.h"

#define DRM_FORMAT_R8	0x20203852u	/* 'R' '8' ' ' ' ' */
#define POOL_ROW	16384u		/* a pool blob is a one-byte-per-pixel image this wide */

struct xd_link {
	struct wlp_link link;
	struct xd xd;
	uint64_t device;
	uint8_t ring_copy[CROSS_DOMAIN_RING_SIZE];
};

static struct xd *xd_of(struct wlp_link *l)
{
	return &((struct xd_link *)l)->xd;
}

static int xd_link_send(struct wlp_link *l, const void *data, uint32_t len,
			const struct cd_item *items, uint32_t n_items)
{
	return xd_send(xd_of(l), data, len, items, n_items);
}

static int bo_to_blob(int fd, struct vgpu_bo *bo, size_t size, int prot, struct wlp_blob *b)
{
	int rc = vgpu_map_bo(fd, bo, size, prot);

	if (rc) {
		vgpu_free_bo(fd, bo);
		return rc;
	}
	*b = (struct wlp_blob){ .id = bo->res, .map = bo->map, .size = size, .handle = bo->bo };
	return 0;
}

/* The host makes memory through an image template: rows of POOL_ROW bytes. */
static int xd_link_blob_new(struct wlp_link *l, uint64_t size, struct wlp_blob *b)
{
	struct xd *x = xd_of(l);
	struct cross_domain_image_requirements r;
	struct vgpu_bo bo;
	uint64_t rows = (size + POOL_ROW - 1) / POOL_ROW;
	int rc;

	if (!size || rows > UINT32_MAX)
		return -EINVAL;
	rc = xd_image_req(x, POOL_ROW, (uint32_t)rows, DRM_FORMAT_R8,
			  CROSS_DOMAIN_USE_LINEAR | CROSS_DOMAIN_USE_SW_WRITE_OFTEN, &r);
	if (rc)
		return rc;
	if (r.size < size || r.strides[0] != POOL_ROW || r.offsets[0])
		return -EPROTO;
	rc = vgpu_create_blob(x->fd, VGPU_BLOB_MEM_HOST3D,
			      VGPU_BLOB_FLAG_USE_MAPPABLE | VGPU_BLOB_FLAG_USE_SHAREABLE, r.blob_id,
			      r.size, &bo);
	return rc ? rc : bo_to_blob(x->fd, &bo, r.size, PROT_READ | PROT_WRITE, b);
}

static int xd_link_blob_map(struct wlp_link *l, const struct cd_item *it, struct wlp_blob *b)
{
	struct xd *x = xd_of(l);
	size_t map_size = ((size_t)it->size + VGPU_PAGE - 1) & ~(size_t)(VGPU_PAGE - 1);
	struct vgpu_bo bo;
	int rc;

	if (!it->size)
		return -EINVAL;
	rc = vgpu_create_blob(x->fd, VGPU_BLOB_MEM_HOST3D,
			      VGPU_BLOB_FLAG_USE_MAPPABLE | VGPU_BLOB_FLAG_USE_SHAREABLE, it->id,
			      it->size, &bo);
	return rc ? rc : bo_to_blob(x->fd, &bo, map_size, PROT_READ, b);
}

static void xd_link_blob_free(struct wlp_link *l, struct wlp_blob *b)
{
	struct vgpu_bo bo = { .bo = b->handle, .res = b->id, .map = b->map, .map_size = b->size };

	vgpu_free_bo(xd_of(l)->fd, &bo);
	memset(b, 0, sizeof(*b));
}

static int xd_link_write(struct wlp_link *l, uint32_t pipe, bool hang_up, const void *data,
			 uint32_t len)
{
	return xd_write(xd_of(l), pipe, hang_up, data, len);
}

static uint32_t xd_link_read_pipe(struct wlp_link *l)
{
	return xd_next_read_pipe(xd_of(l));
}

static int xd_link_poll_fds(struct wlp_link *l, struct pollfd *p, int max)
{
	struct xd *x = xd_of(l);

	if (max < 1)
		return 0;
	if (!x->polling && xd_poll(x))
		return -EIO;
	p[0] = (struct pollfd){ .fd = x->fd, .events = POLLIN };
	return 1;
}

static int xd_link_take(struct wlp_link *l, const struct pollfd *p, int n, struct wlp_host_msg *m)
{
	struct xd_link *xl = (struct xd_link *)l;
	struct cd_msg cm;
	const char *why;
	int fences;

	if (n < 1 || !p[0].revents)
		return 0;
	if (!(p[0].revents & POLLIN))
		return -EIO;
	fences = xd_read_fences(&xl->xd);
	if (fences <= 0)
		return fences;
	if (fences > 1)
		return -EPROTO;
	memcpy(xl->ring_copy, xl->xd.channel->map, sizeof(xl->ring_copy));
	if (cd_parse(xl->ring_copy, sizeof(xl->ring_copy), &cm, &why))
		return -EPROTO;
	/* The host's end of the stream: the compositor hung up. */
	if (cm.cmd == CROSS_DOMAIN_CMD_RECEIVE && !cm.len && !cm.n_items)
		return -ECONNRESET;
	memset(m, 0, sizeof(*m));
	m->is_read = cm.cmd == CROSS_DOMAIN_CMD_READ;
	m->data = cm.data;
	m->len = cm.len;
	m->n_items = m->is_read ? 0 : cm.n_items;
	memcpy(m->items, cm.items, sizeof(m->items[0]) * m->n_items);
	m->pipe = cm.id;
	m->hang_up = cm.hang_up;
	return 1;
}

static void xd_link_close(struct wlp_link *l)
{
	xd_close(xd_of(l));
	free(l);
}

static uint64_t xd_link_dmabuf_device(struct wlp_link *l)
{
	return ((struct xd_link *)l)->device;
}

/* The client's buffer is a virgl resource: the same one on our fd. */
static int xd_link_dmabuf_import(struct wlp_link *l, int fd, struct wlp_dmabuf *d)
{
	struct xd *x = xd_of(l);
	struct vgpu_bo bo;
	uint32_t size;
	int rc = vgpu_import(x->fd, fd, &bo, &size);

	if (rc)
		return rc;
	rc = size ? vgpu_map_bo(x->fd, &bo, size, PROT_READ) : -EINVAL;
	if (rc) {
		vgpu_free_bo(x->fd, &bo);
		return rc;
	}
	*d = (struct wlp_dmabuf){ .handle = bo.bo, .map = bo.map, .size = size };
	return 0;
}

/* The client's draws first (the BO's fences), then the host's pixels
 * into its backing, waited for. Linux takes no stride for a resource
 * that is not a blob: the resource's own (width x 4) is used, which
 * wlp_dmabuf.c asked of the buffer. */
static int xd_link_dmabuf_read(struct wlp_link *l, struct wlp_dmabuf *d, uint32_t width,
			       uint32_t y0, uint32_t y1, uint32_t offset, uint32_t stride)
{
	int fd = xd_of(l)->fd, rc = vgpu_wait(fd, d->handle);

	if (!rc)
		rc = vgpu_transfer_from_host(fd, d->handle, width, y0, y1, offset,
					     stride == width * 4 ? 0 : stride);
	return rc ? rc : vgpu_wait(fd, d->handle);
}

static void xd_link_dmabuf_free(struct wlp_link *l, struct wlp_dmabuf *d)
{
	struct vgpu_bo bo = { .bo = d->handle, .map = (void *)d->map, .map_size = d->size };

	vgpu_free_bo(xd_of(l)->fd, &bo);
	memset(d, 0, sizeof(*d));
}

static const struct wlp_link_ops xd_ops = {
	.send = xd_link_send, .blob_new = xd_link_blob_new, .blob_map = xd_link_blob_map,
	.blob_free = xd_link_blob_free, .write = xd_link_write, .read_pipe = xd_link_read_pipe,
	.poll_fds = xd_link_poll_fds, .take = xd_link_take, .close = xd_link_close,
	.dmabuf_device = xd_link_dmabuf_device, .dmabuf_import = xd_link_dmabuf_import,
	.dmabuf_read = xd_link_dmabuf_read, .dmabuf_free = xd_link_dmabuf_free,
};

struct wlp_link *wlp_link_xd_open(const char *node, int *err)
{
	struct xd_link *xl = calloc(1, sizeof(*xl));
	struct stat st;

	*err = -ENOMEM;
	if (!xl)
		return NULL;
	xl->link.ops = &xd_ops;
	if (xd_open(&xl->xd, node, CROSS_DOMAIN_INIT_SIZE_V1) != WLT_OK) {
		xd_close(&xl->xd);
		free(xl);
		*err = -EIO;
		return NULL;
	}
	if (!stat(node, &st) && S_ISCHR(st.st_mode))
		xl->device = st.st_rdev;
	*err = 0;
	return &xl->link;
}
