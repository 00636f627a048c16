/*
 * The VM configuration schema on top of the TOML parser.
 *
 * Every problem found is printed as one line, "file:line:col: key: message",
 * and all of them are reported before giving up, except TOML syntax errors
 * which stop at the first one. See docs/config.md for the keys.
 */
#include "vmm/config.h"
#include "vmm/toml.h"

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
	bool rng_seccomp_set, vsock_seccomp_set, have_cid;
	const struct toml_entry *auto_shutdown;	/* the table, for messages */
	struct net_config *net;		/* the [[net]] being read */
	bool net_has_name;
	struct disk_config *disk;	/* the [[disk]] being read */
	bool disk_has_path;
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

static const char *suggest(const char *key, const struct key_spec *specs)
{
	const char *best = NULL;
	size_t best_d = 3, d;

	for (; specs->name; specs++) {
		if (!strcasecmp(key, specs->name))
			return specs->name;
		d = edit_distance(key, specs->name);
		if (d < best_d && d < strlen(key)) {
			best = specs->name;
			best_d = d;
		}
	}
	return best;
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

static void set_str(struct ctx *c, const char *key, char **dst, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		return out_of_memory(c, key);
	free(*dst);
	*dst = copy;
}

/* A file name; relative ones are taken from the config file's directory. */
static void set_path(struct ctx *c, const char *key, const struct toml_value *v, char **dst)
{
	char *path;

	if (!want_type(c, key, v, TOML_STRING))
		return;
	if (!v->string[0])
		return report(c, v->line, v->col, key, "must not be empty");
	if (asprintf(&path, "%s%s", v->string[0] == '/' ? "" : c->dir, v->string) < 0)
		return out_of_memory(c, key);
	free(*dst);
	*dst = path;
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
	size_t len;

	c->have_name = true;
	if (!want_type(c, key, v, TOML_STRING))
		return;
	len = strlen(v->string);
	if (len < 1 || len > MAX_NAME_LEN)
		return report(c, v->line, v->col, key,
			      "must be 1 to %d characters long, got %zu", MAX_NAME_LEN, len);
	if (strspn(v->string, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789_.-") != len)
		return report(c, v->line, v->col, key,
			      "may only contain letters, digits, '_', '.' and '-', got %s",
			      quote(v->string, q));
	if (!strcmp(v->string, ".") || !strcmp(v->string, ".."))
		return report(c, v->line, v->col, key, "must not be \".\" or \"..\"");
	set_str(c, key, &c->cfg->name, v->string);
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

static void set_rng_seccomp(struct ctx *c, const char *key, const struct toml_entry *e)
{
	set_seccomp(c, key, e->value, &c->cfg->rng.seccomp);
	c->rng_seccomp_set = true;
}

static void set_disk_path(struct ctx *c, const char *key, const struct toml_entry *e)
{
	c->disk_has_path = true;
	set_path(c, key, e->value, &c->disk->path);
}

static void set_disk_bool(struct ctx *c, const char *key, const struct toml_entry *e)
{
	struct disk_config *d = c->disk;
	const char *field = strrchr(key, '.') + 1;

	if (!want_type(c, key, e->value, TOML_BOOL))
		return;
	if (!strcmp(field, "ro"))
		d->ro = e->value->boolean;
	else if (!strcmp(field, "sparse"))
		d->sparse = e->value->boolean;
	else
		d->direct = e->value->boolean;
}

static void set_disk_block_size(struct ctx *c, const char *key, const struct toml_entry *e)
{
	int64_t n;

	if (!get_int(c, key, e->value, 512, 65536, &n))
		return;
	if (n & (n - 1))
		report(c, e->value->line, e->value->col, key,
		       "must be a power of two, got %lld", (long long)n);
	else
		c->disk->block_size = (uint32_t)n;
}

static void set_disk_id(struct ctx *c, const char *key, const struct toml_entry *e)
{
	if (!want_type(c, key, e->value, TOML_STRING))
		return;
	if (strlen(e->value->string) > CONFIG_DISK_ID_MAX)
		report(c, e->value->line, e->value->col, key,
		       "at most %d bytes (a virtio-blk serial)", CONFIG_DISK_ID_MAX);
	else if (!(c->disk->id = strdup(e->value->string)))
		out_of_memory(c, key);
}

static void set_disk_seccomp(struct ctx *c, const char *key, const struct toml_entry *e)
{
	set_seccomp(c, key, e->value, &c->disk->seccomp);
	c->disk->seccomp_set = true;
}

static const struct key_spec disk_keys[] = {
	{ "path", set_disk_path },
	{ "ro", set_disk_bool },
	{ "sparse", set_disk_bool },
	{ "direct", set_disk_bool },
	{ "block_size", set_disk_block_size },
	{ "id", set_disk_id },
	{ "seccomp_policy", set_disk_seccomp },
	{ NULL, NULL },
};

/* [[disk]]: an array of tables, one per disk, in guest order. */
static void set_disks(struct ctx *c, const char *key, const struct toml_entry *e)
{
	const struct toml_value *v = e->value;
	char name[64];

	if (v->type != TOML_ARRAY || (v->array.len && v->array.items[0]->type != TOML_TABLE))
		return report(c, v->line, v->col, key, "expected [[disk]] tables, got %s",
			      toml_type_name(v->type));
	if (v->array.len > CONFIG_MAX_DISKS)
		return report(c, v->array.items[CONFIG_MAX_DISKS]->line,
			      v->array.items[CONFIG_MAX_DISKS]->col, key,
			      "at most %d disks", CONFIG_MAX_DISKS);
	for (size_t i = 0; i < v->array.len; i++) {
		const struct toml_value *t = v->array.items[i];

		snprintf(name, sizeof(name), "%s[%zu]", key, i);
		if (!want_type(c, name, t, TOML_TABLE))
			continue;
		c->disk = &c->cfg->disks[c->cfg->nr_disks++];
		*c->disk = (struct disk_config){ .sparse = true, .block_size = 512 };
		c->disk_has_path = false;
		walk(c, t, name, disk_keys);
		if (!c->disk_has_path)
			report(c, t->line, t->col, name, "path: required key is missing");
	}
}

static const struct key_spec sandbox_keys[] = {
	{ "enable", set_sandbox_enable },
	{ "seccomp_policy", set_sandbox_seccomp },
	{ NULL, NULL },
};

static const struct key_spec rng_keys[] = {
	{ "seccomp_policy", set_rng_seccomp },
	{ NULL, NULL },
};

static void set_sandbox(struct ctx *c, const char *key, const struct toml_entry *e)
{
	if (want_type(c, key, e->value, TOML_TABLE))
		walk(c, e->value, key, sandbox_keys);
}

static void set_rng(struct ctx *c, const char *key, const struct toml_entry *e)
{
	if (!want_type(c, key, e->value, TOML_TABLE))
		return;
	c->cfg->rng.present = true;
	walk(c, e->value, key, rng_keys);
}


/* ---- [[net]], [vsock], [auto_shutdown] ---- */

static bool is_ifname(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= CONFIG_IFNAME_MAX && strcmp(s, ".") && strcmp(s, "..") &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789_.-") == len;
}

static void set_ifname(struct ctx *c, const char *key, const struct toml_value *v, char **dst)
{
	char q[QUOTE_LEN];

	if (!want_type(c, key, v, TOML_STRING))
		return;
	if (!is_ifname(v->string))
		return report(c, v->line, v->col, key,
			      "expected an interface name (1 to %d of A-Z a-z 0-9 _ . -), got %s",
			      CONFIG_IFNAME_MAX, quote(v->string, q));
	set_str(c, key, dst, v->string);
}

static void set_net_name(struct ctx *c, const char *key, const struct toml_entry *e)
{
	c->net_has_name = true;
	set_ifname(c, key, e->value, &c->net->name);
}

static void set_net_tap(struct ctx *c, const char *key, const struct toml_entry *e)
{
	set_ifname(c, key, e->value, &c->net->tap);
}

/* "52:54:00:12:34:56": six hex bytes, unicast. */
static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	int end = 0;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2],
				      &b[3], &b[4], &b[5], &end) != 6 || end != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[3 * i]) || !isxdigit((unsigned char)s[3 * i + 1]))
			return -1;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

static void set_net_mac(struct ctx *c, const char *key, const struct toml_entry *e)
{
	const struct toml_value *v = e->value;
	char q[QUOTE_LEN];

	if (!want_type(c, key, v, TOML_STRING))
		return;
	if (parse_mac(v->string, c->net->mac))
		return report(c, v->line, v->col, key,
			      "expected a MAC address like \"52:54:00:12:34:56\", got %s",
			      quote(v->string, q));
	if (c->net->mac[0] & 1)
		return report(c, v->line, v->col, key, "%s is a multicast address",
			      quote(v->string, q));
	c->net->mac_set = true;
}

static void set_net_seccomp(struct ctx *c, const char *key, const struct toml_entry *e)
{
	set_seccomp(c, key, e->value, &c->net->seccomp);
	c->net->seccomp_set = true;
}

static const struct key_spec net_keys[] = {
	{ "name", set_net_name },
	{ "tap", set_net_tap },
	{ "mac", set_net_mac },
	{ "seccomp_policy", set_net_seccomp },
	{ NULL, NULL },
};

/* Names and MACs must differ between interfaces; a default TAP name must fit. */
static void check_net(struct ctx *c, const char *key, const struct toml_value *t)
{
	struct vm_config *cfg = c->cfg;
	struct net_config *n = c->net;

	for (struct net_config *o = cfg->nets; o < n; o++) {
		if (n->name && o->name && !strcmp(n->name, o->name))
			report(c, t->line, t->col, key, "name \"%s\" is used twice", n->name);
		if (n->tap && o->tap && !strcmp(n->tap, o->tap))
			report(c, t->line, t->col, key, "tap \"%s\" is used twice", n->tap);
		if (n->mac_set && o->mac_set && !memcmp(n->mac, o->mac, 6))
			report(c, t->line, t->col, key, "mac is used twice");
	}
	if (!n->tap && cfg->name && strlen(cfg->name) + 2 > CONFIG_IFNAME_MAX)
		report(c, t->line, t->col, key,
		       "tap: required when the VM name is over %d characters (the default "
		       "\"<name>-<index>\" must fit in %d)", CONFIG_IFNAME_MAX - 2, CONFIG_IFNAME_MAX);
}

static void set_nets(struct ctx *c, const char *key, const struct toml_entry *e)
{
	const struct toml_value *v = e->value;
	char name[64];

	if (v->type != TOML_ARRAY || (v->array.len && v->array.items[0]->type != TOML_TABLE))
		return report(c, v->line, v->col, key, "expected [[net]] tables, got %s",
			      toml_type_name(v->type));
	if (v->array.len > CONFIG_MAX_NETS)
		return report(c, v->array.items[CONFIG_MAX_NETS]->line,
			      v->array.items[CONFIG_MAX_NETS]->col, key,
			      "at most %d interfaces", CONFIG_MAX_NETS);
	for (size_t i = 0; i < v->array.len; i++) {
		const struct toml_value *t = v->array.items[i];

		snprintf(name, sizeof(name), "%s[%zu]", key, i);
		if (!want_type(c, name, t, TOML_TABLE))
			continue;
		c->net = &c->cfg->nets[c->cfg->nr_nets++];
		c->net_has_name = false;
		walk(c, t, name, net_keys);
		if (!c->net_has_name)
			report(c, t->line, t->col, name, "name: required key is missing");
		check_net(c, name, t);
	}
}

static void set_vsock_cid(struct ctx *c, const char *key, const struct toml_entry *e)
{
	int64_t n;

	c->have_cid = true;
	if (get_int(c, key, e->value, 3, 0xfffffffe, &n))
		c->cfg->vsock.cid = (uint32_t)n;
}

static void set_vsock_seccomp(struct ctx *c, const char *key, const struct toml_entry *e)
{
	set_seccomp(c, key, e->value, &c->cfg->vsock.seccomp);
	c->vsock_seccomp_set = true;
}

static const struct key_spec vsock_keys[] = {
	{ "cid", set_vsock_cid },
	{ "seccomp_policy", set_vsock_seccomp },
	{ NULL, NULL },
};

static void set_vsock(struct ctx *c, const char *key, const struct toml_entry *e)
{
	if (!want_type(c, key, e->value, TOML_TABLE))
		return;
	c->cfg->vsock.present = true;
	walk(c, e->value, key, vsock_keys);
	if (!c->have_cid)
		report(c, e->value->line, e->value->col, key, "cid: required key is missing");
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
	{ "rng", set_rng },
	{ "disk", set_disks },
	{ "net", set_nets },
	{ "vsock", set_vsock },
	{ "auto_shutdown", set_auto_shutdown },
	{ "control", set_control },
	{ "user", set_user },
	/* Later features. */
	{ "gpu", NULL }, { "sound", NULL }, { "balloon", NULL },
	{ "shared_dir", NULL }, { "usb", NULL }, { "pci", NULL },
	{ NULL, NULL },
};

static void walk(struct ctx *c, const struct toml_value *t, const char *prefix,
		 const struct key_spec *specs)
{
	const struct key_spec *s;
	const struct toml_entry *e;
	const char *hint;
	char key[256];
	size_t i;

	for (i = 0; i < t->table.len; i++) {
		e = &t->table.entries[i];
		show_key(prefix, e->key, key, sizeof(key));
		for (s = specs; s->name && strcmp(s->name, e->key); s++)
			;
		if (s->name && s->set)
			s->set(c, key, e);
		else if (s->name)
			report(c, e->line, e->col, key, "not supported yet");
		else if ((hint = suggest(e->key, specs)))
			report(c, e->line, e->col, key, "unknown key (did you mean \"%s\"?)",
			       hint);
		else
			report(c, e->line, e->col, key, "unknown key");
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
	cfg->runtime_dir = strdup("/run/vmsilo");
	cfg->auto_shutdown.after = 120;
	c->dir = strndup(source, slash ? (size_t)(slash - source) + 1 : 0);
	if (!cfg->source || !cfg->cmdline || !cfg->runtime_dir || !c->dir) {
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
	/* Devices inherit [sandbox]'s policy, wherever it stands in the file. */
	if (!c.rng_seccomp_set)
		cfg->rng.seccomp = cfg->sandbox.seccomp;
	for (size_t i = 0; i < cfg->nr_disks; i++)
		if (!cfg->disks[i].seccomp_set)
			cfg->disks[i].seccomp = cfg->sandbox.seccomp;
	for (size_t i = 0; i < cfg->nr_nets; i++)
		if (!cfg->nets[i].seccomp_set)
			cfg->nets[i].seccomp = cfg->sandbox.seccomp;
	if (!c.vsock_seccomp_set)
		cfg->vsock.seccomp = cfg->sandbox.seccomp;
	if (cfg->auto_shutdown.enable && !cfg->vsock.present)
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
	for (i = 0; i < cfg->nr_nets; i++) {
		free(cfg->nets[i].name);
		free(cfg->nets[i].tap);
	}
	for (i = 0; i < cfg->nr_disks; i++) {
		free(cfg->disks[i].path);
		free(cfg->disks[i].id);
	}
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
