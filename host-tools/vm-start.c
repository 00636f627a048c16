/*
 * vm-start: start a VM from its config, detached, and wait until it is
 * usable: its guest agent answers (or, without [vsock], it runs).
 *
 *   vm-start [--runtime-dir DIR] [--config FILE] [--log FILE] [--timeout S]
 *            [--vmm PATH] NAME
 *
 * The VMM runs in its own session with its output in the log file
 * (default <runtime_dir>/<NAME>.log, next to the VM's directory, so it
 * survives the VM). Exit status 0 when the VM is ready, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devices/vsock_device.h"
#include "host-tools/control_client.h"
#include "host-tools/vm_socket.h"
#include "vmm/config.h"
#include "vmm/mkdir_p.h"

#define DEFAULT_TIMEOUT_S 120
#define POLL_INTERVAL_US 200000
#define LOG_TAIL_LINES 10

struct options {
	const char *runtime_dir;	/* NULL: the config's */
	const char *config;
	const char *log;
	const char *vmm;
	const char *name;
	long timeout;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vm-start [--runtime-dir DIR] [--config FILE] [--log FILE] [--timeout S]\n"
		"                [--vmm PATH] NAME\n"
		"Starts the VM NAME in the background and waits until its guest agent answers\n"
		"(without [vsock]: until it runs).\n"
		"  --runtime-dir DIR  where the VMs' sockets are (default: the config's runtime_dir)\n"
		"  --config FILE      the VM's config (default %s/NAME.toml)\n"
		"  --log FILE         the VMM's output (default <runtime_dir>/NAME.log)\n"
		"  --timeout S        seconds to wait for the VM to be ready (default %d)\n"
		"  --vmm PATH         the vmsilo-vmm to run (default: next to vm-start, or $PATH)\n",
		DEFAULT_CONFIG_DIR, DEFAULT_TIMEOUT_S);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("vm-start: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static long parse_seconds(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 24 * 3600)
		die("--timeout: expected seconds (1..86400), got \"%s\"", s);
	return v;
}

static bool option(const char *arg, const char *name, int *i, int argc, char **argv,
		   const char **value)
{
	size_t len = strlen(name);

	if (!strcmp(arg, name) && *i + 1 < argc) {
		*value = argv[++*i];
		return true;
	}
	if (!strncmp(arg, name, len) && arg[len] == '=') {
		*value = arg + len + 1;
		return true;
	}
	return false;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	const char *timeout = NULL;
	int i;

	*o = (struct options){ .timeout = DEFAULT_TIMEOUT_S };
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (option(a, "--runtime-dir", &i, argc, argv, &o->runtime_dir) ||
		    option(a, "--config", &i, argc, argv, &o->config) ||
		    option(a, "--log", &i, argc, argv, &o->log) ||
		    option(a, "--vmm", &i, argc, argv, &o->vmm))
			continue;
		if (option(a, "--timeout", &i, argc, argv, &timeout)) {
			o->timeout = parse_seconds(timeout);
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			usage(stdout), exit(0);
		usage(stderr);
		exit(1);
	}
	if (i + 1 != argc) {
		usage(stderr);
		exit(1);
	}
	o->name = argv[i];
	if (!vm_name_valid(o->name))
		die("\"%s\" is not a VM name ([A-Za-z0-9_.-], 1..64 chars)", o->name);
	if (o->runtime_dir && !vm_runtime_dir_valid(o->runtime_dir))
		die("--runtime-dir must be an absolute path, got \"%s\"", o->runtime_dir);
}

/* The vmsilo-vmm installed or built next to this program, else $PATH's. */
static const char *find_vmm(const struct options *o)
{
	static char path[PATH_MAX];
	static const char *const candidates[] = { "%s/vmsilo-vmm", "%s/../vmm/vmsilo-vmm" };
	char self[PATH_MAX];
	ssize_t n;

	if (o->vmm)
		return o->vmm;
	if (getenv("VMSILO_VMM"))
		return getenv("VMSILO_VMM");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		for (unsigned i = 0; i < 2; i++) {
			if (snprintf(path, sizeof(path), candidates[i], self) < (int)sizeof(path) &&
			    !access(path, X_OK))
				return path;
		}
	}
	return "vmsilo-vmm";
}

static void check_not_running(const struct options *o, const char *runtime_dir)
{
	struct json_object reply;
	struct ctl_conn c;
	int64_t pid = 0;

	if (ctl_connect(&c, runtime_dir, o->name))
		return;
	if (ctl_request(&c, "status", &reply, 5000) == 1 && json_get_int(&reply, "pid", &pid))
		die("%s is already running (pid %lld); vm-stop %s stops it", o->name, (long long)pid,
		    o->name);
	die("%s is already running (%s answers)", o->name, c.path);
}

/*
 * Only a plain file of ours with one name: not a link, hard link, FIFO
 * (O_NONBLOCK: opening one does not wait for a reader) or another user's
 * file, any of which someone may plant to have us write elsewhere.
 */
static int open_log(int at, const char *name, const char *path)
{
	int fd = openat(at, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW |
		      O_NONBLOCK, 0640);
	struct stat st;

	if (fd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
			st.st_uid != geteuid())) {
		close(fd);
		fd = -1;
		errno = EPERM;
	}
	if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		die("cannot write the log %s: %s (choose another with --log FILE)", path,
		    strerror(errno));
	return fd;
}

/*
 * Forks the VMM into its own session. A close-on-exec pipe carries the
 * errno of a failed exec back, so "not found" is reported here.
 */
static pid_t spawn_vmm(const char *vmm, const struct options *o, const char *runtime_dir,
		       int log_fd)
{
	const char *argv[] = { vmm, "--config", o->config, "--runtime-dir", runtime_dir, NULL };
	int report[2], err = 0;
	pid_t pid;

	if (pipe2(report, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		setsid();
		if (null < 0 || dup2(null, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
			_exit(127);
		execvp(vmm, (char *const *)argv);
		err = errno;
		(void)!write(report[1], &err, sizeof(err));
		_exit(127);
	}
	close(report[1]);
	if (read(report[0], &err, sizeof(err)) == sizeof(err))
		die("cannot run %s: %s (use --vmm PATH)", vmm, strerror(err));
	close(report[0]);
	return pid;
}

static void print_log_tail(const char *path)
{
	char line[1024], *lines[LOG_TAIL_LINES] = { 0 };
	unsigned n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		free(lines[n % LOG_TAIL_LINES]);
		lines[n++ % LOG_TAIL_LINES] = strdup(line);
	}
	fclose(f);
	for (unsigned i = n > LOG_TAIL_LINES ? n - LOG_TAIL_LINES : 0; i < n; i++) {
		fprintf(stderr, "  %s", lines[i % LOG_TAIL_LINES] ? lines[i % LOG_TAIL_LINES] : "\n");
		free(lines[i % LOG_TAIL_LINES]);
	}
}

static bool ready(const struct json_object *status)
{
	const char *agent = json_get_string(status, "agent");
	const char *state = json_get_string(status, "state");

	if (agent && !strcmp(agent, "ready"))
		return true;
	return agent && !strcmp(agent, "absent") && state && !strcmp(state, "running");
}

/* Polls the control socket until the VM is ready; the VMM is our child
 * until we exit, so its early death is noticed. */
static void wait_ready(const struct options *o, const char *runtime_dir, pid_t pid,
		       const char *log_path, bool want_agent)
{
	struct timespec start, now;
	struct json_object status;
	struct ctl_conn c = { .fd = -1 };
	int wstatus;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (waitpid(pid, &wstatus, WNOHANG) == pid) {
			if (WIFEXITED(wstatus))
				fprintf(stderr, "vm-start: %s: vmsilo-vmm exited with status %d while "
					"starting; the end of %s:\n", o->name, WEXITSTATUS(wstatus), log_path);
			else
				fprintf(stderr, "vm-start: %s: vmsilo-vmm was killed by signal %d while "
					"starting; the end of %s:\n", o->name, WTERMSIG(wstatus), log_path);
			print_log_tail(log_path);
			exit(1);
		}
		if (c.fd < 0 && ctl_connect(&c, runtime_dir, o->name))
			c.fd = -1;
		if (c.fd >= 0 && ctl_request(&c, "status", &status, 5000) != 1)
			ctl_close(&c);
		else if (c.fd >= 0 && ready(&status))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= o->timeout)
			die("%s did not become ready within %ld s (%s); it keeps running: see %s, "
			    "or stop it with vm-stop %s", o->name, o->timeout,
			    want_agent ? "its guest agent has not answered" : "it is not running yet",
			    log_path, o->name);
		usleep(POLL_INTERVAL_US);
	}
	ctl_close(&c);
	printf("vm-start: %s is %s (pid %d, log %s)\n", o->name,
	       want_agent ? "ready" : "running", (int)pid, log_path);
}

/* The uid the VMM will hand its runtime directory to: the config's user, or ours. */
static uid_t vm_user_uid(const struct vm_config *cfg)
{
	struct passwd *pw;

	if (!cfg->user)
		return getuid();
	pw = getpwnam(cfg->user);
	if (!pw)
		die("user: no such user \"%s\" on this host", cfg->user);
	return pw->pw_uid;
}

/*
 * The log's directory, made and checked as the VMM makes runtime_dir:
 * every missing component, never through a symlink, each one trusted.
 * The log is opened relative to the fd returned, so a component swapped
 * for a link after the walk does not move it.
 */
static int make_runtime_dir(const char *runtime_dir, const struct vm_config *cfg)
{
	struct mkdir_p_trust trust = { .uid = vm_user_uid(cfg), .what = "runtime_dir" };
	char err[PATH_MAX + 128];
	int fd = mkdir_p(runtime_dir, 0755, "runtime_dir", mkdir_p_trusted, &trust, err,
			 sizeof(err));

	if (fd < 0)
		die("%s", err);
	return fd;
}

/* <runtime_dir>/<name>.log, opened in the directory the walk ended on. */
static int open_default_log(const char *runtime_dir, const struct vm_config *cfg,
			    const char *name, char *path, size_t len)
{
	char file[NAME_MAX + 1];
	int dir_fd = make_runtime_dir(runtime_dir, cfg), fd;

	if ((size_t)snprintf(file, sizeof(file), "%s.log", name) >= sizeof(file) ||
	    (size_t)snprintf(path, len, "%s/%s", runtime_dir, file) >= len)
		die("the log name %s/%s.log is too long", runtime_dir, name);
	fd = open_log(dir_fd, file, path);
	close(dir_fd);
	return fd;
}

int main(int argc, char **argv)
{
	static char default_config[PATH_MAX], default_log[PATH_MAX];
	struct vm_config cfg;
	struct options o;
	const char *runtime_dir, *vmm;
	int log_fd;
	pid_t pid;

	parse_options(argc, argv, &o);
	if (!o.config) {
		snprintf(default_config, sizeof(default_config), "%s/%s.toml", DEFAULT_CONFIG_DIR, o.name);
		o.config = default_config;
	}
	if (access(o.config, R_OK))
		die("%s: %s%s", o.config, strerror(errno), o.config == default_config ?
		    " (name another config with --config FILE)" : "");
	if (config_load(o.config, &cfg, NULL, 0))
		exit(1);	/* it said what is wrong */
	if (strcmp(cfg.name, o.name))
		die("%s describes the VM \"%s\", not \"%s\"", o.config, cfg.name, o.name);
	runtime_dir = o.runtime_dir ? o.runtime_dir : cfg.runtime_dir;
	check_not_running(&o, runtime_dir);
	if (o.log) {
		log_fd = open_log(AT_FDCWD, o.log, o.log);
	} else {
		log_fd = open_default_log(runtime_dir, &cfg, o.name, default_log,
					  sizeof(default_log));
		o.log = default_log;
	}
	vmm = find_vmm(&o);
	pid = spawn_vmm(vmm, &o, runtime_dir, log_fd);
	close(log_fd);
	wait_ready(&o, runtime_dir, pid, o.log, config_count(&cfg, &vsock_kind) > 0);
	config_free(&cfg);
	return 0;
}
