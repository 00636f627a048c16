#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmm/crosvm_wire.h"

/* A datagram is one request, but a client may send it with whitespace. */
static bool starts_with_quote(const char *in, size_t len)
{
	while (len && (*in == ' ' || *in == '\t' || *in == '\n' || *in == '\r'))
		in++, len--;
	return len && *in == '"';
}

static int parse_unit(const char *name, struct crosvm_request *req)
{
	static const struct { const char *name; enum crosvm_op op; } units[] = {
		{ "Exit", CROSVM_EXIT },
		{ "Powerbtn", CROSVM_POWERBTN },
		{ "SuspendVcpus", CROSVM_SUSPEND_VCPUS },
		{ "ResumeVcpus", CROSVM_RESUME_VCPUS },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(name, units[i].name)) {
			req->op = units[i].op;
			return 0;
		}
	}
	return -EOPNOTSUPP;
}

/* An externally tagged enum value: an object of exactly one member. */
static const struct json_field *only_member(const struct json_object *obj)
{
	return obj->nr_fields == 1 ? &obj->fields[0] : NULL;
}

static bool is_object(const struct json_field *f)
{
	return f->type == JSON_SKIPPED && f->raw_len && f->raw[0] == '{';
}

/* {"num_bytes":N,"wait_for_success":B}; serde ignores other members, so do we. */
static int parse_adjust(const char *raw, size_t len, struct json_object *obj,
			struct crosvm_request *req)
{
	const struct json_field *wait;
	int64_t bytes;

	if (json_parse(raw, len, obj, NULL, 0) || !json_get_int(obj, "num_bytes", &bytes) ||
	    bytes < 0)
		return -EINVAL;
	wait = json_get(obj, "wait_for_success");
	if (wait && wait->type != JSON_BOOL)
		return -EINVAL;
	req->op = CROSVM_BALLOON_ADJUST;
	req->num_bytes = (uint64_t)bytes;
	req->wait_for_success = wait && wait->boolean;
	return 0;
}

/* "Stats" or {"Adjust":{...}}: the value of "BalloonCommand". */
static int parse_balloon(const struct json_field *f, struct json_object *obj,
			 struct crosvm_request *req)
{
	const char *raw = f->raw;
	size_t len = f->raw_len;

	if (f->type == JSON_STRING) {
		if (strcmp(f->str, "Stats"))
			return -EOPNOTSUPP;
		req->op = CROSVM_BALLOON_STATS;
		return 0;
	}
	if (!is_object(f))
		return -EINVAL;
	/* obj is parsed over: f is not used after this. */
	if (json_parse(raw, len, obj, NULL, 0) || !(f = only_member(obj)))
		return -EINVAL;
	if (strcmp(f->key, "Adjust"))
		return -EOPNOTSUPP;
	if (!is_object(f))
		return -EINVAL;
	return parse_adjust(f->raw, f->raw_len, obj, req);
}

int crosvm_parse_request(const char *in, size_t len, struct crosvm_request *req)
{
	struct json_object obj;
	const struct json_field *f;
	const char *name;

	*req = (struct crosvm_request){ 0 };
	if (starts_with_quote(in, len))
		return json_parse_string(in, len, &obj, &name, NULL, 0) ? -EINVAL :
		       parse_unit(name, req);
	if (json_parse(in, len, &obj, NULL, 0) || !(f = only_member(&obj)))
		return -EINVAL;
	if (strcmp(f->key, "BalloonCommand"))
		return -EOPNOTSUPP;
	return parse_balloon(f, &obj, req);
}

/* snprintf's length, or 0 when it did not fit (nothing is sent then). */
static size_t fitted(int n, size_t size)
{
	return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

size_t crosvm_reply_ok(char *buf, size_t size)
{
	return fitted(snprintf(buf, size, "\"Ok\""), size);
}

size_t crosvm_reply_err(char *buf, size_t size, int err)
{
	return fitted(snprintf(buf, size, "{\"Err\":%d}", err), size);
}

size_t crosvm_reply_stats(char *buf, size_t size, const struct balloon_stats *st)
{
	/* crosvm's BalloonStats, in its order: that of enum balloon_stat. */
	size_t len = fitted(snprintf(buf, size, "{\"BalloonStats\":{\"stats\":{"), size);

	for (unsigned i = 0; i < BALLOON_NR_STATS && len; i++) {
		const char *sep = i ? "," : "";
		int n = st->present & (1u << i) ?
			snprintf(buf + len, size - len, "%s\"%s\":%" PRIu64, sep, balloon_stat_name(i), st->value[i]) :
			snprintf(buf + len, size - len, "%s\"%s\":null", sep, balloon_stat_name(i));
		size_t added = fitted(n, size - len);

		len = added ? len + added : 0;
	}
	if (len) {
		size_t added = fitted(snprintf(buf + len, size - len, "},\"balloon_actual\":%" PRIu64 "}}",
					       st->actual_bytes), size - len);

		len = added ? len + added : 0;
	}
	return len;
}
