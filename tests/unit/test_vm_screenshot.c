/*
 * vm-screenshot, run for real against a fake control.socket: the request
 * it sends, the PPM it copies out of the runtime directory, and what it
 * refuses: an error reply, a reply naming a file outside the directory,
 * a file that is a symlink or a hard link (what the directory's user could
 * rig against a root vm-screenshot), bad arguments, no VM.
 */
#include <fcntl.h>
#include <limits.h>
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

#define PPM "P6\n2 1\n255\n\xff\x00\x00\x00\xff\x00"

static const char *tool;
static char top[] = "/tmp/test_vm_screenshot.XXXXXX";
static char vm[80], sock_path[100], shot[120], out_path[100];

struct run {
	int status;
	char err[4096], request[1024];
};

static void read_all(int fd, char *buf, size_t size)
{
	size_t have = 0;
	ssize_t n;

	while (have + 1 < size && (n = read(fd, buf + have, size - 1 - have)) > 0)
		have += (size_t)n;
	buf[have] = '\0';
	close(fd);
}

static int listener(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
	unlink(sock_path);
	CHECK_EQ(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	CHECK_EQ(listen(fd, 4), 0);
	return fd;
}

/* vm-screenshot [opt] NAME OUT; the fake VMM answers reply (NULL: no VMM). */
static void run_tool(struct run *r, const char *reply, const char *name, const char *opt)
{
	char rundir[128];
	int err[2], lfd = reply ? listener() : -1;
	pid_t pid;

	snprintf(rundir, sizeof(rundir), "--runtime-dir=%s/run", top);
	if (!reply)
		unlink(sock_path);
	unlink(out_path);
	CHECK_EQ(pipe(err), 0);
	pid = fork();
	if (pid == 0) {
		dup2(err[1], 2);
		if (opt)
			execl(tool, tool, rundir, opt, name, out_path, (char *)NULL);
		else
			execl(tool, tool, rundir, name, out_path, (char *)NULL);
		_exit(127);
	}
	close(err[1]);
	r->request[0] = '\0';
	if (reply) {
		int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		size_t have = 0;
		ssize_t n;

		while (!memchr(r->request, '\n', have) && have + 1 < sizeof(r->request) &&
		       (n = read(conn, r->request + have, sizeof(r->request) - 1 - have)) > 0)
			r->request[have += (size_t)n] = '\0';
		(void)!write(conn, reply, strlen(reply));
		close(conn);
		close(lfd);
	}
	read_all(err[0], r->err, sizeof(r->err));
	CHECK_EQ(waitpid(pid, &r->status, 0), pid);
}

static int exit_code(const struct run *r)
{
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 128 + WTERMSIG(r->status);
}

static void write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CHECK(fd >= 0 && write(fd, text, len) == (ssize_t)len);
	close(fd);
}

static bool out_is(const char *want, size_t len)
{
	char buf[256];
	int fd = open(out_path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)len && !memcmp(buf, want, len);
}

static void test_program(void)
{
	static struct run r;
	char reply[512], other[100];

	write_file(shot, PPM, sizeof(PPM) - 1);
	snprintf(reply, sizeof(reply), "{\"version\":1,\"ok\":true,\"path\":\"%s\",\"width\":2,"
		 "\"height\":1}\n", shot);
	run_tool(&r, reply, "vm", "--scanout=2");
	CHECK_EQ(exit_code(&r), 0);
	CHECK_STR(r.request, "{\"version\":1,\"command\":\"screenshot\",\"scanout\":2}\n");
	CHECK_STR(r.err, "");
	CHECK(out_is(PPM, sizeof(PPM) - 1));

	run_tool(&r, "{\"version\":1,\"ok\":false,\"error\":\"this VM has no GPU (add [gpu])\"}\n",
		 "vm", NULL);
	CHECK_EQ(exit_code(&r), 1);
	CHECK_STR(r.request, "{\"version\":1,\"command\":\"screenshot\",\"scanout\":0}\n");
	CHECK_STR(r.err, "vm-screenshot: vm: this VM has no GPU (add [gpu])\n");

	/* Only a file in the VM's directory, by its name. */
	run_tool(&r, "{\"version\":1,\"ok\":true,\"path\":\"/etc/passwd\"}\n", "vm", NULL);
	CHECK_EQ(exit_code(&r), 1);
	CHECK(strstr(r.err, "the reply names no file in its runtime directory"));
	CHECK(access(out_path, F_OK));
	snprintf(reply, sizeof(reply), "{\"version\":1,\"ok\":true,\"path\":\"%s/../x\"}\n", vm);
	run_tool(&r, reply, "vm", NULL);
	CHECK_EQ(exit_code(&r), 1);

	/* The directory's user swapped the file for a link, or a hard link. */
	snprintf(other, sizeof(other), "%s/secret", top);
	write_file(other, "secret", 6);
	unlink(shot);
	CHECK_EQ(symlink(other, shot), 0);
	snprintf(reply, sizeof(reply), "{\"version\":1,\"ok\":true,\"path\":\"%s\"}\n", shot);
	run_tool(&r, reply, "vm", NULL);
	CHECK_EQ(exit_code(&r), 1);
	CHECK(strstr(r.err, "refusing: not the VMM's file"));
	unlink(shot);
	CHECK_EQ(link(other, shot), 0);
	run_tool(&r, reply, "vm", NULL);
	CHECK_EQ(exit_code(&r), 1);
	CHECK(strstr(r.err, "refusing: not the VMM's file"));
	CHECK(access(out_path, F_OK));
	unlink(shot);
	unlink(other);

	run_tool(&r, NULL, "vm", NULL);
	CHECK_EQ(exit_code(&r), 1);
	CHECK(strstr(r.err, "vm is not running"));
	run_tool(&r, NULL, "vm", "--scanout=16");
	CHECK_EQ(exit_code(&r), 1);
	CHECK(strstr(r.err, "--scanout: expected 0..15"));
	run_tool(&r, NULL, "-bad", NULL);
	CHECK_EQ(exit_code(&r), 1);
}

int main(int argc, char **argv)
{
	char run[64];

	if (argc != 2) {
		fprintf(stderr, "usage: test_vm_screenshot VM-SCREENSHOT\n");
		return 2;
	}
	tool = argv[1];
	signal(SIGPIPE, SIG_IGN);
	alarm(120);	/* a tool that never connects must not hang the suite */
	CHECK(mkdtemp(top) != NULL);
	chmod(top, 0755);
	snprintf(run, sizeof(run), "%s/run", top);
	snprintf(vm, sizeof(vm), "%s/vm", run);
	snprintf(sock_path, sizeof(sock_path), "%s/control.socket", vm);
	snprintf(shot, sizeof(shot), "%s/gpu0-scanout0.ppm", vm);
	snprintf(out_path, sizeof(out_path), "%s/out.ppm", top);
	CHECK_EQ(mkdir(run, 0755), 0);
	CHECK_EQ(mkdir(vm, 0700), 0);
	test_program();
	unlink(sock_path);
	unlink(out_path);
	rmdir(vm);
	rmdir(run);
	rmdir(top);
	return check_report("test_vm_screenshot");
}
