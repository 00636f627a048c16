/*
 * The host side of vsock streams: Unix sockets watched with one-shot
 * POLL_ADDs on the device loop's io_uring, then read and written with
 * non-blocking syscalls. A stream has at most one POLLIN and one POLLOUT in
 * flight. POLLIN is armed again only once the socket has been read dry, so
 * a stream whose guest has no rx buffer or no credit costs nothing.
 *
 * A socket is shut down before it is closed: that completes the polls
 * still in flight (io_uring holds the file until then), so the host peer
 * sees the close at once. Their CQEs carry the slot's generation and are
 * ignored once the slot has moved on.
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/vsock.h"
#include "virtio/iov.h"
#include "vmm/log.h"

#define SHUT_BOTH (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)

/* user_data: what (bits 56..57), slot (32..47), slot generation (0..31). */
enum { TAG_LISTEN, TAG_IN, TAG_OUT, TAG_TIMER };

static uint64_t tag(unsigned kind, unsigned slot, uint32_t gen)
{
	return (uint64_t)kind << 56 | (uint64_t)slot << 32 | gen;
}

static bool arm_poll(struct vdev *dev, int fd, unsigned events, uint64_t data)
{
	struct io_uring_sqe *sqe = vdev_get_sqe(dev, data);

	if (!sqe) {
		log_ratelimited(LOG_WARN, "%s: no room on the io_uring to watch a socket", dev->name);
		return false;
	}
	io_uring_prep_poll_add(sqe, fd, events);
	return true;
}

void vsock_host_arm_in(struct vdev *dev, struct vsock_conn *c)
{
	struct vsock *v = dev->priv;

	if (!c->poll_in && c->fd >= 0)
		c->poll_in = arm_poll(dev, c->fd, POLLIN,
				      tag(TAG_IN, vsock_conn_index(v, c), c->gen));
}

static void arm_out(struct vdev *dev, struct vsock_conn *c)
{
	struct vsock *v = dev->priv;

	if (!c->poll_out && c->fd >= 0)
		c->poll_out = arm_poll(dev, c->fd, POLLOUT,
				       tag(TAG_OUT, vsock_conn_index(v, c), c->gen));
}

static void arm_listener(struct vdev *dev, unsigned which)
{
	struct vsock *v = dev->priv;

	if (v->listen_fd[which] >= 0 && !v->listen_armed[which] && !v->listen_paused[which])
		v->listen_armed[which] = arm_poll(dev, v->listen_fd[which], POLLIN,
						  tag(TAG_LISTEN, which, 0));
}

static void arm_timer(struct vdev *dev)
{
	struct vsock *v = dev->priv;
	struct io_uring_sqe *sqe;

	if (v->timer_armed || !(sqe = vdev_get_sqe(dev, tag(TAG_TIMER, 0, 0))))
		return;
	v->tick = (struct __kernel_timespec){ .tv_nsec = VSOCK_TICK_MS * 1000000ll };
	io_uring_prep_timeout(sqe, &v->tick, 0, 0);
	v->timer_armed = true;
}

void vsock_host_close(struct vdev *dev, struct vsock_conn *c)
{
	struct vsock *v = dev->priv;

	if (c->fd < 0)
		return;
	shutdown(c->fd, SHUT_RDWR);
	close(c->fd);
	c->fd = -1;
	for (unsigned i = 0; i < 2; i++)	/* an fd is free again */
		if (v->listen_paused[i]) {
			v->listen_paused[i] = false;
			arm_listener(dev, i);
		}
}

static void drop(struct vdev *dev, struct vsock_conn *c)
{
	vsock_host_close(dev, c);
	vsock_conn_free(dev->priv, c);
}

static bool guest_knows(const struct vsock_conn *c)
{
	return c->state == VS_OPEN || c->state == VS_DIALING ||
	       (c->state == VS_CONNECTING && !(c->owe & OWE_REQUEST));
}

/* The stream is over: one last packet for the guest, then the slot is free. */
static void finish(struct vdev *dev, struct vsock_conn *c, uint16_t op)
{
	vsock_host_close(dev, c);
	c->state = VS_FINAL;
	c->final_op = op;
	c->shut_owed = 0;
	vsock_rx_queue(dev->priv, c);
}

void vsock_host_reset(struct vdev *dev, struct vsock_conn *c)
{
	if (c->state == VS_FINAL)
		return;
	if (guest_knows(c))
		finish(dev, c, VIRTIO_VSOCK_OP_RST);
	else
		drop(dev, c);
}

/*
 * Half-closes changed: pass the guest's SEND on once its data is out, and
 * end the stream when both directions are done. A guest that closed both
 * ways gets the RST that completes its close; otherwise the host ended it,
 * and the guest gets SHUTDOWN both ways and answers with its RST.
 */
static void check_done(struct vdev *dev, struct vsock_conn *c)
{
	bool out_done;

	if (c->state != VS_OPEN)
		return;
	out_done = c->host_gone || (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND && !c->buf_len);
	if (out_done && !c->host_gone && !c->wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = true;
	}
	if (c->guest_shut == SHUT_BOTH && out_done)
		finish(dev, c, VIRTIO_VSOCK_OP_RST);
	else if (c->host_eof && out_done)
		finish(dev, c, VIRTIO_VSOCK_OP_SHUTDOWN);
}

static void maybe_credit(struct vsock *v, struct vsock_conn *c)
{
	if (c->fwd_cnt - c->fwd_told >= VSOCK_CREDIT_STEP) {
		c->owe |= OWE_CREDIT;
		vsock_rx_queue(v, c);
	}
}

/* The host no longer reads (EPIPE, reset): guest data is dropped from now on. */
static void host_stopped_reading(struct vdev *dev, struct vsock_conn *c)
{
	c->host_gone = true;
	c->fwd_cnt += c->buf_len;
	c->buf_len = 0;
	c->shut_owed |= VIRTIO_VSOCK_SHUTDOWN_RCV;
	vsock_rx_queue(dev->priv, c);
	check_done(dev, c);
}

/* Bytes the socket took, 0 if it is full, -1 if the host stopped reading. */
static ssize_t send_iov(struct vsock_conn *c, struct iovec *iov, unsigned n)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = n };
	ssize_t r;

	do
		r = sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return r;
}

static void flush(struct vdev *dev, struct vsock_conn *c)
{
	while (c->buf_len) {
		uint32_t first = VSOCK_BUF_ALLOC - c->buf_head;
		struct iovec iov[2] = {
			{ c->buf + c->buf_head, c->buf_len < first ? c->buf_len : first },
			{ c->buf, c->buf_len < first ? 0 : c->buf_len - first },
		};
		ssize_t r = send_iov(c, iov, iov[1].iov_len ? 2 : 1);

		if (r < 0) {
			host_stopped_reading(dev, c);
			return;
		}
		if (!r) {
			arm_out(dev, c);
			break;
		}
		c->buf_head = (uint32_t)((c->buf_head + (uint32_t)r) % VSOCK_BUF_ALLOC);
		c->buf_len -= (uint32_t)r;
		c->fwd_cnt += (uint32_t)r;
	}
	maybe_credit(dev->priv, c);
	check_done(dev, c);
}

/* Bytes [skip, skip + len) of iov go to the end of c's buffer, which has room. */
static bool buffer(struct vsock_conn *c, const struct iovec *iov, unsigned n, size_t skip,
		   uint32_t len)
{
	uint32_t tail = (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC;
	uint32_t first = VSOCK_BUF_ALLOC - tail < len ? VSOCK_BUF_ALLOC - tail : len;

	if (!c->buf && !(c->buf = malloc(VSOCK_BUF_ALLOC)))
		return false;
	iov_to_buf(iov, n, skip, c->buf + tail, first);
	iov_to_buf(iov, n, skip + first, c->buf, len - first);
	c->buf_len += len;
	return true;
}

/* An RW packet's payload: straight to the socket, the rest buffered. */
void vsock_host_write(struct vdev *dev, struct vsock_conn *c, struct iovec *iov,
		      unsigned n, uint32_t len)
{
	struct vsock *v = dev->priv;
	ssize_t sent = 0;

	if (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND)
		vsock_complain(dev, "stream %u:%u: data after the guest's SHUTDOWN(SEND) dropped",
			       c->guest_port, c->host_port);
	if (c->host_gone || c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) {
		c->fwd_cnt += len;
		maybe_credit(v, c);
		return;
	}
	if (len > VSOCK_BUF_ALLOC - c->buf_len) {
		vsock_complain(dev, "stream %u:%u: the guest sent %u bytes with room for %u; reset",
			       c->guest_port, c->host_port, len, VSOCK_BUF_ALLOC - c->buf_len);
		vsock_host_reset(dev, c);
		return;
	}
	if (!c->buf_len)
		sent = send_iov(c, iov, n);
	if (sent < 0) {
		c->fwd_cnt += len;
		host_stopped_reading(dev, c);
		return;
	}
	if ((uint32_t)sent < len) {
		if (!buffer(c, iov, n, (size_t)sent, len - (uint32_t)sent)) {
			log_ratelimited(LOG_WARN, "%s: out of memory for a stream's buffer", dev->name);
			vsock_host_reset(dev, c);
			return;
		}
		arm_out(dev, c);
	}
	c->fwd_cnt += (uint32_t)sent;
	maybe_credit(v, c);
}

/* The guest's SHUTDOWN: RCV stops reading the host, SEND half-closes after its data. */
void vsock_host_shutdown(struct vdev *dev, struct vsock_conn *c, uint32_t flags)
{
	flags &= SHUT_BOTH;
	if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV && !(c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV)) {
		shutdown(c->fd, SHUT_RD);
		c->host_eof = true;
		c->readable = false;
	}
	c->guest_shut |= flags;
	check_done(dev, c);
}

/*
 * Host data into an rx buffer (iov, after the header): what fits, at most
 * the guest's credit. Sets the packet's op: RW; SHUTDOWN at the end of the
 * host's data; CREDIT_UPDATE if nothing was there after all; RST if the
 * socket failed.
 */
uint32_t vsock_host_read(struct vdev *dev, struct vsock_conn *c, struct iovec *iov,
			 unsigned n, uint16_t *op, uint32_t *flags)
{
	size_t room = iov_length(iov, n);
	uint32_t max = vsock_conn_credit(c);
	ssize_t r;

	if (max > VSOCK_MAX_PAYLOAD)
		max = VSOCK_MAX_PAYLOAD;
	if (max > room)
		max = (uint32_t)room;
	if (!max) {			/* a buffer with room for the header only */
		*op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
		return 0;
	}
	n = iov_slice(iov, n, iov, n, 0, max);
	do
		r = readv(c->fd, iov, (int)n);
	while (r < 0 && errno == EINTR);
	if (r > 0) {
		c->rx_cnt += (uint32_t)r;
		if ((uint32_t)r < max) {
			c->readable = false;
			vsock_host_arm_in(dev, c);
		}
		*op = VIRTIO_VSOCK_OP_RW;
		return (uint32_t)r;
	}
	c->readable = false;
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		vsock_host_arm_in(dev, c);
		*op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;
		return 0;
	}
	if (r < 0) {
		vsock_host_reset(dev, c);
		*op = VIRTIO_VSOCK_OP_RST;
		return 0;
	}
	c->host_eof = true;
	if (c->hup)
		host_stopped_reading(dev, c);
	check_done(dev, c);
	*op = c->state == VS_FINAL ? c->final_op : VIRTIO_VSOCK_OP_SHUTDOWN;
	*flags = c->state == VS_FINAL ? 0 : VIRTIO_VSOCK_SHUTDOWN_SEND | c->shut_owed;
	c->shut_owed = 0;
	return 0;
}

/* Asks the guest for a stream to port; the host port is new, or kept on retries. */
static void request_guest(struct vdev *dev, struct vsock_conn *c, uint32_t port)
{
	struct vsock *v = dev->priv;

	if (!c->hashed)
		vsock_conn_bind(v, c, vsock_conn_free_port(v, port), port);
	c->state = VS_CONNECTING;
	c->owe |= OWE_REQUEST;
	vsock_rx_queue(v, c);
}

/* "CONNECT <port>": decimal, 32 bits, nothing else. */
static bool parse_connect(const char *line, uint32_t *port)
{
	const char *p = line + 8;
	uint64_t val = 0;

	if (strncmp(line, "CONNECT ", 8) || !*p || strlen(p) > 10)
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		val = val * 10 + (uint64_t)(*p - '0');
	}
	if (val > UINT32_MAX)
		return false;
	*port = (uint32_t)val;
	return true;
}

/* Byte by byte, so whatever follows the line stays in the socket for the guest. */
static void read_line(struct vdev *dev, struct vsock_conn *c)
{
	uint32_t port;
	ssize_t r;
	char ch;

	for (;;) {
		r = read(c->fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			vsock_host_arm_in(dev, c);
			return;
		}
		if (r <= 0 || ch == '\n' || c->line_len == sizeof(c->line) - 1)
			break;
		c->line[c->line_len++] = ch;
	}
	c->line[c->line_len] = '\0';
	if (r == 1 && ch == '\n' && parse_connect(c->line, &port)) {
		request_guest(dev, c, port);
		return;
	}
	if (r == 1)
		log_ratelimited(LOG_INFO, "%s: vsock.socket: a client sent no \"CONNECT <port>\" line; closed",
				dev->name);
	drop(dev, c);
}

/*
 * connect() to vsock.socket_<port> again: true once settled, the stream
 * open (RESPONSE owed) or refused (RST). A full backlog is retried on the
 * timer until VSOCK_DIAL_MS: a blocking client would have waited too.
 */
static bool dial(struct vdev *dev, struct vsock_conn *c, uint64_t now)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	snprintf(a.sun_path, sizeof(a.sun_path), "vsock.socket_%u", c->host_port);
	if (!connect(c->fd, (struct sockaddr *)&a, sizeof(a))) {
		c->state = VS_OPEN;
		c->owe = OWE_RESPONSE;
		vsock_host_arm_in(dev, c);
		vsock_rx_queue(dev->priv, c);
		return true;
	}
	if ((errno == EAGAIN || errno == EWOULDBLOCK) && now < c->deadline)
		return false;
	log_ratelimited(LOG_DEBUG, "%s: guest port %u to host port %u refused: %s", dev->name,
			c->guest_port, c->host_port, strerror(errno));
	vsock_rx_rst(dev->priv, c->host_port, c->guest_port);
	drop(dev, c);
	return true;
}

/*
 * Streams waiting on time: guest connections to a full host backlog, and
 * command.socket streams, which ask the guest again until hold_ms.
 */
static void on_tick(struct vdev *dev)
{
	struct vsock *v = dev->priv;
	uint64_t now = vsock_now_ms();
	bool waiting = false;

	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];

		if (c->state == VS_DIALING)
			waiting |= !dial(dev, c, now);
		if (!c->command || (c->state != VS_HOLD && c->state != VS_CONNECTING))
			continue;
		if (now >= c->deadline) {
			log_ratelimited(LOG_WARN, "%s: command.socket: the guest did not accept on port %u within %.1f s; connection closed",
					dev->name, VSOCK_AGENT_PORT, v->hold_ms / 1000.0);
			vsock_host_reset(dev, c);
			continue;
		}
		waiting = true;
		if (c->state == VS_HOLD && dev->active && now >= c->retry_at)
			request_guest(dev, c, VSOCK_AGENT_PORT);
	}
	if (waiting)
		arm_timer(dev);
}

static void accept_all(struct vdev *dev, unsigned which)
{
	struct vsock *v = dev->priv;
	bool held = false;
	int fd;

	while ((fd = accept4(v->listen_fd[which], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0 ||
	       errno == EINTR || errno == ECONNABORTED) {
		struct vsock_conn *c = fd < 0 ? NULL : vsock_conn_new(v, which ? VS_HOLD : VS_LINE);

		if (fd >= 0 && !c) {
			if (!v->full_logged)
				log_ratelimited(LOG_WARN, "%s: %u streams open: host connections refused until one closes",
						dev->name, VSOCK_MAX_CONNS);
			v->full_logged = true;
			close(fd);
		}
		if (!c)
			continue;
		c->fd = fd;
		c->command = which == 1;
		if (c->command) {
			c->deadline = vsock_now_ms() + v->hold_ms;
			held = true;
		} else {
			read_line(dev, c);
		}
	}
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
		log_ratelimited(LOG_WARN, "%s: accept: %s; waiting for a stream to close", dev->name,
				strerror(errno));
		v->listen_paused[which] = true;
	} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
		log_err("%s: accept: %s; no more host connections", dev->name, strerror(errno));
		return;
	}
	arm_listener(dev, which);
	if (held)
		on_tick(dev);
}

static void readable(struct vdev *dev, struct vsock_conn *c, int32_t res)
{
	if (res < 0) {
		vsock_host_reset(dev, c);
	} else if (c->state == VS_LINE) {
		read_line(dev, c);
	} else if (c->state == VS_OPEN && !c->host_eof) {
		c->readable = true;
		c->hup = res & POLLHUP;
		vsock_rx_queue(dev->priv, c);
	}
}

void vsock_host_complete(struct vdev *dev, uint64_t data, int32_t res)
{
	struct vsock *v = dev->priv;
	unsigned kind = (unsigned)(data >> 56) & 3, slot = (unsigned)(data >> 32) & 0xffff;
	struct vsock_conn *c = &v->conns[slot < VSOCK_MAX_CONNS ? slot : 0];

	if (kind == TAG_TIMER) {
		v->timer_armed = false;
		on_tick(dev);
	} else if (kind == TAG_LISTEN && slot < 2) {
		v->listen_armed[slot] = false;
		if (res < 0)
			log_err("%s: watching a listening socket: %s", dev->name, strerror(-res));
		else
			accept_all(dev, slot);
	} else if (slot < VSOCK_MAX_CONNS && c->gen == (uint32_t)data && c->state != VS_FREE) {
		if (kind == TAG_IN) {
			c->poll_in = false;
			readable(dev, c, res);
		} else {
			c->poll_out = false;
			flush(dev, c);
		}
	}
	vsock_rx_run(dev);
}

/* The guest's REQUEST to host port: vsock.socket_<port> in the working directory. */
void vsock_host_connect(struct vdev *dev, const struct virtio_vsock_hdr *h, uint32_t host_port,
			uint32_t guest_port)
{
	struct vsock *v = dev->priv;
	struct vsock_conn *c = vsock_conn_new(v, VS_DIALING);
	uint64_t now = vsock_now_ms();
	int fd = -1;

	if (!c)
		vsock_complain(dev, "%u streams open: the guest's connection to host port %u refused",
			       VSOCK_MAX_CONNS, host_port);
	else if (!vsock_conn_bind(v, c, host_port, guest_port))
		vsock_complain(dev, "ports %u:%u are a held host stream's: refused", guest_port, host_port);
	else
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		if (c)
			vsock_conn_free(v, c);
		vsock_rx_rst(v, host_port, guest_port);
		return;
	}
	c->fd = fd;
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	c->deadline = now + VSOCK_DIAL_MS;
	if (!dial(dev, c, now))
		arm_timer(dev);
}

/* The guest accepted our REQUEST. */
void vsock_host_opened(struct vdev *dev, struct vsock_conn *c)
{
	char ok[24];
	struct iovec iov = { ok, (size_t)snprintf(ok, sizeof(ok), "OK %u\n", c->host_port) };

	c->state = VS_OPEN;
	/* A fresh socket has room for the line; if not, the client is gone. */
	if (!c->command && send_iov(c, &iov, 1) != (ssize_t)iov.iov_len) {
		vsock_host_reset(dev, c);
		return;
	}
	vsock_host_arm_in(dev, c);
}

/* The guest refused our REQUEST: command.socket streams wait and ask again. */
void vsock_host_refused(struct vdev *dev, struct vsock_conn *c)
{
	if (c->command) {
		c->state = VS_HOLD;
		c->retry_at = vsock_now_ms() + VSOCK_RETRY_MS;
		arm_timer(dev);
	} else {
		drop(dev, c);
	}
}

/* DRIVER_OK: listen, and ask the guest for the streams waiting since before. */
void vsock_host_start(struct vdev *dev)
{
	struct vsock *v = dev->priv;
	bool held = false;

	arm_listener(dev, 0);
	arm_listener(dev, 1);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		vsock_rx_queue(v, &v->conns[i]);
		held |= v->conns[i].state == VS_HOLD;
	}
	if (held)
		arm_timer(dev);	/* its first tick asks the guest: we are active by then */
}

/*
 * The driver reset the device: streams the guest knew are gone. Those it
 * never saw wait for the next driver: a host client still reading its
 * CONNECT line, and command.socket streams, which ask again.
 */
void vsock_host_guest_reset(struct vdev *dev)
{
	struct vsock *v = dev->priv;

	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &v->conns[i];

		if (c->state == VS_CONNECTING && c->command) {
			c->state = VS_HOLD;
			c->retry_at = 0;
			c->owe = 0;
		} else if (c->state == VS_CONNECTING) {
			c->owe = OWE_REQUEST;
		} else if (c->state == VS_OPEN || c->state == VS_DIALING || c->state == VS_FINAL) {
			drop(dev, c);
		}
	}
	vsock_rx_clear(v);
}
