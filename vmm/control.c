#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm/agent_watch.h"
#include "vmm/balloon_ctl.h"
#include "vmm/control.h"
#include "vmm/control_internal.h"
#include "vmm/log.h"
#include "vmm/runtime_dir.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

void control_reply_start(struct json_writer *w, char *buf, size_t size, bool ok)
{
	json_start(w, buf, size);
	json_add_int(w, "version", CONTROL_PROTOCOL_VERSION);
	json_add_bool(w, "ok", ok);
}

size_t control_reply_error(char *buf, size_t size, const char *fmt, ...)
{
	struct json_writer w;
	char msg[512];
	va_list ap;
	int len;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	control_reply_start(&w, buf, size, false);
	json_add_string(&w, "error", msg);
	len = json_finish(&w);
	return len < 0 ? 0 : (size_t)len;
}

static const char *vm_state(struct vm *vm)
{
	if (vm->button_pressed || atomic_load(&vm->exit_reason) != VM_EXIT_NONE)
		return "stopping";
	return vcpus_paused(vm) ? "paused" : "running";
}

static void add_agent(struct json_writer *w, const struct agent_watch *aw)
{
	static const char *const phases[] = {
		[AGENT_ABSENT] = "absent", [AGENT_WAITING] = "waiting", [AGENT_READY] = "ready",
	};
	struct agent_status st = { .phase = AGENT_ABSENT };

	if (aw)
		agent_watch_status(aw, &st);
	json_add_string(w, "agent", phases[st.phase]);
	if (st.phase != AGENT_READY)
		return;
	json_add_string(w, "activity", st.commands ? "busy" : "idle");
	json_add_int(w, "commands", st.commands);
	json_add_int(w, "idle", st.idle_seconds);
}

static size_t reply_status(struct control *ctl, char *buf, size_t size)
{
	struct vm *vm = ctl->vm;
	struct json_writer w;
	struct timespec now;
	int len;

	clock_gettime(CLOCK_MONOTONIC, &now);
	control_reply_start(&w, buf, size, true);
	json_add_string(&w, "name", vm->cfg->name);
	json_add_string(&w, "state", vm_state(vm));
	json_add_int(&w, "uptime", now.tv_sec - ctl->started.tv_sec);
	json_add_int(&w, "pid", getpid());
	json_add_int(&w, "vcpus", vm->cfg->cpus);
	json_add_int(&w, "memory", (int64_t)vm->cfg->memory_mib);
	add_agent(&w, ctl->agent);
	json_open(&w, "devices", '[');
	for (unsigned i = 0; i < vm->nr_devices; i++) {
		struct vm_device *d = vm->devices[i];

		json_open(&w, NULL, '{');
		json_add_string(&w, "name", d->name);
		json_add_int(&w, "pid", vm_device_pid(d));
		json_add_string(&w, "state", vm_device_state(d));
		json_close(&w, '}');
	}
	json_close(&w, ']');
	len = json_finish(&w);
	return len < 0 ? control_reply_error(buf, size, "internal error: status does not fit") : (size_t)len;
}

static size_t reply_state(struct control *ctl, char *buf, size_t size)
{
	struct json_writer w;
	int len;

	control_reply_start(&w, buf, size, true);
	json_add_string(&w, "state", vm_state(ctl->vm));
	len = json_finish(&w);
	return len < 0 ? 0 : (size_t)len;
}

static size_t run_command(struct control *ctl, struct control_client *from,
			  const struct json_object *req, const char *command, uid_t uid,
			  char *buf, size_t size)
{
	struct vm *vm = ctl->vm;
	char why[64];

	if (!strcmp(command, "status"))
		return reply_status(ctl, buf, size);
	if (!strncmp(command, "balloon", 7) || !strcmp(command, "subscribe"))
		return control_balloon(ctl, from, req, command, buf, size);
	if (!strcmp(command, "screenshot"))
		return control_gpu(ctl, req, uid, buf, size);
	if (!strcmp(command, "stop")) {
		log_ratelimited(LOG_INFO, "control socket: stop requested by uid %u", (unsigned)uid);
		vm_request_exit(vm, VM_EXIT_STOPPED);
	} else if (!strcmp(command, "powerbutton")) {
		vcpus_resume(vm);	/* a paused guest would not hear it */
		snprintf(why, sizeof(why), "control socket (uid %u)", (unsigned)uid);
		vm_press_power_button(vm, why);
	} else if (!strcmp(command, "pause")) {
		if (vm->button_pressed || atomic_load(&vm->exit_reason) != VM_EXIT_NONE)
			return control_reply_error(buf, size, "the VM is stopping; it cannot be paused");
		if (vcpus_pause(vm))
			return control_reply_error(buf, size, "the vCPUs did not stop within a few seconds; "
					   "they will as soon as they can (send resume to undo)");
		log_ratelimited(LOG_INFO, "control socket: paused by uid %u", (unsigned)uid);
	} else if (!strcmp(command, "resume")) {
		if (vcpus_paused(vm))
			log_ratelimited(LOG_INFO, "control socket: resumed by uid %u", (unsigned)uid);
		vcpus_resume(vm);
	} else {
		return control_reply_error(buf, size, "unknown command \"%s\" (status, stop, powerbutton, "
				   "pause, resume, balloon, balloon_stats, subscribe, screenshot)",
				   command);
	}
	return reply_state(ctl, buf, size);
}

size_t control_handle(struct control *ctl, struct control_client *from,
		      const char *line, size_t len, char *reply, size_t size)
{
	static struct json_object parsed;	/* main-loop thread only */
	struct json_object *req = &parsed;
	const struct json_field *version;
	const char *command;
	char err[96];

	if (json_parse(line, len, req, err, sizeof(err)))
		return control_reply_error(reply, size, "malformed request: %s", err);
	version = json_get(req, "version");
	if (!version || version->type != JSON_INT)
		return control_reply_error(reply, size, "missing \"version\" (this VMM speaks version %d)",
				   CONTROL_PROTOCOL_VERSION);
	if (version->num != CONTROL_PROTOCOL_VERSION)
		return control_reply_error(reply, size, "unsupported version %lld (this VMM speaks version %d)",
				   (long long)version->num, CONTROL_PROTOCOL_VERSION);
	command = json_get_string(req, "command");
	if (!command)
		return control_reply_error(reply, size, "missing \"command\" (a string)");
	return run_command(ctl, from, req, command, from ? from->uid : 0, reply, size);
}

static void drop_client(struct control_client *c)
{
	if (c->ctl->vm && vm_balloon(c->ctl->vm))
		balloon_ctl_cancel(vm_balloon(c->ctl->vm), c);
	c->pending = c->subscribed = false;
	if (c->ctl->vm)
		vm_watch(c->ctl->vm, c->fd, 0, NULL, NULL);
	close(c->fd);
	c->fd = -1;
}

/* -1 when the peer is gone. */
static int flush_client(struct control_client *c)
{
	ssize_t n;

	while (c->out_len) {
		n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	return 0;
}

static bool room_for_reply(const struct control_client *c)
{
	return sizeof(c->out) - c->out_len >= CONTROL_REPLY_MAX;
}

static bool has_line(const struct control_client *c)
{
	return memchr(c->in, '\n', c->in_len) != NULL;
}

static void answer(struct control_client *c, const char *line, size_t len)
{
	c->out_len += control_handle(c->ctl, c, line, len, c->out + c->out_len, CONTROL_REPLY_MAX);
}

/* Handles the whole lines received, while replies have room. */
static void serve_lines(struct control_client *c)
{
	size_t start = 0;

	while (room_for_reply(c) && !c->pending) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);
		size_t len;

		if (!nl)
			break;
		len = (size_t)(nl - (c->in + start));
		if (c->overlong)
			c->overlong = false;	/* the end of the line being dropped */
		else
			answer(c, c->in + start, len);
		start += len + 1;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	if (c->in_len == sizeof(c->in) && room_for_reply(c) && !c->pending && !has_line(c)) {
		if (!c->overlong)
			c->out_len += control_reply_error(c->out + c->out_len, CONTROL_REPLY_MAX,
						  "request longer than %d bytes", JSON_MAX_LINE);
		c->overlong = true;
		c->in_len = 0;
	}
}

static void receive(struct control_client *c)
{
	while (c->in_len < sizeof(c->in) && room_for_reply(c)) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* The peer is done sending: a last line without '\n' still counts. */
			if (c->in_len && c->in_len < sizeof(c->in) && c->in[c->in_len - 1] != '\n')
				c->in[c->in_len++] = '\n';
			c->closing = true;
			return;
		}
		c->in_len += (size_t)n;
		serve_lines(c);
	}
}

static void on_client(struct vm *vm, void *ctx, short revents)
{
	struct control_client *c = ctx;
	short events = 0;

	if (!c->closing && (revents & (POLLIN | POLLHUP | POLLERR)))
		receive(c);
	do {
		serve_lines(c);
		if (flush_client(c)) {
			drop_client(c);
			return;
		}
	} while (room_for_reply(c) && has_line(c) && !c->pending);
	if (c->closing && !c->out_len && !c->pending && !has_line(c)) {
		drop_client(c);
		return;
	}
	if (!c->closing && room_for_reply(c) && !c->pending)
		events |= POLLIN;
	if (c->out_len)
		events |= POLLOUT;
	vm_watch(vm, c->fd, events, on_client, c);
}

/* A deferred reply or an event line, appended; the client is served on. */
void control_client_push(struct control_client *c, const char *line, size_t len, bool reply)
{
	if (c->fd < 0)
		return;
	/* Events leave room for the reply a deferred request is owed. */
	if (sizeof(c->out) - c->out_len >= len + (reply ? 0 : CONTROL_REPLY_MAX)) {
		memcpy(c->out + c->out_len, line, len);
		c->out_len += len;
	}
	else if (!reply)
		log_ratelimited(LOG_WARN, "control socket: a client does not read; event dropped");
	if (reply)
		c->pending = false;
	if (c->ctl->vm)
		on_client(c->ctl->vm, c, 0);
}

static void refuse(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void refuse(int fd, const char *fmt, ...)
{
	char msg[256], line[512];
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_ratelimited(LOG_WARN, "control socket: %s", msg);
	len = control_reply_error(line, sizeof(line), "%s", msg);
	(void)!send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

void control_add_client(struct control *ctl, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct control_client *c = NULL;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		refuse(fd, "cannot tell who connected: %s", strerror(errno));
		return;
	}
	if (cred.uid != 0 && cred.uid != ctl->uid) {
		refuse(fd, "permission denied: uid %u is not allowed to control VM %s",
		       (unsigned)cred.uid, ctl->name);
		return;
	}
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS && !c; i++)
		if (ctl->clients[i].fd < 0)
			c = &ctl->clients[i];
	if (!c || (ctl->vm && vm_watch(ctl->vm, fd, POLLIN, on_client, c))) {
		refuse(fd, "too many control connections (at most %d)", CONTROL_MAX_CLIENTS);
		return;
	}
	*c = (struct control_client){ .ctl = ctl, .fd = fd, .uid = cred.uid };
}

static void on_listen(struct vm *vm, void *ctx, short revents)
{
	struct control *ctl = ctx;

	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		int fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_ratelimited(LOG_WARN, "control socket: accept: %s", strerror(errno));
			return;
		}
		control_add_client(ctl, fd);
	}
}

int control_open(struct control *ctl, struct runtime_dir *rd, const char *name,
		 const struct agent_watch *agent, char *err, size_t errlen)
{
	memset(ctl, 0, sizeof(*ctl));
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		ctl->clients[i].fd = -1;
	ctl->uid = rd->uid;
	ctl->name = name;
	ctl->agent = agent;
	clock_gettime(CLOCK_MONOTONIC, &ctl->started);
	ctl->listen_fd = runtime_dir_listen(rd, "control.socket", err, errlen);
	return ctl->listen_fd < 0 ? -1 : 0;
}

/*
 * The VM c waited on or subscribed to is gone (a reboot made a new one,
 * whose balloon knows nothing of c): what it waited for fails, its
 * subscription ends with a last event line, and it is served on.
 */
static void restarted(struct control_client *c)
{
	char line[256];
	struct json_writer w;
	bool pending = c->pending, subscribed = c->subscribed;
	size_t n;
	int len;

	c->pending = c->subscribed = false;
	if (pending) {
		n = control_reply_error(line, sizeof(line), "the VM restarted; "
					"what this request waited for is gone");
		control_client_push(c, line, n, true);
	}
	if (subscribed && c->fd >= 0) {
		json_start(&w, line, sizeof(line));
		json_add_int(&w, "version", CONTROL_PROTOCOL_VERSION);
		json_add_string(&w, "event", "vm_restarted");
		len = json_finish(&w);
		if (len > 0)
			control_client_push(c, line, (size_t)len, false);
	}
	if (c->fd >= 0)
		on_client(c->ctl->vm, c, 0);
}

void control_attach(struct control *ctl, struct vm *vm)
{
	ctl->vm = vm;
	vm_watch(vm, ctl->listen_fd, POLLIN, on_listen, ctl);
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (ctl->clients[i].fd >= 0)
			restarted(&ctl->clients[i]);
}

void control_close(struct control *ctl)
{
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		if (ctl->clients[i].fd >= 0)
			close(ctl->clients[i].fd);
		ctl->clients[i].fd = -1;
	}
	if (ctl->listen_fd >= 0)
		close(ctl->listen_fd);
	ctl->listen_fd = -1;
	ctl->vm = NULL;
}
