/*
 * The vhost-user wire format (the frontend's side), defined here from the
 * vhost-user specification: message numbers, the header, the payloads,
 * and pure functions that build requests and check replies. No sockets:
 * vmm/vhost_user_conn.c moves the bytes and fds. The spec says native
 * byte order; the structs are used as they are, on little-endian hosts
 * only (asserted).
 */
#ifndef VMSILO_VHOST_USER_PROTO_H
#define VMSILO_VHOST_USER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "vhost-user structs as on x86");

/* Frontend requests. */
enum {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SET_BACKEND_REQ_FD = 21,	/* SET_SLAVE_REQ_FD */
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_GET_INFLIGHT_FD = 31,
	VHOST_USER_SET_INFLIGHT_FD = 32,
	VHOST_USER_RESET_DEVICE = 34,
};

/* Backend requests, on the backend request channel. */
enum {
	VHOST_USER_BACKEND_CONFIG_CHANGE_MSG = 2,
	VHOST_USER_BACKEND_VRING_CALL = 4,
};

#define VHOST_USER_VERSION		1u
#define VHOST_USER_VERSION_MASK		3u
#define VHOST_USER_FLAG_REPLY		(1u << 2)
#define VHOST_USER_FLAG_NEED_REPLY	(1u << 3)

#define VHOST_USER_F_PROTOCOL_FEATURES	30

/* Protocol feature bits. */
#define VHOST_USER_PROTOCOL_F_MQ		0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK		3
#define VHOST_USER_PROTOCOL_F_BACKEND_REQ	5
#define VHOST_USER_PROTOCOL_F_CONFIG		9
#define VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD	12
#define VHOST_USER_PROTOCOL_F_RESET_DEVICE	13
#define VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS 14

/* The protocol features this frontend implements. */
#define VHOST_USER_PROTOCOL_SUPPORTED \
	((1ull << VHOST_USER_PROTOCOL_F_MQ) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) | \
	 (1ull << VHOST_USER_PROTOCOL_F_BACKEND_REQ) | (1ull << VHOST_USER_PROTOCOL_F_CONFIG) | \
	 (1ull << VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) | \
	 (1ull << VHOST_USER_PROTOCOL_F_RESET_DEVICE) | \
	 (1ull << VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS))

/* SET_VRING_KICK/CALL/ERR: the queue index, and "no fd follows". */
#define VHOST_USER_VRING_IDX_MASK	0xffull
#define VHOST_USER_VRING_NOFD		(1ull << 8)

#define VHOST_USER_MAX_FDS		8	/* per message */
#define VHOST_USER_MAX_REGIONS		8
#define VHOST_USER_CONFIG_MAX		256
#define VHOST_USER_INFLIGHT_MAX		(64ull << 20)
#define VHOST_USER_MAX_QUEUES_WIRE	0xffffu

struct vhost_user_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;		/* of the payload that follows */
} __attribute__((packed));

struct vhost_user_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vhost_user_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;		/* the frontend's virtual addresses */
	uint64_t used;
	uint64_t avail;
	uint64_t log;
} __attribute__((packed));

struct vhost_user_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
} __attribute__((packed));

struct vhost_user_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_region regions[VHOST_USER_MAX_REGIONS];
} __attribute__((packed));

#define VHOST_USER_CONFIG_HDR 12u
struct vhost_user_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t data[VHOST_USER_CONFIG_MAX];
} __attribute__((packed));

struct vhost_user_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
} __attribute__((packed));

union vhost_user_payload {
	uint64_t u64;
	struct vhost_user_vring_state state;
	struct vhost_user_vring_addr addr;
	struct vhost_user_mem_table mem;
	struct vhost_user_config config;
	struct vhost_user_inflight inflight;
};

#define VHOST_USER_PAYLOAD_MAX ((uint32_t)sizeof(union vhost_user_payload))

struct vhost_user_msg {
	struct vhost_user_hdr hdr;
	union vhost_user_payload p;
} __attribute__((packed));

/* "SET_MEM_TABLE", or "request 99". buf holds the latter. */
const char *vhost_user_request_name(uint32_t request, char *buf, size_t len);
/* A request the backend sends on its channel: "CONFIG_CHANGE_MSG", or
 * "backend request 99". */
const char *vhost_user_backend_request_name(uint32_t request, char *buf, size_t len);

/* Builders: fill m, return the bytes to send (header and payload). */
size_t vhost_user_msg_empty(struct vhost_user_msg *m, uint32_t request, uint32_t flags);
size_t vhost_user_msg_u64(struct vhost_user_msg *m, uint32_t request, uint32_t flags,
			  uint64_t val);
size_t vhost_user_msg_state(struct vhost_user_msg *m, uint32_t request, uint32_t index,
			    uint32_t num);
size_t vhost_user_msg_addr(struct vhost_user_msg *m, uint32_t index, uint64_t desc,
			   uint64_t used, uint64_t avail);
/* nr regions (at most VHOST_USER_MAX_REGIONS), one fd each; 0 if too many. */
size_t vhost_user_msg_mem_table(struct vhost_user_msg *m, uint32_t flags,
				const struct vhost_user_region *regions, unsigned nr);
/* GET_CONFIG asks for size bytes at offset; SET_CONFIG carries them. 0 if too big. */
size_t vhost_user_msg_config(struct vhost_user_msg *m, uint32_t request, uint32_t flags,
			     uint32_t offset, const void *data, uint32_t size);
size_t vhost_user_msg_inflight(struct vhost_user_msg *m, uint32_t request,
			       const struct vhost_user_inflight *in);

/* The payload size the reply to this request must have (request_size:
 * the request's own payload size), or -1 when it has no reply (unless it
 * asked for one with NEED_REPLY: then 8, the REPLY_ACK u64). */
int vhost_user_reply_size(uint32_t request, uint32_t request_size);
/* The number of fds the reply to this request must carry. */
unsigned vhost_user_reply_fds(uint32_t request);

/*
 * A reply's header: the request echoed, REPLY set, version 1, and payload
 * size exactly want_size. 0, or -EPROTO with why filled.
 */
int vhost_user_check_reply_hdr(const struct vhost_user_hdr *h, uint32_t request,
			       uint32_t want_size, char *why, size_t len);
/* The reply's fd count against what the request's reply carries. */
int vhost_user_check_reply_fds(uint32_t request, unsigned nr_fds, char *why, size_t len);

/* Payload checks, each 0 or -EPROTO with why. */
int vhost_user_check_ack(uint64_t val, char *why, size_t len);
int vhost_user_check_queue_num(uint64_t val, unsigned max, char *why, size_t len);
int vhost_user_check_vring_base(const struct vhost_user_vring_state *s, uint32_t index,
				char *why, size_t len);
int vhost_user_check_config(const struct vhost_user_config *c, uint32_t offset, uint32_t size,
			    char *why, size_t len);
int vhost_user_check_inflight(const struct vhost_user_inflight *in, char *why, size_t len);

/* A backend request's header: version 1, not a reply, size within the
 * payload. 0 or -EPROTO. */
int vhost_user_check_backend_hdr(const struct vhost_user_hdr *h, char *why, size_t len);

#endif
