/*
 * A proxied client's link straight to a compositor socket, for host tests
 * of the proxy (tests/unit/test_wayland_proxy.sh against Weston headless):
 * every item is a real fd kept here under its id, so the proxy's own code
 * runs exactly as in a guest, only the transport differs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "guest-agent/wayland/wlp_link.h"

#define LOOP_MAX_ITEMS	256
#define LOOP_IN		4096

struct loop_item {
	uint32_t id, type;	/* type 0: a free slot */
	int fd;			/* ours: a blob's memfd, a pipe's end we read or write */
	int peer_fd;		/* a read pipe's write end until the compositor has it */
};

struct loop_link {
	struct wlp_link link;
	int sock;
	uint32_t next_id;
	struct loop_item items[LOOP_MAX_ITEMS];
	uint8_t in[LOOP_IN];
};

static struct loop_link *loop_of(struct wlp_link *l)
{
	return (struct loop_link *)l;
}

static struct loop_item *item_add(struct loop_link *ll, uint32_t type, int fd, int peer_fd)
{
	for (int i = 0; i < LOOP_MAX_ITEMS; i++)
		if (!ll->items[i].type) {
			ll->items[i] = (struct loop_item){ ++ll->next_id, type, fd, peer_fd };
			return &ll->items[i];
		}
	return NULL;
}

static struct loop_item *item_find(struct loop_link *ll, uint32_t id, uint32_t type)
{
	for (int i = 0; i < LOOP_MAX_ITEMS; i++)
		if (ll->items[i].type == type && ll->items[i].id == id)
			return &ll->items[i];
	return NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void item_drop(struct loop_item *it)
{
	close_fd(&it->fd);
	close_fd(&it->peer_fd);
	it->type = 0;
}

static void put_fds(struct msghdr *mh, char *control, const int *fds, uint32_t n)
{
	struct cmsghdr *c;

	mh->msg_control = control;
	mh->msg_controllen = CMSG_SPACE(sizeof(int) * n);
	c = CMSG_FIRSTHDR(mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
}

static int loop_send(struct wlp_link *l, const void *data, uint32_t len,
		     const struct cd_item *items, uint32_t n_items)
{
	struct loop_link *ll = loop_of(l);
	struct loop_item *its[CROSS_DOMAIN_MAX_IDENTIFIERS];
	int fds[CROSS_DOMAIN_MAX_IDENTIFIERS];
	char control[CMSG_SPACE(sizeof(fds))] = { 0 };
	struct iovec iov = { (void *)data, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (n_items > CROSS_DOMAIN_MAX_IDENTIFIERS)
		return -EINVAL;
	for (uint32_t i = 0; i < n_items; i++) {
		its[i] = item_find(ll, items[i].id, items[i].type);
		if (!its[i])
			return -ENOENT;
		fds[i] = its[i]->peer_fd >= 0 ? its[i]->peer_fd : its[i]->fd;
	}
	if (n_items)
		put_fds(&mh, control, fds, n_items);
	do
		n = sendmsg(ll->sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len)
		return n < 0 ? -errno : -EIO;
	for (uint32_t i = 0; i < n_items; i++)
		close_fd(&its[i]->peer_fd);
	return 0;
}

static int loop_blob_new(struct wlp_link *l, uint64_t size, struct wlp_blob *b)
{
	int fd = memfd_create("wlp-loop-blob", MFD_CLOEXEC);
	struct loop_item *it;
	void *map;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) ||
	    (map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		close(fd);
		return -ENOMEM;
	}
	it = item_add(loop_of(l), CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB, fd, -1);
	if (!it) {
		munmap(map, size);
		close(fd);
		return -ENOSPC;
	}
	*b = (struct wlp_blob){ .id = it->id, .map = map, .size = size };
	return 0;
}

static int loop_blob_map(struct wlp_link *l, const struct cd_item *cit, struct wlp_blob *b)
{
	struct loop_item *it = item_find(loop_of(l), cit->id, CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB);
	void *map;

	if (!it || !cit->size)
		return -ENOENT;
	map = mmap(NULL, cit->size, PROT_READ, MAP_SHARED, it->fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	*b = (struct wlp_blob){ .id = it->id, .map = map, .size = cit->size };
	return 0;
}

static void loop_blob_free(struct wlp_link *l, struct wlp_blob *b)
{
	struct loop_item *it = item_find(loop_of(l), b->id, CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB);

	if (b->map)
		munmap(b->map, b->size);
	if (it)
		item_drop(it);
	memset(b, 0, sizeof(*b));
}

static int loop_write(struct wlp_link *l, uint32_t pipe, bool hang_up, const void *data,
		      uint32_t len)
{
	struct loop_item *it = item_find(loop_of(l), pipe, CROSS_DOMAIN_ID_TYPE_WRITE_PIPE);
	const uint8_t *p = data;

	if (!it)
		return -ENOENT;
	while (len) {
		ssize_t n = write(it->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			item_drop(it);
			return -EPIPE;
		}
		p += n;
		len -= (uint32_t)n;
	}
	if (hang_up)
		item_drop(it);
	return 0;
}

/* The compositor gets the write end with the SEND that names the pipe. */
static uint32_t loop_read_pipe(struct wlp_link *l)
{
	struct loop_item *it;
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return 0;
	it = item_add(loop_of(l), CROSS_DOMAIN_ID_TYPE_READ_PIPE, p[0], p[1]);
	if (!it) {
		close(p[0]);
		close(p[1]);
		return 0;
	}
	return it->id;
}

static int loop_poll_fds(struct wlp_link *l, struct pollfd *p, int max)
{
	struct loop_link *ll = loop_of(l);
	int n = 0;

	if (max < 1)
		return 0;
	p[n++] = (struct pollfd){ .fd = ll->sock, .events = POLLIN };
	for (int i = 0; i < LOOP_MAX_ITEMS && n < max; i++)
		if (ll->items[i].type == CROSS_DOMAIN_ID_TYPE_READ_PIPE && ll->items[i].peer_fd < 0)
			p[n++] = (struct pollfd){ .fd = ll->items[i].fd, .events = POLLIN };
	return n;
}

/* A fd the compositor sent: a pipe is for us to write, anything else memory. */
static bool take_fd(struct loop_link *ll, int fd, struct cd_item *ci)
{
	struct stat st;
	uint32_t type;
	struct loop_item *it;

	if (fstat(fd, &st)) {
		close(fd);
		return false;
	}
	type = S_ISFIFO(st.st_mode) ? CROSS_DOMAIN_ID_TYPE_WRITE_PIPE :
				      CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB;
	it = item_add(ll, type, fd, -1);
	if (!it) {
		close(fd);
		return false;
	}
	*ci = (struct cd_item){ it->id, type, S_ISFIFO(st.st_mode) ? 0 : (uint32_t)st.st_size };
	return true;
}

static int take_socket(struct loop_link *ll, struct wlp_host_msg *m)
{
	char control[CMSG_SPACE(sizeof(int) * CROSS_DOMAIN_MAX_IDENTIFIERS)];
	struct iovec iov = { ll->in, sizeof(ll->in) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof(control) };
	ssize_t n = recvmsg(ll->sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET;
	memset(m, 0, sizeof(*m));
	m->data = ll->in;
	m->len = (uint32_t)n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int fds[CROSS_DOMAIN_MAX_IDENTIFIERS];

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)nfds);
		for (int i = 0; i < nfds; i++)
			if (take_fd(ll, fds[i], &m->items[m->n_items]))
				m->n_items++;
	}
	return 1;
}

static int take_pipe(struct loop_link *ll, int fd, struct wlp_host_msg *m)
{
	struct loop_item *it = NULL;
	ssize_t n;

	for (int i = 0; i < LOOP_MAX_ITEMS && !it; i++)
		if (ll->items[i].type == CROSS_DOMAIN_ID_TYPE_READ_PIPE && ll->items[i].fd == fd)
			it = &ll->items[i];
	if (!it)
		return 0;
	n = read(fd, ll->in, CROSS_DOMAIN_READ_MAX_DATA);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	*m = (struct wlp_host_msg){ .is_read = true, .data = ll->in, .len = (uint32_t)n,
				    .pipe = it->id, .hang_up = n == 0 };
	if (n == 0)
		item_drop(it);
	return 1;
}

static int loop_take(struct wlp_link *l, const struct pollfd *p, int n, struct wlp_host_msg *m)
{
	struct loop_link *ll = loop_of(l);

	for (int i = 1; i < n; i++)
		if (p[i].revents)
			return take_pipe(ll, p[i].fd, m);
	if (n < 1 || !p[0].revents)
		return 0;
	return take_socket(ll, m);
}

static void loop_close(struct wlp_link *l)
{
	struct loop_link *ll = loop_of(l);

	for (int i = 0; i < LOOP_MAX_ITEMS; i++)
		if (ll->items[i].type)
			item_drop(&ll->items[i]);
	close(ll->sock);
	free(ll);
}

/* --host-dmabuf: any fd that maps stands for a dma-buf, its memory current. */
static uint64_t test_dmabuf_device;

void wlp_link_loop_dmabuf(uint64_t device)
{
	test_dmabuf_device = device;
}

static uint64_t loop_dmabuf_device(struct wlp_link *l)
{
	return test_dmabuf_device;
}

static int loop_dmabuf_import(struct wlp_link *l, int fd, struct wlp_dmabuf *d)
{
	off_t size = lseek(fd, 0, SEEK_END);
	void *map = size > 0 ? mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;

	if (map == MAP_FAILED)
		return -EINVAL;
	*d = (struct wlp_dmabuf){ .map = map, .size = (size_t)size };
	return 0;
}

static int loop_dmabuf_read(struct wlp_link *l, struct wlp_dmabuf *d, uint32_t width,
			    uint32_t y0, uint32_t y1, uint32_t offset, uint32_t stride)
{
	return 0;
}

static void loop_dmabuf_free(struct wlp_link *l, struct wlp_dmabuf *d)
{
	munmap((void *)d->map, d->size);
	memset(d, 0, sizeof(*d));
}

static const struct wlp_link_ops loop_ops = {
	.send = loop_send, .blob_new = loop_blob_new, .blob_map = loop_blob_map,
	.blob_free = loop_blob_free, .write = loop_write, .read_pipe = loop_read_pipe,
	.poll_fds = loop_poll_fds, .take = loop_take, .close = loop_close,
};

static const struct wlp_link_ops loop_dmabuf_ops = {
	.send = loop_send, .blob_new = loop_blob_new, .blob_map = loop_blob_map,
	.blob_free = loop_blob_free, .write = loop_write, .read_pipe = loop_read_pipe,
	.poll_fds = loop_poll_fds, .take = loop_take, .close = loop_close,
	.dmabuf_device = loop_dmabuf_device, .dmabuf_import = loop_dmabuf_import,
	.dmabuf_read = loop_dmabuf_read, .dmabuf_free = loop_dmabuf_free,
};

struct wlp_link *wlp_link_loop_open(const char *path, int *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct loop_link *ll;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		*err = -ENAMETOOLONG;
		return NULL;
	}
	strcpy(sa.sun_path, path);
	ll = calloc(1, sizeof(*ll));
	if (!ll) {
		*err = -ENOMEM;
		return NULL;
	}
	for (int i = 0; i < LOOP_MAX_ITEMS; i++)
		ll->items[i].fd = ll->items[i].peer_fd = -1;
	ll->link.ops = test_dmabuf_device ? &loop_dmabuf_ops : &loop_ops;
	ll->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ll->sock < 0 || connect(ll->sock, (struct sockaddr *)&sa, sizeof(sa))) {
		*err = -errno;
		if (ll->sock >= 0)
			close(ll->sock);
		free(ll);
		return NULL;
	}
	*err = 0;
	return &ll->link;
}
