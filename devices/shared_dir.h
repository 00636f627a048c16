/*
 * [[shared_dir]] and the shared home: a host directory shared with the
 * guest over virtio-fs, served by a virtiofsd the VMM starts, supervises
 * and stops (vmm/virtiofsd.h). The config parser fills one struct per
 * share; shared_home adds one more with home set.
 * CONTRACT (lead, issue 10): vmm/virtiofsd.c and the config read this.
 */
#ifndef VMSILO_SHARED_DIR_H
#define VMSILO_SHARED_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/registry.h"

#define SHARED_DIR_TAG_MAX 36		/* virtio-fs config: tag[36] */
#define SHARED_DIR_MAX 8

enum share_cache { SHARE_CACHE_AUTO, SHARE_CACHE_ALWAYS, SHARE_CACHE_NEVER, SHARE_CACHE_METADATA };
enum share_fh { SHARE_FH_NEVER, SHARE_FH_PREFER, SHARE_FH_MANDATORY };
enum share_log { SHARE_LOG_ERROR, SHARE_LOG_WARN, SHARE_LOG_INFO, SHARE_LOG_DEBUG };

struct shared_dir_config {
	char *tag;			/* unique, 1..36 bytes */
	char *path;			/* host directory; must exist (but see home) */
	char *mount_path;		/* NULL: the guest does not mount it */
	bool readonly;
	int cache;			/* enum share_cache, default auto */
	bool xattr, posix_acl, writeback, allow_direct_io, allow_mmap;
	bool readdirplus, killpriv_v2, preserve_noatime;
	int inode_file_handles;		/* enum share_fh, default prefer */
	bool inode_file_handles_set;	/* given in the file (else a virtiofsd
					 * without file handles is fine) */
	uint64_t thread_pool_size;	/* 0: virtiofsd's default */
	char *uid_map, *gid_map;	/* ":ns:host:count:", NULL: none */
	char *translate_uid, *translate_gid;	/* "map:a:b:n", NULL: none */
	int log_level;			/* enum share_log, default info */
	uint64_t queue_size;		/* per queue, default 1024 */
	/* Not keys: set for the share shared_home adds (tag "home"). */
	bool home;			/* path is created from home_template on first start */
	char *home_template;		/* copied with owner = the VM's user */
	/* Top-level "virtiofsd" (NULL: searched); shared by all shares. */
	char *virtiofsd;
};

extern const struct device_kind shared_dir_kind;

/* 0 when path is a directory (its last component not a symlink), else -1
 * and "PATH: no such directory" (or "not a directory", "is a symlink...")
 * in why. */
int shared_dir_check_directory(const char *path, char *why, size_t len);

#endif
