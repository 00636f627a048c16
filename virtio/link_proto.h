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
 * Only the messages that flow are defined; a number once used is never
 * given to another message (the gaps below), so a message can come back
 * with its number when a device needs it.
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

/*
 * Retired, not to be reused: 1 GET_FEATURES, 3 GET_CONFIG, 5 SET_MEM_TABLE
 * (the guest RAM mapping is inherited), 8 SET_VRING_BASE, 9 GET_VRING_BASE,
 * 10 SET_VRING_KICK, 11 SET_VRING_CALL (kick and call eventfds are kept
 * across the fork), 15 SHUTDOWN (the VMM SIGKILLs), 16 ADD_FDS.
 */
enum link_type {
	/* VMM -> device, tagged (LINK_DEVICE_CMD may be posted) */
	LINK_SET_FEATURES	= 2,	/* link_u64: the driver's subset at FEATURES_OK */
	LINK_SET_CONFIG		= 4,	/* link_config */
	LINK_SET_VRING_NUM	= 6,	/* link_vring_state: size */
	LINK_SET_VRING_ADDR	= 7,	/* link_vring_addr */
	LINK_SET_VRING_ENABLE	= 12,	/* link_vring_state: 1 */
	LINK_ACTIVATE		= 13,	/* link_u64: features at DRIVER_OK */
	LINK_RESET		= 14,	/* reply once the queues are stopped */
	LINK_DEVICE_CMD		= 17,	/* device-specific bytes; tagged: reply bytes, or posted */
	/* device -> VMM, posted */
	LINK_CONFIG_CHANGED	= 0x100,	/* link_config: new bytes */
	LINK_NEEDS_RESET	= 0x101,	/* reason text */
	LINK_REPLY		= 0x102,	/* link_reply header + data */
	LINK_DEVICE_EVENT	= 0x103,	/* posted: device-specific bytes */
	/* device -> VMM, tagged: the VMM replies (status only) */
	LINK_SHM_MAP		= 0x104,	/* link_shm_map; its fd on the fd socket */
	LINK_SHM_UNMAP		= 0x105,	/* link_shm_unmap */
	LINK_HOST_CONNECT	= 0x106,	/* link_shm_fd: the reply's socket on the fd socket */
};

#define LINK_MAX_QUEUES		64
#define LINK_MAX_QUEUE_SIZE	32768
#define LINK_CONFIG_MAX		232	/* per message; blk's 60 bytes fit */
#define LINK_REASON_MAX		CTL_MSG_PAYLOAD	/* text up to the first NUL */
#define LINK_DEVICE_MSG_MAX	CTL_MSG_PAYLOAD	/* a device command or event */
#define LINK_DEVICE_REPLY_MAX	(CTL_MSG_PAYLOAD - 8)	/* a command's reply data */

/* From struct vdev_ops on both sides: the same binary, not the peer. */
struct link_limits {
	uint32_t nr_queues;		/* <= LINK_MAX_QUEUES */
	uint32_t max_queue_size;	/* <= LINK_MAX_QUEUE_SIZE */
	uint32_t config_size;		/* larger configs go in chunks */
};

struct link_u64 {
	uint64_t val;
};

struct link_config {
	uint32_t offset;
	uint32_t len;
	uint8_t data[LINK_CONFIG_MAX];
};
#define LINK_CONFIG_HDR		offsetof(struct link_config, data)

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

struct link_reply {
	int32_t status;		/* 0 or -errno */
	uint32_t reserved;
	uint8_t data[CTL_MSG_PAYLOAD - 8];
};
#define LINK_REPLY_HDR		offsetof(struct link_reply, data)

/*
 * A shared-memory map request. Its fd travels on the link's fd socket
 * (SOCK_SEQPACKET, SCM_RIGHTS) just before it, as one datagram of a
 * link_shm_fd carrying the same seq and exactly one fd.
 */
struct link_shm_map {
	uint32_t seq;
	uint8_t region;		/* the device type's region id */
	uint8_t reserved[3];
	uint32_t prot;		/* LINK_SHM_PROT_READ, optionally | _WRITE */
	uint32_t reserved2;
	uint64_t offset;	/* in the region */
	uint64_t fd_offset;
	uint64_t size;
};
#define LINK_SHM_PROT_READ	1u
#define LINK_SHM_PROT_WRITE	2u

struct link_shm_unmap {
	uint8_t region;
	uint8_t reserved[7];
	uint64_t offset;
};

struct link_shm_fd {
	uint32_t seq;
	uint32_t reserved;
};

static_assert(sizeof(struct link_u64) == 8, "link_u64");
static_assert(sizeof(struct link_shm_map) == 40, "link_shm_map");
static_assert(sizeof(struct link_shm_unmap) == 16, "link_shm_unmap");
static_assert(sizeof(struct link_shm_fd) == 8, "link_shm_fd");
static_assert(sizeof(struct link_config) == 240, "link_config");
static_assert(sizeof(struct link_vring_state) == 8, "link_vring_state");
static_assert(sizeof(struct link_vring_addr) == 32, "link_vring_addr");
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

/* LINK_RESET. */
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

static inline bool link_queue_ok(const struct link_limits *lim, uint32_t q)
{
	return q < lim->nr_queues && q < LINK_MAX_QUEUES;
}

/* LINK_SET_VRING_NUM, LINK_SET_VRING_ENABLE. */
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
	case LINK_SET_VRING_ENABLE:
		return s->num == 1 ? 0 : -EINVAL;	/* queues stop only by reset */
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
 * LINK_DEVICE_CMD (tagged: it gets a reply; or posted, tag 0: none) and
 * LINK_DEVICE_EVENT (posted): 1..LINK_DEVICE_MSG_MAX opaque bytes copied
 * to buf, whose meaning only the device's own decoder knows (and checks
 * again).
 */
static inline int link_dec_device_msg(const struct ctl_msg *m, uint32_t type,
				      void *buf, uint32_t *len)
{
	if ((type != LINK_DEVICE_CMD && type != LINK_DEVICE_EVENT) ||
	    m->type != type || m->flags || !m->len || m->len > LINK_DEVICE_MSG_MAX ||
	    (type == LINK_DEVICE_EVENT && m->tag))
		return -EINVAL;
	memcpy(buf, m->payload, m->len);
	*len = m->len;
	return 0;
}

static inline bool link_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/*
 * LINK_SHM_MAP (tagged): reserved bytes zero, prot READ or READ|WRITE.
 * Ranges, the region and the fd are the VMM's to check (shm_region).
 */
static inline int link_dec_shm_map(const struct ctl_msg *m, struct link_shm_map *p)
{
	if (!m->tag || link_take(m, LINK_SHM_MAP, sizeof(*p), p))
		return -EINVAL;
	p->seq = le32toh(p->seq);
	p->prot = le32toh(p->prot);
	p->offset = le64toh(p->offset);
	p->fd_offset = le64toh(p->fd_offset);
	p->size = le64toh(p->size);
	if (!link_zero(p->reserved, sizeof(p->reserved)) || p->reserved2 ||
	    (p->prot != LINK_SHM_PROT_READ &&
	     p->prot != (LINK_SHM_PROT_READ | LINK_SHM_PROT_WRITE)))
		return -EINVAL;
	return 0;
}

/* LINK_SHM_UNMAP (tagged). */
static inline int link_dec_shm_unmap(const struct ctl_msg *m, struct link_shm_unmap *p)
{
	if (!m->tag || link_take(m, LINK_SHM_UNMAP, sizeof(*p), p))
		return -EINVAL;
	p->offset = le64toh(p->offset);
	return link_zero(p->reserved, sizeof(p->reserved)) ? 0 : -EINVAL;
}

/*
 * LINK_HOST_CONNECT (tagged): a new connection to the host socket the
 * device was granted (the compositor's, found again by its path: it may
 * have been restarted). On success the VMM sends the connected socket on
 * the fd socket, as a link_shm_fd with the request's seq, before the reply.
 */
static inline int link_dec_host_connect(const struct ctl_msg *m, uint32_t *seq)
{
	struct link_shm_fd f;

	if (!m->tag || link_take(m, LINK_HOST_CONNECT, sizeof(f), &f) || f.reserved)
		return -EINVAL;
	*seq = le32toh(f.seq);
	return 0;
}

/* The fd socket's datagram: exactly a link_shm_fd, reserved zero. */
static inline int link_dec_shm_fd(const void *buf, size_t len, uint32_t *seq)
{
	struct link_shm_fd f;

	if (len != sizeof(f))
		return -EINVAL;
	memcpy(&f, buf, sizeof(f));
	if (f.reserved)
		return -EINVAL;
	*seq = le32toh(f.seq);
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
	if (data && *len)	/* max 0 lets callers pass no buffer */
		memcpy(data, r.data, *len);
	*status = st;
	return 0;
}

/*
 * A reply to the request tagged tag, with exactly want data bytes copied
 * to data. *status is 0 or a negative errno; on error no data is expected.
 * A malformed reply (-EINVAL) may have written part of data.
 */
static inline int link_dec_reply(const struct ctl_msg *m, uint32_t tag,
				 int *status, void *data, uint32_t want)
{
	uint32_t len;
	int st;

	if (link_dec_reply_data(m, tag, &st, data, want, &len) || (!st && len != want))
		return -EINVAL;
	*status = st;
	return 0;
}

#endif
