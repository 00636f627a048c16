/*
 * A small, strict TOML parser for the subset described in toml.h.
 *
 * The parser is a plain recursive descent over the input bytes. Positions
 * are 1-based; columns count characters (UTF-8 code points), not bytes.
 * The input is checked for NUL bytes and invalid UTF-8 up front: parsing
 * stops at the first bad byte, and if the parser had to look at it the
 * error reported is about that byte.
 */
#include "vmm/hex.h"
#include "vmm/toml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH	64	/* nested arrays and inline tables */
#define MAX_KEY_PARTS	64	/* parts of one dotted key */

/* Flags kept next to each value (see struct node). */
#define F_DEFINED	0x1	/* table defined by a [header], or the root */
#define F_DOTTED	0x2	/* table created by a dotted key */
#define F_INLINE	0x4	/* inline table: closed to later additions */
#define F_AOT		0x8	/* array created by [[header]] */

struct node {
	struct toml_value v;	/* first, so a value pointer is a node pointer */
	unsigned flags;
};

struct parser {
	const char *s;
	size_t len;		/* up to the first NUL or invalid UTF-8 byte */
	size_t full_len;
	size_t start, pos;	/* start: after a byte order mark */
	int line, col;
	int depth;
	bool hit_end;		/* looked at s[len] */
	bool failed;
	struct toml_error *err;
};

struct key {
	char *name;
	int line, col;
};

struct keypath {
	struct key parts[MAX_KEY_PARTS];
	size_t n;
};

struct buf {
	char *s;
	size_t len, cap;
};

static struct toml_value *parse_value(struct parser *p);

static unsigned *flags(struct toml_value *v)
{
	return &((struct node *)v)->flags;
}

static int fail(struct parser *p, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct parser *p, int line, int col, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return -1;
	p->failed = true;
	p->err->line = line;
	p->err->col = col;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- input ---- */

static int peek_at(struct parser *p, size_t off)
{
	if (p->pos + off >= p->len) {
		p->hit_end = true;
		return -1;
	}
	return (unsigned char)p->s[p->pos + off];
}

static int peek(struct parser *p)
{
	return peek_at(p, 0);
}

static void adv(struct parser *p)
{
	unsigned char c = p->s[p->pos++];

	if (c == '\n') {
		p->line++;
		p->col = 1;
	} else if ((c & 0xc0) != 0x80) {
		p->col++;
	}
}

static void advn(struct parser *p, size_t n)
{
	while (n--)
		adv(p);
}

/* Length of the newline at the cursor: 1 for "\n", 2 for "\r\n", else 0. */
static int newline_len(struct parser *p)
{
	int c = peek(p);

	if (c == '\n')
		return 1;
	if (c == '\r' && peek_at(p, 1) == '\n')
		return 2;
	return 0;
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* Offset of the first NUL byte or invalid UTF-8 sequence, or len. */
static size_t valid_prefix(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		if (!u[i])
			return i;
		n = utf8_len(u + i, len - i);
		if (!n)
			return i;
		i += n;
	}
	return len;
}

static void bad_byte_error(struct parser *p)
{
	p->failed = false;
	p->line = 1;
	p->col = 1;
	for (p->pos = p->start; p->pos < p->len;)
		adv(p);
	if (p->s[p->len])
		fail(p, p->line, p->col, "invalid UTF-8");
	else
		fail(p, p->line, p->col, "NUL byte in input");
}

/* ---- values and tables ---- */

static struct toml_value *new_value(struct parser *p, enum toml_type type,
				    int line, int col, unsigned fl)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n) {
		fail(p, line, col, "out of memory");
		return NULL;
	}
	n->v.type = type;
	n->v.line = line;
	n->v.col = col;
	n->flags = fl;
	return &n->v;
}

static struct toml_value *lookup(struct toml_value *t, const char *key)
{
	const struct toml_entry *e = toml_find(t, key);

	return e ? e->value : NULL;
}

/* Adds key = v to table t; takes v and the key's name. */
static int add_entry(struct parser *p, struct toml_value *t, struct key *k,
		     struct toml_value *v)
{
	struct toml_entry *e;

	e = realloc(t->table.entries, (t->table.len + 1) * sizeof(*e));
	if (!e) {
		toml_free(v);
		return fail(p, k->line, k->col, "out of memory");
	}
	t->table.entries = e;
	e += t->table.len++;
	e->key = k->name;
	e->line = k->line;
	e->col = k->col;
	e->value = v;
	k->name = NULL;
	return 0;
}

static int push_item(struct parser *p, struct toml_value *a, struct toml_value *v)
{
	struct toml_value **items;

	items = realloc(a->array.items, (a->array.len + 1) * sizeof(*items));
	if (!items) {
		toml_free(v);
		return fail(p, a->line, a->col, "out of memory");
	}
	a->array.items = items;
	items[a->array.len++] = v;
	return 0;
}

static int buf_add(struct parser *p, struct buf *b, const char *s, size_t n)
{
	char *ns;
	size_t cap;

	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 32;
		while (cap < b->len + n + 1)
			cap *= 2;
		ns = realloc(b->s, cap);
		if (!ns)
			return fail(p, p->line, p->col, "out of memory");
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

/* ---- whitespace, comments, line ends ---- */

static void skip_ws(struct parser *p)
{
	while (peek(p) == ' ' || peek(p) == '\t')
		adv(p);
}

static int skip_comment(struct parser *p)
{
	int c;

	if (peek(p) != '#')
		return 0;
	for (;;) {
		c = peek(p);
		if (c < 0 || newline_len(p))
			return 0;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(p, p->line, p->col, "control character in comment");
		adv(p);
	}
}

/* Spaces, newlines and comments, as allowed inside arrays. */
static int skip_blank(struct parser *p)
{
	int n;

	for (;;) {
		skip_ws(p);
		if (skip_comment(p))
			return -1;
		n = newline_len(p);
		if (!n)
			return 0;
		advn(p, n);
	}
}

/* Whitespace, an optional comment, then a newline or the end of input. */
static int end_of_line(struct parser *p, const char *what)
{
	int n;

	skip_ws(p);
	if (skip_comment(p))
		return -1;
	if (peek(p) < 0)
		return 0;
	n = newline_len(p);
	if (n) {
		advn(p, n);
		return 0;
	}
	if (peek(p) == '\r')
		return fail(p, p->line, p->col, "carriage return without newline");
	return fail(p, p->line, p->col, "unexpected text after %s", what);
}

/* ---- strings ---- */


static int put_utf8(struct parser *p, struct buf *b, uint32_t cp)
{
	static const unsigned char lead[] = { 0, 0, 0xc0, 0xe0, 0xf0 };
	int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4, i;
	char u[4];

	for (i = n - 1; i > 0; i--, cp >>= 6)
		u[i] = (char)(0x80 | (cp & 0x3f));
	u[0] = (char)(lead[n] | cp);
	return buf_add(p, b, u, (size_t)n);
}

/* \uXXXX or \UXXXXXXXX; the cursor is on the 'u'. */
static int unicode_escape(struct parser *p, struct buf *b, int line, int col)
{
	int digits = peek(p) == 'u' ? 4 : 8, i, d;
	uint32_t cp = 0;

	adv(p);
	for (i = 0; i < digits; i++) {
		d = hex_digit(peek(p));
		if (d < 0)
			return fail(p, line, col, "invalid unicode escape");
		cp = cp << 4 | (uint32_t)d;
		adv(p);
	}
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return fail(p, line, col, "invalid unicode escape");
	if (!cp)
		return fail(p, line, col, "null character in string");
	return put_utf8(p, b, cp);
}

/* Backslash at the end of a line in a multi-line string: skip to the next
 * non-blank character. The cursor is after the backslash. */
static int line_continuation(struct parser *p, int line, int col)
{
	int n;

	skip_ws(p);
	if (!newline_len(p))
		return fail(p, line, col, "invalid escape sequence");
	while ((n = newline_len(p)) || peek(p) == ' ' || peek(p) == '\t')
		advn(p, n ? (size_t)n : 1);
	return 0;
}

static int escape(struct parser *p, struct buf *b, bool multi)
{
	static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
	int line = p->line, col = p->col, c;
	const char *e;

	adv(p);
	c = peek(p);
	if (c == 'u' || c == 'U')
		return unicode_escape(p, b, line, col);
	if (multi && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
		return line_continuation(p, line, col);
	e = c > 0 ? strchr(from, c) : NULL;
	if (!e) {
		if (c > 0x20 && c < 0x7f)
			return fail(p, line, col, "invalid escape sequence \"\\%c\"", c);
		return fail(p, line, col, "invalid escape sequence");
	}
	adv(p);
	return buf_add(p, b, &to[e - from], 1);
}

/* A quote inside a multi-line string: either the end (three to five quotes,
 * the extra ones being content) or one or two quotes of content. */
static int multi_quote(struct parser *p, struct buf *b, int q, bool *done)
{
	char quotes[5];
	int n = 0;

	while (n < 5 && peek_at(p, (size_t)n) == q)
		n++;
	memset(quotes, q, sizeof(quotes));
	*done = n >= 3;
	advn(p, (size_t)n);
	return buf_add(p, b, quotes, (size_t)(*done ? n - 3 : n));
}

static char *parse_string(struct parser *p)
{
	int line = p->line, col = p->col, q = peek(p), c, n;
	bool basic = q == '"', multi, done = false;
	struct buf b = { 0 };

	multi = peek_at(p, 1) == q && peek_at(p, 2) == q;
	advn(p, multi ? 3 : 1);
	if (multi)
		advn(p, (size_t)newline_len(p));
	if (buf_add(p, &b, "", 0))
		return NULL;
	while (!done) {
		c = peek(p);
		n = newline_len(p);
		if (c < 0 || (n && !multi)) {
			fail(p, line, col, "unterminated string");
		} else if (c == q) {
			if (!multi) {
				adv(p);
				break;
			}
			multi_quote(p, &b, q, &done);
		} else if (c == '\\' && basic) {
			escape(p, &b, multi);
		} else if (n) {
			advn(p, (size_t)n);
			buf_add(p, &b, "\n", 1);
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			fail(p, p->line, p->col, "control character in string");
		} else {
			buf_add(p, &b, p->s + p->pos, 1);
			adv(p);
		}
		if (p->failed) {
			free(b.s);
			return NULL;
		}
	}
	return b.s;
}

/* ---- keys ---- */

static bool is_bare(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int parse_simple_key(struct parser *p, struct key *k)
{
	size_t start = p->pos;
	int c = peek(p);

	k->line = p->line;
	k->col = p->col;
	if (c == '"' || c == '\'') {
		if (peek_at(p, 1) == c && peek_at(p, 2) == c)
			return fail(p, k->line, k->col, "a key cannot be a multi-line string");
		k->name = parse_string(p);
		return k->name ? 0 : -1;
	}
	while (is_bare(peek(p)))
		adv(p);
	if (p->pos == start)
		return fail(p, k->line, k->col, "expected a key");
	k->name = strndup(p->s + start, p->pos - start);
	if (!k->name)
		return fail(p, k->line, k->col, "out of memory");
	return 0;
}

static void free_keypath(struct keypath *kp)
{
	while (kp->n)
		free(kp->parts[--kp->n].name);
}

/* One or more simple keys separated by dots, with optional spaces. */
static int parse_key(struct parser *p, struct keypath *kp)
{
	for (;;) {
		skip_ws(p);
		if (kp->n == MAX_KEY_PARTS)
			return fail(p, p->line, p->col, "key has too many parts");
		if (parse_simple_key(p, &kp->parts[kp->n]))
			return -1;
		kp->n++;
		skip_ws(p);
		if (peek(p) != '.')
			return 0;
		adv(p);
	}
}

/* The first n parts of kp joined with dots, for messages. */
static const char *key_str(const struct keypath *kp, size_t n, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					i ? "." : "", kp->parts[i].name);
	return buf;
}

/* ---- tables ---- */

/*
 * The table that part i of kp names in t, created if missing. A [header]
 * may go through any table but an inline one, and into the last table of an
 * array of tables; a dotted key only through tables made by dotted keys.
 */
static struct toml_value *descend(struct parser *p, struct toml_value *t,
				  struct keypath *kp, size_t i, bool dotted)
{
	struct key *k = &kp->parts[i];
	struct toml_value *v = lookup(t, k->name);
	char name[128];

	key_str(kp, i + 1, name, sizeof(name));
	if (!v) {
		v = new_value(p, TOML_TABLE, k->line, k->col, dotted ? F_DOTTED : 0);
		if (!v || add_entry(p, t, k, v))
			return NULL;
		return v;
	}
	if (!dotted && v->type == TOML_ARRAY && (*flags(v) & F_AOT))
		return v->array.items[v->array.len - 1];
	if (v->type != TOML_TABLE)
		fail(p, k->line, k->col, "key \"%s\" is not a table", name);
	else if ((*flags(v) & F_INLINE) || (dotted && !(*flags(v) & F_DOTTED)))
		fail(p, k->line, k->col, "table \"%s\" is already defined", name);
	return p->failed ? NULL : v;
}

static struct toml_value *open_aot(struct parser *p, struct toml_value *t,
				   struct keypath *kp, int line, int col)
{
	struct key *k = &kp->parts[kp->n - 1];
	struct toml_value *a = lookup(t, k->name), *v;
	char name[128];

	if (!a) {
		a = new_value(p, TOML_ARRAY, line, col, F_AOT);
		if (!a || add_entry(p, t, k, a))
			return NULL;
	} else if (a->type != TOML_ARRAY || !(*flags(a) & F_AOT)) {
		fail(p, k->line, k->col, "key \"%s\" is not an array of tables",
		     key_str(kp, kp->n, name, sizeof(name)));
		return NULL;
	}
	v = new_value(p, TOML_TABLE, line, col, F_DEFINED);
	if (!v || push_item(p, a, v))
		return NULL;
	return v;
}

static struct toml_value *open_table(struct parser *p, struct toml_value *t,
				     struct keypath *kp, int line, int col)
{
	struct key *k = &kp->parts[kp->n - 1];
	struct toml_value *v = lookup(t, k->name);
	char name[128];

	key_str(kp, kp->n, name, sizeof(name));
	if (!v) {
		v = new_value(p, TOML_TABLE, line, col, F_DEFINED);
		if (!v || add_entry(p, t, k, v))
			return NULL;
		return v;
	}
	if (v->type != TOML_TABLE) {
		fail(p, k->line, k->col, "duplicate key \"%s\"", name);
		return NULL;
	}
	if (*flags(v) & (F_DEFINED | F_DOTTED | F_INLINE)) {
		fail(p, k->line, k->col, "table \"%s\" is already defined", name);
		return NULL;
	}
	*flags(v) |= F_DEFINED;
	v->line = line;
	v->col = col;
	return v;
}

/* [a.b] or [[a.b]]: returns the table that following keys go into. */
static struct toml_value *parse_header(struct parser *p, struct toml_value *root)
{
	int line = p->line, col = p->col;
	struct toml_value *t = root;
	struct keypath kp;
	bool aot;
	size_t i;

	kp.n = 0;
	adv(p);
	aot = peek(p) == '[';
	if (aot)
		adv(p);
	if (parse_key(p, &kp))
		goto out;
	if (peek(p) != ']' || (aot && peek_at(p, 1) != ']')) {
		fail(p, p->line, p->col, aot ? "expected ']]' after table name" :
		     "expected ']' after table name");
		goto out;
	}
	advn(p, aot ? 2 : 1);
	for (i = 0; t && i + 1 < kp.n; i++)
		t = descend(p, t, &kp, i, false);
	if (t)
		t = aot ? open_aot(p, t, &kp, line, col) : open_table(p, t, &kp, line, col);
out:
	free_keypath(&kp);
	return p->failed ? NULL : t;
}

/* key = value, adding to table t. */
static int parse_keyval(struct parser *p, struct toml_value *t)
{
	struct keypath kp;
	struct toml_value *v;
	struct key *k;
	char name[128];
	size_t i;

	kp.n = 0;
	if (parse_key(p, &kp))
		goto out;
	if (peek(p) != '=') {
		fail(p, p->line, p->col, "expected '=' after key");
		goto out;
	}
	adv(p);
	skip_ws(p);
	for (i = 0; t && i + 1 < kp.n; i++)
		t = descend(p, t, &kp, i, true);
	if (!t)
		goto out;
	k = &kp.parts[kp.n - 1];
	if (lookup(t, k->name)) {
		fail(p, k->line, k->col, "duplicate key \"%s\"",
		     key_str(&kp, kp.n, name, sizeof(name)));
		goto out;
	}
	v = parse_value(p);
	if (v)
		add_entry(p, t, k, v);
out:
	free_keypath(&kp);
	return p->failed ? -1 : 0;
}

/* ---- numbers, booleans, arrays, inline tables ---- */

static bool is_date(const char *t, size_t n)
{
	size_t i;

	if (memchr(t, ':', n))
		return true;
	for (i = 0; i < 4 && i < n; i++)
		if (t[i] < '0' || t[i] > '9')
			return false;
	return n > 4 && t[4] == '-';
}

static bool is_float(const char *t, size_t n)
{
	size_t i = (n && (t[0] == '+' || t[0] == '-')) ? 1 : 0;
	bool exp = false;

	if ((n - i == 3) && (!memcmp(t + i, "inf", 3) || !memcmp(t + i, "nan", 3)))
		return true;
	if (n - i >= 2 && t[i] == '0' && strchr("xob", t[i + 1]))
		return false;
	for (; i < n; i++) {
		if (t[i] == '.')
			return true;
		if (t[i] == 'e' || t[i] == 'E')
			exp = true;
		else if (!strchr("0123456789_+-", t[i]))
			return false;
	}
	return exp;
}

/* Parses the integer t[0..n); on error returns a message, *bad = offset. */
static const char *scan_int(const char *t, size_t n, int64_t *out, size_t *bad)
{
	size_t i = 0, first;
	bool neg = false;
	uint64_t v = 0, lim;
	int base = 10, d;

	*bad = 0;
	if (t[0] == '+' || t[0] == '-')
		neg = t[i++] == '-';
	if (n - i >= 2 && t[i] == '0' && strchr("xob", t[i + 1])) {
		if (i)
			return "sign not allowed with 0x, 0o or 0b";
		base = t[1] == 'x' ? 16 : t[1] == 'o' ? 8 : 2;
		i = 2;
	} else if (n - i >= 2 && t[i] == '0' && strchr("0123456789_", t[i + 1])) {
		*bad = i;
		return "leading zeros are not allowed";
	}
	if (i == n)
		return "expected digits";
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (first = i; i < n; i++) {
		*bad = i;
		if (t[i] == '_') {
			if (i == first || i + 1 == n || t[i + 1] == '_')
				return "'_' must be between digits";
			continue;
		}
		d = hex_digit(t[i]);
		if (d < 0 || d >= base)
			return "invalid character in integer";
		if (v > (lim - (uint64_t)d) / (uint64_t)base) {
			*bad = 0;
			return "integer out of range";
		}
		v = v * (uint64_t)base + (uint64_t)d;
	}
	if (!neg)
		*out = (int64_t)v;
	else
		*out = v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v;
	return NULL;
}

static struct toml_value *parse_number(struct parser *p)
{
	int line = p->line, col = p->col, c;
	const char *t = p->s + p->pos, *msg;
	struct toml_value *v;
	size_t n = 0, bad;
	int64_t i;

	while ((c = peek_at(p, n)) >= 0 && (is_bare(c) || strchr("+.:", c)))
		n++;
	if (is_date(t, n))
		msg = "dates are not supported", bad = 0;
	else if (is_float(t, n))
		msg = "floats are not supported", bad = 0;
	else if (t[0] == 'i' || t[0] == 'n')
		msg = "expected a value", bad = 0;
	else
		msg = scan_int(t, n, &i, &bad);
	if (msg) {
		fail(p, line, col + (int)bad, "%s", msg);
		return NULL;
	}
	advn(p, n);
	v = new_value(p, TOML_INTEGER, line, col, 0);
	if (v)
		v->integer = i;
	return v;
}

static struct toml_value *parse_bool(struct parser *p)
{
	int line = p->line, col = p->col;
	size_t n = peek(p) == 't' ? 4 : 5;
	struct toml_value *v;

	if (p->pos + n > p->len || memcmp(p->s + p->pos, n == 4 ? "true" : "false", n)) {
		fail(p, line, col, "expected a value");
		return NULL;
	}
	advn(p, n);
	v = new_value(p, TOML_BOOL, line, col, 0);
	if (v)
		v->boolean = n == 4;
	return v;
}

static struct toml_value *parse_array(struct parser *p)
{
	int line = p->line, col = p->col, c;
	struct toml_value *a, *v;

	a = new_value(p, TOML_ARRAY, line, col, 0);
	if (!a)
		return NULL;
	adv(p);
	for (;;) {
		if (skip_blank(p))
			break;
		c = peek(p);
		if (c == ']')
			goto done;
		if (c < 0) {
			fail(p, line, col, "unterminated array");
			break;
		}
		v = parse_value(p);
		if (!v || push_item(p, a, v) || skip_blank(p))
			break;
		c = peek(p);
		if (c == ']')
			goto done;
		if (c < 0)
			fail(p, line, col, "unterminated array");
		else if (c != ',')
			fail(p, p->line, p->col, "expected ',' or ']' in array");
		else
			adv(p);
		if (p->failed)
			break;
	}
	toml_free(a);
	return NULL;
done:
	adv(p);
	return a;
}

/* After '{' or ',' inside an inline table: fails on a line end or EOF. */
static int inline_on_one_line(struct parser *p, int line, int col)
{
	skip_ws(p);
	if (peek(p) < 0)
		return fail(p, line, col, "unterminated inline table");
	if (newline_len(p) || peek(p) == '#')
		return fail(p, p->line, p->col, "inline table must be on a single line");
	return 0;
}

static struct toml_value *parse_inline(struct parser *p)
{
	int line = p->line, col = p->col, c;
	struct toml_value *t;

	t = new_value(p, TOML_TABLE, line, col, 0);
	if (!t)
		return NULL;
	adv(p);
	if (inline_on_one_line(p, line, col))
		goto err;
	if (peek(p) == '}')
		goto done;
	for (;;) {
		if (parse_keyval(p, t) || inline_on_one_line(p, line, col))
			goto err;
		c = peek(p);
		if (c == '}')
			goto done;
		if (c != ',') {
			fail(p, p->line, p->col, "expected ',' or '}' in inline table");
			goto err;
		}
		adv(p);
		if (inline_on_one_line(p, line, col))
			goto err;
		if (peek(p) == '}') {
			fail(p, p->line, p->col, "trailing comma in inline table");
			goto err;
		}
	}
err:
	toml_free(t);
	return NULL;
done:
	adv(p);
	*flags(t) |= F_INLINE;
	return t;
}

static struct toml_value *parse_value(struct parser *p)
{
	int line = p->line, col = p->col, c = peek(p);
	struct toml_value *v = NULL;
	char *s;

	if (++p->depth > MAX_DEPTH) {
		fail(p, line, col, "values nested too deeply");
	} else if (c == '"' || c == '\'') {
		s = parse_string(p);
		if (s && !(v = new_value(p, TOML_STRING, line, col, 0)))
			free(s);
		else if (s)
			v->string = s;
	} else if (c == 't' || c == 'f') {
		v = parse_bool(p);
	} else if (c == '[') {
		v = parse_array(p);
	} else if (c == '{') {
		v = parse_inline(p);
	} else if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == 'i' ||
		   c == 'n') {
		v = parse_number(p);
	} else {
		fail(p, line, col, "expected a value");
	}
	p->depth--;
	return v;
}

/* ---- document ---- */

static int parse_document(struct parser *p, struct toml_value *root)
{
	struct toml_value *cur = root;
	const char *what;
	int c;

	for (;;) {
		skip_ws(p);
		c = peek(p);
		if (c < 0)
			return 0;
		what = "value";
		if (c == '[') {
			what = "table header";
			cur = parse_header(p, root);
			if (!cur)
				return -1;
		} else if (c != '#' && c != '\n' && c != '\r') {
			if (parse_keyval(p, cur))
				return -1;
		}
		if (end_of_line(p, what))
			return -1;
	}
}

struct toml_value *toml_parse(const char *text, size_t len, struct toml_error *err)
{
	struct toml_error dummy;
	struct parser p = {
		.s = text, .full_len = len, .line = 1, .col = 1,
		.err = err ? err : &dummy,
	};
	struct toml_value *root;
	int ret;

	memset(p.err, 0, sizeof(*p.err));
	p.len = len ? valid_prefix(text, len) : 0;
	if (p.len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		p.start = p.pos = 3;
	root = new_value(&p, TOML_TABLE, 1, 1, F_DEFINED);
	if (!root)
		return NULL;
	ret = parse_document(&p, root);
	if (p.len < len && (p.hit_end || !ret))
		bad_byte_error(&p);
	if (p.failed) {
		toml_free(root);
		return NULL;
	}
	return root;
}

void toml_free(struct toml_value *v)
{
	size_t i;

	if (!v)
		return;
	if (v->type == TOML_STRING) {
		free(v->string);
	} else if (v->type == TOML_ARRAY) {
		for (i = 0; i < v->array.len; i++)
			toml_free(v->array.items[i]);
		free(v->array.items);
	} else if (v->type == TOML_TABLE) {
		for (i = 0; i < v->table.len; i++) {
			free(v->table.entries[i].key);
			toml_free(v->table.entries[i].value);
		}
		free(v->table.entries);
	}
	free((struct node *)v);
}

const struct toml_entry *toml_find(const struct toml_value *table, const char *key)
{
	size_t i;

	if (!table || table->type != TOML_TABLE)
		return NULL;
	for (i = 0; i < table->table.len; i++)
		if (!strcmp(table->table.entries[i].key, key))
			return &table->table.entries[i];
	return NULL;
}

const char *toml_type_name(enum toml_type type)
{
	static const char *const names[] = {
		"a string", "an integer", "a boolean", "an array", "a table",
	};

	if ((unsigned)type < sizeof(names) / sizeof(names[0]))
		return names[type];
	return "an unknown type";
}
