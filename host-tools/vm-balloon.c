/*
 * vm-balloon: set a VM's balloon (the memory taken from its guest) or show
 * the guest's memory stats, over its control.socket.
 *
 *   vm-balloon [--runtime-dir DIR] NAME [SIZE[K|M|G]] [--wait S]
 *   vm-balloon [--runtime-dir DIR] NAME [--stats] [--json]
 *
 * Exit status: 0 done, 1 anything else (not running, not allowed, no
 * balloon, the wait ran out, bad arguments).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-tools/control_client.h"
#include "host-tools/vm_balloon_args.h"

#define REPLY_TIMEOUT_MS 10000	/* besides --wait */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vm-balloon [--runtime-dir DIR] NAME [SIZE[K|M|G]] [--wait S]\n"
		"       vm-balloon [--runtime-dir DIR] NAME [--stats] [--json]\n"
		"With SIZE, sets the balloon of the VM NAME to SIZE bytes: that much memory is\n"
		"taken from the guest and given back to the host (0: none taken). Without,\n"
		"shows the balloon's size and the guest's memory stats.\n"
		"  --runtime-dir DIR  where the VMs' sockets are (default %s)\n"
		"  --wait S           wait up to S seconds for the guest to reach SIZE\n"
		"  --stats            show (the default without SIZE)\n"
		"  --json             show the VMM's reply as it came, one JSON line\n"
		"Exit status: 0 done, 1 error (not running, no balloon, the wait ran out).\n",
		VMSILO_DEFAULT_RUNTIME_DIR);
}

static void connect_or_die(struct ctl_conn *c, const struct balloon_options *o)
{
	if (!ctl_connect(c, o->runtime_dir, o->name))
		return;
	if (errno == ENOENT || errno == ECONNREFUSED)
		fprintf(stderr, "vm-balloon: %s is not running (nothing answers on %s)\n", o->name,
			c->path);
	else if (errno == EPERM)
		fprintf(stderr, "vm-balloon: refusing %s: not the VM's socket (a link, or someone "
			"else's)\n", c->path);
	else
		fprintf(stderr, "vm-balloon: %s: %s\n", c->path, strerror(errno));
	exit(1);
}

static bool byte_valued(const char *stat)
{
	return !strstr(stat, "faults") && strncmp(stat, "hugetlb_", 8);
}

static void print_value(const char *key, const struct json_field *f, bool bytes)
{
	char human[32];

	if (f->type != JSON_INT) {
		printf("%-20s -\n", key);
		return;
	}
	if (!bytes || f->num < 0) {
		printf("%-20s %" PRId64 "\n", key, f->num);
		return;
	}
	balloon_format_bytes((uint64_t)f->num, human, sizeof(human));
	printf("%-20s %s (%" PRId64 ")\n", key, human, f->num);
}

/* The reply's "stats" object, one line per stat, in the VMM's order. */
static void print_stats(const struct json_field *stats)
{
	static struct json_object obj;

	if (!stats || stats->type != JSON_SKIPPED ||
	    json_parse(stats->raw, stats->raw_len, &obj, NULL, 0)) {
		printf("%-20s none\n", "stats");
		return;
	}
	for (unsigned i = 0; i < obj.nr_fields; i++)
		print_value(obj.fields[i].key, &obj.fields[i], byte_valued(obj.fields[i].key));
}

static void show(const struct ctl_conn *c, const struct json_object *reply, bool json)
{
	const struct json_field *actual = json_get(reply, "balloon_actual");
	bool stale = false;
	int64_t age = 0;

	if (json) {
		printf("%s\n", c->line);
		return;
	}
	if (actual)
		print_value("balloon", actual, true);
	json_get_bool(reply, "stale", &stale);
	if (json_get_int(reply, "age", &age))
		printf("%-20s %s, %" PRId64 " s old\n", "stats age", stale ? "stale" : "fresh", age);
	print_stats(json_get(reply, "stats"));
}

int main(int argc, char **argv)
{
	static struct json_object reply;
	struct balloon_options o;
	struct ctl_conn c;
	char err[256], request[256];
	const char *error;
	int rc = balloon_parse_args(argc, argv, &o, err, sizeof(err));
	long timeout_ms = REPLY_TIMEOUT_MS;

	if (rc) {
		if (rc > 0) {
			usage(stdout);
			return 0;
		}
		fprintf(stderr, "vm-balloon: %s\n", err);
		return 1;
	}
	if (balloon_request(&o, request, sizeof(request)))
		return 1;
	if (o.wait > 0)
		timeout_ms += o.wait * 1000;
	connect_or_die(&c, &o);
	rc = ctl_request_json(&c, request, &reply, (int)timeout_ms);
	if (rc < 0) {
		fprintf(stderr, "vm-balloon: %s: no answer: %s\n", o.name, strerror(errno));
		return 1;
	}
	if (rc == 0) {
		error = json_get_string(&reply, "error");
		fprintf(stderr, "vm-balloon: %s: %s\n", o.name, error ? error : "refused");
		return 1;
	}
	if (!o.set)
		show(&c, &reply, o.json);
	ctl_close(&c);
	return 0;
}
