/* Client and host object ids: see wlp_ids.h. */
#include <stdlib.h>
#include <string.h>

#include "guest-agent/wayland/wlp_ids.h"

#define MAX_HOST_ID	(2 * WLP_MAX_CLIENT_ID)	/* retired ids wait for their delete_id */

bool wlp_grow(void *array, uint32_t *nr, uint32_t need, size_t elem)
{
	void **v = array;
	uint32_t n = *nr ? *nr : 64;
	uint8_t *bigger;

	if (need < *nr)
		return true;
	while (n <= need)
		n *= 2;
	bigger = realloc(*v, (size_t)n * elem);
	if (!bigger)
		return false;
	memset(bigger + (size_t)*nr * elem, 0, (size_t)(n - *nr) * elem);
	*v = bigger;
	*nr = n;
	return true;
}

static bool grow(uint32_t **v, uint32_t *nr, uint32_t need)
{
	return wlp_grow(v, nr, need, sizeof(**v));
}

bool wlp_ids_init(struct wlp_ids *ids)
{
	memset(ids, 0, sizeof(*ids));
	if (!grow(&ids->c2h, &ids->nr_c2h, 1) || !grow(&ids->h2c, &ids->nr_h2c, 1))
		return false;
	ids->c2h[1] = ids->h2c[1] = 1;	/* wl_display */
	ids->next_fresh = 2;
	return true;
}

void wlp_ids_free(struct wlp_ids *ids)
{
	free(ids->c2h);
	free(ids->h2c);
	free(ids->free_ids);
	memset(ids, 0, sizeof(*ids));
}

static uint32_t take_host_id(struct wlp_ids *ids)
{
	uint32_t host;

	if (ids->nr_free)
		return ids->free_ids[--ids->nr_free];
	/* The compositor's table only grows: the next id past its end. */
	host = ids->next_fresh;
	if (host >= MAX_HOST_ID || !grow(&ids->h2c, &ids->nr_h2c, host))
		return 0;
	ids->next_fresh++;
	return host;
}

uint32_t wlp_ids_new(struct wlp_ids *ids, uint32_t client_id)
{
	uint32_t host;

	if (!client_id || client_id >= WLP_MAX_CLIENT_ID ||
	    !grow(&ids->c2h, &ids->nr_c2h, client_id) || !(host = take_host_id(ids)))
		return 0;
	ids->h2c[host] = client_id;
	ids->c2h[client_id] = host;
	return host;
}

uint32_t wlp_ids_own(struct wlp_ids *ids)
{
	uint32_t host = take_host_id(ids);

	if (host)
		ids->h2c[host] = WLP_ID_RETIRED;
	return host;
}

uint32_t wlp_ids_to_host(const struct wlp_ids *ids, uint32_t client_id)
{
	if (client_id >= WLP_SERVER_ID_START)
		return client_id;
	return client_id < ids->nr_c2h ? ids->c2h[client_id] : 0;
}

uint32_t wlp_ids_to_client(const struct wlp_ids *ids, uint32_t host_id)
{
	if (host_id >= WLP_SERVER_ID_START)
		return host_id;
	return host_id < ids->nr_h2c ? ids->h2c[host_id] : 0;
}

void wlp_ids_retire(struct wlp_ids *ids, uint32_t host_id)
{
	if (host_id && host_id < ids->nr_h2c && ids->h2c[host_id])
		ids->h2c[host_id] = WLP_ID_RETIRED;
}

uint32_t wlp_ids_deleted(struct wlp_ids *ids, uint32_t host_id)
{
	uint32_t client;

	if (host_id <= 1 || host_id >= ids->nr_h2c || !ids->h2c[host_id])
		return 0;
	client = ids->h2c[host_id];
	ids->h2c[host_id] = 0;
	if (ids->nr_free == ids->cap_free) {
		uint32_t cap = ids->cap_free ? 2 * ids->cap_free : 64;
		uint32_t *bigger = realloc(ids->free_ids, cap * sizeof(*bigger));

		if (bigger) {
			ids->free_ids = bigger;
			ids->cap_free = cap;
		}
	}
	/* Without room in the free list the id is only never reused. */
	if (ids->nr_free < ids->cap_free)
		ids->free_ids[ids->nr_free++] = host_id;
	else
		ids->h2c[host_id] = WLP_ID_RETIRED;
	if (client == WLP_ID_RETIRED)
		return 0;
	if (client < ids->nr_c2h && ids->c2h[client] == host_id)
		ids->c2h[client] = 0;
	return client;
}
