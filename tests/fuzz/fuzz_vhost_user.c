/*
 * libFuzzer harness for the vhost-user frontend (vmm/link_vhost_user.c)
 * fed a hostile backend: the input is every byte the backend sends on the
 * main socket, queued before the frontend starts, then end of stream. The
 * frontend runs its handshake, an activation of one queue, a config write
 * and a reset against it, with short deadlines.
 *
 * Invariants: no crash, no leak (libFuzzer's), no fd left open once the
 * link is stopped, and a link that exists has at most VDEV_MAX_QUEUES
 * queues and a config no larger than VDEV_CONFIG_MAX.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "boot/guest_mem.h"
#include "vmm/link_vhost_user.h"
#include "vmm/log.h"
#include "tests/unit/open_fds.h"

#define RAM_SIZE (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem mem;
static int mem_fd = -1;

static void setup_once(void)
{
	uint8_t *host;

	if (mem_fd >= 0)
		return;
	log_set_level(LOG_ERROR);
	mem_fd = memfd_create("fuzz-ram", MFD_CLOEXEC);
	if (mem_fd < 0 || ftruncate(mem_fd, RAM_SIZE))
		abort();
	host = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd, 0);
	if (host == MAP_FAILED)
		abort();
	guest_mem_layout(&mem, host, RAM_SIZE);
}

static void drive(struct vdev_link *link)
{
	struct vdev_vring r = { 64, 0x1000, 0x2000, 0x3000 };
	uint8_t byte = 1;

	if (link->nr_queues > VDEV_MAX_QUEUES || link->config_size > VDEV_CONFIG_MAX)
		abort();
	link->ops->features_ok(link, link->features);
	link->ops->set_vring(link, 0, &r);
	link->ops->activate(link, link->features);
	link->ops->set_config(link, 0, &byte, 1);
	link->ops->reset(link);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned fds_before;
	struct vdev_link *link;
	char err[256];
	int sv[2];

	setup_once();
	fds_before = open_fds();
	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 0;
	if (size && write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	struct vhost_user_options opt = {
		.name = "fuzz0", .device_id = 2, .sock_fd = sv[0], .queue_size = 64,
		.mem = &mem, .mem_fd = mem_fd, .timeout_ms = 5,
	};
	link = vhost_user_link_create(&opt, err, sizeof(err));
	if (link) {
		drive(link);
		link->ops->stop(link);
	}
	close(sv[1]);
	if (open_fds() != fds_before)
		abort();
	return 0;
}
