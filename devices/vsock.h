/*
 * virtio-vsock internals, shared by devices/vsock*.c:
 *   vsock.c       the device model and the guest's packets (tx queue)
 *   vsock_rx.c    packets to the guest (rx queue), one stream at a time
 *   vsock_host.c  the host's Unix sockets, polled on the loop's io_uring
 *   vsock_conn.c  the table of streams
 *
 * A stream is a Unix socket on the host and a (host port, guest port) pair
 * in the guest. Host data goes straight from the socket into the guest's
 * rx buffers (readv), never more than the guest's credit; guest data goes
 * straight from its tx buffers to the socket (sendmsg), and what the socket
 * does not take waits in a per-stream buffer of VSOCK_BUF_ALLOC bytes, the
 * buf_alloc we advertise: a guest that sends beyond it gets an RST.
 */
#ifndef VMSILO_VSOCK_H
#define VMSILO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/time_types.h>
#include <linux/virtio_vsock.h>

#include "devices/vdev.h"
#include "vmm/log.h"

#define VSOCK_RX 0
#define VSOCK_TX 1
#define VSOCK_EVENT 2

#define VSOCK_HOST_CID 2
#define VSOCK_HDR ((uint32_t)sizeof(struct virtio_vsock_hdr))
#define VSOCK_MAX_CONNS 1024
#define VSOCK_BUCKETS 2048
#define VSOCK_NONE 0xffff		/* no stream: end of a list */
#define VSOCK_BUF_ALLOC (256u * 1024)	/* guest data we hold per stream */
#define VSOCK_CREDIT_STEP (VSOCK_BUF_ALLOC / 4)	/* forwarded bytes worth a CREDIT_UPDATE */
#define VSOCK_MAX_PAYLOAD (64u * 1024)	/* per packet to the guest */
#define VSOCK_AGENT_PORT 5000		/* command.socket streams go here */
#define VSOCK_TICK_MS 50			/* the timer, while streams wait on time */
#define VSOCK_RETRY_MS 250		/* command.socket: ask the guest again */
#define VSOCK_HOLD_MS 120000
#define VSOCK_DIAL_MS 1500		/* a full host backlog; Linux waits 2 s for us */
#define VSOCK_FIRST_PORT (1u << 30)	/* host ports of host-initiated streams */
#define VSOCK_RST_QUEUE 64		/* RSTs for packets of unknown streams */
#define VSOCK_LINE_MAX 24		/* "CONNECT 4294967295\n" fits */

enum vsock_state {
	VS_FREE,
	VS_LINE,	/* from vsock.socket: reading "CONNECT <port>\n" */
	VS_HOLD,	/* from command.socket: waiting to ask the guest (again) */
	VS_CONNECTING,	/* our REQUEST owed or sent; waiting for RESPONSE or RST */
	VS_DIALING,	/* the guest's REQUEST: the host listener's backlog is full */
	VS_OPEN,	/* relaying */
	VS_FINAL,	/* host socket closed; final_op still owed to the guest */
};

/* Control packets a stream owes the guest, sent as rx buffers come. */
enum {
	OWE_REQUEST = 1,
	OWE_RESPONSE = 2,
	OWE_CREDIT = 4,
};

struct vsock_conn {
	enum vsock_state state;
	uint32_t gen;			/* bumped when freed: tells stale CQEs apart */
	int fd;				/* the host's Unix socket, or -1 */
	bool command;			/* from command.socket: held and retried */
	bool hashed;
	uint32_t host_port, guest_port;
	uint16_t hash_next;		/* bucket chain */
	uint16_t rx_next;		/* queue of streams with packets for the guest */
	bool in_rx;
	unsigned owe;			/* OWE_* */
	uint32_t shut_owed;		/* SHUTDOWN flags not yet sent to the guest */
	uint16_t final_op;		/* VS_FINAL: RST or SHUTDOWN */
	uint64_t deadline, retry_at;	/* ms: command.socket streams; VS_DIALING */
	bool poll_in, poll_out;		/* a POLL_ADD in flight */
	/* host to guest */
	bool readable;			/* POLLIN seen, not yet read dry */
	bool hup;			/* POLLHUP seen: the host closed both ways */
	bool host_eof;			/* nothing more comes from the host */
	uint32_t rx_cnt;		/* payload bytes sent to the guest */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	/* guest to host */
	uint32_t guest_shut;		/* SHUTDOWN flags the guest sent */
	bool wr_shut;			/* shutdown(SHUT_WR) done */
	bool host_gone;			/* the host stopped reading: guest data is dropped */
	uint32_t fwd_cnt, fwd_told;	/* bytes forwarded; as last told to the guest */
	uint8_t *buf;			/* VSOCK_BUF_ALLOC ring, allocated on first use */
	uint32_t buf_head, buf_len;
	char line[VSOCK_LINE_MAX];
	unsigned line_len;
};

struct vsock_rst {
	uint32_t host_port, guest_port;
};

struct vsock {
	uint64_t cid;
	int listen_fd[2];		/* vsock.socket, command.socket; -1: none */
	bool listen_armed[2], listen_paused[2];
	unsigned hold_ms;
	struct vsock_conn *conns;	/* VSOCK_MAX_CONNS */
	uint16_t *free_slots;		/* stack */
	unsigned nr_free;
	uint16_t buckets[VSOCK_BUCKETS];
	uint16_t rx_head, rx_tail;
	struct vsock_rst rst[VSOCK_RST_QUEUE];
	unsigned rst_head, rst_len;
	uint32_t next_port;
	bool timer_armed;
	struct __kernel_timespec tick;
	bool full_logged;		/* "streams open" said; cleared when one closes */
	struct virtq_chain chain;	/* scratch for virtq_pop */
	struct iovec iov[VIRTQ_MAX_CHAIN];	/* scratch for slices */
};

/* vsock.c */
/* A guest error: rate-limited per call site (vmm/log.h). */
#define vsock_complain(dev, fmt, ...) \
	log_ratelimited(LOG_WARN, "%s: " fmt, (dev)->name, ##__VA_ARGS__)
uint64_t vsock_now_ms(void);

/* vsock_conn.c */
int vsock_conns_init(struct vsock *v);
void vsock_conns_destroy(struct vsock *v);
struct vsock_conn *vsock_conn_new(struct vsock *v, enum vsock_state state);	/* NULL: full */
void vsock_conn_free(struct vsock *v, struct vsock_conn *c);
struct vsock_conn *vsock_conn_find(struct vsock *v, uint32_t host_port, uint32_t guest_port);
/* Sets the ports and enters the stream in the table; false if taken. */
bool vsock_conn_bind(struct vsock *v, struct vsock_conn *c, uint32_t host_port,
		     uint32_t guest_port);
uint32_t vsock_conn_free_port(struct vsock *v, uint32_t guest_port);
static inline uint16_t vsock_conn_index(const struct vsock *v, const struct vsock_conn *c)
{
	return (uint16_t)(c - v->conns);
}
/* Bytes the guest can still take: 0 if it claims more than it has. */
static inline uint32_t vsock_conn_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt;

	return in_flight < c->peer_buf_alloc ? c->peer_buf_alloc - in_flight : 0;
}

/* vsock_rx.c */
void vsock_rx_queue(struct vsock *v, struct vsock_conn *c);	/* c may owe a packet */
bool vsock_rx_rst(struct vsock *v, uint32_t host_port, uint32_t guest_port);	/* false: full */
void vsock_rx_run(struct vdev *dev);
void vsock_rx_clear(struct vsock *v);

/* vsock_host.c: what the guest's packets and the rx side do to host sockets */
void vsock_host_start(struct vdev *dev);	/* DRIVER_OK */
void vsock_host_guest_reset(struct vdev *dev);	/* driver reset */
void vsock_host_complete(struct vdev *dev, uint64_t data, int32_t res);	/* a CQE */
void vsock_host_connect(struct vdev *dev, const struct virtio_vsock_hdr *h, uint32_t host_port,
			uint32_t guest_port);	/* the guest's REQUEST */
void vsock_host_opened(struct vdev *dev, struct vsock_conn *c);	/* RESPONSE to ours */
void vsock_host_refused(struct vdev *dev, struct vsock_conn *c);	/* RST to ours */
void vsock_host_write(struct vdev *dev, struct vsock_conn *c, struct iovec *iov,
		      unsigned n, uint32_t len);	/* an RW payload */
void vsock_host_shutdown(struct vdev *dev, struct vsock_conn *c, uint32_t flags);
uint32_t vsock_host_read(struct vdev *dev, struct vsock_conn *c, struct iovec *iov,
			 unsigned n, uint16_t *op, uint32_t *flags);
void vsock_host_close(struct vdev *dev, struct vsock_conn *c);	/* the socket only */
/* Ends a stream: socket closed, and an RST for the guest if it knows the stream. */
void vsock_host_reset(struct vdev *dev, struct vsock_conn *c);
void vsock_host_arm_in(struct vdev *dev, struct vsock_conn *c);

#endif
