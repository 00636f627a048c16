/*
 * vmsilo-wayland-proxy: one connection per guest Wayland client, each
 * relayed over its own link to the host compositor. Requests and events
 * are parsed against wlp_proto's tables; what carries an fd or guest
 * memory is translated (wlp_shm.c: pools and commits; wlp_fds.c: keymaps
 * and pipes); everything else is copied through unchanged.
 */
#ifndef VMSILO_WLP_H
#define VMSILO_WLP_H

#include <stdbool.h>
#include <stdint.h>

#include "guest-agent/wayland/wl_wire.h"
#include "guest-agent/wayland/wlp_ids.h"
#include "guest-agent/wayland/wlp_link.h"
#include "guest-agent/wayland/wlp_proto.h"

#define WLP_MAX_SERVER_ID	(1u << 16)
#define WLP_MAX_FDS		64
#define WLP_OUT_MAX		(1u << 20)	/* bytes for a client that does not read */
#define WLP_SEND_MAX		32768u		/* bytes in one SEND */
#define WLP_DAMAGE_HISTORY	8
#define WLP_MAX_POOL		(256u << 20)	/* the device's bound on one blob */
#define WLP_DMABUF_NAME		0xfffffff0u	/* the proxy's own global's name */

struct wlp_pool;
struct wlp_buffer;
struct wlp_surface;
struct wlp_pipe;
struct wlp_params;

struct wlp_obj {
	uint8_t iface;		/* enum wlp_iface; WLP_NONE: no such object */
	uint32_t version;
	void *data;		/* a pool, buffer or surface */
};

struct wlp_stats {
	uint64_t commits, bytes_copied, bytes_full, dmabuf_commits;
};

struct wlp_conn {
	int id;
	int sock;
	const char *tag;	/* --tag: put before every window title, or NULL */
	struct wlp_link *link;
	char *dead;		/* why it is being closed; NULL while it lives */

	/* Objects by the client's ids; ids translated to and from the host's. */
	struct wlp_obj *client_objs, *server_objs;
	uint32_t nr_client_objs, nr_server_objs;
	struct wlp_ids ids;

	/* Client to host. */
	uint8_t in[2 * WL_MAX_MESSAGE];
	size_t in_len;
	int fds[WLP_MAX_FDS];
	unsigned fd_first, fd_count;
	uint8_t send[WLP_SEND_MAX];
	uint32_t send_len, send_n;
	struct cd_item send_items[CROSS_DOMAIN_MAX_IDENTIFIERS];

	/* Host to client. */
	uint8_t host_in[2 * WL_MAX_MESSAGE + CROSS_DOMAIN_RECEIVE_MAX_DATA];
	size_t host_len;
	struct cd_item items[WLP_MAX_FDS];
	unsigned item_first, item_count;
	uint8_t *out;
	size_t out_len;
	int out_fds[WLP_MAX_FDS];
	unsigned out_nfds;

	struct wlp_pipe *pipes;
	struct wlp_stats stats;

	/* The host objects behind dma-buf buffers (wlp_dmabuf.c): the client's
	 * first registry, the compositor's wl_shm global, and the proxy's own
	 * wl_shm bound through them (0: none yet). */
	uint32_t host_registry, shm_name, host_shm;
};

/* A connection for an accepted client socket, its link already open. */
struct wlp_conn *wlp_conn_new(int id, int sock, struct wlp_link *link);
void wlp_conn_free(struct wlp_conn *c);
/* Mark the connection for closing, with a log line saying why. */
void wlp_conn_kill(struct wlp_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The fds to poll (the client's socket, the link's, pipes) and the step
 * after poll; both go through conn's state only. */
int wlp_conn_poll_fds(struct wlp_conn *c, struct pollfd *p, int max);
void wlp_conn_step(struct wlp_conn *c, const struct pollfd *p, int n);

/* Objects. */
struct wlp_obj *wlp_obj(struct wlp_conn *c, uint32_t id);
bool wlp_obj_new(struct wlp_conn *c, uint32_t id, enum wlp_iface iface, uint32_t version);
void wlp_obj_gone(struct wlp_conn *c, uint32_t id);

/* Queue bytes and fds for the client; queue a request for the host. */
void wlp_to_client(struct wlp_conn *c, const void *msg, size_t len, const int *fds,
		   unsigned nfds);
void wlp_to_host(struct wlp_conn *c, const void *msg, size_t len, const struct cd_item *items,
		 unsigned n_items);
void wlp_flush_host(struct wlp_conn *c);

/* wlp_shm.c: a request on a pool, buffer or surface, or create_pool, with
 * the client's ids. Returns false when the request was handled (sent, or
 * the client killed), true when it is to be forwarded as it is. */
bool wlp_shm_request(struct wlp_conn *c, uint32_t object, enum wlp_iface iface,
		     uint16_t opcode, uint8_t *msg, size_t size, int fd);
void wlp_shm_free(struct wlp_conn *c, struct wlp_obj *o);

/* A buffer of the host's memory behind the client's new wl_buffer id,
 * filled on commit from the imported dma-buf d (which it takes). */
void wlp_shm_dmabuf_buffer(struct wlp_conn *c, uint32_t buffer, struct wlp_dmabuf *d,
			   int32_t width, int32_t height, uint32_t offset, uint32_t stride,
			   uint32_t shm_format);

/* wlp_dmabuf.c: the proxy's own zwp_linux_dmabuf_v1. */
bool wlp_dmabuf_offered(const struct wlp_conn *c);
/* The global, announced on the client's new registry. */
void wlp_dmabuf_announce(struct wlp_conn *c, uint32_t registry);
void wlp_dmabuf_bound(struct wlp_conn *c, uint32_t id, uint32_t version);
/* A request on one of its objects (fd: the one it carried, or -1). */
void wlp_dmabuf_request(struct wlp_conn *c, uint32_t object, enum wlp_iface iface,
			uint16_t opcode, const uint8_t *msg, size_t size, int fd);
void wlp_dmabuf_free_params(struct wlp_params *p);

/* wlp_fds.c */
/* An fd in a request (data_offer.receive): the item for the host. */
bool wlp_fd_request(struct wlp_conn *c, enum wlp_iface iface, uint16_t opcode, int fd,
		    struct cd_item *item);
/* An item in an event: the fd for the client (-1: the connection is killed). */
int wlp_fd_event(struct wlp_conn *c, enum wlp_iface iface, uint16_t opcode,
		 const struct cd_item *item);
void wlp_pipe_read(struct wlp_conn *c, uint32_t pipe, bool hang_up, const uint8_t *data,
		   uint32_t len);
int wlp_pipes_poll_fds(struct wlp_conn *c, struct pollfd *p, int max);
void wlp_pipes_step(struct wlp_conn *c, const struct pollfd *p, int n);
void wlp_pipes_free(struct wlp_conn *c);

/* A rate-limited log line on stderr. */
void wlp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
