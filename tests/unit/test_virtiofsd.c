/* virtiofsd_find, _start, _reap, _restart and _stop, with fake binaries
 * (shell scripts for detection, fake_virtiofsd for a running one) and,
 * when it is on this machine, the real C virtiofsd. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "log_capture.h"
#include "vmm/virtiofsd.h"

/* What the fake's flavour would print: every -o the C mapping uses. */
#define FAKE_C_HELP "-o source= -o cache= -o xattr -o posix_acl -o readdirplus -o writeback " \
	"-o allow_direct_io -o killpriv_v2 -o log_level -o sandbox -o modcaps --fd"

#define USER_UID 4321
#define USER_GID 4322

static char tmp[256];
static const char *fake;

static char *at(const char *rel)
{
	static char bufs[4][512];
	static unsigned next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", tmp, rel);
	return b;
}

static void script(const char *path, const char *help, const char *version)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	fprintf(f, "#!/bin/sh\ncase \"$1\" in\n--help) %s ;;\n--version) %s ;;\nesac\n", help,
		version);
	fclose(f);
	chmod(path, 0755);
}

static bool system_virtiofsd(void)
{
	return !access("/usr/libexec/virtiofsd", X_OK) || !access("/usr/lib/qemu/virtiofsd", X_OK);
}

static void test_find(void)
{
	struct virtiofsd_binary bin;
	char err[1024] = "";

	mkdir(at("bin"), 0755);
	mkdir(at("empty"), 0755);
	script(at("bin/virtiofsd"), "echo '    -o source=PATH   shared directory tree'",
	       "echo 'virtiofsd version 7.2.22 (Debian 1:7.2+dfsg-7)'; echo 'using FUSE 7.36'");
	script(at("rust"), "echo '      --shared-dir <SHARED_DIR>'", "echo 'virtiofsd 1.10.1'");
	script(at("junk"), "echo 'usage: something else'", "echo 1");
	script(at("hangs"), "exec sleep 1000", "exec sleep 1000");
	{
		FILE *f = fopen(at("notexec"), "w");

		fclose(f);
	}

	CHECK_EQ(virtiofsd_find(at("notexec"), &bin, err, sizeof(err)), -1);
	CHECK(strstr(err, "virtiofsd = \"") && strstr(err, "\": not an executable file"));
	CHECK_EQ(virtiofsd_find(at("bin"), &bin, err, sizeof(err)), -1);	/* a directory */
	CHECK(strstr(err, "not an executable file"));

	CHECK_EQ(virtiofsd_find(at("rust"), &bin, err, sizeof(err)), 0);
	CHECK_EQ(bin.flavour, VIRTIOFSD_RUST);
	CHECK_STR(bin.version, "1.10.1");
	CHECK_EQ(virtiofsd_find(at("junk"), &bin, err, sizeof(err)), -1);
	CHECK(strstr(err, "neither"));
	/* a binary that never answers costs the deadline, not a hang */
	CHECK_EQ(virtiofsd_find(at("hangs"), &bin, err, sizeof(err)), -1);

	setenv("PATH", at("bin"), 1);
	CHECK_EQ(virtiofsd_find(NULL, &bin, err, sizeof(err)), 0);
	CHECK_STR(bin.path, at("bin/virtiofsd"));
	CHECK_EQ(bin.flavour, VIRTIOFSD_C);
	CHECK_STR(bin.version, "7.2.22");

	setenv("PATH", at("empty"), 1);
	setenv("VMSILO_RIG_CACHE", at("cache"), 1);
	if (system_virtiofsd()) {
		fprintf(stderr, "test_find: a system virtiofsd exists; not-found case skipped\n");
		return;
	}
	/* the rig's cache is not searched: a user could have put anything there */
	CHECK(!system("PATH=/usr/bin:/bin mkdir -p \"$VMSILO_RIG_CACHE/virtiofsd/usr/lib/qemu\""));
	script(at("cache/virtiofsd/usr/lib/qemu/virtiofsd"), "echo 'source=PATH'", "echo x 7.2.1");
	CHECK_EQ(virtiofsd_find(NULL, &bin, err, sizeof(err)), -1);
	CHECK_STR(err, "no virtiofsd found (searched PATH, /usr/libexec/virtiofsd, "
		  "/usr/lib/qemu/virtiofsd): install one or set virtiofsd = \"/path\"");
}

/* A root VMM runs only a virtiofsd nobody but root can replace. */
static void test_find_owner(void)
{
	struct virtiofsd_binary bin;
	char err[1024] = "";

	if (geteuid() != 0) {
		fprintf(stderr, "test_find_owner: skipped (needs root to chown)\n");
		return;
	}
	CHECK(!symlink(at("bin/virtiofsd"), at("link")));
	CHECK_EQ(virtiofsd_find(at("link"), &bin, err, sizeof(err)), 0);
	CHECK_STR(bin.path, at("bin/virtiofsd"));	/* resolved, then checked */
	CHECK(strstr(bin.help, "-o source=PATH"));	/* kept for virtiofsd_argv */

	CHECK(!chown(at("bin/virtiofsd"), USER_UID, USER_GID));
	CHECK_EQ(virtiofsd_find(at("bin/virtiofsd"), &bin, err, sizeof(err)), -1);
	CHECK(strstr(err, "virtiofsd: ") && strstr(err, "bin/virtiofsd: owned by uid 4321, not "
						     "root; root runs only a virtiofsd owned by root"));
	setenv("PATH", at("bin"), 1);	/* found ones too */
	CHECK_EQ(virtiofsd_find(NULL, &bin, err, sizeof(err)), -1);
	CHECK(strstr(err, "owned by uid 4321, not root"));
	CHECK(!chown(at("bin/virtiofsd"), 0, 0));

	CHECK(!chmod(at("bin"), 0777));
	CHECK_EQ(virtiofsd_find(at("bin/virtiofsd"), &bin, err, sizeof(err)), -1);
	CHECK(strstr(err, "/bin is writable by group or others, who could swap the binary"));
	CHECK(!chmod(at("bin"), 0755));
	CHECK(!chmod(at("bin/virtiofsd"), 0775));
	CHECK_EQ(virtiofsd_find(at("bin/virtiofsd"), &bin, err, sizeof(err)), -1);
	CHECK(strstr(err, "bin/virtiofsd: writable by group or others"));
	CHECK(!chmod(at("bin/virtiofsd"), 0755));
}

/* One line from the (non-blocking) connection. */
static char *ask(int conn, const char *question)
{
	static char line[128];
	size_t used = 0;

	line[0] = '\0';
	if (write(conn, question, strlen(question)) != (ssize_t)strlen(question))
		return line;
	while (used + 1 < sizeof(line)) {
		struct pollfd p = { .fd = conn, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0)
			break;
		n = read(conn, line + used, 1);
		if (n <= 0 || line[used] == '\n')
			break;
		used++;
	}
	line[used] = '\0';
	return line;
}

static struct shared_dir_config share_of(const char *path)
{
	return (struct shared_dir_config){ .tag = "data", .path = (char *)path, .xattr = true,
					   .readdirplus = true, .killpriv_v2 = true,
					   .inode_file_handles = SHARE_FH_PREFER };
}

static void test_start_stop(void)
{
	struct virtiofsd_binary bin = { .flavour = VIRTIOFSD_C };
	struct shared_dir_config share = share_of(at("share"));
	int rundir, conn = -1, conn2 = -1;
	struct virtiofsd_options opt = { &bin, &share, "fs0", -1, at("run"), USER_UID, USER_GID };
	struct pollfd p;
	char err[1024] = "", why[64];
	struct virtiofsd *v;
	struct stat st;
	pid_t pid;

	snprintf(bin.path, sizeof(bin.path), "%s", fake);
	snprintf(bin.help, sizeof(bin.help), "%s", FAKE_C_HELP);
	snprintf(bin.version, sizeof(bin.version), "test");
	mkdir(at("share"), 0755);
	mkdir(at("run"), 0700);
	rundir = open(at("run"), O_RDONLY | O_DIRECTORY);
	opt.rundir_fd = rundir;
	/* a stale socket of a dead run is replaced */
	CHECK(!mknod(at("run/virtiofs-data.sock"), S_IFSOCK | 0600, 0));
	v = virtiofsd_start(&opt, &conn, err, sizeof(err));
	CHECK(v != NULL);
	if (!v) {
		fprintf(stderr, "start: %s\n", err);
		return;
	}
	CHECK_STR(ask(conn, "ping\n"), "pong");	/* the connection it accepted is ours */
	CHECK_STR(ask(conn, "fds\n"), "0");	/* nothing inherited but stdio and the listener */
	CHECK_STR(ask(conn, "uid\n"), "0");	/* the C flavour keeps root */
	CHECK_STR(ask(conn, "stdin\n"), "/dev/null");	/* nothing of ours to read */
	CHECK(!fstatat(rundir, "virtiofs-data.sock", &st, AT_SYMLINK_NOFOLLOW));
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ(st.st_mode & 0777, 0660);
	CHECK_EQ(st.st_uid, geteuid() == 0 ? USER_UID : geteuid());

	/* dies: the pidfd fires, reap says how, restart gives a new connection */
	pid = virtiofsd_pid(v);
	CHECK(!kill(pid, SIGKILL));
	p = (struct pollfd){ .fd = virtiofsd_pidfd(v), .events = POLLIN };
	CHECK_EQ(poll(&p, 1, 10000), 1);
	virtiofsd_reap(v, why, sizeof(why));
	CHECK_STR(why, "killed by signal 9");
	CHECK_EQ(virtiofsd_pid(v), 0);	/* no process: 0, never -1 (kill(-1) is everyone) */
	close(conn);
	CHECK_EQ(virtiofsd_restart(v, &conn2, err, sizeof(err)), 0);
	CHECK(virtiofsd_pid(v) > 0 && virtiofsd_pid(v) != pid);
	CHECK_STR(ask(conn2, "ping\n"), "pong");
	/* at most 3 restarts a minute */
	for (int i = 0; i < 2; i++) {
		close(conn2);
		CHECK_EQ(virtiofsd_restart(v, &conn2, err, sizeof(err)), 0);
	}
	close(conn2);
	CHECK_EQ(virtiofsd_restart(v, &conn2, err, sizeof(err)), -EAGAIN);
	CHECK(strstr(err, "giving up"));
	CHECK_EQ(conn2, -1);

	pid = virtiofsd_pid(v);
	virtiofsd_stop(v);
	CHECK(fstatat(rundir, "virtiofs-data.sock", &st, AT_SYMLINK_NOFOLLOW) && errno == ENOENT);
	CHECK(kill(pid, 0) && errno == ESRCH);
	close(rundir);
}

static struct virtiofsd *start_fake(struct shared_dir_config *share, int rundir, int *conn,
				    char *err, size_t errlen)
{
	static struct virtiofsd_binary bin = { .flavour = VIRTIOFSD_C };
	struct virtiofsd_options opt = { &bin, share, "fs3", rundir, at("run"), 0, 0 };

	snprintf(bin.path, sizeof(bin.path), "%s", fake);
	snprintf(bin.help, sizeof(bin.help), "%s", FAKE_C_HELP);
	return virtiofsd_start(&opt, conn, err, errlen);
}

/* Root's virtiofsd only shares paths nobody else can swap: at start and at restart. */
static void test_share_trust(void)
{
	struct shared_dir_config share = share_of(at("alice/vm/share"));
	int rundir = open(at("run"), O_RDONLY | O_DIRECTORY), conn = -1;
	char err[1024] = "", want[600], mine[64];
	struct virtiofsd *v;

	if (geteuid() != 0) {
		fprintf(stderr, "test_share_trust: skipped (needs root to chown)\n");
		close(rundir);
		return;
	}
	CHECK(!system("PATH=/usr/bin:/bin mkdir -p \"$T/alice/vm/share\" \"$T/root/share\" && "
		      "chown -R 4321:4321 \"$T/alice\""));
	/* the symlink swap of the review: alice's parent can be swapped, so no start */
	CHECK(start_fake(&share, rundir, &conn, err, sizeof(err)) == NULL);
	snprintf(want, sizeof(want), "path: %s: %s is owned by uid 4321, who could swap the "
		 "share; root's virtiofsd shares only paths below root-owned directories (or use "
		 "the Rust virtiofsd with uid_map)", at("alice/vm/share"), at("alice"));
	CHECK_STR(err, want);
	CHECK_EQ(conn, -1);
	/* and once swapped, the symlink itself is refused */
	CHECK(!system("PATH=/usr/bin:/bin mv \"$T/alice/vm\" \"$T/alice/old\" && "
		      "ln -s \"$T/root\" \"$T/alice/vm\" && chown -h root:root \"$T/alice\" "
		      "\"$T/alice/vm\" && chmod 755 \"$T/alice\""));
	CHECK(start_fake(&share, rundir, &conn, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "alice/vm is a symlink (never followed)"));
	/* a user's directory right in sticky /tmp: its owner may rename it */
	snprintf(mine, sizeof(mine), "/tmp/test_virtiofsd_user.%d", (int)getpid());
	CHECK(!mkdir(mine, 0755) && !chown(mine, USER_UID, USER_GID));
	share.path = mine;
	CHECK(start_fake(&share, rundir, &conn, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "/tmp is sticky and writable by others, and what is in it is owned by "
		      "uid 4321"));
	rmdir(mine);
	/* below a root-owned 0700 directory in /tmp: fine; until a parent changes hands */
	share.path = at("root/share");
	v = start_fake(&share, rundir, &conn, err, sizeof(err));
	CHECK(v != NULL);
	if (v) {
		CHECK_STR(ask(conn, "ping\n"), "pong");
		close(conn);
		CHECK(!chown(at("root"), USER_UID, USER_GID));
		CHECK_EQ(virtiofsd_restart(v, &conn, err, sizeof(err)), -EPERM);
		CHECK(strstr(err, "root is owned by uid 4321, who could swap the share"));
		CHECK_EQ(conn, -1);
		CHECK(!chown(at("root"), 0, 0));
		virtiofsd_stop(v);
	}
	close(rundir);
}

/* A restart that cannot exec says why: the child's errno, not a stale one. */
static void test_restart_error(void)
{
	struct shared_dir_config share = share_of(at("share"));
	struct virtiofsd_binary bin = { .flavour = VIRTIOFSD_C };
	int rundir = open(at("run"), O_RDONLY | O_DIRECTORY), conn = -1;
	struct virtiofsd_options opt = { &bin, &share, "fs4", rundir, at("run"), 0, 0 };
	char err[1024] = "";
	struct virtiofsd *v;

	snprintf(bin.path, sizeof(bin.path), "%s", fake);
	snprintf(bin.help, sizeof(bin.help), "%s", FAKE_C_HELP);
	v = virtiofsd_start(&opt, &conn, err, sizeof(err));
	CHECK(v != NULL);
	if (!v)
		return;
	close(conn);
	snprintf(bin.path, sizeof(bin.path), "%s", at("gone/virtiofsd"));
	errno = EBADF;
	CHECK_EQ(virtiofsd_restart(v, &conn, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "cannot exec"));
	CHECK_EQ(virtiofsd_pid(v), 0);
	virtiofsd_stop(v);
	close(rundir);
}

/* The C flavour's readonly: writes in the share fail with EROFS. */
static void test_readonly(void)
{
	struct virtiofsd_binary bin = { .flavour = VIRTIOFSD_C };
	struct shared_dir_config share = share_of(at("share"));
	struct virtiofsd_options opt = { &bin, &share, "fs1", -1, at("run"), 0, 0 };
	char err[1024] = "";
	struct virtiofsd *v;
	int conn = -1;

	if (geteuid() != 0) {
		fprintf(stderr, "test_readonly: skipped (needs root for the bind mount)\n");
		return;
	}
	snprintf(bin.path, sizeof(bin.path), "%s", fake);
	snprintf(bin.help, sizeof(bin.help), "%s", FAKE_C_HELP);
	opt.rundir_fd = open(at("run"), O_RDONLY | O_DIRECTORY);
	share.readonly = true;
	v = virtiofsd_start(&opt, &conn, err, sizeof(err));
	CHECK(v != NULL);
	if (v) {
		char want[16];

		snprintf(want, sizeof(want), "err %d", EROFS);
		CHECK_STR(ask(conn, "write\n"), want);
		close(conn);
		virtiofsd_stop(v);
	} else {
		fprintf(stderr, "start: %s\n", err);
	}
	CHECK(access(at("share/probe"), F_OK) && errno == ENOENT);
	share.readonly = false;	/* the same share writable: the fake can write */
	v = virtiofsd_start(&opt, &conn, err, sizeof(err));
	CHECK(v != NULL);
	if (v) {
		CHECK_STR(ask(conn, "write\n"), "ok");
		close(conn);
		virtiofsd_stop(v);
	}
	close(opt.rundir_fd);
}

static const char *real_virtiofsd(void)
{
	static char cached[1024];
	const char *home = getenv("HOME");

	if (!access("/tmp/vfsd/x/usr/lib/qemu/virtiofsd", X_OK))
		return "/tmp/vfsd/x/usr/lib/qemu/virtiofsd";
	snprintf(cached, sizeof(cached), "%s/.cache/vmsilo-rig/virtiofsd/usr/lib/qemu/virtiofsd",
		 home ? home : "");
	return access(cached, X_OK) ? NULL : cached;
}

/* The real C virtiofsd answers GET_FEATURES on the VMM's connection. */
static void test_real_c_virtiofsd(void)
{
	const char *path = real_virtiofsd();
	struct virtiofsd_binary bin;
	struct shared_dir_config share = share_of(at("share"));
	struct virtiofsd_options opt = { &bin, &share, "fs2", -1, at("run"), 0, 0 };
	uint32_t msg[3] = { 1 /* GET_FEATURES */, 1 /* version 1 */, 0 }, reply[5] = { 0 };
	char err[1024] = "";
	struct virtiofsd *v;
	struct pollfd p;
	int conn = -1;

	if (!path || geteuid() != 0) {
		fprintf(stderr, "test_real_c_virtiofsd: skipped (no C virtiofsd, or not root)\n");
		return;
	}
	CHECK_EQ(virtiofsd_find(path, &bin, err, sizeof(err)), 0);
	CHECK_EQ(bin.flavour, VIRTIOFSD_C);
	share.posix_acl = false;
	opt.rundir_fd = open(at("run"), O_RDONLY | O_DIRECTORY);
	v = virtiofsd_start(&opt, &conn, err, sizeof(err));
	CHECK(v != NULL);
	if (!v) {
		fprintf(stderr, "start: %s\n", err);
		return;
	}
	CHECK_EQ(write(conn, msg, sizeof(msg)), (long long)sizeof(msg));
	/* A stream: the header and the payload may come in separate reads. */
	for (size_t got = 0; got < sizeof(reply);) {
		ssize_t n;

		p = (struct pollfd){ .fd = conn, .events = POLLIN };
		CHECK_EQ(poll(&p, 1, 10000), 1);
		n = read(conn, (char *)reply + got, sizeof(reply) - got);
		CHECK(n > 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	CHECK_EQ(reply[0], 1);
	CHECK(reply[1] & 0x4);		/* the reply flag */
	CHECK_EQ(reply[2], 8);
	close(conn);
	virtiofsd_stop(v);
	close(opt.rundir_fd);
}

/* What starting a root virtiofsd on share logs. */
static char *start_logged(struct shared_dir_config *share)
{
	int rundir = open(at("run"), O_RDONLY | O_DIRECTORY), conn = -1;
	struct log_capture cap;
	struct virtiofsd *v;
	char err[1024] = "";

	log_capture_begin(&cap);
	v = start_fake(share, rundir, &conn, err, sizeof(err));
	CHECK(v != NULL);
	if (v) {
		close(conn);
		virtiofsd_stop(v);
	}
	close(rundir);
	return log_capture_end(&cap);
}

/* Guest root can leave setuid-root files where the host honours them:
 * said for a writable share there, not on a nosuid mount, not read-only. */
static void test_setuid_warning(void)
{
	char *plain = strdup(at("plain")), *nosuid = strdup(at("nosuid"));	/* at() reuses its buffer */
	struct shared_dir_config share = share_of(plain);
	char *said;

	if (geteuid() != 0 || unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		fprintf(stderr, "test_setuid_warning: skipped (needs root and a mount namespace)\n");
		free(plain);
		free(nosuid);
		return;
	}
	CHECK(!mkdir(plain, 0755) && !mkdir(nosuid, 0755));
	CHECK(!mount("t", plain, "tmpfs", 0, "mode=0755"));
	CHECK(!mount("t", nosuid, "tmpfs", MS_NOSUID, "mode=0755"));
	said = start_logged(&share);
	CHECK(strstr(said, "guest root can create setuid-root files"));
	free(said);
	share.readonly = true;
	said = start_logged(&share);
	CHECK(!strstr(said, "setuid-root"));
	free(said);
	share = share_of(nosuid);
	said = start_logged(&share);
	CHECK(!strstr(said, "setuid-root"));
	free(said);
	umount(plain);
	umount(nosuid);
	free(plain);
	free(nosuid);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	fake = argv[1];
	snprintf(tmp, sizeof(tmp), "/tmp/test_virtiofsd.XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	{
		char *path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");

		test_find();
		test_find_owner();
		setenv("PATH", path, 1);
		free(path);
	}
	setenv("T", tmp, 1);
	test_start_stop();
	test_share_trust();
	test_restart_error();
	test_readonly();
	test_real_c_virtiofsd();
	test_setuid_warning();	/* last: it moves the test into a mount namespace */
	if (!check_failures) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", tmp);
	}
	return check_report("test_virtiofsd");
}
