#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmm/json.h"

struct parser {
	const char *start, *p, *end;
	struct json_object *obj;
	char *err;
	size_t errlen;
};

static int fail(struct parser *ps, const char *what)
{
	if (ps->err && ps->errlen)
		snprintf(ps->err, ps->errlen, "at byte %zu: %s", (size_t)(ps->p - ps->start), what);
	return -1;
}

static bool at_end(const struct parser *ps)
{
	return ps->p >= ps->end;
}

static void skip_space(struct parser *ps)
{
	while (!at_end(ps) && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int expect(struct parser *ps, char c, const char *what)
{
	skip_space(ps);
	if (at_end(ps) || *ps->p != c)
		return fail(ps, what);
	ps->p++;
	skip_space(ps);
	return 0;
}

/* Length of the valid UTF-8 sequence at s, or -1 (overlong, surrogate,
 * beyond U+10FFFF, truncated). */
static int utf8_length(const unsigned char *s, size_t avail)
{
	unsigned c = s[0], n, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return -1;
	if (avail < n)
		return -1;
	for (unsigned i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	return (int)n;
}

/* Appends to the decoded text, unless the string is only checked. */
static int emit(struct parser *ps, bool keep, const char *bytes, size_t n)
{
	struct json_object *o = ps->obj;

	if (!keep)
		return 0;
	if (sizeof(o->text) - o->text_used < n + 1)
		return fail(ps, "object too large");
	memcpy(o->text + o->text_used, bytes, n);
	o->text_used += n;
	return 0;
}

static int hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - ps->p < 4)
		return fail(ps, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = *ps->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return fail(ps, "bad hex digit in \\u escape");
	}
	*out = v;
	return 0;
}

static size_t utf8_encode(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int unicode_escape(struct parser *ps, bool keep)
{
	unsigned cp, low;
	char utf8[4];

	if (hex4(ps, &cp))
		return -1;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(ps, "lone low surrogate in \\u escape");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
			return fail(ps, "high surrogate without its low half");
		ps->p += 2;
		if (hex4(ps, &low))
			return -1;
		if (low < 0xdc00 || low > 0xdfff)
			return fail(ps, "high surrogate without its low half");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
	}
	if (cp == 0)
		return fail(ps, "\\u0000 is not allowed");
	return emit(ps, keep, utf8, utf8_encode(cp, utf8));
}

static int escape(struct parser *ps, bool keep)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;

	if (at_end(ps))
		return fail(ps, "unterminated string");
	if (*ps->p == 'u') {
		ps->p++;
		return unicode_escape(ps, keep);
	}
	hit = *ps->p ? strchr(from, *ps->p) : NULL;
	if (!hit)
		return fail(ps, "unknown escape in a string");
	ps->p++;
	return emit(ps, keep, &to[hit - from], 1);
}

/* A string; kept (NUL-terminated, in obj->text) when out is not NULL. */
static int parse_string(struct parser *ps, const char **out)
{
	const char *start = ps->obj->text + ps->obj->text_used;
	bool keep = out != NULL;

	if (at_end(ps) || *ps->p != '"')
		return fail(ps, "expected a string");
	ps->p++;
	for (;;) {
		unsigned char c;
		int n;

		if (at_end(ps))
			return fail(ps, "unterminated string");
		c = (unsigned char)*ps->p;
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(ps, "control character in a string");
		if (c == '\\') {
			ps->p++;
			if (escape(ps, keep))
				return -1;
			continue;
		}
		n = utf8_length((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
		if (n < 0)
			return fail(ps, "invalid UTF-8 in a string");
		if (emit(ps, keep, ps->p, (size_t)n))
			return -1;
		ps->p += n;
	}
	ps->p++;
	if (out) {
		if (emit(ps, keep, "", 1))
			return -1;
		*out = start;
	}
	return 0;
}

static int parse_int(struct parser *ps, int64_t *out)
{
	bool negative = *ps->p == '-';
	uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
	const char *digits;

	if (negative)
		ps->p++;
	digits = ps->p;
	while (!at_end(ps) && *ps->p >= '0' && *ps->p <= '9') {
		unsigned d = (unsigned)(*ps->p - '0');

		if (v > (limit - d) / 10)
			return fail(ps, "integer out of range");
		v = v * 10 + d;
		ps->p++;
	}
	if (ps->p == digits)
		return fail(ps, "expected a digit");
	if (*digits == '0' && ps->p - digits > 1)
		return fail(ps, "leading zero in a number");
	if (!at_end(ps) && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E'))
		return fail(ps, "only integers are supported");
	*out = negative ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static bool literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return false;
	ps->p += n;
	return true;
}

static int skip_container(struct parser *ps, unsigned depth);

/* One value; stored in f, or only checked when f is NULL. */
static int parse_value(struct parser *ps, unsigned depth, struct json_field *f)
{
	struct json_field ignored;

	if (!f)
		f = &ignored;
	if (at_end(ps))
		return fail(ps, "expected a value");
	switch (*ps->p) {
	case '"':
		f->type = JSON_STRING;
		return parse_string(ps, f == &ignored ? NULL : &f->str);
	case '{':
	case '[':
		f->type = JSON_SKIPPED;
		f->raw = ps->p;
		if (depth >= JSON_MAX_DEPTH)
			return fail(ps, "nested too deeply");
		if (skip_container(ps, depth + 1))
			return -1;
		f->raw_len = (size_t)(ps->p - f->raw);
		return 0;
	case 't':
	case 'f':
		f->type = JSON_BOOL;
		f->boolean = *ps->p == 't';
		return literal(ps, f->boolean ? "true" : "false") ? 0 : fail(ps, "expected a value");
	case 'n':
		f->type = JSON_NULL;
		return literal(ps, "null") ? 0 : fail(ps, "expected a value");
	default:
		f->type = JSON_INT;
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_int(ps, &f->num);
		return fail(ps, "expected a value");
	}
}

static int skip_container(struct parser *ps, unsigned depth)
{
	bool object = *ps->p == '{';
	char close = object ? '}' : ']';

	ps->p++;
	skip_space(ps);
	if (!at_end(ps) && *ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		if (object && (parse_string(ps, NULL) || expect(ps, ':', "expected ':'")))
			return -1;
		if (parse_value(ps, depth, NULL))
			return -1;
		skip_space(ps);
		if (!at_end(ps) && *ps->p == close) {
			ps->p++;
			return 0;
		}
		if (expect(ps, ',', object ? "expected ',' or '}'" : "expected ',' or ']'"))
			return -1;
	}
}

static int parse_member(struct parser *ps)
{
	struct json_object *o = ps->obj;
	struct json_field *f = &o->fields[o->nr_fields];
	const char *key;

	if (o->nr_fields == JSON_MAX_FIELDS)
		return fail(ps, "too many members");
	if (parse_string(ps, &key))
		return -1;
	if (json_get(o, key))
		return fail(ps, "duplicate key");
	if (expect(ps, ':', "expected ':'") || parse_value(ps, 1, f))
		return -1;
	f->key = key;
	o->nr_fields++;
	return 0;
}

int json_parse(const char *in, size_t len, struct json_object *obj, char *err, size_t errlen)
{
	struct parser ps = { .start = in, .p = in, .end = in + len, .obj = obj,
			     .err = err, .errlen = errlen };

	obj->nr_fields = 0;
	obj->text_used = 0;
	if (len > JSON_MAX_LINE)
		return fail(&ps, "line too long");
	if (expect(&ps, '{', "expected '{'"))
		return -1;
	if (!at_end(&ps) && *ps.p == '}') {
		ps.p++;
	} else {
		for (;;) {
			if (parse_member(&ps))
				return -1;
			skip_space(&ps);
			if (!at_end(&ps) && *ps.p == '}') {
				ps.p++;
				break;
			}
			if (expect(&ps, ',', "expected ',' or '}'"))
				return -1;
		}
	}
	skip_space(&ps);
	return at_end(&ps) ? 0 : fail(&ps, "unexpected data after the object");
}

int json_parse_string(const char *in, size_t len, struct json_object *obj, const char **out,
		      char *err, size_t errlen)
{
	struct parser ps = { .start = in, .p = in, .end = in + len, .obj = obj,
			     .err = err, .errlen = errlen };

	obj->nr_fields = 0;
	obj->text_used = 0;
	if (len > JSON_MAX_LINE)
		return fail(&ps, "line too long");
	skip_space(&ps);
	if (parse_string(&ps, out))
		return -1;
	skip_space(&ps);
	return at_end(&ps) ? 0 : fail(&ps, "unexpected data after the string");
}

const struct json_field *json_get(const struct json_object *obj, const char *key)
{
	for (unsigned i = 0; i < obj->nr_fields; i++)
		if (!strcmp(obj->fields[i].key, key))
			return &obj->fields[i];
	return NULL;
}

const char *json_get_string(const struct json_object *obj, const char *key)
{
	const struct json_field *f = json_get(obj, key);

	return f && f->type == JSON_STRING ? f->str : NULL;
}

bool json_get_int(const struct json_object *obj, const char *key, int64_t *out)
{
	const struct json_field *f = json_get(obj, key);

	if (!f || f->type != JSON_INT)
		return false;
	*out = f->num;
	return true;
}

bool json_get_bool(const struct json_object *obj, const char *key, bool *out)
{
	const struct json_field *f = json_get(obj, key);

	if (!f || f->type != JSON_BOOL)
		return false;
	*out = f->boolean;
	return true;
}

static void put(struct json_writer *w, const char *s, size_t n)
{
	if (w->overflow || w->size - w->len < n + 1) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

/* Control bytes escaped, invalid UTF-8 replaced: the line is always valid JSON. */
static void put_string(struct json_writer *w, const char *s)
{
	size_t len = strlen(s);

	put(w, "\"", 1);
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		int n;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(w, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(w, esc, 6);
		} else if ((n = utf8_length((const unsigned char *)s + i, len - i)) < 0) {
			put(w, "\\ufffd", 6);
		} else {
			put(w, s + i, (size_t)n);
			i += (size_t)n;
			continue;
		}
		i++;
	}
	put(w, "\"", 1);
}

static void begin_item(struct json_writer *w, const char *key)
{
	if (w->need_comma)
		put(w, ",", 1);
	if (key) {
		put_string(w, key);
		put(w, ":", 1);
	}
	w->need_comma = true;
}

void json_start(struct json_writer *w, char *buf, size_t size)
{
	*w = (struct json_writer){ .buf = buf, .size = size, .overflow = size == 0 };
	put(w, "{", 1);
}

void json_add_string(struct json_writer *w, const char *key, const char *value)
{
	begin_item(w, key);
	put_string(w, value);
}

void json_add_int(struct json_writer *w, const char *key, int64_t value)
{
	char num[24];

	begin_item(w, key);
	put(w, num, (size_t)snprintf(num, sizeof(num), "%" PRId64, value));
}

void json_add_bool(struct json_writer *w, const char *key, bool value)
{
	begin_item(w, key);
	put(w, value ? "true" : "false", value ? 4 : 5);
}

void json_add_null(struct json_writer *w, const char *key)
{
	begin_item(w, key);
	put(w, "null", 4);
}

void json_open(struct json_writer *w, const char *key, char bracket)
{
	begin_item(w, key);
	put(w, &bracket, 1);
	w->need_comma = false;
}

void json_close(struct json_writer *w, char bracket)
{
	put(w, &bracket, 1);
	w->need_comma = true;
}

int json_finish(struct json_writer *w)
{
	put(w, "}\n", 2);
	return w->overflow ? -1 : (int)w->len;
}
