/*
 * Object ids on the two sides of the proxy. The compositor's libwayland
 * takes a client's new id only if it is at most one past the highest it
 * has seen, so the proxy cannot slip objects of its own (a resized pool's
 * new host pool) into the client's id space: it numbers the client-made
 * objects on the host side itself, densely, reusing ids the compositor
 * has deleted, and translates every object id in both directions. Ids the
 * compositor makes (from 0xff000000) are the same on both sides.
 */
#ifndef VMSILO_WLP_IDS_H
#define VMSILO_WLP_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WLP_SERVER_ID_START	0xff000000u
#define WLP_MAX_CLIENT_ID	(1u << 20)	/* libwayland hands out the lowest free id */
#define WLP_ID_RETIRED		0xffffffffu	/* a host id no client id maps to any more */

struct wlp_ids {
	uint32_t *c2h, nr_c2h;
	uint32_t *h2c, nr_h2c;
	uint32_t *free_ids, nr_free, cap_free;
	uint32_t next_fresh;
};

/* *array (of *nr elements of elem bytes) grown, zeroed, to hold index need. */
bool wlp_grow(void *array, uint32_t *nr, uint32_t need, size_t elem);

bool wlp_ids_init(struct wlp_ids *ids);
void wlp_ids_free(struct wlp_ids *ids);
/* A host id for client_id (which now maps to it); 0 when out of ids. */
uint32_t wlp_ids_new(struct wlp_ids *ids, uint32_t client_id);
/* A host id for an object of the proxy's own (no client id maps to it);
 * 0 when out of ids. */
uint32_t wlp_ids_own(struct wlp_ids *ids);
/* 0 for an id the other side does not have. */
uint32_t wlp_ids_to_host(const struct wlp_ids *ids, uint32_t client_id);
uint32_t wlp_ids_to_client(const struct wlp_ids *ids, uint32_t host_id);
/* The host id is the proxy's own now: its delete_id is not the client's. */
void wlp_ids_retire(struct wlp_ids *ids, uint32_t host_id);
/* The compositor deleted host_id: the client id to tell, 0 if none. */
uint32_t wlp_ids_deleted(struct wlp_ids *ids, uint32_t host_id);

#endif
