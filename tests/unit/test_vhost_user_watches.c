/*
 * The vhost-user link under the real main loop: backend 1 dies, a reset
 * (as on a vCPU) reconnects to backend 2, and the main loop follows the
 * new fds without serving one of the old ones first: backend 2's
 * CONFIG_CHANGE_MSG is served and its hang-up noticed.
 */
#include <errno.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/un.h>

#include "check.h"
#include "fake_vhost_backend.h"
#include "vmm/link_vhost_user.h"
#include "vmm/main_loop.h"
#include "vmm/vm.h"
#include "vmm/vm_device.h"

#define RAM_SIZE (2u << 20)

static struct fake_backend backends[2];
static int listener;
static int config_changes;

static void *accept_two(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2; i++) {
		struct fake_backend *b = &backends[i];

		b->features = (1ull << 32) | (1ull << 30);
		b->protocol = (1ull << 3) | (1ull << 5) | (1ull << 9) | (1ull << 13);
		b->sock = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		pthread_mutex_init(&b->lock, NULL);
		pthread_create(&b->thread, NULL, fake_backend_main, b);
	}
	return NULL;
}

static void on_reset(void *ctx, const char *why)
{
	(void)ctx;
	(void)why;
}

static int on_config(void *ctx, unsigned off, const void *bytes, unsigned len)
{
	(void)ctx;
	(void)off;
	(void)len;
	config_changes += ((const uint8_t *)bytes)[0] == 0x77;
	return 0;
}

static const struct vdev_link_events events = { .config_changed = on_config,
						 .needs_reset = on_reset };

static int channel_of(struct fake_backend *b)
{
	int i = fake_find(b, VHOST_USER_SET_BACKEND_REQ_FD, 0);

	return i < 0 ? -1 : b->msgs[i].fds[0];
}

static void turns(struct vm *vm, int n)
{
	for (int i = 0; i < n; i++)
		main_loop_turn(vm, 100);
}

int main(void)
{
	static struct vm vm;
	static struct vm_device d;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct vhost_user_msg m;
	struct guest_mem mem;
	char err[256] = "";
	int memfd = memfd_create("ram", MFD_CLOEXEC);
	struct vdev_link *link;
	pthread_t acceptor;

	for (unsigned i = 0; i < VM_MAX_WATCHES; i++)
		vm.watches[i].fd = -1;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/tmp/vmsilo-vu-watches-%d.sock", getpid());
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(!bind(listener, (struct sockaddr *)&addr, sizeof(addr)));
	CHECK(!listen(listener, 4));
	pthread_create(&acceptor, NULL, accept_two, NULL);
	CHECK(!ftruncate(memfd, RAM_SIZE));
	guest_mem_layout(&mem, mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0),
			 RAM_SIZE);
	struct vhost_user_options opt = {
		.name = "vu0", .device_id = 2, .sock_fd = -1, .socket_path = addr.sun_path,
		.queue_size = 128, .mem = &mem, .mem_fd = memfd, .timeout_ms = 1000,
	};
	link = vhost_user_link_create(&opt, err, sizeof(err));
	CHECK(link);
	if (!link) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	vdev_link_subscribe(link, &events, NULL);
	d.link = link;
	CHECK_EQ(vm_device_watch(&vm, &d), 0);

	shutdown(backends[0].sock, SHUT_RDWR);	/* backend 1 dies */
	close(channel_of(&backends[0]));
	turns(&vm, 3);
	CHECK_EQ(link->ops->status(link), VDEV_LINK_NEEDS_RESET);
	CHECK_EQ(link->ops->reset(link), 0);	/* reconnects to backend 2 */
	pthread_join(acceptor, NULL);
	CHECK_EQ(link->ops->status(link), VDEV_LINK_RUNNING);
	turns(&vm, 2);	/* the main loop re-reads the watches */

	pthread_mutex_lock(&backends[1].lock);
	memset(backends[1].config, 0x77, sizeof(backends[1].config));
	pthread_mutex_unlock(&backends[1].lock);
	vhost_user_msg_empty(&m, VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, 0);
	CHECK_EQ(vhost_user_send(channel_of(&backends[1]), &m, sizeof(m.hdr), NULL, 0, 1000), 0);
	for (int i = 0; i < 20 && !config_changes; i++)
		turns(&vm, 1);
	CHECK_EQ(config_changes, 1);

	shutdown(backends[1].sock, SHUT_RDWR);	/* backend 2 hangs up */
	for (int i = 0; i < 20 && link->ops->status(link) == VDEV_LINK_RUNNING; i++)
		turns(&vm, 1);
	CHECK_EQ(link->ops->status(link), VDEV_LINK_NEEDS_RESET);
	unlink(addr.sun_path);
	vm_device_stop(&vm, &d);	/* unwatches and stops the link */
	for (int i = 0; i < 2; i++)
		fake_backend_join(&backends[i]);
	close(listener);
	close(memfd);
	return check_report("test_vhost_user_watches");
}
