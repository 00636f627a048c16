/* Account lookup from /etc/passwd and /etc/group, without NSS. */
#ifndef VMSILO_AGENT_USER_H
#define VMSILO_AGENT_USER_H

#include <stddef.h>
#include <sys/types.h>

#define USER_MAX_GROUPS 64

struct agent_user {
	uid_t uid;
	gid_t gid;
	char name[64];
	char home[256];
	char shell[256];
	gid_t groups[USER_MAX_GROUPS]; /* primary group first */
	int ngroups;
};

/*
 * Looks up by name (name != NULL) or by uid. Files are parameters so the
 * tests can use their own. 0 on success, -1 with err filled otherwise.
 */
int user_lookup(const char *passwd_path, const char *group_path,
		const char *name, uid_t uid, struct agent_user *u,
		char *err, size_t errlen);

#endif
