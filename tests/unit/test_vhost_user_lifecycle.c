/*
 * The vhost-user link across its lifecycle: eventfds made part-way before
 * a failure are not leaked when the broken device is offered; a reattach
 * keeps the rings of a device the guest is still setting up.
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "check.h"
#include "fake_vhost_backend.h"
#include "open_fds.h"
#include "vmm/link_vhost_user.h"

#define RAM_SIZE (1u << 20)

struct ram {
	struct guest_mem mem;
	int fd;
	uint8_t *host;
};

static void ram_make(struct ram *r)
{
	r->fd = memfd_create("ram", MFD_CLOEXEC);
	CHECK(!ftruncate(r->fd, RAM_SIZE));
	r->host = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	guest_mem_layout(&r->mem, r->host, RAM_SIZE);
}

static void ram_free(struct ram *r)
{
	munmap(r->host, RAM_SIZE);
	close(r->fd);
}

static void backend_init(struct fake_backend *b, uint64_t protocol)
{
	memset(b, 0, sizeof(*b));
	b->features = (1ull << 32) | (protocol ? 1ull << 30 : 0);
	b->protocol = protocol;
	b->queues = 1;
}

static int lowest_free_fd(void)
{
	int fd = dup(0);

	close(fd);
	return fd;
}

/* Room for the watches and vring error eventfds and one queue eventfd: the
 * handshake's make_queue_fds fails part-way, the dropped socket frees
 * one slot, offer_broken makes the rest. No eventfd may leak. */
static void check_no_eventfd_leak(struct ram *r)
{
	struct fake_backend b;
	struct rlimit saved, low;
	struct vhost_user_options opt = {
		.name = "blk0", .device_id = 2, .nr_queues = 1, .mem = &r->mem, .mem_fd = r->fd,
	};
	char err[256] = "";
	struct vdev_link *link;
	unsigned before;

	backend_init(&b, 0);
	opt.sock_fd = fake_backend_start(&b);
	before = open_fds();
	CHECK(!getrlimit(RLIMIT_NOFILE, &saved));
	low = saved;
	low.rlim_cur = (rlim_t)lowest_free_fd() + 3;
	CHECK(!setrlimit(RLIMIT_NOFILE, &low));
	link = vhost_user_link_create(&opt, err, sizeof(err));
	CHECK(!setrlimit(RLIMIT_NOFILE, &saved));
	if (!link)
		fprintf(stderr, "create: %s\n", err);
	CHECK(link);
	if (link) {
		CHECK_EQ(link->ops->status(link), VDEV_LINK_NEEDS_RESET);
		link->ops->stop(link);
	}
	fake_backend_join(&b);
	CHECK_EQ(open_fds(), before - 2);	/* both ends of the socketpair are gone */
}

/* A device with its rings set but not yet activated: a new backend
 * attached meanwhile still gets them at activation. */
static void check_reattach_keeps_rings(struct ram *r)
{
	struct vdev_vring ring = { 64, 0x10000, 0x11000, 0x12000 };
	struct fake_backend first, second;
	struct vhost_user_options opt = {
		.name = "blk0", .device_id = 2, .nr_queues = 1, .mem = &r->mem, .mem_fd = r->fd,
	};
	char err[256] = "";
	struct vdev_link *link;
	int i;

	backend_init(&first, 0);
	backend_init(&second, 0);
	opt.sock_fd = fake_backend_start(&first);
	link = vhost_user_link_create(&opt, err, sizeof(err));
	CHECK(link);
	if (!link)
		return;
	CHECK_EQ(link->ops->features_ok(link, 1ull << 32), 0);
	CHECK_EQ(link->ops->set_vring(link, 0, &ring), 0);
	CHECK_EQ(vhost_user_link_reattach(link, fake_backend_start(&second)), 0);
	CHECK_EQ(link->ops->activate(link, 1ull << 32), 0);
	CHECK_EQ(link->ops->reset(link), 0);	/* GET_VRING_BASE: all before it is in */
	i = fake_find(&second, VHOST_USER_SET_VRING_NUM, 0);
	CHECK(i >= 0);
	if (i >= 0)
		CHECK_EQ(second.msgs[i].m.p.state.num, 64);
	CHECK(fake_find(&second, VHOST_USER_SET_VRING_KICK, 0) >= 0);
	link->ops->stop(link);
	fake_backend_join(&first);
	fake_backend_join(&second);
}

int main(void)
{
	struct ram r;

	ram_make(&r);
	check_no_eventfd_leak(&r);
	check_reattach_keeps_rings(&r);
	ram_free(&r);
	return check_report("test_vhost_user_lifecycle");
}
