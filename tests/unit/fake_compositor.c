/*
 * A tiny raw Wayland server for test_wl_client.sh's fds case: one client,
 * globals wl_seat v5 and wl_data_device_manager v3, a keymap memfd on
 * get_keyboard, a selection offer on get_data_device (answered by writing
 * into the receive fd), and wl_data_source.send with a pipe on
 * set_selection, whose bytes it reads to the end. It prints what it sent
 * and got as "FAKE ..." lines with the same FNV-1a the client prints.
 *
 *   fake_compositor SOCKET_PATH
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/guest/fnv1a.h"
#include "tests/guest/wl_proto.h"
#include "guest-agent/wayland/wl_wire.h"

#define KEYMAP_LINE	"vmsilo-keymap\n"
#define KEYMAP_SIZE	(4096 + 100)
#define CLIP_LINE	"vmsilo-clipboard-host-to-guest\n"
#define CLIP_REPEAT	150
#define GUEST_LINE	"vmsilo-clipboard-guest-to-host\n"
#define GUEST_REPEAT	200
#define OFFER_ID	0xff000000u
#define MAX_IDS		256
#define MAX_FDS		8

enum { NONE, REGISTRY, SEAT, DDM, SOURCE, DEVICE, KEYBOARD, CALLBACK, OFFER };

static int client, pending_fds[MAX_FDS], n_pending;
static unsigned char kinds[MAX_IDS];

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "fake_compositor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void send_msg(struct wl_out *m, int fd)
{
	char control[CMSG_SPACE(sizeof(int))] = { 0 };
	size_t len = wl_out_end(m);
	struct iovec iov = { m->buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = control;
		mh.msg_controllen = sizeof(control);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(client, &mh, MSG_NOSIGNAL) != (ssize_t)len)
		die("sendmsg");
}

/* An event with only uint/object/new_id arguments. */
static void event(uint32_t object, uint16_t opcode, int n, const uint32_t *args)
{
	uint8_t buf[64];
	struct wl_out m;

	wl_out_begin(&m, buf, sizeof(buf), object, opcode);
	for (int i = 0; i < n; i++)
		wl_out_u32(&m, args[i]);
	send_msg(&m, -1);
}

static void global(uint32_t registry, uint32_t name, const char *iface, uint32_t version)
{
	uint8_t buf[128];
	struct wl_out m;

	wl_out_begin(&m, buf, sizeof(buf), registry, WL_REGISTRY_GLOBAL);
	wl_out_u32(&m, name);
	wl_out_string(&m, iface);
	wl_out_u32(&m, version);
	send_msg(&m, -1);
}

/* Read-only, sealed: what a compositor's keymap fd looks like. */
static void send_keymap(uint32_t keyboard)
{
	char map[KEYMAP_SIZE];
	int fd = memfd_create("keymap", MFD_CLOEXEC | MFD_ALLOW_SEALING), ro;
	char path[64];
	uint8_t buf[32];
	struct wl_out m;

	for (size_t i = 0; i < sizeof(map); i++)
		map[i] = KEYMAP_LINE[i % strlen(KEYMAP_LINE)];
	if (fd < 0 || write(fd, map, sizeof(map)) != sizeof(map) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE))
		die("keymap memfd");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro < 0)
		die("reopen keymap");
	wl_out_begin(&m, buf, sizeof(buf), keyboard, WL_KEYBOARD_KEYMAP);
	wl_out_u32(&m, 1);
	wl_out_u32(&m, KEYMAP_SIZE);
	send_msg(&m, ro);
	printf("FAKE keymap-size=%d keymap-sum=%08x\n", KEYMAP_SIZE,
	       fnv1a(FNV1A_INIT, map, sizeof(map)));
	close(ro);
	close(fd);
}

static void send_offer(uint32_t device)
{
	uint8_t buf[64];
	struct wl_out m;
	uint32_t offer = OFFER_ID;

	event(device, WL_DATA_DEVICE_DATA_OFFER, 1, &offer);
	wl_out_begin(&m, buf, sizeof(buf), offer, WL_DATA_OFFER_OFFER);
	wl_out_string(&m, "text/plain");
	send_msg(&m, -1);
	event(device, WL_DATA_DEVICE_SELECTION, 1, &offer);
}

static void answer_receive(int fd)
{
	char text[sizeof(CLIP_LINE) * CLIP_REPEAT];
	size_t len = 0;

	for (int i = 0; i < CLIP_REPEAT; i++, len += strlen(CLIP_LINE))
		memcpy(text + len, CLIP_LINE, strlen(CLIP_LINE));
	if (write(fd, text, len) != (ssize_t)len)
		die("write clipboard");
	close(fd);
	printf("FAKE clip-to-guest=%zu sum=%08x\n", len, fnv1a(FNV1A_INIT, text, len));
}

/* set_selection: ask our client's source for its text and read all of it. */
static void fetch_selection(uint32_t source)
{
	int p[2];
	uint8_t buf[64];
	struct wl_out m;
	char data[4096];
	size_t total = 0;
	uint32_t sum = FNV1A_INIT, want = FNV1A_INIT;

	if (pipe2(p, O_CLOEXEC))
		die("pipe");
	wl_out_begin(&m, buf, sizeof(buf), source, WL_DATA_SOURCE_SEND);
	wl_out_string(&m, "text/plain");
	send_msg(&m, p[1]);
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], data, sizeof(data));

		if (n < 0)
			die("read selection");
		if (n == 0)
			break;
		total += (size_t)n;
		sum = fnv1a(sum, data, (size_t)n);
	}
	close(p[0]);
	for (int i = 0; i < GUEST_REPEAT; i++)
		want = fnv1a(want, GUEST_LINE, strlen(GUEST_LINE));
	printf("FAKE clip-from-guest=%zu sum=%08x %s\n", total, sum,
	       sum == want && total == GUEST_REPEAT * strlen(GUEST_LINE) ? "as-expected" :
									  "MISMATCH");
}

static void new_object(uint32_t id, int kind)
{
	if (id >= MAX_IDS) {
		fprintf(stderr, "fake_compositor: id %u too large\n", id);
		exit(1);
	}
	kinds[id] = (unsigned char)kind;
}

static void registry_bind(struct wl_args *a)
{
	uint32_t name = wl_arg_u32(a);
	const char *iface = wl_arg_string(a);
	uint32_t version = wl_arg_u32(a), id = wl_arg_new_id(a);

	new_object(id, name == 1 ? SEAT : DDM);
	if (name == 1)
		event(id, 0, 1, (uint32_t[]){ 2 });	/* wl_seat.capabilities: keyboard */
	printf("FAKE bind %s v%u\n", iface ? iface : "?", version);
}

static void request(uint32_t object, uint16_t opcode, struct wl_args *a)
{
	int kind = object == 1 ? -1 : object < MAX_IDS ? kinds[object] :
		   object == OFFER_ID ? OFFER : NONE;
	uint32_t id;

	if (kind == -1 && opcode == WL_DISPLAY_SYNC) {
		id = wl_arg_new_id(a);
		event(id, WL_CALLBACK_DONE, 1, (uint32_t[]){ 0 });
		event(1, 1, 1, &id);			/* wl_display.delete_id */
	} else if (kind == -1 && opcode == WL_DISPLAY_GET_REGISTRY) {
		id = wl_arg_new_id(a);
		new_object(id, REGISTRY);
		global(id, 1, "wl_seat", 5);
		global(id, 2, "wl_data_device_manager", 3);
	} else if (kind == REGISTRY && opcode == WL_REGISTRY_BIND) {
		registry_bind(a);
	} else if (kind == SEAT && opcode == WL_SEAT_GET_KEYBOARD) {
		id = wl_arg_new_id(a);
		new_object(id, KEYBOARD);
		send_keymap(id);
	} else if (kind == DDM && opcode == WL_DATA_DEVICE_MANAGER_CREATE_DATA_SOURCE) {
		new_object(wl_arg_new_id(a), SOURCE);
	} else if (kind == DDM && opcode == WL_DATA_DEVICE_MANAGER_GET_DATA_DEVICE) {
		id = wl_arg_new_id(a);
		new_object(id, DEVICE);
		send_offer(id);
	} else if (kind == DEVICE && opcode == WL_DATA_DEVICE_SET_SELECTION) {
		fetch_selection(wl_arg_object(a));
	} else if (kind == OFFER && opcode == WL_DATA_OFFER_RECEIVE) {
		if (!n_pending) {
			fprintf(stderr, "fake_compositor: receive without an fd\n");
			exit(1);
		}
		answer_receive(pending_fds[0]);
		memmove(pending_fds, pending_fds + 1, --n_pending * sizeof(int));
	}
}

static void take_fds(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < n && n_pending < MAX_FDS; i++)
			memcpy(&pending_fds[n_pending++], CMSG_DATA(c) + i * sizeof(int),
			       sizeof(int));
	}
}

static void serve(void)
{
	static uint8_t in[2 * WL_MAX_MESSAGE];
	size_t len = 0;

	for (;;) {
		char control[CMSG_SPACE(sizeof(int) * MAX_FDS)];
		struct iovec iov = { in + len, sizeof(in) - len };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control, .msg_controllen = sizeof(control),
		};
		ssize_t n = recvmsg(client, &mh, MSG_CMSG_CLOEXEC);
		size_t at = 0;
		struct wl_hdr h;

		if (n <= 0)
			return;
		take_fds(&mh);
		len += (size_t)n;
		while (wl_in_header(in + at, len - at, &h) == 1) {
			struct wl_args a;

			wl_args_init(&a, in + at, h.size);
			request(h.object, h.opcode, &a);
			at += h.size;
		}
		memmove(in, in + at, len - at);
		len -= at;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: fake_compositor SOCKET_PATH\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(listener, 1))
		die("listen");
	client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	if (client < 0)
		die("accept");
	serve();
	printf("FAKE client-gone\n");
	return 0;
}
