/*
 * The VM configuration schema on top of the TOML parser.
 *
 * Every problem found is printed as one line, "file:line:col: key: message",
 * and all of them are reported before giving up, except TOML syntax errors
 * which stop at the first one. See docs/config.md for the keys.
 */
#include "vmm/config.h"
#include "vmm/mac.h"
#include "vmm/toml.h"
#include "vmm/vm_name.h"
#include "devices/fs_tag.h"
#include "devices/registry.h"
#include "devices/shared_dir.h"
#include "devices/vsock_device.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_CONFIG_SIZE	(1024 * 1024)
#define MAX_NAME_LEN	64
#define QUOTE_CHARS	40	/* longest string quoted back in a message */
#define QUOTE_LEN	(QUOTE_CHARS * 4 + 8)
#define NR_GENERIC_KEYS	3	/* seccomp_policy, sandbox, log_level: in every filtered kind */
#define MAX_KEYS	(CFG_MAX_KEYS + NR_GENERIC_KEYS)	/* in one table, for suggestions */
#define MAX_INSTANCES	64	/* of one kind, for its check() */
#define IFNAME_MAX	15	/* a Linux interface name, IFNAMSIZ - 1 */

struct ctx {
	struct vm_config *cfg;
	const char *source;
	char *dir;		/* directory of the config file, "" or ending in '/' */
	char *err;
	size_t errlen;
	int errors;
	bool have_name, have_kernel;
	const struct toml_value *mode;	/* console.mode, when valid */
	const struct toml_entry *path;	/* console.path */
	const struct toml_entry *auto_shutdown;	/* the table, for messages */
	const struct toml_entry *shared_home;	/* the key, for the share it adds */
};

struct key_spec {
	const char *name;
	/* NULL: a section of a later feature, rejected as not supported yet. */
	void (*set)(struct ctx *c, const char *key, const struct toml_entry *e);
};

static void report(struct ctx *c, int line, int col, const char *key,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void report(struct ctx *c, int line, int col, const char *key,
		   const char *fmt, ...)
{
	char msg[256], where[32] = "", *out;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(where, sizeof(where), ":%d:%d", line, col);
	if (asprintf(&out, "%s%s: %s%s%s", c->source, where, key ? key : "",
		     key ? ": " : "", msg) < 0)
		out = NULL;
	fprintf(stderr, "%s\n", out ? out : msg);
	if (!c->errors && c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s", out ? out : msg);
	c->errors++;
	free(out);
}

static void out_of_memory(struct ctx *c, const char *key)
{
	report(c, 0, 0, key, "out of memory");
}

/* s in double quotes, escaped and shortened so it fits on one line. */
static const char *quote(const char *s, char buf[QUOTE_LEN])
{
	size_t off = 0, n = 0;
	unsigned char ch;

	buf[off++] = '"';
	for (; (ch = (unsigned char)*s); s++) {
		if ((ch & 0xc0) != 0x80 && n++ == QUOTE_CHARS) {
			off += (size_t)snprintf(buf + off, QUOTE_LEN - off, "...");
			break;
		}
		if (ch == '"' || ch == '\\')
			off += (size_t)snprintf(buf + off, QUOTE_LEN - off, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			off += (size_t)snprintf(buf + off, QUOTE_LEN - off, "\\x%02x", ch);
		else
			buf[off++] = (char)ch;
	}
	snprintf(buf + off, QUOTE_LEN - off, "\"");
	return buf;
}

/* Table keys are shown bare when they look like one, else quoted. */
static const char *show_key(const char *prefix, const char *key, char *buf, size_t len)
{
	char q[QUOTE_LEN];

	if (strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789_-") != strlen(key) || !*key)
		key = quote(key, q);
	snprintf(buf, len, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", key);
	return buf;
}

/* ---- did you mean ---- */

/* Optimal string alignment distance: edits plus adjacent transpositions. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, d[MAX_NAME_LEN + 1][MAX_NAME_LEN + 1];
	size_t best;

	if (la > MAX_NAME_LEN || lb > MAX_NAME_LEN)
		return (size_t)-1;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

static const char *suggest(const char *key, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3, d;

	for (size_t i = 0; i < n; i++) {
		if (!strcasecmp(key, names[i]))
			return names[i];
		d = edit_distance(key, names[i]);
		if (d < best_d && d < strlen(key)) {
			best = names[i];
			best_d = d;
		}
	}
	return best;
}

static void report_unknown(struct ctx *c, const struct toml_entry *e, const char *key,
			   const char *const *names, size_t n)
{
	const char *hint = suggest(e->key, names, n);

	if (hint)
		report(c, e->line, e->col, key, "unknown key (did you mean \"%s\"?)", hint);
	else
		report(c, e->line, e->col, key, "unknown key");
}

/* ---- value checks ---- */

static bool want_type(struct ctx *c, const char *key, const struct toml_value *v,
		      enum toml_type type)
{
	if (v->type == type)
		return true;
	report(c, v->line, v->col, key, "expected %s, got %s", toml_type_name(type),
	       toml_type_name(v->type));
	return false;
}

static bool set_str(struct ctx *c, const char *key, char **dst, const char *s)
{
	char *copy = strdup(s);

	if (!copy) {
		out_of_memory(c, key);
		return false;
	}
	free(*dst);
	*dst = copy;
	return true;
}

/* A file name; relative ones are taken from the config file's directory. */
static bool set_path(struct ctx *c, const char *key, const struct toml_value *v, char **dst)
{
	char *path;

	if (!want_type(c, key, v, TOML_STRING))
		return false;
	if (!v->string[0]) {
		report(c, v->line, v->col, key, "must not be empty");
		return false;
	}
	if (asprintf(&path, "%s%s", v->string[0] == '/' ? "" : c->dir, v->string) < 0) {
		out_of_memory(c, key);
		return false;
	}
	free(*dst);
	*dst = path;
	return true;
}

static bool get_int(struct ctx *c, const char *key, const struct toml_value *v,
		    int64_t min, int64_t max, int64_t *out)
{
	if (!want_type(c, key, v, TOML_INTEGER))
		return false;
	if (v->integer < min || v->integer > max) {
		report(c, v->line, v->col, key, "must be between %lld and %lld, got %lld",
		       (long long)min, (long long)max, (long long)v->integer);
		return false;
	}
	*out = v->integer;
	return true;
}

/* Index of v in names[], or -1 after reporting the choices. */
static int get_choice(struct ctx *c, const char *key, const struct toml_value *v,
		      const char *const *names)
{
	char list[128] = "", q[QUOTE_LEN];
	size_t off = 0;
	int i;

	if (!want_type(c, key, v, TOML_STRING))
		return -1;
	for (i = 0; names[i]; i++)
		if (!strcmp(v->string, names[i]))
			return i;
	for (i = 0; names[i] && off < sizeof(list); i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s\"%s\"",
					i ? ", " : "", names[i]);
	report(c, v->line, v->col, key, "expected one of %s, got %s", list,
	       quote(v->string, q));
	return -1;
}

/* ---- top-level keys ---- */

static void set_name(struct ctx *c, const char *key, const struct toml_entry *e)
{
	const struct toml_value *v = e->value;
	char q[QUOTE_LEN];

	c->have_name = true;
	if (!want_type(c, key, v, TOML_STRING))
		return;
	switch (vm_name_check(v->string)) {
	case VM_NAME_OK:
		set_str(c, key, &c->cfg->name, v->string);
		return;
	case VM_NAME_BAD_LENGTH:
		return report(c, v->line, v->col, key, "must be 1 to %d characters long, got %zu",
			      VM_NAME_MAX_LEN, strlen(v->string));
	case VM_NAME_BAD_CHAR:
		return report(c, v->line, v->col, key,
			      "may only contain letters, digits, '_', '.' and '-', got %s",
			      quote(v->string, q));
	case VM_NAME_DOTS:
		return report(c, v->line, v->col, key, "must not be \".\" or \"..\"");
	case VM_NAME_LEADING_DASH:
		return report(c, v->line, v->col, key,
			      "must not start with '-' (host tools would take it for an option), "
			      "got %s", quote(v->string, q));
	}
}

static void set_memory(struct ctx *c, const char *key, const struct toml_entry *e)
{
	int64_t n;

	if (get_int(c, key, e->value, CONFIG_MIN_MEMORY_MIB, CONFIG_MAX_MEMORY_MIB, &n))
		c->cfg->memory_mib = (uint64_t)n;
}

static void set_cpus(struct ctx *c, const char *key, const struct toml_entry *e)
{
	int64_t n;

	if (get_int(c, key, e->value, 1, CONFIG_MAX_CPUS, &n))
		c->cfg->cpus = (unsigned)n;
}

static void set_kernel(struct ctx *c, const char *key, const struct toml_entry *e)
{
	c->have_kernel = true;
	set_path(c, key, e->value, &c->cfg->kernel);
}

static void set_initramfs(struct ctx *c, const char *key, const struct toml_entry *e)
{
	set_path(c, key, e->value, &c->cfg->initramfs);
}

static void set_cmdline(struct ctx *c, const char *key, const struct toml_entry *e)
{
	if (want_type(c, key, e->value, TOML_STRING))
		set_str(c, key, &c->cfg->cmdline, e->value->string);
}

static void set_kernel_params(struct ctx *c, const char *key, const struct toml_entry *e)
{
	const struct toml_value *v = e->value, *item;
	struct vm_config *cfg = c->cfg;
	char name[300];
	size_t i;

	if (v->type != TOML_ARRAY)
		return report(c, v->line, v->col, key, "expected an array of strings, got %s",
			      toml_type_name(v->type));
	cfg->kernel_params = calloc(v->array.len + 1, sizeof(char *));
	if (!cfg->kernel_params)
		return out_of_memory(c, key);
	for (i = 0; i < v->array.len; i++) {
		item = v->array.items[i];
		snprintf(name, sizeof(name), "%s[%zu]", key, i);
		if (!want_type(c, name, item, TOML_STRING))
			continue;
		if (!item->string[0])
			report(c, item->line, item->col, name, "must not be empty");
		else if (!(cfg->kernel_params[cfg->nr_kernel_params] = strdup(item->string)))
			out_of_memory(c, key);
		else
			cfg->nr_kernel_params++;
	}
}

static void set_runtime_dir(struct ctx *c, const char *key, const struct toml_entry *e)
{
	const struct toml_value *v = e->value;
	char q[QUOTE_LEN];

	if (!want_type(c, key, v, TOML_STRING))
		return;
	if (v->string[0] != '/')
		return report(c, v->line, v->col, key, "must be an absolute path, got %s",
			      quote(v->string, q));
	set_str(c, key, &c->cfg->runtime_dir, v->string);
}

static void set_user(struct ctx *c, const char *key, const struct toml_entry *e)
{
	const struct toml_value *v = e->value;
	char q[QUOTE_LEN];

	if (!want_type(c, key, v, TOML_STRING))
		return;
	if (!v->string[0] || strlen(v->string) > 32 ||
	    strspn(v->string, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789_.-") != strlen(v->string) || v->string[0] == '-')
		return report(c, v->line, v->col, key, "expected a user name, got %s",
			      quote(v->string, q));
	set_str(c, key, &c->cfg->user, v->string);
}

static void set_reboot(struct ctx *c, const char *key, const struct toml_entry *e)
{
	static const char *const names[] = { "exit", "restart", NULL };
	int i = get_choice(c, key, e->value, names);

	if (i >= 0)
		c->cfg->on_reboot = i == 0 ? REBOOT_EXIT : REBOOT_RESTART;
}

static void set_log_level(struct ctx *c, const char *key, const struct toml_entry *e)
{
	static const char *const names[] = { "error", "warn", "info", "debug", "trace", NULL };
	int level;

	if (!want_type(c, key, e->value, TOML_STRING))
		return;
	level = log_level_parse(e->value->string);
	if (level < 0) {
		get_choice(c, key, e->value, names);
		return;
	}
	c->cfg->log_level = (enum log_level)level;
	c->cfg->log_level_set = true;
}

/* ---- [console] ---- */

static void set_console_mode(struct ctx *c, const char *key, const struct toml_entry *e)
{
	static const char *const names[] = { "stdout", "file", "pty", "none", NULL };
	static const enum console_mode modes[] = {
		CONSOLE_STDOUT, CONSOLE_FILE, CONSOLE_PTY, CONSOLE_NONE,
	};
	int i = get_choice(c, key, e->value, names);

	if (i < 0)
		return;
	c->cfg->console.mode = modes[i];
	c->mode = e->value;
}

static void set_console_path(struct ctx *c, const char *key, const struct toml_entry *e)
{
	c->path = e;
	set_path(c, key, e->value, &c->cfg->console.path);
}

static const struct key_spec console_keys[] = {
	{ "mode", set_console_mode },
	{ "path", set_console_path },
	{ NULL, NULL },
};

static void walk(struct ctx *c, const struct toml_value *t, const char *prefix,
		 const struct key_spec *specs);

static void set_console(struct ctx *c, const char *key, const struct toml_entry *e)
{
	const struct toml_value *m;

	if (!want_type(c, key, e->value, TOML_TABLE))
		return;
	walk(c, e->value, key, console_keys);
	m = c->mode;
	if (c->cfg->console.mode == CONSOLE_FILE && !c->path)
		report(c, m->line, m->col, "console.path", "required when mode = \"file\"");
	else if (c->cfg->console.mode != CONSOLE_FILE && c->path &&
		 (m || !toml_find(e->value, "mode")))
		report(c, c->path->line, c->path->col, "console.path",
		       "path is only used with mode = \"file\"");
}

/* ---- [sandbox] and the devices ---- */

static void set_seccomp(struct ctx *c, const char *key, const struct toml_value *v,
			enum seccomp_policy *dst)
{
	static const char *const names[] = { "enforcing", "log", NULL };
	int i = get_choice(c, key, v, names);

	if (i >= 0)
		*dst = i == 0 ? SECCOMP_ENFORCING : SECCOMP_LOG;
}

static void set_sandbox_enable(struct ctx *c, const char *key, const struct toml_entry *e)
{
	if (want_type(c, key, e->value, TOML_BOOL))
		c->cfg->sandbox.enable = e->value->boolean;
}

static void set_sandbox_seccomp(struct ctx *c, const char *key, const struct toml_entry *e)
{
	set_seccomp(c, key, e->value, &c->cfg->sandbox.seccomp);
}

static const struct key_spec sandbox_keys[] = {
	{ "enable", set_sandbox_enable },
	{ "seccomp_policy", set_sandbox_seccomp },
	{ NULL, NULL },
};

static void set_sandbox(struct ctx *c, const char *key, const struct toml_entry *e)
{
	if (want_type(c, key, e->value, TOML_TABLE))
		walk(c, e->value, key, sandbox_keys);
}

/* ---- value types of device keys ---- */

static bool is_ifname(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= IFNAME_MAX && strcmp(s, ".") && strcmp(s, "..") &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789_.-") == len;
}

static bool set_ifname(struct ctx *c, const char *key, const struct toml_value *v, char **dst)
{
	char q[QUOTE_LEN];

	if (!want_type(c, key, v, TOML_STRING))
		return false;
	if (!is_ifname(v->string)) {
		report(c, v->line, v->col, key,
		       "expected an interface name (1 to %d of A-Z a-z 0-9 _ . -), got %s",
		       IFNAME_MAX, quote(v->string, q));
		return false;
	}
	return set_str(c, key, dst, v->string);
}

static bool set_mac(struct ctx *c, const char *key, const struct toml_value *v, uint8_t *mac)
{
	char q[QUOTE_LEN];

	if (!want_type(c, key, v, TOML_STRING))
		return false;
	switch (mac_parse(v->string, mac)) {
	case MAC_OK:
		return true;
	case MAC_MALFORMED:
		report(c, v->line, v->col, key,
		       "expected a MAC address like \"52:54:00:12:34:56\", got %s", quote(v->string, q));
		break;
	case MAC_MULTICAST:
		report(c, v->line, v->col, key, "%s is a multicast address", quote(v->string, q));
		break;
	case MAC_ZERO:
		report(c, v->line, v->col, key, "%s is the all-zero address", quote(v->string, q));
		break;
	}
	return false;
}

/* The key's own check() on a value of the right type and range, as stored. */
static bool key_check(struct ctx *c, const char *key, const struct toml_value *v,
		      const struct cfg_key *k, const void *value)
{
	char why[200];

	if (!k->check || !k->check(value, why, sizeof(why)))
		return true;
	report(c, v->line, v->col, key, "%s", why);
	return false;
}

static bool set_uint_key(struct ctx *c, const char *key, const struct toml_value *v,
			 const struct cfg_key *k, uint64_t *dst)
{
	int64_t max = k->max > INT64_MAX ? INT64_MAX : (int64_t)k->max, n;
	uint64_t u;

	if (!get_int(c, key, v, (int64_t)k->min, max, &n))
		return false;
	u = (uint64_t)n;
	*dst = u;
	return true;
}

/* "8G", "512M", "8GiB", "4096": K, M, G, T are powers of 1024. 0, or -1. */
static int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	const char *p = s, *unit;
	uint64_t v = 0, mult = 1;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return -1;
	if (*p && (unit = strchr(units, toupper((unsigned char)*p)))) {
		mult = 1ull << (10 * (unit - units + 1));
		p++;
		if (!strcmp(p, "iB"))
			p += 2;
	}
	if (*p || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* A size as the docs write it: the largest unit that divides it, else bytes. */
static const char *show_size(uint64_t v, char buf[24])
{
	static const char units[] = "TGMK";

	for (int i = 0; i < 4; i++) {
		unsigned shift = 10 * (4 - i);

		if (v && !(v & ((1ull << shift) - 1))) {
			snprintf(buf, 24, "%llu%c", (unsigned long long)(v >> shift), units[i]);
			return buf;
		}
	}
	snprintf(buf, 24, "%llu", (unsigned long long)v);
	return buf;
}

static bool set_size_key(struct ctx *c, const char *key, const struct toml_value *v,
			 const struct cfg_key *k, uint64_t *dst)
{
	char q[QUOTE_LEN], lo[24], hi[24], got[24];
	uint64_t n;

	if (v->type == TOML_INTEGER && v->integer >= 0) {
		n = (uint64_t)v->integer;
	} else if (v->type == TOML_INTEGER) {
		report(c, v->line, v->col, key, "must not be negative, got %lld",
		       (long long)v->integer);
		return false;
	} else if (v->type != TOML_STRING) {
		report(c, v->line, v->col, key, "expected a size (bytes, or a string like \"8G\"), "
		       "got %s", toml_type_name(v->type));
		return false;
	} else if (parse_size(v->string, &n)) {
		report(c, v->line, v->col, key, "expected a size: a whole number with an optional "
		       "K, M, G or T (powers of 1024, \"iB\" allowed), like \"8G\", got %s",
		       quote(v->string, q));
		return false;
	}
	if (n < k->min || n > k->max) {
		report(c, v->line, v->col, key, "must be between %s and %s, got %s",
		       show_size(k->min, lo), show_size(k->max, hi), show_size(n, got));
		return false;
	}
	*dst = n;
	return true;
}

static bool set_string_key(struct ctx *c, const char *key, const struct toml_value *v,
			   const struct cfg_key *k, char **dst)
{
	if (!want_type(c, key, v, TOML_STRING))
		return false;
	if (k->max && strlen(v->string) > k->max) {
		report(c, v->line, v->col, key, "at most %llu bytes", (unsigned long long)k->max);
		return false;
	}
	return set_str(c, key, dst, v->string);
}

/* One key of a device section, by its type in the registry. */
static void set_device_key(struct ctx *c, const char *key, const struct toml_value *v,
			   const struct cfg_key *k, void *obj)
{
	void *dst = (char *)obj + k->offset;
	bool ok = false;
	int i;

	switch (k->type) {
	case CFG_BOOL:
		if ((ok = want_type(c, key, v, TOML_BOOL)))
			*(bool *)dst = v->boolean;
		break;
	case CFG_UINT:
		ok = set_uint_key(c, key, v, k, dst);
		break;
	case CFG_SIZE:
		ok = set_size_key(c, key, v, k, dst);
		break;
	case CFG_STRING:
		ok = set_string_key(c, key, v, k, dst);
		break;
	case CFG_PATH:
		ok = set_path(c, key, v, dst);
		break;
	case CFG_CHOICE:
		if ((ok = (i = get_choice(c, key, v, k->choices)) >= 0))
			*(int *)dst = i;
		break;
	case CFG_MAC:
		ok = set_mac(c, key, v, dst);
		break;
	case CFG_IFNAME:
		ok = set_ifname(c, key, v, dst);
		break;
	}
	ok = ok && key_check(c, key, v, k, dst);
	if (ok && k->set_offset)
		*(bool *)((char *)obj + k->set_offset) = true;
}

/* Booleans, integers and choices start at their documented default. */
static void set_device_defaults(const struct device_kind *kind, void *obj)
{
	for (const struct cfg_key *k = kind->keys; k->name; k++) {
		void *dst = (char *)obj + k->offset;

		if (!k->def)
			continue;
		if (k->type == CFG_BOOL)
			*(bool *)dst = !strcmp(k->def, "true");
		else if (k->type == CFG_UINT)
			*(uint64_t *)dst = strtoull(k->def, NULL, 10);
		else if (k->type == CFG_SIZE && parse_size(k->def, dst))
			*(uint64_t *)dst = 0;	/* test_registry refuses such a def */
		else if (k->type == CFG_CHOICE)
			for (int i = 0; k->choices[i]; i++)
				if (!strcmp(k->choices[i], k->def))
					*(int *)dst = i;
	}
}

/* Keys every kind with a process of ours has, besides its own. */
static const char seccomp_key[] = "seccomp_policy";
static const char sandbox_key[] = "sandbox";
static const char log_level_key[] = "log_level";

static void set_device_log_level(struct ctx *c, const char *key, const struct toml_value *v,
				 struct config_device *dev)
{
	static const char *const names[] = { "error", "warn", "info", "debug", "trace", NULL };
	int i = get_choice(c, key, v, names);

	if (i < 0)
		return;
	dev->log_level = (enum log_level)i;
	dev->log_level_set = true;
}

/* seccomp_policy, sandbox, log_level: false if key is none of them. */
static bool set_generic_key(struct ctx *c, const char *key, const struct toml_entry *e,
			    struct config_device *dev)
{
	if (!strcmp(e->key, seccomp_key)) {
		set_seccomp(c, key, e->value, &dev->seccomp);
		dev->seccomp_set = true;
	} else if (!strcmp(e->key, sandbox_key)) {
		if (want_type(c, key, e->value, TOML_BOOL)) {
			dev->sandbox = e->value->boolean;
			dev->sandbox_set = true;
		}
	} else if (!strcmp(e->key, log_level_key)) {
		set_device_log_level(c, key, e->value, dev);
	} else {
		return false;
	}
	return true;
}

static void walk_device(struct ctx *c, const struct toml_value *t, const char *name,
			struct config_device *dev)
{
	const struct cfg_key *keys = dev->kind->keys, *k;
	const char *names[MAX_KEYS];
	bool given[CFG_MAX_KEYS] = { false };
	size_t n = 0;
	char key[256];
	bool filtered = !dev->kind->vhost_user;	/* a vhost-user backend is not our process */

	for (k = keys; k->name && n < MAX_KEYS - NR_GENERIC_KEYS; k++)
		names[n++] = k->name;
	if (filtered) {
		names[n++] = seccomp_key;
		names[n++] = sandbox_key;
		names[n++] = log_level_key;
	}
	for (size_t i = 0; i < t->table.len; i++) {
		const struct toml_entry *e = &t->table.entries[i];

		show_key(name, e->key, key, sizeof(key));
		for (k = keys; k->name && strcmp(k->name, e->key); k++)
			;
		if (k->name) {
			if (k - keys < CFG_MAX_KEYS)
				given[k - keys] = true;
			set_device_key(c, key, e->value, k, dev->cfg);
		} else if (!filtered || !set_generic_key(c, key, e, dev)) {
			report_unknown(c, e, key, names, n);
		}
	}
	for (k = keys; k->name; k++)
		if (!k->def && k - keys < CFG_MAX_KEYS && !given[k - keys])
			report(c, t->line, t->col, name, "%s: required key is missing", k->name);
}

/* "disk[1]" for an array of tables, "vsock" for a table. */
static const char *instance_name(const struct config_device *dev, char *buf, size_t len)
{
	if (dev->shared_home)
		snprintf(buf, len, "shared_home");
	else if (dev->kind->max > 1)
		snprintf(buf, len, "%s[%u]", dev->kind->section, dev->index);
	else
		snprintf(buf, len, "%s", dev->kind->section);
	return buf;
}

/* A new instance at line:col with its defaults, or NULL after reporting. */
static struct config_device *add_instance(struct ctx *c, const struct device_kind *kind,
					  unsigned index, int line, int col)
{
	struct vm_config *cfg = c->cfg;
	struct config_device *devs = realloc(cfg->devices, (cfg->nr_devices + 1) * sizeof(*devs));
	struct config_device *dev;

	if (!devs) {
		out_of_memory(c, kind->section);
		return NULL;
	}
	cfg->devices = devs;
	dev = &devs[cfg->nr_devices];
	*dev = (struct config_device){ .kind = kind, .index = index, .line = line, .col = col };
	dev->cfg = calloc(1, kind->config_size ? kind->config_size : 1);
	if (!dev->cfg) {
		out_of_memory(c, kind->section);
		return NULL;
	}
	cfg->nr_devices++;
	set_device_defaults(kind, dev->cfg);
	return dev;
}

static void parse_instance(struct ctx *c, const struct toml_value *t,
			   const struct device_kind *kind, unsigned index)
{
	struct config_device *dev = add_instance(c, kind, index, t->line, t->col);
	char name[64];

	if (dev)
		walk_device(c, t, instance_name(dev, name, sizeof(name)), dev);
}

/* [rng]: a table; [[disk]]: an array of tables, at most kind->max. */
static void set_device_section(struct ctx *c, const char *key, const struct toml_entry *e,
			       const struct device_kind *kind)
{
	const struct toml_value *v = e->value;
	char name[300];	/* a key (up to 255 bytes) and its index */

	if (kind->max == 1) {
		if (want_type(c, key, v, TOML_TABLE))
			parse_instance(c, v, kind, 0);
		return;
	}
	if (v->type != TOML_ARRAY || (v->array.len && v->array.items[0]->type != TOML_TABLE))
		return report(c, v->line, v->col, key, "expected [[%s]] tables, got %s",
			      kind->section, toml_type_name(v->type));
	if (v->array.len > kind->max)
		return report(c, v->array.items[kind->max]->line, v->array.items[kind->max]->col,
			      key, "at most %u %s", kind->max, kind->plural);
	for (size_t i = 0; i < v->array.len; i++) {
		snprintf(name, sizeof(name), "%s[%zu]", key, i);
		if (want_type(c, name, v->array.items[i], TOML_TABLE))
			parse_instance(c, v->array.items[i], kind, (unsigned)i);
	}
}

/* The parser's side of a kind's check(): lines at the instance's table. */
struct device_check {
	struct cfg_check chk;
	struct ctx *c;
	const struct config_device *dev;
};

static void check_report(struct cfg_check *chk, const char *fmt, ...)
{
	struct device_check *dc = chk->ctx;
	char msg[256], name[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(dc->c, dc->dev->line, dc->dev->col, instance_name(dc->dev, name, sizeof(name)),
	       "%s", msg);
}

/* Virtio-fs tags are unique across shares and vhost-user fs devices, in
 * whichever order their sections come (the shared home's is last). */
static void check_fs_tags(struct ctx *c)
{
	const struct vm_config *cfg = c->cfg;
	char name[64], other[64];

	for (size_t i = 0; i < cfg->nr_devices; i++) {
		const struct config_device *dev = &cfg->devices[i];
		const char *tag = device_fs_tag(dev->kind, dev->cfg);

		for (size_t j = 0; tag && j < i; j++) {
			const struct config_device *o = &cfg->devices[j];
			const char *o_tag = device_fs_tag(o->kind, o->cfg);

			if (o_tag && !strcmp(o_tag, tag))
				report(c, dev->line, dev->col, instance_name(dev, name, sizeof(name)),
				       "tag: \"%s\" is also %s's", tag,
				       instance_name(o, other, sizeof(other)));
		}
	}
}

/* After the whole file: seccomp defaults and the kinds' own checks, then
 * the checks across kinds. */
static void finish_devices(struct ctx *c)
{
	struct vm_config *cfg = c->cfg;
	const void *earlier[MAX_INSTANCES];

	for (size_t i = 0; i < cfg->nr_devices; i++) {
		struct config_device *dev = &cfg->devices[i];
		struct device_check dc = { .c = c, .dev = dev };
		unsigned n = 0;

		if (!dev->seccomp_set)
			dev->seccomp = cfg->sandbox.seccomp;
		if (!dev->sandbox_set)
			dev->sandbox = cfg->sandbox.enable;
		if (!dev->kind->check)
			continue;
		for (size_t j = 0; j < i && n < MAX_INSTANCES; j++)
			if (cfg->devices[j].kind == dev->kind)
				earlier[n++] = cfg->devices[j].cfg;
		dc.chk = (struct cfg_check){ .vm_name = cfg->name, .earlier = earlier,
					     .nr_earlier = n, .report = check_report, .ctx = &dc };
		dev->kind->check(dev->cfg, &dc.chk);
	}
	check_fs_tags(c);
}

static void free_device(struct config_device *dev)
{
	for (const struct cfg_key *k = dev->kind->keys; dev->cfg && k->name; k++)
		if (k->type == CFG_STRING || k->type == CFG_PATH || k->type == CFG_IFNAME)
			free(*(char **)((char *)dev->cfg + k->offset));
	if (dev->kind == &shared_dir_kind && dev->cfg) {
		struct shared_dir_config *share = dev->cfg;

		free(share->home_template);
		free(share->virtiofsd);
	}
	free(dev->cfg);
}

unsigned config_count(const struct vm_config *cfg, const struct device_kind *kind)
{
	unsigned n = 0;

	for (size_t i = 0; i < cfg->nr_devices; i++)
		n += cfg->devices[i].kind == kind;
	return n;
}

const struct config_device *config_instance(const struct vm_config *cfg,
					    const struct device_kind *kind, unsigned index)
{
	for (size_t i = 0; i < cfg->nr_devices; i++)
		if (cfg->devices[i].kind == kind && cfg->devices[i].index == index)
			return &cfg->devices[i];
	return NULL;
}

static void set_auto_shutdown_enable(struct ctx *c, const char *key, const struct toml_entry *e)
{
	if (want_type(c, key, e->value, TOML_BOOL))
		c->cfg->auto_shutdown.enable = e->value->boolean;
}

static void set_auto_shutdown_after(struct ctx *c, const char *key, const struct toml_entry *e)
{
	int64_t n;

	if (get_int(c, key, e->value, 1, CONFIG_MAX_IDLE_SECONDS, &n))
		c->cfg->auto_shutdown.after = (unsigned)n;
}

static const struct key_spec auto_shutdown_keys[] = {
	{ "enable", set_auto_shutdown_enable },
	{ "after", set_auto_shutdown_after },
	{ NULL, NULL },
};

static void set_auto_shutdown(struct ctx *c, const char *key, const struct toml_entry *e)
{
	if (!want_type(c, key, e->value, TOML_TABLE))
		return;
	c->auto_shutdown = e;
	walk(c, e->value, key, auto_shutdown_keys);
}

static void set_control_crosvm_socket(struct ctx *c, const char *key, const struct toml_entry *e)
{
	if (want_type(c, key, e->value, TOML_BOOL))
		c->cfg->control.crosvm_socket = e->value->boolean;
}

static const struct key_spec control_keys[] = {
	{ "crosvm_socket", set_control_crosvm_socket },
	{ NULL, NULL },
};

static void set_control(struct ctx *c, const char *key, const struct toml_entry *e)
{
	if (want_type(c, key, e->value, TOML_TABLE))
		walk(c, e->value, key, control_keys);
}

/* ---- virtiofsd and the shared home ---- */

static void set_virtiofsd(struct ctx *c, const char *key, const struct toml_entry *e)
{
	set_path(c, key, e->value, &c->cfg->virtiofsd);
}

/* true, false, or the path of an existing directory. */
static void set_shared_home(struct ctx *c, const char *key, const struct toml_entry *e)
{
	const struct toml_value *v = e->value;
	char why[200];

	c->shared_home = e;
	if (v->type == TOML_BOOL) {
		c->cfg->shared_home.enable = v->boolean;
		return;
	}
	if (v->type != TOML_STRING)
		return report(c, v->line, v->col, key, "expected a boolean or a path, got %s",
			      toml_type_name(v->type));
	if (!set_path(c, key, v, &c->cfg->shared_home.path))
		return;
	if (shared_dir_check_directory(c->cfg->shared_home.path, why, sizeof(why)))
		return report(c, v->line, v->col, key, "%s", why);
	c->cfg->shared_home.enable = true;
}

static void set_shared_root(struct ctx *c, const char *key, const struct toml_entry *e)
{
	set_path(c, key, e->value, &c->cfg->shared_root);
}

static void set_home_template(struct ctx *c, const char *key, const struct toml_entry *e)
{
	set_path(c, key, e->value, &c->cfg->home_template);
}

/* shared_home's share: tag "home" at /home/user, the rest defaults. */
static void fill_home_share(struct ctx *c, struct shared_dir_config *share)
{
	struct vm_config *cfg = c->cfg;
	bool derived = !cfg->shared_home.path;
	int rc;

	share->home = derived;
	share->tag = strdup("home");
	share->mount_path = strdup("/home/user");
	if (derived) {
		rc = asprintf(&share->path, "%s/%s/home", cfg->shared_root, cfg->name);
		share->home_template = strdup(cfg->home_template);
	} else {
		rc = (share->path = strdup(cfg->shared_home.path)) ? 0 : -1;
	}
	if (rc < 0)
		share->path = NULL;
	if (!share->tag || !share->mount_path || !share->path || (derived && !share->home_template))
		out_of_memory(c, "shared_home");
}

/* After the file: one more share for shared_home, the last of its kind. */
static void add_home_share(struct ctx *c)
{
	const struct toml_entry *e = c->shared_home;
	unsigned n = config_count(c->cfg, &shared_dir_kind);
	struct config_device *dev;

	if (!c->cfg->shared_home.enable || !c->cfg->name)
		return;	/* no name: already an error, and no path to derive */
	if (n >= SHARED_DIR_MAX)
		return report(c, e->line, e->col, "shared_home",
			      "at most %u %s, the shared home included", SHARED_DIR_MAX,
			      shared_dir_kind.plural);
	dev = add_instance(c, &shared_dir_kind, n, e->line, e->col);
	if (!dev)
		return;
	dev->shared_home = true;
	fill_home_share(c, dev->cfg);
}

/* The top-level virtiofsd is every share's. */
static void give_shares_virtiofsd(struct ctx *c)
{
	struct vm_config *cfg = c->cfg;

	for (size_t i = 0; cfg->virtiofsd && i < cfg->nr_devices; i++) {
		struct shared_dir_config *share = cfg->devices[i].cfg;

		if (cfg->devices[i].kind != &shared_dir_kind)
			continue;
		if (!(share->virtiofsd = strdup(cfg->virtiofsd)))
			out_of_memory(c, "virtiofsd");
	}
}

static const struct key_spec root_keys[] = {
	{ "name", set_name },
	{ "memory", set_memory },
	{ "cpus", set_cpus },
	{ "kernel", set_kernel },
	{ "initramfs", set_initramfs },
	{ "cmdline", set_cmdline },
	{ "kernel_params", set_kernel_params },
	{ "runtime_dir", set_runtime_dir },
	{ "reboot", set_reboot },
	{ "log_level", set_log_level },
	{ "console", set_console },
	{ "sandbox", set_sandbox },
	{ "auto_shutdown", set_auto_shutdown },
	{ "control", set_control },
	{ "user", set_user },
	{ "virtiofsd", set_virtiofsd },
	{ "shared_home", set_shared_home },
	{ "shared_root", set_shared_root },
	{ "home_template", set_home_template },
	/* Later features. */
	{ "sound", NULL },
	{ "usb", NULL }, { "pci", NULL },
	{ NULL, NULL },
};

/* The names a key of this table may have: specs, and at the top the device sections. */
static size_t table_names(const char *prefix, const struct key_spec *specs, const char **names)
{
	size_t n = 0;

	for (; specs->name && n < MAX_KEYS; specs++)
		names[n++] = specs->name;
	for (const struct device_kind *const *k = device_kinds; !prefix && *k && n < MAX_KEYS; k++)
		names[n++] = (*k)->section;
	return n;
}

static void walk(struct ctx *c, const struct toml_value *t, const char *prefix,
		 const struct key_spec *specs)
{
	const struct device_kind *kind;
	const struct key_spec *s;
	const struct toml_entry *e;
	const char *names[MAX_KEYS];
	char key[256];

	for (size_t i = 0; i < t->table.len; i++) {
		e = &t->table.entries[i];
		show_key(prefix, e->key, key, sizeof(key));
		/* A kind in the registry wins over a "not supported yet" name. */
		if (!prefix && (kind = device_kind_find(e->key))) {
			set_device_section(c, key, e, kind);
			continue;
		}
		for (s = specs; s->name && strcmp(s->name, e->key); s++)
			;
		if (s->name && s->set)
			s->set(c, key, e);
		else if (s->name)
			report(c, e->line, e->col, key, "not supported yet");
		else
			report_unknown(c, e, key, names, table_names(prefix, specs, names));
	}
}

/* ---- entry points ---- */

static int set_defaults(struct ctx *c, const char *source)
{
	struct vm_config *cfg = c->cfg;
	const char *slash = strrchr(source, '/');

	cfg->memory_mib = 512;
	cfg->cpus = 1;
	cfg->on_reboot = REBOOT_EXIT;
	cfg->log_level = LOG_WARN;
	cfg->console.mode = CONSOLE_STDOUT;
	cfg->sandbox.enable = true;
	cfg->source = strdup(source);
	cfg->cmdline = strdup("console=ttyS0");
	cfg->runtime_dir = strdup(VMSILO_DEFAULT_RUNTIME_DIR);
	cfg->auto_shutdown.after = 120;
	cfg->shared_root = strdup("/shared");
	cfg->home_template = strdup("/var/lib/vmsilo/home-template");
	c->dir = strndup(source, slash ? (size_t)(slash - source) + 1 : 0);
	if (!cfg->source || !cfg->cmdline || !cfg->runtime_dir || !cfg->shared_root ||
	    !cfg->home_template || !c->dir) {
		out_of_memory(c, NULL);
		return -1;
	}
	return 0;
}

int config_parse(const char *source, const char *text, size_t len,
		 struct vm_config *cfg, char *err, size_t errlen)
{
	struct ctx c = { .cfg = cfg, .err = err, .errlen = errlen };
	struct toml_value *root = NULL;
	struct toml_error terr;

	memset(cfg, 0, sizeof(*cfg));
	if (err && errlen)
		err[0] = '\0';
	c.source = source ? source : "config";
	if (set_defaults(&c, c.source))
		goto out;
	root = toml_parse(text, len, &terr);
	if (!root) {
		report(&c, terr.line, terr.col, NULL, "%s", terr.msg);
		goto out;
	}
	walk(&c, root, NULL, root_keys);
	add_home_share(&c);
	give_shares_virtiofsd(&c);
	/* Devices inherit [sandbox]'s policy, wherever it stands in the file. */
	finish_devices(&c);
	if (cfg->auto_shutdown.enable && !config_count(cfg, &vsock_kind))
		report(&c, c.auto_shutdown->value->line, c.auto_shutdown->value->col,
		       "auto_shutdown", "needs [vsock]: the guest agent reports idleness over it");
	if (!c.have_name)
		report(&c, 0, 0, "name", "required key is missing");
	if (!c.have_kernel)
		report(&c, 0, 0, "kernel", "required key is missing");
out:
	toml_free(root);
	free(c.dir);
	if (!c.errors)
		return 0;
	config_free(cfg);
	return -1;
}

/* Reads a whole file into a malloc'd buffer; sets errno on failure. */
static char *read_file(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = NULL, *nb;
	ssize_t r;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		if (!buf || n == cap) {
			if (buf)
				cap *= 2;
			if (cap > MAX_CONFIG_SIZE) {
				errno = EFBIG;
				break;
			}
			if (!(nb = realloc(buf, cap)))
				break;
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				break;
			close(fd);
			*len = n;
			return buf;
		}
		n += (size_t)r;
	}
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

int config_load(const char *path, struct vm_config *cfg, char *err, size_t errlen)
{
	struct ctx c = { .source = path, .err = err, .errlen = errlen };
	size_t len;
	char *text;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	if (err && errlen)
		err[0] = '\0';
	text = read_file(path, &len);
	if (!text) {
		report(&c, 0, 0, NULL, "cannot read: %s", strerror(errno));
		return -1;
	}
	ret = config_parse(path, text, len, cfg, err, errlen);
	free(text);
	return ret;
}

void config_free(struct vm_config *cfg)
{
	size_t i;

	free(cfg->source);
	free(cfg->name);
	free(cfg->kernel);
	free(cfg->initramfs);
	free(cfg->cmdline);
	for (i = 0; i < cfg->nr_kernel_params; i++)
		free(cfg->kernel_params[i]);
	free(cfg->kernel_params);
	free(cfg->runtime_dir);
	free(cfg->user);
	free(cfg->console.path);
	free(cfg->virtiofsd);
	free(cfg->shared_home.path);
	free(cfg->shared_root);
	free(cfg->home_template);
	for (i = 0; i < cfg->nr_devices; i++)
		free_device(&cfg->devices[i]);
	free(cfg->devices);
	memset(cfg, 0, sizeof(*cfg));
}

char *config_kernel_cmdline(const struct vm_config *cfg)
{
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	size_t len = strlen(cmdline) + 1, i;
	char *out, *p;

	for (i = 0; i < cfg->nr_kernel_params; i++)
		len += strlen(cfg->kernel_params[i]) + 1;
	out = malloc(len);
	if (!out)
		return NULL;
	p = stpcpy(out, cmdline);
	for (i = 0; i < cfg->nr_kernel_params; i++) {
		if (p != out)
			*p++ = ' ';
		p = stpcpy(p, cfg->kernel_params[i]);
	}
	return out;
}
