/*
 * The control socket against real clients on its Unix socket, with a VM
 * that has no KVM behind it: requests, replies, hostile input, the peer
 * check and the limits. The main loop's watch polling is mimicked here.
 */
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "log_capture.h"
#include "devices/balloon.h"
#include "vmm/balloon_ctl_impl.h"
#include "vmm/control.h"
#include "vmm/json.h"
#include "vmm/log.h"
#include "vmm/runtime_dir.h"
#include "vmm/vcpu.h"
#include "vmm/main_loop.h"
#include "vmm/vm.h"

static struct vm_device *devices[VM_MAX_DEVICES + 1];
static struct vm vm = { .devices = devices };
static struct vm_config cfg = { .name = "testvm", .cpus = 2, .memory_mib = 256 };
static struct control ctl;
static struct runtime_dir rd;
static char sock_path[PATH_MAX];

/* One round of the main loop's watch handling. */
static void pump(int timeout_ms)
{
	(void)main_loop_turn(&vm, timeout_ms);
}

static int client(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(addr.sun_path, sock_path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("connect");
		exit(1);
	}
	return fd;
}

static void send_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n <= 0) {
			perror("send");
			exit(1);
		}
		s += n;
		len -= (size_t)n;
	}
}

/* Reads one reply line (pumping the server meanwhile); "" on EOF. */
static char *read_line(int fd)
{
	static char buf[8192];
	static size_t have;
	static int owner = -1;
	char *nl;
	static char line[8192];

	if (owner != fd)
		have = 0, owner = fd;
	for (int round = 0; round < 2000; round++) {
		nl = memchr(buf, '\n', have);
		if (nl) {
			size_t len = (size_t)(nl - buf) + 1;

			memcpy(line, buf, len);
			line[len] = '\0';
			memmove(buf, buf + len, have - len);
			have -= len;
			return line;
		}
		pump(5);
		ssize_t n = recv(fd, buf + have, sizeof(buf) - have, MSG_DONTWAIT);

		if (n == 0)
			return "";
		if (n > 0)
			have += (size_t)n;
	}
	fprintf(stderr, "no reply\n");
	exit(1);
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

static char *ask(int fd, const char *request)
{
	send_str(fd, request);
	return read_line(fd);
}

static struct json_object reply;

/* Parses a reply and checks its frame; returns "ok". */
static bool parse_reply(const char *line)
{
	int64_t version = 0;
	bool ok = false;
	char err[96];

	CHECK_EQ(json_parse(line, strlen(line), &reply, err, sizeof(err)), 0);
	CHECK(json_get_int(&reply, "version", &version));
	CHECK_EQ(version, 1);
	CHECK(json_get_bool(&reply, "ok", &ok));
	return ok;
}

static void expect_error(int fd, const char *request, const char *error_start)
{
	char *line = ask(fd, request);
	const char *error;

	CHECK(!parse_reply(line));
	error = json_get_string(&reply, "error");
	CHECK(error && !strncmp(error, error_start, strlen(error_start)));
	if (!error || strncmp(error, error_start, strlen(error_start)))
		fprintf(stderr, "  request %s  reply %s", request, line);
}

/* A link that only answers the status command's questions. */
struct fake_link {
	struct vdev_link link;
	pid_t pid;
	bool dead;
};

static enum vdev_link_status fake_status(struct vdev_link *link)
{
	return ((struct fake_link *)link->priv)->dead ? VDEV_LINK_DEAD : VDEV_LINK_RUNNING;
}

static pid_t fake_pid(struct vdev_link *link)
{
	return ((struct fake_link *)link->priv)->pid;
}

static const struct vdev_link_ops fake_link_ops = { .status = fake_status, .pid = fake_pid };

static struct vm_device *fake_device(const char *name, pid_t pid, bool dead, uint8_t status)
{
	struct vm_device *d = calloc(1, sizeof(*d));
	struct fake_link *fl = calloc(1, sizeof(*fl));

	*fl = (struct fake_link){ .link = { .ops = &fake_link_ops, .priv = fl }, .pid = pid,
				  .dead = dead };
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->link = &fl->link;
	pthread_mutex_init(&d->transport.lock, NULL);
	d->transport.status = status;
	vm.devices[vm.nr_devices++] = d;
	return d;
}

static void setup(void)
{
	char tmpl[] = "/tmp/test_control.XXXXXX", err[256];

	CHECK(mkdtemp(tmpl) != NULL);
	chmod(tmpl, 0755);	/* test_peer_check's other user gets through */
	cfg.runtime_dir = tmpl;
	CHECK_EQ(runtime_dir_open(&rd, &cfg, err, sizeof(err)), 0);
	cfg.runtime_dir = NULL;
	vm.cfg = &cfg;
	vm.vcpus = calloc(cfg.cpus, sizeof(*vm.vcpus));	/* none running */
	vm.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vcpu_gate_init(&vm.gate);
	for (unsigned i = 0; i < VM_MAX_WATCHES; i++)
		vm.watches[i].fd = -1;
	acpi_pm_init(&vm.pm, &vm.kvm, NULL, NULL);
	fake_device("blk0", 4242, false, 0x0f);
	fake_device("rng0", 4243, true, 0x0f);
	fake_device("blk1", 4244, false, 0x4f);
	CHECK_EQ(control_open(&ctl, &rd, cfg.name, NULL, err, sizeof(err)), 0);
	CHECK_EQ(runtime_dir_file(&rd, "control.socket", sock_path, sizeof(sock_path)), 0);
	control_attach(&ctl, &vm);
}

static void test_status(void)
{
	int fd = client();
	const char *line = ask(fd, "{\"version\":1,\"command\":\"status\"}\n");
	int64_t n;

	CHECK(parse_reply(line));
	CHECK_STR(json_get_string(&reply, "name"), "testvm");
	CHECK_STR(json_get_string(&reply, "state"), "running");
	CHECK(json_get_int(&reply, "vcpus", &n) && n == 2);
	CHECK(json_get_int(&reply, "memory", &n) && n == 256);
	CHECK(json_get_int(&reply, "pid", &n) && n == getpid());
	CHECK(json_get_int(&reply, "uptime", &n) && n >= 0);
	CHECK_STR(json_get_string(&reply, "agent"), "absent");
	CHECK(strstr(line, "\"devices\":[{\"name\":\"blk0\",\"pid\":4242,\"state\":\"running\"},"
		      "{\"name\":\"rng0\",\"pid\":4243,\"state\":\"dead\"},"
		      "{\"name\":\"blk1\",\"pid\":4244,\"state\":\"needs-reset\"}]") != NULL);
	close(fd);
}

static void test_pause_resume(void)
{
	int fd = client();

	CHECK(parse_reply(ask(fd, "{\"version\":1,\"command\":\"pause\"}\n")));
	CHECK_STR(json_get_string(&reply, "state"), "paused");
	CHECK(vcpus_paused(&vm));
	CHECK(parse_reply(ask(fd, "{\"command\":\"status\",\"version\":1}\n")));
	CHECK_STR(json_get_string(&reply, "state"), "paused");
	CHECK(parse_reply(ask(fd, "{\"version\":1,\"command\":\"pause\"}\n")));	/* again: harmless */
	CHECK(parse_reply(ask(fd, "{\"version\":1,\"command\":\"resume\"}\n")));
	CHECK_STR(json_get_string(&reply, "state"), "running");
	CHECK(!vcpus_paused(&vm));
	CHECK(parse_reply(ask(fd, "{\"version\":1,\"command\":\"resume\"}\n")));
	close(fd);
}

static void test_bad_requests(void)
{
	int fd = client();
	char big[3 * JSON_MAX_LINE];

	expect_error(fd, "garbage\n", "malformed request: at byte 0:");
	expect_error(fd, "\n", "malformed request");
	expect_error(fd, "{\"version\":1,\"command\":\"status\"} trailing\n", "malformed request");
	expect_error(fd, "{\"version\":1,\"command\":\"status\"\n", "malformed request");
	expect_error(fd, "{}\n", "missing \"version\"");
	expect_error(fd, "{\"version\":\"1\",\"command\":\"status\"}\n", "missing \"version\"");
	expect_error(fd, "{\"version\":2,\"command\":\"status\"}\n", "unsupported version 2");
	expect_error(fd, "{\"version\":1}\n", "missing \"command\"");
	expect_error(fd, "{\"version\":1,\"command\":7}\n", "missing \"command\"");
	expect_error(fd, "{\"version\":1,\"command\":\"reboot\"}\n", "unknown command \"reboot\"");
	expect_error(fd, "{\"version\":1,\"command\":\"st\\u0000\"}\n", "malformed request");
	expect_error(fd, "{\"version\":1,\"command\":{\"x\":1}}\n", "missing \"command\"");
	/* A line longer than the limit: one error, then the next line is served. */
	memset(big, 'x', sizeof(big));
	send_all(fd, big, sizeof(big));
	CHECK(!parse_reply(read_line(fd)));
	CHECK(strstr(json_get_string(&reply, "error"), "request longer than 4096 bytes") != NULL);
	/* The newline ends the long line; the status after it is answered. */
	CHECK(parse_reply(ask(fd, "\n{\"version\":1,\"command\":\"status\"}\n")));
	CHECK_STR(json_get_string(&reply, "state"), "running");
	CHECK_EQ(atomic_load(&vm.exit_reason), VM_EXIT_NONE);
	close(fd);
}

/* Several requests in one write, a request split across writes, and a
 * last request without its newline before the client stops sending. */
static void test_framing(void)
{
	int fd = client();
	char *line;

	send_str(fd, "{\"version\":1,\"command\":\"status\"}\n{\"version\":1,\"command\":\"x\"}\n"
		     "{\"version\":1,\"command\":\"resume\"}\n");
	CHECK(parse_reply(read_line(fd)));
	CHECK(json_get_string(&reply, "name") != NULL);
	CHECK(!parse_reply(read_line(fd)));
	CHECK(parse_reply(read_line(fd)));
	send_str(fd, "{\"version\":1,");
	pump(5);
	pump(5);
	send_str(fd, "\"command\":\"status\"}\n");
	CHECK(parse_reply(read_line(fd)));
	send_str(fd, "{\"version\":1,\"command\":\"status\"}");
	shutdown(fd, SHUT_WR);
	CHECK(parse_reply(read_line(fd)));
	line = read_line(fd);
	CHECK_STR(line, "");	/* then the server closes */
	close(fd);
}

/* Random bytes never crash the server or stop the VM. */
static void test_noise(void)
{
	int fd = client();
	unsigned seed = 99;
	char buf[512];

	for (int i = 0; i < 300; i++) {
		size_t len = 1 + (size_t)(i * 7) % (sizeof(buf) - 1);

		for (size_t k = 0; k < len; k++) {
			seed = seed * 1103515245 + 12345;
			buf[k] = (char)(seed >> 16);
			if (buf[k] == '\n')
				buf[k] = ' ';
		}
		buf[len - 1] = '\n';
		send_all(fd, buf, len);
		CHECK(!parse_reply(read_line(fd)));
	}
	CHECK_EQ(atomic_load(&vm.exit_reason), VM_EXIT_NONE);
	close(fd);
}

static void test_client_limit(void)
{
	int fds[CONTROL_MAX_CLIENTS + 1];

	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		fds[i] = client();
		CHECK(parse_reply(ask(fds[i], "{\"version\":1,\"command\":\"status\"}\n")));
	}
	fds[CONTROL_MAX_CLIENTS] = client();
	CHECK(!parse_reply(read_line(fds[CONTROL_MAX_CLIENTS])));
	CHECK_STR(json_get_string(&reply, "error"), "too many control connections (at most 16)");
	CHECK_STR(read_line(fds[CONTROL_MAX_CLIENTS]), "");
	for (int i = 0; i <= CONTROL_MAX_CLIENTS; i++)
		close(fds[i]);
	for (int i = 0; i < 20; i++)
		pump(5);	/* the server notices the closes */
	fds[0] = client();
	CHECK(parse_reply(ask(fds[0], "{\"version\":1,\"command\":\"status\"}\n")));
	close(fds[0]);
}

/* Another uid is refused with one line. As root the client drops to
 * nobody; otherwise the server is told to allow some other uid. */
static void test_peer_check(void)
{
	const uid_t nobody = 65534;
	uid_t refused = getuid() == 0 ? nobody : getuid();
	char want[128];
	int fd, status = 0;
	pid_t pid;

	if (getuid() != 0)
		ctl.uid = getuid() + 1;
	chmod(rd.path, 0755);
	chmod(sock_path, 0666);
	snprintf(want, sizeof(want), "permission denied: uid %u is not allowed to control VM testvm",
		 (unsigned)refused);
	pid = fork();
	if (pid == 0) {
		if (getuid() == 0 && setresuid(nobody, nobody, nobody))
			_exit(2);
		/* The server refuses at once, maybe before a request could be
		 * sent, so the child only reads; it must not pump: the watches
		 * it inherited are the parent's. */
		char line[512] = "";
		size_t have = 0;
		ssize_t n;

		alarm(10);
		fd = client();
		(void)!send(fd, "{\"version\":1,\"command\":\"stop\"}\n", 32, MSG_NOSIGNAL);
		while ((n = read(fd, line + have, sizeof(line) - 1 - have)) > 0)
			have += (size_t)n;
		line[have] = '\0';
		if (parse_reply(line) || !json_get_string(&reply, "error") ||
		    strcmp(json_get_string(&reply, "error"), want) || !strchr(line, '\n') ||
		    strchr(line, '\n')[1] != '\0')
			_exit(1);
		_exit(0);
	}
	while (waitpid(pid, &status, WNOHANG) == 0)
		pump(10);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(atomic_load(&vm.exit_reason), VM_EXIT_NONE);
	ctl.uid = getuid();
}

static void test_powerbutton_and_stop(void)
{
	int fd = client();
	uint64_t wake = 0;

	CHECK(parse_reply(ask(fd, "{\"version\":1,\"command\":\"pause\"}\n")));
	CHECK(parse_reply(ask(fd, "{\"version\":1,\"command\":\"powerbutton\"}\n")));
	CHECK_STR(json_get_string(&reply, "state"), "stopping");
	CHECK(vm.pm.status & (1u << 8));	/* PWRBTN_STS */
	CHECK(!vcpus_paused(&vm));		/* a paused guest would not hear it */
	expect_error(fd, "{\"version\":1,\"command\":\"pause\"}\n", "the VM is stopping");
	CHECK_EQ(atomic_load(&vm.exit_reason), VM_EXIT_NONE);
	CHECK(parse_reply(ask(fd, "{\"version\":1,\"command\":\"stop\"}\n")));
	CHECK_STR(json_get_string(&reply, "state"), "stopping");
	CHECK_EQ(atomic_load(&vm.exit_reason), VM_EXIT_STOPPED);
	CHECK_EQ(read(vm.wake_fd, &wake, sizeof(wake)), sizeof(wake));
	close(fd);
}

/* A client pressing the power button in a loop leaves a bounded number of log lines. */
static void test_powerbutton_flood(void)
{
	enum { PRESSES = 300 };
	int fd = client();
	struct log_capture cap;
	struct timespec start, end;
	unsigned lines, bound;
	char *text;

	log_set_level(LOG_INFO);
	log_capture_begin(&cap);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (unsigned i = 0; i < PRESSES; i++)
		CHECK(parse_reply(ask(fd, "{\"version\":1,\"command\":\"powerbutton\"}\n")));
	clock_gettime(CLOCK_MONOTONIC, &end);
	text = log_capture_end(&cap);
	log_set_level(LOG_WARN);
	lines = log_count_lines(text, "power button");
	/* the first press, the burst, one a second after it */
	bound = 1 + LOG_RATELIMIT_BURST + 1 + (unsigned)(end.tv_sec - start.tv_sec);
	CHECK(lines >= 1);
	CHECK(lines <= bound);
	if (lines > bound)
		fprintf(stderr, "%d presses gave %u log lines (at most %u allowed)\n", PRESSES,
			lines, bound);
	free(text);
	close(fd);
}

/*
 * A fake balloon device: records posted commands; the test plays its
 * events. Its synchronous command op must never be used: the main loop
 * would wait for the device.
 */
static struct balloon_cmd last_cmd;
static unsigned sync_commands;

static int fake_post(struct vdev_link *link, const void *msg, unsigned len)
{
	(void)link;
	return balloon_dec_cmd(msg, len, &last_cmd);
}

static int fake_sync_command(struct vdev_link *link, const void *req, unsigned len, void *out,
			     unsigned *reply_len)
{
	(void)link, (void)req, (void)len, (void)out;
	*reply_len = 0;
	sync_commands++;
	return -EIO;
}

static const struct vdev_link_ops fake_balloon_ops = {
	.command = fake_sync_command, .post = fake_post,
};
static struct vdev_link fake_balloon_link = { .ops = &fake_balloon_ops, .name = "balloon0" };

static void on_balloon_timer(struct vm *v, void *ctx, short revents)
{
	(void)v;
	(void)revents;
	balloon_ctl_tick(ctx);
}

static void device_sends(uint32_t kind, uint32_t arg, uint64_t free_bytes)
{
	struct balloon_event_msg e = { .kind = htole32(kind), .arg = htole32(arg) };

	e.values[BALLOON_FREE_MEMORY] = htole64(free_bytes);
	balloon_ctl_event(vm.balloon, &e, kind == BALLOON_EV_STATS ? sizeof(e) : BALLOON_EVENT_HDR);
}

static int64_t reply_int(const char *key)
{
	int64_t v = -1;

	CHECK(json_get_int(&reply, key, &v));
	return v;
}

/* Has the client got a line within a few rounds? (Replies that must wait.) */
static bool nothing_yet(int fd)
{
	char c;

	for (int i = 0; i < 5; i++)
		pump(1);
	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0;
}

static void test_balloon_commands(void)
{
	int fd = client(), sub;
	bool stale = false;
	char *line;

	expect_error(fd, "{\"version\":1,\"command\":\"balloon\",\"bytes\":0}\n",
		     "this VM has no balloon");
	vm.balloon = balloon_ctl_create(256 * MIB, 0, &fake_balloon_link);
	CHECK(vm.balloon != NULL);
	CHECK_EQ(vm_watch(&vm, balloon_ctl_timer_fd(vm.balloon), POLLIN, on_balloon_timer,
			  vm.balloon), 0);

	/* Set without waiting: the device is told in pages. */
	CHECK(parse_reply(ask(fd, "{\"version\":1,\"command\":\"balloon\",\"bytes\":1048576}\n")));
	CHECK_EQ(reply_int("bytes"), 1048576);
	CHECK_EQ(last_cmd.op, BALLOON_CMD_SET_TARGET);
	CHECK_EQ(last_cmd.pages, 256);
	expect_error(fd, "{\"version\":1,\"command\":\"balloon\",\"bytes\":999999999999}\n",
		     "balloon: 999999999999 bytes is more than guest RAM");
	expect_error(fd, "{\"version\":1,\"command\":\"balloon\"}\n", "balloon needs \"bytes\"");
	expect_error(fd, "{\"version\":1,\"command\":\"balloon\",\"bytes\":0,\"wait\":-1}\n",
		     "\"wait\" is seconds");

	/* With wait: the reply comes when the guest gets there, and the
	 * client's next request waits behind it. */
	sub = client();
	CHECK(parse_reply(ask(sub, "{\"version\":1,\"command\":\"subscribe\",\"events\":\"balloon\"}\n")));
	send_str(fd, "{\"version\":1,\"command\":\"balloon\",\"bytes\":2097152,\"wait\":30}\n"
		     "{\"version\":1,\"command\":\"status\"}\n");
	CHECK(nothing_yet(fd));
	device_sends(BALLOON_EV_ACTUAL, 300, 0);		/* not there yet */
	CHECK(nothing_yet(fd));
	device_sends(BALLOON_EV_ACTUAL, 512, 0);
	CHECK(parse_reply(read_line(fd)));
	CHECK_EQ(reply_int("balloon_actual"), 2097152);
	CHECK(parse_reply(read_line(fd)));
	CHECK_STR(json_get_string(&reply, "name"), "testvm");	/* then the status */
	line = read_line(sub);
	CHECK(strstr(line, "\"event\":\"balloon_target_reached\",\"balloon_actual\":2097152") != NULL);
	device_sends(BALLOON_EV_DEFLATED_ON_OOM, 100, 0);
	CHECK(strstr(read_line(sub), "\"event\":\"balloon_deflated_on_oom\"") != NULL);

	/* A guest that never answers: the timeout gives stale (here: no) stats. */
	CHECK(parse_reply(ask(fd, "{\"version\":1,\"command\":\"balloon_stats\",\"timeout\":0}\n")));
	CHECK(json_get_bool(&reply, "stale", &stale) && stale);

	/* One that does: fresh stats, nulls for what it did not send. */
	send_str(fd, "{\"version\":1,\"command\":\"balloon_stats\",\"timeout\":30}\n");
	CHECK(nothing_yet(fd));
	CHECK_EQ(last_cmd.op, BALLOON_CMD_REQUEST_STATS);
	device_sends(BALLOON_EV_STATS, 1u << BALLOON_FREE_MEMORY, 123 * MIB);
	line = read_line(fd);
	CHECK(parse_reply(line));
	CHECK(json_get_bool(&reply, "stale", &stale) && !stale);
	CHECK(strstr(line, "\"stats\":{\"swap_in\":null,") != NULL);
	CHECK(strstr(line, "\"free_memory\":128974848,") != NULL);

	/* Then it stops answering (paused): the last stats, stale, with their age. */
	line = ask(fd, "{\"version\":1,\"command\":\"balloon_stats\",\"timeout\":0}\n");
	CHECK(parse_reply(line));
	CHECK(json_get_bool(&reply, "stale", &stale) && stale);
	CHECK(reply_int("age") >= 0);
	CHECK(strstr(line, "\"free_memory\":128974848,") != NULL);

	/* A hostile event is dropped; the balloon goes on. */
	balloon_ctl_event(vm.balloon, "junk", 4);
	device_sends(BALLOON_EV_ACTUAL, 0xffffffffu, 0);
	CHECK_EQ(balloon_ctl_actual(vm.balloon), 2097152);

	/* A client that leaves while waiting: its request is cancelled. */
	send_str(sub, "{\"version\":1,\"command\":\"balloon_stats\",\"timeout\":30}\n");
	CHECK(nothing_yet(sub));
	close(sub);
	for (int i = 0; i < 5; i++)
		pump(1);
	device_sends(BALLOON_EV_STATS, 0, 0);	/* nobody to answer, no crash */
	close(fd);
	for (int i = 0; i < 5; i++)
		pump(1);
	CHECK_EQ(sync_commands, 0);	/* all posted */
	vm_watch(&vm, balloon_ctl_timer_fd(vm.balloon), 0, NULL, NULL);
	balloon_ctl_destroy(vm.balloon);
	vm.balloon = NULL;
}

/* The guest rebooted and main.c made a new VM: like vm_destroy, the old
 * balloon goes without running its callbacks, and control_attach hands
 * the clients to a VM with a table of its own. */
static void restart_vm(void)
{
	vm_watch(&vm, balloon_ctl_timer_fd(vm.balloon), 0, NULL, NULL);
	balloon_ctl_destroy(vm.balloon);
	vm.balloon = NULL;
	for (unsigned i = 0; i < VM_MAX_WATCHES; i++)
		vm.watches[i].fd = -1;
	control_attach(&ctl, &vm);
}

static void expect_restarted(int fd)
{
	const char *error;

	CHECK(!parse_reply(read_line(fd)));
	error = json_get_string(&reply, "error");
	CHECK(error && !strncmp(error, "the VM restarted", 16));
}

static void test_restart_ends_waits(void)
{
	int waiter = client(), sub = client(), stats = client();

	vm.balloon = balloon_ctl_create(256 * MIB, 0, &fake_balloon_link);
	CHECK(vm.balloon != NULL);
	CHECK_EQ(vm_watch(&vm, balloon_ctl_timer_fd(vm.balloon), POLLIN, on_balloon_timer,
			  vm.balloon), 0);
	CHECK(parse_reply(ask(sub, "{\"version\":1,\"command\":\"subscribe\",\"events\":\"balloon\"}\n")));
	send_str(waiter, "{\"version\":1,\"command\":\"balloon\",\"bytes\":4096,\"wait\":30}\n"
			 "{\"version\":1,\"command\":\"status\"}\n");
	send_str(stats, "{\"version\":1,\"command\":\"balloon_stats\",\"timeout\":30}\n");
	CHECK(nothing_yet(waiter));
	CHECK(nothing_yet(stats));

	restart_vm();
	expect_restarted(waiter);
	CHECK(parse_reply(read_line(waiter)));		/* the line behind it is served */
	CHECK_STR(json_get_string(&reply, "name"), "testvm");
	expect_restarted(stats);
	CHECK(strstr(read_line(sub), "\"event\":\"vm_restarted\"") != NULL);

	/* The new VM's balloon: the old subscription is over, a new one works. */
	vm.balloon = balloon_ctl_create(256 * MIB, 0, &fake_balloon_link);
	CHECK(vm.balloon != NULL);
	CHECK_EQ(vm_watch(&vm, balloon_ctl_timer_fd(vm.balloon), POLLIN, on_balloon_timer,
			  vm.balloon), 0);
	device_sends(BALLOON_EV_DEFLATED_ON_OOM, 0, 0);
	CHECK(nothing_yet(sub));
	CHECK(parse_reply(ask(sub, "{\"version\":1,\"command\":\"subscribe\",\"events\":\"balloon\"}\n")));
	device_sends(BALLOON_EV_DEFLATED_ON_OOM, 0, 0);
	CHECK(strstr(read_line(sub), "\"event\":\"balloon_deflated_on_oom\"") != NULL);

	close(waiter);
	close(sub);
	close(stats);
	for (int i = 0; i < 5; i++)
		pump(1);
	vm_watch(&vm, balloon_ctl_timer_fd(vm.balloon), 0, NULL, NULL);
	balloon_ctl_destroy(vm.balloon);
	vm.balloon = NULL;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	setup();
	test_status();
	test_pause_resume();
	test_bad_requests();
	test_framing();
	test_noise();
	test_client_limit();
	test_peer_check();
	test_powerbutton_and_stop();
	test_powerbutton_flood();
	test_balloon_commands();
	test_restart_ends_waits();
	control_close(&ctl);
	runtime_dir_close(&rd);
	return check_report("test_control");
}
