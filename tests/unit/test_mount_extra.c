/* The guest agent's reading of systemd.mount-extra= and of mountinfo
 * (guest-agent/mount_extra.c): strings in, no mounts. */
#include <stdarg.h>
#include <sys/mount.h>

#include "check.h"
#include "guest-agent/agent.h"
#include "guest-agent/mount_extra.h"

void agent_log(const char *fmt, ...)
{
	(void)fmt;
}

static void test_parse_entries(void)
{
	struct mount_extra m[MOUNT_EXTRA_MAX];
	size_t n = mount_extra_parse(
		"console=ttyS0 systemd.mount-extra=home:/home/user:virtiofs quiet "
		"systemd.mount-extra=data:/mnt/data:virtiofs:ro,noatime\n",
		m, MOUNT_EXTRA_MAX);

	CHECK_EQ(n, 2);
	CHECK_STR(m[0].tag, "home");
	CHECK_STR(m[0].path, "/home/user");
	CHECK_STR(m[0].options, "");
	CHECK_STR(m[1].tag, "data");
	CHECK_STR(m[1].path, "/mnt/data");
	CHECK_STR(m[1].options, "ro,noatime");
}

static void test_parse_skips_others(void)
{
	struct mount_extra m[MOUNT_EXTRA_MAX];
	char long_tag[400];

	memset(long_tag, 'a', sizeof(long_tag));
	memcpy(long_tag, "systemd.mount-extra=", 20);
	snprintf(long_tag + 300, sizeof(long_tag) - 300, ":/x:virtiofs");
	CHECK_EQ(mount_extra_parse("systemd.mount-extra=/dev/vdb:/srv:ext4 "
				   "systemd.mount-extra=t:/no-type "
				   "systemd.mount-extra=t:relative:virtiofs "
				   "systemd.mount-extra=:/empty-tag:virtiofs "
				   "systemd.mount-extra=t:/x:virtiofsx "
				   "systemd.mount-extra= systemd.mount-extra "
				   "xsystemd.mount-extra=t:/x:virtiofs",
				   m, MOUNT_EXTRA_MAX), 0);
	CHECK_EQ(mount_extra_parse(long_tag, m, MOUNT_EXTRA_MAX), 0);
	CHECK_EQ(mount_extra_parse("", m, MOUNT_EXTRA_MAX), 0);
}

static void test_parse_stops_at_max(void)
{
	struct mount_extra m[2];

	CHECK_EQ(mount_extra_parse("systemd.mount-extra=a:/a:virtiofs "
				   "systemd.mount-extra=b:/b:virtiofs "
				   "systemd.mount-extra=c:/c:virtiofs", m, 2), 2);
	CHECK_STR(m[1].tag, "b");
}

static const char mountinfo[] =
	"22 1 0:21 / / rw,relatime - overlay overlay rw,lowerdir=/lower\n"
	"30 22 0:40 / /mnt/my\\040data rw,relatime shared:5 - virtiofs data rw\n"
	"31 22 0:41 / /home/user rw,relatime - tmpfs home rw\n"
	"32 22 0:42 / /srv rw - virtiofs other rw";

static void test_is_mounted(void)
{
	struct mount_extra spaced = { .tag = "data", .path = "/mnt/my data" };
	struct mount_extra tmpfs_there = { .tag = "home", .path = "/home/user" };
	struct mount_extra other_tag = { .tag = "data", .path = "/srv" };
	struct mount_extra last_line = { .tag = "other", .path = "/srv" };
	struct mount_extra absent = { .tag = "x", .path = "/x" };

	CHECK(mount_extra_is_mounted(mountinfo, &spaced));
	CHECK(!mount_extra_is_mounted(mountinfo, &tmpfs_there));
	CHECK(!mount_extra_is_mounted(mountinfo, &other_tag));
	CHECK(mount_extra_is_mounted(mountinfo, &last_line));
	CHECK(!mount_extra_is_mounted(mountinfo, &absent));
	CHECK(!mount_extra_is_mounted("garbage without fields\n\n - \\", &absent));
}

static void test_split_options(void)
{
	unsigned long flags;
	char data[32];

	CHECK(mount_extra_split_options("ro,noatime,dax,nosuid", &flags, data, sizeof(data)));
	CHECK_EQ(flags, MS_RDONLY | MS_NOATIME | MS_NOSUID);
	CHECK_STR(data, "dax");
	CHECK(mount_extra_split_options("", &flags, data, sizeof(data)));
	CHECK_EQ(flags, 0);
	CHECK_STR(data, "");
	CHECK(mount_extra_split_options("ro,rw,,a,b", &flags, data, sizeof(data)));
	CHECK_EQ(flags, 0);
	CHECK_STR(data, "a,b");
	CHECK(!mount_extra_split_options("abcdefgh,abcdefgh", &flags, data, 10));
}

int main(void)
{
	test_parse_entries();
	test_parse_skips_others();
	test_parse_stops_at_max();
	test_is_mounted();
	test_split_options();
	return check_report("test_mount_extra");
}
