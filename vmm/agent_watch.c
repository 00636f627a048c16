#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "guest-agent/protocol.h"
#include "vmm/activation.h"
#include "vmm/agent_watch.h"
#include "vmm/errfmt.h"
#include "vmm/log.h"
#include "vmm/runtime_dir.h"
#include "vmm/vm.h"

#define HANDSHAKE_MAX 64	/* "OK <port>\n" */

static void arm(int tfd, unsigned ms)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 + 1 },
	};

	timerfd_settime(tfd, 0, &its, NULL);
}

static void disarm(int tfd)
{
	timerfd_settime(tfd, 0, &(struct itimerspec){ 0 }, NULL);
}

static void drain(int tfd)
{
	uint64_t expirations;

	(void)!read(tfd, &expirations, sizeof(expirations));
}

static uint32_t current_idle(const struct agent_watch *aw)
{
	struct timespec now;
	uint64_t idle;

	clock_gettime(CLOCK_MONOTONIC, &now);
	idle = aw->idle_at_state + (uint64_t)(now.tv_sec - aw->state_time.tv_sec);
	return idle > UINT32_MAX ? UINT32_MAX : (uint32_t)idle;
}

static void disconnect(struct agent_watch *aw)
{
	if (aw->fd >= 0) {
		vm_watch(aw->vm, aw->fd, 0, NULL, NULL);
		close(aw->fd);
	}
	aw->fd = -1;
	aw->conn = AW_IDLE;
	aw->in_len = 0;
	aw->have_state = false;
	if (!aw->pressed)
		disarm(aw->idle_fd);
}

static void retry_later(struct agent_watch *aw)
{
	disconnect(aw);
	arm(aw->retry_fd, AGENT_WATCH_RETRY_MS);
}

/* A guest that talks nonsense is logged once, then quietly retried. */
static void protocol_error(struct agent_watch *aw, const char *what)
{
	static bool warned;

	if (!warned)
		log_warn("guest agent: %s; reconnecting every %d ms", what, AGENT_WATCH_RETRY_MS);
	else
		log_ratelimited(LOG_DEBUG, "guest agent: %s", what);
	warned = true;
	retry_later(aw);
}

static void on_agent(struct vm *vm, void *ctx, short revents);

/* Through the handle runtime_dir keeps on our own listener, never by name. */
static void try_connect(struct agent_watch *aw)
{
	static const char request[] = "CONNECT " "5000" "\n";
	int fd = runtime_dir_connect(aw->rd, "vsock.socket");

	_Static_assert(VMSILO_AGENT_PORT == 5000, "the CONNECT line names the agent's port");
	if (fd < 0 || send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) != sizeof(request) - 1 ||
	    vm_watch(aw->vm, fd, POLLIN, on_agent, aw)) {
		log_ratelimited(LOG_DEBUG, "guest agent: connecting through %s/vsock.socket: %s",
				aw->rd->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		arm(aw->retry_fd, AGENT_WATCH_RETRY_MS);
		return;
	}
	aw->fd = fd;
	aw->conn = AW_HANDSHAKE;
	aw->in_len = 0;
}

static void consume(struct agent_watch *aw, size_t n)
{
	memmove(aw->in, aw->in + n, aw->in_len - n);
	aw->in_len -= n;
}

/* "OK <port>\n" from the vsock device, then our WATCH. */
static int handshake(struct agent_watch *aw)
{
	uint8_t watch[AGENT_HEADER_SIZE];
	uint8_t *nl = memchr(aw->in, '\n', aw->in_len);

	if (!nl) {
		if (aw->in_len < HANDSHAKE_MAX)
			return 0;
		protocol_error(aw, "the vsock device's answer to CONNECT is too long");
		return -1;
	}
	if (aw->in_len < 3 || memcmp(aw->in, "OK ", 3)) {
		log_ratelimited(LOG_DEBUG, "guest agent: CONNECT %d: %.*s", VMSILO_AGENT_PORT,
				(int)(nl - aw->in), (const char *)aw->in);
		retry_later(aw);
		return -1;
	}
	consume(aw, (size_t)(nl - aw->in) + 1);
	if (agent_encode(watch, sizeof(watch), AGENT_MSG_WATCH, NULL, 0) != sizeof(watch) ||
	    send(aw->fd, watch, sizeof(watch), MSG_NOSIGNAL) != sizeof(watch)) {
		retry_later(aw);
		return -1;
	}
	aw->conn = AW_WATCHING;
	return 0;
}

static void schedule_idle_check(struct agent_watch *aw)
{
	if (!aw->auto_shutdown || aw->pressed)
		return;
	if (aw->commands) {
		disarm(aw->idle_fd);
		return;
	}
	arm(aw->idle_fd, aw->idle_at_state >= aw->after ? 0 : (aw->after - aw->idle_at_state) * 1000);
}

static void got_state(struct agent_watch *aw, const struct agent_state *st)
{
	aw->have_state = true;
	aw->commands = st->running;
	aw->idle_at_state = st->running ? 0 : st->idle_seconds;
	clock_gettime(CLOCK_MONOTONIC, &aw->state_time);
	log_ratelimited(LOG_DEBUG, "guest agent: %u commands running, idle for %u s",
			st->running, st->idle_seconds);
	if (!aw->notified) {
		aw->notified = true;
		log_info("guest agent ready");
		notify_send("READY=1\nSTATUS=running; the guest agent answered");
	}
	schedule_idle_check(aw);
}

/*
 * The agent closes after an ERROR; so do we, or a guest could log a line
 * per frame. Its text is the guest's: printable ASCII only reaches the log.
 */
static void refused(struct agent_watch *aw, const uint8_t *text, uint32_t len)
{
	char what[120];
	int n = snprintf(what, sizeof(what), "refused WATCH: ");

	for (uint32_t i = 0; i < len && (size_t)n < sizeof(what) - 1; i++)
		what[n++] = text[i] >= 0x20 && text[i] < 0x7f ? (char)text[i] : '?';
	what[n] = '\0';
	protocol_error(aw, what);
}

/* Handles the whole frames received; -1 after a protocol error. */
static int read_frames(struct agent_watch *aw)
{
	struct agent_header h;
	struct agent_state st;
	const char *bad;
	int ready;

	while ((ready = agent_frame_ready(aw->in, aw->in_len, &h)) == 1) {
		const uint8_t *payload = aw->in + AGENT_HEADER_SIZE;

		if (h.type == AGENT_MSG_STATE) {
			bad = agent_decode_state(payload, h.length, &st);
			if (bad) {
				protocol_error(aw, bad);
				return -1;
			}
			got_state(aw, &st);
		} else if (h.type == AGENT_MSG_ERROR) {
			refused(aw, payload, h.length);
			return -1;
		} else {
			log_ratelimited(LOG_DEBUG, "guest agent: ignoring %s", agent_msg_name(h.type));
		}
		consume(aw, AGENT_HEADER_SIZE + h.length);
	}
	if (ready < 0 || (aw->in_len >= AGENT_HEADER_SIZE &&
			  agent_get_u32(aw->in + 4) > sizeof(aw->in) - AGENT_HEADER_SIZE)) {
		protocol_error(aw, "a message too long for a STATE");
		return -1;
	}
	return 0;
}

static void on_agent(struct vm *vm, void *ctx, short revents)
{
	struct agent_watch *aw = ctx;
	ssize_t n = recv(aw->fd, aw->in + aw->in_len, sizeof(aw->in) - aw->in_len, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		if (aw->conn == AW_WATCHING)
			log_ratelimited(LOG_INFO, "guest agent: connection closed; reconnecting");
		retry_later(aw);
		return;
	}
	aw->in_len += (size_t)n;
	if (aw->conn == AW_HANDSHAKE && handshake(aw))
		return;
	if (aw->conn == AW_WATCHING)
		read_frames(aw);
}

static void on_retry(struct vm *vm, void *ctx, short revents)
{
	struct agent_watch *aw = ctx;

	drain(aw->retry_fd);
	if (aw->fd < 0)
		try_connect(aw);
}

static void on_idle(struct vm *vm, void *ctx, short revents)
{
	struct agent_watch *aw = ctx;
	char why[96];
	uint32_t idle;

	drain(aw->idle_fd);
	if (aw->pressed) {
		log_warn("auto_shutdown: the guest did not power off within %d s of the power "
			 "button; stopping it", AGENT_WATCH_POWEROFF_GRACE_S);
		vm_request_exit(vm, VM_EXIT_STOPPED);
		return;
	}
	if (!aw->have_state || aw->commands)
		return;
	idle = current_idle(aw);
	if (idle < aw->after) {
		arm(aw->idle_fd, (aw->after - idle) * 1000);
		return;
	}
	snprintf(why, sizeof(why), "auto_shutdown: no command has run in the guest for %u s", idle);
	vm_press_power_button(vm, why);
	notify_send("STOPPING=1\nSTATUS=idle for %u s; powering off", idle);
	aw->pressed = true;
	arm(aw->idle_fd, AGENT_WATCH_POWEROFF_GRACE_S * 1000);
}

int agent_watch_open(struct agent_watch *aw, const struct vm_config *cfg,
		     const struct runtime_dir *rd, char *err, size_t errlen)
{
	memset(aw, 0, sizeof(*aw));
	aw->fd = -1;
	aw->auto_shutdown = cfg->auto_shutdown.enable;
	aw->after = cfg->auto_shutdown.after;
	aw->rd = rd;
	aw->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	aw->idle_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (aw->retry_fd < 0 || aw->idle_fd < 0) {
		errfmt_sys(err, errlen, errno, "timerfd");
		agent_watch_close(aw);
		return -1;
	}
	return 0;
}

void agent_watch_attach(struct agent_watch *aw, struct vm *vm)
{
	if (aw->fd >= 0)
		close(aw->fd);	/* a connection into the previous guest */
	aw->fd = -1;
	aw->vm = vm;
	aw->pressed = false;
	disconnect(aw);
	vm_watch(vm, aw->retry_fd, POLLIN, on_retry, aw);
	vm_watch(vm, aw->idle_fd, POLLIN, on_idle, aw);
	arm(aw->retry_fd, 0);
}

void agent_watch_close(struct agent_watch *aw)
{
	int *fds[] = { &aw->fd, &aw->retry_fd, &aw->idle_fd };

	for (unsigned i = 0; i < 3; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

void agent_watch_status(const struct agent_watch *aw, struct agent_status *st)
{
	*st = (struct agent_status){ .phase = AGENT_WAITING };
	if (aw->fd < 0 || !aw->have_state)
		return;
	st->phase = AGENT_READY;
	st->commands = aw->commands;
	st->idle_seconds = aw->commands ? 0 : current_idle(aw);
}
