/*
 * The little JSON the control socket speaks: one object per line. The
 * parser keeps the top-level members whose values are strings, integers,
 * booleans or null; nested objects and arrays are checked and skipped
 * (their key is kept, typed JSON_SKIPPED, with their text, which can be
 * parsed again in turn). Input is untrusted: everything
 * is bounded, nothing recurses deeper than JSON_MAX_DEPTH.
 */
#ifndef VMSILO_JSON_H
#define VMSILO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_LINE 4096	/* bytes in one object, without the newline */
#define JSON_MAX_FIELDS 32	/* top-level members */
#define JSON_MAX_DEPTH 8	/* nesting allowed inside a skipped value */

enum json_type { JSON_STRING, JSON_INT, JSON_BOOL, JSON_NULL, JSON_SKIPPED };

struct json_field {
	const char *key;
	enum json_type type;
	const char *str;	/* JSON_STRING, without NULs (\u0000 is refused) */
	int64_t num;		/* JSON_INT */
	bool boolean;		/* JSON_BOOL */
	const char *raw;	/* JSON_SKIPPED: the value's text, in the parsed input */
	size_t raw_len;
};

struct json_object {
	struct json_field fields[JSON_MAX_FIELDS];
	unsigned nr_fields;
	char text[JSON_MAX_LINE + 1];	/* decoded keys and strings */
	size_t text_used;
};

/* Parses exactly one object (surrounding whitespace allowed); -1 with a
 * short reason in err, e.g. "at byte 12: expected ':'". */
int json_parse(const char *in, size_t len, struct json_object *obj, char *err, size_t errlen);
/* Parses a document that is exactly one string (the top level of a bare
 * JSON string, as a crosvm request is); *out is kept in obj's text. */
int json_parse_string(const char *in, size_t len, struct json_object *obj, const char **out,
		      char *err, size_t errlen);
const struct json_field *json_get(const struct json_object *obj, const char *key);
/* NULL / false when the key is absent or has another type. */
const char *json_get_string(const struct json_object *obj, const char *key);
bool json_get_int(const struct json_object *obj, const char *key, int64_t *out);
bool json_get_bool(const struct json_object *obj, const char *key, bool *out);

/*
 * Writes one object into a fixed buffer. A NULL key adds an element to
 * the array being written. Running out of room is remembered and
 * reported by json_finish.
 */
struct json_writer {
	char *buf;
	size_t size, len;
	bool overflow, need_comma;
};

void json_start(struct json_writer *w, char *buf, size_t size);	/* writes '{' */
void json_add_string(struct json_writer *w, const char *key, const char *value);
void json_add_int(struct json_writer *w, const char *key, int64_t value);
void json_add_bool(struct json_writer *w, const char *key, bool value);
void json_add_null(struct json_writer *w, const char *key);
void json_open(struct json_writer *w, const char *key, char bracket);	/* '{' or '[' */
void json_close(struct json_writer *w, char bracket);			/* '}' or ']' */
/* Closes the object and adds '\n'; the line's length, or -1 when it did not fit. */
int json_finish(struct json_writer *w);

#endif
