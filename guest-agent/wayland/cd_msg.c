/* Cross-domain commands and channel-ring messages: see cd_msg.h. */
#include <string.h>

#include "guest-agent/wayland/cd_msg.h"

#define CMD_SIZE_MAX	0xffffu

static struct cross_domain_hdr hdr(uint8_t cmd, uint8_t ring, size_t size)
{
	struct cross_domain_hdr h = { .cmd = cmd, .ring_idx = ring, .cmd_size = (uint16_t)size };

	return h;
}

static size_t fits(size_t size, size_t cap)
{
	return size <= cap && size <= CMD_SIZE_MAX ? size : 0;
}

size_t cd_init(void *buf, size_t cap, unsigned size, uint32_t query_ring,
	       uint32_t channel_ring, uint32_t channel_type)
{
	struct cross_domain_init init = { 0 };
	struct cross_domain_init_legacy legacy = { 0 };

	if (size != CROSS_DOMAIN_INIT_SIZE_LEGACY && size != CROSS_DOMAIN_INIT_SIZE_V1 &&
	    size != CROSS_DOMAIN_INIT_SIZE)
		return 0;
	if (!fits(size, cap))
		return 0;
	if (size == CROSS_DOMAIN_INIT_SIZE_LEGACY) {
		legacy.hdr = hdr(CROSS_DOMAIN_CMD_INIT, 0, size);
		legacy.query_ring_id = query_ring;
		legacy.channel_type = channel_type;
		memcpy(buf, &legacy, size);
		return size;
	}
	init.hdr = hdr(CROSS_DOMAIN_CMD_INIT, 0, size);
	init.query_ring_id = query_ring;
	init.channel_ring_id = channel_ring;
	init.channel_type = channel_type;
	memcpy(buf, &init, size);
	return size;
}

/* The proxies send the header and 8 bytes of padding. */
size_t cd_poll(void *buf, size_t cap)
{
	struct cross_domain_hdr h = hdr(CROSS_DOMAIN_CMD_POLL, CROSS_DOMAIN_CHANNEL_RING, 16);

	if (!fits(16, cap))
		return 0;
	memset(buf, 0, 16);
	memcpy(buf, &h, sizeof(h));
	return 16;
}

size_t cd_image_req(void *buf, size_t cap, uint32_t width, uint32_t height,
		    uint32_t drm_format, uint32_t flags)
{
	struct cross_domain_get_image_requirements q = {
		.hdr = hdr(CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS, CROSS_DOMAIN_QUERY_RING,
			   sizeof(q)),
		.width = width, .height = height, .drm_format = drm_format, .flags = flags,
	};

	if (!fits(sizeof(q), cap))
		return 0;
	memcpy(buf, &q, sizeof(q));
	return sizeof(q);
}

size_t cd_send(void *buf, size_t cap, const struct cd_item *items, uint32_t n_items,
	       const void *data, uint32_t len)
{
	struct cross_domain_send_receive s = { 0 };
	size_t size = sizeof(s) + (size_t)len;

	if (n_items > CROSS_DOMAIN_MAX_IDENTIFIERS || !fits(size, cap))
		return 0;
	s.hdr = hdr(CROSS_DOMAIN_CMD_SEND, 0, size);
	s.num_identifiers = n_items;
	s.opaque_data_size = len;
	for (uint32_t i = 0; i < n_items; i++) {
		s.identifiers[i] = items[i].id;
		s.identifier_types[i] = items[i].type;
		s.identifier_sizes[i] = items[i].size;
	}
	memcpy(buf, &s, sizeof(s));
	if (len)
		memcpy((uint8_t *)buf + sizeof(s), data, len);
	return size;
}

size_t cd_write(void *buf, size_t cap, uint32_t id, bool hang_up, const void *data,
		uint32_t len)
{
	struct cross_domain_read_write w = { 0 };
	size_t size = sizeof(w) + (size_t)len;

	if (!fits(size, cap))
		return 0;
	w.hdr = hdr(CROSS_DOMAIN_CMD_WRITE, 0, size);
	w.identifier = id;
	w.hang_up = hang_up;
	w.opaque_data_size = len;
	memcpy(buf, &w, sizeof(w));
	if (len)
		memcpy((uint8_t *)buf + sizeof(w), data, len);
	return size;
}

static int parse_receive(const uint8_t *ring, size_t ring_size, struct cd_msg *m,
			 const char **why)
{
	struct cross_domain_send_receive r;

	if (ring_size < sizeof(r)) {
		*why = "ring too small for RECEIVE";
		return -1;
	}
	memcpy(&r, ring, sizeof(r));
	if (r.num_identifiers > CROSS_DOMAIN_MAX_IDENTIFIERS) {
		*why = "RECEIVE with more than 28 identifiers";
		return -1;
	}
	if (r.opaque_data_size > ring_size - sizeof(r)) {
		*why = "RECEIVE data beyond the ring";
		return -1;
	}
	m->n_items = r.num_identifiers;
	for (uint32_t i = 0; i < r.num_identifiers; i++) {
		m->items[i].id = r.identifiers[i];
		m->items[i].type = r.identifier_types[i];
		m->items[i].size = r.identifier_sizes[i];
	}
	m->data = ring + sizeof(r);
	m->len = r.opaque_data_size;
	return 0;
}

static int parse_read(const uint8_t *ring, size_t ring_size, struct cd_msg *m,
		      const char **why)
{
	struct cross_domain_read_write r;

	if (ring_size < sizeof(r)) {
		*why = "ring too small for READ";
		return -1;
	}
	memcpy(&r, ring, sizeof(r));
	if (r.opaque_data_size > ring_size - sizeof(r)) {
		*why = "READ data beyond the ring";
		return -1;
	}
	m->id = r.identifier;
	m->hang_up = r.hang_up != 0;
	m->data = ring + sizeof(r);
	m->len = r.opaque_data_size;
	return 0;
}

/* Only cmd is read from the header: crosvm leaves cmd_size 0 in what it writes. */
int cd_parse(const void *ring, size_t ring_size, struct cd_msg *m, const char **why)
{
	memset(m, 0, sizeof(*m));
	if (ring_size < sizeof(struct cross_domain_hdr)) {
		*why = "ring too small";
		return -1;
	}
	m->cmd = *(const uint8_t *)ring;
	if (m->cmd == CROSS_DOMAIN_CMD_RECEIVE)
		return parse_receive(ring, ring_size, m, why);
	if (m->cmd == CROSS_DOMAIN_CMD_READ)
		return parse_read(ring, ring_size, m, why);
	*why = "unknown command in the channel ring";
	return -1;
}
