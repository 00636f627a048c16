/*
 * crosvm.socket against real SOCK_SEQPACKET clients: every request's
 * reply, byte for byte, what it did to a fake VM and a fake balloon
 * (vmm/balloon_ctl.h, answered here when the test says), hostile
 * datagrams, the peer check, the client limit and a reboot. The main
 * loop's watch polling is mimicked; crosvm_socket.c and runtime_dir.c are
 * compiled in with fakes of the VM functions they call.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "vmm/balloon_ctl.h"
#include "vmm/config.h"
#include "vmm/crosvm_socket.h"
#include "vmm/log.h"
#include "vmm/runtime_dir.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

static struct vm vm;
static struct vm_config cfg = { .name = "testvm" };
static struct crosvm_socket cs;
static struct runtime_dir rd;
static char sock_path[PATH_MAX];

/* ---- the fake VM ---- */

static int exit_requested, button_presses, pauses, resumes, pause_result;
static bool paused;

int vm_watch(struct vm *v, int fd, short events, vm_watch_fn fn, void *ctx)
{
	struct vm_watch *free_slot = NULL;

	for (unsigned i = 0; i < VM_MAX_WATCHES; i++) {
		struct vm_watch *w = &v->watches[i];

		if (w->fd == fd) {
			*w = events ? (struct vm_watch){ .fd = fd, .events = events, .fn = fn, .ctx = ctx }
				    : (struct vm_watch){ .fd = -1 };
			return 0;
		}
		if (w->fd < 0 && !free_slot)
			free_slot = w;
	}
	if (!events)
		return 0;
	if (!free_slot)
		return -1;
	*free_slot = (struct vm_watch){ .fd = fd, .events = events, .fn = fn, .ctx = ctx };
	return 0;
}

void vm_request_exit(struct vm *v, enum vm_exit reason)
{
	exit_requested = (int)reason;
}

void vm_press_power_button(struct vm *v, const char *why)
{
	button_presses++;
	CHECK(strstr(why, "crosvm socket") != NULL);
}

int vcpus_pause(struct vm *v)
{
	pauses++;
	paused = !pause_result;
	return pause_result;
}

void vcpus_resume(struct vm *v)
{
	resumes++;
	paused = false;
}

bool vcpus_paused(struct vm *v)
{
	return paused;
}

/* ---- the fake balloon: callbacks are kept until the test fires them ---- */

static struct balloon_ctl *the_balloon;	/* NULL: no [balloon] */
static uint64_t target = 1;
static int set_result;
static balloon_stats_fn stats_cb;
static balloon_wait_fn wait_cb;
static void *pending_ctx;
static unsigned stats_timeout, wait_timeout, cancels;

struct balloon_ctl *vm_balloon(struct vm *v)
{
	return the_balloon;
}

int balloon_ctl_set_target(struct balloon_ctl *b, uint64_t bytes)
{
	if (set_result)
		return set_result;
	target = bytes;
	return 0;
}

int balloon_ctl_stats(struct balloon_ctl *b, unsigned timeout_ms, balloon_stats_fn cb, void *ctx)
{
	stats_cb = cb, pending_ctx = ctx, stats_timeout = timeout_ms;
	return 0;
}

int balloon_ctl_wait(struct balloon_ctl *b, unsigned timeout_ms, balloon_wait_fn cb, void *ctx)
{
	wait_cb = cb, pending_ctx = ctx, wait_timeout = timeout_ms;
	return 0;
}

void balloon_ctl_cancel(struct balloon_ctl *b, void *ctx)
{
	if (ctx == pending_ctx) {
		stats_cb = NULL, wait_cb = NULL, pending_ctx = NULL;
		cancels++;
	}
}

/* ---- clients ---- */

static void pump(int timeout_ms)
{
	struct pollfd fds[VM_MAX_WATCHES];

	for (unsigned i = 0; i < VM_MAX_WATCHES; i++)
		fds[i] = (struct pollfd){ .fd = vm.watches[i].fd, .events = vm.watches[i].events };
	if (poll(fds, VM_MAX_WATCHES, timeout_ms) <= 0)
		return;
	for (unsigned i = 0; i < VM_MAX_WATCHES; i++) {
		struct vm_watch w = vm.watches[i];

		if (fds[i].revents && w.fd >= 0 && w.fd == fds[i].fd)
			w.fn(&vm, w.ctx, fds[i].revents);
	}
}

static int client(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	strcpy(addr.sun_path, sock_path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("connect");
		exit(1);
	}
	pump(0);	/* accepted */
	return fd;
}

/* The next reply datagram, pumping the server meanwhile; "" when none came. */
static const char *next_reply(int fd)
{
	static char buf[CROSVM_REPLY_MAX + 64];

	for (int round = 0; round < 200; round++) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

		if (n >= 0) {
			buf[n] = '\0';
			return buf;
		}
		pump(10);
	}
	return "";
}

static bool no_reply_yet(int fd)
{
	char c;

	for (int round = 0; round < 5; round++)
		pump(5);
	return recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

static const char *request(int fd, const char *req)
{
	CHECK_EQ(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	return next_reply(fd);
}

static void setup(void)
{
	char tmpl[] = "/tmp/test_crosvm_socket.XXXXXX", err[256];

	CHECK(mkdtemp(tmpl) != NULL);
	chmod(tmpl, 0755);	/* test_peer_check's other user gets through */
	cfg.runtime_dir = tmpl;
	CHECK_EQ(runtime_dir_open(&rd, &cfg, err, sizeof(err)), 0);
	cfg.runtime_dir = NULL;
	vm.cfg = &cfg;
	for (unsigned i = 0; i < VM_MAX_WATCHES; i++)
		vm.watches[i].fd = -1;
	CHECK_EQ(crosvm_socket_open(&cs, &rd, cfg.name, err, sizeof(err)), 0);
	CHECK_EQ(runtime_dir_file(&rd, "crosvm.socket", sock_path, sizeof(sock_path)), 0);
	crosvm_socket_attach(&cs, &vm);
}

/* ---- tests ---- */

static void test_config_key(void)
{
	static const char base[] = "name = \"t\"\nkernel = \"/k\"\n";
	struct vm_config c;
	char text[256];

	CHECK_EQ(config_parse("t.toml", base, strlen(base), &c, NULL, 0), 0);
	CHECK(!c.control.crosvm_socket);
	config_free(&c);
	snprintf(text, sizeof(text), "%s[control]\ncrosvm_socket = true\n", base);
	CHECK_EQ(config_parse("t.toml", text, strlen(text), &c, NULL, 0), 0);
	CHECK(c.control.crosvm_socket);
	config_free(&c);
	fprintf(stderr, "(two config errors expected:)\n");
	snprintf(text, sizeof(text), "%s[control]\ncrosvm_socket = 1\n", base);
	CHECK_EQ(config_parse("t.toml", text, strlen(text), &c, NULL, 0), -1);
	snprintf(text, sizeof(text), "%s[control]\ncrosvm = true\n", base);
	CHECK_EQ(config_parse("t.toml", text, strlen(text), &c, NULL, 0), -1);
}

/* SOCK_SEQPACKET, the user's, mode 0660, as control.socket is. */
static void test_socket_file(void)
{
	struct stat st;
	int fd = client(), type = 0;
	socklen_t len = sizeof(type);

	CHECK_EQ(stat(sock_path, &st), 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 0777, 0660);
	CHECK_EQ(st.st_uid, rd.uid);
	CHECK_EQ(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
	CHECK_EQ(type, SOCK_SEQPACKET);
	close(fd);
}

static void test_vm_requests(void)
{
	int fd = client();

	CHECK_STR(request(fd, "\"Powerbtn\""), "\"Ok\"");
	CHECK_EQ(button_presses, 1);
	CHECK_STR(request(fd, "\"SuspendVcpus\""), "\"Ok\"");
	CHECK(paused);
	CHECK_STR(request(fd, " \"ResumeVcpus\"\n"), "\"Ok\"");
	CHECK(!paused);
	pause_result = -1;	/* the vCPUs did not stop in time */
	CHECK_STR(request(fd, "\"SuspendVcpus\""), "{\"Err\":110}");
	pause_result = 0;
	vm.button_pressed = true;	/* stopping: not paused */
	CHECK_STR(request(fd, "\"SuspendVcpus\""), "{\"Err\":16}");
	CHECK_EQ(pauses, 2);
	vm.button_pressed = false;
	CHECK_EQ(exit_requested, 0);
	CHECK_STR(request(fd, "\"Exit\""), "\"Ok\"");
	CHECK_EQ(exit_requested, VM_EXIT_STOPPED);
	exit_requested = 0;
	close(fd);
}

static void test_no_balloon(void)
{
	int fd = client();

	the_balloon = NULL;
	CHECK_STR(request(fd, "{\"BalloonCommand\":\"Stats\"}"), "{\"Err\":19}");
	CHECK_STR(request(fd, "{\"BalloonCommand\":{\"Adjust\":{\"num_bytes\":4096,"
			  "\"wait_for_success\":false}}}"), "{\"Err\":19}");
	CHECK_EQ(target, 1);
	close(fd);
}

static void test_adjust(void)
{
	int fd = client();

	the_balloon = (struct balloon_ctl *)&cs;	/* any pointer: the fake never reads it */
	CHECK_STR(request(fd, "{\"BalloonCommand\":{\"Adjust\":{\"num_bytes\":268439551,"
			  "\"wait_for_success\":false}}}"), "\"Ok\"");
	CHECK_EQ(target, 268435456);	/* rounded down to whole pages */
	CHECK(!wait_cb);
	set_result = -EINVAL;	/* more than guest RAM */
	CHECK_STR(request(fd, "{\"BalloonCommand\":{\"Adjust\":{\"num_bytes\":1099511627776}}}"),
		  "{\"Err\":22}");
	set_result = 0;

	/* wait_for_success: the reply waits for the balloon. */
	CHECK_EQ(send(fd, "{\"BalloonCommand\":{\"Adjust\":{\"wait_for_success\":true,\"num_bytes\":0}}}",
		      69, 0), 69);
	CHECK(no_reply_yet(fd));
	CHECK(wait_cb != NULL);
	CHECK_EQ(wait_timeout, CROSVM_ADJUST_WAIT_MS);
	CHECK_EQ(target, 0);
	wait_cb(pending_ctx, 0, 0);
	wait_cb = NULL;
	CHECK_STR(next_reply(fd), "\"Ok\"");
	CHECK_EQ(send(fd, "{\"BalloonCommand\":{\"Adjust\":{\"num_bytes\":8192,\"wait_for_success\":true}}}",
		      72, 0), 72);
	CHECK(no_reply_yet(fd));
	wait_cb(pending_ctx, -ETIMEDOUT, 4096);
	wait_cb = NULL;
	CHECK_STR(next_reply(fd), "{\"Err\":110}");
	close(fd);
}

static void test_stats(void)
{
	struct balloon_stats st = { .actual_bytes = 1048576, .stale = true, .age_ms = 5000 };
	int fd = client();

	the_balloon = (struct balloon_ctl *)&cs;
	CHECK_EQ(send(fd, "{\"BalloonCommand\":\"Stats\"}", 26, 0), 26);
	CHECK(no_reply_yet(fd));
	CHECK(stats_cb != NULL);
	CHECK_EQ(stats_timeout, CROSVM_STATS_TIMEOUT_MS);
	st.value[BALLOON_FREE_MEMORY] = 123456789;
	st.value[BALLOON_MAJOR_FAULTS] = 7;
	st.value[BALLOON_UNEVICTABLE_MEMORY] = UINT64_MAX;	/* a guest's number, any u64 */
	st.value[BALLOON_SWAP_IN] = 99;		/* not present: null whatever it holds */
	st.present = 1u << BALLOON_FREE_MEMORY | 1u << BALLOON_MAJOR_FAULTS |
		     1u << BALLOON_UNEVICTABLE_MEMORY;
	stats_cb(pending_ctx, &st);
	stats_cb = NULL;
	CHECK_STR(next_reply(fd),
		  "{\"BalloonStats\":{\"stats\":{\"swap_in\":null,\"swap_out\":null,"
		  "\"major_faults\":7,\"minor_faults\":null,\"free_memory\":123456789,"
		  "\"total_memory\":null,\"available_memory\":null,\"disk_caches\":null,"
		  "\"hugetlb_allocations\":null,\"hugetlb_failures\":null,\"shared_memory\":null,"
		  "\"unevictable_memory\":18446744073709551615},\"balloon_actual\":1048576}}");

	/* A client that leaves while waiting is forgotten by the balloon. */
	CHECK_EQ(send(fd, "{\"BalloonCommand\":\"Stats\"}", 26, 0), 26);
	CHECK(no_reply_yet(fd));
	close(fd);
	pump(10);
	CHECK(stats_cb != NULL);	/* nothing is read while waiting */
	cancels = 0;
	fd = client();	/* a new client: the old one's turn comes when the balloon answers */
	CHECK_STR(request(fd, "\"ResumeVcpus\""), "\"Ok\"");
	stats_cb(pending_ctx, &st);	/* the send fails: the client is dropped */
	stats_cb = NULL;
	pump(0);
	CHECK_STR(request(fd, "\"ResumeVcpus\""), "\"Ok\"");
	close(fd);
}

/* Hostile datagrams: each gets {"Err":N} and the connection goes on. */
static void test_bad_requests(void)
{
	static const char *const invalid[] = {
		"{", "Exit", "\"Exit\" \"Exit\"", "\"Ex", "[\"Exit\"]", "null", "42", "{}",
		"{\"BalloonCommand\":\"Stats\",\"x\":1}",
		"{\"BalloonCommand\":[1]}", "{\"BalloonCommand\":7}",
		"{\"BalloonCommand\":{\"Adjust\":{\"num_bytes\":-1}}}",
		"{\"BalloonCommand\":{\"Adjust\":{\"num_bytes\":\"4096\"}}}",
		"{\"BalloonCommand\":{\"Adjust\":{\"num_bytes\":99999999999999999999}}}",
		"{\"BalloonCommand\":{\"Adjust\":{\"wait_for_success\":true}}}",
		"{\"BalloonCommand\":{\"Adjust\":{\"num_bytes\":1,\"wait_for_success\":1}}}",
		"{\"BalloonCommand\":{\"Adjust\":[]}}",
		"{\"BalloonCommand\":{\"Adjust\":{},\"Stats\":{}}}",
		"\"Exit\\u0000\"", "\"\xff\"",
	};
	static const char *const unsupported[] = {
		"\"Sleepbtn\"", "\"exit\"", "\"\"", "{\"DiskCommand\":{\"disk_index\":0}}",
		"{\"BalloonCommand\":\"WorkingSetSize\"}", "{\"BalloonCommand\":{\"Resize\":{}}}",
	};
	static char big[CROSVM_REQUEST_MAX + 100];
	int fd = client();

	the_balloon = (struct balloon_ctl *)&cs;
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		const char *r = request(fd, invalid[i]);

		if (strcmp(r, "{\"Err\":22}"))
			fprintf(stderr, "invalid[%zu] %s: got %s\n", i, invalid[i], r);
		CHECK_STR(r, "{\"Err\":22}");
	}
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		CHECK_STR(request(fd, unsupported[i]), "{\"Err\":95}");
	memset(big, ' ', sizeof(big) - 1);
	memcpy(big + sizeof(big) - 8, "\"Exit\"", 6);
	CHECK_STR(request(fd, big), "{\"Err\":90}");
	CHECK_EQ(exit_requested, 0);
	for (unsigned seed = 1; seed < 300; seed++) {
		char noise[64];
		const char *r;

		for (size_t i = 0; i < sizeof(noise); i++)
			noise[i] = (char)((seed * 2654435761u) >> (i % 24));
		CHECK_EQ(send(fd, noise, 1 + seed % sizeof(noise), 0), (ssize_t)(1 + seed % sizeof(noise)));
		r = next_reply(fd);
		CHECK(!strncmp(r, "{\"Err\":", 7));
	}
	CHECK_STR(request(fd, "\"ResumeVcpus\""), "\"Ok\"");
	CHECK_EQ(exit_requested, 0);
	close(fd);
}

/* Another uid is refused with {"Err":13}. As root the client drops to
 * nobody; otherwise the server is told to allow some other uid. */
static void test_peer_check(void)
{
	const uid_t nobody = 65534;
	int status = 0;
	pid_t pid;

	if (getuid() != 0)
		cs.uid = getuid() + 1;
	chmod(rd.path, 0755);
	chmod(sock_path, 0666);
	pid = fork();
	if (pid == 0) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		char buf[64] = "";
		int fd;

		if (getuid() == 0 && setresuid(nobody, nobody, nobody))
			_exit(2);
		alarm(10);
		fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		strcpy(addr.sun_path, sock_path);
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
			_exit(3);
		(void)!send(fd, "\"Exit\"", 6, MSG_NOSIGNAL);
		if (recv(fd, buf, sizeof(buf) - 1, 0) < 0 || strcmp(buf, "{\"Err\":13}")) {
			fprintf(stderr, "child: %s %s\n", buf, strerror(errno));
			_exit(1);
		}
		_exit(recv(fd, buf, sizeof(buf), 0) == 0 ? 0 : 4);	/* then closed */
	}
	while (waitpid(pid, &status, WNOHANG) == 0)
		pump(10);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	CHECK_EQ(exit_requested, 0);
	cs.uid = getuid();
	chmod(sock_path, 0660);
}

static void test_client_limit(void)
{
	int fds[CROSVM_MAX_CLIENTS + 1], extra;

	for (unsigned i = 0; i < CROSVM_MAX_CLIENTS; i++)
		fds[i] = client();
	extra = client();
	CHECK_STR(next_reply(extra), "{\"Err\":16}");
	close(extra);
	for (unsigned i = 0; i < CROSVM_MAX_CLIENTS; i++)
		CHECK_STR(request(fds[i], "\"ResumeVcpus\""), "\"Ok\"");
	for (unsigned i = 0; i < CROSVM_MAX_CLIENTS; i++)
		close(fds[i]);
	for (unsigned i = 0; i < 5; i++)
		pump(5);
	fds[0] = client();
	CHECK_STR(request(fds[0], "\"ResumeVcpus\""), "\"Ok\"");
	close(fds[0]);
}

/* A reboot (attach to the new VM) answers what the old balloon owed. */
static void test_reboot(void)
{
	int fd = client();

	the_balloon = (struct balloon_ctl *)&cs;
	CHECK_EQ(send(fd, "{\"BalloonCommand\":\"Stats\"}", 26, 0), 26);
	CHECK(no_reply_yet(fd));
	stats_cb = NULL;	/* the old balloon is gone */
	crosvm_socket_attach(&cs, &vm);
	CHECK_STR(next_reply(fd), "{\"Err\":19}");
	CHECK_STR(request(fd, "\"ResumeVcpus\""), "\"Ok\"");
	close(fd);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERROR);
	setup();
	test_config_key();
	test_socket_file();
	test_vm_requests();
	test_no_balloon();
	test_adjust();
	test_stats();
	test_bad_requests();
	test_peer_check();
	test_client_limit();
	test_reboot();
	crosvm_socket_close(&cs);
	runtime_dir_close(&rd);
	return check_report("test_crosvm_socket");
}
