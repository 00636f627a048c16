/*
 * wl_shm through the proxy. A client's pool is guest memory the host
 * cannot see, so each pool gets host memory of its size (a blob the
 * compositor maps as the pool's fd), and each commit copies into it the
 * rows of the attached buffer that changed since that buffer was last
 * copied: the union of the surface's damage over the commits in between
 * (a client damages against the previous frame, not against the buffer's
 * own last contents). A resize puts a new host pool with a bigger blob
 * behind the client's pool (wlp_ids.h says how its id is found).
 *
 * A dma-buf buffer (wlp_dmabuf.c) is the same host buffer, with the
 * client's imported virgl resource in place of the pool: each commit
 * first brings the rows to copy up to date in the resource's mapping.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest-agent/wayland/wlp.h"

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
	struct wlp_pool *pool;		/* NULL for a dma-buf buffer */
	struct wlp_hostmem *mem;
	int32_t offset, width, height, stride;
	struct wlp_dmabuf dma;
	uint32_t dma_offset;		/* the plane's, in the dma-buf */
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
		if (b->dma.map)
			c->link->ops->dmabuf_free(c->link, &b->dma);
		free(b);
	} else if (o->iface == WLP_DMABUF_PARAMS) {
		wlp_dmabuf_free_params(o->data);
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

	if (size <= 0 || (uint32_t)size > WLP_MAX_POOL || (size_t)size < p->size) {
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

/* Where rows from y0 on are in the client's memory; NULL (the connection
 * killed) when a dma-buf cannot be read back. */
static const uint8_t *client_rows(struct wlp_conn *c, struct wlp_buffer *b, struct rows r)
{
	size_t at = (size_t)r.y0 * (size_t)b->stride;
	int rc;

	if (b->pool)
		return b->pool->map + b->offset + at;
	rc = c->link->ops->dmabuf_read(c->link, &b->dma, (uint32_t)b->width, (uint32_t)r.y0,
				       (uint32_t)r.y1, b->dma_offset + (uint32_t)at,
				       (uint32_t)b->stride);
	if (rc) {
		wlp_conn_kill(c, "the client's dma-buf cannot be read back: %s", strerror(-rc));
		return NULL;
	}
	c->stats.dmabuf_commits++;
	return b->dma.map + b->dma_offset + at;
}

static void copy_rows(struct wlp_conn *c, struct wlp_buffer *b, struct rows r)
{
	const uint8_t *src;
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
	if (!(src = client_rows(c, b, r)))
		return;
	if (!guarded_copy((uint8_t *)b->mem->blob.map + at, src, n)) {
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

/* The proxy's own wl_shm on the host, bound through the client's registry. */
static uint32_t host_shm(struct wlp_conn *c)
{
	uint8_t buf[64];
	struct wl_out m;
	size_t size;
	uint32_t id;

	if (c->host_shm)
		return c->host_shm;
	if (!c->host_registry || !c->shm_name) {
		wlp_conn_kill(c, "a dma-buf buffer, but the compositor offered no wl_shm");
		return 0;
	}
	if (!(id = wlp_ids_own(&c->ids))) {
		wlp_conn_kill(c, "out of object ids");
		return 0;
	}
	wl_out_begin(&m, buf, sizeof(buf), c->host_registry, WLP_REGISTRY_BIND);
	wl_out_u32(&m, c->shm_name);
	wl_out_string(&m, "wl_shm");
	wl_out_u32(&m, 1);
	wl_out_new_id(&m, id);
	size = wl_out_end(&m);
	wlp_to_host(c, buf, size, NULL, 0);
	return c->host_shm = id;
}

/* A host pool of the blob, one buffer from it, the pool destroyed again. */
static bool host_buffer(struct wlp_conn *c, struct wlp_buffer *b, uint32_t buffer,
			uint32_t shm_format)
{
	uint32_t shm = host_shm(c), pool = shm ? wlp_ids_own(&c->ids) : 0;
	uint32_t host = pool ? wlp_ids_new(&c->ids, buffer) : 0;
	struct cd_item item = { b->mem->blob.id, CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB,
				(uint32_t)b->mem->blob.size };
	uint8_t msg[32];

	if (!host) {
		wlp_conn_kill(c, "out of object ids");
		return false;
	}
	set_u32(msg, 0, shm);
	set_u32(msg, 4, 16u << 16 | WLP_SHM_CREATE_POOL);
	set_u32(msg, 8, pool);
	set_u32(msg, 12, (uint32_t)b->mem->blob.size);
	wlp_to_host(c, msg, 16, &item, 1);
	set_u32(msg, 0, pool);
	set_u32(msg, 4, 32u << 16 | WLP_SHM_POOL_CREATE_BUFFER);
	set_u32(msg, 8, host);
	set_u32(msg, 12, 0);
	set_u32(msg, 16, (uint32_t)b->width);
	set_u32(msg, 20, (uint32_t)b->height);
	set_u32(msg, 24, (uint32_t)b->stride);
	set_u32(msg, 28, shm_format);
	wlp_to_host(c, msg, 32, NULL, 0);
	set_u32(msg, 0, pool);
	set_u32(msg, 4, 8u << 16 | WLP_SHM_POOL_DESTROY);
	wlp_to_host(c, msg, 8, NULL, 0);
	return true;
}

void wlp_shm_dmabuf_buffer(struct wlp_conn *c, uint32_t buffer, struct wlp_dmabuf *d,
			   int32_t width, int32_t height, uint32_t offset, uint32_t stride,
			   uint32_t shm_format)
{
	struct wlp_buffer *b = calloc(1, sizeof(*b));
	struct wlp_hostmem *m = calloc(1, sizeof(*m));
	size_t size = (size_t)stride * (size_t)height;
	int rc = b && m ? c->link->ops->blob_new(c->link, size, &m->blob) : -ENOMEM;

	if (rc) {
		free(b);
		free(m);
		c->link->ops->dmabuf_free(c->link, d);
		wlp_conn_kill(c, "no host memory for a %zu-byte dma-buf buffer: %s", size,
			      strerror(-rc));
		return;
	}
	m->refs = 1;
	*b = (struct wlp_buffer){ .mem = m, .width = width, .height = height,
				  .stride = (int32_t)stride, .dma = *d, .dma_offset = offset };
	wlp_obj(c, buffer)->data = b;
	host_buffer(c, b, buffer, shm_format);
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
