/*
 * Everything the command needs is prepared before fork(); the child only
 * rearranges fds, drops privileges and execs. An exec failure travels back
 * over a close-on-exec pipe, so the client gets ERROR instead of STARTED.
 */
#include "guest-agent/spawn.h"
#include "guest-agent/user.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

extern char **environ;

struct envlist {
	char **v;
	size_t n, cap;
};

struct plan {
	struct agent_user user;
	int switch_user;
	const char **argv;
	struct envlist env;
	const char *cwd;
	int detached, tty;
	char pty_name[64];
	/* child's ends */
	int in_r, out_w, err_w, master;
	int report_w;
};

static int env_put(struct envlist *e, char *kv)
{
	size_t name_len;

	if (!kv)
		return -1;
	name_len = strcspn(kv, "=");
	for (size_t i = 0; i < e->n; i++) {
		if (!strncmp(e->v[i], kv, name_len) && e->v[i][name_len] == '=') {
			free(e->v[i]);
			e->v[i] = kv;
			return 0;
		}
	}
	if (e->n + 2 > e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		char **v = realloc(e->v, cap * sizeof(*v));

		if (!v) {
			free(kv);
			return -1;
		}
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
	return 0;
}

static int env_setf(struct envlist *e, const char *fmt, ...)
{
	char *kv;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&kv, fmt, ap);
	va_end(ap);
	return rc < 0 ? -1 : env_put(e, kv);
}

static int env_has(const struct envlist *e, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < e->n; i++)
		if (!strncmp(e->v[i], name, len) && e->v[i][len] == '=')
			return 1;
	return 0;
}

static void env_free(struct envlist *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_socket(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int resolve_user(const struct spawn_config *cfg, struct plan *p,
			char *err, size_t errlen)
{
	char ignored[160];

	if (!cfg->user) {
		/* Our own account; an image without an entry still works. */
		if (user_lookup(cfg->passwd_path, cfg->group_path, NULL, geteuid(),
				&p->user, ignored, sizeof(ignored))) {
			p->user.uid = geteuid();
			p->user.gid = getegid();
			strcpy(p->user.home, geteuid() ? "/" : "/root");
			strcpy(p->user.shell, "/bin/sh");
			strcpy(p->user.name, geteuid() ? "" : "root");
		}
		return 0;
	}
	if (user_lookup(cfg->passwd_path, cfg->group_path, cfg->user, 0,
			&p->user, err, errlen))
		return -1;
	p->switch_user = p->user.uid != geteuid();
	if (p->switch_user && geteuid() != 0) {
		snprintf(err, errlen, "cannot run as %s: the agent is not root", cfg->user);
		return -1;
	}
	return 0;
}

static int build_env(const struct agent_exec_view *v, struct plan *p)
{
	const struct agent_user *u = &p->user;
	const char *path = getenv("PATH");
	struct envlist *e = &p->env;
	char runtime[64], wayland[128];
	int rc = 0;

	rc |= env_setf(e, "PATH=%s", path && *path ? path : DEFAULT_PATH);
	rc |= env_setf(e, "HOME=%s", u->home);
	rc |= env_setf(e, "SHELL=%s", u->shell[0] ? u->shell : "/bin/sh");
	if (u->name[0]) {
		rc |= env_setf(e, "USER=%s", u->name);
		rc |= env_setf(e, "LOGNAME=%s", u->name);
	}
	snprintf(runtime, sizeof(runtime), "/run/user/%u", (unsigned)u->uid);
	if (is_dir(runtime)) {
		rc |= env_setf(e, "XDG_RUNTIME_DIR=%s", runtime);
		snprintf(wayland, sizeof(wayland), "%s/wayland-0", runtime);
		if (is_socket(wayland))
			rc |= env_setf(e, "WAYLAND_DISPLAY=wayland-0");
	}
	if (p->tty)
		rc |= env_setf(e, "TERM=xterm-256color");
	const char *s = v->envs;
	for (uint32_t i = 0; i < v->envc; i++, s += strlen(s) + 1)
		if (strchr(s, '=') && s[0] != '=')
			rc |= env_put(e, strdup(s));
	if (!env_has(e, "PATH"))
		rc |= env_setf(e, "PATH=%s", DEFAULT_PATH);
	return rc ? -1 : 0;
}

/* A busybox guest may have no devpts mounted; PTYs need one. */
static int open_master(void)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0 && geteuid() == 0 && (errno == ENOENT || errno == ENODEV || errno == EIO)) {
		mkdir("/dev/pts", 0755);
		if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
			  "ptmxmode=0666,mode=0620") == 0)
			fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	}
	return fd;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int make_pipe(int fds[2])
{
	return pipe2(fds, O_CLOEXEC);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int setup_tty(const struct agent_exec_view *v, struct plan *p,
		     struct spawned *out, char *err, size_t errlen)
{
	struct winsize ws = { .ws_row = v->rows, .ws_col = v->cols };

	p->master = open_master();
	if (p->master < 0) {
		snprintf(err, errlen, "no pseudo-terminal: %s", strerror(errno));
		return -1;
	}
	if (grantpt(p->master) || unlockpt(p->master) ||
	    ptsname_r(p->master, p->pty_name, sizeof(p->pty_name))) {
		snprintf(err, errlen, "pseudo-terminal setup: %s", strerror(errno));
		return -1;
	}
	if (ws.ws_row && ws.ws_col)
		ioctl(p->master, TIOCSWINSZ, &ws);
	out->out_fd = p->master;
	out->in_fd = fcntl(p->master, F_DUPFD_CLOEXEC, 3);
	if (out->in_fd < 0 || set_nonblock(p->master)) {
		snprintf(err, errlen, "pseudo-terminal setup: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int setup_pipes(struct plan *p, struct spawned *out, char *err, size_t errlen)
{
	int in[2], o[2], e[2];

	if (make_pipe(in))
		goto fail;
	p->in_r = in[0];
	out->in_fd = in[1];
	if (make_pipe(o))
		goto fail;
	out->out_fd = o[0];
	p->out_w = o[1];
	if (make_pipe(e))
		goto fail;
	out->err_fd = e[0];
	p->err_w = e[1];
	if (set_nonblock(out->in_fd) || set_nonblock(out->out_fd) ||
	    set_nonblock(out->err_fd))
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot create pipes: %s", strerror(errno));
	return -1;
}

static void report_and_exit(int fd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0 && write(fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0)
		_exit(127);
	_exit(127);
}

static void child_stdio(struct plan *p)
{
	if (p->tty) {
		int slave = open(p->pty_name, O_RDWR);

		if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
			report_and_exit(p->report_w, "cannot open %s: %s", p->pty_name, strerror(errno));
		p->in_r = p->out_w = p->err_w = slave;
	} else if (p->detached) {
		int null = open("/dev/null", O_RDWR);

		if (null < 0)
			report_and_exit(p->report_w, "cannot open /dev/null: %s", strerror(errno));
		p->in_r = p->out_w = p->err_w = null;
	}
	if (dup2(p->in_r, 0) < 0 || dup2(p->out_w, 1) < 0 || dup2(p->err_w, 2) < 0)
		report_and_exit(p->report_w, "cannot set up stdio: %s", strerror(errno));
}

static void child_run(struct plan *p)
{
	const struct agent_user *u = &p->user;
	sigset_t none;

	/* Whatever started the agent (sh's "&" ignores SIGINT) must not leak. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	child_stdio(p);
	if (p->switch_user &&
	    (setgroups((size_t)u->ngroups, u->groups) || setgid(u->gid) || setuid(u->uid)))
		report_and_exit(p->report_w, "cannot switch to user %s: %s", u->name, strerror(errno));
	if (p->cwd) {
		if (chdir(p->cwd))
			report_and_exit(p->report_w, "cannot change directory to %s: %s",
					p->cwd, strerror(errno));
	} else if (chdir(u->home)) {
		if (chdir("/")) {
			/* Nothing better to do; run where we are. */
		}
	}
	environ = p->env.v;
	execvp(p->argv[0], (char *const *)p->argv);
	if (errno == ENOENT && !strchr(p->argv[0], '/'))
		report_and_exit(p->report_w, "exec failed: %s: command not found", p->argv[0]);
	report_and_exit(p->report_w, "exec failed: %s: %s", p->argv[0], strerror(errno));
}

/* Waits for exec (pipe closes empty) or the child's message. */
static int await_exec(pid_t pid, int report_r, char *err, size_t errlen)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < errlen) {
		n = read(report_r, err + got, errlen - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	err[got] = '\0';
	if (!got)
		return 0;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return -1;
}

static void plan_free(struct plan *p, int child_ends_only)
{
	close_fd(&p->in_r);
	close_fd(&p->out_w);
	close_fd(&p->err_w);
	if (!child_ends_only) {
		env_free(&p->env);
		free(p->argv);
	}
}

static void spawned_close(struct spawned *s)
{
	close_fd(&s->in_fd);
	close_fd(&s->out_fd);
	close_fd(&s->err_fd);
}

int spawn_command(const struct spawn_config *cfg, const struct agent_exec_view *v,
		  struct spawned *out, char *err, size_t errlen)
{
	struct plan p = { .in_r = -1, .out_w = -1, .err_w = -1, .master = -1 };
	int report[2] = { -1, -1 };
	int rc = -1;

	*out = (struct spawned){ .pid = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1 };
	p.detached = !!(v->flags & AGENT_EXEC_DETACHED);
	p.tty = !p.detached && (v->flags & AGENT_EXEC_TTY);
	p.cwd = v->cwd[0] ? v->cwd : NULL;
	p.argv = calloc((size_t)v->argc + 1, sizeof(*p.argv));
	if (!p.argv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	agent_split_strings(v->args, v->argc, p.argv);
	if (resolve_user(cfg, &p, err, errlen))
		goto out;
	if (build_env(v, &p)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (p.tty ? setup_tty(v, &p, out, err, errlen) :
	    !p.detached ? setup_pipes(&p, out, err, errlen) : 0)
		goto out;
	if (pipe2(report, O_CLOEXEC)) {
		snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
		goto out;
	}
	p.report_w = report[1];
	out->pid = fork();
	if (out->pid < 0) {
		snprintf(err, errlen, "fork failed: %s", strerror(errno));
		goto out;
	}
	if (out->pid == 0)
		child_run(&p);
	close_fd(&report[1]);
	plan_free(&p, 1);
	rc = await_exec(out->pid, report[0], err, errlen);
out:
	close_fd(&report[0]);
	close_fd(&report[1]);
	plan_free(&p, 0);
	if (rc)
		spawned_close(out);
	return rc;
}
