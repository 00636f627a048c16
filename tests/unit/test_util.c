/* vmsilo_util's small helpers: error lines, the VM-name rule, MAC parsing
 * and the mkdir -p that never follows a link. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "vmm/errfmt.h"
#include "vmm/mac.h"
#include "vmm/mkdir_p.h"
#include "vmm/vm_name.h"

static void test_errfmt(void)
{
	char err[64], tiny[8];

	CHECK_EQ(errfmt(err, sizeof(err), "disk[%u]: bad", 3), -1);
	CHECK_STR(err, "disk[3]: bad");
	errno = EBADF;
	CHECK_EQ(errfmt_sys(err, sizeof(err), ENOENT, "open %s", "/x"), -1);
	CHECK_STR(err, "open /x: No such file or directory");
	CHECK_EQ(errno, EBADF);				/* left as it was */
	errfmt_sys(err, sizeof(err), -EPERM, "kvm");		/* -errno as the rings return it */
	CHECK_STR(err, "kvm: Operation not permitted");
	errfmt_sys(tiny, sizeof(tiny), ENOENT, "a long prefix");
	CHECK_STR(tiny, "a long ");			/* truncated, terminated */
	errfmt_sys(tiny, sizeof(tiny), ENOENT, "abc");
	CHECK_STR(tiny, "abc: No");
	CHECK_EQ(errfmt_sys(NULL, 0, ENOENT, "x"), -1);	/* no room: nothing written */
}

static void test_vm_name(void)
{
	char long_name[VM_NAME_MAX_LEN + 2];

	CHECK(vm_name_valid("banking"));
	CHECK(vm_name_valid("a.b_c-1"));
	CHECK(vm_name_valid("..."));
	CHECK_EQ(vm_name_check(""), VM_NAME_BAD_LENGTH);
	CHECK_EQ(vm_name_check("my vm"), VM_NAME_BAD_CHAR);
	CHECK_EQ(vm_name_check("a/b"), VM_NAME_BAD_CHAR);
	CHECK_EQ(vm_name_check("a:b"), VM_NAME_BAD_CHAR);
	CHECK_EQ(vm_name_check("."), VM_NAME_DOTS);
	CHECK_EQ(vm_name_check(".."), VM_NAME_DOTS);
	/* Host tools would take these for options. */
	CHECK_EQ(vm_name_check("-rf"), VM_NAME_LEADING_DASH);
	CHECK_EQ(vm_name_check("--help"), VM_NAME_LEADING_DASH);
	CHECK_EQ(vm_name_check("-"), VM_NAME_LEADING_DASH);
	CHECK(vm_name_valid("a-"));
	memset(long_name, 'a', VM_NAME_MAX_LEN);
	long_name[VM_NAME_MAX_LEN] = '\0';
	CHECK(vm_name_valid(long_name));
	long_name[VM_NAME_MAX_LEN] = 'a';
	long_name[VM_NAME_MAX_LEN + 1] = '\0';
	CHECK_EQ(vm_name_check(long_name), VM_NAME_BAD_LENGTH);
}

static void test_mac(void)
{
	uint8_t a[6] = { 0 };

	CHECK_EQ(mac_parse("52:54:00:12:34:56", a), MAC_OK);
	CHECK(!memcmp(a, (uint8_t[]){ 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, 6));
	CHECK_EQ(mac_parse("0A:bC:00:00:00:01", a), MAC_OK);
	CHECK_EQ(a[0], 0x0a);
	CHECK_EQ(a[1], 0xbc);
	CHECK_EQ(mac_parse("01:00:5e:00:00:01", a), MAC_MULTICAST);
	CHECK_EQ(mac_parse("00:00:00:00:00:00", a), MAC_ZERO);
	CHECK_EQ(a[0], 0x0a);				/* untouched on failure */
	CHECK_EQ(mac_parse("52:54:00:12:34", a), MAC_MALFORMED);
	CHECK_EQ(mac_parse("52:54:00:12:34:567", a), MAC_MALFORMED);
	CHECK_EQ(mac_parse("52-54-00-12-34-56", a), MAC_MALFORMED);
	CHECK_EQ(mac_parse("52:54:00:12:34:5g", a), MAC_MALFORMED);
	CHECK_EQ(mac_parse(" 2:54:00:12:34:56", a), MAC_MALFORMED);	/* sscanf would take it */
	CHECK_EQ(mac_parse("+2:54:00:12:34:56", a), MAC_MALFORMED);
}

static int calls;

static int refuse_third(int fd, const char *shown, void *ctx, char *err, size_t errlen)
{
	struct stat st;

	CHECK_EQ(fstat(fd, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	if (++calls == *(int *)ctx)
		return errfmt(err, errlen, "refused %s", shown);
	return 0;
}

static void test_mkdir_p(void)
{
	char top[] = "/tmp/test_util.XXXXXX", path[PATH_MAX], link[PATH_MAX], err[PATH_MAX + 64];
	int never = 0, third = 3, fd;
	struct stat st;

	CHECK(mkdtemp(top) != NULL);
	snprintf(path, sizeof(path), "%s/a/./b//c", top);
	fd = mkdir_p(path, 0750, "test", refuse_third, &never, err, sizeof(err));
	CHECK(fd >= 0);
	snprintf(path, sizeof(path), "%s/a/b/c", top);
	CHECK_EQ(stat(path, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_mode & 0777, 0750);
	close(fd);
	CHECK_EQ(calls, 6);				/* "/", tmp, test_util.*, a, b, c */
	fd = mkdir_p(path, 0750, "test", NULL, NULL, err, sizeof(err));	/* all there */
	CHECK(fd >= 0);
	close(fd);

	calls = 0;
	CHECK_EQ(mkdir_p(path, 0750, "test", refuse_third, &third, err, sizeof(err)), -1);
	snprintf(path, sizeof(path), "refused %s", top);
	CHECK_STR(err, path);

	snprintf(link, sizeof(link), "%s/link", top);
	snprintf(path, sizeof(path), "%s/a", top);
	CHECK_EQ(symlink(path, link), 0);
	snprintf(path, sizeof(path), "%s/link/b", top);
	CHECK_EQ(mkdir_p(path, 0755, "test", NULL, NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "/link is a symlink") != NULL);
	snprintf(path, sizeof(path), "%s/a/../a", top);
	CHECK_EQ(mkdir_p(path, 0755, "test", NULL, NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "has a \"..\" component") != NULL);
	CHECK_EQ(mkdir_p("relative/dir", 0755, "test", NULL, NULL, err, sizeof(err)), -1);
	CHECK_STR(err, "test: relative/dir is not an absolute path");

	snprintf(path, sizeof(path), "rm -rf '%s'", top);
	CHECK_EQ(system(path), 0);
}

int main(void)
{
	umask(022);
	test_errfmt();
	test_vm_name();
	test_mac();
	test_mkdir_p();
	return check_report("test_util");
}
