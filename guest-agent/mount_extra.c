/* systemd.mount-extra= virtiofs shares, mounted by the agent (mount_extra.h). */
#include "guest-agent/mount_extra.h"
#include "guest-agent/agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define KEY "systemd.mount-extra="

/* Copies the LEN bytes at SRC into DST (SIZE bytes) as a string; false if
 * they do not fit. */
static bool copy_field(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		return false;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

/* One WHAT:WHERE:TYPE[:OPTIONS] value of LEN bytes; true if it is a
 * well-formed virtiofs entry. */
static bool parse_entry(const char *v, size_t len, struct mount_extra *m)
{
	const char *end = v + len, *c1, *c2, *c3;

	c1 = memchr(v, ':', len);
	if (!c1)
		return false;
	c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
	if (!c2)
		return false;	/* no type: systemd's "auto", not ours */
	c3 = memchr(c2 + 1, ':', (size_t)(end - c2 - 1));
	if (!c3)
		c3 = end;
	if ((size_t)(c3 - c2 - 1) != strlen("virtiofs") || memcmp(c2 + 1, "virtiofs", 8))
		return false;
	if (c1 == v || c1[1] != '/')
		return false;
	return copy_field(m->tag, sizeof(m->tag), v, (size_t)(c1 - v)) &&
	       copy_field(m->path, sizeof(m->path), c1 + 1, (size_t)(c2 - c1 - 1)) &&
	       copy_field(m->options, sizeof(m->options), c3 == end ? end : c3 + 1,
			  c3 == end ? 0 : (size_t)(end - c3 - 1));
}

size_t mount_extra_parse(const char *cmdline, struct mount_extra *out, size_t max)
{
	size_t n = 0;
	const char *p = cmdline;

	while (n < max && *p) {
		size_t len;

		p += strspn(p, " \t\n");
		len = strcspn(p, " \t\n");
		if (len > strlen(KEY) && !strncmp(p, KEY, strlen(KEY)) &&
		    parse_entry(p + strlen(KEY), len - strlen(KEY), &out[n]))
			n++;
		p += len;
	}
	return n;
}

/* Decodes mountinfo's octal escapes (\040 for a space) of the LEN bytes at
 * SRC into DST (SIZE bytes); false if it does not fit. */
static bool unescape(char *dst, size_t size, const char *src, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = src[i];

		if (c == '\\' && i + 3 < len &&
		    src[i + 1] >= '0' && src[i + 1] <= '3' &&
		    src[i + 2] >= '0' && src[i + 2] <= '7' &&
		    src[i + 3] >= '0' && src[i + 3] <= '7') {
			c = (char)((src[i + 1] - '0') << 6 | (src[i + 2] - '0') << 3 | (src[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= size)
			return false;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return true;
}

/* Field number IDX (from 0, space-separated) of LINE (LEN bytes). */
static const char *field(const char *line, size_t len, int idx, size_t *flen)
{
	const char *p = line, *end = line + len;

	for (int i = 0; p < end; i++) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		const char *e = sp ? sp : end;

		if (i == idx) {
			*flen = (size_t)(e - p);
			return p;
		}
		p = e + 1;
	}
	return NULL;
}

/* One mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] -
 * FSTYPE SOURCE SUPEROPTS". */
static bool line_matches(const char *line, size_t len, const struct mount_extra *m)
{
	char point[sizeof(m->path)], source[sizeof(m->tag)];
	const char *sep, *mp, *type, *src;
	size_t mplen, typelen, srclen, rest;

	sep = NULL;
	for (const char *p = line; p + 3 <= line + len; p++)
		if (!memcmp(p, " - ", 3)) {
			sep = p;
			break;
		}
	mp = field(line, len, 4, &mplen);
	if (!sep || !mp || mp > sep)
		return false;
	rest = (size_t)(line + len - sep - 3);
	type = field(sep + 3, rest, 0, &typelen);
	src = field(sep + 3, rest, 1, &srclen);
	return type && src && typelen == 8 && !memcmp(type, "virtiofs", 8) &&
	       unescape(point, sizeof(point), mp, mplen) && !strcmp(point, m->path) &&
	       unescape(source, sizeof(source), src, srclen) && !strcmp(source, m->tag);
}

bool mount_extra_is_mounted(const char *mountinfo, const struct mount_extra *m)
{
	for (const char *p = mountinfo; *p;) {
		size_t len = strcspn(p, "\n");

		if (line_matches(p, len, m))
			return true;
		p += len + (p[len] == '\n');
	}
	return false;
}

static const struct {
	const char *name;
	unsigned long set, clear;
} mount_flags[] = {
	{ "ro", MS_RDONLY, 0 },        { "rw", 0, MS_RDONLY },
	{ "nosuid", MS_NOSUID, 0 },    { "suid", 0, MS_NOSUID },
	{ "nodev", MS_NODEV, 0 },      { "dev", 0, MS_NODEV },
	{ "noexec", MS_NOEXEC, 0 },    { "exec", 0, MS_NOEXEC },
	{ "noatime", MS_NOATIME, 0 },  { "relatime", MS_RELATIME, 0 },
	{ "sync", MS_SYNCHRONOUS, 0 }, { "async", 0, MS_SYNCHRONOUS },
	{ "defaults", 0, 0 },
};

/* Applies the option of LEN bytes at OPT to FLAGS if it is a flag. */
static bool apply_flag(const char *opt, size_t len, unsigned long *flags)
{
	for (size_t i = 0; i < sizeof(mount_flags) / sizeof(mount_flags[0]); i++) {
		if (strlen(mount_flags[i].name) == len && !memcmp(opt, mount_flags[i].name, len)) {
			*flags = (*flags | mount_flags[i].set) & ~mount_flags[i].clear;
			return true;
		}
	}
	return false;
}

bool mount_extra_split_options(const char *options, unsigned long *flags,
			       char *data, size_t data_size)
{
	size_t used = 0;

	*flags = 0;
	if (!data_size)
		return false;
	data[0] = '\0';
	for (const char *p = options; *p;) {
		size_t len = strcspn(p, ",");

		if (len && !apply_flag(p, len, flags)) {
			size_t need = len + (used ? 1 : 0);

			if (used + need >= data_size)
				return false;
			if (used)
				data[used++] = ',';
			memcpy(data + used, p, len);
			used += len;
			data[used] = '\0';
		}
		p += len + (p[len] == ',');
	}
	return true;
}

/* mkdir -p PATH (absolute, at most sizeof(struct mount_extra::path)). */
static int make_dirs(const char *path)
{
	char buf[sizeof(((struct mount_extra *)0)->path)];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -1;
		if (!saved)
			return 0;
		*p = saved;
	}
}

/* The whole of a /proc file into a NUL-terminated malloc'd buffer. */
static char *read_proc(const char *path)
{
	FILE *f = fopen(path, "re");
	size_t cap = 4096, n = 0;
	char *buf = NULL;

	if (!f)
		return NULL;
	for (;;) {
		char *b = realloc(buf, cap);

		if (!b) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = b;
		n += fread(buf + n, 1, cap - 1 - n, f);
		if (n < cap - 1) {
			buf[n] = '\0';
			break;
		}
		cap *= 2;
	}
	fclose(f);
	return buf;
}

static void mount_one(const struct mount_extra *m)
{
	char data[sizeof(m->options)];
	unsigned long flags;

	if (!mount_extra_split_options(m->options, &flags, data, sizeof(data))) {
		agent_log("share %s: options too long", m->tag);
		return;
	}
	if (make_dirs(m->path) || mount(m->tag, m->path, "virtiofs", flags, data[0] ? data : NULL)) {
		agent_log("share %s: cannot mount it at %s: %s", m->tag, m->path, strerror(errno));
		return;
	}
	agent_log("share %s mounted at %s", m->tag, m->path);
}

void mount_extra_all(void)
{
	static struct mount_extra shares[MOUNT_EXTRA_MAX];
	char *cmdline = read_proc("/proc/cmdline"), *mountinfo;
	size_t n;

	if (!cmdline)
		return;
	n = mount_extra_parse(cmdline, shares, MOUNT_EXTRA_MAX);
	free(cmdline);
	if (!n)
		return;
	mountinfo = read_proc("/proc/self/mountinfo");
	for (size_t i = 0; i < n; i++)
		if (!mountinfo || !mount_extra_is_mounted(mountinfo, &shares[i]))
			mount_one(&shares[i]);
	free(mountinfo);
}
