/*
 * libFuzzer harness for crosvm.socket's request parser (vmm/crosvm_wire.c):
 * the input is one datagram a local client sends. The parser must answer
 * 0, -EINVAL or -EOPNOTSUPP, with a request it can name; then the input's
 * bytes become balloon stats, and the stats reply must be the documented
 * shape, read back with the JSON parser.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/crosvm_wire.h"
#include "vmm/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct json_object obj;

static void check_request(const uint8_t *data, size_t size)
{
	struct crosvm_request req;
	int r = crosvm_parse_request((const char *)data, size, &req);

	if (r && r != -EINVAL && r != -EOPNOTSUPP)
		abort();
	if (!r && req.op > CROSVM_BALLOON_STATS)
		abort();
	if (!r && req.op != CROSVM_BALLOON_ADJUST && (req.num_bytes || req.wait_for_success))
		abort();
}

/* The stats from the input; values kept below 2^63, all the JSON reader takes. */
static void stats_from(const uint8_t *data, size_t size, struct balloon_stats *st)
{
	uint8_t bytes[sizeof(st->value) + sizeof(st->present) + sizeof(st->actual_bytes)] = { 0 };

	memcpy(bytes, data, size < sizeof(bytes) ? size : sizeof(bytes));
	memcpy(st->value, bytes, sizeof(st->value));
	memcpy(&st->present, bytes + sizeof(st->value), sizeof(st->present));
	memcpy(&st->actual_bytes, bytes + sizeof(st->value) + sizeof(st->present),
	       sizeof(st->actual_bytes));
	for (unsigned i = 0; i < BALLOON_NR_STATS; i++)
		st->value[i] &= INT64_MAX;
	st->actual_bytes &= INT64_MAX;
}

static const struct json_field *only(const char *raw, size_t len, const char *key)
{
	if (json_parse(raw, len, &obj, NULL, 0) || obj.nr_fields < 1 || strcmp(obj.fields[0].key, key))
		abort();
	return &obj.fields[0];
}

static void check_stats_reply(const uint8_t *data, size_t size)
{
	struct balloon_stats st = { 0 };
	char reply[CROSVM_REPLY_MAX];
	const struct json_field *f;
	size_t len;
	int64_t actual;

	stats_from(data, size, &st);
	len = crosvm_reply_stats(reply, sizeof(reply), &st);
	if (!len)
		abort();	/* every reply fits */
	f = only(reply, len, "BalloonStats");
	if (obj.nr_fields != 1 || f->type != JSON_SKIPPED)
		abort();
	f = only(f->raw, f->raw_len, "stats");
	if (obj.nr_fields != 2 || !json_get_int(&obj, "balloon_actual", &actual) ||
	    (uint64_t)actual != st.actual_bytes || f->type != JSON_SKIPPED)
		abort();
	if (json_parse(f->raw, f->raw_len, &obj, NULL, 0) || obj.nr_fields != BALLOON_NR_STATS)
		abort();
	for (unsigned i = 0; i < BALLOON_NR_STATS; i++) {
		bool present = st.present & (1u << i);
		const struct json_field *v = &obj.fields[i];

		if (v->type != (present ? JSON_INT : JSON_NULL) ||
		    (present && (uint64_t)v->num != st.value[i]))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_request(data, size);
	check_stats_reply(data, size);
	return 0;
}
