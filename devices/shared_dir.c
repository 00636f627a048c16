/*
 * [[shared_dir]]: the config keys of a virtio-fs share and what the VMM's
 * vhost-user frontend needs to serve it (vmm/virtiofsd.h starts the
 * backend). No model and no process of ours: the kind has .vhost_user.
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/virtio_ids.h>

#include "devices/shared_dir.h"
#include "devices/share_syntax.h"

#define SHARE(f) offsetof(struct shared_dir_config, f)
#define FS_NR_REQUEST_QUEUES 1
#define FS_CONFIG_SIZE (SHARED_DIR_TAG_MAX + 4)	/* tag[36], le32 num_request_queues */
/* So the longest parameter, with a 36-byte tag and ":ro", fits the VMM's
 * 256-byte buffer (vmm/vm.c). */
#define MOUNT_PATH_MAX 180

static int check_tag(const void *value, char *why, size_t len)
{
	return share_check_tag(*(char *const *)value, why, len);
}

int shared_dir_check_directory(const char *path, char *why, size_t len)
{
	struct stat st;

	if (lstat(path, &st)) {
		snprintf(why, len, "%.150s: no such directory", path);
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {	/* the C virtiofsd refuses it as a source */
		snprintf(why, len, "%.150s: is a symlink: give the directory it points to", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%.150s: not a directory", path);
		return -1;
	}
	return 0;
}

/* Config time: the directory must be there (the shared home's is made later). */
static int check_directory(const void *value, char *why, size_t len)
{
	return shared_dir_check_directory(*(char *const *)value, why, len);
}

static int check_mount_path(const void *value, char *why, size_t len)
{
	return share_check_mount_path(*(char *const *)value, why, len);
}

static int check_id_map(const void *value, char *why, size_t len)
{
	return share_check_id_map(*(char *const *)value, why, len);
}

static int check_translate(const void *value, char *why, size_t len)
{
	return share_check_translate(*(char *const *)value, why, len);
}

static int check_queue_size(const void *value, char *why, size_t len)
{
	uint64_t n = *(const uint64_t *)value;

	if (n & (n - 1)) {
		snprintf(why, len, "must be a power of two, got %llu", (unsigned long long)n);
		return -1;
	}
	return 0;
}

static const char *const cache_names[] = { "auto", "always", "never", "metadata", NULL };
static const char *const fh_names[] = { "never", "prefer", "mandatory", NULL };
static const char *const log_names[] = { "error", "warn", "info", "debug", NULL };

/* No DAX window yet: a share never silently runs without what it asked for. */
static int check_no_dax(const void *value, char *why, size_t len)
{
	if (!*(const bool *)value)
		return 0;
	snprintf(why, len, "not supported yet (no DAX window); set allow_mmap = false");
	return -1;
}

static const struct cfg_key shared_dir_keys[] = {
	{ "tag", CFG_STRING, SHARE(tag), 0, NULL, 0, SHARED_DIR_TAG_MAX, NULL,
	  "The virtio-fs tag the guest mounts (`mount -t virtiofs TAG`); unique (the "
	  "`[[vhost_user]]` fs tags included), 1 to 36 bytes of `A-Z a-z 0-9 . _ -`; `\"home\"` is the "
	  "shared home's.", check_tag },
	{ "path", CFG_PATH, SHARE(path), 0, NULL, 0, 0, NULL,
	  "The host directory; must exist and not be a symlink itself.", check_directory },
	{ "mount_path", CFG_STRING, SHARE(mount_path), 0, "none", 0, MOUNT_PATH_MAX, NULL,
	  "Where the guest mounts it (`systemd.mount-extra=TAG:PATH:virtiofs` on the kernel "
	  "command line); unique, absolute, not `/`, at most 180 bytes, no `:`, `\"` or "
	  "whitespace, no empty, `.` or `..` components. Unset: the guest does not mount it.",
	  check_mount_path },
	{ "readonly", CFG_BOOL, SHARE(readonly), 0, "false", 0, 0, NULL,
	  "The guest cannot write (also mounted `ro`).", NULL },
	{ "cache", CFG_CHOICE, SHARE(cache), 0, "auto", 0, 0, cache_names,
	  "virtiofsd's cache policy: `\"auto\"`, `\"always\"`, `\"never\"` or `\"metadata\"`.",
	  NULL },
	{ "xattr", CFG_BOOL, SHARE(xattr), 0, "true", 0, 0, NULL,
	  "Extended attributes.", NULL },
	{ "posix_acl", CFG_BOOL, SHARE(posix_acl), 0, "true", 0, 0, NULL,
	  "POSIX ACLs (needs `xattr`).", NULL },
	{ "writeback", CFG_BOOL, SHARE(writeback), 0, "false", 0, 0, NULL,
	  "Writeback caching in the guest.", NULL },
	{ "allow_direct_io", CFG_BOOL, SHARE(allow_direct_io), 0, "false", 0, 0, NULL,
	  "Honour the guest's `O_DIRECT`.", NULL },
	{ "allow_mmap", CFG_BOOL, SHARE(allow_mmap), 0, "false", 0, 0, NULL,
	  "Shared `mmap` through a DAX window: not supported yet, `true` is refused "
	  "(guests still `mmap` files, through the page cache).", check_no_dax },
	{ "readdirplus", CFG_BOOL, SHARE(readdirplus), 0, "true", 0, 0, NULL,
	  "READDIRPLUS (attributes with directory entries).", NULL },
	{ "killpriv_v2", CFG_BOOL, SHARE(killpriv_v2), 0, "true", 0, 0, NULL,
	  "FUSE killpriv v2 (setuid bits cleared on write by the host).", NULL },
	{ "inode_file_handles", CFG_CHOICE, SHARE(inode_file_handles),
	  SHARE(inode_file_handles_set), "prefer", 0, 0, fh_names,
	  "Inodes by file handle: `\"never\"`, `\"prefer\"` or `\"mandatory\"`.", NULL },
	{ "thread_pool_size", CFG_UINT, SHARE(thread_pool_size), 0, "0", 0, 1024, NULL,
	  "virtiofsd's worker threads; `0`: its default.", NULL },
	{ "uid_map", CFG_STRING, SHARE(uid_map), 0, "none", 0, 0, NULL,
	  "virtiofsd's user namespace uid map, `\":GUEST:HOST:COUNT:\"`.", check_id_map },
	{ "gid_map", CFG_STRING, SHARE(gid_map), 0, "none", 0, 0, NULL,
	  "The gid map, as `uid_map`.", check_id_map },
	{ "translate_uid", CFG_STRING, SHARE(translate_uid), 0, "none", 0, 0, NULL,
	  "uid translation: `\"map:GUEST:HOST:COUNT\"`, `guest:`, `host:`, `squash-guest:`, "
	  "`squash-host:` (three numbers) or `\"forbid-guest:FROM:COUNT\"`.", check_translate },
	{ "translate_gid", CFG_STRING, SHARE(translate_gid), 0, "none", 0, 0, NULL,
	  "gid translation, as `translate_uid`.", check_translate },
	{ "preserve_noatime", CFG_BOOL, SHARE(preserve_noatime), 0, "false", 0, 0, NULL,
	  "Keep `O_NOATIME` on files the guest opens with it.", NULL },
	{ "log_level", CFG_CHOICE, SHARE(log_level), 0, "info", 0, 0, log_names,
	  "virtiofsd's log level: `\"error\"`, `\"warn\"`, `\"info\"` or `\"debug\"`.", NULL },
	{ "queue_size", CFG_UINT, SHARE(queue_size), 0, "1024", 16, 1024, NULL,
	  "Entries per queue, a power of two.", check_queue_size },
	{ .name = NULL },
};

/* Mount paths are unique among the shares; the shared home's, the last
 * share, is "/home/user". (Tags, unique across kinds: vmm/config.c.) */
static void shared_dir_check(const void *cfg, struct cfg_check *chk)
{
	const struct shared_dir_config *s = cfg;

	for (unsigned i = 0; i < chk->nr_earlier; i++) {
		const struct shared_dir_config *o = chk->earlier[i];

		if (s->mount_path && o->mount_path && !strcmp(o->mount_path, s->mount_path))
			chk->report(chk, "mount_path: \"%s\" is also shared_dir[%u]'s",
				    s->mount_path, i);
	}
}

static int shared_dir_kernel_param(const void *cfg, const struct device_env *env, char *buf,
				   size_t len)
{
	const struct shared_dir_config *s = cfg;
	int n;

	(void)env;
	if (!s->mount_path)
		n = snprintf(buf, len, "%s", "");
	else
		n = snprintf(buf, len, "systemd.mount-extra=%s:%s:virtiofs%s", s->tag,
			     s->mount_path, s->readonly ? ":ro" : "");
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int shared_dir_vhost_user(const void *cfg, const struct device_env *env,
				 struct vhost_user_target *t, char *err, size_t errlen)
{
	const struct shared_dir_config *s = cfg;
	uint32_t nr_request_queues = htole32(FS_NR_REQUEST_QUEUES);

	(void)env;
	if (!s->tag || strlen(s->tag) > SHARED_DIR_TAG_MAX || s->queue_size > UINT16_MAX) {
		snprintf(err, errlen, "shared_dir: no valid tag or queue size");
		return -EINVAL;
	}
	memset(t, 0, sizeof(*t));
	t->device_id = VIRTIO_ID_FS;
	t->virtiofsd = true;
	t->nr_queues = 1 + FS_NR_REQUEST_QUEUES;	/* hiprio + requests */
	t->queue_size = (uint16_t)s->queue_size;
	memcpy(t->config, s->tag, strlen(s->tag));	/* zero-padded, not terminated */
	memcpy(t->config + SHARED_DIR_TAG_MAX, &nr_request_queues, sizeof(nr_request_queues));
	t->config_size = FS_CONFIG_SIZE;
	return 0;
}

const struct device_kind shared_dir_kind = {
	.section = "shared_dir",
	.prefix = "fs",
	.max = SHARED_DIR_MAX,
	.plural = "shared directories",
	.config_size = sizeof(struct shared_dir_config),
	.keys = shared_dir_keys,
	.doc = "a host directory shared over virtio-fs, served by a virtiofsd the VMM starts",
	.check = shared_dir_check,
	.kernel_param = shared_dir_kernel_param,
	.vhost_user = shared_dir_vhost_user,
};
