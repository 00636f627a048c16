/* Unit tests for the TOML parser: every construct, every error, no crashes. */
#include "vmm/toml.h"
#include "tests/unit/check.h"

#include <stdlib.h>

static int cases;

/* Looks up a dotted path ("a.b.c") from the root; "" is the root itself. */
static const struct toml_value *get(const struct toml_value *t, const char *path)
{
	char buf[256], *part, *save;
	const struct toml_entry *e;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, ".", &save); part && t; part = strtok_r(NULL, ".", &save)) {
		e = toml_find(t, part);
		t = e ? e->value : NULL;
	}
	return t;
}

static struct toml_value *parse(const char *doc)
{
	struct toml_error err;
	struct toml_value *root;

	cases++;
	root = toml_parse(doc, strlen(doc), &err);
	if (!root)
		fprintf(stderr, "unexpected error %d:%d: %s\n  input: %s\n",
			err.line, err.col, err.msg, doc);
	CHECK(root != NULL);
	return root;
}

/* Parses doc, which must fail with "line:col: message". */
static void check_error(int srcline, const char *doc, size_t len, const char *want)
{
	struct toml_error err;
	struct toml_value *root;
	char got[256];

	cases++;
	root = toml_parse(doc, len, &err);
	if (root)
		snprintf(got, sizeof(got), "(no error)");
	else
		snprintf(got, sizeof(got), "%d:%d: %s", err.line, err.col, err.msg);
	if (strcmp(got, want))
		fprintf(stderr, "test_toml.c:%d: input: %s\n", srcline, doc);
	CHECK_STR(got, want);
	toml_free(root);
}

#define BAD(doc, want) check_error(__LINE__, doc, strlen(doc), want)
#define BADN(doc, want) check_error(__LINE__, doc, sizeof(doc) - 1, want)

static void check_string(const struct toml_value *v, const char *want, int line, int col)
{
	CHECK(v != NULL);
	if (!v)
		return;
	CHECK_EQ(v->type, TOML_STRING);
	if (v->type == TOML_STRING)
		CHECK_STR(v->string, want);
	CHECK_EQ(v->line, line);
	CHECK_EQ(v->col, col);
}

static void check_int(const struct toml_value *v, int64_t want, int line, int col)
{
	CHECK(v != NULL);
	if (!v)
		return;
	CHECK_EQ(v->type, TOML_INTEGER);
	CHECK(v->integer == want);
	CHECK_EQ(v->line, line);
	CHECK_EQ(v->col, col);
}

/* A document of one "v = ..." line whose value is a string. */
static void check_str_value(const char *doc, const char *want)
{
	struct toml_value *root = parse(doc);

	check_string(get(root, "v"), want, 1, 5);
	toml_free(root);
}

static void check_int_value(const char *doc, int64_t want)
{
	struct toml_value *root = parse(doc);

	check_int(get(root, "v"), want, 1, 5);
	toml_free(root);
}

static void test_empty(void)
{
	struct toml_value *root;

	root = parse("");
	CHECK(root && root->type == TOML_TABLE && root->table.len == 0);
	toml_free(root);
	root = parse("\n\n  # only a comment\n\t\n");
	CHECK(root && root->table.len == 0);
	toml_free(root);
	root = parse("\xef\xbb\xbfv = 1");
	check_int(get(root, "v"), 1, 1, 5);
	toml_free(root);
	root = toml_parse(NULL, 0, NULL);
	CHECK(root && root->table.len == 0);
	toml_free(root);
	toml_free(NULL);
}

static void test_keys(void)
{
	struct toml_value *root;
	const struct toml_entry *e;

	root = parse("bare_key-1 = 1\n\"quoted key\" = 2\n'lit.key' = 3\n"
		     "\"\" = 4\n1234 = 5\n  a . b . c = 6\nx.\"y.z\".'w' = 7\n");
	check_int(get(root, "bare_key-1"), 1, 1, 14);
	check_int(get(root, "quoted key"), 2, 2, 16);
	e = toml_find(root, "lit.key");
	CHECK(e && e->line == 3 && e->col == 1);
	check_int(e ? e->value : NULL, 3, 3, 13);
	check_int(toml_find(root, "") ? toml_find(root, "")->value : NULL, 4, 4, 6);
	check_int(get(root, "1234"), 5, 5, 8);
	check_int(get(root, "a.b.c"), 6, 6, 15);
	e = toml_find(get(root, "a.b"), "c");
	CHECK(e && e->line == 6 && e->col == 11);
	CHECK(get(root, "a")->line == 6 && get(root, "a")->col == 3);
	e = toml_find(get(root, "x"), "y.z");
	CHECK(e && e->value->type == TOML_TABLE);
	check_int(e ? toml_find(e->value, "w")->value : NULL, 7, 7, 15);
	/* Entries keep document order. */
	CHECK(root->table.len == 7);
	CHECK_STR(root->table.entries[0].key, "bare_key-1");
	CHECK_STR(root->table.entries[6].key, "x");
	CHECK(toml_find(root, "missing") == NULL);
	CHECK(toml_find(get(root, "1234"), "x") == NULL);
	toml_free(root);

	root = parse("\"\\u00e9t\\u00e9\" = 1\n\"tab\\tkey\" = 2");
	CHECK(toml_find(root, "\xc3\xa9t\xc3\xa9") != NULL);
	CHECK(toml_find(root, "tab\tkey") != NULL);
	toml_free(root);
}

static void test_strings(void)
{
	check_str_value("v = \"hello\"", "hello");
	check_str_value("v = \"\"", "");
	check_str_value("v = ''", "");
	check_str_value("v = \"a\\b\\t\\n\\f\\r\\\"\\\\z\"", "a\b\t\n\f\r\"\\z");
	check_str_value("v = \"\\u00e9\\u20AC\\U0001F600\\u0041\"",
			"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" "A");
	check_str_value("v = \"\\U0010FFFF\"", "\xf4\x8f\xbf\xbf");
	check_str_value("v = \"tab\tinside\"", "tab\tinside");
	check_str_value("v = \"caf\xc3\xa9 \xe2\x82\xac\"", "caf\xc3\xa9 \xe2\x82\xac");
	check_str_value("v = 'C:\\Users\\nobody'", "C:\\Users\\nobody");
	check_str_value("v = '\"quoted\"'", "\"quoted\"");
	check_str_value("v = \"it's\"", "it's");
	check_str_value("v = \"# not a comment\" # a comment", "# not a comment");
	/* Multi-line basic: first newline trimmed, escapes, continuation. */
	check_str_value("v = \"\"\"\nline 1\nline 2\"\"\"", "line 1\nline 2");
	check_str_value("v = \"\"\"\r\nline 1\r\nline 2\r\n\"\"\"", "line 1\nline 2\n");
	check_str_value("v = \"\"\"no newline\"\"\"", "no newline");
	check_str_value("v = \"\"\"\n\nkeeps the second\"\"\"", "\nkeeps the second");
	check_str_value("v = \"\"\"\nThe quick \\\n\n   brown \\   \n\tfox\"\"\"",
			"The quick brown fox");
	check_str_value("v = \"\"\"a\\tb\\u0041\"\"\"", "a\tbA");
	check_str_value("v = \"\"\"one \"quote\" two \"\"quotes\"\"\"\"", "one \"quote\" two \"\"quotes\"");
	check_str_value("v = \"\"\"\"\"\"\"\"", "\"\"");
	check_str_value("v = \"\"\"\"\"\"", "");
	/* Multi-line literal. */
	check_str_value("v = '''\nraw \\n text\n'''", "raw \\n text\n");
	check_str_value("v = '''I [dw]on't need \\d{2} apples'''", "I [dw]on't need \\d{2} apples");
	check_str_value("v = ''''That's it,' she said'''''", "'That's it,' she said''");
	check_str_value("v = '''a\r\nb'''", "a\nb");
}

static void test_string_positions(void)
{
	struct toml_value *root;

	root = parse("a = \"\"\"\nx\ny\"\"\"\nb = 'after'\n");
	check_string(get(root, "a"), "x\ny", 1, 5);
	check_string(get(root, "b"), "after", 4, 5);
	toml_free(root);
	/* Columns count characters, not bytes. */
	root = parse("\"\xc3\xa9\" = \"\xe2\x82\xac\"  \nb = 1");
	check_string(get(root, "\xc3\xa9"), "\xe2\x82\xac", 1, 7);
	check_int(get(root, "b"), 1, 2, 5);
	toml_free(root);
}

static void test_integers(void)
{
	check_int_value("v = 0", 0);
	check_int_value("v = +0", 0);
	check_int_value("v = -0", 0);
	check_int_value("v = 42", 42);
	check_int_value("v = +99", 99);
	check_int_value("v = -17", -17);
	check_int_value("v = 1_000", 1000);
	check_int_value("v = 5_349_221", 5349221);
	check_int_value("v = 1_2_3", 123);
	check_int_value("v = 0xDEADbeef", 0xdeadbeef);
	check_int_value("v = 0xdead_beef", 0xdeadbeef);
	check_int_value("v = 0x00ff", 255);
	check_int_value("v = 0o755", 0755);
	check_int_value("v = 0o0", 0);
	check_int_value("v = 0b1101_0110", 0xd6);
	check_int_value("v = 9223372036854775807", INT64_MAX);
	check_int_value("v = -9223372036854775808", INT64_MIN);
	check_int_value("v = 0x7fffffffffffffff", INT64_MAX);
	check_int_value("v = 0o777777777777777777777", INT64_MAX);
	check_int_value("v = 1024 # MiB", 1024);
}

static void test_booleans(void)
{
	struct toml_value *root = parse("t = true\nf = false # no\n");
	const struct toml_value *v;

	v = get(root, "t");
	CHECK(v && v->type == TOML_BOOL && v->boolean && v->line == 1 && v->col == 5);
	v = get(root, "f");
	CHECK(v && v->type == TOML_BOOL && !v->boolean && v->line == 2 && v->col == 5);
	toml_free(root);
}

static void test_arrays(void)
{
	struct toml_value *root;
	const struct toml_value *v;

	root = parse("a = []\nb = [ 1, 2, 3 ]\nc = [\n  \"x\", # first\n  'y',\n\n  # c\n]\n"
		     "d = [1, \"two\", [3, [4]], {k = true}, false,]\ne = [ [ ] , [ ], ]\n");
	v = get(root, "a");
	CHECK(v && v->type == TOML_ARRAY && v->array.len == 0 && v->line == 1 && v->col == 5);
	v = get(root, "b");
	CHECK(v && v->type == TOML_ARRAY && v->array.len == 3);
	if (v && v->array.len == 3) {
		check_int(v->array.items[0], 1, 2, 7);
		check_int(v->array.items[2], 3, 2, 13);
	}
	v = get(root, "c");
	CHECK(v && v->array.len == 2);
	if (v && v->array.len == 2) {
		check_string(v->array.items[0], "x", 4, 3);
		check_string(v->array.items[1], "y", 5, 3);
	}
	v = get(root, "d");
	CHECK(v && v->array.len == 5 && v->line == 9 && v->col == 5);
	if (v && v->array.len == 5) {
		check_int(v->array.items[0], 1, 9, 6);
		check_string(v->array.items[1], "two", 9, 9);
		CHECK(v->array.items[2]->type == TOML_ARRAY && v->array.items[2]->array.len == 2);
		check_int(v->array.items[2]->array.items[1]->array.items[0], 4, 9, 21);
		CHECK(v->array.items[3]->type == TOML_TABLE);
		CHECK(get(v->array.items[3], "k")->boolean);
		CHECK(v->array.items[4]->type == TOML_BOOL && !v->array.items[4]->boolean);
	}
	v = get(root, "e");
	CHECK(v && v->array.len == 2 && v->array.items[1]->array.len == 0);
	toml_free(root);
}

static void test_inline_tables(void)
{
	struct toml_value *root;
	const struct toml_value *v;

	root = parse("a = {}\nb = { x = 1, y = \"s\" }\nc = {d.e = 1, d.f = [1,\n 2], g = {h = 1}}");
	v = get(root, "a");
	CHECK(v && v->type == TOML_TABLE && v->table.len == 0 && v->col == 5);
	v = get(root, "b");
	CHECK(v && v->type == TOML_TABLE && v->table.len == 2 && v->line == 2 && v->col == 5);
	check_int(get(root, "b.x"), 1, 2, 11);
	check_string(get(root, "b.y"), "s", 2, 18);
	check_int(get(root, "c.d.e"), 1, 3, 12);
	v = get(root, "c.d.f");
	CHECK(v && v->type == TOML_ARRAY && v->array.len == 2);
	check_int(get(root, "c.g.h"), 1, 4, 15);
	toml_free(root);
}

static void test_tables(void)
{
	struct toml_value *root;
	const struct toml_value *v;

	root = parse("top = 1\n[console]\nmode = \"file\"\n\n[ a . \"b\" . c ]\nx = 1\n"
		     "[a]\ny = 2\n[a.b]\nz = 3\n[d.e]\n[d]\n[f]\ng.h = 1\n[f.g.i]\nj = 2\n");
	check_int(get(root, "top"), 1, 1, 7);
	v = get(root, "console");
	CHECK(v && v->type == TOML_TABLE && v->line == 2 && v->col == 1);
	check_string(get(root, "console.mode"), "file", 3, 8);
	check_int(get(root, "a.b.c.x"), 1, 6, 5);
	v = get(root, "a");
	CHECK(v && v->line == 7 && v->col == 1);	/* defined later by [a] */
	check_int(get(root, "a.y"), 2, 8, 5);
	check_int(get(root, "a.b.z"), 3, 10, 5);
	CHECK(get(root, "a.b")->line == 9);
	CHECK(get(root, "d.e") && get(root, "d.e")->table.len == 0);
	CHECK(get(root, "d")->line == 12);
	check_int(get(root, "f.g.h"), 1, 14, 7);
	check_int(get(root, "f.g.i.j"), 2, 16, 5);
	toml_free(root);

	/* A table header may end with a comment, with CRLF line ends. */
	root = parse("[t] # comment\r\nk = 1\r\n");
	check_int(get(root, "t.k"), 1, 2, 5);
	toml_free(root);
}

static void test_array_of_tables(void)
{
	struct toml_value *root;
	const struct toml_value *v;

	root = parse("[[disk]]\npath = \"a.img\"\n\n[[disk]]\npath = \"b.img\"\n[disk.opts]\nro = true\n"
		     "[[disk.part]]\nn = 1\n[[disk.part]]\nn = 2\n[[other.x]]\n");
	v = get(root, "disk");
	CHECK(v && v->type == TOML_ARRAY && v->array.len == 2 && v->line == 1 && v->col == 1);
	if (v && v->array.len == 2) {
		CHECK(v->array.items[0]->type == TOML_TABLE && v->array.items[0]->line == 1);
		check_string(get(v->array.items[0], "path"), "a.img", 2, 8);
		CHECK(v->array.items[1]->line == 4);
		check_string(get(v->array.items[1], "path"), "b.img", 5, 8);
		CHECK(get(v->array.items[1], "opts.ro")->boolean);
		CHECK(get(v->array.items[1], "part")->array.len == 2);
		CHECK(get(v->array.items[0], "part") == NULL);
	}
	v = get(root, "other.x");
	CHECK(v && v->type == TOML_ARRAY && v->array.len == 1);
	toml_free(root);

	/* Each [[a]] starts afresh, and [a] may follow an implicit a. */
	root = parse("[[a]]\n[a.b]\nx = 1\n[[a]]\n[a.b]\nx = 2\n[[c.d]]\n[c]\ny = 3\n");
	v = get(root, "a");
	CHECK(v && v->array.len == 2);
	if (v && v->array.len == 2)
		check_int(get(v->array.items[1], "b.x"), 2, 6, 5);
	check_int(get(root, "c.y"), 3, 9, 5);
	toml_free(root);
}

static void test_type_names(void)
{
	CHECK_STR(toml_type_name(TOML_STRING), "a string");
	CHECK_STR(toml_type_name(TOML_INTEGER), "an integer");
	CHECK_STR(toml_type_name(TOML_BOOL), "a boolean");
	CHECK_STR(toml_type_name(TOML_ARRAY), "an array");
	CHECK_STR(toml_type_name(TOML_TABLE), "a table");
}

static void test_syntax_errors(void)
{
	BAD("memory 1024", "1:8: expected '=' after key");
	BAD("a = 1\n\nkey value", "3:5: expected '=' after key");
	BAD("= 1", "1:1: expected a key");
	BAD("a. = 1", "1:4: expected a key");
	BAD("a..b = 1", "1:3: expected a key");
	BAD("$x = 1", "1:1: expected a key");
	BAD("a", "1:2: expected '=' after key");
	BAD("a =", "1:4: expected a value");
	BAD("a = \n", "1:5: expected a value");
	BAD("a = # c", "1:5: expected a value");
	BAD("a = yes", "1:5: expected a value");
	BAD("a = nope", "1:5: expected a value");
	BAD("a = tru", "1:5: expected a value");
	BAD("a = True", "1:5: expected a value");
	BAD("a = 1 2", "1:7: unexpected text after value");
	BAD("a = \"x\" y", "1:9: unexpected text after value");
	BAD("a = truex", "1:9: unexpected text after value");
	BAD("a = 1 b = 2", "1:7: unexpected text after value");
	BAD("a = 1\rb = 2", "1:6: carriage return without newline");
	BAD("\"\"\"k\"\"\" = 1", "1:1: a key cannot be a multi-line string");
	BAD("k\n= 1", "1:2: expected '=' after key");
	BAD("a = 1 # bad \x01 comment", "1:13: control character in comment");
	BAD("# tab\tok\x7f", "1:9: control character in comment");
}

static void test_string_errors(void)
{
	BAD("a = \"abc", "1:5: unterminated string");
	BAD("a = \"abc\nb = 1", "1:5: unterminated string");
	BAD("a = 'abc", "1:5: unterminated string");
	BAD("a = 'abc\n'", "1:5: unterminated string");
	BAD("x = 1\na = \"\"\"abc\n\n", "2:5: unterminated string");
	BAD("a = '''abc''", "1:5: unterminated string");
	BAD("a = \"a\\qb\"", "1:7: invalid escape sequence \"\\q\"");
	BAD("a = \"\\x41\"", "1:6: invalid escape sequence \"\\x\"");
	BAD("a = \"\\e\"", "1:6: invalid escape sequence \"\\e\"");
	BAD("a = \"\\ \"", "1:6: invalid escape sequence");
	BAD("a = \"\\\n\"", "1:6: invalid escape sequence");
	BAD("a = \"\"\"a\\ b\"\"\"", "1:9: invalid escape sequence");
	BAD("a = \"\\u12\"", "1:6: invalid unicode escape");
	BAD("a = \"\\u12G4\"", "1:6: invalid unicode escape");
	BAD("a = \"\\uD800\"", "1:6: invalid unicode escape");
	BAD("a = \"\\U00110000\"", "1:6: invalid unicode escape");
	BAD("a = \"\\U0000004\"", "1:6: invalid unicode escape");
	BAD("a = \"\\u0000\"", "1:6: null character in string");
	BAD("a = \"a\x01\"", "1:7: control character in string");
	BAD("a = 'a\x1f'", "1:7: control character in string");
	BAD("a = \"a\x7f\"", "1:7: control character in string");
	BAD("a = \"a\rb\"", "1:7: control character in string");
	BAD("a = '''a\rb'''", "1:9: control character in string");
	BAD("a = \"\"\"a\"\"\"\"\"\"", "1:14: unexpected text after value");
	BAD("a = '''a''''''", "1:14: unexpected text after value");
	BAD("a = \"\xc3\xa9\" x", "1:9: unexpected text after value");
}

static void test_number_errors(void)
{
	BAD("a = 1.5", "1:5: floats are not supported");
	BAD("a = -0.5", "1:5: floats are not supported");
	BAD("a = 1e6", "1:5: floats are not supported");
	BAD("a = 6E-3", "1:5: floats are not supported");
	BAD("a = 1_0.0", "1:5: floats are not supported");
	BAD("a = inf", "1:5: floats are not supported");
	BAD("a = -inf", "1:5: floats are not supported");
	BAD("a = +nan", "1:5: floats are not supported");
	BAD("a = nan", "1:5: floats are not supported");
	BAD("a = [1, 2.0]", "1:9: floats are not supported");
	BAD("a = 1979-05-27", "1:5: dates are not supported");
	BAD("a = 1979-05-27T07:32:00Z", "1:5: dates are not supported");
	BAD("a = 1979-05-27 07:32:00", "1:5: dates are not supported");
	BAD("a = 07:32:00", "1:5: dates are not supported");
	BAD("a = 012", "1:5: leading zeros are not allowed");
	BAD("a = -00", "1:6: leading zeros are not allowed");
	BAD("a = 0_1", "1:5: leading zeros are not allowed");
	BAD("a = _1", "1:5: expected a value");
	BAD("a = 1_", "1:6: '_' must be between digits");
	BAD("a = 1__0", "1:6: '_' must be between digits");
	BAD("a = -_1", "1:6: '_' must be between digits");
	BAD("a = 0x_ff", "1:7: '_' must be between digits");
	BAD("a = 0x", "1:5: expected digits");
	BAD("a = -", "1:5: expected digits");
	BAD("a = +0x10", "1:5: sign not allowed with 0x, 0o or 0b");
	BAD("a = 0X10", "1:6: invalid character in integer");
	BAD("a = 0o8", "1:7: invalid character in integer");
	BAD("a = 0b102", "1:9: invalid character in integer");
	BAD("a = 0xfg", "1:8: invalid character in integer");
	BAD("a = 12ab", "1:7: invalid character in integer");
	BAD("a = 1-2", "1:6: invalid character in integer");
	BAD("a = 9223372036854775808", "1:5: integer out of range");
	BAD("a = -9223372036854775809", "1:5: integer out of range");
	BAD("a = 0x8000000000000000", "1:5: integer out of range");
	BAD("a = 0b1_0000000000000000000000000000000000000000000000000000000000000000",
	    "1:5: integer out of range");
	BAD("a = 99999999999999999999999", "1:5: integer out of range");
}

static void test_structure_errors(void)
{
	BAD("[a", "1:3: expected ']' after table name");
	BAD("[a\n]", "1:3: expected ']' after table name");
	BAD("[]", "1:2: expected a key");
	BAD("[a.]", "1:4: expected a key");
	BAD("[[a]", "1:4: expected ']]' after table name");
	BAD("[[a] ]", "1:4: expected ']]' after table name");
	BAD("[a] x", "1:5: unexpected text after table header");
	BAD("[a]]", "1:4: unexpected text after table header");
	BAD("a = [1, 2", "1:5: unterminated array");
	BAD("a = [1,\n 2,\n", "1:5: unterminated array");
	BAD("a = [", "1:5: unterminated array");
	BAD("a = [1 2]", "1:8: expected ',' or ']' in array");
	BAD("a = [,]", "1:6: expected a value");
	BAD("a = [1,,2]", "1:8: expected a value");
	BAD("a = {", "1:5: unterminated inline table");
	BAD("a = {x = 1", "1:5: unterminated inline table");
	BAD("a = {x = 1,}", "1:12: trailing comma in inline table");
	BAD("a = {x = 1 y = 2}", "1:12: expected ',' or '}' in inline table");
	BAD("a = {x = 1,\ny = 2}", "1:12: inline table must be on a single line");
	BAD("a = {\nx = 1}", "1:6: inline table must be on a single line");
	BAD("a = {x = 1 # c\n}", "1:12: inline table must be on a single line");
	BAD("a = {x}", "1:7: expected '=' after key");
	BAD("a = {x = 1, x = 2}", "1:13: duplicate key \"x\"");
}

static void test_definition_errors(void)
{
	BAD("memory = 1\nmemory = 2", "2:1: duplicate key \"memory\"");
	BAD("a = 1\n\"a\" = 2", "2:1: duplicate key \"a\"");
	BAD("[t]\nk = 1\n  k = 1", "3:3: duplicate key \"k\"");
	BAD("a.b = 1\na.b = 2", "2:3: duplicate key \"a.b\"");
	BAD("a = 1\na.b = 2", "2:1: key \"a\" is not a table");
	BAD("a.b = 1\na.b.c = 2", "2:3: key \"a.b\" is not a table");
	BAD("a = {x = 1}\na.y = 2", "2:1: table \"a\" is already defined");
	BAD("[a]\n[a]", "2:2: table \"a\" is already defined");
	BAD("[a.b]\n[a]\n[a.b]", "3:4: table \"a.b\" is already defined");
	BAD("a.b = 1\n[a]", "2:2: table \"a\" is already defined");
	BAD("[x]\na.b = 1\n[x.a]", "3:4: table \"x.a\" is already defined");
	BAD("[a.b.c]\n[a]\nb.d = 1", "3:1: table \"b\" is already defined");
	BAD("[a]\nb = 1\n[a.b]", "3:4: duplicate key \"a.b\"");
	BAD("a = {}\n[a]", "2:2: table \"a\" is already defined");
	BAD("a = {}\n[a.b]", "2:2: table \"a\" is already defined");
	BAD("a = 1\n[a.b]", "2:2: key \"a\" is not a table");
	BAD("a = [1]\n[[a]]", "2:3: key \"a\" is not an array of tables");
	BAD("a = []\n[a.b]", "2:2: key \"a\" is not a table");
	BAD("[a]\n[[a]]", "2:3: key \"a\" is not an array of tables");
	BAD("[[a]]\n[a]", "2:2: duplicate key \"a\"");
	BAD("[[a]]\nb = 1\nb = 2", "3:1: duplicate key \"b\"");
	BAD("[a]\nx = 1\n[b]\n[a]", "4:2: table \"a\" is already defined");
}

static void test_encoding_errors(void)
{
	BADN("a = 1\nb = \"x\0y\"", "2:7: NUL byte in input");
	BADN("\0", "1:1: NUL byte in input");
	BADN("a = 1 # \0", "1:9: NUL byte in input");
	BADN("a = 1\0", "1:6: NUL byte in input");
	BADN("a = \"\xff\"", "1:6: invalid UTF-8");
	BADN("a = \"\xc3\xa9\xc3\"", "1:7: invalid UTF-8");
	BADN("# \xc0\xaf overlong", "1:3: invalid UTF-8");
	BADN("# \xed\xa0\x80 surrogate", "1:3: invalid UTF-8");
	BADN("# \xf4\x90\x80\x80 too big", "1:3: invalid UTF-8");
	BADN("\xe2\x82\xac = 1", "1:1: expected a key");
	/* An earlier error wins when the parser never reaches the bad byte. */
	BADN("a = 1 2 \xff", "1:7: unexpected text after value");
	BADN("a = \"abc\n\xff", "1:5: unterminated string");
}

static void test_nesting_limit(void)
{
	char doc[400];
	struct toml_value *root;
	int i;

	strcpy(doc, "a = ");
	for (i = 0; i < 63; i++)
		strcat(doc, "[");
	for (i = 0; i < 63; i++)
		strcat(doc, "]");
	root = parse(doc);
	toml_free(root);
	strcpy(doc, "a = ");
	for (i = 0; i < 200; i++)
		strcat(doc, "[");
	BAD(doc, "1:69: values nested too deeply");
}

static const char sample[] =
	"# sample\n"
	"name = \"banking\"\n"
	"memory = 1_024\n"
	"flags = [true, false, 0x10, 'lit', \"\\u00e9\"]\n"
	"multi = \"\"\"\nline \\\n  two\"\"\"\n"
	"raw = '''\nraw'''\n"
	"point = { x = 1, y.z = -2 }\n"
	"a.b.c = 3\n"
	"[console]\n"
	"mode = \"file\"  # trailing\n"
	"[[disk]]\n"
	"path = 'a'\n"
	"[[disk]]\n"
	"[disk.opts]\n"
	"ro = true\n";

/* Truncations and byte flips of a valid document must never crash. */
static void test_fuzz(void)
{
	char doc[sizeof(sample)];
	struct toml_error err;
	size_t n, len = sizeof(sample) - 1;
	unsigned seed = 12345;
	int i, j;

	toml_free(parse(sample));
	for (n = 0; n <= len; n++) {
		memcpy(doc, sample, n);
		toml_free(toml_parse(doc, n, &err));
	}
	for (i = 0; i < 20000; i++) {
		memcpy(doc, sample, len);
		for (j = 0; j < 1 + i % 4; j++) {
			seed = seed * 1103515245 + 12345;
			doc[(seed >> 8) % len] = (char)(seed >> 20);
		}
		toml_free(toml_parse(doc, len, &err));
	}
	cases++;
}

int main(void)
{
	test_empty();
	test_keys();
	test_strings();
	test_string_positions();
	test_integers();
	test_booleans();
	test_arrays();
	test_inline_tables();
	test_tables();
	test_array_of_tables();
	test_type_names();
	test_syntax_errors();
	test_string_errors();
	test_number_errors();
	test_structure_errors();
	test_definition_errors();
	test_encoding_errors();
	test_nesting_limit();
	test_fuzz();
	printf("test_toml: %d cases\n", cases);
	return check_report("test_toml");
}
