#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm/crosvm_socket.h"
#include "vmm/log.h"
#include "vmm/runtime_dir.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define PAGE_SIZE 4096u

static void on_client(struct vm *vm, void *ctx, short revents);

static void watch(struct crosvm_client *c)
{
	short events = c->reply_len ? POLLOUT : c->waiting ? 0 : POLLIN;

	/* Waiting, nothing is read: the balloon's answer comes within a timeout. */
	vm_watch(c->cs->vm, c->fd, events, on_client, c);
}

static void drop_client(struct crosvm_client *c)
{
	struct balloon_ctl *b = c->waiting ? vm_balloon(c->cs->vm) : NULL;

	if (b)
		balloon_ctl_cancel(b, c);
	vm_watch(c->cs->vm, c->fd, 0, NULL, NULL);
	close(c->fd);
	c->fd = -1;
	c->waiting = false;
	c->reply_len = 0;
}

/* 0: sent or kept for POLLOUT; -1: the peer is gone. */
static int flush_reply(struct crosvm_client *c)
{
	ssize_t n;

	if (!c->reply_len)
		return 0;
	do
		n = send(c->fd, c->reply, c->reply_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	c->reply_len = 0;
	return n < 0 ? -1 : 0;
}

/* Sends the reply in c->reply (reply_len set); the client may be dropped. */
static void answer(struct crosvm_client *c)
{
	if (flush_reply(c))
		drop_client(c);
	else
		watch(c);
}

static void answer_err(struct crosvm_client *c, int err)
{
	c->reply_len = crosvm_reply_err(c->reply, sizeof(c->reply), err);
	answer(c);
}

static void answer_ok(struct crosvm_client *c)
{
	c->reply_len = crosvm_reply_ok(c->reply, sizeof(c->reply));
	answer(c);
}

static void on_stats(void *ctx, const struct balloon_stats *st)
{
	struct crosvm_client *c = ctx;

	c->waiting = false;
	c->reply_len = crosvm_reply_stats(c->reply, sizeof(c->reply), st);
	answer(c);
}

static void on_reached(void *ctx, int err, uint64_t actual_bytes)
{
	struct crosvm_client *c = ctx;

	c->waiting = false;
	if (err)
		answer_err(c, -err);
	else
		answer_ok(c);
}

static bool vm_stopping(struct vm *vm)
{
	return vm->button_pressed || atomic_load(&vm->exit_reason) != VM_EXIT_NONE;
}

static void suspend_vcpus(struct crosvm_client *c)
{
	struct vm *vm = c->cs->vm;

	if (vm_stopping(vm)) {
		answer_err(c, EBUSY);
	} else if (vcpus_pause(vm)) {
		answer_err(c, ETIMEDOUT);	/* they stop as soon as they can */
	} else {
		log_ratelimited(LOG_INFO, "crosvm socket: paused by uid %u", (unsigned)c->uid);
		answer_ok(c);
	}
}

static void power_button(struct crosvm_client *c)
{
	char why[64];

	vcpus_resume(c->cs->vm);	/* a paused guest would not hear it */
	snprintf(why, sizeof(why), "crosvm socket (uid %u)", (unsigned)c->uid);
	vm_press_power_button(c->cs->vm, why);
	answer_ok(c);
}

/* crosvm counts the balloon in 4 KiB pages: num_bytes is rounded down. */
static void balloon_adjust(struct crosvm_client *c, struct balloon_ctl *b,
			   const struct crosvm_request *req)
{
	int r = balloon_ctl_set_target(b, req->num_bytes & ~(uint64_t)(PAGE_SIZE - 1));

	if (!r && req->wait_for_success)
		r = balloon_ctl_wait(b, CROSVM_ADJUST_WAIT_MS, on_reached, c);
	if (r) {
		answer_err(c, -r);
	} else if (!req->wait_for_success) {
		answer_ok(c);
	} else {
		c->waiting = true;
		watch(c);
	}
}

static void balloon_stats(struct crosvm_client *c, struct balloon_ctl *b)
{
	int r = balloon_ctl_stats(b, CROSVM_STATS_TIMEOUT_MS, on_stats, c);

	if (r) {
		answer_err(c, -r);
	} else {
		c->waiting = true;
		watch(c);
	}
}

static void run_balloon(struct crosvm_client *c, const struct crosvm_request *req)
{
	struct balloon_ctl *b = vm_balloon(c->cs->vm);

	if (!b)
		answer_err(c, ENODEV);	/* no [balloon] */
	else if (req->op == CROSVM_BALLOON_ADJUST)
		balloon_adjust(c, b, req);
	else
		balloon_stats(c, b);
}

static void run_request(struct crosvm_client *c, const struct crosvm_request *req)
{
	struct vm *vm = c->cs->vm;

	switch (req->op) {
	case CROSVM_EXIT:
		log_ratelimited(LOG_INFO, "crosvm socket: exit requested by uid %u", (unsigned)c->uid);
		vm_request_exit(vm, VM_EXIT_STOPPED);
		answer_ok(c);
		break;
	case CROSVM_POWERBTN:
		power_button(c);
		break;
	case CROSVM_SUSPEND_VCPUS:
		suspend_vcpus(c);
		break;
	case CROSVM_RESUME_VCPUS:
		vcpus_resume(vm);
		answer_ok(c);
		break;
	case CROSVM_BALLOON_ADJUST:
	case CROSVM_BALLOON_STATS:
		run_balloon(c, req);
		break;
	}
}

static void handle(struct crosvm_client *c, const char *in, size_t len)
{
	struct crosvm_request req;
	int r = crosvm_parse_request(in, len, &req);

	if (!r) {
		run_request(c, &req);
		return;
	}
	log_ratelimited(LOG_WARN, "crosvm socket: %s request from uid %u (%zu bytes)",
			r == -EOPNOTSUPP ? "unsupported" : "malformed", (unsigned)c->uid, len);
	answer_err(c, -r);
}

/* One datagram, one request; fds a client passes are closed by the kernel
 * (no room for them: MSG_CTRUNC). */
static void receive(struct crosvm_client *c)
{
	char buf[CROSVM_REQUEST_MAX];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	do
		n = recvmsg(c->fd, &msg, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		watch(c);
	} else if (n <= 0) {
		drop_client(c);	/* gone (an empty datagram counts as gone) */
	} else if (msg.msg_flags & MSG_TRUNC) {
		log_ratelimited(LOG_WARN, "crosvm socket: request over %d bytes from uid %u",
				CROSVM_REQUEST_MAX, (unsigned)c->uid);
		answer_err(c, EMSGSIZE);
	} else {
		handle(c, buf, (size_t)n);
	}
}

static void on_client(struct vm *vm, void *ctx, short revents)
{
	struct crosvm_client *c = ctx;

	if (c->reply_len)
		answer(c);
	else if (!c->waiting)
		receive(c);
}

/*
 * Closing a SEQPACKET socket with a request unread resets the peer, which
 * then loses the reply queued for it: so no more requests may come in
 * (shutdown), those that came are dropped, and then it is closed.
 */
static void close_answered(int fd)
{
	char byte;

	shutdown(fd, SHUT_RDWR);
	while (recv(fd, &byte, 1, MSG_DONTWAIT) > 0)
		;
	close(fd);
}

static void refuse(int fd, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void refuse(int fd, int err, const char *fmt, ...)
{
	char msg[256], reply[32];
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_ratelimited(LOG_WARN, "crosvm socket: %s", msg);
	len = crosvm_reply_err(reply, sizeof(reply), err);
	(void)!send(fd, reply, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	close_answered(fd);
}

static struct crosvm_client *free_slot(struct crosvm_socket *cs)
{
	for (unsigned i = 0; i < CROSVM_MAX_CLIENTS; i++)
		if (cs->clients[i].fd < 0)
			return &cs->clients[i];
	return NULL;
}

void crosvm_socket_add_client(struct crosvm_socket *cs, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct crosvm_client *c;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
		refuse(fd, EACCES, "cannot tell who connected: %s", strerror(errno));
	} else if (cred.uid != 0 && cred.uid != cs->uid) {
		refuse(fd, EACCES, "permission denied: uid %u is not allowed to control VM %s",
		       (unsigned)cred.uid, cs->name);
	} else if (!cs->vm || !(c = free_slot(cs)) || vm_watch(cs->vm, fd, POLLIN, on_client, c)) {
		refuse(fd, EBUSY, "too many connections (at most %d)", CROSVM_MAX_CLIENTS);
	} else {
		*c = (struct crosvm_client){ .cs = cs, .fd = fd, .uid = cred.uid };
	}
}

static void on_listen(struct vm *vm, void *ctx, short revents)
{
	struct crosvm_socket *cs = ctx;

	for (int i = 0; i < CROSVM_MAX_CLIENTS; i++) {
		int fd = accept4(cs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_ratelimited(LOG_WARN, "crosvm socket: accept: %s", strerror(errno));
			return;
		}
		crosvm_socket_add_client(cs, fd);
	}
}

int crosvm_socket_open(struct crosvm_socket *cs, struct runtime_dir *rd, const char *name,
		       char *err, size_t errlen)
{
	memset(cs, 0, sizeof(*cs));
	for (unsigned i = 0; i < CROSVM_MAX_CLIENTS; i++)
		cs->clients[i].fd = -1;
	cs->uid = rd->uid;
	cs->name = name;
	cs->listen_fd = runtime_dir_listen_type(rd, "crosvm.socket", SOCK_SEQPACKET, err, errlen);
	return cs->listen_fd < 0 ? -1 : 0;
}

/*
 * A reboot destroyed the balloon a client was waiting for: it is told
 * ENODEV, as for a device that went away, rather than left hanging.
 */
void crosvm_socket_attach(struct crosvm_socket *cs, struct vm *vm)
{
	cs->vm = vm;
	vm_watch(vm, cs->listen_fd, POLLIN, on_listen, cs);
	for (unsigned i = 0; i < CROSVM_MAX_CLIENTS; i++) {
		struct crosvm_client *c = &cs->clients[i];

		if (c->fd < 0)
			continue;
		if (c->waiting) {
			c->waiting = false;
			c->reply_len = crosvm_reply_err(c->reply, sizeof(c->reply), ENODEV);
		}
		answer(c);
	}
}

void crosvm_socket_close(struct crosvm_socket *cs)
{
	if (cs->listen_fd < 0)
		return;		/* never opened: no clients either */
	for (unsigned i = 0; i < CROSVM_MAX_CLIENTS; i++) {
		if (cs->clients[i].fd >= 0)
			close(cs->clients[i].fd);
		cs->clients[i].fd = -1;
	}
	if (cs->listen_fd >= 0)
		close(cs->listen_fd);
	cs->listen_fd = -1;
	cs->vm = NULL;
}
