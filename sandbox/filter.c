/*
 * Seccomp filters: the base allowlist, the syscalls no policy may allow, and
 * the SIGSYS reporter. In enforcing mode the default action is SCMP_ACT_TRAP:
 * the kernel sends SIGSYS with the syscall number in si_syscall, the handler
 * writes it to the report socket and dies by SIGSYS (see on_sigsys), so the
 * parent learns both the death signal and the syscall.
 */
#include "sandbox/filter.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1	/* si_code of a seccomp SIGSYS (asm-generic/siginfo.h) */
#endif

static const struct sandbox_syscall base_rules[] = {
	SANDBOX_ALLOW(read, "eventfd counters: queue kicks, control-ring doorbell"),
	SANDBOX_ALLOW(write, "signal irqfds and doorbells; log lines; SIGSYS report"),
	SANDBOX_ALLOW(close, "drop fds the device no longer needs"),
	SANDBOX_ALLOW(io_uring_enter, "the event loop: submit and wait for completions"),
	SANDBOX_ALLOW_MASKED(mmap, 2, PROT_EXEC, 0,
			     "malloc, ring and guest-RAM mappings; never executable"),
	SANDBOX_ALLOW_MASKED(mprotect, 2, PROT_EXEC, 0,
			     "malloc arenas, guard pages; never executable"),
	SANDBOX_ALLOW(munmap, "undo mmap"),
	SANDBOX_ALLOW(brk, "malloc's main heap"),
	SANDBOX_ALLOW_EQ(madvise, 2, MADV_DONTNEED, "free() giving pages back"),
	SANDBOX_ALLOW(clock_gettime, "timestamps when the clocksource has no vDSO"),
	SANDBOX_ALLOW(restart_syscall, "the kernel resumes a sleep a signal broke"),
	SANDBOX_ALLOW(rt_sigreturn, "return from a signal handler"),
	SANDBOX_ALLOW(exit, "a thread ends"),
	SANDBOX_ALLOW(exit_group, "the device process ends"),
#ifdef SANDBOX_ASAN_BUILD
	SANDBOX_ALLOW(sigaltstack, "ASan builds: _exit removes ASan's signal stack"),
#endif
};

const struct sandbox_policy sandbox_base_policy = {
	.name = "base",
	.rules = base_rules,
	.nr_rules = sizeof(base_rules) / sizeof(base_rules[0]),
};

/*
 * Ways out of the jail or into the kernel's widest interfaces. A new
 * io_uring would carry no opcode restrictions (openat, socket, ... past
 * seccomp), and io_uring_register could add fds or buffers to the one the
 * device has: the ring is made and restricted in the pre_seccomp step.
 */
static const int denied[] = {
	SYS_execve, SYS_execveat, SYS_ptrace, SYS_process_vm_readv,
	SYS_process_vm_writev, SYS_mount, SYS_umount2, SYS_pivot_root,
	SYS_chroot, SYS_setns, SYS_unshare, SYS_bpf, SYS_perf_event_open,
	SYS_kexec_load, SYS_init_module, SYS_finit_module, SYS_add_key,
	SYS_keyctl, SYS_request_key, SYS_fsopen, SYS_open_tree, SYS_move_mount,
	SYS_io_uring_setup, SYS_io_uring_register,
};

static int check_rule(const struct sandbox_syscall *r, char *why, size_t len)
{
	if (r->nr < 0)
		return snprintf(why, len, "no syscall number");
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		if (r->nr == denied[i])
			return snprintf(why, len, "can never be allowed");
	if (!r->reason || !*r->reason)
		return snprintf(why, len, "has no reason");
	if (r->arg > 5 || r->op > SANDBOX_ARG_MASKED_EQ)
		return snprintf(why, len, "has a bad argument filter");
	if (r->fail_errno < 0 || r->fail_errno > 4095)
		return snprintf(why, len, "has a bad errno");
	return 0;
}

static int add_rules(scmp_filter_ctx ctx, const struct sandbox_policy *p,
		     char *err, size_t errlen)
{
	for (size_t i = 0; i < p->nr_rules; i++) {
		const struct sandbox_syscall *r = &p->rules[i];
		struct scmp_arg_cmp cmp = {
			.arg = r->arg,
			.op = r->op == SANDBOX_ARG_EQ ? SCMP_CMP_EQ : SCMP_CMP_MASKED_EQ,
			.datum_a = r->op == SANDBOX_ARG_EQ ? r->value : r->mask,
			.datum_b = r->value,
		};
		uint32_t action = r->fail_errno ? SCMP_ACT_ERRNO((uint32_t)r->fail_errno) : SCMP_ACT_ALLOW;
		char why[64] = "", *name;
		int rc = 0;

		if (!check_rule(r, why, sizeof(why)))
			rc = seccomp_rule_add_array(ctx, action, r->nr,
						    r->op != SANDBOX_ARG_ANY, &cmp);
		if (!why[0] && (!rc || rc == -EEXIST))
			continue;
		name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, r->nr);
		snprintf(err, errlen, "sandbox: policy %s: rule %zu (%s) %s",
			 p->name, i, name ? name : "?",
			 why[0] ? why : strerror(-rc));
		free(name);
		return -1;
	}
	return 0;
}

/* Same syscall, same action and argument test: a harmless repeat. */
static bool same_rule(const struct sandbox_syscall *a, const struct sandbox_syscall *b)
{
	return a->op == b->op && a->fail_errno == b->fail_errno &&
	       (a->op == SANDBOX_ARG_ANY ||
		(a->arg == b->arg && a->value == b->value &&
		 (a->op != SANDBOX_ARG_MASKED_EQ || a->mask == b->mask)));
}

/*
 * Why two rules for one syscall cannot stand together, or NULL. libseccomp
 * keeps the first of two conflicting rules without a word, so a policy
 * made of rule sets could lose a restriction (ERRNO after ALLOW; a
 * conditional ALLOW after an unconditional one) unless refused here.
 */
static const char *conflict(const struct sandbox_syscall *a, const struct sandbox_syscall *b)
{
	if (a->nr != b->nr || same_rule(a, b))
		return NULL;
	if (a->fail_errno != b->fail_errno)
		return "has rules with different actions";
	if (a->op == SANDBOX_ARG_ANY || b->op == SANDBOX_ARG_ANY)
		return "has an unconditional rule and another rule";
	return NULL;
}

/* The first rule of p that conflicts with an earlier one of the base or p. */
static int check_conflicts(const struct sandbox_policy *p, char *err, size_t errlen)
{
	const struct sandbox_policy *sets[] = { &sandbox_base_policy, p };

	for (size_t i = 0; i < p->nr_rules; i++)
		for (size_t s = 0; s < 2; s++)
			for (size_t j = 0; j < (sets[s] == p ? i : sets[s]->nr_rules); j++) {
				const char *why = conflict(&sets[s]->rules[j], &p->rules[i]);
				char *name;

				if (!why)
					continue;
				name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE,
									p->rules[i].nr);
				snprintf(err, errlen, "sandbox: policy %s: rule %zu (%s) %s "
					 "(rule %zu of %s)", p->name, i, name ? name : "?", why,
					 j, sets[s]->name);
				free(name);
				return -1;
			}
	return 0;
}

scmp_filter_ctx filter_build(const struct sandbox_policy *policy, bool log_only,
			     char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(log_only ? SCMP_ACT_LOG : SCMP_ACT_TRAP);

	if (!ctx) {
		snprintf(err, errlen, "sandbox: cannot create a seccomp filter");
		return NULL;
	}
	/* A syscall of another ABI (i386, x32) must not slip past the list. */
	/*
	 * TSYNC: threads a device's pre-seccomp setup started (Mesa's, in
	 * virglrenderer's init) get the filter too, or the load fails.
	 */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) ||
	    check_conflicts(&sandbox_base_policy, err, errlen) ||
	    (policy && check_conflicts(policy, err, errlen)) ||
	    add_rules(ctx, &sandbox_base_policy, err, errlen) ||
	    (policy && add_rules(ctx, policy, err, errlen))) {
		if (!err[0])
			snprintf(err, errlen, "sandbox: cannot set the filter's bad-arch action or thread sync");
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

static int report_fd = -1;

/*
 * Async-signal-safe: one write, then a second forbidden syscall. SIGSYS is
 * blocked while its handler runs, so the kernel delivers that trap with the
 * default action (it unblocks it and resets the handler) and the process
 * dies by SIGSYS, even as PID 1 of its namespace, where raise() is ignored.
 */
static void on_sigsys(int sig, siginfo_t *info, void *ucontext)
{
	struct report r = { .kind = REPORT_SECCOMP, .nr = info->si_syscall };

	if (info->si_code == SYS_SECCOMP)
		(void)!write(report_fd, &r, sizeof(r));
	syscall(SYS_execve, NULL, NULL, NULL);	/* denied in every policy */
	_exit(128 + SIGSYS);			/* only if no filter yet */
}

int filter_install(scmp_filter_ctx ctx, bool log_only, int fd)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	if (!log_only) {
		report_fd = fd;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL))
			return -errno;
	}
	return seccomp_load(ctx);
}

int filter_read_report(int fd)
{
	struct report r;
	int nr = -1;

	while (read(fd, &r, sizeof(r)) == sizeof(r))
		if (r.kind == REPORT_SECCOMP)
			nr = r.nr;
	return nr;
}
