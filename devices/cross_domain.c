/*
 * The cross-domain context type (virtio-gpu capset 5): a guest Wayland
 * proxy's connection to the host compositor. This file has the type's
 * ops, the command stream of SUBMIT_3D, INIT and the fences; the rest is
 * in the files cross_domain_priv.h lists. Every command's size is checked
 * against its struct, and a bad command stops the stream with an error.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_gpu.h>

#include "devices/cross_domain.h"
#include "devices/cross_domain_priv.h"
#include "vmm/log.h"

int cross_domain_prepare(void)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };

	return sigaction(SIGPIPE, &sa, NULL) ? -errno : 0;
}

static void cd_capset(struct gpu *gpu, uint32_t version, void *buf)
{
	struct cross_domain_capabilities caps = {
		.version = CROSS_DOMAIN_VERSION,
		.supported_channels = gpu_wayland_enabled(gpu) ? 1u << CROSS_DOMAIN_CHANNEL_WAYLAND : 0,
		.supports_dmabuf = gpu_supports_dmabuf(gpu),
	};

	memcpy(buf, &caps, sizeof(caps));
}

static int cd_create(struct gpu_ctx *ctx)
{
	struct cd_ctx *cd = calloc(1, sizeof(*cd));

	if (!cd)
		return -ENOMEM;
	cd->ctx = ctx;
	cd->sock = -1;
	cd->next_id = CROSS_DOMAIN_ITEM_ID_START;
	cd->next_read_pipe = CROSS_DOMAIN_PIPE_READ_START + 1;
	ctx->priv = cd;
	return 0;
}

static void cd_destroy(struct gpu_ctx *ctx)
{
	struct cd_ctx *cd = ctx->priv;

	if (!cd)
		return;
	cd_host_close(cd);
	cd_items_free(cd);
	cd_templates_free(cd);
	cd_poller_leave(cd);
	free(cd);
	ctx->priv = NULL;
}

/* Ids of items and templates; the read pipes' space above is the guest's. */
uint32_t cd_fresh_id(struct cd_ctx *cd)
{
	if (cd->next_id >= CROSS_DOMAIN_PIPE_READ_START)
		return 0;
	return cd->next_id++;
}

/* One message at offset 0 of a ring, if the ring is still this context's. */
int cd_ring_write(struct cd_ctx *cd, uint32_t ring, const void *buf, size_t len)
{
	struct gpu_resource *res = ring ? gpu_ctx_resource(cd->ctx, ring) : NULL;

	if (!res || gpu_res_write(res, 0, buf, len)) {
		cd_warn(cd->ctx, "its ring (resource %u) is gone: "
				"message dropped", ring);
		return -EINVAL;
	}
	return 0;
}

static bool ring_usable(struct gpu_ctx *ctx, uint32_t id)
{
	struct gpu_resource *res = gpu_ctx_resource(ctx, id);
	uint8_t probe[8];

	return res && gpu_res_size(res) >= CROSS_DOMAIN_RING_SIZE &&
	       !gpu_res_read(res, CROSS_DOMAIN_RING_SIZE - sizeof(probe), probe, sizeof(probe));
}

/* The three sizes of INIT, as one struct; the legacy one has one ring. */
static int parse_init(const uint8_t *cmd, uint16_t size, struct cross_domain_init *init)
{
	memset(init, 0, sizeof(*init));
	switch (size) {
	case CROSS_DOMAIN_INIT_SIZE_LEGACY: {
		struct cross_domain_init_legacy legacy;

		memcpy(&legacy, cmd, sizeof(legacy));
		init->query_ring_id = init->channel_ring_id = legacy.query_ring_id;
		init->channel_type = legacy.channel_type;
		return 0;
	}
	case CROSS_DOMAIN_INIT_SIZE_V1:
	case CROSS_DOMAIN_INIT_SIZE:
		memcpy(init, cmd, size);
		return 0;
	default:
		return -EINVAL;
	}
}

static uint32_t cd_init(struct cd_ctx *cd, const uint8_t *cmd, uint16_t size)
{
	struct gpu_ctx *ctx = cd->ctx;
	struct cross_domain_init init;
	const char *why = NULL;
	int sock;

	if (cd->inited)
		why = "a second INIT";
	else if (parse_init(cmd, size, &init))
		why = "INIT of a size that is not 16, 20 or 36";
	else if (init.channel_type == CD_CHANNEL_INTERNAL)
		why = "INIT of an internal socket (not supported)";
	else if (init.channel_type != CROSS_DOMAIN_CHANNEL_WAYLAND || !gpu_wayland_enabled(ctx->gpu))
		why = "INIT of a channel type other than Wayland";
	else if (!ring_usable(ctx, init.query_ring_id) || !ring_usable(ctx, init.channel_ring_id))
		why = "a ring that is not a page of guest memory attached to this context";
	if (why) {
		cd_warn(ctx, "%s", why);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	sock = gpu_host_connect(ctx->gpu);
	if (sock < 0) {
		cd_warn(ctx, "cannot connect to the compositor: %s", strerror(-sock));
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	if (cd_poller_join(cd) || cd_source_add(cd, &cd->sock_src, sock, NULL)) {
		close(sock);
		cd_poller_leave(cd);
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	cd->sock = sock;
	cd->query_ring = init.query_ring_id;
	cd->channel_ring = init.channel_ring_id;
	cd->inited = true;
	return 0;
}

static uint32_t dispatch(struct cd_ctx *cd, const uint8_t *cmd, uint8_t op, uint16_t size)
{
	switch (op) {
	case CROSS_DOMAIN_CMD_INIT:
		return cd_init(cd, cmd, size);
	case CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS:
		return cd_get_image_requirements(cd, cmd, size);
	case CROSS_DOMAIN_CMD_POLL:
		return 0;	/* the ring-1 fence that comes with it does the work */
	case CROSS_DOMAIN_CMD_SEND:
		return cd_send(cd, cmd, size);
	case CROSS_DOMAIN_CMD_WRITE:
		return cd_write(cd, cmd, size);
	default:
		cd_warn(cd->ctx, "command %u not supported", op);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
}

/* Commands back to back, each header's cmd_size >= 8 and within the rest. */
static uint32_t cd_submit(struct gpu_ctx *ctx, const uint8_t *cmd, uint32_t len)
{
	struct cd_ctx *cd = ctx->priv;
	uint32_t off = 0;

	while (off < len) {
		struct cross_domain_hdr hdr;
		uint32_t rc;

		if (len - off < sizeof(hdr)) {
			cd_warn(ctx, "%u stray bytes after the last command", len - off);
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		}
		memcpy(&hdr, cmd + off, sizeof(hdr));
		if (hdr.cmd_size < sizeof(hdr) || hdr.cmd_size > len - off) {
			cd_warn(ctx, "cmd_size %u with %u bytes left", hdr.cmd_size, len - off);
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		}
		rc = dispatch(cd, cmd + off, hdr.cmd, hdr.cmd_size);
		if (rc)
			return rc;
		off += hdr.cmd_size;
	}
	return 0;
}

/* Ring 0's fences (queries) are answered by the time submit returns. */
static bool cd_fence(struct gpu_ctx *ctx, uint8_t ring_idx, uint64_t fence_id)
{
	if (ring_idx != CROSS_DOMAIN_CHANNEL_RING)
		return true;
	return cd_fence_park(ctx->priv, fence_id);
}

static uint32_t cd_create_blob(struct gpu_ctx *ctx, uint64_t blob_id, uint64_t size,
			       uint32_t blob_flags, int *fd, uint32_t *map_info)
{
	struct cd_ctx *cd = ctx->priv;
	struct cd_template *tmpl = cd_template_find(cd, blob_id);
	struct cd_item *item = tmpl ? NULL : cd_item_find(cd, blob_id);

	if (tmpl && size == tmpl->reply.size) {
		tmpl->last_use = ++cd->clock;
		*fd = cd_memfd_new(size);
		if (*fd < 0)
			return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	} else if (item && item->kind == CD_ITEM_BLOB && size && size <= item->held) {
		*fd = item->fd;
		item->fd = -1;		/* the resource owns it now */
		cd_item_remove(cd, item);
	} else {
		cd_warn(ctx, "no blob %llu of %llu bytes", (unsigned long long)blob_id, (unsigned long long)size);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	*map_info = VIRTIO_GPU_MAP_CACHE_CACHED;
	return 0;
}

static void cd_detach(struct gpu_ctx *ctx, uint32_t res_id)
{
	struct cd_ctx *cd = ctx->priv;

	if (cd->query_ring == res_id)
		cd->query_ring = 0;
	if (cd->channel_ring == res_id)
		cd->channel_ring = 0;
}

const struct gpu_ctx_type cross_domain_type = {
	.name = "cross-domain",
	.capset_id = CROSS_DOMAIN_CAPSET_ID,
	.capset_max_version = CROSS_DOMAIN_VERSION,
	.capset_size = sizeof(struct cross_domain_capabilities),
	.capset = cd_capset,
	.create = cd_create,
	.destroy = cd_destroy,
	.submit = cd_submit,
	.fence = cd_fence,
	.create_blob = cd_create_blob,
	.detach = cd_detach,
};
