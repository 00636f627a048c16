#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-tools/control_client.h"
#include "host-tools/vm_balloon_args.h"
#include "host-tools/vm_socket.h"
#include "vmm/errfmt.h"

#define STATS_TIMEOUT_S 1	/* the VMM's wait for the guest; then the last stats */

static uint64_t suffix_multiplier(char c)
{
	switch (c) {
	case 'K': case 'k': return 1ULL << 10;
	case 'M': case 'm': return 1ULL << 20;
	case 'G': case 'g': return 1ULL << 30;
	default: return 0;
	}
}

int balloon_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return -1;
	if (*p) {
		mult = suffix_multiplier(*p);
		if (!mult || p[1])
			return -1;
	}
	if (v > INT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static int parse_wait(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno || end == s || *end || *out < 0 || *out > CONTROL_BALLOON_MAX_WAIT_S ? -1 : 0;
}

/* An option with its value, as "--opt V" or "--opt=V"; NULL if argv[*i] is not it. */
static const char *option_value(int argc, char **argv, int *i, const char *opt)
{
	size_t n = strlen(opt);

	if (!strcmp(argv[*i], opt))
		return *i + 1 < argc ? argv[++*i] : "";
	if (!strncmp(argv[*i], opt, n) && argv[*i][n] == '=')
		return argv[*i] + n + 1;
	return NULL;
}

static int positional(struct balloon_options *o, const char *a, char *err, size_t errlen)
{
	if (!o->name) {
		o->name = a;
		return 0;
	}
	if (o->set)
		return errfmt(err, errlen, "unexpected argument \"%s\"", a);
	if (balloon_parse_size(a, &o->bytes))
		return errfmt(err, errlen, "SIZE: expected bytes with an optional K, M or G "
			      "(e.g. 256M), got \"%s\"", a);
	o->set = true;
	return 0;
}

static int check_options(const struct balloon_options *o, bool stats, char *err, size_t errlen)
{
	if (!o->name)
		return errfmt(err, errlen, "NAME is required");
	if (!vm_name_valid(o->name))
		return errfmt(err, errlen, "\"%s\" is not a VM name ([A-Za-z0-9_.-], 1..64 chars)", o->name);
	if (!vm_runtime_dir_valid(o->runtime_dir))
		return errfmt(err, errlen, "--runtime-dir must be an absolute path, got \"%s\"",
			      o->runtime_dir);
	if (o->set && (stats || o->json))
		return errfmt(err, errlen, "SIZE sets the balloon; --stats and --json show it: "
			      "one or the other");
	if (!o->set && o->wait >= 0)
		return errfmt(err, errlen, "--wait needs a SIZE to wait for");
	return 0;
}

int balloon_parse_args(int argc, char **argv, struct balloon_options *o, char *err, size_t errlen)
{
	bool stats = false, operands = false;
	const char *v;

	*o = (struct balloon_options){ .runtime_dir = VMSILO_DEFAULT_RUNTIME_DIR, .wait = -1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (operands) {
			if (positional(o, a, err, errlen))
				return -1;
		} else if (!strcmp(a, "--")) {
			operands = true;	/* NAME and SIZE only from here */
		} else if ((v = option_value(argc, argv, &i, "--runtime-dir"))) {
			o->runtime_dir = v;
		} else if ((v = option_value(argc, argv, &i, "--wait"))) {
			if (parse_wait(v, &o->wait))
				return errfmt(err, errlen, "--wait: expected seconds (0..%d), got \"%s\"",
					      CONTROL_BALLOON_MAX_WAIT_S, v);
		} else if (!strcmp(a, "--stats")) {
			stats = true;
		} else if (!strcmp(a, "--json")) {
			o->json = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			return 1;
		} else if (a[0] == '-' && a[1]) {
			return errfmt(err, errlen, "unknown option \"%s\" (see --help)", a);
		} else if (positional(o, a, err, errlen)) {
			return -1;
		}
	}
	return check_options(o, stats, err, errlen);
}

int balloon_request(const struct balloon_options *o, char *buf, size_t size)
{
	int n;

	if (!o->set)
		n = snprintf(buf, size, "{\"version\":1,\"command\":\"balloon_stats\",\"timeout\":%d}",
			     STATS_TIMEOUT_S);
	else if (o->wait < 0)
		n = snprintf(buf, size, "{\"version\":1,\"command\":\"balloon\",\"bytes\":%" PRIu64 "}",
			     o->bytes);
	else
		n = snprintf(buf, size, "{\"version\":1,\"command\":\"balloon\",\"bytes\":%" PRIu64
			     ",\"wait\":%ld}", o->bytes, o->wait);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

void balloon_format_bytes(uint64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	unsigned u = 0;

	if (bytes < 1024) {
		snprintf(buf, size, "%" PRIu64 " B", bytes);
		return;
	}
	for (v /= 1024; v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]); v /= 1024)
		u++;
	snprintf(buf, size, "%.1f %s", v, units[u]);
}
