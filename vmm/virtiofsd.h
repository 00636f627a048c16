/*
 * virtiofsd supervision: find the installed binary and its flavour (the
 * Rust virtiofsd NixOS ships, or the C one of QEMU <= 7.2), turn a
 * share's options into its arguments (an option it cannot honour is an
 * error naming the option), start it on a listening socket in the VM's
 * runtime directory with the VMM's connection already queued, watch it
 * through a pidfd, restart it, and stop it after the VM.
 * CONTRACT (lead, issue 10).
 */
#ifndef VMSILO_VIRTIOFSD_H
#define VMSILO_VIRTIOFSD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "devices/shared_dir.h"

enum virtiofsd_flavour { VIRTIOFSD_C, VIRTIOFSD_RUST };

struct virtiofsd_binary {
	char path[4096];
	enum virtiofsd_flavour flavour;
	char version[64];		/* as it prints it, for messages */
	char help[16384];		/* its --help (cut at the size): which flags it has */
};

/* configured (NULL: search PATH, /usr/libexec, /usr/lib/qemu); runs
 * "--help"/"--version" to learn the flavour and its flags. A root VMM
 * takes only a binary that root owns in directories nobody else can write
 * (symlinks resolved first). -1 and one actionable line in err. */
int virtiofsd_find(const char *configured, struct virtiofsd_binary *bin, char *err, size_t errlen);

/* argv for share (NULL-terminated, into argv[0..max-1], strings in buf);
 * the socket is passed as --fd=fd. -1 and "key: why" in err when the
 * flavour cannot honour an option. Pure: unit-tested for both flavours. */
int virtiofsd_argv(const struct virtiofsd_binary *bin, const struct shared_dir_config *share,
		   int fd, char **argv, unsigned max, char *buf, size_t buflen, char *err,
		   size_t errlen);

struct virtiofsd;

struct virtiofsd_options {
	const struct virtiofsd_binary *bin;
	const struct shared_dir_config *share;
	const char *name;		/* "fs0", for messages */
	int rundir_fd;			/* the VM's runtime directory */
	const char *rundir_path;
	uid_t uid;			/* the VM's user (socket owner; virtiofsd's user
					 * where the mode needs no root) */
	gid_t gid;
};

/* Starts it; *conn is the VMM's connected end (the vhost-user link's).
 * NULL and one line in err. */
struct virtiofsd *virtiofsd_start(const struct virtiofsd_options *opt, int *conn, char *err,
				  size_t errlen);
/* Readable when the process has exited. */
int virtiofsd_pidfd(const struct virtiofsd *v);
/* 0 when there is no process (never -1: kill(-1, ...) would reach everyone). */
pid_t virtiofsd_pid(const struct virtiofsd *v);
/* After the pidfd fired: reaps it; why says how it ended ("killed by signal 9"). */
void virtiofsd_reap(struct virtiofsd *v, char *why, size_t len);
/* A new process on a new socket; *conn as for start. -errno, at most a
 * few restarts a minute (-EAGAIN beyond). */
int virtiofsd_restart(struct virtiofsd *v, int *conn, char *err, size_t errlen);
/* After the link closed its connection: waits briefly for it to exit by
 * itself, then SIGTERM, then SIGKILL; removes the socket; frees v. */
void virtiofsd_stop(struct virtiofsd *v);

#endif
