/*
 * libFuzzer harness for the control socket's JSON (vmm/json.c): the input
 * is one request line from a local client. A parse either fails with a
 * reason or gives fields that lie in the object's own text; every string
 * found is written back with the JSON writer and parsed again, and must
 * come back the same.
 */
#include <stdlib.h>
#include <string.h>

#include "vmm/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct json_object obj, again;

static void check_field(const struct json_field *f)
{
	const char *lo = obj.text, *hi = obj.text + sizeof(obj.text);

	if (f->key < lo || f->key >= hi || strlen(f->key) >= (size_t)(hi - f->key))
		abort();
	if (f->type == JSON_STRING && (f->str < lo || f->str >= hi))
		abort();
	if (json_get(&obj, f->key) == NULL)
		abort();
}

/* Writes the object's scalar members out and reads them back. */
static void round_trip(void)
{
	static char line[2 * JSON_MAX_LINE + 2];
	struct json_writer w;
	char err[96];
	int len;

	json_start(&w, line, sizeof(line));
	for (unsigned i = 0; i < obj.nr_fields; i++) {
		const struct json_field *f = &obj.fields[i];

		if (f->type == JSON_STRING)
			json_add_string(&w, f->key, f->str);
		else if (f->type == JSON_INT)
			json_add_int(&w, f->key, f->num);
		else if (f->type == JSON_BOOL)
			json_add_bool(&w, f->key, f->boolean);
	}
	len = json_finish(&w);
	if (len < 0 || (size_t)len > JSON_MAX_LINE)
		return;		/* escapes can make it longer than a request may be */
	if (line[len - 1] != '\n' || json_parse(line, (size_t)len - 1, &again, err, sizeof(err)))
		abort();
	for (unsigned i = 0; i < obj.nr_fields; i++) {
		const struct json_field *f = &obj.fields[i];
		const struct json_field *g = json_get(&again, f->key);

		if (f->type == JSON_SKIPPED || f->type == JSON_NULL || json_get(&obj, f->key) != f)
			continue;	/* not written; or a duplicate key */
		if (!g || g->type != f->type)
			abort();
		if ((f->type == JSON_STRING && strcmp(f->str, g->str)) ||
		    (f->type == JSON_INT && f->num != g->num) ||
		    (f->type == JSON_BOOL && f->boolean != g->boolean))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[96] = "";

	if (json_parse((const char *)data, size, &obj, err, sizeof(err))) {
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			abort();
		return 0;
	}
	if (obj.nr_fields > JSON_MAX_FIELDS || obj.text_used > sizeof(obj.text))
		abort();
	for (unsigned i = 0; i < obj.nr_fields; i++)
		check_field(&obj.fields[i]);
	round_trip();
	return 0;
}
