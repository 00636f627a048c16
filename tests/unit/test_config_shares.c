/*
 * The config of shared directories, the shared home and generic vhost-user
 * devices: every key's default and value, the checks of share strings,
 * the share shared_home adds, and what the kinds hand the VMM (the
 * vhost-user target, the kernel parameter).
 */
#include "vmm/config.h"
#include "devices/shared_dir.h"
#include "devices/vhost_user_dev.h"
#include "tests/unit/check.h"
#include "tests/unit/log_capture.h"

#include <endian.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_ids.h>

#define MIN_DOC "name = \"banking\"\nkernel = \"/boot/vmlinuz\"\n"

static char dir[64];		/* an existing directory, shared by the cases */
static char file[96];		/* an existing file in it */
static char sub[96];		/* a directory in it */
static char dirlink[96];		/* a symlink to dir, beside it */

/* printf into a static buffer: the documents of one case. */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
	static char buf[4][8192];
	static unsigned next;
	char *out = buf[next++ % 4];
	va_list ap;

	va_start(ap, f);
	vsnprintf(out, sizeof(buf[0]), f, ap);
	va_end(ap);
	return out;
}

/* config_parse with stderr captured into out. */
static int parse_quiet(const char *doc, struct vm_config *cfg, char *out, size_t outlen)
{
	struct log_capture cap;
	char *said;
	int ret;

	log_capture_begin(&cap);
	ret = config_parse("banking.toml", doc, strlen(doc), cfg, NULL, 0);
	said = log_capture_end(&cap);
	snprintf(out, outlen, "%s", said ? said : "");
	free(said);
	return ret;
}

static int parse(int srcline, const char *doc, struct vm_config *cfg)
{
	char out[4096];
	int ret = parse_quiet(doc, cfg, out, sizeof(out));

	if (ret)
		fprintf(stderr, "test_config_shares.c:%d: unexpected errors:\n%s", srcline, out);
	CHECK_EQ(ret, 0);
	return ret;
}

/* doc must fail with exactly the lines in want. */
static void bad(int srcline, const char *doc, const char *want)
{
	char out[4096];
	struct vm_config cfg;

	CHECK_EQ(parse_quiet(doc, &cfg, out, sizeof(out)), -1);
	if (strcmp(out, want))
		fprintf(stderr, "test_config_shares.c:%d: input:\n%s\n", srcline, doc);
	CHECK_STR(out, want);
	config_free(&cfg);
}

#define PARSE(doc, cfg) parse(__LINE__, doc, cfg)
#define BAD(doc, want) bad(__LINE__, doc, want "\n")

static const struct shared_dir_config *share(const struct vm_config *cfg, unsigned index)
{
	static const struct shared_dir_config none;
	const struct config_device *d = config_instance(cfg, &shared_dir_kind, index);

	CHECK(d != NULL);
	return d ? d->cfg : &none;
}

/* A document with one share: tag "data" at dir, then extra lines. */
static const char *one_share(const char *extra)
{
	return fmt(MIN_DOC "[[shared_dir]]\ntag = \"data\"\npath = \"%s\"\n%s", dir, extra);
}

static void kernel_param(const struct config_device *d, const char *want)
{
	char buf[512] = "x";

	CHECK(d && d->kind->kernel_param);
	if (!d || !d->kind->kernel_param)
		return;
	CHECK_EQ(d->kind->kernel_param(d->cfg, NULL, buf, sizeof(buf)), 0);
	CHECK_STR(buf, want);
	if (want[0])	/* one byte short: does not fit */
		CHECK_EQ(d->kind->kernel_param(d->cfg, NULL, buf, strlen(want)), -1);
}

static void test_share_defaults(void)
{
	struct vm_config cfg;
	const struct shared_dir_config *s;
	struct vhost_user_target t;
	uint32_t nr_request_queues;
	char err[128];

	if (PARSE(one_share(""), &cfg))
		return;
	CHECK_EQ(config_count(&cfg, &shared_dir_kind), 1);
	s = share(&cfg, 0);
	CHECK_STR(s->tag, "data");
	CHECK_STR(s->path, dir);
	CHECK(s->mount_path == NULL);
	CHECK(!s->readonly && !s->writeback && !s->allow_direct_io && !s->allow_mmap);
	CHECK(s->xattr && s->posix_acl && s->readdirplus && s->killpriv_v2);
	CHECK(!s->preserve_noatime);
	CHECK_EQ(s->cache, SHARE_CACHE_AUTO);
	CHECK_EQ(s->inode_file_handles, SHARE_FH_PREFER);
	CHECK(!s->inode_file_handles_set);
	CHECK_EQ(s->thread_pool_size, 0);
	CHECK(!s->uid_map && !s->gid_map && !s->translate_uid && !s->translate_gid);
	CHECK_EQ(s->log_level, SHARE_LOG_INFO);
	CHECK_EQ(s->queue_size, 1024);
	CHECK(!s->home && !s->home_template && !s->virtiofsd);
	CHECK(!cfg.shared_home.enable);
	CHECK_STR(cfg.shared_root, "/shared");
	CHECK_STR(cfg.home_template, "/var/lib/vmsilo/home-template");
	kernel_param(config_instance(&cfg, &shared_dir_kind, 0), "");

	memset(&t, 0xaa, sizeof(t));
	CHECK_EQ(shared_dir_kind.vhost_user(s, NULL, &t, err, sizeof(err)), 0);
	CHECK_EQ(t.device_id, VIRTIO_ID_FS);
	CHECK(t.virtiofsd && !t.socket);
	CHECK_EQ(t.nr_queues, 2);
	CHECK_EQ(t.queue_size, 1024);
	CHECK_EQ(t.config_size, 40);
	CHECK(!memcmp(t.config, "data", 4));
	for (unsigned i = 4; i < SHARED_DIR_TAG_MAX; i++)
		CHECK_EQ(t.config[i], 0);
	memcpy(&nr_request_queues, t.config + SHARED_DIR_TAG_MAX, 4);
	CHECK_EQ(le32toh(nr_request_queues), 1);
	CHECK(!shared_dir_kind.create && !shared_dir_kind.policy);
	config_free(&cfg);
}

static void test_share_keys(void)
{
	struct vm_config cfg;
	const struct shared_dir_config *s;

	if (PARSE(one_share("mount_path = \"/mnt/data\"\nreadonly = true\ncache = \"metadata\"\n"
			    "xattr = false\nposix_acl = false\nwriteback = true\n"
			    "allow_direct_io = true\nreaddirplus = false\n"
			    "killpriv_v2 = false\ninode_file_handles = \"mandatory\"\n"
			    "thread_pool_size = 1024\nuid_map = \":1000:1000:1:\"\n"
			    "gid_map = \":0:100000:65536:\"\ntranslate_uid = \"map:1000:1000:1\"\n"
			    "translate_gid = \"squash-guest:0:100:4294967295\"\n"
			    "preserve_noatime = true\nlog_level = \"debug\"\nqueue_size = 16\n"),
		  &cfg))
		return;
	s = share(&cfg, 0);
	CHECK_STR(s->mount_path, "/mnt/data");
	CHECK(s->readonly && s->writeback && s->allow_direct_io && !s->allow_mmap);
	CHECK(!s->xattr && !s->posix_acl && !s->readdirplus && !s->killpriv_v2);
	CHECK(s->preserve_noatime);
	CHECK_EQ(s->cache, SHARE_CACHE_METADATA);
	CHECK_EQ(s->inode_file_handles, SHARE_FH_MANDATORY);
	CHECK(s->inode_file_handles_set);
	CHECK_EQ(s->thread_pool_size, 1024);
	CHECK_STR(s->uid_map, ":1000:1000:1:");
	CHECK_STR(s->gid_map, ":0:100000:65536:");
	CHECK_STR(s->translate_uid, "map:1000:1000:1");
	CHECK_STR(s->translate_gid, "squash-guest:0:100:4294967295");
	CHECK_EQ(s->log_level, SHARE_LOG_DEBUG);
	CHECK_EQ(s->queue_size, 16);
	kernel_param(config_instance(&cfg, &shared_dir_kind, 0),
		     "systemd.mount-extra=data:/mnt/data:virtiofs:ro");
	config_free(&cfg);

	if (PARSE(one_share("mount_path = \"/mnt/data\"\ninode_file_handles = \"prefer\"\n"
			    "cache = \"never\"\n"), &cfg))
		return;
	CHECK(share(&cfg, 0)->inode_file_handles_set);	/* given, even as the default */
	CHECK_EQ(share(&cfg, 0)->cache, SHARE_CACHE_NEVER);
	kernel_param(config_instance(&cfg, &shared_dir_kind, 0),
		     "systemd.mount-extra=data:/mnt/data:virtiofs");
	config_free(&cfg);
}

#define TAG_WANT "only letters, digits, '.', '_' and '-' (it names the socket and goes on " \
	"the kernel command line)"

static void test_tags(void)
{
	const char *tag36 = "abcdefghijklmnopqrstuvwxyz0123456789";
	struct vm_config cfg;

	if (!PARSE(fmt(MIN_DOC "[[shared_dir]]\ntag = \"%s\"\npath = \"%s\"\n", tag36, dir), &cfg))
		CHECK_STR(share(&cfg, 0)->tag, tag36);
	config_free(&cfg);
	BAD(fmt(MIN_DOC "[[shared_dir]]\ntag = \"%sX\"\npath = \"%s\"\n", tag36, dir),
	    "banking.toml:4:7: shared_dir[0].tag: at most 36 bytes");
	BAD(fmt(MIN_DOC "[[shared_dir]]\ntag = \"\"\npath = \"%s\"\n", dir),
	    "banking.toml:4:7: shared_dir[0].tag: must be 1 to 36 bytes, got 0");
	/* A '/' would leave the runtime directory in virtiofs-<tag>.sock, a '"'
	 * would end the kernel command line's quoting. */
	static const char *const bad_tags[] = { "a:b", "a b", "a/b", "../x", "a\\\"b", "a=b",
						"a,b", "a\\tb", "\\u00e9t\\u00e9", NULL };
	for (unsigned i = 0; bad_tags[i]; i++)
		BAD(fmt(MIN_DOC "[[shared_dir]]\ntag = \"%s\"\npath = \"%s\"\n", bad_tags[i], dir),
		    "banking.toml:4:7: shared_dir[0].tag: " TAG_WANT);
	if (!PARSE(fmt(MIN_DOC "[[shared_dir]]\ntag = \"Data-2.old_x\"\npath = \"%s\"\n", dir),
		   &cfg))
		CHECK_STR(share(&cfg, 0)->tag, "Data-2.old_x");
	config_free(&cfg);
	BAD(fmt(MIN_DOC "[[shared_dir]]\npath = \"%s\"\n", dir),
	    "banking.toml:3:1: shared_dir[0]: tag: required key is missing");
	BAD(fmt(MIN_DOC "[[shared_dir]]\ntag = \"data\"\npath = \"%s\"\n"
		"[[shared_dir]]\ntag = \"data\"\npath = \"%s\"\n", dir, dir),
	    "banking.toml:6:1: shared_dir[1]: tag: \"data\" is also shared_dir[0]'s");
	/* "home" is the shared home's, and only when there is one. */
	BAD(fmt("shared_home = true\n" MIN_DOC "[[shared_dir]]\ntag = \"home\"\npath = \"%s\"\n",
		dir),
	    "banking.toml:1:1: shared_home: tag: \"home\" is also shared_dir[0]'s");
	if (!PARSE(fmt(MIN_DOC "[[shared_dir]]\ntag = \"home\"\npath = \"%s\"\n", dir), &cfg))
		CHECK_STR(share(&cfg, 0)->tag, "home");
	config_free(&cfg);
}

/* The longest tag and mount path still make a parameter that fits 256 bytes. */
static void test_longest_param(void)
{
	const char *tag36 = "abcdefghijklmnopqrstuvwxyz0123456789";
	char mount[182], want[300], buf[256];
	const struct config_device *d;
	struct vm_config cfg;

	memset(mount, 'm', sizeof(mount) - 1);
	mount[0] = '/';
	mount[181] = '\0';
	BAD(fmt(MIN_DOC "[[shared_dir]]\ntag = \"%s\"\npath = \"%s\"\nmount_path = \"%s\"\n",
		tag36, dir, mount),
	    "banking.toml:6:14: shared_dir[0].mount_path: at most 180 bytes");
	mount[180] = '\0';
	if (PARSE(fmt(MIN_DOC "[[shared_dir]]\ntag = \"%s\"\npath = \"%s\"\nmount_path = \"%s\"\n"
		      "readonly = true\n", tag36, dir, mount), &cfg))
		return;
	d = config_instance(&cfg, &shared_dir_kind, 0);
	snprintf(want, sizeof(want), "systemd.mount-extra=%s:%s:virtiofs:ro", tag36, mount);
	CHECK(d && d->kind->kernel_param(d->cfg, NULL, buf, sizeof(buf)) == 0);
	CHECK_STR(buf, want);
	config_free(&cfg);
}

static void test_paths(void)
{
	struct vm_config cfg;

	BAD(MIN_DOC "[[shared_dir]]\ntag = \"data\"\npath = \"/nonexistent/x\"\n",
	    "banking.toml:5:8: shared_dir[0].path: /nonexistent/x: no such directory");
	bad(__LINE__, fmt(MIN_DOC "[[shared_dir]]\ntag = \"data\"\npath = \"%s\"\n", file),
	    fmt("banking.toml:5:8: shared_dir[0].path: %s: not a directory\n", file));
	BAD(MIN_DOC "[[shared_dir]]\ntag = \"data\"\n",
	    "banking.toml:3:1: shared_dir[0]: path: required key is missing");
	bad(__LINE__, fmt(MIN_DOC "[[shared_dir]]\ntag = \"data\"\npath = \"%s\"\n", dirlink),
	    fmt("banking.toml:5:8: shared_dir[0].path: %s: is a symlink: give the directory it "
		"points to\n", dirlink));
	bad(__LINE__, fmt("shared_home = \"%s\"\n" MIN_DOC, dirlink),
	    fmt("banking.toml:1:15: shared_home: %s: is a symlink: give the directory it "
		"points to\n", dirlink));
	/* A symlink above the last component is the host's business (/var -> /private/var). */
	if (!PARSE(fmt(MIN_DOC "[[shared_dir]]\ntag = \"data\"\npath = \"%s/sub\"\n", dirlink),
		   &cfg))
		CHECK_STR(share(&cfg, 0)->path, fmt("%s/sub", dirlink));
	config_free(&cfg);
	BAD(one_share("allow_mmap = true\n"),
	    "banking.toml:6:14: shared_dir[0].allow_mmap: not supported yet (no DAX window); "
	    "set allow_mmap = false");
	BAD(one_share("mount_path = \"mnt/data\"\n"),
	    "banking.toml:6:14: shared_dir[0].mount_path: must be an absolute path");
	BAD(one_share("mount_path = \"/mnt/a:b\"\n"),
	    "banking.toml:6:14: shared_dir[0].mount_path: must not contain ':', whitespace or "
	    "control characters (it goes on the kernel command line)");
	BAD(one_share("mount_path = \"/mnt/a b\"\n"),
	    "banking.toml:6:14: shared_dir[0].mount_path: must not contain ':', whitespace or "
	    "control characters (it goes on the kernel command line)");
	BAD(one_share("mount_path = \"/mnt/a\\\"b\"\n"),
	    "banking.toml:6:14: shared_dir[0].mount_path: must not contain '\"' (it goes on the "
	    "kernel command line)");
	BAD(one_share("mount_path = \"/\"\n"),
	    "banking.toml:6:14: shared_dir[0].mount_path: must not be \"/\" (the guest's root)");
}

/* One path, one mount point: no aliases of another share's, nor of "/". */
static void test_mount_path_components(void)
{
	static const char *const bad_paths[] = { "//", "/mnt//a", "//mnt", "/mnt/", "/.",
						 "/..", "/mnt/.", "/mnt/../etc", "/./mnt",
						 "/mnt/a/..", NULL };
	static const char *const good_paths[] = { "/mnt", "/mnt/a/b", "/mnt/.a", "/mnt/..b",
						  "/mnt/...", "/a.", NULL };
	struct vm_config cfg;

	for (unsigned i = 0; bad_paths[i]; i++)
		BAD(one_share(fmt("mount_path = \"%s\"\n", bad_paths[i])),
		    "banking.toml:6:14: shared_dir[0].mount_path: no empty, \".\" or \"..\" "
		    "components (nor a final '/')");
	for (unsigned i = 0; good_paths[i]; i++) {
		if (!PARSE(one_share(fmt("mount_path = \"%s\"\n", good_paths[i])), &cfg))
			CHECK_STR(share(&cfg, 0)->mount_path, good_paths[i]);
		config_free(&cfg);
	}
}

/* Two shares cannot mount at one path, the shared home's "/home/user" included. */
static void test_mount_path_unique(void)
{
	struct vm_config cfg;

	BAD(fmt(MIN_DOC "[[shared_dir]]\ntag = \"a\"\npath = \"%s\"\nmount_path = \"/mnt/x\"\n"
		"[[shared_dir]]\ntag = \"b\"\npath = \"%s\"\nmount_path = \"/mnt/x\"\n", dir, dir),
	    "banking.toml:7:1: shared_dir[1]: mount_path: \"/mnt/x\" is also shared_dir[0]'s");
	BAD(fmt("shared_home = true\n" MIN_DOC "[[shared_dir]]\ntag = \"a\"\npath = \"%s\"\n"
		"mount_path = \"/home/user\"\n", dir),
	    "banking.toml:1:1: shared_home: mount_path: \"/home/user\" is also shared_dir[0]'s");
	/* Nested mount points are fine; so is /home/user without a shared home. */
	if (!PARSE(fmt(MIN_DOC "[[shared_dir]]\ntag = \"a\"\npath = \"%s\"\nmount_path = \"/mnt\"\n"
		       "[[shared_dir]]\ntag = \"b\"\npath = \"%s\"\nmount_path = \"/mnt/x\"\n"
		       "[[shared_dir]]\ntag = \"c\"\npath = \"%s\"\nmount_path = \"/home/user\"\n",
		       dir, dir, dir), &cfg))
		CHECK_EQ(config_count(&cfg, &shared_dir_kind), 3);
	config_free(&cfg);
}

#define ID_MAP_WANT "expected \":GUEST:HOST:COUNT:\" (decimal, COUNT at least 1)"
#define TRANSLATE_WANT "expected \"map:GUEST:HOST:COUNT\" (or guest:, host:, " \
	"squash-guest:, squash-host:), or \"forbid-guest:FROM:COUNT\""

static void check_id_map(const char *value, bool ok)
{
	const char *doc = one_share(fmt("uid_map = \"%s\"\n", value));
	struct vm_config cfg;

	if (ok) {
		if (!PARSE(doc, &cfg))
			CHECK_STR(share(&cfg, 0)->uid_map, value);
		config_free(&cfg);
	} else {
		BAD(doc, "banking.toml:6:11: shared_dir[0].uid_map: " ID_MAP_WANT);
	}
}

static void check_translate(const char *value, bool ok)
{
	const char *doc = one_share(fmt("translate_gid = \"%s\"\n", value));
	struct vm_config cfg;

	if (ok) {
		if (!PARSE(doc, &cfg))
			CHECK_STR(share(&cfg, 0)->translate_gid, value);
		config_free(&cfg);
	} else {
		BAD(doc, "banking.toml:6:17: shared_dir[0].translate_gid: " TRANSLATE_WANT);
	}
}

static void test_id_maps(void)
{
	check_id_map(":1000:1000:1:", true);
	check_id_map(":0:4294967295:1:", true);
	check_id_map("1000:1000:1", false);
	check_id_map(":1000:1000:1", false);
	check_id_map(":1000:1000:", false);
	check_id_map(":a:b:c:", false);
	check_id_map(":1:2:0:", false);
	check_id_map(":1:2:3:4:", false);
	check_id_map(":4294967296:0:1:", false);
	check_id_map(":-1:0:1:", false);
	check_id_map(":01:0:1:", false);
	check_id_map("", false);
	check_translate("map:1000:1000:1", true);
	check_translate("guest:0:100000:65536", true);
	check_translate("host:100000:0:65536", true);
	check_translate("squash-host:0:65534:4294967295", true);
	check_translate("forbid-guest:0:999", true);
	check_translate("forbid-guest:0:999:1", false);
	check_translate("map:1000:1000", false);
	check_translate("map:1000:1000:1:", false);
	check_translate("bogus:1:2:3", false);
	check_translate(":1000:1000:1:", false);
	check_translate("map:1:2:4294967296", false);
	BAD(one_share("gid_map = \"x\"\n"), "banking.toml:6:11: shared_dir[0].gid_map: "
	    ID_MAP_WANT);
	BAD(one_share("translate_uid = \"x\"\n"), "banking.toml:6:17: shared_dir[0].translate_uid: "
	    TRANSLATE_WANT);
}

static void test_share_limits(void)
{
	BAD(one_share("queue_size = 1000\n"),
	    "banking.toml:6:14: shared_dir[0].queue_size: must be a power of two, got 1000");
	BAD(one_share("queue_size = 8\n"),
	    "banking.toml:6:14: shared_dir[0].queue_size: must be between 16 and 1024, got 8");
	BAD(one_share("queue_size = 2048\n"),
	    "banking.toml:6:14: shared_dir[0].queue_size: must be between 16 and 1024, got 2048");
	BAD(one_share("thread_pool_size = 1025\n"),
	    "banking.toml:6:20: shared_dir[0].thread_pool_size: must be between 0 and 1024, "
	    "got 1025");
	BAD(one_share("cache = \"sometimes\"\n"),
	    "banking.toml:6:9: shared_dir[0].cache: expected one of \"auto\", \"always\", "
	    "\"never\", \"metadata\", got \"sometimes\"");
	BAD(one_share("inode_file_handles = \"yes\"\n"),
	    "banking.toml:6:22: shared_dir[0].inode_file_handles: expected one of \"never\", "
	    "\"prefer\", \"mandatory\", got \"yes\"");
	BAD(one_share("log_level = \"trace\"\n"),
	    "banking.toml:6:13: shared_dir[0].log_level: expected one of \"error\", \"warn\", "
	    "\"info\", \"debug\", got \"trace\"");
	BAD(one_share("readonly = 1\n"),
	    "banking.toml:6:12: shared_dir[0].readonly: expected a boolean, got an integer");
}

/* n [[shared_dir]] tables with tags s0, s1, ... */
static const char *shares(const char *top, unsigned n)
{
	static char buf[8192];
	size_t off = (size_t)snprintf(buf, sizeof(buf), "%s" MIN_DOC, top);

	for (unsigned i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"[[shared_dir]]\ntag = \"s%u\"\npath = \"%s\"\n", i, dir);
	return buf;
}

static void test_shared_home(void)
{
	const struct config_device *d;
	const struct shared_dir_config *s;
	struct vm_config cfg;

	if (!PARSE(shares("shared_home = false\n", 1), &cfg)) {
		CHECK(!cfg.shared_home.enable);
		CHECK_EQ(config_count(&cfg, &shared_dir_kind), 1);
	}
	config_free(&cfg);

	if (PARSE(shares("shared_home = true\nshared_root = \"/srv/shared\"\n"
			 "home_template = \"/etc/skel\"\nvirtiofsd = \"/opt/virtiofsd\"\n", 2), &cfg))
		return;
	CHECK(cfg.shared_home.enable && !cfg.shared_home.path);
	CHECK_EQ(config_count(&cfg, &shared_dir_kind), 3);
	d = config_instance(&cfg, &shared_dir_kind, 2);
	CHECK(d && d->shared_home && d->line == 1 && d->col == 1);
	s = share(&cfg, 2);
	CHECK_STR(s->tag, "home");
	CHECK_STR(s->path, "/srv/shared/banking/home");
	CHECK_STR(s->mount_path, "/home/user");
	CHECK(s->home);
	CHECK_STR(s->home_template, "/etc/skel");
	CHECK(!s->readonly && s->xattr && s->queue_size == 1024 && s->cache == SHARE_CACHE_AUTO);
	for (unsigned i = 0; i < 3; i++)
		CHECK_STR(share(&cfg, i)->virtiofsd, "/opt/virtiofsd");
	CHECK(!share(&cfg, 0)->home && !share(&cfg, 0)->home_template);
	kernel_param(d, "systemd.mount-extra=home:/home/user:virtiofs");
	config_free(&cfg);

	/* Defaults for the derived path; a missing home is not an error. */
	if (!PARSE("shared_home = true\n" MIN_DOC, &cfg)) {
		CHECK_STR(share(&cfg, 0)->path, "/shared/banking/home");
		CHECK_STR(share(&cfg, 0)->home_template, "/var/lib/vmsilo/home-template");
		CHECK(share(&cfg, 0)->virtiofsd == NULL);
	}
	config_free(&cfg);

	/* A given path: that existing directory, not made from the template. */
	if (!PARSE(fmt("shared_home = \"%s\"\n" MIN_DOC, dir), &cfg)) {
		CHECK(cfg.shared_home.enable);
		CHECK_STR(share(&cfg, 0)->path, dir);
		CHECK_STR(share(&cfg, 0)->tag, "home");
		CHECK_STR(share(&cfg, 0)->mount_path, "/home/user");
		CHECK(!share(&cfg, 0)->home && !share(&cfg, 0)->home_template);
	}
	config_free(&cfg);

	BAD("shared_home = \"/nonexistent/home\"\n" MIN_DOC,
	    "banking.toml:1:15: shared_home: /nonexistent/home: no such directory");
	BAD("shared_home = 1\n" MIN_DOC,
	    "banking.toml:1:15: shared_home: expected a boolean or a path, got an integer");
	BAD(shares("shared_home = true\n", SHARED_DIR_MAX),
	    "banking.toml:1:1: shared_home: at most 8 shared directories, the shared home included");
	BAD(shares("", SHARED_DIR_MAX + 1),
	    "banking.toml:27:1: shared_dir: at most 8 shared directories");
	/* Eight shares alone, or seven and the home, fit. */
	if (!PARSE(shares("shared_home = true\n", SHARED_DIR_MAX - 1), &cfg))
		CHECK_EQ(config_count(&cfg, &shared_dir_kind), SHARED_DIR_MAX);
	config_free(&cfg);
}

static const struct vhost_user_config *vhu(const struct vm_config *cfg, unsigned index)
{
	static const struct vhost_user_config none;
	const struct config_device *d = config_instance(cfg, &vhost_user_kind, index);

	CHECK(d != NULL);
	return d ? d->cfg : &none;
}

static void check_type(const char *type, uint16_t id)
{
	struct vm_config cfg;
	struct vhost_user_target t;
	char err[128];

	if (PARSE(fmt(MIN_DOC "[[vhost_user]]\ntype = \"%s\"\nsocket = \"/run/b.sock\"\n", type),
		  &cfg))
		return;
	CHECK_EQ(vhost_user_kind.vhost_user(vhu(&cfg, 0), NULL, &t, err, sizeof(err)), 0);
	CHECK_EQ(t.device_id, id);
	CHECK_STR(t.socket, "/run/b.sock");
	CHECK(!t.virtiofsd);
	CHECK_EQ(t.nr_queues, 0);
	CHECK_EQ(t.queue_size, 256);
	CHECK_EQ(t.config_size, 0);
	config_free(&cfg);
}

static void test_vhost_user_types(void)
{
	check_type("fs", VIRTIO_ID_FS);
	check_type("blk", VIRTIO_ID_BLOCK);
	check_type("net", VIRTIO_ID_NET);
	check_type("vsock", VIRTIO_ID_VSOCK);
	check_type("snd", VIRTIO_ID_SOUND);
	check_type("gpu", VIRTIO_ID_GPU);
	check_type("input", VIRTIO_ID_INPUT);
	check_type("console", VIRTIO_ID_CONSOLE);
	check_type("rng", VIRTIO_ID_RNG);
	check_type("scsi", VIRTIO_ID_SCSI);
	check_type("can", VIRTIO_ID_CAN);
	check_type("i2c", VIRTIO_ID_I2C_ADAPTER);
	check_type("gpio", VIRTIO_ID_GPIO);
	check_type("scmi", VIRTIO_ID_SCMI);
	CHECK_EQ(vhost_user_device_id(-1), 0);
	CHECK_EQ(vhost_user_device_id(14), 0);
	CHECK(!vhost_user_kind.create && !vhost_user_kind.policy);
}

static void test_vhost_user_keys(void)
{
	struct vm_config cfg;
	struct vhost_user_target t;
	char err[128];

	if (PARSE(MIN_DOC "[[vhost_user]]\ntype = \"fs\"\nsocket = \"/run/b.sock\"\nqueues = 16\n"
		  "queue_size = 32768\ntag = \"ext\"\n", &cfg))
		return;
	CHECK_STR(vhu(&cfg, 0)->socket, "/run/b.sock");
	CHECK_EQ(vhu(&cfg, 0)->queues, 16);
	CHECK_EQ(vhu(&cfg, 0)->queue_size, 32768);
	CHECK_EQ(vhost_user_kind.vhost_user(vhu(&cfg, 0), NULL, &t, err, sizeof(err)), 0);
	CHECK_EQ(t.nr_queues, 16);
	CHECK_EQ(t.queue_size, 32768);
	CHECK_EQ(t.config_size, 40);
	CHECK(!memcmp(t.config, "ext\0\0", 5) && t.config[SHARED_DIR_TAG_MAX] == 1);
	config_free(&cfg);

	BAD(MIN_DOC "[[vhost_user]]\ntype = \"blk\"\n",
	    "banking.toml:3:1: vhost_user[0]: socket: required key is missing");
	BAD(MIN_DOC "[[vhost_user]]\nsocket = \"/b\"\n",
	    "banking.toml:3:1: vhost_user[0]: type: required key is missing");
	BAD(MIN_DOC "[[vhost_user]]\ntype = \"blk\"\nsocket = \"/b\"\ntag = \"x\"\n",
	    "banking.toml:3:1: vhost_user[0]: tag: only for type = \"fs\"");
	BAD(MIN_DOC "[[vhost_user]]\ntype = \"fs\"\nsocket = \"/b\"\ntag = \"a b\"\n",
	    "banking.toml:6:7: vhost_user[0].tag: " TAG_WANT);
	BAD(MIN_DOC "[[vhost_user]]\ntype = \"fs\"\nsocket = \"/b\"\ntag = \"a/b\"\n",
	    "banking.toml:6:7: vhost_user[0].tag: " TAG_WANT);
	BAD(MIN_DOC "[[vhost_user]]\ntype = \"blk\"\nsocket = \"/b\"\nqueues = 17\n",
	    "banking.toml:6:10: vhost_user[0].queues: must be between 0 and 16, got 17");
	BAD(MIN_DOC "[[vhost_user]]\ntype = \"blk\"\nsocket = \"/b\"\nqueue_size = 100\n",
	    "banking.toml:6:14: vhost_user[0].queue_size: must be a power of two, got 100");
	BAD(MIN_DOC "[[vhost_user]]\ntype = \"9p\"\nsocket = \"/b\"\n",
	    "banking.toml:4:8: vhost_user[0].type: expected one of \"fs\", \"blk\", \"net\", "
	    "\"vsock\", \"snd\", \"gpu\", \"input\", \"console\", \"rng\", \"scsi\", \"can\", "
	    "\"i2c\", \"gpio\", \"scmi\", got \"9p\"");
	/* No process of ours: nothing to filter. */
	BAD(MIN_DOC "[[vhost_user]]\ntype = \"blk\"\nsocket = \"/b\"\nseccomp_policy = \"log\"\n",
	    "banking.toml:6:1: vhost_user[0].seccomp_policy: unknown key");
	BAD(one_share("seccomp_policy = \"log\"\n"),
	    "banking.toml:6:1: shared_dir[0].seccomp_policy: unknown key");
	/* Nor the other keys of our own processes. */
	BAD(one_share("sandbox = false\n"), "banking.toml:6:1: shared_dir[0].sandbox: unknown key");
	BAD(MIN_DOC "[[vhost_user]]\ntype = \"blk\"\nsocket = \"/b\"\nlog_level = \"info\"\n",
	    "banking.toml:6:1: vhost_user[0].log_level: unknown key");
}

/* The VMM connects from its own directory, through a sockaddr_un. */
static void test_vhost_user_socket(void)
{
	char path[109];
	struct vm_config cfg;

	BAD(MIN_DOC "[[vhost_user]]\ntype = \"blk\"\nsocket = \"b.sock\"\n",
	    "banking.toml:5:10: vhost_user[0].socket: must be an absolute path");
	BAD(MIN_DOC "[[vhost_user]]\ntype = \"blk\"\nsocket = \"./b.sock\"\n",
	    "banking.toml:5:10: vhost_user[0].socket: must be an absolute path");
	BAD(MIN_DOC "[[vhost_user]]\ntype = \"blk\"\nsocket = \"\"\n",
	    "banking.toml:5:10: vhost_user[0].socket: must be an absolute path");
	memset(path, 's', sizeof(path) - 1);
	path[0] = '/';
	path[108] = '\0';
	BAD(fmt(MIN_DOC "[[vhost_user]]\ntype = \"blk\"\nsocket = \"%s\"\n", path),
	    "banking.toml:5:10: vhost_user[0].socket: at most 107 bytes");
	path[107] = '\0';
	if (!PARSE(fmt(MIN_DOC "[[vhost_user]]\ntype = \"blk\"\nsocket = \"%s\"\n", path), &cfg))
		CHECK_STR(vhu(&cfg, 0)->socket, path);
	config_free(&cfg);
}

/* A [[vhost_user]] fs tag and a share's are one namespace, in either order. */
static void test_vhost_user_tag_unique(void)
{
	const char *vhu_fs = "[[vhost_user]]\ntype = \"fs\"\nsocket = \"/b\"\ntag = \"data\"\n";
	struct vm_config cfg;

	BAD(fmt("%s%s", one_share(""), vhu_fs),
	    "banking.toml:6:1: vhost_user[0]: tag: \"data\" is also shared_dir[0]'s");
	BAD(fmt(MIN_DOC "%s[[shared_dir]]\ntag = \"data\"\npath = \"%s\"\n", vhu_fs, dir),
	    "banking.toml:7:1: shared_dir[0]: tag: \"data\" is also vhost_user[0]'s");
	BAD(fmt(MIN_DOC "%s%s", vhu_fs, vhu_fs),
	    "banking.toml:7:1: vhost_user[1]: tag: \"data\" is also vhost_user[0]'s");
	BAD(fmt("shared_home = true\n" MIN_DOC "[[vhost_user]]\ntype = \"fs\"\nsocket = \"/b\"\n"
		"tag = \"home\"\n"),
	    "banking.toml:1:1: shared_home: tag: \"home\" is also vhost_user[0]'s");
	/* Untagged fs devices (the backend names them) and other types do not collide. */
	if (!PARSE(fmt("%s[[vhost_user]]\ntype = \"fs\"\nsocket = \"/b\"\n"
		       "[[vhost_user]]\ntype = \"fs\"\nsocket = \"/c\"\n"
		       "[[vhost_user]]\ntype = \"fs\"\nsocket = \"/d\"\ntag = \"other\"\n",
		       one_share("")), &cfg))
		CHECK_EQ(config_count(&cfg, &vhost_user_kind), 3);
	config_free(&cfg);
}

/* examples/shared.toml loads (its share pointed at dir) and means what it says. */
static void test_example(void)
{
	const char *src = __FILE__, *end = strstr(src, "tests/unit/test_config_shares.c");
	static char text[16384];
	char path[1024], *at;
	struct vm_config cfg;
	size_t n;
	FILE *f;

	CHECK(end != NULL);
	if (!end)
		return;
	snprintf(path, sizeof(path), "%.*sexamples/shared.toml", (int)(end - src), src);
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	at = strstr(text, "\"/shared/personal/documents\"");
	CHECK(at != NULL);
	if (!at)
		return;
	*at = '\0';
	if (PARSE(fmt("%s\"%s\"%s", text, dir, at + strlen("\"/shared/personal/documents\"")),
		  &cfg))
		return;
	CHECK_EQ(config_count(&cfg, &shared_dir_kind), 2);
	CHECK_STR(share(&cfg, 0)->tag, "documents");
	CHECK(share(&cfg, 0)->readonly);
	CHECK_STR(share(&cfg, 1)->path, "/shared/personal/home");
	config_free(&cfg);
}

int main(void)
{
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/test_config_shares.XXXXXX");
	if (!mkdtemp(dir))
		return perror("mkdtemp"), 1;
	snprintf(file, sizeof(file), "%s/file", dir);
	if (!(f = fopen(file, "w")))
		return perror(file), 1;
	fclose(f);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(dirlink, sizeof(dirlink), "%s.dirlink", dir);
	if (mkdir(sub, 0700) || symlink(dir, dirlink))
		return perror(dirlink), 1;
	test_share_defaults();
	test_share_keys();
	test_tags();
	test_paths();
	test_mount_path_components();
	test_mount_path_unique();
	test_longest_param();
	test_id_maps();
	test_share_limits();
	test_shared_home();
	test_vhost_user_types();
	test_vhost_user_keys();
	test_vhost_user_tag_unique();
	test_vhost_user_socket();
	test_example();
	unlink(file);
	unlink(dirlink);
	rmdir(sub);
	rmdir(dir);
	return check_report("test_config_shares");
}
