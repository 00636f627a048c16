/*
 * Packets to the guest. Streams that owe the guest a packet wait in a FIFO;
 * each rx buffer carries one packet of the stream at its head, which goes
 * back to the tail if it still owes more, so streams share the buffers
 * fairly. RSTs answering packets of unknown streams wait in a small ring of
 * their own, dropped when it is full (they answer a misbehaving guest).
 * A buffer is popped only for a packet that is ready: a guest that posts no
 * rx buffers makes the device wait for its kick, never spin.
 */
#include <endian.h>
#include <stdlib.h>

#include "devices/vsock.h"
#include "virtio/iov.h"

/* Host data may go to the guest now: read, in room, with credit. */
static bool has_data(const struct vsock_conn *c)
{
	return c->state == VS_OPEN && c->readable && !c->host_eof && vsock_conn_credit(c);
}

static bool owes_packet(const struct vsock_conn *c)
{
	switch (c->state) {
	case VS_FINAL:
		return true;
	case VS_CONNECTING:
		return c->owe & OWE_REQUEST;
	case VS_OPEN:
		return c->owe || c->shut_owed || has_data(c);
	default:
		return false;
	}
}

/* A freed slot may stay queued: owes_packet() drops it at the head. */
void vsock_rx_queue(struct vsock *v, struct vsock_conn *c)
{
	uint16_t i = vsock_conn_index(v, c);

	if (c->in_rx || !owes_packet(c))
		return;
	c->in_rx = true;
	c->rx_next = VSOCK_NONE;
	if (v->rx_tail == VSOCK_NONE)
		v->rx_head = i;
	else
		v->conns[v->rx_tail].rx_next = i;
	v->rx_tail = i;
}

static void pop_head(struct vsock *v)
{
	struct vsock_conn *c = &v->conns[v->rx_head];

	v->rx_head = c->rx_next;
	if (v->rx_head == VSOCK_NONE)
		v->rx_tail = VSOCK_NONE;
	c->in_rx = false;
}

static struct vsock_conn *first_owing(struct vsock *v)
{
	while (v->rx_head != VSOCK_NONE) {
		struct vsock_conn *c = &v->conns[v->rx_head];

		if (owes_packet(c))
			return c;
		pop_head(v);
	}
	return NULL;
}

bool vsock_rx_rst(struct vsock *v, uint32_t host_port, uint32_t guest_port)
{
	if (v->rst_len == VSOCK_RST_QUEUE)
		return false;
	v->rst[(v->rst_head + v->rst_len++) % VSOCK_RST_QUEUE] =
		(struct vsock_rst){ host_port, guest_port };
	return true;
}

void vsock_rx_clear(struct vsock *v)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		v->conns[i].in_rx = false;
	v->rx_head = v->rx_tail = VSOCK_NONE;
	v->rst_head = v->rst_len = 0;
}

static struct virtio_vsock_hdr header(const struct vsock *v, uint32_t host_port,
				      uint32_t guest_port, uint16_t op)
{
	return (struct virtio_vsock_hdr){
		.src_cid = htole64(VSOCK_HOST_CID), .dst_cid = htole64(v->cid),
		.src_port = htole32(host_port), .dst_port = htole32(guest_port),
		.type = htole16(VIRTIO_VSOCK_TYPE_STREAM), .op = htole16(op),
	};
}

/*
 * c's next packet, its payload read into iov[0..n): control packets first,
 * then data, then half-closes (after the data they follow), then credit.
 * Every packet carries our credit, so a pending CREDIT_UPDATE is settled.
 */
static struct virtio_vsock_hdr next_packet(struct vdev *dev, struct vsock_conn *c,
					   struct iovec *iov, unsigned n)
{
	struct vsock *v = dev->priv;
	uint16_t op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
	uint32_t flags = 0, len = 0;
	struct virtio_vsock_hdr h;

	if (c->state == VS_FINAL) {
		op = c->final_op;
	} else if (c->owe & OWE_REQUEST) {
		op = VIRTIO_VSOCK_OP_REQUEST;
		c->owe &= ~OWE_REQUEST;
	} else if (c->owe & OWE_RESPONSE) {
		op = VIRTIO_VSOCK_OP_RESPONSE;
		c->owe &= ~OWE_RESPONSE;
	} else if (has_data(c)) {
		len = vsock_host_read(dev, c, iov, n, &op, &flags);
	} else if (c->shut_owed) {
		op = VIRTIO_VSOCK_OP_SHUTDOWN;
		flags = c->shut_owed;
		c->shut_owed = 0;
	}
	if (op == VIRTIO_VSOCK_OP_SHUTDOWN && c->state == VS_FINAL)
		flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	h = header(v, c->host_port, c->guest_port, op);
	h.len = htole32(len);
	h.flags = htole32(flags);
	h.buf_alloc = htole32(VSOCK_BUF_ALLOC);
	h.fwd_cnt = htole32(c->fwd_cnt);
	c->fwd_told = c->fwd_cnt;
	c->owe &= ~OWE_CREDIT;
	if (c->state == VS_FINAL && op == c->final_op)
		vsock_conn_free(v, c);		/* the last word */
	return h;
}

void vsock_rx_run(struct vdev *dev)
{
	struct vsock *v = dev->priv;
	struct virtq *vq = &dev->queues[VSOCK_RX].vq;
	struct virtq_chain *ch = &v->chain;
	struct virtio_vsock_hdr h;
	struct vsock_conn *c;
	unsigned n;
	int rc = 0;

	while (dev->active && (v->rst_len || first_owing(v))) {
		rc = virtq_pop(vq, dev->mem, ch);
		if (rc <= 0)
			break;
		if (ch->nr_out || ch->in_len < VSOCK_HDR) {
			vdev_fail(dev, "rx buffer without room for a packet header");
			return;
		}
		n = iov_slice(v->iov, VIRTQ_MAX_CHAIN, ch->iov, ch->nr_in, VSOCK_HDR, SIZE_MAX);
		if (v->rst_len) {
			struct vsock_rst r = v->rst[v->rst_head];

			v->rst_head = (v->rst_head + 1) % VSOCK_RST_QUEUE;
			v->rst_len--;
			h = header(v, r.host_port, r.guest_port, VIRTIO_VSOCK_OP_RST);
		} else {
			c = &v->conns[v->rx_head];
			pop_head(v);
			h = next_packet(dev, c, v->iov, n);
			vsock_rx_queue(v, c);
		}
		buf_to_iov(ch->iov, ch->nr_in, 0, &h, VSOCK_HDR);
		virtq_push(vq, ch->head, VSOCK_HDR + le32toh(h.len));
	}
	if (rc < 0)
		vdev_fail(dev, "malformed rx chain");
	vdev_signal(dev, VSOCK_RX);
}
