/*
 * A fake of guest-agent/wayland/virtgpu_dev.c for host tests of vmsilo-wl-test's
 * client code: no DRM, the "device" is this file, relaying to a real
 * compositor on $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY the way a cross-domain
 * host does. Blobs are memfds; a POLL arms a thread that waits for one
 * compositor message or read-pipe chunk, writes it to the channel ring as
 * RECEIVE or READ and bumps an eventfd, which stands for the DRM fd's
 * fence event. One context per process is enough for these tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "guest-agent/wayland/virtgpu_dev.h"
#include "guest-agent/wayland/virtgpu_uapi.h"

#define MAX_OBJECTS	64
#define MAX_PIPES	8

enum kind { FREE, TEMPLATE, RESOURCE, BLOB_ITEM, WRITE_PIPE_ITEM };

struct object {
	enum kind kind;
	uint32_t id;
	int fd;
	uint64_t size;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t armed_cond;
	pthread_t thread;
	bool armed, stop;
	int wl, fence_evt, wake[2];
	uint8_t *ring;
	struct object objects[MAX_OBJECTS];
	uint32_t next_item, next_res, read_pipe;
	struct { uint32_t id; int fd; } pipes[MAX_PIPES];
} host = { .lock = PTHREAD_MUTEX_INITIALIZER, .armed_cond = PTHREAD_COND_INITIALIZER };

static struct object *find(uint32_t id, enum kind kind)
{
	for (int i = 0; i < MAX_OBJECTS; i++)
		if (host.objects[i].kind == kind && host.objects[i].id == id)
			return &host.objects[i];
	return NULL;
}

static struct object *add(enum kind kind, uint32_t id, int fd, uint64_t size)
{
	for (int i = 0; i < MAX_OBJECTS; i++) {
		if (host.objects[i].kind == FREE) {
			host.objects[i] = (struct object){ kind, id, fd, size };
			return &host.objects[i];
		}
	}
	fprintf(stderr, "fake_xd: out of objects\n");
	abort();
}

/* Each fd the compositor sent, as the identifier a RECEIVE carries. */
static void classify(int fd, struct cross_domain_send_receive *r)
{
	uint32_t i = r->num_identifiers++;
	struct stat st;

	fstat(fd, &st);
	r->identifiers[i] = host.next_item++;
	if (S_ISFIFO(st.st_mode)) {
		r->identifier_types[i] = CROSS_DOMAIN_ID_TYPE_WRITE_PIPE;
		add(WRITE_PIPE_ITEM, r->identifiers[i], fd, 0);
	} else {
		r->identifier_types[i] = CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB;
		r->identifier_sizes[i] = (uint32_t)lseek(fd, 0, SEEK_END);
		add(BLOB_ITEM, r->identifiers[i], fd, r->identifier_sizes[i]);
	}
}

static void relay_receive(void)
{
	struct cross_domain_send_receive r = { .hdr.cmd = CROSS_DOMAIN_CMD_RECEIVE };
	char control[CMSG_SPACE(sizeof(int) * CROSS_DOMAIN_MAX_IDENTIFIERS)];
	struct iovec iov = { host.ring + sizeof(r), CROSS_DOMAIN_RECEIVE_MAX_DATA };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	ssize_t n = recvmsg(host.wl, &mh, MSG_CMSG_CLOEXEC);

	if (n <= 0) {
		fprintf(stderr, "fake_xd: compositor connection ended\n");
		exit(2);
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int *fds = (int *)CMSG_DATA(c);
		size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < nfds; i++)
			classify(fds[i], &r);
	}
	r.opaque_data_size = (uint32_t)n;
	memcpy(host.ring, &r, sizeof(r));
}

static void relay_read(int slot)
{
	struct cross_domain_read_write r = {
		.hdr.cmd = CROSS_DOMAIN_CMD_READ, .identifier = host.pipes[slot].id,
	};
	ssize_t n = read(host.pipes[slot].fd, host.ring + sizeof(r), CROSS_DOMAIN_READ_MAX_DATA);

	if (n <= 0) {
		n = 0;
		r.hang_up = 1;
		close(host.pipes[slot].fd);
		host.pipes[slot].fd = -1;
	}
	r.opaque_data_size = (uint32_t)n;
	memcpy(host.ring, &r, sizeof(r));
}

/* One message per armed POLL, as cross-domain's worker does. */
static void *worker(void *arg)
{
	pthread_mutex_lock(&host.lock);
	while (!host.stop) {
		struct pollfd p[2 + MAX_PIPES] = {
			{ .fd = host.wl, .events = POLLIN }, { .fd = host.wake[0], .events = POLLIN },
		};
		uint64_t one = 1;

		if (!host.armed) {
			pthread_cond_wait(&host.armed_cond, &host.lock);
			continue;
		}
		for (int i = 0; i < MAX_PIPES; i++)
			p[2 + i] = (struct pollfd){ .fd = host.pipes[i].fd, .events = POLLIN };
		pthread_mutex_unlock(&host.lock);
		poll(p, 2 + MAX_PIPES, -1);
		pthread_mutex_lock(&host.lock);
		if (p[1].revents) {
			char c;

			if (read(host.wake[0], &c, 1) < 0)
				abort();
			continue;
		}
		if (p[0].revents) {
			relay_receive();
		} else {
			int slot = 0;

			while (slot < MAX_PIPES && !p[2 + slot].revents)
				slot++;
			if (slot == MAX_PIPES)
				continue;
			relay_read(slot);
		}
		host.armed = false;
		if (write(host.fence_evt, &one, sizeof(one)) < 0)
			abort();
	}
	pthread_mutex_unlock(&host.lock);
	return arg;
}

static void wake_worker(void)
{
	if (write(host.wake[1], "w", 1) < 0)
		abort();
}

static int connect_compositor(void)
{
	const char *dir = getenv("XDG_RUNTIME_DIR"), *name = getenv("WAYLAND_DISPLAY");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (!dir || !name || fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

int xd_open(struct xd *x, const char *path, unsigned init_size)
{
	memset(x, 0, sizeof(*x));
	x->last_read_pipe = CROSS_DOMAIN_PIPE_READ_START;
	host.wl = connect_compositor();
	host.fence_evt = eventfd(0, EFD_CLOEXEC);
	host.ring = mmap(NULL, CROSS_DOMAIN_RING_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	host.next_item = CROSS_DOMAIN_ITEM_ID_START + 1;
	host.next_res = 1;
	host.read_pipe = CROSS_DOMAIN_PIPE_READ_START;
	for (int i = 0; i < MAX_PIPES; i++)
		host.pipes[i].fd = -1;
	x->fd = host.fence_evt;
	x->query.map = host.ring;
	x->channel = &x->query;
	if (host.wl < 0 || host.fence_evt < 0 || host.ring == MAP_FAILED ||
	    pipe2(host.wake, O_CLOEXEC) || pthread_create(&host.thread, NULL, worker, NULL)) {
		fprintf(stderr, "fake_xd: no compositor or no resources\n");
		return WLT_DRM;
	}
	return WLT_OK;
}

void xd_close(struct xd *x)
{
	pthread_mutex_lock(&host.lock);
	host.stop = true;
	pthread_cond_signal(&host.armed_cond);
	pthread_mutex_unlock(&host.lock);
	wake_worker();
	pthread_join(host.thread, NULL);
	close(host.wl);
	close(host.fence_evt);
	x->fd = -1;
}

int xd_poll(struct xd *x)
{
	pthread_mutex_lock(&host.lock);
	host.armed = true;
	pthread_cond_signal(&host.armed_cond);
	pthread_mutex_unlock(&host.lock);
	x->polling = true;
	return 0;
}

int xd_read_fences(struct xd *x)
{
	uint64_t n;

	if (read(host.fence_evt, &n, sizeof(n)) != sizeof(n))
		return -errno;
	x->polling = false;
	return (int)n;
}

int xd_image_req(struct xd *x, uint32_t width, uint32_t height, uint32_t drm_format,
		 uint32_t flags, struct cross_domain_image_requirements *reply)
{
	uint32_t stride = (width * 4 + 63) & ~63u;

	memset(reply, 0, sizeof(*reply));
	reply->strides[0] = stride;
	reply->size = ((uint64_t)stride * height + VGPU_PAGE - 1) & ~(uint64_t)(VGPU_PAGE - 1);
	reply->blob_id = host.next_item++;
	reply->map_info = CROSS_DOMAIN_MAP_CACHE_CACHED;
	reply->memory_idx = reply->physical_device_idx = -1;
	add(TEMPLATE, reply->blob_id, -1, reply->size);
	return 0;
}

/* The fd a SEND identifier stands for, or -1. */
static int send_fd(const struct cd_item *item, struct xd *x)
{
	int p[2];

	if (item->type == CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB) {
		struct object *o = find(item->id, RESOURCE);

		return o ? o->fd : -1;
	}
	if (item->type != CROSS_DOMAIN_ID_TYPE_READ_PIPE || item->id != ++host.read_pipe ||
	    pipe2(p, O_CLOEXEC))
		return -1;
	for (int i = 0; i < MAX_PIPES; i++) {
		if (host.pipes[i].fd < 0) {
			host.pipes[i].id = item->id;
			host.pipes[i].fd = p[0];
			wake_worker();
			return p[1];
		}
	}
	return -1;
}

int xd_send(struct xd *x, const void *data, uint32_t len, const struct cd_item *items,
	    uint32_t n_items)
{
	char control[CMSG_SPACE(sizeof(int) * CROSS_DOMAIN_MAX_IDENTIFIERS)] = { 0 };
	struct iovec iov = { (void *)data, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[CROSS_DOMAIN_MAX_IDENTIFIERS];
	ssize_t n;

	pthread_mutex_lock(&host.lock);
	for (uint32_t i = 0; i < n_items; i++) {
		fds[i] = send_fd(&items[i], x);
		if (fds[i] < 0) {
			pthread_mutex_unlock(&host.lock);
			return -EINVAL;
		}
	}
	pthread_mutex_unlock(&host.lock);
	if (n_items) {
		struct cmsghdr *c;

		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_items);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_items);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_items);
	}
	n = sendmsg(host.wl, &mh, MSG_NOSIGNAL);
	for (uint32_t i = 0; i < n_items; i++)
		if (items[i].type == CROSS_DOMAIN_ID_TYPE_READ_PIPE)
			close(fds[i]);
	return n == (ssize_t)len ? 0 : -EIO;
}

int xd_write(struct xd *x, uint32_t id, bool hang_up, const void *data, uint32_t len)
{
	struct object *o;
	int rc = 0;

	pthread_mutex_lock(&host.lock);
	o = find(id, WRITE_PIPE_ITEM);
	if (!o)
		rc = -ENOENT;
	else if (len && write(o->fd, data, len) != (ssize_t)len)
		rc = -EIO;
	if (o && hang_up) {
		close(o->fd);
		o->kind = FREE;
	}
	pthread_mutex_unlock(&host.lock);
	return rc;
}

uint32_t xd_next_read_pipe(struct xd *x)
{
	return ++x->last_read_pipe;
}

/* HOST3D from a template (a new memfd) or from a blob item (its fd). */
int vgpu_create_blob(int fd, uint32_t mem, uint32_t flags, uint64_t blob_id, uint64_t size,
		     struct vgpu_bo *bo)
{
	struct object *o;
	int rc = 0;

	memset(bo, 0, sizeof(*bo));
	pthread_mutex_lock(&host.lock);
	if ((o = find((uint32_t)blob_id, TEMPLATE)) && o->size == size) {
		int memfd = memfd_create("fake-blob", MFD_CLOEXEC);

		if (memfd < 0 || ftruncate(memfd, (off_t)size))
			rc = -ENOMEM;
		else
			o = add(RESOURCE, host.next_res++, memfd, size);
	} else if ((o = find((uint32_t)blob_id, BLOB_ITEM)) && o->size <= size) {
		o->kind = RESOURCE;
		o->id = host.next_res++;
	} else {
		rc = -EINVAL;
	}
	if (rc == 0)
		bo->bo = bo->res = o->id;
	pthread_mutex_unlock(&host.lock);
	return rc;
}

int vgpu_map_bo(int fd, struct vgpu_bo *bo, size_t size, int prot)
{
	struct object *o = find(bo->res, RESOURCE);
	void *p = o ? mmap(NULL, size, prot, MAP_SHARED, o->fd, 0) : MAP_FAILED;

	if (p == MAP_FAILED)
		return -EINVAL;
	bo->map = p;
	bo->map_size = size;
	return 0;
}

int vgpu_resource_info(int fd, uint32_t bo, uint32_t *res, uint32_t *size)
{
	struct object *o = find(bo, RESOURCE);

	if (!o)
		return -ENOENT;
	*res = o->id;
	*size = (uint32_t)o->size;
	return 0;
}

void vgpu_free_bo(int fd, struct vgpu_bo *bo)
{
	if (bo->map)
		munmap(bo->map, bo->map_size);
	memset(bo, 0, sizeof(*bo));
}
