/*
 * virtio-vsock (virtio 1.2, 5.10), streams only, with the host side on Unix
 * sockets as Firecracker has it: see devices/vsock_device.h for the sockets and
 * devices/vsock.h for how the files share the work. This file is the
 * device model and the guest's packets (the tx queue).
 *
 * Choices:
 * - SEQPACKET is not offered; a packet of another type gets an RST.
 * - Packets with a source CID other than the guest's, or for another
 *   destination than the host, are dropped (logged).
 * - A packet that breaks its stream's protocol (data beyond our credit, a
 *   payload shorter than its length, an unexpected op) resets that stream;
 *   one for an unknown stream is answered with an RST. Only broken rings
 *   and rx buffers too small for a header fail the whole device.
 * - The event queue is never used (no TRANSPORT_RESET: nothing migrates).
 */
#include <endian.h>
#include <errno.h>
#include <liburing.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include "devices/device_process.h"
#include "devices/vsock_device.h"
#include "devices/vsock.h"
#include "virtio/iov.h"
#include "vmm/log.h"

#define VSOCK_QUEUE_SIZE 256

uint64_t vsock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void answer_rst(struct vdev *dev, uint32_t host_port, uint32_t guest_port)
{
	if (!vsock_rx_rst(dev->priv, host_port, guest_port))
		vsock_complain(dev, "too many RSTs owed (the guest posts no rx buffers?): one dropped");
}

/* An op on a stream we know: VS_CONNECTING, VS_DIALING or VS_OPEN. */
static void stream_packet(struct vdev *dev, struct vsock_conn *c, const struct virtio_vsock_hdr *h,
			  struct virtq_chain *ch)
{
	struct vsock *v = dev->priv;
	uint16_t op = le16toh(h->op);
	uint32_t len = le32toh(h->len);
	bool open = c->state == VS_OPEN;

	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	if (op == VIRTIO_VSOCK_OP_RST) {
		if (c->state == VS_CONNECTING)
			vsock_host_refused(dev, c);
		else
			vsock_host_close(dev, c), vsock_conn_free(v, c);
		return;
	}
	if (op == VIRTIO_VSOCK_OP_RESPONSE && c->state == VS_CONNECTING && !(c->owe & OWE_REQUEST)) {
		vsock_host_opened(dev, c);
	} else if (op == VIRTIO_VSOCK_OP_RW && open) {
		unsigned n = iov_slice(v->iov, VIRTQ_MAX_CHAIN, ch->iov, ch->nr_out, VSOCK_HDR, len);

		vsock_host_write(dev, c, v->iov, n, len);
	} else if (op == VIRTIO_VSOCK_OP_SHUTDOWN && open) {
		vsock_host_shutdown(dev, c, le32toh(h->flags));
	} else if (op == VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
		c->owe |= OWE_CREDIT;
	} else if (op != VIRTIO_VSOCK_OP_CREDIT_UPDATE) {
		vsock_complain(dev, "stream %u:%u: op %u unexpected; reset", c->guest_port,
			       c->host_port, op);
		vsock_host_reset(dev, c);
	}
	if (c->state != VS_FREE)
		vsock_rx_queue(v, c);		/* new credit may let data flow */
}

static void guest_packet(struct vdev *dev, struct virtq_chain *ch)
{
	struct vsock *v = dev->priv;
	struct virtio_vsock_hdr h;
	struct vsock_conn *c;
	uint32_t host_port, guest_port, len;
	uint16_t op;

	if (ch->out_len < VSOCK_HDR) {
		vsock_complain(dev, "tx packet of %llu bytes, shorter than a header; dropped",
			       (unsigned long long)ch->out_len);
		return;
	}
	iov_to_buf(ch->iov, ch->nr_out, 0, &h, VSOCK_HDR);	/* one fetch */
	op = le16toh(h.op);
	len = le32toh(h.len);
	host_port = le32toh(h.dst_port);
	guest_port = le32toh(h.src_port);
	if (le64toh(h.src_cid) != v->cid || le64toh(h.dst_cid) != VSOCK_HOST_CID) {
		vsock_complain(dev, "packet from cid %llu to cid %llu dropped (the guest is %llu)",
			       (unsigned long long)le64toh(h.src_cid),
			       (unsigned long long)le64toh(h.dst_cid), (unsigned long long)v->cid);
		return;
	}
	c = vsock_conn_find(v, host_port, guest_port);
	if (c && c->state == VS_FINAL) {	/* its last packet is owed already */
		if (op == VIRTIO_VSOCK_OP_RST)
			vsock_conn_free(v, c);
		return;
	}
	if (c && c->state == VS_HOLD)
		c = NULL;			/* the guest never saw it */
	if (le16toh(h.type) != VIRTIO_VSOCK_TYPE_STREAM || len > ch->out_len - VSOCK_HDR) {
		vsock_complain(dev, "packet of type %u with %u of %llu payload bytes refused",
			       le16toh(h.type), len, (unsigned long long)(ch->out_len - VSOCK_HDR));
		if (c)
			vsock_host_reset(dev, c);
		else if (op != VIRTIO_VSOCK_OP_RST)
			answer_rst(dev, host_port, guest_port);
		return;
	}
	if (c)
		stream_packet(dev, c, &h, ch);
	else if (op == VIRTIO_VSOCK_OP_REQUEST)
		vsock_host_connect(dev, &h, host_port, guest_port);
	else if (op != VIRTIO_VSOCK_OP_RST)
		answer_rst(dev, host_port, guest_port);
}

static void tx_run(struct vdev *dev)
{
	struct vsock *v = dev->priv;
	struct virtq *vq = &dev->queues[VSOCK_TX].vq;
	int rc = 0;

	while (dev->active && (rc = virtq_pop(vq, dev->mem, &v->chain)) > 0) {
		guest_packet(dev, &v->chain);
		virtq_push(vq, v->chain.head, 0);
	}
	if (rc < 0)
		vdev_fail(dev, "malformed tx chain");
	vdev_signal(dev, VSOCK_TX);
}

/* rx: new buffers; tx: packets; event: buffers kept for nothing. */
static void vsock_notify(struct vdev *dev, unsigned q)
{
	if (q == VSOCK_TX)
		tx_run(dev);
	vsock_rx_run(dev);
}

static void vsock_config(struct vdev *dev, uint8_t *buf)
{
	struct vsock *v = dev->priv;
	struct virtio_vsock_config c = { .guest_cid = htole64(v->cid) };

	memcpy(buf, &c, sizeof(c));
}

static int vsock_activate(struct vdev *dev)
{
	vsock_host_start(dev);
	return 0;
}

static void vsock_destroy(struct vdev *dev)
{
	struct vsock *v = dev->priv;

	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (v->conns[i].fd >= 0)
			close(v->conns[i].fd);
	vsock_conns_destroy(v);
	free(v);
}

static const uint8_t vsock_uring_ops[] = { IORING_OP_TIMEOUT };

static const struct vdev_ops vsock_ops = {
	.name = "vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.nr_queues = 3,
	.queue_size = VSOCK_QUEUE_SIZE,
	.config_size = sizeof(struct virtio_vsock_config),
	.features = 1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << VIRTIO_RING_F_INDIRECT_DESC,
	.config = vsock_config,
	.activate = vsock_activate,
	.notify = vsock_notify,
	.reset = vsock_host_guest_reset,
	.destroy = vsock_destroy,
	.uring_ops = vsock_uring_ops,
	.nr_uring_ops = sizeof(vsock_uring_ops),
	.complete = vsock_host_complete,
};

/* Sockets are polled on the io_uring (POLL_ADD), then read and written here. */
static const struct sandbox_syscall vsock_rules[] = {
	DEVICE_PROCESS_RULES,
	SANDBOX_ALLOW_EQ(accept4, 3, SOCK_NONBLOCK | SOCK_CLOEXEC,
			 "host connections on vsock.socket and command.socket"),
	SANDBOX_ALLOW_EQ(socket, 0, AF_UNIX, "guest connections to host ports: Unix sockets only"),
	SANDBOX_ALLOW(connect, "vsock.socket_<port> in the working directory (the runtime directory)"),
	SANDBOX_ALLOW(readv, "host data straight into the guest's rx buffers"),
	SANDBOX_ALLOW_EQ(sendmsg, 2, MSG_DONTWAIT | MSG_NOSIGNAL,
			 "guest data to the host, without SIGPIPE"),
	SANDBOX_ALLOW(shutdown, "the guest's half-closes; end a stream before close"),
};

const struct sandbox_policy vsock_policy = {
	"vsock", vsock_rules, sizeof(vsock_rules) / sizeof(vsock_rules[0]),
};

int vsock_create(struct vdev *dev, const char *name, const struct guest_mem *mem,
		 const struct vsock_options *opt, char *err, size_t errlen)
{
	struct vsock *v;

	if (opt->guest_cid < 3 || opt->guest_cid > 0xfffffffeu) {
		snprintf(err, errlen, "%s: guest cid %llu is reserved or too large (use 3 to 4294967294)",
			 name, (unsigned long long)opt->guest_cid);
		return -EINVAL;
	}
	if (opt->listen_fd < -1 || opt->command_fd < -1) {
		snprintf(err, errlen, "%s: bad listening socket", name);
		return -EINVAL;
	}
	v = calloc(1, sizeof(*v));
	if (!v || vsock_conns_init(v)) {
		if (v)
			vsock_conns_destroy(v);
		free(v);
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	v->cid = opt->guest_cid;
	v->listen_fd[0] = opt->listen_fd;
	v->listen_fd[1] = opt->command_fd;
	v->hold_ms = opt->hold_ms ? opt->hold_ms : VSOCK_HOLD_MS;
	vdev_init(dev, &vsock_ops, v, name, mem);
	return 0;
}

/* ---- [vsock] ---- */

static const struct cfg_key vsock_keys[] = {
	{ "cid", CFG_UINT, offsetof(struct vsock_config, cid), .min = 3, .max = 0xfffffffe,
	  .doc = "The guest's context ID, 3 to 4294967294." },
	{ .name = NULL },
};

/*
 * The listening sockets belong to the VMM (they outlive a guest reboot);
 * the device gets them and the runtime directory, where it reaches the
 * host programs' vsock.socket_<port> listeners.
 */
static int vsock_kind_create(struct vdev *dev, const char *name, const struct device_env *env,
			     const void *cfg, struct device_grant *grant, char *err, size_t errlen)
{
	const struct vsock_config *vc = cfg;
	struct vsock_options opt = {
		.guest_cid = vc->cid, .listen_fd = env->vsock_fd, .command_fd = env->command_fd,
	};
	int rc = vsock_create(dev, name, env->mem, &opt, err, errlen);

	if (rc)
		return rc;
	grant->fds[grant->nr_fds++] = opt.listen_fd;
	if (opt.command_fd >= 0)
		grant->fds[grant->nr_fds++] = opt.command_fd;
	grant->borrowed = true;
	grant->rundir = true;
	grant->nofile = VSOCK_DEVICE_NOFILE;
	return 0;
}

const struct device_kind vsock_kind = {
	.section = "vsock",
	.prefix = "vsock",
	.max = 1,
	.config_size = sizeof(struct vsock_config),
	.keys = vsock_keys,
	.doc = "virtio-vsock: vm-run's commands and host-to-guest streams",
	.create = vsock_kind_create,
	.policy = &vsock_policy,
};
