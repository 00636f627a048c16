/*
 * A share's options as the installed virtiofsd's arguments. The C one
 * (QEMU <= 7.2) takes "-o key[=value]" pairs, the Rust one "--key[=value]".
 * What a flavour has no way to honour is refused, naming the key, so a
 * share never silently runs with less than it asked for.
 */
#include "vmm/virtiofsd.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmm/errfmt.h"

/* Guest root must not make device nodes or file capabilities in host directories. */
#define DROPPED_CAPS "-mknod:-setfcap"

struct argv_out {
	char **argv;
	unsigned n, max;
	char *buf;
	size_t used, len;
	bool full;
	const char *help;		/* the binary's --help */
	const char *missing_key;	/* the first option it has no flag for */
	char missing_flag[64];
};

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* Whether help names flag as a word of its own ("xattr" in "-o xattr|no_xattr"). */
static bool help_has(const char *help, const char *flag)
{
	size_t n = strlen(flag);

	for (const char *p = strstr(help, flag); p; p = strstr(p + 1, flag)) {
		if ((p == help || !word_char(p[-1])) && !word_char(p[n]))
			return true;
	}
	return false;
}

/* Records key when the installed virtiofsd has no such flag: refused, never dropped. */
static void need(struct argv_out *o, const char *key, const char *flag)
{
	if (!o->missing_key && !help_has(o->help, flag)) {
		o->missing_key = key;
		snprintf(o->missing_flag, sizeof(o->missing_flag), "%s", flag);
	}
}

static void add(struct argv_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct argv_out *o, const char *fmt, ...)
{
	size_t room = o->len - o->used;
	va_list ap;
	int n;

	if (o->full || o->n + 1 >= o->max) {
		o->full = true;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		o->full = true;
		return;
	}
	o->argv[o->n++] = o->buf + o->used;
	o->argv[o->n] = NULL;
	o->used += (size_t)n + 1;
}

static const char *flavour_name(const struct virtiofsd_binary *bin)
{
	return bin->flavour == VIRTIOFSD_C ? "C" : "Rust";
}

static int cannot(const struct virtiofsd_binary *bin, const char *key, const char *why,
		  char *err, size_t errlen)
{
	return errfmt(err, errlen, "%s: the installed virtiofsd (%s, version %s) cannot %s", key,
		      flavour_name(bin), bin->version, why);
}

/* What neither flavour is asked to do yet, and what contradicts itself. */
static int check_common(const struct shared_dir_config *s, char *err, size_t errlen)
{
	if (s->allow_mmap)
		return errfmt(err, errlen, "allow_mmap: not supported yet (no DAX window); "
			      "set allow_mmap = false");
	if (s->posix_acl && !s->xattr)
		return errfmt(err, errlen, "posix_acl: needs xattr = true (ACLs are xattrs)");
	return 0;
}

static int check_c(const struct virtiofsd_binary *bin, const struct shared_dir_config *s,
		   char *err, size_t errlen)
{
	if (s->cache == SHARE_CACHE_METADATA)
		return cannot(bin, "cache = \"metadata\"", "cache metadata only (it knows auto, "
			      "always, never)", err, errlen);
	if (s->uid_map)
		return cannot(bin, "uid_map", "map uids (it has no user namespace mode)", err, errlen);
	if (s->gid_map)
		return cannot(bin, "gid_map", "map gids (it has no user namespace mode)", err, errlen);
	if (s->translate_uid)
		return cannot(bin, "translate_uid", "translate uids", err, errlen);
	if (s->translate_gid)
		return cannot(bin, "translate_gid", "translate gids", err, errlen);
	if (s->preserve_noatime)
		return cannot(bin, "preserve_noatime", "preserve O_NOATIME", err, errlen);
	if (s->inode_file_handles_set && s->inode_file_handles == SHARE_FH_MANDATORY)
		return cannot(bin, "inode_file_handles = \"mandatory\"", "use file handles (set "
			      "\"prefer\" or \"never\")", err, errlen);
	/* -o takes comma-separated options: a comma would add options of its own. */
	if (strpbrk(s->path, ",\\"))
		return cannot(bin, "path", "take a path with ',' or '\\' (its -o options are "
			      "comma-separated)", err, errlen);
	return 0;
}

static const char *cache_name(int cache, enum virtiofsd_flavour f)
{
	switch (cache) {
	case SHARE_CACHE_ALWAYS: return "always";
	case SHARE_CACHE_NEVER: return f == VIRTIOFSD_C ? "none" : "never";
	case SHARE_CACHE_METADATA: return "metadata";
	default: return "auto";
	}
}

static const char *log_name(int level, enum virtiofsd_flavour f)
{
	switch (level) {
	case SHARE_LOG_ERROR: return f == VIRTIOFSD_C ? "err" : "error";
	case SHARE_LOG_WARN: return "warn";
	case SHARE_LOG_DEBUG: return "debug";
	default: return "info";
	}
}

static const char *fh_name(int fh)
{
	switch (fh) {
	case SHARE_FH_NEVER: return "never";
	case SHARE_FH_MANDATORY: return "mandatory";
	default: return "prefer";
	}
}

static void add_c_flag(struct argv_out *o, bool on, const char *name)
{
	need(o, name, name);
	add(o, "-o");
	add(o, "%s%s", on ? "" : "no_", name);
}

/* readonly is not here: the C one has no such option, the VMM mounts it. */
static void map_c(struct argv_out *o, const struct shared_dir_config *s)
{
	need(o, "path", "source");
	add(o, "-o");
	add(o, "source=%s", s->path);
	need(o, "cache", "cache");
	add(o, "-o");
	add(o, "cache=%s", cache_name(s->cache, VIRTIOFSD_C));
	add_c_flag(o, s->xattr, "xattr");
	add_c_flag(o, s->posix_acl, "posix_acl");
	add_c_flag(o, s->readdirplus, "readdirplus");
	add_c_flag(o, s->writeback, "writeback");
	add_c_flag(o, s->allow_direct_io, "allow_direct_io");
	add_c_flag(o, s->killpriv_v2, "killpriv_v2");
	need(o, "log_level", "log_level");
	add(o, "-o");
	add(o, "log_level=%s", log_name(s->log_level, VIRTIOFSD_C));
	need(o, "virtiofsd", "sandbox");
	add(o, "-o");
	add(o, "sandbox=namespace");
	need(o, "virtiofsd", "modcaps");
	add(o, "-o");
	add(o, "modcaps=%s", DROPPED_CAPS);
}

/* "--name" or "--name=value", once its help shows it has "--name". */
static void add_rust(struct argv_out *o, const char *key, const char *name, const char *value)
{
	char flag[64];

	snprintf(flag, sizeof(flag), "--%s", name);
	need(o, key, flag);
	if (value)
		add(o, "%s=%s", flag, value);
	else
		add(o, "%s", flag);
}

static void add_rust_flag(struct argv_out *o, bool on, const char *key, const char *name)
{
	if (on)
		add_rust(o, key, name, NULL);
}

static void add_rust_value(struct argv_out *o, const char *value, const char *key,
			   const char *name)
{
	if (value)
		add_rust(o, key, name, value);
}

static void map_rust(struct argv_out *o, const struct shared_dir_config *s)
{
	add_rust(o, "path", "shared-dir", s->path);
	add_rust(o, "cache", "cache", cache_name(s->cache, VIRTIOFSD_RUST));
	add_rust_flag(o, s->xattr, "xattr", "xattr");
	add_rust_flag(o, s->posix_acl, "posix_acl", "posix-acl");
	add_rust_flag(o, !s->readdirplus, "readdirplus", "no-readdirplus");
	add_rust_flag(o, s->writeback, "writeback", "writeback");
	add_rust_flag(o, s->allow_direct_io, "allow_direct_io", "allow-direct-io");
	add_rust_flag(o, s->killpriv_v2, "killpriv_v2", "killpriv-v2");
	add_rust(o, "inode_file_handles", "inode-file-handles", fh_name(s->inode_file_handles));
	add_rust_value(o, s->uid_map, "uid_map", "uid-map");
	add_rust_value(o, s->gid_map, "gid_map", "gid-map");
	add_rust_value(o, s->translate_uid, "translate_uid", "translate-uid");
	add_rust_value(o, s->translate_gid, "translate_gid", "translate-gid");
	add_rust_flag(o, s->preserve_noatime, "preserve_noatime", "preserve-noatime");
	add_rust_flag(o, s->readonly, "readonly", "readonly");
	add_rust(o, "log_level", "log-level", log_name(s->log_level, VIRTIOFSD_RUST));
	add_rust(o, "virtiofsd", "sandbox", "namespace");
	add_rust(o, "virtiofsd", "modcaps", DROPPED_CAPS);
}

int virtiofsd_argv(const struct virtiofsd_binary *bin, const struct shared_dir_config *share,
		   int fd, char **argv, unsigned max, char *buf, size_t buflen, char *err,
		   size_t errlen)
{
	struct argv_out o = { .argv = argv, .max = max, .buf = buf, .len = buflen,
			      .help = bin->help };

	if (!max || !share->path)
		return errfmt(err, errlen, "virtiofsd: no room for arguments");
	argv[0] = NULL;
	if (check_common(share, err, errlen) ||
	    (bin->flavour == VIRTIOFSD_C && check_c(bin, share, err, errlen)))
		return -1;
	add(&o, "%s", bin->path);
	if (bin->flavour == VIRTIOFSD_C)
		map_c(&o, share);
	else
		map_rust(&o, share);
	if (share->thread_pool_size) {
		need(&o, "thread_pool_size", "--thread-pool-size");
		add(&o, "--thread-pool-size=%llu", (unsigned long long)share->thread_pool_size);
	}
	need(&o, "virtiofsd", "--fd");
	add(&o, "--fd=%d", fd);
	if (o.missing_key)
		return errfmt(err, errlen, "%s: the installed virtiofsd (%s, version %s, %s) has no "
			      "%s in its --help", o.missing_key, flavour_name(bin), bin->version,
			      bin->path, o.missing_flag);
	if (o.full)
		return errfmt(err, errlen, "%s: virtiofsd's arguments do not fit", share->tag);
	return 0;
}
