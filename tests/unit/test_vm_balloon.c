/*
 * vm-balloon: its size and argument parsing, the request it sends and
 * what it prints and returns, run for real against a fake control.socket
 * (this test is the server). argv[1] is the vm-balloon binary.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "host-tools/vm_balloon_args.h"

static const char *tool;
static char top[] = "/tmp/test_vm_balloon.XXXXXX";
static char sock_path[PATH_MAX + 32];

static void test_sizes(void)
{
	static const struct { const char *in; uint64_t bytes; } good[] = {
		{ "0", 0 }, { "4096", 4096 }, { "256M", 268435456 }, { "1G", 1073741824 },
		{ "2k", 2048 }, { "8g", 8589934592 }, { "9223372036854775807", INT64_MAX },
		{ "8589934591G", 8589934591ULL << 30 },
	};
	static const char *const bad[] = {
		"", "M", "12X", "12KB", "-1", "1.5G", " 1", "1 ", "+1", "0x10",
		"9223372036854775808", "8589934592G", "99999999999999999999999", "18446744073709551616",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 1;
		CHECK_EQ(balloon_parse_size(good[i].in, &v), 0);
		CHECK_EQ(v, good[i].bytes);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (balloon_parse_size(bad[i], &v) != -1)
			fprintf(stderr, "size \"%s\" accepted\n", bad[i]);
		CHECK_EQ(balloon_parse_size(bad[i], &v), -1);
	}
}

static int parse(struct balloon_options *o, char *err, ...)
{
	char *argv[16] = { "vm-balloon" };
	int argc = 1;
	va_list ap;

	va_start(ap, err);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	return balloon_parse_args(argc, argv, o, err, 256);
}

static void test_args(void)
{
	struct balloon_options o;
	char err[256], req[256];

	CHECK_EQ(parse(&o, err, "vm", NULL), 0);
	CHECK(!o.set && o.wait == -1 && !o.json);
	CHECK_STR(o.name, "vm");
	CHECK_STR(o.runtime_dir, "/run/vmsilo");
	CHECK_EQ(balloon_request(&o, req, sizeof(req)), 0);
	CHECK_STR(req, "{\"version\":1,\"command\":\"balloon_stats\",\"timeout\":1}");
	CHECK_EQ(parse(&o, err, "--runtime-dir", "/r", "vm", "--stats", "--json", NULL), 0);
	CHECK(!o.set && o.json);
	CHECK_STR(o.runtime_dir, "/r");
	CHECK_EQ(parse(&o, err, "--runtime-dir=/r2", "vm", "256M", NULL), 0);
	CHECK(o.set && o.bytes == 268435456 && o.wait == -1);
	CHECK_STR(o.runtime_dir, "/r2");
	CHECK_EQ(balloon_request(&o, req, sizeof(req)), 0);
	CHECK_STR(req, "{\"version\":1,\"command\":\"balloon\",\"bytes\":268435456}");
	CHECK_EQ(parse(&o, err, "vm", "0", "--wait", "5", NULL), 0);
	CHECK(o.set && o.bytes == 0 && o.wait == 5);
	CHECK_EQ(balloon_request(&o, req, sizeof(req)), 0);
	CHECK_STR(req, "{\"version\":1,\"command\":\"balloon\",\"bytes\":0,\"wait\":5}");
	CHECK_EQ(parse(&o, err, "--wait=0", "vm", "1G", NULL), 0);
	CHECK(o.wait == 0 && o.bytes == 1073741824);
	CHECK_EQ(parse(&o, err, "--help", NULL), 1);

	CHECK_EQ(parse(&o, err, NULL), -1);
	CHECK_STR(err, "NAME is required");
	CHECK_EQ(parse(&o, err, "../x", NULL), -1);
	/* "--" ends the options: what follows is NAME and SIZE, and a name
	 * that looks like an option is refused by the name rule. */
	CHECK_EQ(parse(&o, err, "--runtime-dir", "/r", "--", "vm", "256M", NULL), 0);
	CHECK(!strcmp(o.name, "vm") && o.set && o.bytes == 256ull << 20);
	CHECK_EQ(parse(&o, err, "--", "-vm", NULL), -1);
	CHECK_STR(err, "\"-vm\" is not a VM name ([A-Za-z0-9_.-], 1..64 chars)");
	CHECK_EQ(parse(&o, err, "--runtime-dir", "run", "vm", NULL), -1);
	CHECK_STR(err, "--runtime-dir must be an absolute path, got \"run\"");
	CHECK_EQ(parse(&o, err, "vm", "1G", "--stats", NULL), -1);
	CHECK_EQ(parse(&o, err, "vm", "1G", "--json", NULL), -1);
	CHECK_EQ(parse(&o, err, "vm", "--wait", "5", NULL), -1);
	CHECK_STR(err, "--wait needs a SIZE to wait for");
	CHECK_EQ(parse(&o, err, "vm", "1G", "--wait", "-1", NULL), -1);
	CHECK_EQ(parse(&o, err, "vm", "1G", "--wait", "86401", NULL), -1);
	/* What the VMM takes (control_balloon.c), no more: it would refuse the request. */
	CHECK_EQ(parse(&o, err, "vm", "1G", "--wait", "600", NULL), 0);
	CHECK(o.wait == CONTROL_BALLOON_MAX_WAIT_S);
	CHECK_EQ(parse(&o, err, "vm", "1G", "--wait", "601", NULL), -1);
	CHECK_STR(err, "--wait: expected seconds (0..600), got \"601\"");
	CHECK_EQ(parse(&o, err, "vm", "1G", "--wait", NULL), -1);
	CHECK_EQ(parse(&o, err, "vm", "1T", NULL), -1);
	CHECK_EQ(parse(&o, err, "vm", "1G", "2G", NULL), -1);
	CHECK_STR(err, "unexpected argument \"2G\"");
	CHECK_EQ(parse(&o, err, "vm", "--size", "1G", NULL), -1);
	CHECK_STR(err, "unknown option \"--size\" (see --help)");
}

static void test_format(void)
{
	char buf[32];

	balloon_format_bytes(0, buf, sizeof(buf));
	CHECK_STR(buf, "0 B");
	balloon_format_bytes(1023, buf, sizeof(buf));
	CHECK_STR(buf, "1023 B");
	balloon_format_bytes(268435456, buf, sizeof(buf));
	CHECK_STR(buf, "256.0 MiB");
	balloon_format_bytes(1536ULL << 20, buf, sizeof(buf));
	CHECK_STR(buf, "1.5 GiB");
	balloon_format_bytes(UINT64_MAX, buf, sizeof(buf));
	CHECK_STR(buf, "16.0 EiB");
}

/* ---- the real program against a fake VMM ---- */

struct run {
	int status;
	char out[4096], err[4096], request[1024];
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

	strcpy(addr.sun_path, sock_path);
	unlink(sock_path);
	CHECK_EQ(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	CHECK_EQ(listen(fd, 4), 0);
	return fd;
}

/* Runs vm-balloon with args; the fake VMM reads one request line and
 * answers reply (NULL: no control.socket at all). */
static void run_tool(struct run *r, const char *reply, const char *a1, const char *a2,
		     const char *a3, const char *a4)
{
	char rundir[PATH_MAX + 16];
	int out[2], err[2], lfd = reply ? listener() : -1;
	pid_t pid;

	snprintf(rundir, sizeof(rundir), "--runtime-dir=%s/run", top);
	if (!reply)
		unlink(sock_path);
	CHECK_EQ(pipe(out), 0);
	CHECK_EQ(pipe(err), 0);
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		execl(tool, tool, rundir, a1, a2, a3, a4, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
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
	read_all(out[0], r->out, sizeof(r->out));
	read_all(err[0], r->err, sizeof(r->err));
	CHECK_EQ(waitpid(pid, &r->status, 0), pid);
}

static int exit_code(const struct run *r)
{
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 128 + WTERMSIG(r->status);
}

static const char stats_reply[] =
	"{\"version\":1,\"ok\":true,\"balloon_actual\":268435456,\"stale\":true,\"age\":12,"
	"\"stats\":{\"swap_in\":0,\"major_faults\":812,\"free_memory\":690487296,"
	"\"hugetlb_failures\":null,\"available_memory\":801722368}}\n";

static void test_program(void)
{
	static struct run r;

	run_tool(&r, "{\"version\":1,\"ok\":true}\n", "vm", "256M", "--wait", "5");
	CHECK_EQ(exit_code(&r), 0);
	CHECK_STR(r.request, "{\"version\":1,\"command\":\"balloon\",\"bytes\":268435456,\"wait\":5}\n");
	CHECK_STR(r.out, "");
	CHECK_STR(r.err, "");

	run_tool(&r, "{\"version\":1,\"ok\":false,\"error\":\"the VM has no [balloon]\"}\n",
		 "vm", "1G", NULL, NULL);
	CHECK_EQ(exit_code(&r), 1);
	CHECK_STR(r.request, "{\"version\":1,\"command\":\"balloon\",\"bytes\":1073741824}\n");
	CHECK_STR(r.err, "vm-balloon: vm: the VM has no [balloon]\n");

	run_tool(&r, stats_reply, "vm", NULL, NULL, NULL);
	CHECK_EQ(exit_code(&r), 0);
	CHECK_STR(r.request, "{\"version\":1,\"command\":\"balloon_stats\",\"timeout\":1}\n");
	CHECK_STR(r.out,
		  "balloon              256.0 MiB (268435456)\n"
		  "stats age            stale, 12 s old\n"
		  "swap_in              0 B (0)\n"
		  "major_faults         812\n"
		  "free_memory          658.5 MiB (690487296)\n"
		  "hugetlb_failures     -\n"
		  "available_memory     764.6 MiB (801722368)\n");

	run_tool(&r, stats_reply, "vm", "--stats", "--json", NULL);
	CHECK_EQ(exit_code(&r), 0);
	CHECK(strlen(r.out) == strlen(stats_reply) && !strcmp(r.out, stats_reply));

	run_tool(&r, "garbage\n", "vm", NULL, NULL, NULL);
	CHECK_EQ(exit_code(&r), 1);
	CHECK(strstr(r.err, "no answer") != NULL);

	run_tool(&r, NULL, "vm", "1G", NULL, NULL);
	CHECK_EQ(exit_code(&r), 1);
	CHECK(strstr(r.err, "vm is not running") != NULL);

	run_tool(&r, NULL, "vm", "1Q", NULL, NULL);
	CHECK_EQ(exit_code(&r), 1);
	CHECK(strstr(r.err, "SIZE: expected bytes") != NULL);
}

int main(int argc, char **argv)
{
	char run[256], vm[300];

	if (argc != 2) {
		fprintf(stderr, "usage: test_vm_balloon VM-BALLOON\n");
		return 2;
	}
	tool = argv[1];
	signal(SIGPIPE, SIG_IGN);
	alarm(120);	/* a vm-balloon that never connects must not hang the suite */
	test_sizes();
	test_args();
	test_format();
	CHECK(mkdtemp(top) != NULL);
	chmod(top, 0755);
	snprintf(run, sizeof(run), "%s/run", top);
	snprintf(vm, sizeof(vm), "%s/vm", run);
	CHECK_EQ(mkdir(run, 0755), 0);
	CHECK_EQ(mkdir(vm, 0700), 0);
	snprintf(sock_path, sizeof(sock_path), "%s/control.socket", vm);
	test_program();
	unlink(sock_path);
	rmdir(vm);
	rmdir(run);
	rmdir(top);
	return check_report("test_vm_balloon");
}
