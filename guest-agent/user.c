/*
 * A static binary cannot use getpwnam() (glibc's NSS loads shared
 * libraries), so the agent reads the two files itself.
 */
#include "guest-agent/user.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Splits line at ':' into at most n fields; returns how many were found. */
static int split_fields(char *line, char **f, int n)
{
	int i = 0;

	line[strcspn(line, "\n")] = '\0';
	f[i++] = line;
	for (char *p = line; *p && i < n; p++) {
		if (*p == ':') {
			*p = '\0';
			f[i++] = p + 1;
		}
	}
	return i;
}

static int parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return (errno || *end || *out > 0xfffffffeul) ? -1 : 0;
}

static int copy_field(char *dst, size_t cap, const char *src)
{
	if (strlen(src) >= cap)
		return -1;
	strcpy(dst, src);
	return 0;
}

static int find_passwd(FILE *f, const char *name, uid_t uid, struct agent_user *u)
{
	char *line = NULL, *fld[7];
	size_t cap = 0;
	int found = 0;

	while (!found && getline(&line, &cap, f) > 0) {
		unsigned long id, gid;

		if (split_fields(line, fld, 7) != 7 || parse_id(fld[2], &id) ||
		    parse_id(fld[3], &gid))
			continue;
		if (name ? strcmp(fld[0], name) != 0 : id != uid)
			continue;
		if (copy_field(u->name, sizeof(u->name), fld[0]) ||
		    copy_field(u->home, sizeof(u->home), fld[5]) ||
		    copy_field(u->shell, sizeof(u->shell), fld[6]))
			continue;
		u->uid = (uid_t)id;
		u->gid = (gid_t)gid;
		found = 1;
	}
	free(line);
	return found ? 0 : -1;
}

static int is_member(char *members, const char *name)
{
	for (char *m = strtok(members, ","); m; m = strtok(NULL, ","))
		if (!strcmp(m, name))
			return 1;
	return 0;
}

static void add_groups(FILE *f, struct agent_user *u)
{
	char *line = NULL, *fld[4];
	size_t cap = 0;

	u->groups[0] = u->gid;
	u->ngroups = 1;
	while (u->ngroups < USER_MAX_GROUPS && getline(&line, &cap, f) > 0) {
		unsigned long gid;

		if (split_fields(line, fld, 4) != 4 || parse_id(fld[2], &gid) ||
		    gid == u->gid || !is_member(fld[3], u->name))
			continue;
		u->groups[u->ngroups++] = (gid_t)gid;
	}
	free(line);
}

int user_lookup(const char *passwd_path, const char *group_path,
		const char *name, uid_t uid, struct agent_user *u,
		char *err, size_t errlen)
{
	FILE *f = fopen(passwd_path, "re");

	memset(u, 0, sizeof(*u));
	if (!f) {
		snprintf(err, errlen, "cannot read %s: %s", passwd_path, strerror(errno));
		return -1;
	}
	int rc = find_passwd(f, name, uid, u);
	fclose(f);
	if (rc) {
		if (name)
			snprintf(err, errlen, "user %s not found in %s", name, passwd_path);
		else
			snprintf(err, errlen, "uid %u not found in %s", (unsigned)uid, passwd_path);
		return -1;
	}
	f = fopen(group_path, "re");
	if (f) {
		add_groups(f, u);
		fclose(f);
	} else {
		u->groups[0] = u->gid;
		u->ngroups = 1;
	}
	return 0;
}
