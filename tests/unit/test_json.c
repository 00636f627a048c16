/* The control socket's JSON: accepted forms, refused forms, the writer,
 * and random damage to valid lines. */
#include <stdlib.h>

#include "tests/unit/check.h"
#include "vmm/json.h"

static struct json_object obj;
static char err[128];

static int parse(const char *s)
{
	return json_parse(s, strlen(s), &obj, err, sizeof(err));
}

static void test_values(void)
{
	int64_t n = 0;
	bool b = false;

	CHECK_EQ(parse(" {\"version\":1, \"command\" : \"status\",\"force\":true,"
		       "\"x\":null,\"neg\":-42,\"list\":[1,{\"a\":[]},\"s\"],\"o\":{}}\r\n"), 0);
	CHECK_EQ(obj.nr_fields, 7);
	CHECK(json_get_int(&obj, "version", &n));
	CHECK_EQ(n, 1);
	CHECK_STR(json_get_string(&obj, "command"), "status");
	CHECK(json_get_bool(&obj, "force", &b));
	CHECK(b);
	CHECK_EQ(json_get(&obj, "x")->type, JSON_NULL);
	CHECK(json_get_int(&obj, "neg", &n));
	CHECK_EQ(n, -42);
	CHECK_EQ(json_get(&obj, "list")->type, JSON_SKIPPED);
	CHECK_EQ(json_get(&obj, "o")->type, JSON_SKIPPED);
	CHECK(!json_get_string(&obj, "version"));	/* wrong type */
	CHECK(!json_get_int(&obj, "command", &n));
	CHECK(!json_get(&obj, "missing"));
	CHECK_EQ(parse("{}"), 0);
	CHECK_EQ(obj.nr_fields, 0);
	CHECK_EQ(parse("{\"big\":9223372036854775807,\"small\":-9223372036854775808,\"z\":0}"), 0);
	CHECK(json_get_int(&obj, "big", &n));
	CHECK(n == INT64_MAX);
	CHECK(json_get_int(&obj, "small", &n));
	CHECK(n == INT64_MIN);
}

static void test_strings(void)
{
	CHECK_EQ(parse("{\"s\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}"), 0);
	CHECK_STR(json_get_string(&obj, "s"), "a\"b\\c/d\b\f\n\r\t");
	CHECK_EQ(parse("{\"s\":\"\\u00e9\\u20AC\\ud83d\\ude00x\"}"), 0);
	CHECK_STR(json_get_string(&obj, "s"), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80x");
	CHECK_EQ(parse("{\"s\":\"raw \xc3\xa9 \xf0\x9f\x98\x80\"}"), 0);
	CHECK_STR(json_get_string(&obj, "s"), "raw \xc3\xa9 \xf0\x9f\x98\x80");
	CHECK_EQ(parse("{\"\":\"\"}"), 0);
	CHECK_STR(json_get_string(&obj, ""), "");
}

static void test_refused(void)
{
	static const char *const bad[] = {
		"", "   ", "[]", "\"s\"", "1", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}",
		"{,}", "{a:1}", "{'a':1}", "{\"a\":01}", "{\"a\":1.5}", "{\"a\":1e3}",
		"{\"a\":-}", "{\"a\":+1}", "{\"a\":9223372036854775808}",
		"{\"a\":-9223372036854775809}", "{\"a\":1,\"a\":2}", "{\"a\":tru}",
		"{\"a\":nul}", "{\"a\":True}", "{\"a\":\"x\ty\"}", "{\"a\":\"x\ny\"}",
		"{\"a\":\"\\u0000\"}", "{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ude00\"}",
		"{\"a\":\"\\ud83d\\u0041\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12g4\"}",
		"{\"a\":\"\\x41\"}", "{\"a\":\"abc", "{\"a\":\"\\", "{\"a\":\"\xc0\x80\"}",
		"{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xe2\x82\"}",
		"{\"a\":\"\xff\"}", "{\"a\":1} x", "{\"a\":1}{}", "{\"a\":[1,]}", "{\"a\":[1 2]}",
		"{\"a\":{\"b\"}}", "{\"a\":{\"b\":1,}}", "{\"a\":[}", "{\"a\":1 \"b\":2}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (parse(bad[i]) != -1)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK_EQ(parse(bad[i]), -1);
		CHECK(strncmp(err, "at byte ", 8) == 0);
	}
	/* An embedded NUL byte is not the end of the line. */
	CHECK_EQ(json_parse("{\"a\":\"x\0y\"}", 11, &obj, err, sizeof(err)), -1);
	CHECK_EQ(json_parse("{}\0", 3, &obj, err, sizeof(err)), -1);
	CHECK_EQ(parse("{\"a\":1,}"), -1);
	CHECK_STR(err, "at byte 7: expected a string");
}

static void test_limits(void)
{
	char line[JSON_MAX_LINE + 64];
	size_t len = 0;

	/* Nesting up to the limit is skipped; one more level is refused. */
	len = (size_t)sprintf(line, "{\"a\":");
	for (int i = 1; i < JSON_MAX_DEPTH; i++)
		line[len++] = '[';
	for (int i = 1; i < JSON_MAX_DEPTH; i++)
		line[len++] = ']';
	line[len++] = '}';
	CHECK_EQ(json_parse(line, len, &obj, err, sizeof(err)), 0);
	len = (size_t)sprintf(line, "{\"a\":");
	for (int i = 0; i < 1000; i++)
		line[len++] = '[';
	CHECK_EQ(json_parse(line, len, &obj, err, sizeof(err)), -1);
	CHECK(strstr(err, "nested too deeply") != NULL);

	/* Member count. */
	len = (size_t)sprintf(line, "{");
	for (int i = 0; i < JSON_MAX_FIELDS; i++)
		len += (size_t)sprintf(line + len, "%s\"k%d\":%d", i ? "," : "", i, i);
	line[len] = '}';
	CHECK_EQ(json_parse(line, len + 1, &obj, err, sizeof(err)), 0);
	CHECK_EQ(obj.nr_fields, JSON_MAX_FIELDS);
	len += (size_t)sprintf(line + len, ",\"one_more\":1}");
	CHECK_EQ(json_parse(line, len, &obj, err, sizeof(err)), -1);
	CHECK(strstr(err, "too many members") != NULL);

	/* Line length: a string filling the whole line fits, one byte more does not. */
	len = (size_t)sprintf(line, "{\"s\":\"");
	while (len < JSON_MAX_LINE - 2)
		line[len++] = 'x';
	line[len++] = '"';
	line[len++] = '}';
	CHECK_EQ(json_parse(line, len, &obj, err, sizeof(err)), 0);
	CHECK_EQ(strlen(json_get_string(&obj, "s")), JSON_MAX_LINE - 8);
	line[len++] = ' ';
	CHECK_EQ(json_parse(line, len, &obj, err, sizeof(err)), -1);
	CHECK(strstr(err, "line too long") != NULL);
}

static void test_writer(void)
{
	char buf[256], tiny[16];
	struct json_writer w;
	int64_t n;
	int len;

	json_start(&w, buf, sizeof(buf));
	json_add_int(&w, "version", 1);
	json_add_bool(&w, "ok", true);
	json_add_string(&w, "error", "bad \"x\"\n\x01\xff\xc3\xa9");
	json_open(&w, "devices", '[');
	json_open(&w, NULL, '{');
	json_add_string(&w, "name", "blk0");
	json_add_int(&w, "pid", -7);
	json_close(&w, '}');
	json_open(&w, NULL, '{');
	json_close(&w, '}');
	json_close(&w, ']');
	json_add_bool(&w, "last", false);
	len = json_finish(&w);
	CHECK_STR(buf, "{\"version\":1,\"ok\":true,\"error\":\"bad \\\"x\\\"\\u000a\\u0001\\ufffd\xc3\xa9\","
		       "\"devices\":[{\"name\":\"blk0\",\"pid\":-7},{}],\"last\":false}\n");
	CHECK_EQ(len, (int)strlen(buf));
	/* What the writer makes, the parser reads back. */
	CHECK_EQ(json_parse(buf, (size_t)len, &obj, err, sizeof(err)), 0);
	CHECK_STR(json_get_string(&obj, "error"), "bad \"x\"\n\x01\xef\xbf\xbd\xc3\xa9");
	CHECK(json_get_int(&obj, "version", &n));
	CHECK_EQ(json_get(&obj, "devices")->type, JSON_SKIPPED);

	json_start(&w, tiny, sizeof(tiny));
	json_add_string(&w, "error", "far too long for the buffer");
	CHECK_EQ(json_finish(&w), -1);
	CHECK(strlen(tiny) < sizeof(tiny));
}

/* Random damage to a valid line never crashes or reads out of bounds. */
static void test_damage(void)
{
	static const char good[] = "{\"version\":1,\"command\":\"st\\u00e9\",\"l\":[1,{\"a\":[true,null]}],\"b\":false}";
	char *line = malloc(sizeof(good));
	unsigned seed = 12345, accepted = 0;

	for (int round = 0; round < 200000; round++) {
		size_t len = sizeof(good) - 1;

		memcpy(line, good, len);
		for (int k = 0; k < 1 + round % 4; k++) {
			seed = seed * 1103515245 + 12345;
			line[(seed >> 8) % len] = (char)(seed >> 20);
		}
		seed = seed * 1103515245 + 12345;
		if (round % 3 == 0)
			len = (seed >> 8) % len;	/* truncated */
		accepted += json_parse(line, len, &obj, err, sizeof(err)) == 0;
	}
	CHECK(accepted > 0);	/* some damage (inside strings) stays valid */
	free(line);
}

/* A nested value's text parses again; a bare string is a document of its own. */
static void test_nested_and_bare(void)
{
	const char *in = "{\"A\": {\"B\":{\"n\":7,\"w\":true}} , \"L\":[1,{}]}";
	const struct json_field *f;
	const char *s = NULL;
	char raw[64];
	int64_t n = 0;
	bool w = false;

	CHECK_EQ(json_parse(in, strlen(in), &obj, err, sizeof(err)), 0);
	f = json_get(&obj, "L");
	CHECK(f && f->type == JSON_SKIPPED && f->raw_len == 6 && !memcmp(f->raw, "[1,{}]", 6));
	f = json_get(&obj, "A");
	CHECK(f && f->type == JSON_SKIPPED);
	CHECK_EQ(json_parse(f->raw, f->raw_len, &obj, err, sizeof(err)), 0);
	f = json_get(&obj, "B");
	CHECK(f && f->type == JSON_SKIPPED);
	snprintf(raw, sizeof(raw), "%.*s", (int)f->raw_len, f->raw);
	CHECK_STR(raw, "{\"n\":7,\"w\":true}");
	CHECK_EQ(json_parse(f->raw, f->raw_len, &obj, err, sizeof(err)), 0);
	CHECK(json_get_int(&obj, "n", &n) && n == 7);
	CHECK(json_get_bool(&obj, "w", &w) && w);

	CHECK_EQ(json_parse_string(" \"Ex\\u0069t\"\n", 13, &obj, &s, err, sizeof(err)), 0);
	CHECK_STR(s, "Exit");
	CHECK_EQ(json_parse_string("\"a\" \"b\"", 7, &obj, &s, err, sizeof(err)), -1);
	CHECK_EQ(json_parse_string("{}", 2, &obj, &s, err, sizeof(err)), -1);
	CHECK_EQ(json_parse_string("\"open", 5, &obj, &s, err, sizeof(err)), -1);
	CHECK_EQ(json_parse_string("", 0, &obj, &s, err, sizeof(err)), -1);
}

int main(void)
{
	test_nested_and_bare();
	test_values();
	test_strings();
	test_refused();
	test_limits();
	test_writer();
	test_damage();
	return check_report("test_json");
}
