/*
 * The cross-domain wire format (devices/cross_domain_proto.h), field by
 * field, as the protocol (crosvm's cross_domain_protocol.rs, the guest
 * proxies) lays it out: sizes and offsets, the numbers, and the bytes a
 * little-endian message carries.
 */
#include <stddef.h>

#include "check.h"
#include "devices/cross_domain_proto.h"

#define OFF(type, field) offsetof(struct type, field)

static void test_sizes_and_offsets(void)
{
	CHECK_EQ(sizeof(struct cross_domain_capabilities), 16);
	CHECK_EQ(OFF(cross_domain_capabilities, supported_channels), 4);
	CHECK_EQ(OFF(cross_domain_capabilities, supports_dmabuf), 8);
	CHECK_EQ(OFF(cross_domain_capabilities, supports_external_gpu_memory), 12);

	CHECK_EQ(sizeof(struct cross_domain_hdr), 8);
	CHECK_EQ(OFF(cross_domain_hdr, ring_idx), 1);
	CHECK_EQ(OFF(cross_domain_hdr, cmd_size), 2);
	CHECK_EQ(OFF(cross_domain_hdr, pad), 4);

	CHECK_EQ(sizeof(struct cross_domain_init), 36);
	CHECK_EQ(OFF(cross_domain_init, query_ring_id), 8);
	CHECK_EQ(OFF(cross_domain_init, channel_ring_id), 12);
	CHECK_EQ(OFF(cross_domain_init, channel_type), 16);
	CHECK_EQ(OFF(cross_domain_init, internal_socket_uuid), 20);
	CHECK_EQ(CROSS_DOMAIN_INIT_SIZE_LEGACY, 16);
	CHECK_EQ(CROSS_DOMAIN_INIT_SIZE_V1, 20);

	CHECK_EQ(sizeof(struct cross_domain_get_image_requirements), 24);
	CHECK_EQ(OFF(cross_domain_get_image_requirements, width), 8);
	CHECK_EQ(OFF(cross_domain_get_image_requirements, height), 12);
	CHECK_EQ(OFF(cross_domain_get_image_requirements, drm_format), 16);
	CHECK_EQ(OFF(cross_domain_get_image_requirements, flags), 20);

	CHECK_EQ(sizeof(struct cross_domain_image_requirements), 64);
	CHECK_EQ(OFF(cross_domain_image_requirements, offsets), 16);
	CHECK_EQ(OFF(cross_domain_image_requirements, modifier), 32);
	CHECK_EQ(OFF(cross_domain_image_requirements, size), 40);
	CHECK_EQ(OFF(cross_domain_image_requirements, blob_id), 48);
	CHECK_EQ(OFF(cross_domain_image_requirements, map_info), 52);
	CHECK_EQ(OFF(cross_domain_image_requirements, memory_idx), 56);
	CHECK_EQ(OFF(cross_domain_image_requirements, physical_device_idx), 60);

	CHECK_EQ(sizeof(struct cross_domain_send_receive), 352);
	CHECK_EQ(OFF(cross_domain_send_receive, num_identifiers), 8);
	CHECK_EQ(OFF(cross_domain_send_receive, opaque_data_size), 12);
	CHECK_EQ(OFF(cross_domain_send_receive, identifiers), 16);
	CHECK_EQ(OFF(cross_domain_send_receive, identifier_types), 16 + 28 * 4);
	CHECK_EQ(OFF(cross_domain_send_receive, identifier_sizes), 16 + 2 * 28 * 4);

	CHECK_EQ(sizeof(struct cross_domain_read_write), 24);
	CHECK_EQ(OFF(cross_domain_read_write, identifier), 8);
	CHECK_EQ(OFF(cross_domain_read_write, hang_up), 12);
	CHECK_EQ(OFF(cross_domain_read_write, opaque_data_size), 16);
	CHECK_EQ(OFF(cross_domain_read_write, pad), 20);

	CHECK_EQ(CROSS_DOMAIN_RECEIVE_MAX_DATA, 3744);
	CHECK_EQ(CROSS_DOMAIN_READ_MAX_DATA, 4072);
}

static void test_numbers(void)
{
	CHECK_EQ(CROSS_DOMAIN_CAPSET_ID, 5);
	CHECK_EQ(CROSS_DOMAIN_CMD_INIT, 1);
	CHECK_EQ(CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS, 2);
	CHECK_EQ(CROSS_DOMAIN_CMD_POLL, 3);
	CHECK_EQ(CROSS_DOMAIN_CMD_SEND, 4);
	CHECK_EQ(CROSS_DOMAIN_CMD_RECEIVE, 5);
	CHECK_EQ(CROSS_DOMAIN_CMD_READ, 6);
	CHECK_EQ(CROSS_DOMAIN_CMD_WRITE, 7);
	CHECK_EQ(CROSS_DOMAIN_CHANNEL_WAYLAND, 1);
	CHECK_EQ(CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB, 1);
	CHECK_EQ(CROSS_DOMAIN_ID_TYPE_VIRTGPU_SYNC, 2);
	CHECK_EQ(CROSS_DOMAIN_ID_TYPE_READ_PIPE, 3);
	CHECK_EQ(CROSS_DOMAIN_ID_TYPE_WRITE_PIPE, 4);
	CHECK_EQ(CROSS_DOMAIN_ID_TYPE_EVENT, 5);
	CHECK_EQ(CROSS_DOMAIN_PIPE_READ_START, 0x80000000u);
	CHECK_EQ(CROSS_DOMAIN_USE_SW_WRITE_OFTEN, 0x800);
}

/* A RECEIVE header as bytes: what a guest reads at offset 0 of its ring. */
static void test_bytes(void)
{
	struct cross_domain_send_receive r = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_RECEIVE, .ring_idx = 1, .cmd_size = 0x0162 },
		.num_identifiers = 2, .opaque_data_size = 0x0a0b0c0d,
		.identifiers = { 0x11223344 }, .identifier_types = { 4 }, .identifier_sizes = { 7 },
	};
	const uint8_t *b = (const uint8_t *)&r;

	CHECK(b[0] == 5 && b[1] == 1 && b[2] == 0x62 && b[3] == 0x01);
	CHECK(b[8] == 2 && b[12] == 0x0d && b[15] == 0x0a);
	CHECK(b[16] == 0x44 && b[19] == 0x11);
	CHECK(b[128] == 4 && b[240] == 7);
}

int main(void)
{
	test_sizes_and_offsets();
	test_numbers();
	test_bytes();
	return check_report("test_cross_domain_proto");
}
