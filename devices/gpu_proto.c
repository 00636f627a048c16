#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "devices/gpu_proto.h"

static_assert(sizeof(struct virtio_gpu_ctrl_hdr) == GPU_HDR_SIZE, "header");
static_assert(sizeof(struct virtio_gpu_mem_entry) == GPU_MEM_ENTRY_SIZE, "mem entry");
static_assert(sizeof(struct virtio_gpu_resp_display_info) == GPU_RESP_DISPLAY_INFO, "display info");
static_assert(sizeof(struct virtio_gpu_resp_edid) == GPU_RESP_EDID, "edid");
static_assert(sizeof(struct virtio_gpu_resp_capset_info) == GPU_RESP_CAPSET_INFO, "capset info");
static_assert(sizeof(struct virtio_gpu_resp_resource_uuid) == GPU_RESP_UUID, "uuid");
static_assert(sizeof(struct virtio_gpu_resp_map_info) == GPU_RESP_MAP_INFO, "map info");
static_assert(sizeof(struct virtio_gpu_config) == GPU_CONFIG_SIZE, "config");
static_assert(sizeof(struct virtio_gpu_ctx_create) == GPU_MAX_CMD_SIZE, "ctx create");
static_assert(sizeof(struct virtio_gpu_set_scanout_blob) == GPU_MAX_CMD_SIZE, "scanout blob");

static const struct {
	uint32_t type;
	uint32_t size;
} req_sizes[] = {
	{ VIRTIO_GPU_CMD_GET_DISPLAY_INFO, sizeof(struct virtio_gpu_ctrl_hdr) },
	{ VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, sizeof(struct virtio_gpu_resource_create_2d) },
	{ VIRTIO_GPU_CMD_RESOURCE_UNREF, sizeof(struct virtio_gpu_resource_unref) },
	{ VIRTIO_GPU_CMD_SET_SCANOUT, sizeof(struct virtio_gpu_set_scanout) },
	{ VIRTIO_GPU_CMD_RESOURCE_FLUSH, sizeof(struct virtio_gpu_resource_flush) },
	{ VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, sizeof(struct virtio_gpu_transfer_to_host_2d) },
	{ VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, sizeof(struct virtio_gpu_resource_attach_backing) },
	{ VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, sizeof(struct virtio_gpu_resource_detach_backing) },
	{ VIRTIO_GPU_CMD_GET_CAPSET_INFO, sizeof(struct virtio_gpu_get_capset_info) },
	{ VIRTIO_GPU_CMD_GET_CAPSET, sizeof(struct virtio_gpu_get_capset) },
	{ VIRTIO_GPU_CMD_GET_EDID, sizeof(struct virtio_gpu_cmd_get_edid) },
	{ VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID, sizeof(struct virtio_gpu_resource_assign_uuid) },
	{ VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB, sizeof(struct virtio_gpu_resource_create_blob) },
	{ VIRTIO_GPU_CMD_SET_SCANOUT_BLOB, sizeof(struct virtio_gpu_set_scanout_blob) },
	{ VIRTIO_GPU_CMD_CTX_CREATE, sizeof(struct virtio_gpu_ctx_create) },
	{ VIRTIO_GPU_CMD_CTX_DESTROY, sizeof(struct virtio_gpu_ctx_destroy) },
	{ VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, sizeof(struct virtio_gpu_ctx_resource) },
	{ VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE, sizeof(struct virtio_gpu_ctx_resource) },
	{ VIRTIO_GPU_CMD_SUBMIT_3D, sizeof(struct virtio_gpu_cmd_submit) },
	{ VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, sizeof(struct virtio_gpu_resource_create_3d) },
	{ VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, sizeof(struct virtio_gpu_transfer_host_3d) },
	{ VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, sizeof(struct virtio_gpu_transfer_host_3d) },
	{ VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB, sizeof(struct virtio_gpu_resource_map_blob) },
	{ VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB, sizeof(struct virtio_gpu_resource_unmap_blob) },
	{ VIRTIO_GPU_CMD_UPDATE_CURSOR, sizeof(struct virtio_gpu_update_cursor) },
	{ VIRTIO_GPU_CMD_MOVE_CURSOR, sizeof(struct virtio_gpu_update_cursor) },
};

size_t gpu_req_size(uint32_t type)
{
	for (size_t i = 0; i < sizeof(req_sizes) / sizeof(req_sizes[0]); i++)
		if (req_sizes[i].type == type)
			return req_sizes[i].size;
	return 0;
}

static uint32_t u32_at(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, 4);
	return le32toh(v);
}

static uint64_t u64_at(const uint8_t *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, 8);
	return le64toh(v);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	v = htole32(v);
	memcpy(p + off, &v, 4);
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	v = htole64(v);
	memcpy(p + off, &v, 8);
}

static struct gpu_rect rect_at(const uint8_t *p, size_t off)
{
	return (struct gpu_rect){ u32_at(p, off), u32_at(p, off + 4), u32_at(p, off + 8),
				  u32_at(p, off + 12) };
}

static void dec_ctx_create(const uint8_t *p, struct gpu_req *req)
{
	uint32_t nlen = u32_at(p, 24);

	req->ctx_create.nlen = nlen;
	req->ctx_create.context_init = u32_at(p, 28);
	nlen = nlen < 64 ? nlen : 64;
	memcpy(req->ctx_create.debug_name, p + 32, nlen);
	req->ctx_create.debug_name[nlen] = '\0';
}

static void dec_create_3d(const uint8_t *p, struct gpu_create_3d *c)
{
	uint32_t *f[] = { &c->resource_id, &c->target, &c->format, &c->bind, &c->width,
			  &c->height, &c->depth, &c->array_size, &c->last_level,
			  &c->nr_samples, &c->flags };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		*f[i] = u32_at(p, GPU_HDR_SIZE + 4 * i);
}

/* box (x, y, z, w, h, d), offset, resource_id, level, stride, layer_stride */
static void dec_transfer_3d(const uint8_t *p, struct gpu_transfer_3d *t)
{
	const size_t b = GPU_HDR_SIZE;

	for (size_t i = 0; i < 6; i++)
		t->box[i] = u32_at(p, b + 4 * i);
	t->offset = u64_at(p, b + 24);
	t->resource_id = u32_at(p, b + 32);
	t->level = u32_at(p, b + 36);
	t->stride = u32_at(p, b + 40);
	t->layer_stride = u32_at(p, b + 44);
}

/* The fixed part after the header; p holds gpu_req_size(type) bytes. */
static void dec_body(const uint8_t *p, struct gpu_req *req)
{
	const size_t b = GPU_HDR_SIZE;

	switch (req->hdr.type) {
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
		req->create_2d.resource_id = u32_at(p, b);
		req->create_2d.format = u32_at(p, b + 4);
		req->create_2d.width = u32_at(p, b + 8);
		req->create_2d.height = u32_at(p, b + 12);
		break;
	case VIRTIO_GPU_CMD_RESOURCE_UNREF:
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
	case VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID:
	case VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB:
	case VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE:
	case VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE:
		req->res.resource_id = u32_at(p, b);
		break;
	case VIRTIO_GPU_CMD_SET_SCANOUT:
		req->set_scanout.r = rect_at(p, b);
		req->set_scanout.scanout_id = u32_at(p, b + 16);
		req->set_scanout.resource_id = u32_at(p, b + 20);
		break;
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
		req->flush.r = rect_at(p, b);
		req->flush.resource_id = u32_at(p, b + 16);
		break;
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
		req->transfer.r = rect_at(p, b);
		req->transfer.offset = u64_at(p, b + 16);
		req->transfer.resource_id = u32_at(p, b + 24);
		break;
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
		req->attach_backing.resource_id = u32_at(p, b);
		req->attach_backing.nr_entries = u32_at(p, b + 4);
		break;
	case VIRTIO_GPU_CMD_GET_CAPSET_INFO:
		req->capset_info.index = u32_at(p, b);
		break;
	case VIRTIO_GPU_CMD_GET_CAPSET:
		req->capset.id = u32_at(p, b);
		req->capset.version = u32_at(p, b + 4);
		break;
	case VIRTIO_GPU_CMD_GET_EDID:
		req->edid.scanout = u32_at(p, b);
		break;
	case VIRTIO_GPU_CMD_CTX_CREATE:
		dec_ctx_create(p, req);
		break;
	case VIRTIO_GPU_CMD_SUBMIT_3D:
		req->submit.size = u32_at(p, b);
		req->submit.num_in_fences = u32_at(p, b + 4);
		break;
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_3D:
		dec_create_3d(p, &req->create_3d);
		break;
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D:
	case VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D:
		dec_transfer_3d(p, &req->transfer_3d);
		break;
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB:
		req->create_blob.resource_id = u32_at(p, b);
		req->create_blob.blob_mem = u32_at(p, b + 4);
		req->create_blob.blob_flags = u32_at(p, b + 8);
		req->create_blob.nr_entries = u32_at(p, b + 12);
		req->create_blob.blob_id = u64_at(p, b + 16);
		req->create_blob.size = u64_at(p, b + 24);
		break;
	case VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB:
		req->map_blob.resource_id = u32_at(p, b);
		req->map_blob.offset = u64_at(p, b + 8);
		break;
	case VIRTIO_GPU_CMD_UPDATE_CURSOR:
	case VIRTIO_GPU_CMD_MOVE_CURSOR:
		req->cursor.scanout_id = u32_at(p, b);
		req->cursor.x = u32_at(p, b + 4);
		req->cursor.y = u32_at(p, b + 8);
		req->cursor.resource_id = u32_at(p, b + 16);
		req->cursor.hot_x = u32_at(p, b + 20);
		req->cursor.hot_y = u32_at(p, b + 24);
		break;
	}
}

int gpu_dec_req(const void *buf, size_t len, struct gpu_req *req)
{
	const uint8_t *p = buf;
	size_t size;

	memset(req, 0, sizeof(*req));
	if (len < GPU_HDR_SIZE)
		return -EBADMSG;
	req->hdr = (struct gpu_hdr){
		.type = u32_at(p, 0), .flags = u32_at(p, 4), .fence_id = u64_at(p, 8),
		.ctx_id = u32_at(p, 16), .ring_idx = p[20],
	};
	size = gpu_req_size(req->hdr.type);
	if (!size)
		return -ENOMSG;
	if (len < size)
		return -EMSGSIZE;
	dec_body(p, req);
	return 0;
}

void gpu_dec_mem_entry(const uint8_t raw[GPU_MEM_ENTRY_SIZE], struct gpu_mem_entry *e)
{
	e->addr = u64_at(raw, 0);
	e->length = u32_at(raw, 8);
}

int gpu_dec_cmd(const void *buf, size_t len, struct gpu_cmd *cmd)
{
	if (len != sizeof(*cmd))
		return -EINVAL;
	cmd->op = u32_at(buf, 0);
	cmd->scanout = u32_at(buf, 4);
	return cmd->op == GPU_CMD_SCREENSHOT ? 0 : -EINVAL;
}

void gpu_enc_hdr(uint8_t *out, const struct gpu_hdr *req, uint32_t type)
{
	uint32_t flags = req->flags & (VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX);
	bool fenced = flags & VIRTIO_GPU_FLAG_FENCE;

	memset(out, 0, GPU_HDR_SIZE);
	put32(out, 0, type);
	if (!fenced)
		return;
	put32(out, 4, flags);
	put64(out, 8, req->fence_id);
	put32(out, 16, req->ctx_id);
	out[20] = flags & VIRTIO_GPU_FLAG_INFO_RING_IDX ? req->ring_idx : 0;
}

size_t gpu_enc_display_info(uint8_t *out, unsigned nr_scanouts, uint32_t width, uint32_t height)
{
	memset(out + GPU_HDR_SIZE, 0, GPU_RESP_DISPLAY_INFO - GPU_HDR_SIZE);
	for (unsigned i = 0; i < nr_scanouts && i < VIRTIO_GPU_MAX_SCANOUTS; i++) {
		uint8_t *m = out + GPU_HDR_SIZE + 24 * i;

		put32(m, 8, width);
		put32(m, 12, height);
		put32(m, 16, 1);	/* enabled */
	}
	return GPU_RESP_DISPLAY_INFO;
}

size_t gpu_enc_edid(uint8_t *out, uint32_t width, uint32_t height, uint32_t serial)
{
	memset(out + GPU_HDR_SIZE, 0, GPU_RESP_EDID - GPU_HDR_SIZE);
	put32(out, GPU_HDR_SIZE, GPU_EDID_SIZE);
	gpu_edid(out + GPU_HDR_SIZE + 8, width, height, serial);
	return GPU_RESP_EDID;
}

size_t gpu_enc_capset_info(uint8_t *out, uint32_t id, uint32_t max_version, uint32_t max_size)
{
	put32(out, GPU_HDR_SIZE, id);
	put32(out, GPU_HDR_SIZE + 4, max_version);
	put32(out, GPU_HDR_SIZE + 8, max_size);
	put32(out, GPU_HDR_SIZE + 12, 0);
	return GPU_RESP_CAPSET_INFO;
}

size_t gpu_enc_uuid(uint8_t *out, const uint8_t uuid[16])
{
	memcpy(out + GPU_HDR_SIZE, uuid, 16);
	return GPU_RESP_UUID;
}

size_t gpu_enc_map_info(uint8_t *out, uint32_t map_info)
{
	put32(out, GPU_HDR_SIZE, map_info);
	put32(out, GPU_HDR_SIZE + 4, 0);
	return GPU_RESP_MAP_INFO;
}

void gpu_enc_config(uint8_t *out, uint32_t events_read, uint32_t nr_scanouts, uint32_t nr_capsets)
{
	put32(out, 0, events_read);
	put32(out, 4, 0);		/* events_clear reads as 0 */
	put32(out, 8, nr_scanouts);
	put32(out, 12, nr_capsets);
}

bool gpu_format_rgb(uint32_t format, uint8_t rgb[3])
{
	static const struct {
		uint32_t format;
		uint8_t r, g, b;
	} formats[] = {
		{ VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 2, 1, 0 },
		{ VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 2, 1, 0 },
		{ VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, 1, 2, 3 },
		{ VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, 1, 2, 3 },
		{ VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, 0, 1, 2 },
		{ VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM, 3, 2, 1 },
		{ VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, 3, 2, 1 },
		{ VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, 0, 1, 2 },
	};

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].format == format) {
			rgb[0] = formats[i].r;
			rgb[1] = formats[i].g;
			rgb[2] = formats[i].b;
			return true;
		}
	return false;
}
