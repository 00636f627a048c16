#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "host-tools/control_client.h"
#include "host-tools/vm_socket.h"

int vm_runtime_path(char *out, size_t size, const char *runtime_dir, const char *name,
		    const char *file)
{
	int n = snprintf(out, size, "%s/%s/%s", runtime_dir, name, file);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int ctl_connect(struct ctl_conn *c, const char *runtime_dir, const char *name)
{
	c->len = 0;
	c->fd = -1;
	if (vm_runtime_path(c->path, sizeof(c->path), runtime_dir, name, "control.socket")) {
		errno = ENAMETOOLONG;
		return -1;
	}
	c->fd = vm_socket_connect(runtime_dir, name, "control.socket");
	return c->fd < 0 ? -1 : 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits for more bytes: 1 got some, 0 the peer closed, -1 timeout/error. */
static int receive(struct ctl_conn *c, long long deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	long long left = deadline - now_ms();
	ssize_t n;

	if (left < 0)
		left = 0;
	if (poll(&pfd, 1, (int)(left > 1000000 ? 1000000 : left)) <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (c->len == sizeof(c->buf))
		c->len = 0;	/* a line longer than any reply: drop it */
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n < 0 && errno == EINTR)
		return 1;
	if (n <= 0)
		return n == 0 ? 0 : -1;
	c->len += (size_t)n;
	return 1;
}

int ctl_request(struct ctl_conn *c, const char *command, struct json_object *reply,
		int timeout_ms)
{
	char line[128];

	snprintf(line, sizeof(line), "{\"version\":1,\"command\":\"%s\"}", command);
	return ctl_request_json(c, line, reply, timeout_ms);
}

/* The first reply line, into c->line and parsed; -1 with errno. */
static int take_reply(struct ctl_conn *c, size_t n, struct json_object *reply, bool *ok)
{
	char err[96];
	int rc = -1;

	if (n < sizeof(c->line)) {
		memcpy(c->line, c->buf, n);
		c->line[n] = '\0';
		rc = json_parse(c->line, n, reply, err, sizeof(err));
	}
	memmove(c->buf, c->buf + n + 1, c->len - n - 1);
	c->len -= n + 1;
	if (rc || !json_get_bool(reply, "ok", ok)) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

int ctl_request_json(struct ctl_conn *c, const char *request, struct json_object *reply,
		     int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	size_t len = strlen(request);
	bool ok = false;

	/* A VMM that refuses us writes why and closes, maybe before our
	 * request arrives: after EPIPE its line may still be there to read. */
	if ((send(c->fd, request, len, MSG_NOSIGNAL | MSG_MORE) != (ssize_t)len ||
	     send(c->fd, "\n", 1, MSG_NOSIGNAL) != 1) && errno != EPIPE && errno != ECONNRESET)
		return -1;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		int rc;

		if (nl) {
			if (take_reply(c, (size_t)(nl - c->buf), reply, &ok))
				return -1;
			return ok ? 1 : 0;
		}
		rc = receive(c, deadline);
		if (rc <= 0) {
			if (rc == 0)
				errno = ECONNRESET;
			return -1;
		}
	}
}

int ctl_wait_closed(struct ctl_conn *c, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		int rc = receive(c, deadline);

		if (rc == 0 || (rc < 0 && errno != ETIMEDOUT))
			return 0;	/* closed (or reset, as good as closed) */
		if (rc < 0)
			return -1;
		c->len = 0;
	}
}

void ctl_close(struct ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
