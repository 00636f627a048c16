/*
 * The VM's runtime directory, <runtime_dir>/<name>/: the sockets and links
 * through which host tools reach the VM. Owned by the configured user with
 * mode 0700, so only that user and root get in.
 *
 * The user owns <name>/ and may be hostile, so nothing here is done by
 * path: <runtime_dir> is walked from / without following links, every
 * component checked (owned by root, us or the user; not writable by others
 * unless sticky), and everything else is relative to the directory fds.
 * Links are made with the user's filesystem identity and sockets are
 * bound and chowned in a staging directory only root can write, then
 * renamed into place, so both are the user's from the moment they have
 * their name and root never chowns a name the user could have swapped.
 * Removed at exit, except what socket activation handed in, which belongs
 * to the service manager.
 *
 * The VMM reaches its own listeners (the agent watch, vsock.socket) only
 * through a handle on the socket's inode taken where the user cannot
 * reach, never by its name in the directory: the user may replace that
 * name with a link to any socket on the host.
 */
#ifndef VMSILO_RUNTIME_DIR_H
#define VMSILO_RUNTIME_DIR_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "vmm/config.h"

#define RUNTIME_DIR_MAX_FILES 8

struct runtime_dir {
	char path[PATH_MAX];	/* <runtime_dir>/<name>, for messages and clients */
	char name[NAME_MAX + 1];	/* <name>, in parent_fd */
	uid_t uid;		/* the configured user, who may use the sockets */
	gid_t gid;
	bool created;		/* we made the directory */
	int parent_fd;		/* <runtime_dir>, opened without following links */
	int dir_fd;		/* <runtime_dir>/<name> */
	struct runtime_file {
		char *name;	/* in dir_fd, ours to remove at exit */
		int handle;	/* O_PATH on a listener's socket inode, or -1 */
	} files[RUNTIME_DIR_MAX_FILES];
	unsigned nr_files;
};

/*
 * Resolves cfg->user, checks <runtime_dir> (creating missing components)
 * and creates or takes over <name>. A live VM of the same name (its
 * control socket answers) is an error; stale files of a dead one are
 * replaced as they are made again.
 */
int runtime_dir_open(struct runtime_dir *rd, const struct vm_config *cfg, char *err, size_t errlen);
/* "<dir>/<name>" into buf; -1 if it does not fit. */
int runtime_dir_file(const struct runtime_dir *rd, const char *name, char *buf, size_t len);
/*
 * A listening, non-blocking Unix stream socket <name> in the directory,
 * owned by the user with mode 0660 from the moment it has that name;
 * removed at exit. Returns the fd or -1 with err set.
 */
int runtime_dir_listen(struct runtime_dir *rd, const char *name, char *err, size_t errlen);
/* The same with another socket type (SOCK_SEQPACKET for crosvm.socket). */
int runtime_dir_listen_type(struct runtime_dir *rd, const char *name, int type,
			    char *err, size_t errlen);
/*
 * A non-blocking connection to the listener runtime_dir_listen made as
 * <name>, through the handle kept on its inode: whatever now has that name
 * in the directory, nothing but our own listener is reached. The fd, or
 * -1 with errno (ENOENT: not one of ours).
 */
int runtime_dir_connect(const struct runtime_dir *rd, const char *name);
/* A symlink <name> -> target in the directory, the user's; removed at exit. */
int runtime_dir_link(struct runtime_dir *rd, const char *name, const char *target,
		     char *err, size_t errlen);
/* Hands the open file fd (e.g. the console PTY) to the user. */
int runtime_dir_give(const struct runtime_dir *rd, int fd);
/* Removes the files made here and the directory if it is then empty. */
void runtime_dir_close(struct runtime_dir *rd);

#endif
