/*
 * Messages between the virtio-pci transport (VMM) and a device process,
 * carried in ctl_ring messages. Semantics follow vhost-user (qemu
 * docs/interop/vhost-user.rst) so the same link can later speak to an
 * external backend; the encoding is our own.
 *
 * Payload fields are little-endian. Requests with a non-zero tag get one
 * LINK_REPLY (flag CTL_MSG_F_REPLY, same tag); tag 0 means posted. Each
 * side treats the other as hostile: decode every message with the helper
 * for its type, which checks every field against protocol limits and the
 * link_limits both sides take from the device's ops table (never from the
 * peer), and returns -EINVAL otherwise. Decoders fill the same payload
 * structs, in host order.
 *
 * fds live in a per-device table of LINK_MAX_FDS slots. Setup sends
 * slots 0..3 (below) over the socket; LINK_ADD_FDS announces a later pass,
 * which the VMM sends on the socket before posting the message.
 */
#ifndef VMSILO_LINK_PROTO_H
#define VMSILO_LINK_PROTO_H

#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "virtio/ctl_ring.h"

enum link_type {
	/* VMM -> device */
	LINK_GET_FEATURES	= 1,	/* reply: link_u64 */
	LINK_SET_FEATURES	= 2,	/* link_u64: acked features */
	LINK_GET_CONFIG		= 3,	/* link_config header; reply: bytes */
	LINK_SET_CONFIG		= 4,	/* link_config */
	LINK_SET_MEM_TABLE	= 5,	/* link_mem_table */
	LINK_SET_VRING_NUM	= 6,	/* link_vring_state: size */
	LINK_SET_VRING_ADDR	= 7,	/* link_vring_addr */
	LINK_SET_VRING_BASE	= 8,	/* link_vring_state: next avail idx */
	LINK_GET_VRING_BASE	= 9,	/* link_vring_state; stops the ring */
	LINK_SET_VRING_KICK	= 10,	/* link_vring_fd */
	LINK_SET_VRING_CALL	= 11,	/* link_vring_fd; LINK_FD_NONE: none */
	LINK_SET_VRING_ENABLE	= 12,	/* link_vring_state: 0 or 1 */
	LINK_ACTIVATE		= 13,	/* link_u64: features at DRIVER_OK */
	LINK_RESET		= 14,	/* reply once the queues are stopped */
	LINK_SHUTDOWN		= 15,
	LINK_ADD_FDS		= 16,	/* link_add_fds */
	LINK_DEVICE_CMD		= 17,	/* tagged: device-specific bytes; reply: bytes */
	/* device -> VMM */
	LINK_CONFIG_CHANGED	= 0x100,	/* link_config: new bytes */
	LINK_NEEDS_RESET	= 0x101,	/* reason text */
	LINK_REPLY		= 0x102,	/* link_reply header + data */
	LINK_DEVICE_EVENT	= 0x103,	/* posted: device-specific bytes */
};

#define LINK_MAX_QUEUES		64
#define LINK_MAX_QUEUE_SIZE	32768
#define LINK_CONFIG_MAX		232	/* per message; blk's 60 bytes fit */
#define LINK_MAX_MEM_REGIONS	7
#define LINK_MAX_FDS		64
#define LINK_FD_NONE		0xffffffffu
#define LINK_PAGE_SIZE		4096u
#define LINK_REASON_MAX		CTL_MSG_PAYLOAD	/* text up to the first NUL */
#define LINK_DEVICE_MSG_MAX	CTL_MSG_PAYLOAD	/* a device command or event */
#define LINK_DEVICE_REPLY_MAX	(CTL_MSG_PAYLOAD - 8)	/* a command's reply data */

/* fd table slots filled at setup. */
enum {
	LINK_FD_RING_MEM,	/* = CTL_FD_MEM */
	LINK_FD_SQ_BELL,	/* = CTL_FD_SQ_BELL */
	LINK_FD_CQ_BELL,	/* = CTL_FD_CQ_BELL */
	LINK_FD_GUEST_MEM,	/* guest RAM memfd */
	LINK_FD_FIRST_FREE,	/* kick/call eventfds, host files */
};

/* From struct vdev_ops on both sides: the same binary, not the peer. */
struct link_limits {
	uint32_t nr_queues;		/* <= LINK_MAX_QUEUES */
	uint32_t max_queue_size;	/* <= LINK_MAX_QUEUE_SIZE */
	uint32_t config_size;		/* larger configs go in chunks */
};

struct link_u64 {
	uint64_t val;
};

/* GET_CONFIG sends only offset and len. */
struct link_config {
	uint32_t offset;
	uint32_t len;
	uint8_t data[LINK_CONFIG_MAX];
};
#define LINK_CONFIG_HDR		offsetof(struct link_config, data)

struct link_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset;	/* into the memfd in fd_slot */
	uint32_t fd_slot;
	uint32_t reserved;
};

struct link_mem_table {
	uint32_t nr_regions;
	uint32_t reserved;
	struct link_mem_region regions[LINK_MAX_MEM_REGIONS];
};

struct link_vring_state {
	uint32_t index;
	uint32_t num;
};

struct link_vring_addr {
	uint32_t index;
	uint32_t flags;		/* none defined: 0 */
	uint64_t desc;
	uint64_t avail;
	uint64_t used;
};

struct link_vring_fd {
	uint32_t index;
	uint32_t fd_slot;
};

struct link_add_fds {
	uint32_t first_slot;
	uint32_t count;
};

struct link_reply {
	int32_t status;		/* 0 or -errno */
	uint32_t reserved;
	uint8_t data[CTL_MSG_PAYLOAD - 8];
};
#define LINK_REPLY_HDR		offsetof(struct link_reply, data)

static_assert(sizeof(struct link_u64) == 8, "link_u64");
static_assert(sizeof(struct link_config) == 240, "link_config");
static_assert(sizeof(struct link_mem_region) == 32, "link_mem_region");
static_assert(sizeof(struct link_mem_table) == 232, "link_mem_table");
static_assert(sizeof(struct link_vring_state) == 8, "link_vring_state");
static_assert(sizeof(struct link_vring_addr) == 32, "link_vring_addr");
static_assert(sizeof(struct link_vring_fd) == 8, "link_vring_fd");
static_assert(sizeof(struct link_add_fds) == 8, "link_add_fds");
static_assert(sizeof(struct link_reply) == CTL_MSG_PAYLOAD, "link_reply");

/* Encoding: callers fill payload structs with htole32()/htole64(). */
static inline void link_msg_init(struct ctl_msg *m, uint32_t type,
				 const void *payload, uint32_t len)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->len = len <= CTL_MSG_PAYLOAD ? len : CTL_MSG_PAYLOAD;
	if (payload)
		memcpy(m->payload, payload, m->len);
}

static inline void link_reply_init(struct ctl_msg *m,
				   const struct ctl_msg *req, int status,
				   const void *data, uint32_t len)
{
	struct link_reply r = { .status = (int32_t)htole32(status) };

	if (len > sizeof(r.data))
		len = sizeof(r.data);
	if (data)
		memcpy(r.data, data, len);
	link_msg_init(m, LINK_REPLY, &r, LINK_REPLY_HDR + len);
	m->tag = req->tag;
	m->flags = CTL_MSG_F_REPLY;
}

/* Type, flags and exact length; then a copy that callers may inspect. */
static inline int link_take(const struct ctl_msg *m, uint32_t type,
			    uint32_t len, void *out)
{
	if (m->type != type || m->flags || m->len != len)
		return -EINVAL;
	if (len)
		memcpy(out, m->payload, len);
	return 0;
}

/* LINK_GET_FEATURES, LINK_RESET, LINK_SHUTDOWN. */
static inline int link_dec_empty(const struct ctl_msg *m, uint32_t type)
{
	return link_take(m, type, 0, NULL);
}

/* LINK_SET_FEATURES, LINK_ACTIVATE. */
static inline int link_dec_u64(const struct ctl_msg *m, uint32_t type,
			       uint64_t *val)
{
	struct link_u64 p;

	if (link_take(m, type, sizeof(p), &p))
		return -EINVAL;
	*val = le64toh(p.val);
	return 0;
}

static inline int link_config_range(const struct link_limits *lim,
				    uint32_t off, uint32_t len)
{
	if (!len || len > LINK_CONFIG_MAX || off > lim->config_size ||
	    len > lim->config_size - off)
		return -EINVAL;
	return 0;
}

static inline int link_dec_get_config(const struct ctl_msg *m,
				      const struct link_limits *lim,
				      uint32_t *off, uint32_t *len)
{
	struct link_config p;

	if (link_take(m, LINK_GET_CONFIG, LINK_CONFIG_HDR, &p))
		return -EINVAL;
	*off = le32toh(p.offset);
	*len = le32toh(p.len);
	return link_config_range(lim, *off, *len);
}

/*
 * LINK_SET_CONFIG (VMM -> device), LINK_CONFIG_CHANGED (device -> VMM):
 * p->len bytes for p->offset, within lim->config_size. Bytes past p->len
 * are zero, never left over from the caller's stack.
 */
static inline int link_dec_config(const struct ctl_msg *m, uint32_t type,
				  const struct link_limits *lim,
				  struct link_config *p)
{
	memset(p, 0, sizeof(*p));
	if (m->type != type || m->flags || m->len < LINK_CONFIG_HDR ||
	    m->len > sizeof(*p))
		return -EINVAL;
	memcpy(p, m->payload, m->len);
	p->offset = le32toh(p->offset);
	p->len = le32toh(p->len);
	if (m->len != LINK_CONFIG_HDR + p->len)
		return -EINVAL;
	return link_config_range(lim, p->offset, p->len);
}

static inline bool link_region_ok(const struct link_mem_region *r)
{
	if (r->reserved || r->fd_slot >= LINK_MAX_FDS || !r->size ||
	    (r->gpa | r->size | r->offset) % LINK_PAGE_SIZE)
		return false;
	return r->gpa + r->size > r->gpa && r->offset + r->size > r->offset;
}

/* The device still checks offset + size against the memfd's size. */
static inline int link_dec_mem_table(const struct ctl_msg *m,
				     struct link_mem_table *t)
{
	struct link_mem_region *r = t->regions;
	uint32_t n;

	if (link_take(m, LINK_SET_MEM_TABLE, sizeof(*t), t))
		return -EINVAL;
	n = t->nr_regions = le32toh(t->nr_regions);
	if (!n || n > LINK_MAX_MEM_REGIONS || t->reserved)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		r[i].gpa = le64toh(r[i].gpa);
		r[i].size = le64toh(r[i].size);
		r[i].offset = le64toh(r[i].offset);
		r[i].fd_slot = le32toh(r[i].fd_slot);
		if (!link_region_ok(&r[i]))
			return -EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (r[i].gpa < r[j].gpa + r[j].size &&
			    r[j].gpa < r[i].gpa + r[i].size)
				return -EINVAL;
	}
	return 0;
}

static inline bool link_queue_ok(const struct link_limits *lim, uint32_t q)
{
	return q < lim->nr_queues && q < LINK_MAX_QUEUES;
}

/* LINK_SET_VRING_NUM/BASE/ENABLE, LINK_GET_VRING_BASE. */
static inline int link_dec_vring_state(const struct ctl_msg *m,
				       uint32_t type,
				       const struct link_limits *lim,
				       struct link_vring_state *s)
{
	uint32_t max = lim->max_queue_size;

	if (max > LINK_MAX_QUEUE_SIZE)
		max = LINK_MAX_QUEUE_SIZE;
	if (link_take(m, type, sizeof(*s), s))
		return -EINVAL;
	s->index = le32toh(s->index);
	s->num = le32toh(s->num);
	if (!link_queue_ok(lim, s->index))
		return -EINVAL;
	switch (type) {
	case LINK_SET_VRING_NUM:	/* split rings: a power of two */
		return s->num && s->num <= max && !(s->num & (s->num - 1)) ?
		       0 : -EINVAL;
	case LINK_SET_VRING_BASE:
		return s->num <= 0xffff ? 0 : -EINVAL;
	case LINK_SET_VRING_ENABLE:
		return s->num <= 1 ? 0 : -EINVAL;
	case LINK_GET_VRING_BASE:
		return !s->num ? 0 : -EINVAL;
	}
	return -EINVAL;
}

/* Alignments from virtio 1.2, 2.7; the device checks the ranges. */
static inline int link_dec_vring_addr(const struct ctl_msg *m,
				      const struct link_limits *lim,
				      struct link_vring_addr *a)
{
	if (link_take(m, LINK_SET_VRING_ADDR, sizeof(*a), a))
		return -EINVAL;
	a->index = le32toh(a->index);
	a->flags = le32toh(a->flags);
	a->desc = le64toh(a->desc);
	a->avail = le64toh(a->avail);
	a->used = le64toh(a->used);
	if (!link_queue_ok(lim, a->index) || a->flags || a->desc % 16 ||
	    a->avail % 2 || a->used % 4)
		return -EINVAL;
	return 0;
}

/* LINK_SET_VRING_KICK (needs an fd), LINK_SET_VRING_CALL. */
static inline int link_dec_vring_fd(const struct ctl_msg *m, uint32_t type,
				    const struct link_limits *lim,
				    struct link_vring_fd *f)
{
	if (type != LINK_SET_VRING_KICK && type != LINK_SET_VRING_CALL)
		return -EINVAL;
	if (link_take(m, type, sizeof(*f), f))
		return -EINVAL;
	f->index = le32toh(f->index);
	f->fd_slot = le32toh(f->fd_slot);
	if (!link_queue_ok(lim, f->index))
		return -EINVAL;
	if (f->fd_slot == LINK_FD_NONE)
		return type == LINK_SET_VRING_CALL ? 0 : -EINVAL;
	return f->fd_slot >= LINK_FD_FIRST_FREE && f->fd_slot < LINK_MAX_FDS ?
	       0 : -EINVAL;
}

static inline int link_dec_add_fds(const struct ctl_msg *m,
				   struct link_add_fds *a)
{
	if (link_take(m, LINK_ADD_FDS, sizeof(*a), a))
		return -EINVAL;
	a->first_slot = le32toh(a->first_slot);
	a->count = le32toh(a->count);
	if (a->first_slot < LINK_FD_FIRST_FREE ||
	    a->first_slot >= LINK_MAX_FDS || !a->count ||
	    a->count > CTL_MAX_FDS || a->count > LINK_MAX_FDS - a->first_slot)
		return -EINVAL;
	return 0;
}

/* Reason as a NUL-terminated printable string, safe to log. */
static inline int link_dec_needs_reset(const struct ctl_msg *m, char *buf,
				       size_t size)
{
	uint32_t n = m->len;

	if (m->type != LINK_NEEDS_RESET || m->flags || !size ||
	    n > LINK_REASON_MAX)
		return -EINVAL;
	if (n > size - 1)
		n = size - 1;
	memcpy(buf, m->payload, n);
	buf[n] = '\0';
	for (char *c = buf; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	return 0;
}

/*
 * LINK_DEVICE_CMD (tagged: it always gets a reply) and LINK_DEVICE_EVENT
 * (posted): 1..LINK_DEVICE_MSG_MAX opaque bytes copied to buf, whose
 * meaning only the device's own decoder knows (and checks again).
 */
static inline int link_dec_device_msg(const struct ctl_msg *m, uint32_t type,
				      void *buf, uint32_t *len)
{
	if ((type != LINK_DEVICE_CMD && type != LINK_DEVICE_EVENT) ||
	    m->type != type || m->flags || !m->len || m->len > LINK_DEVICE_MSG_MAX ||
	    (type == LINK_DEVICE_CMD) != (m->tag != 0))
		return -EINVAL;
	memcpy(buf, m->payload, m->len);
	*len = m->len;
	return 0;
}

/*
 * A reply to the request tagged tag carrying up to max data bytes (a
 * LINK_DEVICE_CMD's): copied to data, their count in *len (0 on error).
 */
static inline int link_dec_reply_data(const struct ctl_msg *m, uint32_t tag,
				      int *status, void *data, uint32_t max,
				      uint32_t *len)
{
	struct link_reply r;
	int32_t st;

	if (m->type != LINK_REPLY || m->flags != CTL_MSG_F_REPLY ||
	    m->tag != tag || m->len < LINK_REPLY_HDR || m->len > sizeof(r))
		return -EINVAL;
	memcpy(&r, m->payload, m->len);
	st = (int32_t)le32toh(r.status);
	if (r.reserved || st > 0 || st < -4095)
		return -EINVAL;
	*len = m->len - (uint32_t)LINK_REPLY_HDR;
	if (*len > max || (st && *len))
		return -EINVAL;
	memcpy(data, r.data, *len);
	*status = st;
	return 0;
}

/*
 * A reply to the request tagged tag, with exactly want data bytes copied
 * to data. *status is 0 or a negative errno; on error no data is expected.
 */
static inline int link_dec_reply(const struct ctl_msg *m, uint32_t tag,
				 int *status, void *data, uint32_t want)
{
	struct link_reply r;
	int32_t st;

	if (m->type != LINK_REPLY || m->flags != CTL_MSG_F_REPLY ||
	    m->tag != tag || m->len < LINK_REPLY_HDR || m->len > sizeof(r))
		return -EINVAL;
	memcpy(&r, m->payload, m->len);
	st = (int32_t)le32toh(r.status);
	if (r.reserved || st > 0 || st < -4095)
		return -EINVAL;
	if (m->len != LINK_REPLY_HDR + (st ? 0 : want))
		return -EINVAL;
	if (!st && want)
		memcpy(data, r.data, want);
	*status = st;
	return 0;
}

#endif
