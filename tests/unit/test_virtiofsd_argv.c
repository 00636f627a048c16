/* virtiofsd_argv: each share option as each flavour's argument, and each
 * option a flavour cannot honour refused by its key. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vmm/virtiofsd.h"

#define C_HELP "-o cache=<mode> -o log_level=<level> -o readdirplus|no_readdirplus\n" \
	"-o sandbox=namespace|chroot -o writeback|no_writeback -o xattr|no_xattr\n" \
	"-o modcaps=CAPLIST -o allow_direct_io|no_allow_direct_io -o posix_acl/no_posix_acl\n" \
	"-o killpriv_v2/no_killpriv_v2 -o source=PATH --fd=FDNUM --thread-pool-size=NUM\n"
#define RUST_HELP "--shared-dir <DIR> --cache <CACHE> --xattr --posix-acl --no-readdirplus\n" \
	"--writeback --allow-direct-io --killpriv-v2 --inode-file-handles=<FH> --uid-map\n" \
	"--gid-map --translate-uid --translate-gid --preserve-noatime --readonly\n" \
	"--log-level <LEVEL> --sandbox <SANDBOX> --modcaps <CAPS> --fd <FD> --thread-pool-size\n"

static const struct virtiofsd_binary c_bin = { "/usr/lib/qemu/virtiofsd", VIRTIOFSD_C, "7.2.22",
					       C_HELP };
static const struct virtiofsd_binary rust_bin = { "/usr/libexec/virtiofsd", VIRTIOFSD_RUST,
						  "1.10.1", RUST_HELP };

static struct shared_dir_config defaults(void)
{
	return (struct shared_dir_config){ .tag = "data", .path = "/srv/data", .xattr = true,
					   .posix_acl = true, .readdirplus = true,
					   .killpriv_v2 = true, .cache = SHARE_CACHE_AUTO,
					   .inode_file_handles = SHARE_FH_PREFER,
					   .log_level = SHARE_LOG_INFO };
}

/* The argv joined by spaces, or "ERR: <err>". */
static char *joined(const struct virtiofsd_binary *bin, const struct shared_dir_config *s)
{
	static char out[8192];
	char *argv[64], buf[8192], err[512] = "";
	size_t used = 0;

	if (virtiofsd_argv(bin, s, 3, argv, 64, buf, sizeof(buf), err, sizeof(err))) {
		snprintf(out, sizeof(out), "ERR: %s", err);
		return out;
	}
	out[0] = '\0';
	for (char **a = argv; *a; a++)
		used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s", a == argv ? "" : " ", *a);
	return out;
}

static void test_c_defaults(void)
{
	struct shared_dir_config s = defaults();

	CHECK_STR(joined(&c_bin, &s),
		  "/usr/lib/qemu/virtiofsd -o source=/srv/data -o cache=auto -o xattr -o posix_acl "
		  "-o readdirplus -o no_writeback -o no_allow_direct_io -o killpriv_v2 "
		  "-o log_level=info -o sandbox=namespace -o modcaps=-mknod:-setfcap --fd=3");
}

static void test_c_every_option(void)
{
	struct shared_dir_config s = defaults();

	s.cache = SHARE_CACHE_NEVER;
	s.xattr = s.posix_acl = s.readdirplus = s.killpriv_v2 = false;
	s.writeback = s.allow_direct_io = true;
	s.log_level = SHARE_LOG_ERROR;
	s.thread_pool_size = 16;
	s.inode_file_handles = SHARE_FH_NEVER;
	s.inode_file_handles_set = true;
	s.readonly = true;	/* the VMM's bind mount, no option */
	CHECK_STR(joined(&c_bin, &s),
		  "/usr/lib/qemu/virtiofsd -o source=/srv/data -o cache=none -o no_xattr "
		  "-o no_posix_acl -o no_readdirplus -o writeback -o allow_direct_io "
		  "-o no_killpriv_v2 -o log_level=err -o sandbox=namespace -o modcaps=-mknod:-setfcap --thread-pool-size=16 "
		  "--fd=3");
	s.cache = SHARE_CACHE_ALWAYS;
	s.log_level = SHARE_LOG_DEBUG;
	CHECK(strstr(joined(&c_bin, &s), "-o cache=always "));
	CHECK(strstr(joined(&c_bin, &s), "-o log_level=debug "));
	s.log_level = SHARE_LOG_WARN;
	CHECK(strstr(joined(&c_bin, &s), "-o log_level=warn "));
}

static void test_rust_defaults_and_every_option(void)
{
	struct shared_dir_config s = defaults();

	CHECK_STR(joined(&rust_bin, &s),
		  "/usr/libexec/virtiofsd --shared-dir=/srv/data --cache=auto --xattr --posix-acl "
		  "--killpriv-v2 --inode-file-handles=prefer --log-level=info --sandbox=namespace "
		  "--modcaps=-mknod:-setfcap --fd=3");
	s.cache = SHARE_CACHE_METADATA;
	s.xattr = s.posix_acl = s.readdirplus = s.killpriv_v2 = false;
	s.writeback = s.allow_direct_io = s.preserve_noatime = s.readonly = true;
	s.inode_file_handles = SHARE_FH_MANDATORY;
	s.inode_file_handles_set = true;
	s.uid_map = ":1000:1000:1:";
	s.gid_map = ":100:100:1:";
	s.translate_uid = "map:1000:1000:1";
	s.translate_gid = "map:100:100:1";
	s.log_level = SHARE_LOG_ERROR;
	s.thread_pool_size = 4;
	CHECK_STR(joined(&rust_bin, &s),
		  "/usr/libexec/virtiofsd --shared-dir=/srv/data --cache=metadata --no-readdirplus "
		  "--writeback --allow-direct-io --inode-file-handles=mandatory "
		  "--uid-map=:1000:1000:1: --gid-map=:100:100:1: --translate-uid=map:1000:1000:1 "
		  "--translate-gid=map:100:100:1 --preserve-noatime --readonly --log-level=error "
		  "--sandbox=namespace --modcaps=-mknod:-setfcap --thread-pool-size=4 --fd=3");
	s.cache = SHARE_CACHE_NEVER;
	s.inode_file_handles = SHARE_FH_NEVER;
	CHECK(strstr(joined(&rust_bin, &s), "--cache=never "));
	CHECK(strstr(joined(&rust_bin, &s), "--inode-file-handles=never "));
}

/* Each refusal starts with the key and names the installed binary. */
static void expect_refused(const struct virtiofsd_binary *bin, const struct shared_dir_config *s,
			   const char *start)
{
	const char *got = joined(bin, s);

	if (strncmp(got, "ERR: ", 5) || strncmp(got + 5, start, strlen(start))) {
		fprintf(stderr, "want a refusal starting \"%s\", got \"%s\"\n", start, got);
		check_failures++;
	}
}

static void test_c_refusals(void)
{
	const char *by_c = ": the installed virtiofsd (C, version 7.2.22) cannot ";
	struct shared_dir_config s;
	char want[256];

#define REFUSED(field_set, key) do { \
	s = defaults(); \
	field_set; \
	snprintf(want, sizeof(want), "%s%s", key, by_c); \
	expect_refused(&c_bin, &s, want); \
} while (0)
	REFUSED(s.cache = SHARE_CACHE_METADATA, "cache = \"metadata\"");
	REFUSED(s.uid_map = ":0:1000:1:", "uid_map");
	REFUSED(s.gid_map = ":0:1000:1:", "gid_map");
	REFUSED(s.translate_uid = "map:0:1000:1", "translate_uid");
	REFUSED(s.translate_gid = "map:0:1000:1", "translate_gid");
	REFUSED(s.preserve_noatime = true, "preserve_noatime");
	REFUSED((s.inode_file_handles = SHARE_FH_MANDATORY, s.inode_file_handles_set = true),
		"inode_file_handles = \"mandatory\"");
	REFUSED(s.path = "/srv/a,sandbox=none", "path");
#undef REFUSED
	/* mandatory only as the default (not written in the file) is no refusal */
	s = defaults();
	s.inode_file_handles = SHARE_FH_MANDATORY;
	CHECK(strncmp(joined(&c_bin, &s), "ERR", 3));
}

static void test_refusals_of_both(void)
{
	const struct virtiofsd_binary *bins[] = { &c_bin, &rust_bin };

	for (unsigned i = 0; i < 2; i++) {
		struct shared_dir_config s = defaults();

		s.allow_mmap = true;
		expect_refused(bins[i], &s, "allow_mmap: not supported yet");
		s = defaults();
		s.xattr = false;
		expect_refused(bins[i], &s, "posix_acl: needs xattr");
	}
}

static void test_small_buffers(void)
{
	struct shared_dir_config s = defaults();
	char *argv[4], buf[8192], err[256] = "";

	CHECK_EQ(virtiofsd_argv(&c_bin, &s, 3, argv, 4, buf, sizeof(buf), err, sizeof(err)), -1);
	CHECK(strstr(err, "do not fit"));
	{
		char *big[64], tiny[40];

		CHECK_EQ(virtiofsd_argv(&rust_bin, &s, 3, big, 64, tiny, sizeof(tiny), err,
					sizeof(err)), -1);
	}
}

/* A flag its --help does not show is refused by key, never passed or dropped. */
static void test_flags_missing_from_help(void)
{
	struct virtiofsd_binary old_rust = { "/usr/libexec/virtiofsd", VIRTIOFSD_RUST, "1.7.0",
					     "--shared-dir <DIR> --cache <C> --xattr --posix-acl "
					     "--killpriv-v2 --inode-file-handles=<FH> --log-level "
					     "--sandbox --modcaps --fd --readonly-ish" };
	struct virtiofsd_binary old_c = { "/usr/lib/qemu/virtiofsd", VIRTIOFSD_C, "5.0",
					  "-o source=PATH -o cache=<m> -o xattrmap=X -o posix_acl "
					  "-o readdirplus -o writeback -o allow_direct_io "
					  "-o killpriv_v2 -o log_level -o sandbox --fd" };
	struct shared_dir_config s = defaults();

	CHECK(strncmp(joined(&old_rust, &s), "ERR", 3));
	s.readonly = true;
	CHECK_STR(joined(&old_rust, &s), "ERR: readonly: the installed virtiofsd (Rust, version "
		  "1.7.0, /usr/libexec/virtiofsd) has no --readonly in its --help");
	s = defaults();
	s.translate_uid = "map:1000:1000:1";
	CHECK(strstr(joined(&old_rust, &s), "ERR: translate_uid: ") != NULL);
	s = defaults();
	CHECK_STR(joined(&old_c, &s), "ERR: xattr: the installed virtiofsd (C, version 5.0, "
		  "/usr/lib/qemu/virtiofsd) has no xattr in its --help");
	memcpy(old_c.help + strlen(old_c.help), " -o xattr|no_xattr", 19);
	CHECK(strstr(joined(&old_c, &s), "ERR: virtiofsd: ") && strstr(joined(&old_c, &s),
								       "has no modcaps"));
}

int main(void)
{
	test_flags_missing_from_help();
	test_c_defaults();
	test_c_every_option();
	test_rust_defaults_and_every_option();
	test_c_refusals();
	test_refusals_of_both();
	test_small_buffers();
	return check_report("test_virtiofsd_argv");
}
