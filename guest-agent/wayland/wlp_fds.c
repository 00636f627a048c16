/*
 * fds other than pools: the compositor's memfds (a keymap) arrive as blob
 * items and become sealed local copies; clipboard and drag-and-drop data
 * crosses through pipes on each side, relayed here without blocking the
 * proxy (a client that does not read its pipe only loses that transfer).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest-agent/wayland/wlp.h"

#define PIPE_BUFFERED	(4u << 20)	/* compositor data the client has not taken */
#define MAX_MEMFD	(16u << 20)

enum pipe_kind {
	PIPE_TO_CLIENT,		/* our read pipe: the host's READs into the client's fd */
	PIPE_FROM_CLIENT,	/* a host write pipe: what the client writes, WRITE to host */
};

struct wlp_pipe {
	struct wlp_pipe *next;
	enum pipe_kind kind;
	uint32_t id;
	int fd;
	uint8_t *buf;
	size_t len;
	bool hang_up;
};

static struct wlp_pipe *pipe_add(struct wlp_conn *c, enum pipe_kind kind, uint32_t id, int fd)
{
	struct wlp_pipe *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	*p = (struct wlp_pipe){ .next = c->pipes, .kind = kind, .id = id, .fd = fd };
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	c->pipes = p;
	return p;
}

static void pipe_free(struct wlp_conn *c, struct wlp_pipe *gone)
{
	for (struct wlp_pipe **p = &c->pipes; *p; p = &(*p)->next)
		if (*p == gone) {
			*p = gone->next;
			break;
		}
	close(gone->fd);
	free(gone->buf);
	free(gone);
}

void wlp_pipes_free(struct wlp_conn *c)
{
	while (c->pipes)
		pipe_free(c, c->pipes);
}

bool wlp_fd_request(struct wlp_conn *c, enum wlp_iface iface, uint16_t opcode, int fd,
		    struct cd_item *item)
{
	uint32_t id;

	if (iface != WLP_DATA_OFFER || opcode != WLP_DATA_OFFER_RECEIVE) {
		close(fd);
		wlp_conn_kill(c, "%s request %u carries an fd the proxy cannot pass",
			      wlp_ifaces[iface].name, opcode);
		return false;
	}
	id = c->link->ops->read_pipe(c->link);
	if (!id || !pipe_add(c, PIPE_TO_CLIENT, id, fd)) {
		close(fd);
		wlp_conn_kill(c, "no read pipe for a data offer");
		return false;
	}
	*item = (struct cd_item){ id, CROSS_DOMAIN_ID_TYPE_READ_PIPE, 0 };
	return true;
}

/* The client gets the copy read-only, as compositors hand out keymaps:
 * the same file opened again through /proc, if /proc is there. */
static int read_only(int fd)
{
	char path[32];
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro < 0)
		return fd;
	close(fd);
	return ro;
}

/* The compositor's memory as a sealed memfd of our own. */
static int copy_blob(struct wlp_conn *c, const struct cd_item *item)
{
	struct wlp_blob b;
	int fd, rc;
	const unsigned seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;

	if (!item->size || item->size > MAX_MEMFD) {
		wlp_conn_kill(c, "a compositor memfd of %u bytes", item->size);
		return -1;
	}
	rc = c->link->ops->blob_map(c->link, item, &b);
	if (rc) {
		wlp_conn_kill(c, "the compositor's memfd cannot be mapped: %s", strerror(-rc));
		return -1;
	}
	fd = memfd_create("vmsilo-wayland-proxy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || write(fd, b.map, item->size) != (ssize_t)item->size ||
	    fcntl(fd, F_ADD_SEALS, seals)) {
		if (fd >= 0)
			close(fd);
		fd = -1;
		wlp_conn_kill(c, "a local copy of a compositor memfd failed: %s", strerror(errno));
	}
	c->link->ops->blob_free(c->link, &b);
	return fd < 0 ? fd : read_only(fd);
}

int wlp_fd_event(struct wlp_conn *c, enum wlp_iface iface, uint16_t opcode,
		 const struct cd_item *item)
{
	int p[2];

	if (item->type == CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB)
		return copy_blob(c, item);
	if (item->type != CROSS_DOMAIN_ID_TYPE_WRITE_PIPE) {
		wlp_conn_kill(c, "%s event %u carries an item of type %u", wlp_ifaces[iface].name,
			      opcode, item->type);
		return -1;
	}
	if (pipe2(p, O_CLOEXEC)) {
		wlp_conn_kill(c, "pipe: %s", strerror(errno));
		return -1;
	}
	if (!pipe_add(c, PIPE_FROM_CLIENT, item->id, p[0])) {
		close(p[0]);
		close(p[1]);
		wlp_conn_kill(c, "out of memory");
		return -1;
	}
	return p[1];
}

static struct wlp_pipe *pipe_by(struct wlp_conn *c, enum pipe_kind kind, uint32_t id, int fd)
{
	for (struct wlp_pipe *p = c->pipes; p; p = p->next)
		if (p->kind == kind && (fd >= 0 ? p->fd == fd : p->id == id))
			return p;
	return NULL;
}

/* Write what the client's pipe takes; false when the pipe is done. */
static bool drain_to_client(struct wlp_pipe *p)
{
	while (p->len) {
		ssize_t n = write(p->fd, p->buf, p->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		memmove(p->buf, p->buf + n, p->len - (size_t)n);
		p->len -= (size_t)n;
	}
	return !p->hang_up;
}

void wlp_pipe_read(struct wlp_conn *c, uint32_t id, bool hang_up, const uint8_t *data,
		   uint32_t len)
{
	struct wlp_pipe *p = pipe_by(c, PIPE_TO_CLIENT, id, -1);
	uint8_t *bigger = NULL;

	if (!p)
		return;		/* the client closed it early; the host learns on its side */
	if (len && (p->len + len > PIPE_BUFFERED || !(bigger = realloc(p->buf, p->len + len)))) {
		wlp_log("client %d: a transfer the client does not read, dropped", c->id);
		pipe_free(c, p);
		return;
	}
	if (len) {
		p->buf = bigger;
		memcpy(p->buf + p->len, data, len);
		p->len += len;
	}
	p->hang_up = hang_up;
	if (!drain_to_client(p))
		pipe_free(c, p);
}

int wlp_pipes_poll_fds(struct wlp_conn *c, struct pollfd *pf, int max)
{
	int n = 0;

	for (struct wlp_pipe *p = c->pipes; p && n < max; p = p->next) {
		if (p->kind == PIPE_TO_CLIENT && !p->len)
			continue;
		pf[n++] = (struct pollfd){ .fd = p->fd,
					   .events = p->kind == PIPE_TO_CLIENT ? POLLOUT : POLLIN };
	}
	return n;
}

static void from_client(struct wlp_conn *c, struct wlp_pipe *p)
{
	uint8_t buf[CROSS_DOMAIN_READ_MAX_DATA];
	ssize_t n = read(p->fd, buf, sizeof(buf));
	int rc;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	rc = c->link->ops->write(c->link, p->id, n <= 0, buf, n > 0 ? (uint32_t)n : 0);
	if (rc || n <= 0)
		pipe_free(c, p);
}

void wlp_pipes_step(struct wlp_conn *c, const struct pollfd *pf, int n)
{
	for (int i = 0; i < n; i++) {
		struct wlp_pipe *p;

		if (!pf[i].revents)
			continue;
		p = pipe_by(c, PIPE_FROM_CLIENT, 0, pf[i].fd);
		if (p) {
			from_client(c, p);
			continue;
		}
		p = pipe_by(c, PIPE_TO_CLIENT, 0, pf[i].fd);
		if (p && !drain_to_client(p))
			pipe_free(c, p);
	}
}
