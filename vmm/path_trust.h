/*
 * Whether a path root is about to hand to a root process (virtiofsd's
 * share, the shared home's template, virtiofsd's binary) can be swapped
 * under it by someone else: walked from "/" one component at a time with
 * O_PATH|O_NOFOLLOW, every parent owned by root and not writable by group
 * or others, except a sticky one (like /tmp) when the next component is
 * root's (there only an entry's owner may rename it). No symlink anywhere.
 */
#ifndef VMSILO_PATH_TRUST_H
#define VMSILO_PATH_TRUST_H

#include <stddef.h>

enum path_trust_last {
	PATH_TRUST_ANY_DIR,	/* a directory, whoever owns it (a share) */
	PATH_TRUST_ROOT_DIR,	/* a directory root owns, not writable by others */
	PATH_TRUST_ROOT_FILE,	/* a regular file root owns, not writable by others */
};

struct path_trust {
	const char *key;	/* config key, first in the message: "path" */
	const char *what;	/* "the share", after "who could swap" */
	const char *hint;	/* what to do instead, ends the message */
	enum path_trust_last last;
};

/* 0 if trusted; else -1 and one line in err
 * ("key: path: dir is owned by uid N, who could swap what; hint").
 * errno is ENOENT when a component does not exist, else EPERM. */
int path_trust_check(const struct path_trust *t, const char *path, char *err, size_t errlen);

#endif
