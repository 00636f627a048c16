/*
 * The guest's virtiofs shares: the VMM passes one kernel parameter
 * systemd.mount-extra=TAG:PATH:virtiofs[:OPTIONS] per share with a
 * mount_path (the form systemd guests understand); the agent mounts the
 * ones not mounted yet, so busybox guests get them too.
 */
#ifndef VMSILO_AGENT_MOUNT_EXTRA_H
#define VMSILO_AGENT_MOUNT_EXTRA_H

#include <stdbool.h>
#include <stddef.h>

#define MOUNT_EXTRA_MAX 32

struct mount_extra {
	char tag[64];     /* virtiofs tags are at most 36 bytes */
	char path[256];   /* absolute */
	char options[256];
};

/* The virtiofs entries of CMDLINE, in order, at most MAX into OUT; returns
 * how many. Entries of other types are left alone; malformed or oversized
 * ones are skipped. */
size_t mount_extra_parse(const char *cmdline, struct mount_extra *out, size_t max);

/* Whether MOUNTINFO (the text of /proc/self/mountinfo) shows virtiofs
 * M->tag mounted at M->path. */
bool mount_extra_is_mounted(const char *mountinfo, const struct mount_extra *m);

/* Splits mount OPTIONS into mount(2) flags (ro, nosuid, ...) and the rest
 * for the filesystem, comma-separated in DATA; false if DATA is too small. */
bool mount_extra_split_options(const char *options, unsigned long *flags,
			       char *data, size_t data_size);

/* Mounts each share of /proc/cmdline not yet mounted (creating its mount
 * point); logs one line per share mounted or failed. */
void mount_extra_all(void);

#endif
