/*
 * libFuzzer harness for control.socket (vmm/control.c): the input is what
 * a local client sends, byte for byte, into a connection served as the
 * main loop serves it (line splitting, the overlong-line rule, JSON, the
 * version check and dispatch) against a VM with no KVM behind it, as in
 * tests/unit/test_control.c. Every reply must be one JSON line with
 * "version" 1 and "ok"; the connection must end once the input does.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm/control.h"
#include "vmm/json.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vm_device *devices[VM_MAX_DEVICES + 1];
static struct vm vm = { .devices = devices };
static struct vm_config cfg = { .name = "fuzzvm", .cpus = 2, .memory_mib = 256 };
static struct control ctl;
static struct vm_device device;
static char replies[1 << 20];
static size_t replies_len;
static struct json_object reply;

static void setup(void)
{
	vm.cfg = &cfg;
	vm.vcpus = calloc(cfg.cpus, sizeof(*vm.vcpus));	/* none running */
	vm.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vcpu_gate_init(&vm.gate);
	for (unsigned i = 0; i < VM_MAX_WATCHES; i++)
		vm.watches[i].fd = -1;
	acpi_pm_init(&vm.pm, &vm.kvm, NULL, NULL);
	snprintf(device.name, sizeof(device.name), "blk0");
	pthread_mutex_init(&device.transport.lock, NULL);
	vm.devices[vm.nr_devices++] = &device;
	ctl = (struct control){ .listen_fd = -1, .uid = getuid(), .name = cfg.name, .vm = &vm };
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		ctl.clients[i].fd = -1;
	log_set_level(LOG_ERROR);
}

/* What the previous input's requests did to the VM is undone. */
static void reset_vm(void)
{
	vcpus_resume(&vm);
	atomic_store(&vm.exit_reason, VM_EXIT_NONE);
	vm.button_pressed = false;
}

static struct vm_watch *watch_of(int fd)
{
	for (unsigned i = 0; i < VM_MAX_WATCHES; i++)
		if (vm.watches[i].fd == fd)
			return &vm.watches[i];
	return NULL;
}

static void read_replies(int fd)
{
	ssize_t n;

	while ((n = recv(fd, replies + replies_len, sizeof(replies) - replies_len,
			 MSG_DONTWAIT)) > 0)
		replies_len += (size_t)n;
}

static void check_replies(void)
{
	size_t start = 0;
	char err[96];

	while (start < replies_len) {
		char *nl = memchr(replies + start, '\n', replies_len - start);
		int64_t version;
		bool ok;

		if (!nl)
			abort();	/* a reply is a whole line */
		if (json_parse(replies + start, (size_t)(nl - replies - start), &reply, err,
			       sizeof(err)) ||
		    !json_get_int(&reply, "version", &version) || version != 1 ||
		    !json_get_bool(&reply, "ok", &ok))
			abort();
		start = (size_t)(nl - replies) + 1;
	}
}

/* The main loop's turns for this client, until it is dropped. */
static void serve(int server, int client)
{
	for (unsigned round = 0; round < 100000; round++) {
		struct vm_watch *w = watch_of(server);
		struct pollfd p = { .fd = server, .events = w ? w->events : 0 };

		if (!w)
			return;
		if (poll(&p, 1, 0) == 1)
			w->fn(&vm, w->ctx, p.revents);
		read_replies(client);
	}
	abort();	/* the connection never ended */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];

	if (!vm.cfg)
		setup();
	if (size > 64 * 1024)
		return 0;	/* more than the socket buffer holds at once */
	reset_vm();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv))
		abort();
	control_add_client(&ctl, sv[0]);
	if (size && send(sv[1], data, size, MSG_NOSIGNAL) != (ssize_t)size)
		abort();
	shutdown(sv[1], SHUT_WR);
	replies_len = 0;
	serve(sv[0], sv[1]);
	read_replies(sv[1]);
	check_replies();
	close(sv[1]);
	return 0;
}
