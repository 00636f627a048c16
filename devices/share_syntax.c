/* Syntax checks of share tags and virtiofsd id maps (devices/share_syntax.h). */
#include "devices/share_syntax.h"
#include "devices/shared_dir.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

bool share_word_ok(const char *s)
{
	for (; *s; s++)
		if (*s == ':' || (unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

int share_check_word(const char *s, char *why, size_t len)
{
	if (share_word_ok(s))
		return 0;
	snprintf(why, len, "must not contain ':', whitespace or control characters "
		 "(it goes on the kernel command line)");
	return -1;
}

static bool tag_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

int share_check_tag(const char *tag, char *why, size_t len)
{
	size_t n = strlen(tag);

	if (!n || n > SHARED_DIR_TAG_MAX) {
		snprintf(why, len, "must be 1 to %d bytes, got %zu", SHARED_DIR_TAG_MAX, n);
		return -1;
	}
	for (; *tag; tag++)
		if (!tag_char_ok(*tag)) {
			snprintf(why, len, "only letters, digits, '.', '_' and '-' (it names the "
				 "socket and goes on the kernel command line)");
			return -1;
		}
	return 0;
}

/* One component of a path: from s to the next '/' or the end. */
static bool component_ok(const char *s, size_t n)
{
	return n && !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.');
}

int share_check_mount_path(const char *path, char *why, size_t len)
{
	const char *s = path;
	size_t n;

	if (s[0] != '/') {
		snprintf(why, len, "must be an absolute path");
		return -1;
	}
	if (strchr(s, '"')) {
		snprintf(why, len, "must not contain '\"' (it goes on the kernel command line)");
		return -1;
	}
	if (!strcmp(s, "/")) {
		snprintf(why, len, "must not be \"/\" (the guest's root)");
		return -1;
	}
	for (s = path + 1;; s += n + 1) {
		n = strcspn(s, "/");
		if (!component_ok(s, n)) {
			snprintf(why, len, "no empty, \".\" or \"..\" components (nor a final '/')");
			return -1;
		}
		if (!s[n])
			break;
	}
	return share_check_word(path, why, len);
}

/* A decimal u32 at *p (no sign, no leading zeros beyond "0"); advances *p. */
static bool take_u32(const char **p, uint32_t *out)
{
	uint64_t n = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > UINT32_MAX)
			return false;
	}
	*p = s;
	*out = (uint32_t)n;
	return true;
}

/* nr numbers separated by ':' from p, ending where p's string ends or at a
 * final ':' when trailing; the last is a count (>= 1). */
static bool take_numbers(const char *p, unsigned nr, bool trailing)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < nr; i++) {
		if (i && *p++ != ':')
			return false;
		if (!take_u32(&p, &n))
			return false;
	}
	if (trailing && *p++ != ':')
		return false;
	return !*p && n >= 1;
}

int share_check_id_map(const char *map, char *why, size_t len)
{
	if (map[0] == ':' && take_numbers(map + 1, 3, true))
		return 0;
	snprintf(why, len, "expected \":GUEST:HOST:COUNT:\" (decimal, COUNT at least 1)");
	return -1;
}

int share_check_translate(const char *spec, char *why, size_t len)
{
	static const char *const three[] = { "map:", "guest:", "host:", "squash-guest:",
					     "squash-host:", NULL };

	for (unsigned i = 0; three[i]; i++)
		if (!strncmp(spec, three[i], strlen(three[i])) &&
		    take_numbers(spec + strlen(three[i]), 3, false))
			return 0;
	if (!strncmp(spec, "forbid-guest:", 13) && take_numbers(spec + 13, 2, false))
		return 0;
	snprintf(why, len, "expected \"map:GUEST:HOST:COUNT\" (or guest:, host:, squash-guest:, "
		 "squash-host:), or \"forbid-guest:FROM:COUNT\"");
	return -1;
}
