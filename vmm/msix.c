#include <string.h>

#include "vmm/log.h"
#include "vmm/msix.h"

#define CTRL_MASKED 1u

int msix_init(struct msix *msix, struct msi_routes *routes, unsigned nr_vectors)
{
	memset(msix, 0, sizeof(*msix));
	if (nr_vectors == 0 || nr_vectors > MSIX_MAX_VECTORS)
		return -1;
	pthread_mutex_init(&msix->lock, NULL);
	msix->routes = routes;
	msix->nr = nr_vectors;
	for (unsigned i = 0; i < nr_vectors; i++) {
		msix->vec[i].ctrl = CTRL_MASKED;
		msix->vec[i].gsi = msi_gsi_alloc(routes);
		if (msix->vec[i].gsi < 0)
			return -1;
	}
	return 0;
}

void msix_destroy(struct msix *msix)
{
	for (unsigned i = 0; i < msix->nr_bind; i++)
		if (msix->bind[i].assigned)
			msi_irqfd(msix->routes->kvm, msix->vec[msix->bind[i].vector].gsi,
				  msix->bind[i].eventfd, false);
	pthread_mutex_destroy(&msix->lock);
}

static bool vector_live(const struct msix *msix, unsigned v)
{
	return msix->enabled && !msix->function_masked && !(msix->vec[v].ctrl & CTRL_MASKED);
}

static struct msi_message vector_message(const struct msix_vector *vec)
{
	return (struct msi_message){
		.addr = (uint64_t)vec->addr_hi << 32 | vec->addr_lo, .data = vec->data,
	};
}

/* Brings KVM in line with one vector: route, irqfds, pending delivery. */
static void sync_vector(struct msix *msix, unsigned v)
{
	struct msix_vector *vec = &msix->vec[v];
	struct msi_message msg = vector_message(vec);
	bool live = vector_live(msix, v);

	if (live)
		msi_gsi_set(msix->routes, vec->gsi, &msg, true);
	for (unsigned i = 0; i < msix->nr_bind; i++) {
		struct msix_binding *b = &msix->bind[i];

		if (b->vector != v || b->assigned == live)
			continue;
		if (!msi_irqfd(msix->routes->kvm, vec->gsi, b->eventfd, live))
			b->assigned = live;
	}
	if (live && vec->pending) {
		vec->pending = false;
		msi_signal(msix->routes->kvm, &msg);
	}
}

static void sync_all(struct msix *msix)
{
	for (unsigned v = 0; v < msix->nr; v++)
		sync_vector(msix, v);
}

void msix_set_control(struct msix *msix, bool enabled, bool function_masked)
{
	pthread_mutex_lock(&msix->lock);
	if (enabled != msix->enabled || function_masked != msix->function_masked) {
		msix->enabled = enabled;
		msix->function_masked = function_masked;
		sync_all(msix);
	}
	pthread_mutex_unlock(&msix->lock);
}

/* Table entries take dword accesses (and qword on the address pair). */
void msix_table_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct msix *msix = opaque;
	unsigned v = (unsigned)(offset / MSIX_ENTRY_SIZE), field = (unsigned)(offset % MSIX_ENTRY_SIZE);
	uint32_t *words;

	if (v >= msix->nr || (len != 4 && len != 8) || field % 4 || field + len > MSIX_ENTRY_SIZE) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&msix->lock);
	words = &msix->vec[v].addr_lo;
	if (is_write) {
		memcpy((uint8_t *)words + field, data, len);
		sync_vector(msix, v);
	} else {
		memcpy(data, (uint8_t *)words + field, len);
	}
	pthread_mutex_unlock(&msix->lock);
}

void msix_pba_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct msix *msix = opaque;
	uint64_t bits = 0;

	if (is_write || offset + len > 8)
		return;
	pthread_mutex_lock(&msix->lock);
	for (unsigned v = 0; v < msix->nr; v++)
		if (msix->vec[v].pending)
			bits |= 1ull << v;
	pthread_mutex_unlock(&msix->lock);
	memcpy(data, (uint8_t *)&bits + offset, len);
}

static struct msix_binding *binding_for(struct msix *msix, int eventfd)
{
	for (unsigned i = 0; i < msix->nr_bind; i++)
		if (msix->bind[i].eventfd == eventfd)
			return &msix->bind[i];
	if (msix->nr_bind == MSIX_MAX_BINDINGS)
		return NULL;
	msix->bind[msix->nr_bind] = (struct msix_binding){ .eventfd = eventfd,
							    .vector = MSIX_NO_VECTOR };
	return &msix->bind[msix->nr_bind++];
}

int msix_bind(struct msix *msix, int eventfd, uint16_t vector)
{
	struct msix_binding *b;

	pthread_mutex_lock(&msix->lock);
	b = binding_for(msix, eventfd);
	if (b && b->assigned) {
		msi_irqfd(msix->routes->kvm, msix->vec[b->vector].gsi, eventfd, false);
		b->assigned = false;
	}
	if (b) {
		b->vector = vector < msix->nr ? vector : MSIX_NO_VECTOR;
		if (b->vector != MSIX_NO_VECTOR)
			sync_vector(msix, b->vector);
	}
	pthread_mutex_unlock(&msix->lock);
	return b ? 0 : -1;
}

void msix_notify(struct msix *msix, uint16_t vector)
{
	struct msi_message msg;

	if (vector >= msix->nr)
		return;
	pthread_mutex_lock(&msix->lock);
	if (vector_live(msix, vector)) {
		msg = vector_message(&msix->vec[vector]);
		msi_signal(msix->routes->kvm, &msg);
	} else {
		msix->vec[vector].pending = true;
	}
	pthread_mutex_unlock(&msix->lock);
}
