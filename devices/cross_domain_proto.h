/*
 * The cross-domain context's wire format (virtio-gpu capset 5), as the
 * guest proxies (wayland-proxy-virtwl, sommelier) and crosvm speak it
 * today; ../docs/gpu.md tells the protocol in prose. Little-endian, packed
 * by construction (every field naturally aligned). Shared by the device
 * (devices/cross_domain.c) and the guest test client (tests/guest/).
 *
 * CONTRACT (lead, issue 11): layouts and numbers are the protocol's;
 * static asserts below pin the sizes and offsets the issue names.
 */
#ifndef VMSILO_CROSS_DOMAIN_PROTO_H
#define VMSILO_CROSS_DOMAIN_PROTO_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#define CROSS_DOMAIN_CAPSET_ID		5
#define CROSS_DOMAIN_VERSION		1

/* Commands (cross_domain_hdr.cmd). 1..7 are what version 1 covers. */
#define CROSS_DOMAIN_CMD_INIT			1
#define CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS	2
#define CROSS_DOMAIN_CMD_POLL			3
#define CROSS_DOMAIN_CMD_SEND			4
#define CROSS_DOMAIN_CMD_RECEIVE		5
#define CROSS_DOMAIN_CMD_READ			6
#define CROSS_DOMAIN_CMD_WRITE			7

/* Channel types (INIT's channel_type; capability bit 1 << type). */
#define CROSS_DOMAIN_CHANNEL_WAYLAND	1

/* Rings: ring_idx of the fence and of the command. */
#define CROSS_DOMAIN_QUERY_RING		0
#define CROSS_DOMAIN_CHANNEL_RING	1

/* Identifier types of SEND/RECEIVE items. */
#define CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB	1
#define CROSS_DOMAIN_ID_TYPE_VIRTGPU_SYNC	2
#define CROSS_DOMAIN_ID_TYPE_READ_PIPE		3
#define CROSS_DOMAIN_ID_TYPE_WRITE_PIPE		4
#define CROSS_DOMAIN_ID_TYPE_EVENT		5

#define CROSS_DOMAIN_MAX_IDENTIFIERS	28
/* Host-made items count up from here; read pipes, which the guest
 * predicts, from CROSS_DOMAIN_PIPE_READ_START + 1. */
#define CROSS_DOMAIN_ITEM_ID_START	2
#define CROSS_DOMAIN_PIPE_READ_START	0x80000000u

/* A ring resource is one page; the host writes one message at offset 0. */
#define CROSS_DOMAIN_RING_SIZE		4096u

/* gralloc-style flags of GET_IMAGE_REQUIREMENTS. */
#define CROSS_DOMAIN_USE_SCANOUT	0x1u
#define CROSS_DOMAIN_USE_RENDERING	0x4u
#define CROSS_DOMAIN_USE_LINEAR		0x10u
#define CROSS_DOMAIN_USE_TEXTURING	0x20u
#define CROSS_DOMAIN_USE_SW_READ_OFTEN	0x200u
#define CROSS_DOMAIN_USE_SW_WRITE_OFTEN	0x800u

/* map_info of the requirements reply (virtio-gpu's cache bits). */
#define CROSS_DOMAIN_MAP_CACHE_CACHED	1u

struct cross_domain_capabilities {
	uint32_t version;		/* CROSS_DOMAIN_VERSION */
	uint32_t supported_channels;	/* 1 << CROSS_DOMAIN_CHANNEL_WAYLAND */
	uint32_t supports_dmabuf;
	uint32_t supports_external_gpu_memory;
};

struct cross_domain_hdr {
	uint8_t cmd;
	uint8_t ring_idx;
	uint16_t cmd_size;		/* the whole command, header included */
	uint32_t pad;
};

/* INIT comes in three sizes: 16 (no channel ring: the query ring is
 * both), 20 (channel_type added) and 36 (socket uuid added). */
#define CROSS_DOMAIN_INIT_SIZE_LEGACY	16
#define CROSS_DOMAIN_INIT_SIZE_V1	20
#define CROSS_DOMAIN_INIT_SIZE		36
struct cross_domain_init {
	struct cross_domain_hdr hdr;
	uint32_t query_ring_id;
	uint32_t channel_ring_id;
	uint32_t channel_type;
	uint8_t internal_socket_uuid[16];
};

/* crosvm's 16-byte INIT: channel_type sits where the others have
 * channel_ring_id, and the query ring is the channel ring too. */
struct cross_domain_init_legacy {
	struct cross_domain_hdr hdr;
	uint32_t query_ring_id;
	uint32_t channel_type;
};

struct cross_domain_get_image_requirements {
	struct cross_domain_hdr hdr;
	uint32_t width;
	uint32_t height;
	uint32_t drm_format;
	uint32_t flags;
};

/* The reply, at offset 0 of the query ring, no header. */
struct cross_domain_image_requirements {
	uint32_t strides[4];
	uint32_t offsets[4];
	uint64_t modifier;
	uint64_t size;
	uint32_t blob_id;
	uint32_t map_info;
	int32_t memory_idx;
	int32_t physical_device_idx;
};

/* SEND (G->H) and RECEIVE (H->G): this, then opaque_data_size bytes. */
struct cross_domain_send_receive {
	struct cross_domain_hdr hdr;
	uint32_t num_identifiers;
	uint32_t opaque_data_size;
	uint32_t identifiers[CROSS_DOMAIN_MAX_IDENTIFIERS];
	uint32_t identifier_types[CROSS_DOMAIN_MAX_IDENTIFIERS];
	uint32_t identifier_sizes[CROSS_DOMAIN_MAX_IDENTIFIERS];
};

/* READ (H->G) and WRITE (G->H): this, then opaque_data_size bytes. */
struct cross_domain_read_write {
	struct cross_domain_hdr hdr;
	uint32_t identifier;
	uint32_t hang_up;
	uint32_t opaque_data_size;
	uint32_t pad;
};

/* Payload one RECEIVE can carry in a channel ring: 3744 bytes. */
#define CROSS_DOMAIN_RECEIVE_MAX_DATA \
	(CROSS_DOMAIN_RING_SIZE - sizeof(struct cross_domain_send_receive))
#define CROSS_DOMAIN_READ_MAX_DATA \
	(CROSS_DOMAIN_RING_SIZE - sizeof(struct cross_domain_read_write))

static_assert(sizeof(struct cross_domain_capabilities) == 16, "capset 5 is 16 bytes");
static_assert(sizeof(struct cross_domain_hdr) == 8, "header");
static_assert(sizeof(struct cross_domain_init) == CROSS_DOMAIN_INIT_SIZE, "INIT");
static_assert(offsetof(struct cross_domain_init, internal_socket_uuid) == 20, "INIT v1 size");
static_assert(sizeof(struct cross_domain_init_legacy) == CROSS_DOMAIN_INIT_SIZE_LEGACY,
	      "legacy INIT");
static_assert(sizeof(struct cross_domain_get_image_requirements) == 24, "query");
static_assert(sizeof(struct cross_domain_image_requirements) == 64, "requirements reply");
static_assert(offsetof(struct cross_domain_image_requirements, blob_id) == 48, "blob_id");
static_assert(sizeof(struct cross_domain_send_receive) == 352, "send/receive header");
static_assert(offsetof(struct cross_domain_send_receive, identifiers) == 16, "identifiers");
static_assert(offsetof(struct cross_domain_send_receive, identifier_types) == 128, "types");
static_assert(offsetof(struct cross_domain_send_receive, identifier_sizes) == 240, "sizes");
static_assert(sizeof(struct cross_domain_read_write) == 24, "read/write header");
static_assert(CROSS_DOMAIN_RECEIVE_MAX_DATA == 3744, "receive payload");

#endif
