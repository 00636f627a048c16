/*
 * virtio-poke gpu-map WINDOW: what a hostile guest kernel can ask of
 * virtio-gpu's host-visible region and Linux's driver never does. On the
 * control queue it makes a cross-domain context (capset 5) with a query
 * ring (a one-page GUEST blob), asks for a 64x64 XRGB8888 image's
 * requirements, makes two mappable HOST3D blobs from the template, and
 * then maps them: outside the WINDOW-byte region, across its end, at an
 * unaligned and a wrapping offset, twice, over each other; a guest blob,
 * a resource that does not exist; unmaps twice. It ends with a
 * GET_DISPLAY_INFO to see the device still serves.
 * One line per step, "gpu-map STEP=ok" or "gpu-map STEP=bad (got 0xG,
 * expected 0xE)"; exit 0 when every answer was the expected one.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_gpu.h>

#include "guest-agent/wayland/cd_msg.h"
#include "virtio_poke.h"

#define CTX		1
#define RES_RING	1
#define RES_A		2
#define RES_B		3
#define RES_NONE	99
#define PAGE_BYTES	4096u
#define IMAGE_SIDE	64u
#define XRGB8888	0x34325258u	/* DRM_FORMAT_XRGB8888, 'XR24' */

struct script {
	struct poke_steps st;
	uint64_t window;
	uint8_t *ring;			/* the query ring's page */
	uint64_t ring_pa;
};

static uint32_t ctx_create(struct script *s)
{
	struct virtio_gpu_ctx_create c = {
		.hdr = poke_gpu_hdr(VIRTIO_GPU_CMD_CTX_CREATE, CTX), .nlen = 4,
		.context_init = CROSS_DOMAIN_CAPSET_ID, .debug_name = "poke",
	};

	return poke_gpu_call(&s->st, &c, sizeof(c));
}

static uint32_t ring_blob(struct script *s)
{
	struct {
		struct virtio_gpu_resource_create_blob blob;
		struct virtio_gpu_mem_entry page;
	} c = {
		.blob = { .hdr = poke_gpu_hdr(VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB, CTX),
			  .resource_id = RES_RING, .blob_mem = VIRTIO_GPU_BLOB_MEM_GUEST,
			  .nr_entries = 1, .size = PAGE_BYTES },
		.page = { .addr = s->ring_pa, .length = PAGE_BYTES },
	};

	return poke_gpu_call(&s->st, &c, sizeof(c));
}

/* A SUBMIT_3D of one cross-domain command of len bytes at cmd. */
static uint32_t submit(struct script *s, const void *cmd, size_t len)
{
	struct {
		struct virtio_gpu_cmd_submit submit;
		uint8_t cmd[64];
	} c = { .submit = { .hdr = poke_gpu_hdr(VIRTIO_GPU_CMD_SUBMIT_3D, CTX),
			    .size = (uint32_t)len } };

	if (!len || len > sizeof(c.cmd))
		return 0;
	memcpy(c.cmd, cmd, len);
	return poke_gpu_call(&s->st, &c, (uint32_t)(sizeof(c.submit) + len));
}

static uint32_t init_and_query(struct script *s, struct cross_domain_image_requirements *req)
{
	uint8_t cmd[64];
	uint32_t rc = submit(s, cmd, cd_init(cmd, sizeof(cmd), 16, RES_RING, 0,
					     CROSS_DOMAIN_CHANNEL_WAYLAND));

	if (rc != VIRTIO_GPU_RESP_OK_NODATA)
		return rc;
	rc = submit(s, cmd, cd_image_req(cmd, sizeof(cmd), IMAGE_SIDE, IMAGE_SIDE, XRGB8888,
					 CROSS_DOMAIN_USE_SW_WRITE_OFTEN));
	memcpy(req, s->ring, sizeof(*req));
	return rc;
}

static uint32_t host_blob(struct script *s, uint32_t id,
			  const struct cross_domain_image_requirements *req)
{
	struct virtio_gpu_resource_create_blob c = {
		.hdr = poke_gpu_hdr(VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB, CTX), .resource_id = id,
		.blob_mem = VIRTIO_GPU_BLOB_MEM_HOST3D,
		.blob_flags = VIRTIO_GPU_BLOB_FLAG_USE_MAPPABLE,
		.blob_id = req->blob_id, .size = req->size,
	};

	return poke_gpu_call(&s->st, &c, sizeof(c));
}

static uint32_t map(struct script *s, uint32_t id, uint64_t offset)
{
	struct virtio_gpu_resource_map_blob c = {
		.hdr = poke_gpu_hdr(VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB, CTX), .resource_id = id,
		.offset = offset,
	};

	return poke_gpu_call(&s->st, &c, sizeof(c));
}

static uint32_t unmap(struct script *s, uint32_t id)
{
	struct virtio_gpu_resource_unmap_blob c = {
		.hdr = poke_gpu_hdr(VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB, CTX), .resource_id = id,
	};

	return poke_gpu_call(&s->st, &c, sizeof(c));
}

static uint32_t display_info(struct script *s)
{
	struct virtio_gpu_ctrl_hdr c = poke_gpu_hdr(VIRTIO_GPU_CMD_GET_DISPLAY_INFO, 0);

	return poke_gpu_call(&s->st, &c, sizeof(c));
}

static int parse_window(int argc, char **argv, uint64_t *window)
{
	char *end;

	if (argc != 1)
		return -1;
	*window = strtoull(argv[0], &end, 0);
	return *end || end == argv[0] || *window < 1u << 20 || *window % PAGE_BYTES ? -1 : 0;
}

static void hostile_maps(struct script *s, uint64_t size)
{
	const uint32_t refused = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	const uint32_t mapped = VIRTIO_GPU_RESP_OK_MAP_INFO;
	uint64_t end_of_a = (size + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES;

	poke_expect(&s->st, "map-outside", map(s, RES_A, s->window), refused);
	poke_expect(&s->st, "map-across-the-end", map(s, RES_A, s->window - PAGE_BYTES), refused);
	poke_expect(&s->st, "map-unaligned", map(s, RES_A, 0x10), refused);
	poke_expect(&s->st, "map-wrapping", map(s, RES_A, UINT64_MAX & ~(uint64_t)(PAGE_BYTES - 1)),
		    refused);
	poke_expect(&s->st, "map-guest-blob", map(s, RES_RING, 0), refused);
	poke_expect(&s->st, "map-unknown-resource", map(s, RES_NONE, 0),
		    VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	poke_expect(&s->st, "map", map(s, RES_A, 0), mapped);
	poke_expect(&s->st, "map-twice", map(s, RES_A, end_of_a), refused);
	poke_expect(&s->st, "map-overlapping", map(s, RES_B, end_of_a - PAGE_BYTES), refused);
	poke_expect(&s->st, "map-adjacent", map(s, RES_B, end_of_a), mapped);
	poke_expect(&s->st, "unmap", unmap(s, RES_A), VIRTIO_GPU_RESP_OK_NODATA);
	poke_expect(&s->st, "unmap-twice", unmap(s, RES_A), refused);
	poke_expect(&s->st, "map-again", map(s, RES_A, 0), mapped);
}

int poke_gpu_map(struct poke *p, int argc, char **argv)
{
	struct script s = { .st = { .p = p, .script = "gpu-map" } };
	struct cross_domain_image_requirements req;

	if (parse_window(argc, argv, &s.window)) {
		fputs("virtio-poke: gpu-map takes the host-visible region's size in bytes "
		      "(at least 1 MiB, whole pages)\n", stderr);
		return 1;
	}
	s.ring_pa = poke_page(&s.ring);
	poke_expect(&s.st, "ctx-create", ctx_create(&s), VIRTIO_GPU_RESP_OK_NODATA);
	poke_expect(&s.st, "ring-blob", ring_blob(&s), VIRTIO_GPU_RESP_OK_NODATA);
	poke_expect(&s.st, "image-requirements", init_and_query(&s, &req),
		    VIRTIO_GPU_RESP_OK_NODATA);
	if (!s.st.unexpected && (!req.size || req.size > s.window / 4)) {
		printf("gpu-map template=bad (size %" PRIu64 ")\n", (uint64_t)req.size);
		s.st.unexpected++;
	}
	poke_expect(&s.st, "host-blob-a", host_blob(&s, RES_A, &req), VIRTIO_GPU_RESP_OK_NODATA);
	poke_expect(&s.st, "host-blob-b", host_blob(&s, RES_B, &req), VIRTIO_GPU_RESP_OK_NODATA);
	if (!s.st.unexpected)
		hostile_maps(&s, req.size);
	poke_expect(&s.st, "still-serving", display_info(&s), VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	return poke_steps_end(&s.st);
}
