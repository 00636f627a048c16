/*
 * libFuzzer harness for the VMM's agent watch (vmm/agent_watch.c): the
 * input is everything the vsock device and the guest agent answer on the
 * watch's connection, the "OK <port>" line of the CONNECT handshake and
 * then frames. A fake vsock device listens on vsock.socket in a temp
 * directory; the main loop's watch calls are made here, as in
 * tests/unit/test_agent_watch.c. The watch must ask with exactly
 * "CONNECT 5000\n", answer an "OK" line with one WATCH frame, and drop
 * the connection when the input ends.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/vsock_device.h"
#include "guest-agent/protocol.h"
#include "vmm/agent_watch.h"
#include "vmm/log.h"
#include "vmm/runtime_dir.h"
#include "vmm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vm vm;
static struct vm_config cfg = {
	.name = "fuzzvm", .cpus = 1,
	.devices = &(struct config_device){ .kind = &vsock_kind, .cfg = &(struct vsock_config){ .cid = 3 } },
	.nr_devices = 1,
	.auto_shutdown = { .enable = true, .after = 60 },
};
static struct agent_watch aw;
static int device = -1;

static void setup(void)
{
	static struct runtime_dir rd;
	static char tmpl[] = "/tmp/fuzz_agent_watch.XXXXXX";
	char err[256];

	if (!mkdtemp(tmpl))
		abort();
	cfg.runtime_dir = tmpl;
	if (runtime_dir_open(&rd, &cfg, err, sizeof(err)))
		abort();
	for (unsigned i = 0; i < VM_MAX_WATCHES; i++)
		vm.watches[i].fd = -1;
	/* The vsock device's listener, made as the VMM makes it. */
	device = runtime_dir_listen(&rd, "vsock.socket", err, sizeof(err));
	if (device < 0 || agent_watch_open(&aw, &cfg, &rd, err, sizeof(err)))
		abort();
	log_set_level(LOG_ERROR);
}

static struct vm_watch *watch_of(int fd)
{
	for (unsigned i = 0; i < VM_MAX_WATCHES; i++)
		if (fd >= 0 && vm.watches[i].fd == fd)
			return &vm.watches[i];
	return NULL;
}

/* The retry timer's turn, without waiting for it: the watch connects. */
static int connect_watch(void)
{
	static const char want[] = "CONNECT 5000\n";
	char line[sizeof(want)];
	struct vm_watch *w = watch_of(aw.retry_fd);
	int fd;

	if (!w)
		abort();
	w->fn(&vm, w->ctx, POLLIN);
	fd = accept4(device, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0 || recv(fd, line, sizeof(line), 0) != (ssize_t)sizeof(want) - 1 ||
	    memcmp(line, want, sizeof(want) - 1))
		abort();
	return fd;
}

/* The main loop's turns for the watch's connection, until it drops it. */
static void serve(void)
{
	for (unsigned round = 0; round < 100000; round++) {
		struct vm_watch *w = watch_of(aw.fd);

		if (!w)
			return;
		w->fn(&vm, w->ctx, POLLIN);
	}
	abort();	/* the watch never saw the end of the input */
}

/*
 * Whether the input's first line is an "OK" the watch should take: the
 * whole input is sent at once, so the watch's first read holds it up to
 * its buffer's size.
 */
static bool accepted(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size < sizeof(aw.in) ? size : sizeof(aw.in));

	return nl && size >= 3 && !memcmp(data, "OK ", 3);
}

static void check_watch_frame(int fd, bool want)
{
	uint8_t frame[AGENT_HEADER_SIZE + 1];
	ssize_t n = recv(fd, frame, sizeof(frame), MSG_DONTWAIT);

	if (!want && n > 0)
		abort();
	if (want && (n != AGENT_HEADER_SIZE || agent_get_u32(frame) != AGENT_MSG_WATCH ||
		     agent_get_u32(frame + 4) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_status st;
	int fd;

	if (device < 0)
		setup();
	if (size > 64 * 1024)
		return 0;	/* more than the socket buffer holds at once */
	agent_watch_attach(&aw, &vm);
	fd = connect_watch();
	if (size && send(fd, data, size, MSG_NOSIGNAL) != (ssize_t)size)
		abort();
	shutdown(fd, SHUT_WR);
	serve();
	agent_watch_status(&aw, &st);
	if (aw.fd >= 0 || st.phase != AGENT_WAITING)
		abort();
	check_watch_frame(fd, accepted(data, size));
	close(fd);
	return 0;
}
