/* A stand-in virtiofsd for test_virtiofsd: accepts one connection on
 * --fd=N and answers lines: "ping" -> "pong", "fds" -> how many fds beyond
 * stdio and N it holds, "write" -> "ok" or the errno of creating a file
 * in the share ("-o source=" or "--shared-dir="), "uid" -> its uid. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int count_fds(int keep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] != '.' && fd > 2 && fd != keep && fd != dirfd(d))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static void answer(int conn, const char *line, const char *source, int listen_fd)
{
	char out[128], path[4096];

	if (!strcmp(line, "ping")) {
		snprintf(out, sizeof(out), "pong\n");
	} else if (!strcmp(line, "fds")) {
		snprintf(out, sizeof(out), "%d\n", count_fds(listen_fd) - 1);	/* minus conn */
	} else if (!strcmp(line, "uid")) {
		snprintf(out, sizeof(out), "%u\n", (unsigned)getuid());
	} else if (!strcmp(line, "stdin")) {
		ssize_t n = readlink("/proc/self/fd/0", path, sizeof(path) - 1);

		snprintf(out, sizeof(out), "%.*s\n", n > 0 ? (int)n : 0, path);
	} else if (!strcmp(line, "write")) {
		int fd;

		snprintf(path, sizeof(path), "%s/probe", source);
		fd = open(path, O_WRONLY | O_CREAT, 0600);
		snprintf(out, sizeof(out), fd >= 0 ? "ok\n" : "err %d\n", errno);
		if (fd >= 0)
			close(fd);
	} else {
		snprintf(out, sizeof(out), "?\n");
	}
	if (write(conn, out, strlen(out)) < 0)
		exit(3);
}

int main(int argc, char **argv)
{
	const char *source = "";
	char line[256];
	int listen_fd = -1, conn;
	size_t used = 0;

	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--fd=", 5))
			listen_fd = atoi(argv[i] + 5);
		else if (!strncmp(argv[i], "--shared-dir=", 13))
			source = argv[i] + 13;
		else if (!strncmp(argv[i], "source=", 7))
			source = argv[i] + 7;
	}
	conn = accept(listen_fd, NULL, NULL);
	if (conn < 0)
		return 2;
	for (;;) {
		ssize_t n = read(conn, line + used, 1);

		if (n <= 0)
			return 0;
		if (line[used] == '\n' || used + 2 >= sizeof(line)) {
			line[used] = '\0';
			answer(conn, line, source, listen_fd);
			used = 0;
		} else {
			used++;
		}
	}
}
