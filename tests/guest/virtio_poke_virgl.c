/*
 * virtio-poke gpu-virgl: hostile virgl input Linux's driver and Mesa never
 * send, on virtio-gpu's control queue. Streams of garbage, of a length
 * that is not whole dwords and naming resources that do not exist, each
 * on a context of its own; 3D resources of huge, empty and unknown shapes;
 * an attach of an unknown resource; transfers outside the resource and
 * past its one page of backing, on a context of their own too (once
 * virglrenderer refused something of a context it ignores that
 * context's later commands, silently). Then the device must still render: a 16x16
 * render target cleared by a fenced stream on a clean context and read
 * back through its backing, every pixel the clear colour. It ends with a
 * GET_DISPLAY_INFO. One line per step, "gpu-virgl STEP=ok" or
 * "gpu-virgl STEP=bad (got 0xG, expected 0xE)"; exit 0 when every
 * answer was the expected one.
 */
#include <stdio.h>
#include <string.h>
#include <linux/virtio_gpu.h>

#include "virtio_poke.h"

#define CTX_GOOD	1
#define CTX_GARBAGE	2
#define CTX_ODD		3
#define CTX_UNKNOWN	4
#define CTX_TRANSFERS	5
#define RES_RT		5
#define RES_SPARE	6
#define RES_NONE	0x7777u
#define SIDE		16u
#define PAGE_BYTES	4096u

/* virgl's stream ABI (Mesa's virgl_protocol.h) and gallium's values. */
#define VIRGL_CMD(cmd, obj, len) ((uint32_t)(cmd) | (uint32_t)(obj) << 8 | (uint32_t)(len) << 16)
#define CCMD_CREATE_OBJECT		1
#define CCMD_SET_FRAMEBUFFER_STATE	5
#define CCMD_CLEAR			7
#define OBJECT_SURFACE			8
#define FORMAT_R8G8B8A8_UNORM		67
#define PIPE_TEXTURE_2D			2
#define BIND_RENDER_TARGET		(1u << 1)
#define CLEAR_COLOR0			(1u << 2)

struct script {
	struct poke_steps st;
	uint8_t *page;			/* RES_RT's backing */
	uint64_t page_pa;
};

/* context_init 0: the device's first capset, virgl2. */
static uint32_t ctx_create(struct script *s, uint32_t ctx)
{
	struct virtio_gpu_ctx_create c = {
		.hdr = poke_gpu_hdr(VIRTIO_GPU_CMD_CTX_CREATE, ctx), .nlen = 4,
		.debug_name = "poke",
	};

	return poke_gpu_call(&s->st, &c, sizeof(c));
}

static uint32_t submit(struct script *s, uint32_t ctx, const void *cmd, uint32_t len, bool fenced)
{
	struct {
		struct virtio_gpu_cmd_submit submit;
		uint8_t cmd[128];
	} c = { .submit = { .hdr = poke_gpu_hdr(VIRTIO_GPU_CMD_SUBMIT_3D, ctx), .size = len } };

	if (len > sizeof(c.cmd))
		return 0;
	if (fenced) {
		c.submit.hdr.flags = VIRTIO_GPU_FLAG_FENCE;
		c.submit.hdr.fence_id = 1;
	}
	memcpy(c.cmd, cmd, len);
	return poke_gpu_call(&s->st, &c, (uint32_t)(sizeof(c.submit) + len));
}

static uint32_t create_3d(struct script *s, uint32_t id, uint32_t target, uint32_t w, uint32_t h)
{
	struct virtio_gpu_resource_create_3d c = {
		.hdr = poke_gpu_hdr(VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, 0), .resource_id = id,
		.target = target, .format = FORMAT_R8G8B8A8_UNORM, .bind = BIND_RENDER_TARGET,
		.width = w, .height = h, .depth = 1, .array_size = 1,
	};

	return poke_gpu_call(&s->st, &c, sizeof(c));
}

static uint32_t attach_page(struct script *s, uint32_t id)
{
	struct {
		struct virtio_gpu_resource_attach_backing attach;
		struct virtio_gpu_mem_entry page;
	} c = {
		.attach = { .hdr = poke_gpu_hdr(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, 0),
			.resource_id = id,
			    .nr_entries = 1 },
		.page = { .addr = s->page_pa, .length = PAGE_BYTES },
	};

	return poke_gpu_call(&s->st, &c, sizeof(c));
}

static uint32_t ctx_attach(struct script *s, uint32_t ctx, uint32_t id)
{
	struct virtio_gpu_ctx_resource c = { .hdr = poke_gpu_hdr(VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE,
								 ctx),
					     .resource_id = id };

	return poke_gpu_call(&s->st, &c, sizeof(c));
}

static uint32_t transfer(struct script *s, uint32_t ctx, uint32_t type, uint32_t id, uint32_t w,
			 uint32_t h, uint64_t offset)
{
	struct virtio_gpu_transfer_host_3d c = {
		.hdr = poke_gpu_hdr(type, ctx), .box = { .w = w, .h = h, .d = 1 }, .offset = offset,
		.resource_id = id, .stride = w * 4,
	};

	return poke_gpu_call(&s->st, &c, sizeof(c));
}

static void hostile_streams(struct script *s)
{
	const uint32_t refused = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	uint32_t garbage[16], surface[6] = { VIRGL_CMD(CCMD_CREATE_OBJECT, OBJECT_SURFACE, 5), 9,
					     RES_NONE, FORMAT_R8G8B8A8_UNORM, 0, 0 };

	for (unsigned i = 0; i < 16; i++)
		garbage[i] = 0xdeadbeefu * (i + 1);
	poke_expect(&s->st, "ctx-garbage", ctx_create(s, CTX_GARBAGE), VIRTIO_GPU_RESP_OK_NODATA);
	poke_expect(&s->st, "stream-garbage",
		    submit(s, CTX_GARBAGE, garbage, sizeof(garbage), false), refused);
	poke_expect(&s->st, "ctx-odd", ctx_create(s, CTX_ODD), VIRTIO_GPU_RESP_OK_NODATA);
	poke_expect(&s->st, "stream-not-dwords", submit(s, CTX_ODD, garbage, 7, false), refused);
	poke_expect(&s->st, "ctx-unknown", ctx_create(s, CTX_UNKNOWN), VIRTIO_GPU_RESP_OK_NODATA);
	poke_expect(&s->st, "stream-unknown-resource",
		    submit(s, CTX_UNKNOWN, surface, sizeof(surface), false), refused);
	poke_expect(&s->st, "stream-unknown-context",
		    submit(s, 99, garbage, sizeof(garbage), false),
		    VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
}

static void hostile_resources(struct script *s)
{
	const uint32_t refused = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;

	poke_expect(&s->st, "create-huge", create_3d(s, RES_SPARE, PIPE_TEXTURE_2D, 16384, 16384),
		    VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	poke_expect(&s->st, "create-too-wide",
		    create_3d(s, RES_SPARE, PIPE_TEXTURE_2D, 1u << 20, 1), refused);
	poke_expect(&s->st, "create-empty", create_3d(s, RES_SPARE, PIPE_TEXTURE_2D, 0, SIDE),
		    refused);
	poke_expect(&s->st, "create-unknown-target", create_3d(s, RES_SPARE, 99, SIDE, SIDE),
		    refused);
	poke_expect(&s->st, "create-id-0", create_3d(s, 0, PIPE_TEXTURE_2D, SIDE, SIDE),
		    VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	poke_expect(&s->st, "attach-unknown", ctx_attach(s, CTX_GOOD, RES_NONE),
		    VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
}

static void hostile_transfers(struct script *s)
{
	const uint32_t refused = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	const uint32_t to = VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D;
	const uint32_t from = VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D;

	poke_expect(&s->st, "ctx-transfers", ctx_create(s, CTX_TRANSFERS),
		    VIRTIO_GPU_RESP_OK_NODATA);
	poke_expect(&s->st, "ctx-transfers-attach", ctx_attach(s, CTX_TRANSFERS, RES_RT),
		    VIRTIO_GPU_RESP_OK_NODATA);
	poke_expect(&s->st, "transfer-outside",
		    transfer(s, CTX_TRANSFERS, to, RES_RT, SIDE + 1, SIDE, 0), refused);
	poke_expect(&s->st, "transfer-past-backing",
		    transfer(s, CTX_TRANSFERS, from, RES_RT, SIDE, SIDE, PAGE_BYTES - 64), refused);
	poke_expect(&s->st, "transfer-offset-outside",
		    transfer(s, CTX_TRANSFERS, to, RES_RT, 1, 1, 1ull << 40), refused);
	poke_expect(&s->st, "transfer-unknown",
		    transfer(s, CTX_TRANSFERS, to, RES_NONE, SIDE, SIDE, 0),
		    VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
}

/* A surface on RES_RT as the framebuffer, cleared; fenced, so done when answered. */
static uint32_t clear_rt(struct script *s)
{
	const float rgba[4] = { 1.0f, 0.5f, 0.25f, 1.0f };
	uint32_t dw[24], n = 0;

	dw[n++] = VIRGL_CMD(CCMD_CREATE_OBJECT, OBJECT_SURFACE, 5);
	dw[n++] = 1;
	dw[n++] = RES_RT;
	dw[n++] = FORMAT_R8G8B8A8_UNORM;
	dw[n++] = 0;
	dw[n++] = 0;
	dw[n++] = VIRGL_CMD(CCMD_SET_FRAMEBUFFER_STATE, 0, 3);
	dw[n++] = 1;
	dw[n++] = 0;
	dw[n++] = 1;
	dw[n++] = VIRGL_CMD(CCMD_CLEAR, 0, 8);
	dw[n++] = CLEAR_COLOR0;
	memcpy(dw + n, rgba, sizeof(rgba));
	n += 4;
	dw[n++] = 0;		/* depth, a double */
	dw[n++] = 0;
	dw[n++] = 0;		/* stencil */
	return submit(s, CTX_GOOD, dw, 4 * n, true);
}

static void render_after(struct script *s)
{
	unsigned wrong = 0;

	memset(s->page, 0, PAGE_BYTES);
	poke_expect(&s->st, "render-clear", clear_rt(s), VIRTIO_GPU_RESP_OK_NODATA);
	poke_expect(&s->st, "render-read-back",
		    transfer(s, CTX_GOOD, VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, RES_RT, SIDE, SIDE,
			     0),
		    VIRTIO_GPU_RESP_OK_NODATA);
	for (unsigned i = 0; i < SIDE * SIDE; i++) {
		const uint8_t *px = s->page + 4 * i;

		/* 0.5 and 0.25 may round either way: within 1 LSB. */
		if (px[0] != 0xff || px[3] != 0xff || px[1] < 0x7f || px[1] > 0x80 ||
		    px[2] < 0x3f || px[2] > 0x40)
			wrong++;
	}
	if (wrong)
		printf("gpu-virgl render-pixels=bad (%u of %u not the clear colour; the first "
		       "%u.%u.%u.%u)\n", wrong, SIDE * SIDE, s->page[0], s->page[1], s->page[2],
		       s->page[3]);
	else
		printf("gpu-virgl render-pixels=ok\n");
	s->st.unexpected += wrong ? 1 : 0;
}

int poke_gpu_virgl(struct poke *p, int argc, char **argv)
{
	struct script s = { .st = { .p = p, .script = "gpu-virgl" } };
	struct virtio_gpu_ctrl_hdr info = poke_gpu_hdr(VIRTIO_GPU_CMD_GET_DISPLAY_INFO, 0);

	(void)argv;
	if (argc) {
		fputs("virtio-poke: gpu-virgl takes no arguments\n", stderr);
		return 1;
	}
	s.page_pa = poke_page(&s.page);
	poke_expect(&s.st, "ctx-good", ctx_create(&s, CTX_GOOD), VIRTIO_GPU_RESP_OK_NODATA);
	poke_expect(&s.st, "create-rt", create_3d(&s, RES_RT, PIPE_TEXTURE_2D, SIDE, SIDE),
		    VIRTIO_GPU_RESP_OK_NODATA);
	poke_expect(&s.st, "attach-backing", attach_page(&s, RES_RT), VIRTIO_GPU_RESP_OK_NODATA);
	poke_expect(&s.st, "ctx-attach", ctx_attach(&s, CTX_GOOD, RES_RT),
		    VIRTIO_GPU_RESP_OK_NODATA);
	hostile_streams(&s);
	hostile_resources(&s);
	hostile_transfers(&s);
	if (!s.st.unexpected)
		render_after(&s);
	poke_expect(&s.st, "still-serving", poke_gpu_call(&s.st, &info, sizeof(info)),
		    VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	return poke_steps_end(&s.st);
}
