/*
 * The agent watch against a fake vsock device on vsock.socket (which the
 * user has swapped for a link to a decoy): the
 * CONNECT handshake, WATCH, STATE messages, READY=1 and the idle power
 * button, reconnecting after a refusal, and hostile frames. The main
 * loop's watch polling is mimicked here.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "guest-agent/protocol.h"
#include "devices/vsock_device.h"
#include "vmm/activation.h"
#include "vmm/agent_watch.h"
#include "vmm/runtime_dir.h"
#include "vmm/main_loop.h"
#include "vmm/vm.h"

static struct vm vm;
static struct vm_config cfg = {
	.name = "testvm", .cpus = 1,
	.devices = &(struct config_device){ .kind = &vsock_kind, .cfg = &(struct vsock_config){ .cid = 3 } },
	.nr_devices = 1,
	.auto_shutdown = { .enable = true, .after = 60 },
};
static struct agent_watch aw;
static struct runtime_dir rd;
static int device, decoy, notify_fd;

static void pump(int timeout_ms)
{
	(void)main_loop_turn(&vm, timeout_ms);
}

/* The fake device takes the watch's next connection (it retries every 500 ms). */
static int accept_watch(void)
{
	for (int i = 0; i < 1000; i++) {
		int fd = accept4(device, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0)
			return fd;
		pump(10);
	}
	fprintf(stderr, "the agent watch did not connect\n");
	exit(1);
}

/* Reads exactly len bytes from the watch, pumping it meanwhile. */
static bool read_exact(int fd, void *buf, size_t len)
{
	size_t have = 0;

	for (int i = 0; i < 1000 && have < len; i++) {
		ssize_t n = recv(fd, (char *)buf + have, len - have, MSG_DONTWAIT);

		if (n == 0)
			return false;
		if (n > 0)
			have += (size_t)n;
		else
			pump(5);
	}
	return have == len;
}

/* True when the watch closed fd (pumping until it does). */
static bool closed_by_watch(int fd)
{
	char c;

	for (int i = 0; i < 1000; i++) {
		ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

		if (n == 0)
			return true;
		pump(5);
	}
	return false;
}

static void send_state(int fd, uint32_t running, uint32_t idle)
{
	uint8_t frame[AGENT_HEADER_SIZE + 8];
	struct agent_state st = { .running = running, .idle_seconds = idle };

	CHECK_EQ(agent_encode_state(frame, sizeof(frame), &st), sizeof(frame));
	CHECK_EQ(send(fd, frame, sizeof(frame), MSG_NOSIGNAL), (ssize_t)sizeof(frame));
	for (int i = 0; i < 10; i++)
		pump(5);
}

static enum agent_phase phase(void)
{
	struct agent_status st;

	agent_watch_status(&aw, &st);
	return st.phase;
}

/* One watch connection up to WATCH; returns the device's end. */
static int handshake(void)
{
	char line[16] = "";
	uint8_t watch[AGENT_HEADER_SIZE];
	int fd = accept_watch();

	CHECK(read_exact(fd, line, 13));
	CHECK_STR(line, "CONNECT 5000\n");
	CHECK_EQ(send(fd, "OK 1073741824\n", 14, MSG_NOSIGNAL), 14);
	CHECK(read_exact(fd, watch, sizeof(watch)));
	CHECK_EQ(agent_get_u32(watch), AGENT_MSG_WATCH);
	CHECK_EQ(agent_get_u32(watch + 4), 0);
	return fd;
}

static void expect_notification(const char *want_start)
{
	char buf[512];
	ssize_t n = recv(notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	CHECK(n > 0 && !strncmp(buf, want_start, strlen(want_start)));
	if (n <= 0 || strncmp(buf, want_start, strlen(want_start)))
		fprintf(stderr, "  notification: \"%s\", wanted \"%s...\"\n", buf, want_start);
}

/*
 * The user owns the runtime directory and swaps vsock.socket for a link to
 * a socket of someone else's (root-only here): the watch must still reach
 * only the vsock device's listener, and the decoy never hear from it.
 */
static int plant_decoy(const char *top)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char link[PATH_MAX];
	mode_t old_mask = umask(0177);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/root-only.socket", top);
	CHECK_EQ(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	umask(old_mask);
	CHECK_EQ(listen(fd, 8), 0);
	runtime_dir_file(&rd, "vsock.socket", link, sizeof(link));
	CHECK_EQ(unlink(link), 0);
	CHECK_EQ(symlink(addr.sun_path, link), 0);
	return fd;
}

static void setup(void)
{
	static char tmpl[] = "/tmp/test_agent_watch.XXXXXX";
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char path[PATH_MAX], err[256];

	CHECK(mkdtemp(tmpl) != NULL);
	cfg.runtime_dir = tmpl;
	CHECK_EQ(runtime_dir_open(&rd, &cfg, err, sizeof(err)), 0);
	vm.cfg = &cfg;
	vm.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (unsigned i = 0; i < VM_MAX_WATCHES; i++)
		vm.watches[i].fd = -1;
	acpi_pm_init(&vm.pm, &vm.kvm, NULL, NULL);

	device = runtime_dir_listen(&rd, "vsock.socket", err, sizeof(err));
	CHECK(device >= 0);
	decoy = plant_decoy(tmpl);

	runtime_dir_file(&rd, "notify", path, sizeof(path));
	memcpy(addr.sun_path, path, strlen(path) + 1);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK_EQ(bind(notify_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	setenv("NOTIFY_SOCKET", path, 1);
	notify_init();

	CHECK_EQ(agent_watch_open(&aw, &cfg, &rd, err, sizeof(err)), 0);
	agent_watch_attach(&aw, &vm);
}

int main(void)
{
	uint8_t frame[AGENT_HEADER_SIZE + 4];
	struct agent_status st;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	setup();

	/* A refused CONNECT (the agent does not listen yet): closed, retried. */
	fd = accept_watch();
	close(fd);
	CHECK_EQ(phase(), AGENT_WAITING);
	fd = accept_watch();
	CHECK_EQ(send(fd, "FAILURE\n", 8, MSG_NOSIGNAL), 8);
	CHECK(closed_by_watch(fd));
	close(fd);

	/* The agent answers: READY=1 once, the counts in the status. */
	fd = handshake();
	CHECK_EQ(phase(), AGENT_WAITING);
	send_state(fd, 2, 0);
	agent_watch_status(&aw, &st);
	CHECK_EQ(st.phase, AGENT_READY);
	CHECK_EQ(st.commands, 2);
	CHECK_EQ(st.idle_seconds, 0);
	expect_notification("READY=1");
	send_state(fd, 0, 7);
	agent_watch_status(&aw, &st);
	CHECK_EQ(st.commands, 0);
	CHECK(st.idle_seconds >= 7);
	CHECK(!vm.button_pressed);	/* 7 s is not the 60 s of after */

	/* Hostile frames: each ends the connection, which is made again. */
	agent_encode_u32(frame, sizeof(frame), AGENT_MSG_STATE, 1);	/* 4-byte STATE */
	CHECK_EQ(send(fd, frame, sizeof(frame), MSG_NOSIGNAL), (ssize_t)sizeof(frame));
	CHECK(closed_by_watch(fd));
	CHECK_EQ(phase(), AGENT_WAITING);
	close(fd);
	fd = handshake();
	agent_put_u32(frame, AGENT_MSG_STATE);
	agent_put_u32(frame + 4, 1000000);	/* longer than any frame */
	CHECK_EQ(send(fd, frame, AGENT_HEADER_SIZE, MSG_NOSIGNAL), AGENT_HEADER_SIZE);
	CHECK(closed_by_watch(fd));
	close(fd);
	fd = handshake();
	agent_put_u32(frame, AGENT_MSG_STDOUT);
	agent_put_u32(frame + 4, 4096);		/* legal, but not what a watch gets */
	CHECK_EQ(send(fd, frame, AGENT_HEADER_SIZE, MSG_NOSIGNAL), AGENT_HEADER_SIZE);
	CHECK(closed_by_watch(fd));
	close(fd);
	/*
	 * ERROR ends the watch too (the agent closes after it): a guest that
	 * keeps sending ERROR frames on one connection must not get a log
	 * line for each.
	 */
	fd = handshake();
	for (int i = 0; i < 3; i++) {
		uint8_t err_frame[AGENT_HEADER_SIZE + 6];

		agent_encode(err_frame, sizeof(err_frame), AGENT_MSG_ERROR, "no\033[2J\n", 6);
		send(fd, err_frame, sizeof(err_frame), MSG_NOSIGNAL);
	}
	CHECK(closed_by_watch(fd));
	CHECK_EQ(phase(), AGENT_WAITING);
	close(fd);
	CHECK(recv(notify_fd, frame, sizeof(frame), MSG_DONTWAIT) < 0 && errno == EAGAIN);
	CHECK(!vm.button_pressed);

	/* Idle for at least after seconds: the power button, STOPPING=1. */
	fd = handshake();
	send_state(fd, 0, 61);
	CHECK(vm.button_pressed);
	CHECK(vm.pm.status & (1u << 8));	/* PWRBTN_STS */
	expect_notification("STOPPING=1");
	CHECK_EQ(atomic_load(&vm.exit_reason), VM_EXIT_NONE);	/* the guest gets its grace */
	close(fd);

	agent_watch_close(&aw);
	CHECK(accept4(decoy, NULL, NULL, SOCK_NONBLOCK) < 0 && errno == EAGAIN);
	runtime_dir_close(&rd);
	return check_report("test_agent_watch");
}
