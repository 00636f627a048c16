/*
 * Which virtiofsd, and which flavour: the configured binary or the first
 * found on the search path, asked for --help (the C one documents
 * "-o source=", the Rust one "--shared-dir") and --version. It is a local
 * binary root chose, but it still gets a deadline: the VMM never hangs.
 */
#include "vmm/virtiofsd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm/errfmt.h"
#include "vmm/path_trust.h"

#define PROBE_DEADLINE_MS 5000
#define PROBE_OUTPUT_MAX 65536

static bool executable_file(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode) && (st.st_mode & 0111) &&
	       !access(path, X_OK);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child: output into the pipe, nothing else inherited, own group. */
_Noreturn static void probe_child(const char *path, const char *arg, int out, pid_t parent)
{
	int null = open("/dev/null", O_RDONLY);

	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(127);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(127);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	execl(path, path, arg, (char *)NULL);
	_exit(127);
}

/* Reads until EOF, the cap or the deadline; then the group is gone. */
static void drain(int fd, pid_t pid, char *buf, size_t len)
{
	long long deadline = now_ms() + PROBE_DEADLINE_MS;
	size_t used = 0;

	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (left <= 0 || used + 1 >= len || poll(&p, 1, (int)left) <= 0)
			break;
		n = read(fd, buf + used, len - used - 1);
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	buf[used] = '\0';
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* What "path arg" prints (stdout and stderr), into buf; -1 if it cannot run. */
static int probe(const char *path, const char *arg, char *buf, size_t len)
{
	pid_t parent = getpid(), pid;
	int fds[2];

	if (pipe2(fds, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0)
		probe_child(path, arg, fds[1], parent);
	close(fds[1]);
	if (pid > 0)
		setpgid(pid, pid);	/* both sides, so the kill below reaches it */
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	drain(fds[0], pid, buf, len);
	close(fds[0]);
	return 0;
}

/* The first word of the first line that starts with a digit: "7.2.22". */
static void parse_version(const char *text, char *version, size_t len)
{
	size_t line = strcspn(text, "\n");

	for (size_t i = 0; i < line; i++) {
		if (text[i] >= '0' && text[i] <= '9' && (i == 0 || text[i - 1] == ' ')) {
			size_t n = strcspn(text + i, " \n");

			snprintf(version, len, "%.*s", (int)(n < line - i ? n : line - i), text + i);
			return;
		}
	}
	snprintf(version, len, "unknown");
}

static int identify(struct virtiofsd_binary *bin, char *err, size_t errlen)
{
	char *out = malloc(PROBE_OUTPUT_MAX);
	int r = 0;

	if (!out)
		return errfmt(err, errlen, "virtiofsd: out of memory");
	if (probe(bin->path, "--help", out, PROBE_OUTPUT_MAX))
		r = errfmt_sys(err, errlen, errno, "virtiofsd = \"%s\": cannot run it", bin->path);
	else if (strstr(out, "--shared-dir"))
		bin->flavour = VIRTIOFSD_RUST;
	else if (strstr(out, "source="))
		bin->flavour = VIRTIOFSD_C;
	else
		r = errfmt(err, errlen, "virtiofsd = \"%s\": its --help names neither "
			   "\"--shared-dir\" nor \"-o source=\"; is it a virtiofsd?", bin->path);
	if (!r)
		snprintf(bin->help, sizeof(bin->help), "%s", out);
	if (!r && !probe(bin->path, "--version", out, PROBE_OUTPUT_MAX))
		parse_version(out, bin->version, sizeof(bin->version));
	free(out);
	return r;
}

static bool take(struct virtiofsd_binary *bin, const char *path)
{
	if ((size_t)snprintf(bin->path, sizeof(bin->path), "%s", path) >= sizeof(bin->path))
		return false;
	return executable_file(path);
}

/* Absolute PATH entries only: root never runs a relative one. */
static bool search_path(struct virtiofsd_binary *bin)
{
	const char *path = getenv("PATH");
	char candidate[4096];

	for (const char *p = path; p && *p;) {
		size_t n = strcspn(p, ":");

		if (n && p[0] == '/' &&
		    (size_t)snprintf(candidate, sizeof(candidate), "%.*s/virtiofsd", (int)n, p) <
			    sizeof(candidate) && take(bin, candidate))
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

static int search(struct virtiofsd_binary *bin, char *err, size_t errlen)
{
	if (search_path(bin) || take(bin, "/usr/libexec/virtiofsd") ||
	    take(bin, "/usr/lib/qemu/virtiofsd"))
		return 0;
	return errfmt(err, errlen, "no virtiofsd found (searched PATH, /usr/libexec/virtiofsd, "
		      "/usr/lib/qemu/virtiofsd): install one or set virtiofsd = \"/path\"");
}

/* Root runs it: nobody else may be able to replace it, then or later. */
static int check_owner(struct virtiofsd_binary *bin, char *err, size_t errlen)
{
	static const struct path_trust trust = {
		.key = "virtiofsd", .what = "the binary", .last = PATH_TRUST_ROOT_FILE,
		.hint = "root runs only a virtiofsd owned by root in root-owned directories "
			"nobody else can write; install it there or set virtiofsd = \"/path\"",
	};
	char real[PATH_MAX];

	if (geteuid() != 0)
		return 0;
	if (!realpath(bin->path, real))
		return errfmt_sys(err, errlen, errno, "virtiofsd = \"%s\": cannot resolve it",
				  bin->path);
	snprintf(bin->path, sizeof(bin->path), "%s", real);
	return path_trust_check(&trust, bin->path, err, errlen);
}

int virtiofsd_find(const char *configured, struct virtiofsd_binary *bin, char *err, size_t errlen)
{
	memset(bin, 0, sizeof(*bin));
	snprintf(bin->version, sizeof(bin->version), "unknown");
	if (configured) {
		if (!take(bin, configured))
			return errfmt(err, errlen, "virtiofsd = \"%s\": not an executable file",
				      configured);
	} else if (search(bin, err, errlen)) {
		return -1;
	}
	if (check_owner(bin, err, errlen))
		return -1;
	return identify(bin, err, errlen);
}
