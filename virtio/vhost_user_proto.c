#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "virtio/vhost_user_proto.h"

static const char *const request_names[] = {
	[VHOST_USER_GET_FEATURES] = "GET_FEATURES",
	[VHOST_USER_SET_FEATURES] = "SET_FEATURES",
	[VHOST_USER_SET_OWNER] = "SET_OWNER",
	[VHOST_USER_RESET_OWNER] = "RESET_OWNER",
	[VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
	[VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
	[VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
	[VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
	[VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
	[VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
	[VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VHOST_USER_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
	[VHOST_USER_GET_CONFIG] = "GET_CONFIG",
	[VHOST_USER_SET_CONFIG] = "SET_CONFIG",
	[VHOST_USER_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
	[VHOST_USER_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
	[VHOST_USER_RESET_DEVICE] = "RESET_DEVICE",
};

const char *vhost_user_request_name(uint32_t request, char *buf, size_t len)
{
	if (request < sizeof(request_names) / sizeof(request_names[0]) && request_names[request])
		return request_names[request];
	snprintf(buf, len, "request %u", request);
	return buf;
}

/* The backend's requests are numbered apart from ours (vhost-user spec). */
static const char *const backend_request_names[] = {
	[1] = "IOTLB_MSG",
	[VHOST_USER_BACKEND_CONFIG_CHANGE_MSG] = "CONFIG_CHANGE_MSG",
	[3] = "VRING_HOST_NOTIFIER_MSG",
	[VHOST_USER_BACKEND_VRING_CALL] = "VRING_CALL",
	[5] = "VRING_ERR",
	[6] = "SHARED_OBJECT_ADD",
	[7] = "SHARED_OBJECT_REMOVE",
	[8] = "SHARED_OBJECT_LOOKUP",
};

const char *vhost_user_backend_request_name(uint32_t request, char *buf, size_t len)
{
	if (request < sizeof(backend_request_names) / sizeof(backend_request_names[0]) &&
	    backend_request_names[request])
		return backend_request_names[request];
	snprintf(buf, len, "backend request %u", request);
	return buf;
}

static size_t msg_init(struct vhost_user_msg *m, uint32_t request, uint32_t flags,
		       uint32_t size)
{
	memset(m, 0, sizeof(*m));
	m->hdr = (struct vhost_user_hdr){ request, VHOST_USER_VERSION | flags, size };
	return sizeof(m->hdr) + size;
}

size_t vhost_user_msg_empty(struct vhost_user_msg *m, uint32_t request, uint32_t flags)
{
	return msg_init(m, request, flags, 0);
}

size_t vhost_user_msg_u64(struct vhost_user_msg *m, uint32_t request, uint32_t flags,
			  uint64_t val)
{
	size_t n = msg_init(m, request, flags, sizeof(m->p.u64));

	m->p.u64 = val;
	return n;
}

size_t vhost_user_msg_state(struct vhost_user_msg *m, uint32_t request, uint32_t index,
			    uint32_t num)
{
	size_t n = msg_init(m, request, 0, sizeof(m->p.state));

	m->p.state = (struct vhost_user_vring_state){ index, num };
	return n;
}

size_t vhost_user_msg_addr(struct vhost_user_msg *m, uint32_t index, uint64_t desc,
			   uint64_t used, uint64_t avail)
{
	size_t n = msg_init(m, VHOST_USER_SET_VRING_ADDR, 0, sizeof(m->p.addr));

	m->p.addr = (struct vhost_user_vring_addr){
		.index = index, .desc = desc, .used = used, .avail = avail,
	};
	return n;
}

size_t vhost_user_msg_mem_table(struct vhost_user_msg *m, uint32_t flags,
				const struct vhost_user_region *regions, unsigned nr)
{
	size_t n;

	if (!nr || nr > VHOST_USER_MAX_REGIONS)
		return 0;
	n = msg_init(m, VHOST_USER_SET_MEM_TABLE, flags,
		     (uint32_t)(8 + nr * sizeof(struct vhost_user_region)));
	m->p.mem.nregions = nr;
	memcpy(m->p.mem.regions, regions, nr * sizeof(*regions));
	return n;
}

size_t vhost_user_msg_config(struct vhost_user_msg *m, uint32_t request, uint32_t flags,
			     uint32_t offset, const void *data, uint32_t size)
{
	size_t n;

	if (!size || size > VHOST_USER_CONFIG_MAX)
		return 0;
	n = msg_init(m, request, flags, VHOST_USER_CONFIG_HDR + size);
	m->p.config.offset = offset;
	m->p.config.size = size;
	if (data)
		memcpy(m->p.config.data, data, size);
	return n;
}

size_t vhost_user_msg_inflight(struct vhost_user_msg *m, uint32_t request,
			       const struct vhost_user_inflight *in)
{
	size_t n = msg_init(m, request, 0, sizeof(m->p.inflight));

	m->p.inflight = *in;
	return n;
}

int vhost_user_reply_size(uint32_t request, uint32_t request_size)
{
	switch (request) {
	case VHOST_USER_GET_FEATURES:
	case VHOST_USER_GET_PROTOCOL_FEATURES:
	case VHOST_USER_GET_QUEUE_NUM:
		return sizeof(uint64_t);
	case VHOST_USER_GET_VRING_BASE:
		return sizeof(struct vhost_user_vring_state);
	case VHOST_USER_GET_CONFIG:
		return (int)request_size;	/* the same header, the bytes filled in */
	case VHOST_USER_GET_INFLIGHT_FD:
		return sizeof(struct vhost_user_inflight);
	default:
		return -1;
	}
}

unsigned vhost_user_reply_fds(uint32_t request)
{
	return request == VHOST_USER_GET_INFLIGHT_FD ? 1 : 0;
}

int vhost_user_check_reply_hdr(const struct vhost_user_hdr *h, uint32_t request,
			       uint32_t want_size, char *why, size_t len)
{
	char a[24], b[24];

	if (h->request != request)
		snprintf(why, len, "reply to %s, expected one to %s",
			 vhost_user_request_name(h->request, a, sizeof(a)),
			 vhost_user_request_name(request, b, sizeof(b)));
	else if ((h->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		snprintf(why, len, "reply of version %u, expected %u",
			 h->flags & VHOST_USER_VERSION_MASK, VHOST_USER_VERSION);
	else if (!(h->flags & VHOST_USER_FLAG_REPLY))
		snprintf(why, len, "reply without the REPLY flag (flags %#x)", h->flags);
	else if (h->size != want_size)
		snprintf(why, len, "reply of %u bytes, expected %u", h->size, want_size);
	else
		return 0;
	return -EPROTO;
}

int vhost_user_check_reply_fds(uint32_t request, unsigned nr_fds, char *why, size_t len)
{
	unsigned want = vhost_user_reply_fds(request);

	if (nr_fds == want)
		return 0;
	snprintf(why, len, "reply with %u fds, expected %u", nr_fds, want);
	return -EPROTO;
}

int vhost_user_check_ack(uint64_t val, char *why, size_t len)
{
	if (!val)
		return 0;
	snprintf(why, len, "backend refused it (status %llu)", (unsigned long long)val);
	return -EPROTO;
}

int vhost_user_check_queue_num(uint64_t val, unsigned max, char *why, size_t len)
{
	if (val && val <= max)
		return 0;
	snprintf(why, len, "backend says %llu queues, at most %u", (unsigned long long)val, max);
	return -EPROTO;
}

int vhost_user_check_vring_base(const struct vhost_user_vring_state *s, uint32_t index,
				char *why, size_t len)
{
	if (s->index == index && s->num <= 0xffff)
		return 0;
	snprintf(why, len, "base %u of queue %u, expected queue %u and a 16-bit index",
		 s->num, s->index, index);
	return -EPROTO;
}

int vhost_user_check_config(const struct vhost_user_config *c, uint32_t offset, uint32_t size,
			    char *why, size_t len)
{
	if (c->offset == offset && c->size == size)
		return 0;
	snprintf(why, len, "config of %u bytes at %u, asked for %u at %u", c->size, c->offset,
		 size, offset);
	return -EPROTO;
}

int vhost_user_check_inflight(const struct vhost_user_inflight *in, char *why, size_t len)
{
	if (in->mmap_size && in->mmap_size <= VHOST_USER_INFLIGHT_MAX &&
	    in->mmap_offset <= VHOST_USER_INFLIGHT_MAX)
		return 0;
	snprintf(why, len, "inflight area of %llu bytes at %llu, at most %llu",
		 (unsigned long long)in->mmap_size, (unsigned long long)in->mmap_offset,
		 (unsigned long long)VHOST_USER_INFLIGHT_MAX);
	return -EPROTO;
}

int vhost_user_check_backend_hdr(const struct vhost_user_hdr *h, char *why, size_t len)
{
	if ((h->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		snprintf(why, len, "backend request of version %u", h->flags & VHOST_USER_VERSION_MASK);
	else if (h->flags & VHOST_USER_FLAG_REPLY)
		snprintf(why, len, "a reply where a request belongs");
	else if (h->size > VHOST_USER_PAYLOAD_MAX)
		snprintf(why, len, "backend request of %u bytes", h->size);
	else
		return 0;
	return -EPROTO;
}
