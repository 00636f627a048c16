/*
 * wl_shm through the proxy. A client's pool is guest memory the host
 * cannot see, so each pool gets host memory of its size (a blob the
 * compositor maps as the pool's fd), and each commit copies into it the
 * rows of the attached buffer that changed since that buffer was last
 * copied: the union of the surface's damage over the commits in between
 * (a client damages against the previous frame, not against the buffer's
 * own last contents). A resize puts a new host pool with a bigger blob
 * behind the client's pool (wlp_ids.h says how its id is found).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest-agent/wayland/wlp.h"

#define MAX_POOL	(256u << 20)	/* the device's bound on one blob */

struct wlp_hostmem {
	int refs;
	struct wlp_blob blob;
};

struct wlp_pool {
	int refs;
	int fd;
	uint8_t *map;
	size_t size;
	uint32_t shm;
	struct wlp_hostmem *mem;
};

struct wlp_buffer {
	struct wlp_pool *pool;
	struct wlp_hostmem *mem;
	int32_t offset, width, height, stride;
	bool synced;
	uint32_t synced_surface;
	uint64_t synced_seq;
};

struct rows {
	int64_t y0, y1;		/* [y0, y1) in buffer rows; empty when y0 >= y1 */
};

struct wlp_surface {
	uint32_t pending, current;
	bool attached, pending_full;
	struct rows damage;
	uint64_t seq;
	struct rows history[WLP_DAMAGE_HISTORY];
	int32_t scale;
	bool transformed;
};

static const struct rows no_rows = { INT64_MAX, INT64_MIN };
static const struct rows all_rows = { INT64_MIN, INT64_MAX };

static struct rows rows_union(struct rows a, struct rows b)
{
	return (struct rows){ a.y0 < b.y0 ? a.y0 : b.y0, a.y1 > b.y1 ? a.y1 : b.y1 };
}

/* A client that truncates its pool's file under us: SIGBUS, caught. */
static sigjmp_buf copy_fault;
static volatile sig_atomic_t copying;

static void on_sigbus(int sig)
{
	if (!copying) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	siglongjmp(copy_fault, 1);
}

static bool guarded_copy(void *dst, const void *src, size_t n)
{
	static bool installed;

	if (!installed) {
		struct sigaction sa = { .sa_handler = on_sigbus };

		sigaction(SIGBUS, &sa, NULL);
		installed = true;
	}
	if (sigsetjmp(copy_fault, 1)) {
		copying = 0;
		return false;
	}
	copying = 1;
	memcpy(dst, src, n);
	copying = 0;
	return true;
}

static void mem_unref(struct wlp_conn *c, struct wlp_hostmem *m)
{
	if (!m || --m->refs)
		return;
	wlp_flush_host(c);	/* a SEND still waiting may name the blob */
	c->link->ops->blob_free(c->link, &m->blob);
	free(m);
}

static void pool_unref(struct wlp_conn *c, struct wlp_pool *p)
{
	if (!p || --p->refs)
		return;
	mem_unref(c, p->mem);
	if (p->map)
		munmap(p->map, p->size);
	close(p->fd);
	free(p);
}

void wlp_shm_free(struct wlp_conn *c, struct wlp_obj *o)
{
	struct wlp_buffer *b = o->data;

	if (o->iface == WLP_SHM_POOL) {
		pool_unref(c, o->data);
	} else if (o->iface == WLP_BUFFER) {
		pool_unref(c, b->pool);
		mem_unref(c, b->mem);
		free(b);
	} else {
		free(o->data);
	}
	o->data = NULL;
}

static void set_u32(uint8_t *msg, size_t at, uint32_t v)
{
	memcpy(msg + at, &v, sizeof(v));
}

/* Host memory for the client's pool, announced as a new host pool. */
static bool host_pool(struct wlp_conn *c, struct wlp_pool *p, uint32_t client_id, size_t size)
{
	struct wlp_hostmem *m = calloc(1, sizeof(*m));
	uint32_t shm = wlp_ids_to_host(&c->ids, p->shm), host;
	uint8_t msg[16];
	struct cd_item item;
	int rc;

	if (!m) {
		wlp_conn_kill(c, "out of memory");
		return false;
	}
	rc = c->link->ops->blob_new(c->link, size, &m->blob);
	host = rc ? 0 : wlp_ids_new(&c->ids, client_id);
	if (!host) {
		if (!rc)
			c->link->ops->blob_free(c->link, &m->blob);
		free(m);
		wlp_conn_kill(c, "no host memory or id for a %zu-byte pool: %s", size,
			      rc ? strerror(-rc) : "out of ids");
		return false;
	}
	m->refs = 1;
	mem_unref(c, p->mem);
	p->mem = m;
	set_u32(msg, 0, shm);
	set_u32(msg, 4, (uint32_t)sizeof(msg) << 16 | WLP_SHM_CREATE_POOL);
	set_u32(msg, 8, host);
	set_u32(msg, 12, (uint32_t)size);
	item = (struct cd_item){ m->blob.id, CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB,
				 (uint32_t)m->blob.size };
	wlp_to_host(c, msg, sizeof(msg), &item, 1);
	return true;
}

static bool map_pool(struct wlp_conn *c, struct wlp_pool *p, int32_t size)
{
	void *map;

	if (size <= 0 || (uint32_t)size > MAX_POOL || (size_t)size < p->size) {
		wlp_conn_kill(c, "a wl_shm pool of %d bytes", size);
		return false;
	}
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, p->fd, 0);
	if (map == MAP_FAILED) {
		wlp_conn_kill(c, "the client's pool fd cannot be mapped: %s", strerror(errno));
		return false;
	}
	if (p->map)
		munmap(p->map, p->size);
	p->map = map;
	p->size = (size_t)size;
	return true;
}

static void create_pool(struct wlp_conn *c, uint32_t shm, const uint8_t *msg, int fd)
{
	struct wl_args a;
	uint32_t id;
	int32_t size;
	struct wlp_pool *p = calloc(1, sizeof(*p));

	wl_args_init(&a, msg, 16);
	id = wl_arg_new_id(&a);
	size = wl_arg_i32(&a);
	if (!p) {
		close(fd);
		wlp_conn_kill(c, "out of memory");
		return;
	}
	*p = (struct wlp_pool){ .refs = 1, .fd = fd, .shm = shm };
	wlp_obj(c, id)->data = p;
	if (map_pool(c, p, size))
		host_pool(c, p, id, (size_t)size);
}

static struct wlp_buffer *new_buffer(struct wlp_conn *c, struct wlp_pool *p, const uint8_t *msg)
{
	struct wl_args a;
	uint32_t id;
	struct wlp_buffer *b = calloc(1, sizeof(*b));

	if (!b) {
		wlp_conn_kill(c, "out of memory");
		return NULL;
	}
	wl_args_init(&a, msg, 32);
	id = wl_arg_new_id(&a);
	b->offset = wl_arg_i32(&a);
	b->width = wl_arg_i32(&a);
	b->height = wl_arg_i32(&a);
	b->stride = wl_arg_i32(&a);
	if (b->offset < 0 || b->width <= 0 || b->height <= 0 || b->stride < b->width ||
	    (uint64_t)b->offset + (uint64_t)b->stride * (uint64_t)b->height > p->size) {
		free(b);
		wlp_conn_kill(c, "a wl_shm buffer outside its pool");
		return NULL;
	}
	b->pool = p;
	b->mem = p->mem;
	p->refs++;
	p->mem->refs++;
	wlp_obj(c, id)->data = b;
	return b;
}

static bool pool_request(struct wlp_conn *c, uint32_t id, struct wlp_obj *o, uint16_t opcode,
			 uint8_t *msg)
{
	struct wlp_pool *p = o->data;
	uint32_t old = wlp_ids_to_host(&c->ids, id);
	uint8_t destroy[8];
	struct wl_args a;

	if (!p)
		return false;
	if (opcode == WLP_SHM_POOL_CREATE_BUFFER)
		return new_buffer(c, p, msg) != NULL;
	if (opcode != WLP_SHM_POOL_RESIZE)
		return true;
	/* A new host pool takes the client's id; the old one goes, its
	 * buffers keeping their blob. */
	wl_args_init(&a, msg, 12);
	if (!map_pool(c, p, wl_arg_i32(&a)) || !host_pool(c, p, id, p->size))
		return false;
	wlp_ids_retire(&c->ids, old);
	set_u32(destroy, 0, old);
	set_u32(destroy, 4, (uint32_t)sizeof(destroy) << 16 | WLP_SHM_POOL_DESTROY);
	wlp_to_host(c, destroy, sizeof(destroy), NULL, 0);
	return false;
}

static struct rows damage_rows(const struct wlp_surface *s, const uint8_t *msg, bool buffer)
{
	struct wl_args a;
	int64_t y, h, scale = buffer ? 1 : s->scale;

	wl_args_init(&a, msg, 24);
	wl_arg_i32(&a);
	y = wl_arg_i32(&a);
	wl_arg_i32(&a);
	h = wl_arg_i32(&a);
	if (h <= 0)
		return no_rows;
	return (struct rows){ y * scale, (y + h) * scale };
}

static void copy_rows(struct wlp_conn *c, struct wlp_buffer *b, struct rows r)
{
	size_t at, n;

	if (r.y0 < 0)
		r.y0 = 0;
	if (r.y1 > b->height)
		r.y1 = b->height;
	c->stats.bytes_full += (uint64_t)b->stride * (uint64_t)b->height;
	if (r.y0 >= r.y1)
		return;
	at = (size_t)b->offset + (size_t)r.y0 * (size_t)b->stride;
	n = (size_t)(r.y1 - r.y0) * (size_t)b->stride;
	if (!guarded_copy((uint8_t *)b->mem->blob.map + at, b->pool->map + at, n)) {
		wlp_conn_kill(c, "the client's pool shrank under a commit (SIGBUS)");
		return;
	}
	c->stats.bytes_copied += n;
}

static void commit(struct wlp_conn *c, uint32_t surface_id, struct wlp_surface *s)
{
	struct wlp_obj *bo;
	struct wlp_buffer *b;
	struct rows r;

	if (s->attached)
		s->current = s->pending;
	s->attached = false;
	s->seq++;
	s->history[s->seq % WLP_DAMAGE_HISTORY] = s->pending_full ? all_rows : s->damage;
	s->damage = no_rows;
	s->pending_full = false;
	c->stats.commits++;
	bo = s->current ? wlp_obj(c, s->current) : NULL;
	b = bo && bo->iface == WLP_BUFFER ? bo->data : NULL;
	if (!b)
		return;
	if (!b->synced || b->synced_surface != surface_id ||
	    s->seq - b->synced_seq > WLP_DAMAGE_HISTORY) {
		r = all_rows;
	} else {
		r = no_rows;
		for (uint64_t q = b->synced_seq + 1; q <= s->seq; q++)
			r = rows_union(r, s->history[q % WLP_DAMAGE_HISTORY]);
	}
	copy_rows(c, b, r);
	b->synced = true;
	b->synced_surface = surface_id;
	b->synced_seq = s->seq;
}

static bool surface_request(struct wlp_conn *c, uint32_t id, struct wlp_obj *o, uint16_t opcode,
			    const uint8_t *msg, size_t size)
{
	struct wlp_surface *s = o->data;
	struct wl_args a;

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			wlp_conn_kill(c, "out of memory");
			return false;
		}
		s->scale = 1;
		s->damage = no_rows;
		o->data = s;
	}
	wl_args_init(&a, msg, size);
	switch (opcode) {
	case WLP_SURFACE_ATTACH:
		s->pending = wl_arg_object(&a);
		s->attached = true;
		break;
	case WLP_SURFACE_DAMAGE:
	case WLP_SURFACE_DAMAGE_BUFFER:
		s->damage = rows_union(s->damage,
				       damage_rows(s, msg, opcode == WLP_SURFACE_DAMAGE_BUFFER));
		s->pending_full |= s->transformed;
		break;
	case WLP_SURFACE_SET_BUFFER_SCALE:
		s->scale = wl_arg_i32(&a);
		s->scale = s->scale > 0 && s->scale <= 16 ? s->scale : 1;
		s->pending_full = true;
		break;
	case WLP_SURFACE_SET_BUFFER_TRANSFORM:
		s->transformed = wl_arg_i32(&a) != 0;
		s->pending_full = true;
		break;
	case WLP_SURFACE_COMMIT:
		commit(c, id, s);
		break;
	}
	return !c->dead;
}

bool wlp_shm_request(struct wlp_conn *c, uint32_t object, enum wlp_iface iface,
		     uint16_t opcode, uint8_t *msg, size_t size, int fd)
{
	struct wlp_obj *o = wlp_obj(c, object);

	if (iface == WLP_SHM) {
		create_pool(c, object, msg, fd);
		return false;
	}
	if (fd >= 0)
		close(fd);
	if (iface == WLP_SHM_POOL)
		return pool_request(c, object, o, opcode, msg);
	if (iface == WLP_SURFACE)
		return surface_request(c, object, o, opcode, msg, size);
	return true;
}
