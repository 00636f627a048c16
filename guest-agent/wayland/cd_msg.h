/*
 * Cross-domain commands as the guest writes them (into a SUBMIT_3D
 * buffer) and the messages the host writes at offset 0 of the channel
 * ring, per devices/cross_domain_proto.h. Pure byte work, so that the
 * host's unit tests can check it.
 */
#ifndef VMSILO_CD_MSG_H
#define VMSILO_CD_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/cross_domain_proto.h"

/* One identifier of SEND/RECEIVE: an id, its CROSS_DOMAIN_ID_TYPE_*, a size. */
struct cd_item {
	uint32_t id, type, size;
};

/*
 * Encoders write one command at buf and return its size (its cmd_size),
 * or 0 when it does not fit in cap or in cmd_size's 16 bits.
 * cd_init: size is 16, 20 or 36; the 16-byte form has no channel ring.
 */
size_t cd_init(void *buf, size_t cap, unsigned size, uint32_t query_ring,
	       uint32_t channel_ring, uint32_t channel_type);
size_t cd_poll(void *buf, size_t cap);
size_t cd_image_req(void *buf, size_t cap, uint32_t width, uint32_t height,
		    uint32_t drm_format, uint32_t flags);
size_t cd_send(void *buf, size_t cap, const struct cd_item *items, uint32_t n_items,
	       const void *data, uint32_t len);
size_t cd_write(void *buf, size_t cap, uint32_t id, bool hang_up, const void *data,
		uint32_t len);

/* A RECEIVE or READ from the channel ring; data points into the ring. */
struct cd_msg {
	uint8_t cmd;			/* CROSS_DOMAIN_CMD_RECEIVE or _READ */
	uint32_t n_items;		/* RECEIVE */
	struct cd_item items[CROSS_DOMAIN_MAX_IDENTIFIERS];
	uint32_t id;			/* READ */
	bool hang_up;
	const uint8_t *data;
	uint32_t len;
};

/* 0, or -1 with *why set when the ring holds no well-formed message. */
int cd_parse(const void *ring, size_t ring_size, struct cd_msg *m, const char **why);

#endif
