/*
 * vmsilo-guest-agent: runs commands in the guest for vm-run (and answers
 * the VMM's idle watch). One poll loop serves every connection.
 *
 *   vmsilo-guest-agent [--user NAME] [--listen vsock:PORT|unix:PATH]
 */
#include "guest-agent/agent.h"
#include "guest-agent/mount_extra.h"
#include "guest-agent/peer.h"
#include "guest-agent/session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define MAX_SESSIONS 128
#define POLL_SLOTS (2 + 4 * MAX_SESSIONS)

struct agent {
	int listen_fd;
	int signal_fd;
	struct spawn_config spawn;
	struct session *sessions[MAX_SESSIONS];
	int nsessions;
	pid_t *detached;
	size_t ndetached, detached_cap;
	unsigned running;
	struct timespec idle_since;
};

static struct agent the_agent;

void agent_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmsilo-guest-agent: %s\n", line);
}

const struct spawn_config *agent_spawn_config(const struct agent *a)
{
	return &a->spawn;
}

void agent_add_detached(struct agent *a, pid_t pid)
{
	if (a->ndetached == a->detached_cap) {
		size_t cap = a->detached_cap ? a->detached_cap * 2 : 16;
		pid_t *d = realloc(a->detached, cap * sizeof(*d));

		if (!d) {
			agent_log("out of memory; detached pid %d is not counted", (int)pid);
			return;
		}
		a->detached = d;
		a->detached_cap = cap;
	}
	a->detached[a->ndetached++] = pid;
}

static unsigned count_running(const struct agent *a)
{
	unsigned n = (unsigned)a->ndetached;

	for (int i = 0; i < a->nsessions; i++)
		n += session_is_running(a->sessions[i]);
	return n;
}

void agent_state(const struct agent *a, struct agent_state *s)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	s->running = count_running(a);
	s->idle_seconds = s->running ? 0 : (uint32_t)(now.tv_sec - a->idle_since.tv_sec);
}

/* Tells every watcher when the agent turns busy or idle. */
static void update_running(struct agent *a)
{
	unsigned running = count_running(a);
	struct agent_state st;

	if (!running == !a->running) {
		a->running = running;
		return;
	}
	a->running = running;
	if (!running)
		clock_gettime(CLOCK_MONOTONIC, &a->idle_since);
	agent_state(a, &st);
	for (int i = 0; i < a->nsessions; i++)
		if (a->sessions[i]->kind == SESSION_WATCH)
			session_send_state(a->sessions[i], &st);
}

static void reap_children(struct agent *a)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(a->signal_fd, &si, sizeof(si)) == sizeof(si))
		;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		bool found = false;

		for (int i = 0; i < a->nsessions && !found; i++) {
			struct session *s = a->sessions[i];

			if (s->child_alive && s->pid == pid) {
				session_reaped(s, status);
				found = true;
			}
		}
		for (size_t i = 0; i < a->ndetached && !found; i++) {
			if (a->detached[i] == pid) {
				a->detached[i] = a->detached[--a->ndetached];
				found = true;
			}
		}
	}
}

static void accept_clients(struct agent *a)
{
	while (a->nsessions < MAX_SESSIONS) {
		int fd = agent_accept(a->listen_fd);
		struct session *s;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				agent_log("accept: %s", strerror(errno));
			return;
		}
		s = session_new(fd);
		if (!s) {
			agent_log("out of memory; refused a connection");
			close(fd);
			return;
		}
		a->sessions[a->nsessions++] = s;
	}
}

static void run_loop(struct agent *a)
{
	static struct pollfd pfd[POLL_SLOTS];
	static enum session_role roles[POLL_SLOTS];
	static struct session *owner[POLL_SLOTS];
	int timeout = -1;

	for (;;) {
		int n = 0;

		pfd[n++] = (struct pollfd){ .fd = a->signal_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){
			.fd = a->nsessions < MAX_SESSIONS ? a->listen_fd : -1, .events = POLLIN };
		for (int i = 0; i < a->nsessions; i++) {
			int k = session_poll_fds(a->sessions[i], pfd + n, roles + n);

			for (int j = 0; j < k; j++)
				owner[n + j] = a->sessions[i];
			n += k;
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			agent_log("poll: %s", strerror(errno));
			exit(1);
		}
		if (pfd[0].revents)
			reap_children(a);
		for (int i = 2; i < n; i++)
			if (pfd[i].revents)
				session_handle(owner[i], a, roles[i], pfd[i].fd, pfd[i].revents);
		if (pfd[1].revents)
			accept_clients(a);
		timeout = -1;
		for (int i = 0; i < a->nsessions; i++) {
			if (session_advance(a->sessions[i], a, &timeout)) {
				session_free(a->sessions[i]);
				a->sessions[i--] = a->sessions[--a->nsessions];
			}
		}
		update_running(a);
	}
}

static int listen_vsock(unsigned port)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port,
	};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		agent_log("no vsock (%s): load the vmw_vsock_virtio_transport module",
			  strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 64)) {
		agent_log("cannot listen on vsock port %u: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		agent_log("socket path too long: %s", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 64)) {
		agent_log("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int open_listener(const char *spec)
{
	if (!strncmp(spec, "unix:", 5))
		return listen_unix(spec + 5);
	if (!strncmp(spec, "vsock:", 6)) {
		char *end;
		unsigned long port = strtoul(spec + 6, &end, 10);

		if (*end || !spec[6] || port > 0xffffffffUL) {
			agent_log("bad vsock port in %s", spec);
			return -1;
		}
		return listen_vsock((unsigned)port);
	}
	agent_log("--listen takes vsock:PORT or unix:PATH, not %s", spec);
	return -1;
}

/* vmsilo.user=NAME on the kernel command line, if any. */
static char *user_from_cmdline(void)
{
	static char buf[4096];
	const char *key = "vmsilo.user=";
	FILE *f = fopen("/proc/cmdline", "re");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (char *w = strtok(buf, " \t\n"); w; w = strtok(NULL, " \t\n"))
		if (!strncmp(w, key, strlen(key)) && w[strlen(key)])
			return w + strlen(key);
	return NULL;
}

/* A pipe must never land on 0, 1 or 2, where dup2() would be a no-op. */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
			exit(1);
}

static int setup_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vmsilo-guest-agent [--user NAME] [--listen vsock:PORT|unix:PATH]\n"
		   "Runs commands for vm-run; listens on vsock port %d by default.\n"
		   "Without --user, the kernel parameter vmsilo.user=NAME names the account\n"
		   "commands run as; without either, they run as the agent's own user.\n",
		VMSILO_AGENT_PORT);
}

int main(int argc, char **argv)
{
	struct agent *a = &the_agent;
	const char *listen_spec = NULL;
	char port_spec[32];

	a->spawn = (struct spawn_config){ .passwd_path = "/etc/passwd",
					  .group_path = "/etc/group" };
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--user") && i + 1 < argc) {
			a->spawn.user = argv[++i];
		} else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
			listen_spec = argv[++i];
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			agent_log("unknown argument: %s", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!a->spawn.user)
		a->spawn.user = user_from_cmdline();
	if (!listen_spec) {
		snprintf(port_spec, sizeof(port_spec), "vsock:%d", VMSILO_AGENT_PORT);
		listen_spec = port_spec;
	}
	ensure_std_fds();
	mount_extra_all();
	a->signal_fd = setup_signals();
	a->listen_fd = open_listener(listen_spec);
	if (a->signal_fd < 0 || a->listen_fd < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &a->idle_since);
	agent_log("listening on %s, commands run as %s", listen_spec,
		  a->spawn.user ? a->spawn.user : "the agent's user");
	run_loop(a);
	return 0;
}
