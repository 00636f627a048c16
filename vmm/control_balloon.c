/*
 * The control socket's balloon commands: balloon (set the size, maybe wait
 * until reached), balloon_stats (never hangs: a timeout, then the last
 * stats marked stale) and subscribe (balloon events as lines). Replies
 * that wait are deferred: the client's later lines wait for them, and a
 * client that leaves cancels them (control.c drop_client).
 */
#include <errno.h>
#include <string.h>

#include "vmm/balloon_ctl.h"
#include "vmm/control_internal.h"
#include "vmm/vm.h"

#define MAX_WAIT_S CONTROL_BALLOON_MAX_WAIT_S
#define MAX_STATS_TIMEOUT_S 60
#define DEFAULT_STATS_TIMEOUT_S 1
#define PAGE 4096u

static size_t finish(struct json_writer *w, char *buf, size_t size)
{
	int len = json_finish(w);

	return len < 0 ? control_reply_error(buf, size, "internal error: reply does not fit") :
			 (size_t)len;
}

static size_t reply_sizes(struct balloon_ctl *b, char *buf, size_t size)
{
	struct json_writer w;

	control_reply_start(&w, buf, size, true);
	json_add_int(&w, "bytes", (int64_t)balloon_ctl_target(b));
	json_add_int(&w, "balloon_actual", (int64_t)balloon_ctl_actual(b));
	return finish(&w, buf, size);
}

static void on_reached(void *ctx, int err, uint64_t actual)
{
	struct control_client *c = ctx;
	char line[CONTROL_REPLY_MAX];
	size_t len;

	if (err)
		len = control_reply_error(line, sizeof(line), "balloon: %s (the balloon is at %llu bytes)",
					  err == -ETIMEDOUT ? "the guest did not reach the size in time" :
					  "the device went away", (unsigned long long)actual);
	else
		len = reply_sizes(vm_balloon(c->ctl->vm), line, sizeof(line));
	control_client_push(c, line, len, true);
}

static bool get_seconds(const struct json_object *req, const char *key, unsigned max,
			unsigned *out)
{
	int64_t v;

	if (!json_get(req, key))
		return true;
	if (!json_get_int(req, key, &v) || v < 0 || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

static size_t balloon_set(struct balloon_ctl *b, struct control_client *from,
			  const struct json_object *req, char *buf, size_t size)
{
	unsigned wait = 0;
	int64_t bytes;
	int rc;

	if (!json_get_int(req, "bytes", &bytes) || bytes < 0)
		return control_reply_error(buf, size, "balloon needs \"bytes\": the balloon's size, "
					   "a whole number of bytes >= 0");
	if (!get_seconds(req, "wait", MAX_WAIT_S, &wait))
		return control_reply_error(buf, size, "\"wait\" is seconds, 0..%d", MAX_WAIT_S);
	if (wait && !from)
		return control_reply_error(buf, size, "\"wait\" needs a connection");
	rc = balloon_ctl_set_target(b, (uint64_t)bytes / PAGE * PAGE);
	if (rc == -EINVAL)
		return control_reply_error(buf, size, "balloon: %lld bytes is more than guest RAM",
					   (long long)bytes);
	if (rc)
		return control_reply_error(buf, size, "balloon: the device refused: %s", strerror(-rc));
	if (!wait)
		return reply_sizes(b, buf, size);
	if (balloon_ctl_wait(b, wait * 1000, on_reached, from))
		return control_reply_error(buf, size, "balloon: too many waiting; try again");
	from->pending = true;
	return 0;
}

static void on_stats(void *ctx, const struct balloon_stats *st)
{
	struct control_client *c = ctx;
	char line[CONTROL_REPLY_MAX];
	struct json_writer w;

	control_reply_start(&w, line, sizeof(line), true);
	json_add_int(&w, "balloon_actual", (int64_t)st->actual_bytes);
	json_add_bool(&w, "stale", st->stale);
	json_add_int(&w, "age", (int64_t)(st->age_ms / 1000));
	json_open(&w, "stats", '{');
	for (unsigned i = 0; i < BALLOON_NR_STATS; i++) {
		if (st->present & (1u << i))
			json_add_int(&w, balloon_stat_name(i), (int64_t)st->value[i]);
		else
			json_add_null(&w, balloon_stat_name(i));
	}
	json_close(&w, '}');
	control_client_push(c, line, finish(&w, line, sizeof(line)), true);
}

static size_t balloon_stats(struct balloon_ctl *b, struct control_client *from,
			    const struct json_object *req, char *buf, size_t size)
{
	unsigned timeout = DEFAULT_STATS_TIMEOUT_S;

	if (!get_seconds(req, "timeout", MAX_STATS_TIMEOUT_S, &timeout))
		return control_reply_error(buf, size, "\"timeout\" is seconds, 0..%d",
					   MAX_STATS_TIMEOUT_S);
	if (!from)
		return control_reply_error(buf, size, "balloon_stats needs a connection");
	if (balloon_ctl_stats(b, timeout * 1000, on_stats, from))
		return control_reply_error(buf, size, "balloon_stats: too many waiting; try again");
	from->pending = true;
	return 0;
}

static void on_event(void *ctx, enum balloon_event ev, uint64_t actual)
{
	struct control_client *c = ctx;
	char line[256];
	struct json_writer w;
	int len;

	json_start(&w, line, sizeof(line));
	json_add_int(&w, "version", CONTROL_PROTOCOL_VERSION);
	json_add_string(&w, "event", ev == BALLOON_EVENT_TARGET_REACHED ?
			"balloon_target_reached" : "balloon_deflated_on_oom");
	json_add_int(&w, "balloon_actual", (int64_t)actual);
	len = json_finish(&w);
	if (len > 0)
		control_client_push(c, line, (size_t)len, false);
}

static size_t subscribe(struct balloon_ctl *b, struct control_client *from,
			const struct json_object *req, char *buf, size_t size)
{
	const char *events = json_get_string(req, "events");
	struct json_writer w;

	if (!events || strcmp(events, "balloon"))
		return control_reply_error(buf, size, "subscribe needs \"events\":\"balloon\"");
	if (!from)
		return control_reply_error(buf, size, "subscribe needs a connection");
	if (!from->subscribed && balloon_ctl_subscribe(b, on_event, from))
		return control_reply_error(buf, size, "subscribe: too many subscribers");
	from->subscribed = true;
	control_reply_start(&w, buf, size, true);
	json_add_string(&w, "events", "balloon");
	return finish(&w, buf, size);
}

size_t control_balloon(struct control *ctl, struct control_client *from,
		       const struct json_object *req, const char *command, char *buf, size_t size)
{
	struct balloon_ctl *b = ctl->vm ? vm_balloon(ctl->vm) : NULL;

	if (!b)
		return control_reply_error(buf, size, "this VM has no balloon (add [balloon])");
	if (!strcmp(command, "balloon"))
		return balloon_set(b, from, req, buf, size);
	if (!strcmp(command, "balloon_stats"))
		return balloon_stats(b, from, req, buf, size);
	if (!strcmp(command, "subscribe"))
		return subscribe(b, from, req, buf, size);
	return control_reply_error(buf, size, "unknown command \"%s\"", command);
}
