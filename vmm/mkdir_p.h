/*
 * mkdir -p for paths root or a hostile user may have rigged: walked from /
 * one component at a time with openat, never following a symlink, so the
 * directory returned is the one each step checked. The VMM's runtime_dir
 * and vm-start's log directory both come through here.
 */
#ifndef VMSILO_MKDIR_P_H
#define VMSILO_MKDIR_P_H

#include <stddef.h>
#include <sys/types.h>

/* Called on every directory of the walk, "/" first: non-zero (with err
 * set) stops it. */
typedef int (*mkdir_p_check)(int fd, const char *shown, void *ctx, char *err, size_t errlen);

/*
 * openat(at, name) as a directory (flags | O_DIRECTORY | O_NOFOLLOW):
 * the fd, or -1 with err "<what>: ..." saying whether it was a symlink.
 */
int dir_open_nofollow(int at, const char *name, int flags, const char *what,
		      const char *shown, char *err, size_t errlen);

/*
 * Each missing component of the absolute path made with mode (umask
 * applies), "." skipped, ".." refused. Returns an O_PATH fd on the last
 * directory, or -1 with one line in err starting "<what>: ".
 */
int mkdir_p(const char *path, mode_t mode, const char *what, mkdir_p_check check, void *ctx,
	    char *err, size_t errlen);

/*
 * The check for a directory root will use for a user: owned by root, us
 * or that user, and not writable by group or others unless sticky, so
 * nobody else can swap what is under it. ctx is a struct mkdir_p_trust.
 */
struct mkdir_p_trust {
	uid_t uid;		/* the user the directory is for */
	const char *what;	/* the config key or option, for messages */
};
int mkdir_p_trusted(int fd, const char *shown, void *trust, char *err, size_t errlen);

#endif
