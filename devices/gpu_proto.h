/*
 * virtio-gpu's wire format (virtio 1.2, 5.7.6): commands from the guest
 * decoded into host-order structs, responses encoded. Decoding checks
 * only sizes; what the values mean (ids, rects, ranges) is gpu.c's and
 * gpu_res.c's to check. Little-endian on the wire.
 */
#ifndef VMSILO_GPU_PROTO_H
#define VMSILO_GPU_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_gpu.h>

#include "devices/gpu.h"

#define GPU_HDR_SIZE		24u
#define GPU_MEM_ENTRY_SIZE	16u
#define GPU_EDID_SIZE		128u
#define GPU_MAX_CMD_SIZE	96u	/* the largest fixed part: CTX_CREATE, SET_SCANOUT_BLOB */
#define GPU_CONFIG_SIZE		16u	/* struct virtio_gpu_config */

/* Response sizes, header included. */
#define GPU_RESP_DISPLAY_INFO	(GPU_HDR_SIZE + 24u * VIRTIO_GPU_MAX_SCANOUTS)
#define GPU_RESP_EDID		(GPU_HDR_SIZE + 8u + 1024u)
#define GPU_RESP_CAPSET_INFO	(GPU_HDR_SIZE + 16u)
#define GPU_RESP_UUID		(GPU_HDR_SIZE + 16u)
#define GPU_RESP_MAP_INFO	(GPU_HDR_SIZE + 8u)
/* What a context type may declare: virglrenderer 0.10's VIRGL2 is 1376. */
#define GPU_MAX_CAPSET_SIZE	4096u
#define GPU_MAX_RESP		(GPU_HDR_SIZE + GPU_MAX_CAPSET_SIZE)

struct gpu_hdr {
	uint32_t type, flags;
	uint64_t fence_id;
	uint32_t ctx_id;
	uint8_t ring_idx;
};

struct gpu_rect {
	uint32_t x, y, width, height;
};

struct gpu_mem_entry {
	uint64_t addr;
	uint32_t length;
};

struct gpu_create_2d { uint32_t resource_id, format, width, height; };
struct gpu_set_scanout { struct gpu_rect r; uint32_t scanout_id, resource_id; };
struct gpu_flush { struct gpu_rect r; uint32_t resource_id; };
struct gpu_transfer { struct gpu_rect r; uint64_t offset; uint32_t resource_id; };
struct gpu_create_blob {
	uint32_t resource_id, blob_mem, blob_flags, nr_entries;
	uint64_t blob_id, size;
};
struct gpu_create_3d {
	uint32_t resource_id, target, format, bind, width, height, depth, array_size,
		 last_level, nr_samples, flags;
};
struct gpu_transfer_3d {
	uint32_t box[6];		/* x, y, z, w, h, d */
	uint64_t offset;
	uint32_t resource_id, level, stride, layer_stride;
};
struct gpu_cursor { uint32_t scanout_id, x, y, resource_id, hot_x, hot_y; };

/* One command's fixed part, by hdr.type. */
struct gpu_req {
	struct gpu_hdr hdr;
	union {
		struct gpu_create_2d create_2d;
		/* UNREF, DETACH_BACKING, ASSIGN_UUID, UNMAP_BLOB, CTX_ATTACH/DETACH */
		struct { uint32_t resource_id; } res;
		struct gpu_set_scanout set_scanout;
		struct gpu_flush flush;
		struct gpu_transfer transfer;
		struct { uint32_t resource_id, nr_entries; } attach_backing;
		struct { uint32_t index; } capset_info;
		struct { uint32_t id, version; } capset;
		struct { uint32_t scanout; } edid;
		struct { uint32_t nlen, context_init; char debug_name[65]; } ctx_create;
		struct { uint32_t size, num_in_fences; } submit;
		struct gpu_create_blob create_blob;
		struct gpu_create_3d create_3d;
		struct gpu_transfer_3d transfer_3d;
		struct { uint32_t resource_id; uint64_t offset; } map_blob;
		struct gpu_cursor cursor;
	};
};

/*
 * The bytes the command type's fixed part takes, header included (what
 * follows, entries or a command stream, starts there); 0: unknown type.
 */
size_t gpu_req_size(uint32_t type);
/*
 * Decodes the command in buf[0..len): 0; -EBADMSG when len cannot hold a
 * header (nothing decoded); -ENOMSG for an unknown type and -EMSGSIZE
 * for a fixed part cut short (then only req->hdr is decoded).
 */
int gpu_dec_req(const void *buf, size_t len, struct gpu_req *req);
void gpu_dec_mem_entry(const uint8_t raw[GPU_MEM_ENTRY_SIZE], struct gpu_mem_entry *e);
/* GPU_CMD_* from the VMM: exactly a struct gpu_cmd of a known op. 0 or -EINVAL. */
int gpu_dec_cmd(const void *buf, size_t len, struct gpu_cmd *cmd);

/*
 * A response header of type for the request req: a fenced request's
 * flags (FENCE, INFO_RING_IDX), fence id, context and ring are echoed.
 */
void gpu_enc_hdr(uint8_t *out, const struct gpu_hdr *req, uint32_t type);
/* Bodies (after the header); each returns the response's whole size. */
size_t gpu_enc_display_info(uint8_t *out, unsigned nr_scanouts, uint32_t width, uint32_t height);
size_t gpu_enc_edid(uint8_t *out, uint32_t width, uint32_t height, uint32_t serial);
size_t gpu_enc_capset_info(uint8_t *out, uint32_t id, uint32_t max_version, uint32_t max_size);
size_t gpu_enc_uuid(uint8_t *out, const uint8_t uuid[16]);
size_t gpu_enc_map_info(uint8_t *out, uint32_t map_info);
void gpu_enc_config(uint8_t *out, uint32_t events_read, uint32_t nr_scanouts, uint32_t nr_capsets);

/* A 128-byte EDID 1.4 block for one width x height display at 60 Hz. */
void gpu_edid(uint8_t out[GPU_EDID_SIZE], uint32_t width, uint32_t height, uint32_t serial);

/*
 * A 2D resource format the device takes: 4 bytes per pixel, in memory
 * order as its name says; rgb[] are the byte offsets of red, green and
 * blue. false for a format it does not know.
 */
bool gpu_format_rgb(uint32_t format, uint8_t rgb[3]);

#endif
