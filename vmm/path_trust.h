/*
 * Whether a path root is about to hand to a root process (virtiofsd's
 * share, the shared home's template, virtiofsd's binary) can be swapped
 * under it by someone else: walked from "/" one component at a time with
 * O_PATH|O_NOFOLLOW, every parent owned by root and not writable by group
 * or others, except a sticky one (like /tmp) when the next component is
 * root's (there only an entry's owner may rename it). No symlink anywhere.
 * A walk may trust one user besides root (the VM's user, for their own
 * Wayland socket in their runtime directory): their directories and
 * entries count as root's.
 */
#ifndef VMSILO_PATH_TRUST_H
#define VMSILO_PATH_TRUST_H

#include <stddef.h>
#include <sys/types.h>

enum path_trust_last {
	PATH_TRUST_ANY_DIR,	/* a directory, whoever owns it (a share) */
	PATH_TRUST_ROOT_DIR,	/* a directory root owns, not writable by others */
	PATH_TRUST_ROOT_FILE,	/* a regular file root owns, not writable by others */
	PATH_TRUST_SOCKET,	/* a Unix socket root or the trusted user owns */
};

struct path_trust {
	const char *key;	/* config key, first in the message: "path" */
	const char *what;	/* "the share", after "who could swap" */
	const char *hint;	/* what to do instead, ends the message */
	enum path_trust_last last;
	uid_t user;		/* trusted besides root; 0: root only */
};

/* 0 if trusted; else -1 and one line in err
 * ("key: path: dir is owned by uid N, who could swap what; hint").
 * errno is ENOENT when a component does not exist, else EPERM. */
int path_trust_check(const struct path_trust *t, const char *path, char *err, size_t errlen);
/* The same walk, keeping what it ends on: an O_PATH|O_CLOEXEC fd of the
 * last component (the very inode checked), or -1 as above. */
int path_trust_open(const struct path_trust *t, const char *path, char *err, size_t errlen);

#endif
