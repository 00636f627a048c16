/*
 * virtio-net (virtio 1.2, 5.1) on a TAP device the VMM opened with
 * IFF_VNET_HDR and a 12-byte vnet header. That header is the driver's
 * struct virtio_net_hdr_mrg_rxbuf, so packets move between guest buffers
 * and the tap without a copy, through the device loop's io_uring.
 *
 * Queue 0 receives, queue 1 transmits; no control queue.
 *
 * Transmit: each chain is one WRITEV of its readable buffers (header and
 * frame) straight from guest RAM to the tap, from a pool of queue_size
 * slots; when the slots run out the device stops popping until the next
 * completion.
 *
 * Receive: the device holds receive chains until they can take the largest
 * packet (one chain without MRG_RXBUF), then reads one packet per READV
 * across all of them, writes num_buffers into the header and returns the
 * chains it filled. An empty tap is waited on with POLL_ADD. Without enough
 * buffers the device neither reads nor polls: it asks for kicks and goes on
 * at the next receive-queue kick.
 *
 * Choices:
 * - A transmit chain without room for the header, with more than
 *   NET_TX_MAX_IOV buffers, or whose header asks for an offload that was
 *   not negotiated is dropped (used length 0) with a rate-limited log line;
 *   so is a packet the tap refuses. The queue keeps working.
 * - A receive chain with a readable buffer, or shorter than the header, is
 *   a driver error: the device needs a reset. Of a receive chain only the
 *   first NET_RX_CHAIN_IOV buffers and NET_RX_MAX_PACKET bytes are used.
 * - A received packet larger than the buffers held is lost (the tap
 *   consumes it); that only happens when the driver cannot give buffers
 *   for a full 64 KiB packet.
 * - Read errors other than "empty" stop receiving until the next kick, so a
 *   broken tap cannot make the device spin.
 * - Interrupts are coalesced like a NIC's: received packets are announced
 *   once per burst (the tap is empty, receiving stops, or 64 buffers went
 *   back), transmit completions once per batch of writes; and the driver
 *   need not kick while transmit writes are in flight.
 * - A reset drops the chains held; an I/O in flight completes later and is
 *   ignored (a read may still land in a buffer the driver gave).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "devices/device_process.h"
#include "devices/net.h"
#include "devices/tap.h"
#include "virtio/iov.h"
#include "vmm/log.h"

#define NET_RXQ 0
#define NET_TXQ 1
#define NET_QUEUE_SIZE 256
#define NET_HDR_LEN ((unsigned)sizeof(struct virtio_net_hdr_mrg_rxbuf))	/* 12 */
/* Header, Ethernet and VLAN headers, the largest IP packet. */
#define NET_RX_MAX_PACKET (NET_HDR_LEN + 14 + 4 + 65535)
#define NET_RX_MAX_IOV 1024			/* UIO_MAXIOV: one READV */
#define NET_RX_CHAIN_IOV 64			/* buffers used per receive chain */
#define NET_TX_MAX_IOV 64			/* buffers per transmit chain */
#define NET_TX_SIGNAL_BATCH 16			/* completions per interrupt check */
#define NET_RX_SIGNAL_BATCH 64			/* chains per interrupt check in a burst */

/* user_data of the device's SQEs: kind << 32 | slot or generation. */
enum { NET_TAG_TX, NET_TAG_RX_READ, NET_TAG_RX_POLL };

enum net_rx_state { RX_IDLE, RX_POLLING, RX_READING };

struct net_tx {			/* a packet being written to the tap */
	uint32_t gen;
	uint16_t head;
	unsigned nr_iov;
	struct virtio_net_hdr_mrg_rxbuf hdr;	/* the checked copy: iov[0] */
	struct iovec iov[1 + NET_TX_MAX_IOV];
};

struct net_rx_buf {		/* a receive chain the device holds */
	uint16_t head;
	uint16_t nr_iov;
	uint32_t len;
};

struct net {
	int tap;
	uint8_t mac[6];
	uint32_t gen;			/* bumped by reset: older I/O is stale */

	struct net_tx *tx;		/* NET_QUEUE_SIZE slots */
	uint16_t tx_free[NET_QUEUE_SIZE];
	unsigned nr_tx_free;
	bool tx_resume;			/* pop again when the writes in flight are done */
	unsigned tx_unsignalled;	/* completions pushed since the last check */

	enum net_rx_state rx_state;
	unsigned rx_unsignalled;	/* chains pushed since the last interrupt check */
	bool rx_nowait;			/* the tap takes RWF_NOWAIT reads */
	unsigned nr_rx_bufs, nr_rx_iov;	/* held chains, their iovecs, in order */
	uint64_t rx_bytes;
	struct net_rx_buf rx_bufs[NET_QUEUE_SIZE];
	struct iovec rx_iov[NET_RX_MAX_IOV];

	struct virtq_chain chain;	/* scratch for virtq_pop */
};

static bool has(const struct vdev *dev, unsigned bit)
{
	return dev->features & (1ull << bit);
}

/* Packet-level trouble the guest or the network can cause: rate-limited
 * per call site (vmm/log.h). */
#define net_log(dev, fmt, ...) \
	log_ratelimited(LOG_WARN, "%s: " fmt, (dev)->name, ##__VA_ARGS__)

static void net_config(struct vdev *dev, uint8_t *buf)
{
	struct net *n = dev->priv;
	struct virtio_net_config c = {
		.status = htole16(VIRTIO_NET_S_LINK_UP),
		.max_virtqueue_pairs = htole16(1),
	};

	memcpy(c.mac, n->mac, sizeof(c.mac));
	memcpy(buf, &c, offsetof(struct virtio_net_config, mtu));
}

/* ---- transmit ---- */

/* Why the tap must not see header h, or NULL. */
static const char *net_tx_check_offloads(struct vdev *dev, const struct virtio_net_hdr *h)
{
	unsigned gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM && !has(dev, VIRTIO_NET_F_CSUM))
		return "checksum offload not negotiated";
	if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN && !has(dev, VIRTIO_NET_F_HOST_ECN))
		return "ECN segmentation not negotiated";
	if ((gso == VIRTIO_NET_HDR_GSO_TCPV4 && !has(dev, VIRTIO_NET_F_HOST_TSO4)) ||
	    (gso == VIRTIO_NET_HDR_GSO_TCPV6 && !has(dev, VIRTIO_NET_F_HOST_TSO6)) ||
	    (gso != VIRTIO_NET_HDR_GSO_NONE && gso != VIRTIO_NET_HDR_GSO_TCPV4 &&
	     gso != VIRTIO_NET_HDR_GSO_TCPV6))
		return "segmentation offload not negotiated";
	return NULL;
}

/*
 * Why chain c cannot go to the tap, or NULL. The header is copied once into
 * hdr: the tap gets that copy, so the guest cannot change it after the check.
 */
static const char *net_tx_check(struct vdev *dev, const struct virtq_chain *c,
				struct virtio_net_hdr_mrg_rxbuf *hdr)
{
	if (c->out_len < NET_HDR_LEN)
		return "no room for the 12-byte header";
	if (c->nr_out > NET_TX_MAX_IOV)
		return "more than 64 buffers";
	iov_to_buf(c->iov, c->nr_out, 0, hdr, NET_HDR_LEN);
	return net_tx_check_offloads(dev, &hdr->hdr);
}

/* The write of slot t: the checked header, then the frame in guest memory. */
static void net_tx_fill(struct net_tx *t, const struct virtq_chain *c,
			const struct virtio_net_hdr_mrg_rxbuf *hdr)
{
	t->head = c->head;
	t->hdr = *hdr;
	t->iov[0] = (struct iovec){ &t->hdr, NET_HDR_LEN };
	t->nr_iov = 1 + iov_slice(t->iov + 1, NET_TX_MAX_IOV, c->iov, c->nr_out, NET_HDR_LEN,
				  SIZE_MAX);
}

/* The interrupt check for the transmit chains returned since the last one. */
static void net_tx_signal(struct vdev *dev)
{
	struct net *n = dev->priv;

	if (n->tx_unsignalled) {
		n->tx_unsignalled = 0;
		vdev_signal(dev, NET_TXQ);
	}
}

/* Hands one chain to the tap, or drops it. */
static void net_tx_start(struct vdev *dev, const struct virtq_chain *c)
{
	struct net *n = dev->priv;
	struct virtio_net_hdr_mrg_rxbuf hdr;
	const char *why = net_tx_check(dev, c, &hdr);
	struct io_uring_sqe *sqe;
	struct net_tx *t;
	unsigned slot;

	if (why) {
		net_log(dev, "dropped a transmitted packet: %s", why);
		virtq_push(&dev->queues[NET_TXQ].vq, c->head, 0);
		n->tx_unsignalled++;
		return;
	}
	slot = n->tx_free[--n->nr_tx_free];
	sqe = vdev_get_sqe(dev, (uint64_t)NET_TAG_TX << 32 | slot);
	if (!sqe) {
		n->nr_tx_free++;
		net_log(dev, "dropped a transmitted packet: io_uring is full");
		virtq_push(&dev->queues[NET_TXQ].vq, c->head, 0);
		n->tx_unsignalled++;
		return;
	}
	t = &n->tx[slot];
	t->gen = n->gen;
	net_tx_fill(t, c, &hdr);
	io_uring_prep_writev(sqe, n->tap, t->iov, t->nr_iov, 0);
}

/*
 * Pops transmit chains until the ring is empty or the slots are gone.
 * While writes are in flight the driver need not kick: when the last one
 * completes the ring is looked at again (tx_resume), so a busy sender's
 * packets go in batches. Kicks are asked for once nothing is in flight.
 */
static void net_tx_notify(struct vdev *dev)
{
	struct net *n = dev->priv;
	struct virtq *vq = &dev->queues[NET_TXQ].vq;
	int rc;

	n->tx_resume = false;
	virtq_disable_notify(vq);
	while (dev->active) {
		if (!n->nr_tx_free) {
			n->tx_resume = true;
			break;
		}
		rc = virtq_pop(vq, dev->mem, &n->chain);
		if (rc < 0) {
			vdev_fail(dev, "malformed transmit chain");
			break;
		}
		if (rc) {
			net_tx_start(dev, &n->chain);
			continue;
		}
		if (n->nr_tx_free < NET_QUEUE_SIZE) {
			n->tx_resume = true;
			break;
		}
		if (!virtq_enable_notify(vq))
			break;
		virtq_disable_notify(vq);	/* more came meanwhile */
	}
	net_tx_signal(dev);		/* chains dropped just now */
}

static void net_tx_done(struct vdev *dev, unsigned slot, int32_t res)
{
	struct net *n = dev->priv;
	struct net_tx *t = &n->tx[slot];

	if (t->gen == n->gen && dev->active) {
		if (res < 0)
			net_log(dev, "the tap refused a transmitted packet: %s", strerror(-res));
		virtq_push(&dev->queues[NET_TXQ].vq, t->head, 0);
		n->tx_unsignalled++;
	}
	n->tx_free[n->nr_tx_free++] = (uint16_t)slot;
	/* One interrupt check per batch of completions. */
	if (n->tx_unsignalled >= NET_TX_SIGNAL_BATCH || n->nr_tx_free == NET_QUEUE_SIZE)
		net_tx_signal(dev);
	if (n->tx_resume && dev->active && n->nr_tx_free == NET_QUEUE_SIZE)
		net_tx_notify(dev);
}

/* ---- receive ---- */

/* Takes a popped receive chain into the held list: -1 if it is malformed. */
static int net_rx_hold(struct vdev *dev, struct virtq_chain *c)
{
	struct net *n = dev->priv;
	struct iovec *iov = &n->rx_iov[n->nr_rx_iov];
	struct net_rx_buf *b = &n->rx_bufs[n->nr_rx_bufs];
	unsigned nr;
	size_t len;

	if (c->nr_out) {
		vdev_fail(dev, "receive chain with a device-readable buffer");
		return -1;
	}
	/* No packet needs more of a chain than this: the used length stays exact. */
	nr = iov_slice(iov, NET_RX_CHAIN_IOV, virtq_chain_in(c), c->nr_in, 0, NET_RX_MAX_PACKET);
	len = iov_length(iov, nr);
	if (len < NET_HDR_LEN) {
		vdev_fail(dev, "receive chain shorter than the 12-byte header");
		return -1;
	}
	b->head = c->head;
	b->nr_iov = (uint16_t)nr;
	b->len = (uint32_t)len;
	n->nr_rx_bufs++;
	n->nr_rx_iov += nr;
	n->rx_bytes += b->len;
	return 0;
}

/*
 * The interrupt check for the chains returned since the last one: once a
 * burst of packets ends (the tap is empty, or receiving stops) rather than
 * per packet, as a NIC coalesces interrupts.
 */
static void net_rx_signal(struct vdev *dev)
{
	struct net *n = dev->priv;

	if (n->rx_unsignalled) {
		n->rx_unsignalled = 0;
		vdev_signal(dev, NET_RXQ);
	}
}

static bool net_rx_enough(const struct vdev *dev)
{
	const struct net *n = dev->priv;

	if (!has(dev, VIRTIO_NET_F_MRG_RXBUF))
		return n->nr_rx_bufs > 0;
	return n->rx_bytes >= NET_RX_MAX_PACKET;
}

/*
 * Pops receive chains until the held ones take the largest packet, or the
 * held list is full. 1: read now; 0: wait for a kick (kicks asked for);
 * -1: the driver broke the ring.
 */
static int net_rx_gather(struct vdev *dev)
{
	struct net *n = dev->priv;
	struct virtq *vq = &dev->queues[NET_RXQ].vq;
	int rc;

	while (!net_rx_enough(dev)) {
		if (n->nr_rx_bufs == NET_QUEUE_SIZE ||
		    n->nr_rx_iov + NET_RX_CHAIN_IOV > NET_RX_MAX_IOV)
			return 1;	/* all the driver can give: read with it */
		rc = virtq_pop(vq, dev->mem, &n->chain);
		if (rc < 0) {
			vdev_fail(dev, "malformed receive chain");
			return -1;
		}
		if (!rc) {
			if (virtq_enable_notify(vq))
				continue;
			return 0;
		}
		if (net_rx_hold(dev, &n->chain))
			return -1;
	}
	virtq_disable_notify(vq);	/* no kicks needed while buffers last */
	return 1;
}

/*
 * Gathers receive chains (even with I/O in flight: a kick's chains are
 * checked at once) and reads the next packet once there are enough.
 */
static void net_rx_start(struct vdev *dev)
{
	struct net *n = dev->priv;
	struct io_uring_sqe *sqe;
	int rc;

	if (!dev->active)
		return;
	rc = net_rx_gather(dev);
	if (n->rx_state != RX_IDLE)
		return;			/* the I/O in flight goes on when it completes */
	if (rc <= 0) {
		net_rx_signal(dev);
		return;
	}
	sqe = vdev_get_sqe(dev, (uint64_t)NET_TAG_RX_READ << 32 | n->gen);
	if (!sqe) {
		net_log(dev, "io_uring is full; receiving waits for the next kick");
		net_rx_signal(dev);
		return;
	}
	io_uring_prep_readv(sqe, n->tap, n->rx_iov, n->nr_rx_iov, 0);
	/*
	 * Never park a read on guest buffers: after a reset it could fill
	 * memory the driver took back. An empty tap is polled instead.
	 */
	if (n->rx_nowait)
		sqe->rw_flags = RWF_NOWAIT;
	n->rx_state = RX_READING;
}

static void net_rx_poll(struct vdev *dev)
{
	struct net *n = dev->priv;
	struct io_uring_sqe *sqe = vdev_get_sqe(dev, (uint64_t)NET_TAG_RX_POLL << 32);

	if (!sqe) {
		net_log(dev, "io_uring is full; receiving waits for the next kick");
		return;
	}
	io_uring_prep_poll_add(sqe, n->tap, POLLIN);
	n->rx_state = RX_POLLING;
}

/* Drops the first k held chains (handed back to the driver). */
static void net_rx_forget(struct net *n, unsigned k)
{
	unsigned iovs = 0;

	for (unsigned i = 0; i < k; i++) {
		iovs += n->rx_bufs[i].nr_iov;
		n->rx_bytes -= n->rx_bufs[i].len;
	}
	n->nr_rx_bufs -= k;
	n->nr_rx_iov -= iovs;
	memmove(n->rx_bufs, n->rx_bufs + k, n->nr_rx_bufs * sizeof(n->rx_bufs[0]));
	memmove(n->rx_iov, n->rx_iov + iovs, n->nr_rx_iov * sizeof(n->rx_iov[0]));
}

/* A packet of len bytes (header included) landed in the held chains. */
static void net_rx_deliver(struct vdev *dev, uint32_t len)
{
	struct net *n = dev->priv;
	struct virtq *vq = &dev->queues[NET_RXQ].vq;
	uint32_t left = len, take;
	uint16_t count;
	unsigned k;

	if (len < NET_HDR_LEN || len > n->rx_bytes) {
		net_log(dev, "lost a received packet of %u bytes: %s", len,
			len < NET_HDR_LEN ? "shorter than the header"
					  : "larger than the receive buffers");
		return;
	}
	for (k = 0; left; k++)
		left -= left < n->rx_bufs[k].len ? left : n->rx_bufs[k].len;
	/* The tap leaves num_buffers alone: it is the device's to fill. */
	count = htole16((uint16_t)k);
	buf_to_iov(n->rx_iov, n->rx_bufs[0].nr_iov,
		   offsetof(struct virtio_net_hdr_mrg_rxbuf, num_buffers), &count, sizeof(count));
	left = len;
	for (unsigned i = 0; i < k; i++) {
		take = left < n->rx_bufs[i].len ? left : n->rx_bufs[i].len;
		virtq_push(vq, n->rx_bufs[i].head, take);
		left -= take;
	}
	net_rx_forget(n, k);
	n->rx_unsignalled += k;
	if (n->rx_unsignalled >= NET_RX_SIGNAL_BATCH)
		net_rx_signal(dev);
}

static void net_rx_read_done(struct vdev *dev, uint32_t gen, int32_t res)
{
	struct net *n = dev->priv;

	n->rx_state = RX_IDLE;
	if (gen != n->gen || !dev->active) {	/* its packet is lost */
		net_rx_start(dev);
		return;
	}
	if (res == -EAGAIN) {		/* the burst is over */
		net_rx_signal(dev);
		net_rx_poll(dev);
		return;
	}
	if (res == -EOPNOTSUPP && n->rx_nowait) {
		n->rx_nowait = false;	/* an older tap: O_NONBLOCK reads say EAGAIN anyway */
		net_rx_start(dev);
		return;
	}
	if (res < 0) {
		net_log(dev, "reading the tap: %s; receiving waits for the next kick",
			strerror(-res));
		net_rx_signal(dev);
		return;
	}
	net_rx_deliver(dev, (uint32_t)res);
	net_rx_start(dev);
}

static void net_rx_poll_done(struct vdev *dev, int32_t res)
{
	struct net *n = dev->priv;

	n->rx_state = RX_IDLE;
	if (res < 0 || !(res & POLLIN)) {
		net_log(dev, "polling the tap: %s; receiving waits for the next kick",
			res < 0 ? strerror(-res) : "error or hang-up");
		return;
	}
	net_rx_start(dev);
}

/* ---- device ops ---- */

static void net_notify(struct vdev *dev, unsigned q)
{
	if (q == NET_RXQ)
		net_rx_start(dev);
	else
		net_tx_notify(dev);
}

static void net_complete(struct vdev *dev, uint64_t data, int32_t res)
{
	switch (data >> 32) {
	case NET_TAG_TX:
		if ((data & 0xffffffff) < NET_QUEUE_SIZE)
			net_tx_done(dev, (unsigned)(data & 0xffffffff), res);
		break;
	case NET_TAG_RX_READ:
		net_rx_read_done(dev, (uint32_t)data, res);
		break;
	case NET_TAG_RX_POLL:
		net_rx_poll_done(dev, res);
		break;
	}
}

/* The receive offloads the driver accepted, as the tap calls them. */
static unsigned net_tun_offloads(const struct vdev *dev)
{
	unsigned off = 0;

	if (has(dev, VIRTIO_NET_F_GUEST_CSUM))
		off |= TUN_F_CSUM;
	if (has(dev, VIRTIO_NET_F_GUEST_TSO4))
		off |= TUN_F_TSO4;
	if (has(dev, VIRTIO_NET_F_GUEST_TSO6))
		off |= TUN_F_TSO6;
	if (has(dev, VIRTIO_NET_F_GUEST_ECN))
		off |= TUN_F_TSO_ECN;
	return off;
}

static int net_activate(struct vdev *dev)
{
	struct net *n = dev->priv;
	unsigned off = net_tun_offloads(dev);

	if (!has(dev, VIRTIO_F_VERSION_1)) {
		net_log(dev, "the driver did not accept VIRTIO_F_VERSION_1; legacy drivers are not supported");
		return -1;
	}
	if (ioctl(n->tap, TUNSETOFFLOAD, off)) {
		net_log(dev, "the tap refuses offloads 0x%x: %s", off, strerror(errno));
		return -1;
	}
	return 0;
}

static void net_reset(struct vdev *dev)
{
	struct net *n = dev->priv;

	n->gen++;
	n->tx_resume = false;
	n->tx_unsignalled = 0;
	n->rx_unsignalled = 0;
	n->nr_rx_bufs = n->nr_rx_iov = 0;
	n->rx_bytes = 0;
}

static void net_destroy(struct vdev *dev)
{
	struct net *n = dev->priv;

	free(n->tx);
	free(n);
}

static const uint8_t net_uring_ops[] = { IORING_OP_READV, IORING_OP_WRITEV };

static const struct vdev_ops net_ops = {
	.name = "net",
	.device_id = VIRTIO_ID_NET,
	.nr_queues = 2,
	.queue_size = NET_QUEUE_SIZE,
	.config_size = offsetof(struct virtio_net_config, mtu),
	.features = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_NET_F_MAC |
		    1ull << VIRTIO_NET_F_STATUS | 1ull << VIRTIO_NET_F_MRG_RXBUF |
		    1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM |
		    1ull << VIRTIO_NET_F_HOST_TSO4 | 1ull << VIRTIO_NET_F_HOST_TSO6 |
		    1ull << VIRTIO_NET_F_HOST_ECN | 1ull << VIRTIO_NET_F_GUEST_TSO4 |
		    1ull << VIRTIO_NET_F_GUEST_TSO6 | 1ull << VIRTIO_NET_F_GUEST_ECN |
		    1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_RING_F_INDIRECT_DESC,
	.config = net_config,
	.activate = net_activate,
	.notify = net_notify,
	.reset = net_reset,
	.destroy = net_destroy,
	.uring_ops = net_uring_ops,
	.nr_uring_ops = sizeof(net_uring_ops),
	.complete = net_complete,
};

/*
 * io_uring moves the packets. seccomp compares one argument per rule, so
 * the ioctl is limited by request, not by fd: the tap is the only fd here
 * that knows TUNSETOFFLOAD.
 */
static const struct sandbox_syscall net_rules[] = {
	DEVICE_PROCESS_RULES,
	SANDBOX_ALLOW_EQ(ioctl, 1, TUNSETOFFLOAD,
			 "set the tap's receive offloads to what the driver accepted"),
};

const struct sandbox_policy net_policy = {
	"net", net_rules, sizeof(net_rules) / sizeof(net_rules[0]),
};

/* Is fd a tap the device can use? The reason if not. */
static const char *net_check_tap(int fd)
{
	unsigned need = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	struct ifreq ifr = { 0 };
	int fl = fcntl(fd, F_GETFL), hdr = 0;

	if (fd < 0 || fl < 0)
		return "no tap file descriptor";
	if (ioctl(fd, TUNGETIFF, &ifr))
		return "the file descriptor is not an attached tap";
	if (((unsigned)ifr.ifr_flags & need) != need)
		return "the tap needs IFF_TAP, IFF_NO_PI and IFF_VNET_HDR";
	if (ioctl(fd, TUNGETVNETHDRSZ, &hdr) || hdr != (int)NET_HDR_LEN)
		return "the tap's vnet header size is not 12";
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return "cannot make the tap non-blocking";
	/* Nothing offloaded until a driver accepts it. */
	if (ioctl(fd, TUNSETOFFLOAD, 0))
		return "the tap refuses TUNSETOFFLOAD";
	return NULL;
}

int net_create(struct vdev *dev, const char *name, const struct guest_mem *mem,
	       const struct net_options *opt, char *err, size_t errlen)
{
	const char *why = net_check_tap(opt->tap_fd);
	struct net *n;

	if (!why && opt->mac[0] & 1)
		why = "the MAC address is a multicast address";
	if (why) {
		snprintf(err, errlen, "%s: %s", name, why);
		return -EINVAL;
	}
	n = calloc(1, sizeof(*n));
	if (n)
		n->tx = calloc(NET_QUEUE_SIZE, sizeof(*n->tx));
	if (!n || !n->tx) {
		free(n);
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	n->tap = opt->tap_fd;
	memcpy(n->mac, opt->mac, sizeof(n->mac));
	n->rx_nowait = true;
	for (unsigned i = 0; i < NET_QUEUE_SIZE; i++)
		n->tx_free[i] = (uint16_t)(NET_QUEUE_SIZE - 1 - i);
	n->nr_tx_free = NET_QUEUE_SIZE;
	vdev_init(dev, &net_ops, n, name, mem);
	return 0;
}

/* ---- [[net]] ---- */

#define NETIF(field) offsetof(struct net_config, field)

static const struct cfg_key netif_keys[] = {
	{ "name", CFG_IFNAME, NETIF(name),
	  .doc = "The interface name the guest sees, 1 to 15 of `A-Z a-z 0-9 _ . -`; unique." },
	{ "tap", CFG_IFNAME, NETIF(tap), .def = "`\"<name>-<index>\"`",
	  .doc = "The host TAP device, e.g. `\"banking-0\"`: an existing (persistent) one is used, "
		 "else one is created, which needs `CAP_NET_ADMIN`. The default uses the VM's "
		 "name and the interface's index." },
	{ "mac", CFG_MAC, NETIF(mac), NETIF(mac_set), .def = "derived",
	  .doc = "The guest's MAC address, `\"52:54:00:12:34:56\"`; must be unicast." },
	{ .name = NULL },
};

/* Names, TAPs and MACs differ between interfaces; a default TAP name must fit. */
static void netif_check(const void *cfg, struct cfg_check *chk)
{
	const struct net_config *n = cfg;

	for (unsigned i = 0; i < chk->nr_earlier; i++) {
		const struct net_config *o = chk->earlier[i];

		if (n->name && o->name && !strcmp(n->name, o->name))
			chk->report(chk, "name \"%s\" is used twice", n->name);
		if (n->tap && o->tap && !strcmp(n->tap, o->tap))
			chk->report(chk, "tap \"%s\" is used twice", n->tap);
		if (n->mac_set && o->mac_set && !memcmp(n->mac, o->mac, 6))
			chk->report(chk, "mac is used twice");
	}
	if (!n->tap && chk->vm_name && strlen(chk->vm_name) + 2 > NET_IFNAME_MAX)
		chk->report(chk, "tap: required when the VM name is over %d characters (the default "
			    "\"<name>-<index>\" must fit in %d)", NET_IFNAME_MAX - 2, NET_IFNAME_MAX);
}

static void netif_mac(const struct net_config *n, const struct device_env *env, uint8_t mac[6])
{
	if (n->mac_set)
		memcpy(mac, n->mac, 6);
	else
		net_derive_mac(env->vm_name, n->name, mac);
}

/* The TAP is opened here, in the VMM; the jailed device only ever gets the fd. */
static int netif_create(struct vdev *dev, const char *name, const struct device_env *env,
			const void *cfg, struct device_grant *grant, char *err, size_t errlen)
{
	const struct net_config *n = cfg;
	struct net_options opt;
	char tap[IFNAMSIZ];
	int rc;

	if (n->tap)
		snprintf(tap, sizeof(tap), "%s", n->tap);
	else
		snprintf(tap, sizeof(tap), "%s-%u", env->vm_name, env->index);
	netif_mac(n, env, opt.mac);
	opt.tap_fd = tap_open(tap, err, errlen);
	if (opt.tap_fd < 0)
		return -EIO;
	rc = net_create(dev, name, env->mem, &opt, err, errlen);
	if (rc) {
		close(opt.tap_fd);
		return rc;
	}
	grant->fds[grant->nr_fds++] = opt.tap_fd;
	return 0;
}

/* vmsilo's guests name their interfaces from vmsilo.ifname=<name>,<mac>. */
static int netif_kernel_param(const void *cfg, const struct device_env *env, char *buf, size_t len)
{
	const struct net_config *n = cfg;
	uint8_t m[6];
	int w;

	netif_mac(n, env, m);
	w = snprintf(buf, len, "vmsilo.ifname=%s,%02x:%02x:%02x:%02x:%02x:%02x", n->name,
		     m[0], m[1], m[2], m[3], m[4], m[5]);
	return w < 0 || (size_t)w >= len ? -1 : 0;
}

const struct device_kind net_kind = {
	.section = "net",
	.prefix = "net",
	.max = NET_MAX_IFS,
	.plural = "interfaces",
	.config_size = sizeof(struct net_config),
	.keys = netif_keys,
	.doc = "virtio-net interfaces over host TAP devices",
	.check = netif_check,
	.create = netif_create,
	.kernel_param = netif_kernel_param,
	.policy = &net_policy,
};
