/* shared_home_prepare: the template's tree copied with its contents and
 * modes, owned by the user; an existing home untouched; a symlink copied,
 * never followed; no template, an empty home; untrusted parents refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vmm/shared_home.h"

#define USER_UID 4321
#define USER_GID 4322

static char root[256];

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
	chmod(path, mode);
}

static char *read_text(const char *path)
{
	static char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static char *at(const char *rel)
{
	static char bufs[4][512];
	static unsigned next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", root, rel);
	return b;
}

static void expect_owner_mode(const char *path, mode_t mode)
{
	struct stat st;

	CHECK(!lstat(path, &st));
	if (!S_ISLNK(st.st_mode))
		CHECK_EQ(st.st_mode & 07777, mode);
	if (geteuid() == 0) {
		CHECK_EQ(st.st_uid, USER_UID);
		CHECK_EQ(st.st_gid, USER_GID);
	}
}

static void make_template(void)
{
	mkdir(at("template"), 0755);
	mkdir(at("template/.config"), 0750);
	mkdir(at("template/.config/deep"), 0700);
	write_file(at("template/.bashrc"), "PS1='guest$ '\n", 0644);
	write_file(at("template/.config/deep/run.sh"), "#!/bin/sh\n", 0755);
	write_file(at("secret"), "host secret\n", 0600);
	CHECK(!symlink(at("secret"), at("template/outside")));
	CHECK(!symlink(".bashrc", at("template/inside")));
	CHECK(!mkfifo(at("template/fifo"), 0600));
}

static void test_copy(void)
{
	char err[512] = "", target[512];
	ssize_t n;

	CHECK_EQ(shared_home_prepare(at("shared/vm1/home"), at("template"), USER_UID, USER_GID,
				     err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "err: %s\n", err);
	CHECK_STR(read_text(at("shared/vm1/home/.bashrc")), "PS1='guest$ '\n");
	CHECK_STR(read_text(at("shared/vm1/home/.config/deep/run.sh")), "#!/bin/sh\n");
	expect_owner_mode(at("shared/vm1/home"), 0700);
	expect_owner_mode(at("shared/vm1/home/.bashrc"), 0644);
	expect_owner_mode(at("shared/vm1/home/.config"), 0750);
	expect_owner_mode(at("shared/vm1/home/.config/deep"), 0700);
	expect_owner_mode(at("shared/vm1/home/.config/deep/run.sh"), 0755);
	expect_owner_mode(at("shared/vm1/home/outside"), 0);
	/* the link is a link with the same target; the host file is untouched */
	n = readlink(at("shared/vm1/home/outside"), target, sizeof(target) - 1);
	CHECK(n > 0);
	target[n > 0 ? n : 0] = '\0';
	CHECK_STR(target, at("secret"));
	n = readlink(at("shared/vm1/home/inside"), target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	CHECK_STR(target, ".bashrc");
	CHECK_STR(read_text(at("secret")), "host secret\n");
	{
		struct stat st;

		CHECK(!stat(at("secret"), &st));
		CHECK_EQ(st.st_uid, geteuid());
		CHECK(lstat(at("shared/vm1/home/fifo"), &st) && errno == ENOENT);
		/* the parents made are root's (ours), 0755 */
		CHECK(!stat(at("shared/vm1"), &st));
		CHECK_EQ(st.st_uid, geteuid());
		CHECK_EQ(st.st_mode & 0777, 0755);
	}
}

static void test_existing_home_untouched(void)
{
	char err[512] = "";

	write_file(at("shared/vm1/home/.bashrc"), "changed by the guest\n", 0600);
	write_file(at("shared/vm1/home/new"), "written at first start\n", 0600);
	CHECK_EQ(shared_home_prepare(at("shared/vm1/home"), at("template"), USER_UID, USER_GID,
				     err, sizeof(err)), 0);
	CHECK_STR(read_text(at("shared/vm1/home/.bashrc")), "changed by the guest\n");
	CHECK_STR(read_text(at("shared/vm1/home/new")), "written at first start\n");
}

static void test_no_template_empty_home(void)
{
	char err[512] = "";
	struct stat st;

	CHECK_EQ(shared_home_prepare(at("shared/vm2/home"), at("no-such-template"), USER_UID,
				     USER_GID, err, sizeof(err)), 0);
	CHECK(!stat(at("shared/vm2/home"), &st) && S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_nlink, 2);	/* nothing in it */
	expect_owner_mode(at("shared/vm2/home"), 0700);
}

static void test_untrusted_parents_refused(void)
{
	char err[512] = "";
	struct stat st;

	mkdir(at("open"), 0777);
	chmod(at("open"), 0777);
	CHECK_EQ(shared_home_prepare(at("open/vm/home"), at("template"), USER_UID, USER_GID,
				     err, sizeof(err)), -1);
	CHECK(strstr(err, "writable by group or others"));
	CHECK(stat(at("open/vm"), &st) && errno == ENOENT);
	/* a symlinked <vm> directory is not followed */
	mkdir(at("elsewhere"), 0755);
	CHECK(!symlink(at("elsewhere"), at("shared/vm3")));
	CHECK_EQ(shared_home_prepare(at("shared/vm3/home"), at("template"), USER_UID, USER_GID,
				     err, sizeof(err)), -1);
	CHECK(strstr(err, "symlink"));
	CHECK(stat(at("elsewhere/home"), &st) && errno == ENOENT);
	if (geteuid() == 0) {
		mkdir(at("users"), 0755);
		CHECK(!chown(at("users"), USER_UID, USER_GID));
		CHECK_EQ(shared_home_prepare(at("users/vm/home"), at("template"), USER_UID,
					     USER_GID, err, sizeof(err)), -1);
		CHECK(strstr(err, "owned by uid"));
	}
}

/* Whoever could swap the template would choose the home's contents; a
 * home someone else owns is not the VM user's. */
static void test_untrusted_template_and_home_refused(void)
{
	char err[512] = "";
	struct stat st;

	if (geteuid() != 0) {
		fprintf(stderr, "test_untrusted_template_and_home_refused: skipped (not root)\n");
		return;
	}
	mkdir(at("usertpl"), 0755);
	write_file(at("usertpl/.profile"), "planted\n", 0644);
	CHECK(!chown(at("usertpl"), USER_UID + 1, USER_GID + 1));
	CHECK_EQ(shared_home_prepare(at("shared/vm4/home"), at("usertpl"), USER_UID, USER_GID,
				     err, sizeof(err)), -1);
	CHECK(strstr(err, "home_template"));
	CHECK(stat(at("shared/vm4/home"), &st) && errno == ENOENT);
	mkdir(at("shared/vm5"), 0755);
	mkdir(at("shared/vm5/home"), 0700);
	CHECK(!chown(at("shared/vm5/home"), USER_UID + 1, USER_GID));
	CHECK_EQ(shared_home_prepare(at("shared/vm5/home"), at("template"), USER_UID, USER_GID,
				     err, sizeof(err)), -1);
	CHECK(strstr(err, "not the VM's user"));
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/test_shared_home.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	make_template();
	test_copy();
	test_existing_home_untouched();
	test_no_template_empty_home();
	test_untrusted_parents_refused();
	test_untrusted_template_and_home_refused();
	if (!check_failures) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", root);
	}
	return check_report("test_shared_home");
}
