/*
 * vmsilo-wayland-proxy: the guest's Wayland socket. Every client that
 * connects gets its own cross-domain context to the host compositor
 * (wlp_conn.c relays and translates); a client whose compositor side
 * fails is disconnected, and the next client gets a fresh context.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "guest-agent/wayland/virtgpu_dev.h"
#include "guest-agent/wayland/virtgpu_uapi.h"
#include "guest-agent/wayland/wlp.h"

#define MAX_CLIENTS	64
#define PIPE_SLOTS	16
#define CONN_SLOTS	(1 + WLP_LINK_MAX_POLL + PIPE_SLOTS)

enum { EXIT_OK, EXIT_USAGE, EXIT_SOCKET, EXIT_NO_CROSS_DOMAIN };

struct proxy {
	const char *node, *host_socket, *tag;
	char node_path[256], path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char lock_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	bool stats, verbose;
	int listen_fd, lock_fd, next_id;
	struct wlp_conn *conns[MAX_CLIENTS];
};

static volatile sig_atomic_t stopping;

static const char usage_text[] =
	"usage: vmsilo-wayland-proxy [--socket NAME] [--tag PREFIX] [--device PATH] [--stats]\n"
	"                            [--verbose]\n"
	"\n"
	"Listens on $XDG_RUNTIME_DIR/NAME (default wayland-0; an absolute NAME is\n"
	"used as it is) and carries each Wayland client to the host's compositor\n"
	"through its own cross-domain context of the virtio-gpu device.\n"
	"  --tag PREFIX        put PREFIX before every window title (\"[banking] \")\n"
	"  --device PATH       the virtio_gpu DRM node (default: the first one)\n"
	"wayland-proxy-virtwl's --virtio-gpu (what this proxy always does) and\n"
	"--wayland-display NAME (the same as --socket) are taken too.\n"
	"  --host-socket PATH  (tests) connect clients to the compositor at PATH\n"
	"                      directly, with memfds for host memory\n"
	"  --host-dmabuf DEV   (tests, with --host-socket) offer dma-buf with device\n"
	"                      number DEV; any fd that maps is taken as a dma-buf\n"
	"  --stats             a line per client when it goes: commits, bytes\n"
	"                      copied, and bytes full-frame copies would have taken\n"
	"  --verbose           a line per client as it comes and goes\n"
	"Exit status: 0 stopped by a signal, 1 usage, 2 the socket, 3 no\n"
	"cross-domain capset (the VM's [gpu] lacks wayland = true).\n";

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static _Noreturn void usage(const char *why)
{
	if (why)
		fprintf(stderr, "vmsilo-wayland-proxy: %s\n", why);
	fputs(usage_text, stderr);
	exit(EXIT_USAGE);
}

static void parse(int argc, char **argv, struct proxy *p, const char **name)
{
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
			fputs(usage_text, stdout);
			exit(EXIT_OK);
		} else if (!strcmp(opt, "--stats")) {
			p->stats = true;
		} else if (!strcmp(opt, "--verbose")) {
			p->verbose = true;
		} else if (!strcmp(opt, "--virtio-gpu")) {
			continue;	/* wayland-proxy-virtwl's: the only way here */
		} else if (!val) {
			usage("an option lacks its value, or is unknown");
		} else if (!strcmp(opt, "--socket") || !strcmp(opt, "--wayland-display")) {
			*name = argv[++i];
		} else if (!strcmp(opt, "--tag")) {
			p->tag = argv[++i];
		} else if (!strcmp(opt, "--device")) {
			p->node = argv[++i];
		} else if (!strcmp(opt, "--host-socket")) {
			p->host_socket = argv[++i];
		} else if (!strcmp(opt, "--host-dmabuf")) {
			wlp_link_loop_dmabuf(strtoull(argv[++i], NULL, 0));
		} else {
			usage("unknown option");
		}
	}
}

/* The device must offer capset 5 with the Wayland channel. */
static int check_device(struct proxy *p)
{
	struct cross_domain_capabilities caps = { 0 };
	int fd, rc;

	if (!p->node) {
		if (vgpu_find_node(p->node_path, sizeof(p->node_path))) {
			fputs("vmsilo-wayland-proxy: no virtio-gpu device in /dev/dri (the VM "
			      "needs a [gpu] section with wayland = true)\n", stderr);
			return EXIT_NO_CROSS_DOMAIN;
		}
		p->node = p->node_path;
	}
	fd = open(p->node, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vmsilo-wayland-proxy: %s: %s\n", p->node, strerror(errno));
		return EXIT_NO_CROSS_DOMAIN;
	}
	rc = vgpu_get_caps(fd, CROSS_DOMAIN_CAPSET_ID, &caps, sizeof(caps));
	close(fd);
	if (rc || !(caps.supported_channels & 1u << CROSS_DOMAIN_CHANNEL_WAYLAND)) {
		fprintf(stderr, "vmsilo-wayland-proxy: %s offers no cross-domain capset with a "
			"Wayland channel (the VM's [gpu] needs wayland = true)\n", p->node);
		return EXIT_NO_CROSS_DOMAIN;
	}
	return EXIT_OK;
}

static int socket_path(struct proxy *p, const char *name)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	int n;

	if (name[0] == '/')
		n = snprintf(p->path, sizeof(p->path), "%s", name);
	else if (dir && dir[0] == '/')
		n = snprintf(p->path, sizeof(p->path), "%s/%s", dir, name);
	else {
		fputs("vmsilo-wayland-proxy: XDG_RUNTIME_DIR is not set (or give --socket an "
		      "absolute path)\n", stderr);
		return -1;
	}
	if (n < 0 || (size_t)n >= sizeof(p->path)) {
		fprintf(stderr, "vmsilo-wayland-proxy: the socket path is too long\n");
		return -1;
	}
	snprintf(p->lock_path, sizeof(p->lock_path), "%s.lock", p->path);
	return 0;
}

/* As libwayland does: a lock file says the name is ours, then a stale
 * socket of that name may go. */
static int listen_on(struct proxy *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	p->lock_fd = open(p->lock_path, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (p->lock_fd < 0 || flock(p->lock_fd, LOCK_EX | LOCK_NB)) {
		fprintf(stderr, "vmsilo-wayland-proxy: %s is in use by another compositor or "
			"proxy\n", p->path);
		return -1;
	}
	unlink(p->path);
	memcpy(sa.sun_path, p->path, strlen(p->path) + 1);
	p->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(p->listen_fd, 16)) {
		fprintf(stderr, "vmsilo-wayland-proxy: %s: %s\n", p->path, strerror(errno));
		return -1;
	}
	return 0;
}

static void accept_client(struct proxy *p)
{
	int sock = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct wlp_link *link;
	int slot = -1, err;

	if (sock < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS && slot < 0; i++)
		if (!p->conns[i])
			slot = i;
	link = slot < 0 ? NULL :
	       p->host_socket ? wlp_link_loop_open(p->host_socket, &err) :
				wlp_link_xd_open(p->node, &err);
	if (slot >= 0 && !link)
		wlp_log("a client turned away: no link to the compositor (%s)", strerror(-err));
	if (slot < 0)
		wlp_log("a client turned away: %d clients already", MAX_CLIENTS);
	if (link)
		p->conns[slot] = wlp_conn_new(++p->next_id, sock, link);
	if (link && p->conns[slot])
		p->conns[slot]->tag = p->tag;
	if (link && !p->conns[slot])
		link->ops->close(link);
	if (!link || !p->conns[slot]) {
		close(sock);
		return;
	}
	if (p->verbose)
		fprintf(stderr, "vmsilo-wayland-proxy: client %d connected\n", p->next_id);
}

static void reap(struct proxy *p, int i)
{
	struct wlp_conn *c = p->conns[i];
	bool quiet = !strcmp(c->dead, "the client went away");

	if (!quiet || p->verbose)
		wlp_log("client %d closed: %s", c->id, c->dead);
	if (p->stats)
		fprintf(stderr, "vmsilo-wayland-proxy: client %d stats: commits=%llu "
			"bytes-copied=%llu bytes-full-frames=%llu dmabuf-commits=%llu\n", c->id,
			(unsigned long long)c->stats.commits,
			(unsigned long long)c->stats.bytes_copied,
			(unsigned long long)c->stats.bytes_full,
			(unsigned long long)c->stats.dmabuf_commits);
	wlp_conn_free(c);
	p->conns[i] = NULL;
}

static void run(struct proxy *p)
{
	static struct pollfd fds[1 + MAX_CLIENTS * CONN_SLOTS];
	int first[MAX_CLIENTS], count[MAX_CLIENTS];

	while (!stopping) {
		int n = 1;

		fds[0] = (struct pollfd){ .fd = p->listen_fd, .events = POLLIN };
		for (int i = 0; i < MAX_CLIENTS; i++) {
			first[i] = n;
			count[i] = p->conns[i] ? wlp_conn_poll_fds(p->conns[i], fds + n, CONN_SLOTS)
					       : 0;
			n += count[i];
		}
		if (poll(fds, (nfds_t)n, -1) < 0) {
			if (errno != EINTR)
				wlp_log("poll: %s", strerror(errno));
			continue;
		}
		for (int i = 0; i < MAX_CLIENTS; i++) {
			if (p->conns[i])
				wlp_conn_step(p->conns[i], fds + first[i], count[i]);
			if (p->conns[i] && p->conns[i]->dead)
				reap(p, i);
		}
		if (fds[0].revents & POLLIN)
			accept_client(p);
	}
}

int main(int argc, char **argv)
{
	struct proxy p = { .listen_fd = -1, .lock_fd = -1 };
	const char *name = "wayland-0";
	struct sigaction sa = { .sa_handler = on_signal };
	int status;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* DRM errors, read with stderr's lines */
	parse(argc, argv, &p, &name);
	if (socket_path(&p, name))
		return EXIT_SOCKET;
	if (!p.host_socket && (status = check_device(&p)) != EXIT_OK)
		return status;
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (listen_on(&p))
		return EXIT_SOCKET;
	fprintf(stderr, "vmsilo-wayland-proxy: listening on %s%s%s\n", p.path,
		p.host_socket ? ", clients go to " : "",
		p.host_socket ? p.host_socket : "");
	run(&p);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (p.conns[i]) {
			wlp_conn_kill(p.conns[i], "the proxy stops");
			reap(&p, i);
		}
	unlink(p.path);
	unlink(p.lock_path);
	return EXIT_OK;
}
