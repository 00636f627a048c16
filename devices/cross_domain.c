/* STUB until hC's lands: capset 5 and contexts that do nothing yet. */
#include <errno.h>
#include <string.h>
#include <linux/virtio_gpu.h>

#include "devices/cross_domain_proto.h"
#include "devices/gpu_ctx.h"

static void cd_capset(struct gpu *gpu, uint32_t version, void *buf)
{
	struct cross_domain_capabilities caps = {
		.version = CROSS_DOMAIN_VERSION,
		.supported_channels = gpu_wayland_enabled(gpu) ? 1u << CROSS_DOMAIN_CHANNEL_WAYLAND : 0,
		.supports_dmabuf = gpu_supports_dmabuf(gpu),
	};

	(void)version;
	memcpy(buf, &caps, sizeof(caps));
}

static int cd_create(struct gpu_ctx *ctx)
{
	(void)ctx;
	return 0;
}

static void cd_destroy(struct gpu_ctx *ctx)
{
	(void)ctx;
}

static uint32_t cd_submit(struct gpu_ctx *ctx, const uint8_t *cmd, uint32_t len)
{
	(void)ctx, (void)cmd, (void)len;
	return VIRTIO_GPU_RESP_ERR_UNSPEC;
}

static bool cd_fence(struct gpu_ctx *ctx, uint8_t ring_idx, uint64_t fence_id)
{
	(void)ctx, (void)ring_idx, (void)fence_id;
	return true;
}

static uint32_t cd_create_blob(struct gpu_ctx *ctx, uint64_t blob_id, uint64_t size,
			       uint32_t blob_flags, int *fd, uint32_t *map_info)
{
	(void)ctx, (void)blob_id, (void)size, (void)blob_flags, (void)fd, (void)map_info;
	return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
}

const struct gpu_ctx_type cross_domain_type = {
	.name = "cross-domain", .capset_id = CROSS_DOMAIN_CAPSET_ID, .capset_max_version = 0,
	.capset_size = sizeof(struct cross_domain_capabilities),
	.capset = cd_capset, .create = cd_create, .destroy = cd_destroy, .submit = cd_submit,
	.fence = cd_fence, .create_blob = cd_create_blob,
};
