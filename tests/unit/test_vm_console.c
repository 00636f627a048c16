/*
 * vm-shell run as root attaches only to the VM's own console PTY, whatever
 * the VM's user made of <name>/console: a link to /dev/null, to a regular
 * file, to a PTY of another user or of root (another terminal on the
 * host), a plain file, and a symlinked <name>/ are refused; a link to a
 * PTY the directory's owner holds relays data both ways, and so does a
 * root VM's root-owned PTY. Needs root; skips otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"
#include "host-tools/vm_console.h"

#define USER_UID 65534		/* the VM's user: owns <name>/ */
#define OTHER_UID 12345		/* someone else on the host */

static char top[] = "/tmp/test_vm_console.XXXXXX";
static char vm_dir[PATH_MAX], console[PATH_MAX];

static void path_in(char *buf, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		abort();	/* the test's own paths are short */
}

/* A PTY master whose slave belongs to uid; the slave's path in slave. */
static int pty_owned_by(uid_t uid, char *slave, size_t len)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct termios t;
	int fd;

	CHECK(master >= 0);
	CHECK_EQ(grantpt(master), 0);
	CHECK_EQ(unlockpt(master), 0);
	CHECK_EQ(ptsname_r(master, slave, len), 0);
	CHECK_EQ(chown(slave, uid, uid), 0);
	/* Raw, so the bytes come through as written. */
	fd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
	CHECK(fd >= 0 && !tcgetattr(fd, &t));
	cfmakeraw(&t);
	CHECK_EQ(tcsetattr(fd, TCSANOW, &t), 0);
	close(fd);
	return master;
}

static void link_console(const char *target)
{
	unlink(console);
	CHECK_EQ(symlink(target, console), 0);
}

static void check_refused(const char *why)
{
	int fd = vm_console_open(top, "vm");

	if (fd >= 0 || errno != EPERM)
		fprintf(stderr, "not refused: %s\n", why);
	CHECK(fd < 0);
	CHECK_EQ(errno, EPERM);
	if (fd >= 0)
		close(fd);
}

/* The console opens and is the PTY behind master: bytes go both ways. */
static void check_relays(int master)
{
	int fd = vm_console_open(top, "vm");
	char buf[8] = "";

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(write(fd, "to-vm", 5), 5);
	CHECK_EQ(read(master, buf, sizeof(buf)), 5);
	CHECK(!memcmp(buf, "to-vm", 5));
	CHECK_EQ(write(master, "from", 4), 4);
	/* fd is non-blocking and the PTY hands bytes over asynchronously. */
	CHECK_EQ(poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 10000), 1);
	CHECK_EQ(read(fd, buf, sizeof(buf)), 4);
	CHECK(!memcmp(buf, "from", 4));
	close(fd);
}

static void test_foreign_targets(void)
{
	char file[PATH_MAX], slave[64];
	int fd, other, roots;

	path_in(file, top, "file");
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	close(fd);
	link_console("/dev/null");
	check_refused("/dev/null");
	link_console(file);
	check_refused("a regular file");
	link_console("/dev/pts/ptmx");
	check_refused("/dev/pts/ptmx");
	link_console("/dev/pts/../null");
	check_refused("/dev/pts/../null");
	other = pty_owned_by(OTHER_UID, slave, sizeof(slave));
	link_console(slave);
	check_refused("a PTY of another user");
	roots = pty_owned_by(0, slave, sizeof(slave));
	link_console(slave);
	check_refused("a PTY of root's (another terminal on the host)");
	unlink(console);
	fd = open(console, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	close(fd);
	check_refused("a plain file named console");
	close(other);
	close(roots);
	unlink(file);
}

static void test_own_pty(void)
{
	char slave[64], real[PATH_MAX], link[PATH_MAX];
	int master = pty_owned_by(USER_UID, slave, sizeof(slave));

	link_console(slave);
	check_relays(master);
	/* The same directory reached through a symlinked <name> is refused. */
	path_in(real, top, "real");
	path_in(link, top, "vm");
	CHECK_EQ(rename(vm_dir, real), 0);
	CHECK_EQ(symlink(real, link), 0);
	check_refused("a symlinked <name>");
	unlink(link);
	CHECK_EQ(rename(real, vm_dir), 0);
	/* A root VM: its directory and PTY stay root's. */
	CHECK_EQ(chown(vm_dir, 0, 0), 0);
	check_refused("the user's PTY in root's directory");
	close(master);
	master = pty_owned_by(0, slave, sizeof(slave));
	link_console(slave);
	check_relays(master);
	close(master);
	unlink(console);
	errno = 0;
	CHECK_EQ(vm_console_open(top, "vm"), -1);
	CHECK_EQ(errno, ENOENT);
}

int main(void)
{
	if (geteuid()) {
		printf("SKIP: needs root (vm-shell's checks matter when root runs it)\n");
		return 77;
	}
	CHECK(mkdtemp(top) != NULL);
	path_in(vm_dir, top, "vm");
	path_in(console, vm_dir, "console");
	CHECK_EQ(mkdir(vm_dir, 0700), 0);
	CHECK_EQ(chown(vm_dir, USER_UID, USER_UID), 0);
	test_foreign_targets();
	test_own_pty();
	rmdir(vm_dir);
	rmdir(top);
	return check_report("test_vm_console");
}
