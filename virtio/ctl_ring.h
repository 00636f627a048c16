/*
 * Control rings between the VMM and a device process, io_uring style.
 *
 * One sealed memfd holds a header and two single-producer/single-consumer
 * rings of fixed-size messages: the SQ (VMM -> device) and the CQ (device
 * -> VMM). Each direction has an eventfd doorbell that the producer writes
 * after publishing. fds travel over a SOCK_SEQPACKET socket with
 * SCM_RIGHTS, only at setup (and for rare later additions).
 *
 * Either side may be hostile. Each end keeps private copies of the index
 * it owns, masks every slot index with a compile-time constant, checks the
 * peer's index against its own and copies each message out of shared memory
 * once. A corrupt ring gives -EPROTO and marks the end dead: the caller then
 * kills the peer (the VMM: link_child_fail).
 *
 * Threading: any thread may use an end. Its locks are leaf locks, never
 * held on return, and there are no callbacks, so callers may hold their
 * own locks around any call here. Calls are serialized: one ctl_ring_call()
 * at a time owns the CQ for its round trip (at most timeout_ms) and queues
 * other messages for ctl_ring_recv(), which never waits for a call, so an
 * epoll loop is not held up by a slow device. Sends wait only for sends.
 */
#ifndef VMSILO_CTL_RING_H
#define VMSILO_CTL_RING_H

#include <assert.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_RING_MAGIC		0x4c544356u	/* "VCTL" */
#define CTL_RING_VERSION	1
#define CTL_RING_SLOTS		64		/* power of two */
#define CTL_MSG_SIZE		256
#define CTL_MSG_PAYLOAD		240
#define CTL_CACHELINE		64
#define CTL_PENDING_MAX		16	/* queued by calls for ctl_ring_recv */
#define CTL_MAX_FDS		16	/* per SCM_RIGHTS message */

/* ctl_msg.flags: a reply to the request with the same tag. */
#define CTL_MSG_F_REPLY		(1u << 0)

/* Fields are host order: the ring never leaves the host. */
struct ctl_msg {
	uint32_t type;
	uint32_t tag;		/* 0: posted; else echoed in the reply */
	uint32_t len;		/* payload bytes used, <= CTL_MSG_PAYLOAD */
	uint32_t flags;
	alignas(8) uint8_t payload[CTL_MSG_PAYLOAD];
};
static_assert(sizeof(struct ctl_msg) == CTL_MSG_SIZE, "ctl_msg size");

struct ctl_ring_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t nr_slots;
	uint32_t slot_size;
	uint32_t reserved[12];
};
static_assert(sizeof(struct ctl_ring_hdr) == CTL_CACHELINE, "header size");

/* Indices run freely over 2^32; slot = index % CTL_RING_SLOTS. */
struct ctl_ring_dir {
	alignas(CTL_CACHELINE) uint32_t head;	/* written by the consumer */
	alignas(CTL_CACHELINE) uint32_t tail;	/* written by the producer */
	alignas(CTL_CACHELINE) struct ctl_msg slots[CTL_RING_SLOTS];
};

enum { CTL_SQ, CTL_CQ };

struct ctl_ring_shm {
	struct ctl_ring_hdr hdr;
	struct ctl_ring_dir dir[2];	/* [CTL_SQ], [CTL_CQ] */
};
static_assert(offsetof(struct ctl_ring_shm, dir) == 64, "layout");
static_assert(offsetof(struct ctl_ring_dir, tail) == 64, "layout");
static_assert(offsetof(struct ctl_ring_dir, slots) == 128, "layout");
static_assert(sizeof(struct ctl_ring_shm) == 64 + 2 * (128 + 64 * 256),
	      "layout");

#define CTL_RING_MAP_SIZE	((sizeof(struct ctl_ring_shm) + 4095) & ~4095ul)

/* fds handed to the device: index in ctl_ring_create()'s fds_out[]. */
enum { CTL_FD_MEM, CTL_FD_SQ_BELL, CTL_FD_CQ_BELL, CTL_NR_FDS };

/* One side's view. Treat as opaque outside ctl_ring.c and its test. */
struct ctl_ring_end {
	struct ctl_ring_shm *shm;
	struct ctl_ring_dir *tx;	/* ring we produce into */
	struct ctl_ring_dir *rx;	/* ring we consume from */
	uint32_t tx_tail;		/* private copy of tx->tail */
	uint32_t rx_head;		/* private copy of rx->head */
	int tx_bell;			/* eventfd we write after sending */
	int rx_bell;			/* eventfd the peer writes */
	int ev_bell;			/* eventfd: a call queued messages */
	int epfd;			/* epoll over rx_bell and ev_bell */
	int peer_fd;			/* socket polled for hangup, or -1 */
	bool dead;			/* peer corrupted the ring */
	uint32_t next_tag;		/* under rx_lock */
	pthread_mutex_t rx_lock;	/* consuming; held through a call */
	pthread_mutex_t tx_lock;	/* producing */
	pthread_mutex_t pend_lock;	/* the pending queue */
	pthread_cond_t pend_room;	/* signalled when one is taken */
	unsigned int pend_first, pend_count;	/* under pend_lock */
	bool ev_rung;
	struct ctl_msg pending[CTL_PENDING_MAX];
};

/*
 * No end's mapping survives a fork (MADV_DONTFORK): a process attaches its
 * end itself. VMM side: make the memfd and doorbells. fds_out[CTL_NR_FDS] are new fds
 * owned by the caller, to hand to the device and then close.
 */
int ctl_ring_create(struct ctl_ring_end *vmm_end, int fds_out[CTL_NR_FDS]);
/* Device side. Never takes ownership of fds[]; the caller closes them. */
int ctl_ring_attach(struct ctl_ring_end *dev_end, const int fds[CTL_NR_FDS]);
/* Safe after a failed create/attach and twice. */
void ctl_ring_close(struct ctl_ring_end *end);
/* Waits also fail with -EPIPE once this socket (not owned) hangs up. */
void ctl_ring_watch_peer(struct ctl_ring_end *end, int sock);

/* 0, -EAGAIN if the peer's ring is full, -EPROTO if the ring is corrupt. */
int ctl_ring_send(struct ctl_ring_end *end, const struct ctl_msg *m);
/*
 * 1 with *m filled (messages queued by ctl_ring_call() first), 0 if none
 * (or a call is draining the CQ: what it queues makes ctl_ring_rx_fd()
 * readable), -EPROTO if corrupt or dead. Replies to timed-out calls come
 * out here too: drop CTL_MSG_F_REPLY messages nobody waits for.
 */
int ctl_ring_recv(struct ctl_ring_end *end, struct ctl_msg *m);
/*
 * For epoll loops (an epoll fd itself): readable when ctl_ring_recv() may
 * have something. Drain with ctl_ring_recv() until it returns 0; that also
 * clears it.
 */
int ctl_ring_rx_fd(const struct ctl_ring_end *end);
/* Until ctl_ring_rx_fd() is readable: 1, 0 on timeout, -EPIPE, -errno. */
int ctl_ring_wait(struct ctl_ring_end *end, int timeout_ms);
/*
 * Send req with a fresh tag and wait up to timeout_ms (>= 0) for the reply
 * carrying it. Other messages that arrive meanwhile are queued for
 * ctl_ring_recv(), and ctl_ring_rx_fd() signals them. Returns 0 with *reply
 * filled, -ETIMEDOUT, -EPIPE (peer hung up), -EPROTO, or -ENOBUFS when
 * CTL_PENDING_MAX queued messages were not taken by ctl_ring_recv() before
 * the deadline (as when the caller is the only thread draining them).
 * After a failure the request may still be carried out.
 */
int ctl_ring_call(struct ctl_ring_end *end, const struct ctl_msg *req,
		  struct ctl_msg *reply, int timeout_ms);

/* SCM_RIGHTS over SOCK_SEQPACKET; len >= 1, nfds <= CTL_MAX_FDS. */
int ctl_ring_send_fds(int sock, const void *buf, size_t len, const int *fds,
		      unsigned int nfds);
/*
 * Receive one datagram: returns its length and sets *nfds (in: room in
 * fds[], at most CTL_MAX_FDS). Truncated data or control, more fds than
 * room, or foreign control messages give -EMSGSIZE/-EPROTO with every
 * received fd closed. -EPIPE at end of stream.
 */
int ctl_ring_recv_fds(int sock, void *buf, size_t len, int *fds,
		      unsigned int *nfds);
void ctl_ring_close_fds(const int *fds, unsigned int nfds);

#endif
