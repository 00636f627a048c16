/*
 * The runtime directory as root, for a user who may be hostile: nothing
 * it swaps in (a symlink for <name>/ or any entry in it) gets root to
 * chown, create or remove anything outside. Needs root; skips otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "vmm/runtime_dir.h"

#define RACE_ROUNDS 2000
#define VICTIM_TEXT "root's secret\n"

static char top[] = "/tmp/test_runtime_dir.XXXXXX";
static char run[PATH_MAX], vm_dir[PATH_MAX], victim[PATH_MAX], victim_dir[PATH_MAX];
static uid_t user_uid;
static gid_t user_gid;
static struct vm_config cfg = { .name = "vm", .user = "nobody" };

static void path_in(char *buf, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		abort();	/* the test's own paths are short */
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
}

/* top (root, 0755): run/ (the user's, like /run/user/N), victim, victim.d/ */
static void setup(void)
{
	char decoy[PATH_MAX];

	CHECK(mkdtemp(top) != NULL);
	CHECK_EQ(chmod(top, 0755), 0);
	path_in(run, top, "run");
	path_in(vm_dir, run, "vm");
	path_in(victim, top, "victim");
	path_in(victim_dir, top, "victim.d");
	CHECK_EQ(mkdir(run, 0755), 0);
	CHECK_EQ(chown(run, user_uid, user_gid), 0);
	write_file(victim, VICTIM_TEXT, 0600);
	CHECK_EQ(mkdir(victim_dir, 0700), 0);
	path_in(decoy, victim_dir, "control.socket");	/* what a followed cleanup would delete */
	write_file(decoy, VICTIM_TEXT, 0600);
	cfg.runtime_dir = run;
}

static void expect_victims_untouched(void)
{
	char buf[64] = "", decoy[PATH_MAX];
	struct stat st;
	struct dirent *e;
	DIR *d;
	int fd, n = 0;

	CHECK_EQ(lstat(victim, &st), 0);
	CHECK_EQ(st.st_uid, 0);
	CHECK_EQ(st.st_gid, 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
	fd = open(victim, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0);
	close(fd);
	CHECK_STR(buf, VICTIM_TEXT);
	CHECK_EQ(lstat(victim_dir, &st), 0);
	CHECK_EQ(st.st_uid, 0);
	CHECK_EQ(st.st_mode & 07777, 0700);
	path_in(decoy, victim_dir, "control.socket");
	CHECK_EQ(lstat(decoy, &st), 0);
	CHECK(S_ISREG(st.st_mode));
	d = opendir(victim_dir);	/* nothing made in it */
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	CHECK_EQ(n, 1);
}

static void expect_error(const char *want)
{
	struct runtime_dir rd;
	char err[512] = "";

	CHECK_EQ(runtime_dir_open(&rd, &cfg, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
	CHECK(strstr(err, want) != NULL);
}

static void expect_owned(const char *name, mode_t type, mode_t mode)
{
	char path[PATH_MAX];
	struct stat st;

	path_in(path, vm_dir, name);
	CHECK_EQ(lstat(path, &st), 0);
	CHECK_EQ(st.st_mode & S_IFMT, type);
	CHECK_EQ(st.st_uid, user_uid);
	CHECK_EQ(st.st_gid, user_gid);
	if (mode)
		CHECK_EQ(st.st_mode & 07777, mode);
}

/* Sockets and the console link are the user's, mode 0660, and go at close. */
static void test_files_are_the_users(void)
{
	struct runtime_dir rd;
	char err[512] = "";
	struct stat st;
	int fd;

	CHECK_EQ(runtime_dir_open(&rd, &cfg, err, sizeof(err)), 0);
	fd = runtime_dir_listen(&rd, "control.socket", err, sizeof(err));
	CHECK(fd >= 0);
	CHECK_EQ(runtime_dir_link(&rd, "console", "/dev/null", err, sizeof(err)), 0);
	CHECK_EQ(lstat(vm_dir, &st), 0);
	CHECK_EQ(st.st_uid, user_uid);
	CHECK_EQ(st.st_mode & 07777, 0700);
	expect_owned("control.socket", S_IFSOCK, 0660);
	expect_owned("console", S_IFLNK, 0);
	expect_error("already running");
	close(fd);
	runtime_dir_close(&rd);
	CHECK(lstat(vm_dir, &st) && errno == ENOENT);
}

static void test_symlinked_dirs_refused(void)
{
	char link[PATH_MAX], *saved = cfg.runtime_dir;

	CHECK_EQ(symlink(victim_dir, vm_dir), 0);	/* <name> */
	expect_error("is a symlink");
	CHECK_EQ(unlink(vm_dir), 0);
	path_in(link, top, "run.link");			/* <runtime_dir> itself */
	CHECK_EQ(symlink(run, link), 0);
	cfg.runtime_dir = link;
	expect_error("run.link is a symlink");
	cfg.runtime_dir = saved;
	CHECK_EQ(unlink(link), 0);
	expect_victims_untouched();
}

static void test_foreign_dirs_refused(void)
{
	CHECK_EQ(mkdir(vm_dir, 0700), 0);		/* <name> of another user */
	CHECK_EQ(chown(vm_dir, user_uid + 1, user_gid), 0);
	expect_error("is owned by uid");
	CHECK_EQ(rmdir(vm_dir), 0);
	CHECK_EQ(chmod(run, 0777), 0);			/* others could swap <name> */
	expect_error("writable by group or others");
	CHECK_EQ(chmod(run, 0755), 0);
}

/* Closing after the user swapped <name>/ for a link removes nothing outside. */
static void test_close_after_swap(void)
{
	struct runtime_dir rd;
	char err[512] = "", moved[PATH_MAX];
	int fd;

	CHECK_EQ(runtime_dir_open(&rd, &cfg, err, sizeof(err)), 0);
	fd = runtime_dir_listen(&rd, "control.socket", err, sizeof(err));
	path_in(moved, run, "vm.moved");
	CHECK_EQ(rename(vm_dir, moved), 0);
	CHECK_EQ(symlink(victim_dir, vm_dir), 0);
	runtime_dir_close(&rd);
	if (fd >= 0)
		close(fd);
	expect_victims_untouched();
	unlink(vm_dir);
	path_in(err, moved, "control.socket");
	unlink(err);
	CHECK_EQ(rmdir(moved), 0);
}

/* A listening socket at top/<name>, root's, mode mode (0600: root only). */
static int outside_listener(const char *name, mode_t mode, char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	path_in(path, top, name);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	CHECK(fd >= 0);
	CHECK_EQ(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	CHECK_EQ(chmod(path, mode), 0);
	CHECK_EQ(listen(fd, 8), 0);
	return fd;
}

static bool got_connection(int listener)
{
	int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

/*
 * The user swaps vsock.socket for a link to a root-only socket, or removes
 * it: runtime_dir_connect still reaches our own listener, never theirs.
 */
static void test_connect_reaches_only_our_listener(void)
{
	struct runtime_dir rd;
	char err[512] = "", root_only[PATH_MAX], entry[PATH_MAX];
	int ours, theirs = outside_listener("root-only.socket", 0600, root_only), fd;

	CHECK_EQ(runtime_dir_open(&rd, &cfg, err, sizeof(err)), 0);
	ours = runtime_dir_listen(&rd, "vsock.socket", err, sizeof(err));
	CHECK(ours >= 0);
	path_in(entry, vm_dir, "vsock.socket");
	CHECK_EQ(unlink(entry), 0);
	CHECK_EQ(symlink(root_only, entry), 0);
	fd = runtime_dir_connect(&rd, "vsock.socket");
	CHECK(fd >= 0);
	CHECK(got_connection(ours));
	CHECK(!got_connection(theirs));
	close(fd);
	CHECK_EQ(unlink(entry), 0);			/* gone: still ours */
	fd = runtime_dir_connect(&rd, "vsock.socket");
	CHECK(fd >= 0 && got_connection(ours));
	close(fd);
	CHECK(runtime_dir_connect(&rd, "command.socket") < 0 && errno == ENOENT);
	close(ours);
	runtime_dir_close(&rd);
	close(theirs);
	unlink(root_only);
}

/*
 * The liveness probe of a left-over control.socket follows no link: one
 * to a socket the user may reach elsewhere neither hears from root nor
 * makes the VM look as if it were running.
 */
static void test_probe_follows_no_link(void)
{
	struct runtime_dir rd;
	char err[512] = "", open_socket[PATH_MAX], entry[PATH_MAX];
	int theirs = outside_listener("open.socket", 0666, open_socket);

	CHECK_EQ(mkdir(vm_dir, 0700), 0);
	CHECK_EQ(chown(vm_dir, user_uid, user_gid), 0);
	path_in(entry, vm_dir, "control.socket");
	CHECK_EQ(symlink(open_socket, entry), 0);
	CHECK_EQ(runtime_dir_open(&rd, &cfg, err, sizeof(err)), 0);
	CHECK(!got_connection(theirs));
	runtime_dir_close(&rd);
	unlink(entry);
	rmdir(vm_dir);
	close(theirs);
	unlink(open_socket);
}

/* <vm_dir>/.control.socket.new as a crashed run leaves it, or as someone planted it. */
static void make_stage(char *stage, char *inside, uid_t owner, mode_t mode)
{
	char link[PATH_MAX];

	path_in(stage, vm_dir, ".control.socket.new");
	CHECK_EQ(mkdir(stage, 0700), 0);
	path_in(inside, stage, "control.socket");
	write_file(inside, "left over\n", 0600);
	path_in(link, stage, "victim.d");		/* removed, never followed */
	CHECK_EQ(symlink(victim_dir, link), 0);
	CHECK_EQ(chown(stage, owner, 0), 0);
	CHECK_EQ(chmod(stage, mode), 0);
}

static int listen_control(struct runtime_dir *rd)
{
	char err[512] = "";
	int fd = runtime_dir_listen(rd, "control.socket", err, sizeof(err));

	if (fd < 0)
		fprintf(stderr, "runtime_dir_listen: %s\n", err);
	return fd;
}

/*
 * A stage a crashed run left full (root's, 0700) no longer blocks every
 * later start; one that is not ours is refused and left as it is.
 */
static void test_leftover_stage(void)
{
	struct runtime_dir rd;
	char err[512] = "", stage[PATH_MAX], inside[PATH_MAX];
	struct stat st;
	int fd;

	CHECK_EQ(runtime_dir_open(&rd, &cfg, err, sizeof(err)), 0);
	make_stage(stage, inside, 0, 0700);
	fd = listen_control(&rd);
	CHECK(fd >= 0);
	CHECK(lstat(stage, &st) && errno == ENOENT);
	expect_owned("control.socket", S_IFSOCK, 0660);
	if (fd >= 0)
		close(fd);
	expect_victims_untouched();

	make_stage(stage, inside, user_uid, 0700);	/* the user's: not emptied */
	CHECK(listen_control(&rd) < 0);
	CHECK_EQ(lstat(inside, &st), 0);
	CHECK_EQ(chown(stage, 0, 0), 0);
	CHECK_EQ(chmod(stage, 0755), 0);		/* root's but open: not emptied */
	CHECK(listen_control(&rd) < 0);
	CHECK_EQ(lstat(inside, &st), 0);
	expect_victims_untouched();
	runtime_dir_close(&rd);
	path_in(err, stage, "victim.d");
	CHECK_EQ(unlink(err), 0);
	CHECK_EQ(unlink(inside), 0);
	CHECK_EQ(rmdir(stage), 0);
	CHECK_EQ(rmdir(vm_dir), 0);
}

/* Connections queued on listener until its backlog is full (they stay open). */
static int fill_backlog(const char *path, int *clients, int max)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int n = 0;

	CHECK((size_t)snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path) <
	      sizeof(addr.sun_path));
	while (n < max) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
			CHECK_EQ(errno, EAGAIN);
			if (fd >= 0)
				close(fd);
			break;
		}
		clients[n++] = fd;
	}
	CHECK(n < max);
	return n;
}

/*
 * A control.socket the user planted whose backlog is full: the probe does
 * not hang (the alarm fails the test if it does), and counts it as live.
 */
static void test_probe_full_backlog(void)
{
	char entry[PATH_MAX];
	int listener, clients[16], n;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	CHECK_EQ(mkdir(vm_dir, 0700), 0);
	CHECK_EQ(chown(vm_dir, user_uid, user_gid), 0);
	path_in(entry, vm_dir, "control.socket");
	CHECK((size_t)snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", entry) <
	      sizeof(addr.sun_path));
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ(bind(listener, (struct sockaddr *)&addr, sizeof(addr)), 0);
	CHECK_EQ(chmod(entry, 0666), 0);
	CHECK_EQ(listen(listener, 0), 0);
	n = fill_backlog(entry, clients, 16);
	alarm(60);
	expect_error("already running");
	alarm(0);
	while (n--)
		close(clients[n]);
	close(listener);
	unlink(entry);
	rmdir(vm_dir);
}

static void swap_for_link(const char *path, const char *target)
{
	unlink(path);
	symlink(target, path);
}

/* As the user: swap every entry for links to the victims, forever. */
static void race(void)
{
	static const char *const names[] = {
		"control.socket", "command.socket", "console",
		".control.socket.new", ".command.socket.new",	/* the stages */
	};
	char entry[PATH_MAX], moved[PATH_MAX];

	if (setresgid(user_gid, user_gid, user_gid) || setresuid(user_uid, user_uid, user_uid))
		_exit(2);
	path_in(moved, run, "vm.moved");
	for (unsigned i = 0;; i++) {
		const char *target = i & 1 ? victim : victim_dir;

		for (unsigned n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
			path_in(entry, vm_dir, names[n]);
			swap_for_link(entry, target);
		}
		if (i % 64 == 0 && !rename(vm_dir, moved)) {
			symlink(target, vm_dir);
			unlink(vm_dir);
			rename(moved, vm_dir);
		}
	}
}

/* Returns whether the directory opened (the racer may have it refused). */
static bool one_round(void)
{
	struct runtime_dir rd;
	char err[512];
	int fds[2];

	if (runtime_dir_open(&rd, &cfg, err, sizeof(err)))
		return false;
	fds[0] = runtime_dir_listen(&rd, "control.socket", err, sizeof(err));
	fds[1] = runtime_dir_listen(&rd, "command.socket", err, sizeof(err));
	runtime_dir_link(&rd, "console", "/dev/null", err, sizeof(err));
	for (unsigned i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	runtime_dir_close(&rd);
	return true;
}

static void test_race(void)
{
	pid_t racer = fork();
	unsigned opened = 0;
	int status;

	if (racer == 0)
		race();
	CHECK(racer > 0);
	for (unsigned i = 0; i < RACE_ROUNDS; i++)
		opened += one_round();
	kill(racer, SIGKILL);
	fprintf(stderr, "test_race: %u of %u rounds got the directory past the racer\n", opened,
		RACE_ROUNDS);
	CHECK_EQ(waitpid(racer, &status, 0), racer);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	expect_victims_untouched();
}

static void cleanup(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", top);
}

/* "race" runs the race alone. */
int main(int argc, char **argv)
{
	struct passwd *pw = getpwnam("nobody");

	if (geteuid() != 0 || !pw) {
		fprintf(stderr, "test_runtime_dir: needs root and a user \"nobody\"; skipped\n");
		return 77;
	}
	user_uid = pw->pw_uid;
	user_gid = pw->pw_gid;
	setup();
	if (argc < 2 || strcmp(argv[1], "race")) {
		test_files_are_the_users();
		test_symlinked_dirs_refused();
		test_foreign_dirs_refused();
		test_close_after_swap();
		test_connect_reaches_only_our_listener();
		test_probe_follows_no_link();
		test_leftover_stage();
		test_probe_full_backlog();
	}
	test_race();
	cleanup();
	return check_report("test_runtime_dir");
}
