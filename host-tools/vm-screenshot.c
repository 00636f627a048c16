/*
 * vm-screenshot: what a VM's GPU scanout shows, as a PPM, over its
 * control.socket ("screenshot", docs/control-protocol.md).
 *
 *   vm-screenshot [--runtime-dir DIR] [--scanout N] NAME OUT.ppm
 *
 * The VMM writes <runtime_dir>/<name>/gpu0-scanout<N>.ppm; this copies it
 * to OUT ("-": standard output). The runtime directory is the VM user's:
 * only the file name of the reply is used, opened in the directory's pinned
 * handle without following links, and it must be a regular file of one
 * name owned by root or the directory's owner.
 *
 * Exit status: 0 written, 1 anything else (not running, no GPU, the
 * scanout shows nothing, bad arguments).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host-tools/control_client.h"
#include "host-tools/vm_dir.h"
#include "host-tools/vm_socket.h"

#define REPLY_TIMEOUT_MS 10000
#define MAX_SCANOUT 15

struct options {
	const char *runtime_dir;
	const char *name;
	const char *out;
	long scanout;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vm-screenshot [--runtime-dir DIR] [--scanout N] NAME OUT.ppm\n"
		"Writes what scanout N (default 0) of the VM NAME's GPU shows to OUT.ppm\n"
		"(binary PPM; \"-\" for standard output).\n"
		"  --runtime-dir DIR  where the VMs' sockets are (default %s)\n"
		"  --scanout N        which display, 0..%d\n"
		"Exit status: 0 written, 1 error.\n",
		VMSILO_DEFAULT_RUNTIME_DIR, MAX_SCANOUT);
}

static long parse_scanout(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > MAX_SCANOUT) {
		fprintf(stderr, "vm-screenshot: --scanout: expected 0..%d, got \"%s\"\n",
			MAX_SCANOUT, s);
		exit(1);
	}
	return v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	int i;

	*o = (struct options){ .runtime_dir = VMSILO_DEFAULT_RUNTIME_DIR };
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--runtime-dir") && i + 1 < argc)
			o->runtime_dir = argv[++i];
		else if (!strncmp(a, "--runtime-dir=", 14))
			o->runtime_dir = a + 14;
		else if (!strcmp(a, "--scanout") && i + 1 < argc)
			o->scanout = parse_scanout(argv[++i]);
		else if (!strncmp(a, "--scanout=", 10))
			o->scanout = parse_scanout(a + 10);
		else if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			usage(stdout), exit(0);
		else
			usage(stderr), exit(1);
	}
	if (i + 2 != argc) {
		usage(stderr);
		exit(1);
	}
	o->name = argv[i];
	o->out = argv[i + 1];
	if (!vm_name_valid(o->name)) {
		fprintf(stderr, "vm-screenshot: \"%s\" is not a VM name ([A-Za-z0-9_.-], 1..64 chars)\n",
			o->name);
		exit(1);
	}
	if (!vm_runtime_dir_valid(o->runtime_dir)) {
		fprintf(stderr, "vm-screenshot: --runtime-dir must be an absolute path, got \"%s\"\n",
			o->runtime_dir);
		exit(1);
	}
}

/* The reply's file name, if path is <runtime_dir>/<name>/<file> with a plain file. */
static const char *file_of(const struct options *o, const char *path)
{
	char dir[PATH_MAX + 80];
	size_t n = (size_t)snprintf(dir, sizeof(dir), "%s/%s/", o->runtime_dir, o->name);
	const char *file = path + n;

	if (n >= sizeof(dir) || strncmp(path, dir, n) || !*file || strchr(file, '/') ||
	    !strcmp(file, ".") || !strcmp(file, ".."))
		return NULL;
	return file;
}

/* The screenshot, opened where the VMM put it and nowhere a link leads. */
static int open_shot(const struct options *o, const char *file)
{
	struct stat st;
	uid_t owner;
	int dir = vm_dir_open(o->runtime_dir, o->name, &owner), fd;

	if (dir < 0)
		return -1;
	fd = openat(dir, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(dir);
	if (fd < 0)
		return errno == ELOOP ? vm_dir_refuse(-1) : -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (st.st_uid != 0 && st.st_uid != owner))
		return vm_dir_refuse(fd);
	return fd;
}

static int copy(int in, int out)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0, w; off < n; off += w)
			if ((w = write(out, buf + off, (size_t)(n - off))) <= 0)
				return -1;
	return n < 0 ? -1 : 0;
}

static int write_out(const struct options *o, int in)
{
	int out = strcmp(o->out, "-") ? open(o->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
				      : STDOUT_FILENO;
	int rc;

	if (out < 0) {
		fprintf(stderr, "vm-screenshot: %s: %s\n", o->out, strerror(errno));
		return -1;
	}
	rc = copy(in, out);
	if (rc)
		fprintf(stderr, "vm-screenshot: copying to %s: %s\n", o->out, strerror(errno));
	if (out != STDOUT_FILENO && close(out) && !rc) {
		fprintf(stderr, "vm-screenshot: %s: %s\n", o->out, strerror(errno));
		rc = -1;
	}
	return rc;
}

/* Asks for the screenshot; the file's name in the runtime directory, or exits. */
static const char *request(const struct options *o, struct json_object *reply)
{
	struct ctl_conn c;
	char line[128];
	const char *path, *file;
	int rc;

	if (ctl_connect(&c, o->runtime_dir, o->name)) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			fprintf(stderr, "vm-screenshot: %s is not running (nothing answers on %s)\n",
				o->name, c.path);
		else
			fprintf(stderr, "vm-screenshot: %s: %s\n", c.path, errno == EPERM ?
				"refusing: not the VM's socket (a link, or someone else's)" :
				strerror(errno));
		exit(1);
	}
	snprintf(line, sizeof(line), "{\"version\":1,\"command\":\"screenshot\",\"scanout\":%ld}",
		 o->scanout);
	rc = ctl_request_json(&c, line, reply, REPLY_TIMEOUT_MS);
	ctl_close(&c);
	if (rc != 1) {
		const char *error = rc == 0 ? json_get_string(reply, "error") : NULL;

		fprintf(stderr, "vm-screenshot: %s: %s\n", o->name,
			error ? error : rc == 0 ? "refused" : strerror(errno));
		exit(1);
	}
	path = json_get_string(reply, "path");
	file = path ? file_of(o, path) : NULL;
	if (!file) {
		fprintf(stderr, "vm-screenshot: %s: the reply names no file in its runtime "
			"directory\n", o->name);
		exit(1);
	}
	return file;
}

int main(int argc, char **argv)
{
	static struct json_object reply;
	struct options o;
	const char *file;
	int in, rc;

	parse_options(argc, argv, &o);
	file = request(&o, &reply);
	in = open_shot(&o, file);
	if (in < 0) {
		fprintf(stderr, "vm-screenshot: %s/%s/%s: %s\n", o.runtime_dir, o.name, file,
			errno == EPERM ? "refusing: not the VMM's file (a link, or someone else's)" :
			strerror(errno));
		return 1;
	}
	rc = write_out(&o, in);
	close(in);
	return rc ? 1 : 0;
}
