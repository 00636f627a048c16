/*
 * One proxied client: its socket and its link, the objects both sides
 * made, and the relay of requests (client to host) and events (host to
 * client), each message checked against its signature on the way.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "guest-agent/wayland/wlp.h"

#define MAX_FDS_PER_SENDMSG	28	/* what libwayland reads with one message */

struct wlp_conn *wlp_conn_new(int id, int sock, struct wlp_link *link)
{
	struct wlp_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->out = malloc(WLP_OUT_MAX);
	if (!c->out) {
		free(c);
		return NULL;
	}
	c->id = id;
	c->sock = sock;
	c->link = link;
	if (!wlp_ids_init(&c->ids) || !wlp_obj_new(c, 1, WLP_DISPLAY, 1)) {
		wlp_conn_free(c);
		return NULL;
	}
	return c;
}

static void free_objs(struct wlp_conn *c, struct wlp_obj *objs, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (objs[i].data)
			wlp_shm_free(c, &objs[i]);
	free(objs);
}

void wlp_conn_free(struct wlp_conn *c)
{
	wlp_pipes_free(c);
	free_objs(c, c->client_objs, c->nr_client_objs);
	free_objs(c, c->server_objs, c->nr_server_objs);
	wlp_ids_free(&c->ids);
	for (unsigned i = 0; i < c->fd_count; i++)
		close(c->fds[(c->fd_first + i) % WLP_MAX_FDS]);
	for (unsigned i = 0; i < c->out_nfds; i++)
		close(c->out_fds[i]);
	if (c->link)
		c->link->ops->close(c->link);
	if (c->sock >= 0)
		close(c->sock);
	free(c->dead);
	free(c->out);
	free(c);
}

void wlp_conn_kill(struct wlp_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->dead)
		return;
	va_start(ap, fmt);
	if (vasprintf(&c->dead, fmt, ap) < 0)
		c->dead = NULL;
	va_end(ap);
	if (!c->dead)
		c->dead = strdup("out of memory");
}

/* Objects: client ids index one table, the compositor's another. */
static struct wlp_obj *slot(struct wlp_conn *c, uint32_t id, bool grow)
{
	struct wlp_obj **objs = &c->client_objs;
	uint32_t *nr = &c->nr_client_objs, idx = id, max = WLP_MAX_CLIENT_ID;

	if (id >= WLP_SERVER_ID_START) {
		objs = &c->server_objs;
		nr = &c->nr_server_objs;
		idx = id - WLP_SERVER_ID_START;
		max = WLP_MAX_SERVER_ID;
	}
	if (!id || idx >= max || (idx >= *nr && (!grow || !wlp_grow(objs, nr, idx, sizeof(**objs)))))
		return NULL;
	return &(*objs)[idx];
}

struct wlp_obj *wlp_obj(struct wlp_conn *c, uint32_t id)
{
	struct wlp_obj *o = slot(c, id, false);

	return o && o->iface != WLP_NONE ? o : NULL;
}

bool wlp_obj_new(struct wlp_conn *c, uint32_t id, enum wlp_iface iface, uint32_t version)
{
	struct wlp_obj *o = slot(c, id, true);

	if (!o)
		return false;
	if (o->data)
		wlp_shm_free(c, o);
	*o = (struct wlp_obj){ .iface = (uint8_t)iface, .version = version };
	return true;
}

void wlp_obj_gone(struct wlp_conn *c, uint32_t id)
{
	struct wlp_obj *o = slot(c, id, false);

	if (!o)
		return;
	if (o->data)
		wlp_shm_free(c, o);
	memset(o, 0, sizeof(*o));
}

/* To the host: requests batched into SENDs. */
void wlp_flush_host(struct wlp_conn *c)
{
	int rc;

	if (!c->send_len || c->dead)
		return;
	rc = c->link->ops->send(c->link, c->send, c->send_len, c->send_items, c->send_n);
	if (rc)
		wlp_conn_kill(c, "the host refused a SEND of %u bytes: %s", c->send_len,
			      strerror(-rc));
	c->send_len = c->send_n = 0;
}

void wlp_to_host(struct wlp_conn *c, const void *msg, size_t len, const struct cd_item *items,
		 unsigned n_items)
{
	if (c->send_len + len > sizeof(c->send) ||
	    c->send_n + n_items > CROSS_DOMAIN_MAX_IDENTIFIERS)
		wlp_flush_host(c);
	if (c->dead)
		return;
	memcpy(c->send + c->send_len, msg, len);
	c->send_len += (uint32_t)len;
	if (n_items)
		memcpy(c->send_items + c->send_n, items, n_items * sizeof(*items));
	c->send_n += n_items;
}

/* To the client: bytes and fds, an fd never after the bytes it goes with. */
static void flush_client(struct wlp_conn *c)
{
	while (c->out_len && !c->dead) {
		unsigned nfds = c->out_nfds < MAX_FDS_PER_SENDMSG ? c->out_nfds :
								     MAX_FDS_PER_SENDMSG;
		char control[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_SENDMSG)] = { 0 };
		struct iovec iov = { c->out, c->out_len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (nfds) {
			struct cmsghdr *cm;

			mh.msg_control = control;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cm), c->out_fds, sizeof(int) * nfds);
		}
		n = sendmsg(c->sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			wlp_conn_kill(c, "the client's socket: %s", n < 0 ? strerror(errno) : "closed");
			return;
		}
		for (unsigned i = 0; i < nfds; i++)
			close(c->out_fds[i]);
		memmove(c->out_fds, c->out_fds + nfds, (c->out_nfds - nfds) * sizeof(int));
		c->out_nfds -= nfds;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
}

void wlp_to_client(struct wlp_conn *c, const void *msg, size_t len, const int *fds,
		   unsigned nfds)
{
	if (c->out_len + len > WLP_OUT_MAX || c->out_nfds + nfds > WLP_MAX_FDS) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		wlp_conn_kill(c, "the client reads no events (%zu bytes waiting)", c->out_len);
		return;
	}
	memcpy(c->out + c->out_len, msg, len);
	c->out_len += len;
	if (nfds)
		memcpy(c->out_fds + c->out_nfds, fds, nfds * sizeof(int));
	c->out_nfds += nfds;
}

static int take_client_fd(struct wlp_conn *c)
{
	int fd;

	if (!c->fd_count)
		return -1;
	fd = c->fds[c->fd_first];
	c->fd_first = (c->fd_first + 1) % WLP_MAX_FDS;
	c->fd_count--;
	return fd;
}

/* wl_registry.bind: only what we announced, at most at our version. */
static bool bind_args(struct wlp_conn *c, struct wl_args *a)
{
	const char *name;
	uint32_t global, version, id;
	enum wlp_iface iface;

	global = wl_arg_u32(a);
	name = wl_arg_string(a);
	version = wl_arg_u32(a);
	id = wl_arg_new_id(a);
	if (a->bad || !name) {
		wlp_conn_kill(c, "malformed wl_registry.bind");
		return false;
	}
	iface = wlp_iface_by_name(name);
	/* The proxy's own global by its name only, and only if offered. */
	if (iface != WLP_NONE && (bool)wlp_ifaces[iface].local !=
	    (global == WLP_DMABUF_NAME && wlp_dmabuf_offered(c)))
		iface = WLP_NONE;
	if (iface == WLP_NONE || !wlp_ifaces[iface].global || !version ||
	    version > wlp_ifaces[iface].version) {
		wlp_conn_kill(c, "bind of %s version %u, which the proxy does not offer", name,
			      version);
		return false;
	}
	if (id >= WLP_SERVER_ID_START || !wlp_obj_new(c, id, iface, version)) {
		wlp_conn_kill(c, "bind to id %u", id);
		return false;
	}
	return true;
}

/* Walk a message's arguments: make its new objects, count its fds. */
static bool walk_args(struct wlp_conn *c, const struct wlp_msg *m, const struct wlp_obj *o,
		      struct wl_args *a, bool from_client, unsigned *nfds)
{
	bool nullable = false;

	*nfds = 0;
	if (from_client && !strcmp(m->sig, "usun"))
		return bind_args(c, a);
	for (const char *sig = m->sig; *sig; sig++) {
		uint32_t len, id;

		if (*sig == '?') {
			nullable = true;
			continue;
		}
		switch (*sig) {
		case 's':
			if (!wl_arg_string(a) && !nullable)
				a->bad = true;
			break;
		case 'a':
			wl_arg_array(a, &len);
			break;
		case 'h':
			(*nfds)++;
			break;
		case 'n':
			id = wl_arg_new_id(a);
			if (a->bad)
				break;
			if ((from_client ? id >= WLP_SERVER_ID_START : id < WLP_SERVER_ID_START) ||
			    !wlp_obj_new(c, id, m->new_iface, o->version)) {
				wlp_conn_kill(c, "%s.%s makes object %u, out of range",
					      wlp_ifaces[o->iface].name, m->name, id);
				return false;
			}
			break;
		default:
			wl_arg_u32(a);
		}
		nullable = false;
	}
	if (a->bad || a->left) {
		wlp_conn_kill(c, "malformed %s.%s", wlp_ifaces[o->iface].name, m->name);
		return false;
	}
	return true;
}

static uint32_t get_u32(const uint8_t *msg, size_t at)
{
	uint32_t v;

	memcpy(&v, msg + at, sizeof(v));
	return v;
}

static void put_u32(uint8_t *msg, size_t at, uint32_t v)
{
	memcpy(msg + at, &v, sizeof(v));
}

/*
 * Rewrite a checked message's object ids for the other side: to the host,
 * each client-made new object gets its host id here. False (the
 * connection killed) for an id the other side does not have.
 */
static bool translate(struct wlp_conn *c, const struct wlp_msg *m, uint8_t *msg, bool to_host)
{
	size_t at = WL_HEADER_SIZE;

	for (const char *sig = m->sig; *sig; sig++) {
		uint32_t v, id;

		if (*sig == '?' || *sig == 'h')
			continue;
		v = get_u32(msg, at);
		if (*sig == 's' || *sig == 'a') {
			at += 4 + ((v + 3u) & ~3u);
			continue;
		}
		if (*sig == 'o' && v) {
			id = to_host ? wlp_ids_to_host(&c->ids, v) : wlp_ids_to_client(&c->ids, v);
			if (!id || id == WLP_ID_RETIRED) {
				wlp_conn_kill(c, "%s names object %u, unknown on the other side",
					      m->name, v);
				return false;
			}
			put_u32(msg, at, id);
		} else if (*sig == 'n' && to_host) {
			id = wlp_ids_new(&c->ids, v);
			if (!id) {
				wlp_conn_kill(c, "out of object ids");
				return false;
			}
			put_u32(msg, at, id);
		}
		at += 4;
	}
	return true;
}

/* The header's object, for the host: false if it has none. */
static bool header_to_host(struct wlp_conn *c, uint8_t *msg)
{
	uint32_t id = wlp_ids_to_host(&c->ids, get_u32(msg, 0));

	if (!id || id == WLP_ID_RETIRED) {
		wlp_conn_kill(c, "a request on object %u, which the host does not have",
			      get_u32(msg, 0));
		return false;
	}
	put_u32(msg, 0, id);
	return true;
}

/* xdg_toplevel.set_title with --tag before the title (cut to fit one
 * message, at a UTF-8 character boundary), sent in place of msg. */
static void send_tagged_title(struct wlp_conn *c, const uint8_t *msg, size_t size)
{
	uint8_t out[WL_MAX_MESSAGE];
	char title[WL_MAX_MESSAGE];
	struct wl_args a;
	struct wl_out m;
	const char *old;
	size_t len, room;

	wl_args_init(&a, msg, size);
	old = wl_arg_string(&a);
	room = sizeof(title) - 64;
	snprintf(title, room, "%s%s", c->tag, old ? old : "");
	len = strlen(title);
	while (len && ((unsigned char)title[len] & 0xc0) == 0x80)
		title[--len] = '\0';	/* a character cut in the middle goes */
	wl_out_begin(&m, out, sizeof(out), get_u32(msg, 0), WLP_XDG_TOPLEVEL_SET_TITLE);
	wl_out_string(&m, title);
	size = wl_out_end(&m);
	if (size)
		wlp_to_host(c, out, size, NULL, 0);
}

/* A registry the client made: the first one's host id kept (the proxy
 * binds its own wl_shm through it), the proxy's global announced on it. */
static void new_registry(struct wlp_conn *c, uint32_t host, uint32_t client)
{
	if (!c->host_registry)
		c->host_registry = host;
	wlp_dmabuf_announce(c, client);
}

static void handle_request(struct wlp_conn *c, const struct wl_hdr *h, uint8_t *msg)
{
	struct wlp_obj *o = wlp_obj(c, h->object);
	const struct wlp_msg *m = o ? wlp_request(o->iface, h->opcode) : NULL;
	struct wl_args a;
	struct cd_item item;
	unsigned nfds;
	int fd = -1;
	uint32_t registry;
	enum wlp_iface iface;

	if (!o) {
		wlp_conn_kill(c, "request %u on object %u, which does not exist", h->opcode,
			      h->object);
		return;
	}
	if (!m) {
		wlp_conn_kill(c, "request %u on %s %u, which has no such request", h->opcode,
			      wlp_ifaces[o->iface].name, h->object);
		return;
	}
	iface = (enum wlp_iface)o->iface;
	wl_args_init(&a, msg, h->size);
	if (!walk_args(c, m, o, &a, true, &nfds))
		return;
	registry = h->size >= WL_HEADER_SIZE + 4 ? get_u32(msg, WL_HEADER_SIZE) : 0;
	if (nfds) {
		fd = take_client_fd(c);
		if (fd < 0) {
			wlp_conn_kill(c, "%s.%s came without its fd", wlp_ifaces[iface].name,
				      m->name);
			return;
		}
	}
	if (wlp_ifaces[iface].local) {
		wlp_dmabuf_request(c, h->object, iface, h->opcode, msg, h->size, fd);
		return;
	}
	if (iface == WLP_REGISTRY && h->opcode == WLP_REGISTRY_BIND &&
	    get_u32(msg, WL_HEADER_SIZE) == WLP_DMABUF_NAME) {
		struct wlp_obj *bound = wlp_obj(c, get_u32(msg, h->size - 4));

		wlp_dmabuf_bound(c, get_u32(msg, h->size - 4), bound ? bound->version : 0);
		return;
	}
	if (iface == WLP_SHM || iface == WLP_SHM_POOL || iface == WLP_BUFFER ||
	    iface == WLP_SURFACE) {
		if (!wlp_shm_request(c, h->object, iface, h->opcode, msg, h->size, fd))
			return;
		fd = -1;	/* the shm code keeps or closes what it took */
	}
	if (fd >= 0 && !wlp_fd_request(c, iface, h->opcode, fd, &item))
		return;
	if (!translate(c, m, msg, true) || !header_to_host(c, msg))
		return;
	if (c->tag && iface == WLP_XDG_TOPLEVEL && h->opcode == WLP_XDG_TOPLEVEL_SET_TITLE)
		send_tagged_title(c, msg, h->size);
	else
		wlp_to_host(c, msg, h->size, &item, fd >= 0);
	if (iface == WLP_DISPLAY && h->opcode == WLP_DISPLAY_GET_REGISTRY)
		new_registry(c, get_u32(msg, WL_HEADER_SIZE), registry);
}

typedef void message_fn(struct wlp_conn *c, const struct wl_hdr *h, uint8_t *msg);

/* Every whole message at the start of buf, handled; the rest kept. */
static void handle_messages(struct wlp_conn *c, uint8_t *buf, size_t *len, message_fn *handle,
			    const char *from)
{
	size_t at = 0;

	while (!c->dead) {
		struct wl_hdr h;
		int r = wl_in_header(buf + at, *len - at, &h);

		if (r < 0)
			wlp_conn_kill(c, "a malformed message header from %s", from);
		if (r <= 0)
			break;
		handle(c, &h, buf + at);
		at += h.size;
	}
	memmove(buf, buf + at, *len - at);
	*len -= at;
}

static void read_client(struct wlp_conn *c)
{
	char control[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_SENDMSG)];
	struct iovec iov = { c->in + c->in_len, sizeof(c->in) - c->in_len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof(control) };
	ssize_t n = recvmsg(c->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		wlp_conn_kill(c, "%s", n < 0 ? strerror(errno) : "the client went away");
		return;
	}
	c->in_len += (size_t)n;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int fds[MAX_FDS_PER_SENDMSG];

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(fds, CMSG_DATA(cm), nfds * sizeof(int));
		for (size_t i = 0; i < nfds; i++) {
			if (c->fd_count == WLP_MAX_FDS) {
				close(fds[i]);
				wlp_conn_kill(c, "more than %u fds before their requests",
					      WLP_MAX_FDS);
				continue;
			}
			c->fds[(c->fd_first + c->fd_count++) % WLP_MAX_FDS] = fds[i];
		}
	}
	handle_messages(c, c->in, &c->in_len, handle_request, "the client");
	wlp_flush_host(c);
}

/* wl_registry.global: hidden unless ours, announced at most at our version. */
static bool filter_global(struct wlp_conn *c, const struct wl_hdr *h, uint8_t *msg)
{
	struct wl_args a;
	const char *name;
	uint32_t global, version;
	enum wlp_iface iface;

	wl_args_init(&a, msg, h->size);
	global = wl_arg_u32(&a);
	name = wl_arg_string(&a);
	version = wl_arg_u32(&a);
	if (a.bad || !name)
		return false;
	iface = wlp_iface_by_name(name);
	if (iface == WLP_NONE || !wlp_ifaces[iface].global || wlp_ifaces[iface].local ||
	    global == WLP_DMABUF_NAME)
		return false;
	if (iface == WLP_SHM && !c->shm_name)
		c->shm_name = global;
	if (version > wlp_ifaces[iface].version) {
		version = wlp_ifaces[iface].version;
		memcpy(msg + h->size - 4, &version, 4);
	}
	return true;
}

static struct cd_item take_item(struct wlp_conn *c, bool *ok)
{
	struct cd_item it = { 0 };

	*ok = c->item_count > 0;
	if (!*ok)
		return it;
	it = c->items[c->item_first];
	c->item_first = (c->item_first + 1) % WLP_MAX_FDS;
	c->item_count--;
	return it;
}

/* display.delete_id: gone on both sides, the id translated for the
 * client; false when it was one of the proxy's own. */
static bool deleted(struct wlp_conn *c, const struct wl_hdr *h, uint8_t *msg)
{
	uint32_t client;

	if (h->size != WL_HEADER_SIZE + 4)
		return false;
	client = wlp_ids_deleted(&c->ids, get_u32(msg, WL_HEADER_SIZE));
	if (!client)
		return false;
	wlp_obj_gone(c, client);
	put_u32(msg, WL_HEADER_SIZE, client);
	return true;
}

static void handle_client_event(struct wlp_conn *c, const struct wl_hdr *h, uint8_t *msg)
{
	uint32_t object = wlp_ids_to_client(&c->ids, h->object);
	struct wlp_obj *o = object != WLP_ID_RETIRED ? wlp_obj(c, object) : NULL;
	const struct wlp_msg *m = o ? wlp_event(o->iface, h->opcode) : NULL;
	enum wlp_iface iface = o ? (enum wlp_iface)o->iface : WLP_NONE;
	struct wl_args a;
	unsigned nfds;
	int fd = -1;

	if (!m) {
		wlp_conn_kill(c, "the compositor sent event %u for object %u, %s", h->opcode,
			      h->object, o ? "which has no such event" : "which does not exist");
		return;
	}
	wl_args_init(&a, msg, h->size);
	if (!walk_args(c, m, o, &a, false, &nfds) || !translate(c, m, msg, false))
		return;
	put_u32(msg, 0, object);
	if (iface == WLP_REGISTRY && h->opcode == WLP_REGISTRY_GLOBAL && !filter_global(c, h, msg))
		return;
	if (iface == WLP_DISPLAY && h->opcode == WLP_DISPLAY_DELETE_ID && !deleted(c, h, msg))
		return;
	if (nfds) {
		bool ok;
		struct cd_item it = take_item(c, &ok);

		if (!ok) {
			wlp_conn_kill(c, "%s.%s came without its fd", wlp_ifaces[iface].name,
				      m->name);
			return;
		}
		fd = wlp_fd_event(c, iface, h->opcode, &it);
		if (fd < 0)
			return;
	}
	wlp_to_client(c, msg, h->size, &fd, fd >= 0);
}

static void handle_event(struct wlp_conn *c, const struct wl_hdr *h, uint8_t *msg)
{
	if (c->host_shm && h->object == c->host_shm)
		return;	/* the proxy's own wl_shm: its format events */
	handle_client_event(c, h, msg);
}

static void host_receive(struct wlp_conn *c, const struct wlp_host_msg *m)
{
	if (m->len > sizeof(c->host_in) - c->host_len ||
	    m->n_items > WLP_MAX_FDS - c->item_count) {
		wlp_conn_kill(c, "the compositor's messages overflow the proxy's buffers");
		return;
	}
	memcpy(c->host_in + c->host_len, m->data, m->len);
	c->host_len += m->len;
	for (uint32_t i = 0; i < m->n_items; i++)
		c->items[(c->item_first + c->item_count++) % WLP_MAX_FDS] = m->items[i];
	handle_messages(c, c->host_in, &c->host_len, handle_event, "the compositor");
}

int wlp_conn_poll_fds(struct wlp_conn *c, struct pollfd *p, int max)
{
	int n = 0, k;

	if (max < 1 + WLP_LINK_MAX_POLL)
		return 0;
	flush_client(c);
	p[n++] = (struct pollfd){ .fd = c->sock, .events = POLLIN | (c->out_len ? POLLOUT : 0) };
	k = c->link->ops->poll_fds(c->link, p + n, WLP_LINK_MAX_POLL);
	if (k < 0) {
		wlp_conn_kill(c, "the link to the compositor failed");
		k = 0;
	}
	/* The link's fds are always WLP_LINK_MAX_POLL slots, unused ones ignored. */
	for (int i = k; i < WLP_LINK_MAX_POLL; i++)
		p[n + i] = (struct pollfd){ .fd = -1 };
	n += WLP_LINK_MAX_POLL;
	return n + wlp_pipes_poll_fds(c, p + n, max - n);
}

void wlp_conn_step(struct wlp_conn *c, const struct pollfd *p, int n)
{
	struct wlp_host_msg m;
	int rc;

	if (n < 1 + WLP_LINK_MAX_POLL || c->dead)
		return;
	if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
		read_client(c);
	if (!c->dead && (rc = c->link->ops->take(c->link, p + 1, WLP_LINK_MAX_POLL, &m)) != 0) {
		if (rc < 0)
			wlp_conn_kill(c, "the compositor's side is gone (%s)", strerror(-rc));
		else if (m.is_read)
			wlp_pipe_read(c, m.pipe, m.hang_up, m.data, m.len);
		else
			host_receive(c, &m);
	}
	if (!c->dead)
		wlp_pipes_step(c, p + 1 + WLP_LINK_MAX_POLL, n - 1 - WLP_LINK_MAX_POLL);
	wlp_flush_host(c);
	flush_client(c);
}

void wlp_log(const char *fmt, ...)
{
	static time_t window;
	static int lines;
	time_t now = time(NULL);
	va_list ap;

	if (now != window) {
		window = now;
		lines = 0;
	}
	if (++lines > 20)
		return;
	fputs("vmsilo-wayland-proxy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
