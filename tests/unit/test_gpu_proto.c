/*
 * virtio-gpu's wire format (devices/gpu_proto.c, gpu_edid.c): every
 * command's fixed size against the kernel's structs, decoding of fields
 * at their offsets, short and unknown commands, response headers that
 * echo a fence, the encoded responses' sizes and fields, the config, the
 * EDID block (header, checksum, the mode in its detailed timing), the
 * formats, and the VMM's screenshot command.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "check.h"
#include "devices/cross_domain_proto.h"
#include "devices/gpu_proto.h"

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

static uint32_t get32(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, 4);
	return le32toh(v);
}

static void test_sizes(void)
{
	CHECK_EQ(gpu_req_size(VIRTIO_GPU_CMD_GET_DISPLAY_INFO), 24);
	CHECK_EQ(gpu_req_size(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D), 40);
	CHECK_EQ(gpu_req_size(VIRTIO_GPU_CMD_SET_SCANOUT), 48);
	CHECK_EQ(gpu_req_size(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D), 56);
	CHECK_EQ(gpu_req_size(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING), 32);
	CHECK_EQ(gpu_req_size(VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB), 56);
	CHECK_EQ(gpu_req_size(VIRTIO_GPU_CMD_CTX_CREATE), 96);
	CHECK_EQ(gpu_req_size(VIRTIO_GPU_CMD_SUBMIT_3D), 32);
	CHECK_EQ(gpu_req_size(VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB), 40);
	CHECK_EQ(gpu_req_size(VIRTIO_GPU_CMD_UPDATE_CURSOR), 56);
	CHECK_EQ(gpu_req_size(VIRTIO_GPU_CMD_RESOURCE_CREATE_3D), 72);
	CHECK_EQ(gpu_req_size(VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D), 72);
	CHECK_EQ(gpu_req_size(0x9999), 0);
	CHECK_EQ(GPU_RESP_DISPLAY_INFO, 408);
	CHECK_EQ(GPU_RESP_EDID, 1056);
	CHECK_EQ(GPU_RESP_MAP_INFO, 32);
	/* The cross-domain layouts the issue names (static asserts pin the rest). */
	CHECK_EQ(sizeof(struct cross_domain_send_receive), 352);
	CHECK_EQ(CROSS_DOMAIN_MAX_IDENTIFIERS, 28);
	CHECK_EQ(sizeof(struct cross_domain_image_requirements), 64);
}

static void hdr(uint8_t *p, uint32_t type, uint32_t flags, uint64_t fence, uint32_t ctx,
		uint8_t ring)
{
	memset(p, 0, GPU_HDR_SIZE);
	put32(p, 0, type);
	put32(p, 4, flags);
	put64(p, 8, fence);
	put32(p, 16, ctx);
	p[20] = ring;
}

static void test_decode(void)
{
	uint8_t b[GPU_MAX_CMD_SIZE] = { 0 };
	struct gpu_req r;

	hdr(b, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, 3, 0x1122334455667788ull, 7, 9);
	put32(b, 24, 1);
	put32(b, 28, 2);
	put32(b, 32, 3);
	put32(b, 36, 4);
	put64(b, 40, 0xabcdef012345ull);
	put32(b, 48, 42);
	CHECK_EQ(gpu_dec_req(b, 56, &r), 0);
	CHECK_EQ(r.hdr.type, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D);
	CHECK_EQ(r.hdr.flags, 3);
	CHECK(r.hdr.fence_id == 0x1122334455667788ull);
	CHECK_EQ(r.hdr.ctx_id, 7);
	CHECK_EQ(r.hdr.ring_idx, 9);
	CHECK_EQ(r.transfer.r.x, 1);
	CHECK_EQ(r.transfer.r.height, 4);
	CHECK(r.transfer.offset == 0xabcdef012345ull);
	CHECK_EQ(r.transfer.resource_id, 42);
	CHECK_EQ(gpu_dec_req(b, 55, &r), -EMSGSIZE);
	CHECK_EQ(r.hdr.type, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D);	/* the header still */
	CHECK_EQ(gpu_dec_req(b, 23, &r), -EBADMSG);
	put32(b, 0, 0x1300);
	CHECK_EQ(gpu_dec_req(b, sizeof(b), &r), -ENOMSG);

	hdr(b, VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB, 0, 0, 5, 0);
	put32(b, 24, 10);
	put32(b, 28, VIRTIO_GPU_BLOB_MEM_HOST3D);
	put32(b, 32, 3);
	put32(b, 36, 0);
	put64(b, 40, 77);
	put64(b, 48, 1ull << 33);
	CHECK_EQ(gpu_dec_req(b, 56, &r), 0);
	CHECK_EQ(r.create_blob.resource_id, 10);
	CHECK_EQ(r.create_blob.blob_mem, VIRTIO_GPU_BLOB_MEM_HOST3D);
	CHECK_EQ(r.create_blob.blob_flags, 3);
	CHECK_EQ(r.create_blob.blob_id, 77);
	CHECK(r.create_blob.size == 1ull << 33);

	hdr(b, VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB, 0, 0, 0, 0);
	put32(b, 24, 10);
	put64(b, 32, 0x200000);
	CHECK_EQ(gpu_dec_req(b, 40, &r), 0);
	CHECK_EQ(r.map_blob.resource_id, 10);
	CHECK_EQ(r.map_blob.offset, 0x200000);

	hdr(b, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 0, 0, 0);
	put32(b, 24, 1);
	put32(b, 28, 100);
	put32(b, 32, 200);
	put32(b, 40, 9);
	put32(b, 44, 3);
	put32(b, 48, 4);
	CHECK_EQ(gpu_dec_req(b, 56, &r), 0);
	CHECK_EQ(r.cursor.scanout_id, 1);
	CHECK_EQ(r.cursor.y, 200);
	CHECK_EQ(r.cursor.resource_id, 9);
	CHECK_EQ(r.cursor.hot_y, 4);
}

/* A debug name is at most 64 bytes and always terminated, whatever nlen says. */
static void test_ctx_create(void)
{
	uint8_t b[GPU_MAX_CMD_SIZE];
	struct gpu_req r;

	hdr(b, VIRTIO_GPU_CMD_CTX_CREATE, 0, 0, 3, 0);
	memset(b + 24, 0, sizeof(b) - 24);
	put32(b, 24, 4);
	put32(b, 28, 0x105);
	memcpy(b + 32, "wlprxxxx", 8);
	CHECK_EQ(gpu_dec_req(b, sizeof(b), &r), 0);
	CHECK_EQ(r.ctx_create.context_init, 0x105);
	CHECK_STR(r.ctx_create.debug_name, "wlpr");
	put32(b, 24, 0xffffffff);
	memset(b + 32, 'a', 64);
	CHECK_EQ(gpu_dec_req(b, sizeof(b), &r), 0);
	CHECK_EQ(strlen(r.ctx_create.debug_name), 64);
	CHECK(r.ctx_create.nlen == 0xffffffffu);
}

static void test_mem_entry(void)
{
	uint8_t raw[16];
	struct gpu_mem_entry e;

	put64(raw, 0, 0x123456789000ull);
	put32(raw, 8, 4096);
	put32(raw, 12, 0xffffffff);
	gpu_dec_mem_entry(raw, &e);
	CHECK(e.addr == 0x123456789000ull);
	CHECK_EQ(e.length, 4096);
}

static void test_resp_hdr(void)
{
	struct gpu_hdr h = { .type = VIRTIO_GPU_CMD_SUBMIT_3D, .fence_id = 99, .ctx_id = 4,
			     .ring_idx = 1,
			     .flags = VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX | 0x80 };
	uint8_t out[GPU_HDR_SIZE];

	gpu_enc_hdr(out, &h, VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(get32(out, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(get32(out, 4), VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX);
	CHECK_EQ(get32(out, 8), 99);
	CHECK_EQ(get32(out, 16), 4);
	CHECK_EQ(out[20], 1);
	h.flags = VIRTIO_GPU_FLAG_FENCE;
	gpu_enc_hdr(out, &h, VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(out[20], 0);		/* no ring without INFO_RING_IDX */
	h.flags = 0;
	gpu_enc_hdr(out, &h, VIRTIO_GPU_RESP_OK_NODATA);
	for (unsigned i = 4; i < GPU_HDR_SIZE; i++)
		CHECK_EQ(out[i], 0);	/* an unfenced reply carries no fence */
}

static void test_responses(void)
{
	uint8_t out[GPU_MAX_RESP];
	static const uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

	memset(out, 0xee, sizeof(out));
	CHECK_EQ(gpu_enc_display_info(out, 2, 1280, 800), 408);
	CHECK_EQ(get32(out, 24 + 8), 1280);
	CHECK_EQ(get32(out, 24 + 12), 800);
	CHECK_EQ(get32(out, 24 + 16), 1);
	CHECK_EQ(get32(out, 48 + 16), 1);
	CHECK_EQ(get32(out, 72 + 16), 0);	/* scanout 2: disabled */
	CHECK_EQ(get32(out, 72 + 8), 0);
	CHECK_EQ(gpu_enc_capset_info(out, 5, 0, 16), 40);
	CHECK_EQ(get32(out, 24), 5);
	CHECK_EQ(get32(out, 32), 16);
	CHECK_EQ(gpu_enc_uuid(out, uuid), 40);
	CHECK(!memcmp(out + 24, uuid, 16));
	CHECK_EQ(gpu_enc_map_info(out, VIRTIO_GPU_MAP_CACHE_CACHED), 32);
	CHECK_EQ(get32(out, 24), VIRTIO_GPU_MAP_CACHE_CACHED);
	CHECK_EQ(gpu_enc_edid(out, 1280, 800, 1), 1056);
	CHECK_EQ(get32(out, 24), 128);
	CHECK_EQ(out[32], 0x00);
	CHECK_EQ(out[33], 0xff);
	CHECK_EQ(out[32 + 128], 0);		/* nothing past the block */
	gpu_enc_config(out, 1, 2, 1);
	CHECK_EQ(get32(out, 0), 1);
	CHECK_EQ(get32(out, 4), 0);
	CHECK_EQ(get32(out, 8), 2);
	CHECK_EQ(get32(out, 12), 1);
}

static unsigned checksum(const uint8_t *e)
{
	unsigned sum = 0;

	for (unsigned i = 0; i < GPU_EDID_SIZE; i++)
		sum += e[i];
	return sum & 0xff;
}

static void test_edid(void)
{
	static const uint8_t magic[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
	uint8_t e[GPU_EDID_SIZE];
	const uint8_t *d = e + 54;
	static const uint32_t modes[][2] = { { 1280, 800 }, { 32, 32 }, { 3840, 2160 },
					     { 4095, 4095 }, { 8192, 4320 } };

	for (unsigned m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		uint32_t w = modes[m][0], h = modes[m][1];

		gpu_edid(e, w, h, m);
		CHECK(!memcmp(e, magic, 8));
		CHECK_EQ(checksum(e), 0);
		CHECK_EQ(e[18], 1);
		CHECK_EQ(e[19], 4);
		CHECK_EQ(e[126], 0);		/* no extensions */
		CHECK_EQ(e[12], m);		/* serial */
		CHECK(!memcmp(e + 75, "\xfc", 1));
		CHECK(!memcmp(e + 77, "vmsilo\n", 7));
		if (w > 4095) {
			CHECK_EQ(d[0] | d[1], 0);	/* a display descriptor, not a timing */
			CHECK_EQ(d[3], 0x10);
			continue;
		}
		CHECK((d[0] | d[1] << 8) != 0);	/* a pixel clock */
		CHECK_EQ(d[2] | (d[4] >> 4) << 8, w);
		CHECK_EQ(d[5] | (d[7] >> 4) << 8, h);
	}
	gpu_edid(e, 1280, 800, 0);
	CHECK_EQ(e[8], 0x59);			/* "VMS" */
	CHECK_EQ(e[9], 0xb3);
	CHECK_EQ(e[21], 33);			/* 1280 px at 96 dpi: 33 cm */
	CHECK_EQ(e[22], 21);
	CHECK_EQ((d[0] | d[1] << 8) * 10000u / ((1280 + 160) * (800 + 8 + 22)), 60);
}

static void test_formats(void)
{
	uint8_t rgb[3];

	CHECK(gpu_format_rgb(VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, rgb));
	CHECK(rgb[0] == 2 && rgb[1] == 1 && rgb[2] == 0);
	CHECK(gpu_format_rgb(VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, rgb));
	CHECK(rgb[0] == 0 && rgb[1] == 1 && rgb[2] == 2);
	CHECK(gpu_format_rgb(VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, rgb));
	CHECK(rgb[0] == 1 && rgb[2] == 3);
	CHECK(gpu_format_rgb(VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, rgb));
	CHECK(rgb[0] == 3 && rgb[2] == 1);
	CHECK(!gpu_format_rgb(0, rgb));
	CHECK(!gpu_format_rgb(200, rgb));
}

static void test_vmm_command(void)
{
	uint8_t b[12] = { 0 };
	struct gpu_cmd c;

	put32(b, 0, GPU_CMD_SCREENSHOT);
	put32(b, 4, 3);
	CHECK_EQ(gpu_dec_cmd(b, 8, &c), 0);
	CHECK_EQ(c.scanout, 3);
	CHECK_EQ(gpu_dec_cmd(b, 7, &c), -EINVAL);
	CHECK_EQ(gpu_dec_cmd(b, 12, &c), -EINVAL);
	put32(b, 0, 2);
	CHECK_EQ(gpu_dec_cmd(b, 8, &c), -EINVAL);
}

int main(void)
{
	test_sizes();
	test_decode();
	test_ctx_create();
	test_mem_entry();
	test_resp_hdr();
	test_responses();
	test_edid();
	test_formats();
	test_vmm_command();
	return check_report("test_gpu_proto");
}
