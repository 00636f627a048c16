/* The vsock stream table: fixed slots, a free stack, buckets by port pair. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/vsock.h"

static unsigned bucket(uint32_t host_port, uint32_t guest_port)
{
	return ((host_port * 2654435761u) ^ (guest_port * 40503u)) % VSOCK_BUCKETS;
}

int vsock_conns_init(struct vsock *v)
{
	v->conns = calloc(VSOCK_MAX_CONNS, sizeof(*v->conns));
	v->free_slots = calloc(VSOCK_MAX_CONNS, sizeof(*v->free_slots));
	if (!v->conns || !v->free_slots)
		return -ENOMEM;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		v->conns[i].fd = -1;
		v->conns[i].rx_next = VSOCK_NONE;
		v->free_slots[i] = (uint16_t)(VSOCK_MAX_CONNS - 1 - i);
	}
	v->nr_free = VSOCK_MAX_CONNS;
	for (unsigned b = 0; b < VSOCK_BUCKETS; b++)
		v->buckets[b] = VSOCK_NONE;
	v->rx_head = v->rx_tail = VSOCK_NONE;
	v->next_port = VSOCK_FIRST_PORT;
	return 0;
}

void vsock_conns_destroy(struct vsock *v)
{
	for (unsigned i = 0; v->conns && i < VSOCK_MAX_CONNS; i++)
		free(v->conns[i].buf);
	free(v->conns);
	free(v->free_slots);
}

/* in_rx and rx_next survive: the slot may still sit in the rx queue. */
struct vsock_conn *vsock_conn_new(struct vsock *v, enum vsock_state state)
{
	struct vsock_conn *c;
	uint32_t gen;
	uint16_t rx_next;
	bool in_rx;

	if (!v->nr_free)
		return NULL;
	c = &v->conns[v->free_slots[--v->nr_free]];
	gen = c->gen, rx_next = c->rx_next, in_rx = c->in_rx;
	memset(c, 0, sizeof(*c));
	c->gen = gen, c->rx_next = rx_next, c->in_rx = in_rx;
	c->state = state;
	c->fd = -1;
	c->hash_next = VSOCK_NONE;
	return c;
}

static void unhash(struct vsock *v, struct vsock_conn *c)
{
	uint16_t *link = &v->buckets[bucket(c->host_port, c->guest_port)];
	uint16_t idx = vsock_conn_index(v, c);

	while (*link != VSOCK_NONE && *link != idx)
		link = &v->conns[*link].hash_next;
	if (*link == idx)
		*link = c->hash_next;
	c->hashed = false;
}

/* The caller closed the socket (vsock_host_close). */
void vsock_conn_free(struct vsock *v, struct vsock_conn *c)
{
	if (c->state == VS_FREE)
		return;
	if (c->hashed)
		unhash(v, c);
	free(c->buf);
	c->buf = NULL;
	c->state = VS_FREE;
	c->gen++;
	v->free_slots[v->nr_free++] = vsock_conn_index(v, c);
	v->full_logged = false;
}

struct vsock_conn *vsock_conn_find(struct vsock *v, uint32_t host_port, uint32_t guest_port)
{
	uint16_t i = v->buckets[bucket(host_port, guest_port)];

	while (i != VSOCK_NONE) {
		struct vsock_conn *c = &v->conns[i];

		if (c->host_port == host_port && c->guest_port == guest_port)
			return c;
		i = c->hash_next;
	}
	return NULL;
}

bool vsock_conn_bind(struct vsock *v, struct vsock_conn *c, uint32_t host_port,
		     uint32_t guest_port)
{
	unsigned b = bucket(host_port, guest_port);

	if (c->hashed && c->host_port == host_port && c->guest_port == guest_port)
		return true;
	if (vsock_conn_find(v, host_port, guest_port))
		return false;
	if (c->hashed)
		unhash(v, c);
	c->host_port = host_port;
	c->guest_port = guest_port;
	c->hash_next = v->buckets[b];
	v->buckets[b] = vsock_conn_index(v, c);
	c->hashed = true;
	return true;
}

/* An ephemeral host port, Firecracker style: counts up from 2^30. */
uint32_t vsock_conn_free_port(struct vsock *v, uint32_t guest_port)
{
	uint32_t port;

	do {
		port = v->next_port++;
		if (v->next_port >= 0x80000000u)
			v->next_port = VSOCK_FIRST_PORT;
	} while (vsock_conn_find(v, port, guest_port));
	return port;
}
