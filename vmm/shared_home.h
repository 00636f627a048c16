/*
 * The shared home: <shared_root>/<vm>/home, created on first start from a
 * template directory, owned by the VM's user. Runs as root in the VMM
 * before the guest boots, so every step is safe against a user who owns
 * what it walks (no symlink followed, no file left half-copied).
 * CONTRACT (lead, issue 10).
 */
#ifndef VMSILO_SHARED_HOME_H
#define VMSILO_SHARED_HOME_H

#include <stddef.h>
#include <sys/types.h>

/* Makes home (and its missing parents, root-owned 0755) unless it exists:
 * a copy of template (or empty when template does not exist) owned by
 * uid:gid, mode 0700, put in place by one rename. 0 (also when it already
 * existed), -1 and one line in err. */
int shared_home_prepare(const char *home, const char *template_dir, uid_t uid, gid_t gid,
			char *err, size_t errlen);

#endif
