/*
 * The VM's runtime directory, <runtime_dir>/<name>/: the sockets and links
 * through which host tools reach the VM. Owned by the configured user with
 * mode 0700, so only that user and root get in; each socket is also
 * chowned to the user. Removed at exit, except what socket activation
 * handed in, which belongs to the service manager.
 */
#ifndef VMSILO_RUNTIME_DIR_H
#define VMSILO_RUNTIME_DIR_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "vmm/config.h"

#define RUNTIME_DIR_MAX_FILES 8

struct runtime_dir {
	char path[PATH_MAX];	/* <runtime_dir>/<name> */
	uid_t uid;		/* the configured user, who may use the sockets */
	gid_t gid;
	bool created;		/* we made the directory */
	char *files[RUNTIME_DIR_MAX_FILES];	/* ours to remove at exit */
	unsigned nr_files;
};

/*
 * Resolves cfg->user and creates the directory (and its parents). A live
 * VM of the same name (its control socket answers) is an error; stale
 * files of a dead one are replaced as they are made again.
 */
int runtime_dir_open(struct runtime_dir *rd, const struct vm_config *cfg, char *err, size_t errlen);
/* "<dir>/<name>" into buf; -1 if it does not fit. */
int runtime_dir_file(const struct runtime_dir *rd, const char *name, char *buf, size_t len);
/*
 * A listening, non-blocking Unix stream socket at <dir>/<name>, mode 0660,
 * owned by the user; removed at exit. Returns the fd or -1 with err set.
 */
int runtime_dir_listen(struct runtime_dir *rd, const char *name, char *err, size_t errlen);
/* Hands path (followed if a link, e.g. the console PTY) to the user. */
int runtime_dir_give(const struct runtime_dir *rd, const char *path);
/* Removes the files made here and the directory if it is then empty. */
void runtime_dir_close(struct runtime_dir *rd);

#endif
