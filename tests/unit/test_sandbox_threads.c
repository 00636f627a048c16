/*
 * SANDBOX_THREAD_RULES: a fake device process in the real jail, under
 * its filter, starts a pthread, which writes a value, and joins it; under
 * a policy that does not opt in, pthread_create dies by SIGSYS. A thread
 * with other clone flags (a new process sharing memory) is refused even
 * with the rules. Needs root or unprivileged user namespaces; SKIP
 * otherwise.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "sandbox/threads.h"

#define MAGIC 0x7468726561646564ull	/* "threaded" */

static const struct sandbox_syscall thread_rules[] = { SANDBOX_THREAD_RULES };
static const struct sandbox_policy thread_policy = {
	.name = "threads", .rules = thread_rules,
	.nr_rules = sizeof(thread_rules) / sizeof(thread_rules[0]),
};
static const struct sandbox_syscall plain_rules[] = {
	SANDBOX_ALLOW(getpid, "nothing thread-related"),
};
static const struct sandbox_policy plain_policy = {
	.name = "plain", .rules = plain_rules, .nr_rules = 1,
};

static void *worker(void *arg)
{
	*(volatile uint64_t *)arg = MAGIC;
	return arg;
}

/* Exit 0 only if the thread ran and was joined. */
static int start_and_join(void *arg)
{
	volatile uint64_t value = 0;
	pthread_t t;
	void *ret = NULL;

	(void)arg;
	if (pthread_create(&t, NULL, worker, (void *)&value))
		return 2;
	if (pthread_join(t, &ret))
		return 3;
	return ret == &value && value == MAGIC ? 0 : 4;
}

static char stack[64 * 1024] __attribute__((aligned(16)));

static int child_fn(void *arg)
{
	(void)arg;
	_exit(0);
}

/* clone with CLONE_VM but not CLONE_THREAD: a process, not a thread. */
static int clone_process(void *arg)
{
	(void)arg;
	return clone(child_fn, stack + sizeof(stack), CLONE_VM | SIGCHLD, NULL) < 0 ? 5 : 6;
}

static int spawn_and_wait(const struct sandbox_policy *policy, int (*fn)(void *),
			  siginfo_t *info, char *what, size_t len)
{
	struct sandbox_config cfg = {
		.name = "threads0", .enable = true, .nofile = 64,
		.nproc = 1 + SANDBOX_THREAD_NPROC(1),
	};
	struct sandbox_child c;
	char err[256] = "";
	int rc = sandbox_spawn(&cfg, policy, fn, NULL, &c, err, sizeof(err));

	if (rc) {
		snprintf(what, len, "%s", err);
		return rc;
	}
	CHECK_EQ(sandbox_wait(&c, 0, info), 0);
	sandbox_describe(&c, info, what, len);
	sandbox_release(&c);
	return 0;
}

static void test_opted_in_thread_runs(void)
{
	siginfo_t info;
	char what[256];

	CHECK_EQ(spawn_and_wait(&thread_policy, start_and_join, &info, what, sizeof(what)), 0);
	CHECK_EQ(info.si_code, CLD_EXITED);
	CHECK_EQ(info.si_status, 0);
	if (info.si_code != CLD_EXITED || info.si_status)
		fprintf(stderr, "with the thread rules: %s\n", what);
}

/* It dies at the first syscall only threads need (which one depends on
 * the libc and the sanitizers). */
static void test_not_opted_in_is_killed(void)
{
	siginfo_t info;
	char what[256];

	CHECK_EQ(spawn_and_wait(&plain_policy, start_and_join, &info, what, sizeof(what)), 0);
	CHECK_EQ(info.si_code, CLD_KILLED);
	CHECK_EQ(info.si_status, SIGSYS);
	CHECK(strstr(what, "killed by SIGSYS (seccomp: syscall"));
}

static void test_other_clone_flags_are_killed(void)
{
	siginfo_t info;
	char what[256], want[128];

	CHECK_EQ(spawn_and_wait(&thread_policy, clone_process, &info, what, sizeof(what)), 0);
	snprintf(want, sizeof(want), "threads0: killed by SIGSYS (seccomp: syscall %d clone)",
		 SYS_clone);
	CHECK_STR(what, want);
}

static int exit_0(void *arg)
{
	(void)arg;
	return 0;
}

int main(void)
{
	siginfo_t info;
	char what[256];

	if (spawn_and_wait(NULL, exit_0, &info, what, sizeof(what))) {
		printf("SKIP: jailed tests: %s\n", what);
		return check_report("test_sandbox_threads");
	}
	test_opted_in_thread_runs();
	test_not_opted_in_is_killed();
	test_other_clone_flags_are_killed();
	return check_report("test_sandbox_threads");
}
