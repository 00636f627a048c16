/*
 * The reviewed rule set for a device that runs threads (PipeWire,
 * virglrenderer bring their own): what glibc's pthread_create and
 * pthread_join need, no more (the base list already has mmap and
 * mprotect without PROT_EXEC for stacks and guard pages, madvise
 * MADV_DONTNEED for a finished thread's stack, exit). A policy opts in by listing
 * SANDBOX_THREAD_RULES in its rules and adding SANDBOX_THREAD_NPROC(n)
 * to its nproc. Checked against glibc 2.36 (Debian 12) by
 * test_sandbox_threads.
 */
#ifndef VMSILO_SANDBOX_THREADS_H
#define VMSILO_SANDBOX_THREADS_H

#include <errno.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "sandbox/sandbox.h"

/* The flags glibc's pthread_create passes to clone, exactly: a thread in
 * this process, never a new process or namespace. */
#define SANDBOX_PTHREAD_CLONE_FLAGS \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | \
	 CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

/* glibc's SIGCANCEL, the kernel's signal 33 (SIGRTMIN is 34 for programs). */
#define SANDBOX_GLIBC_SIGCANCEL 33

#ifdef SANDBOX_ASAN_BUILD
#define SANDBOX_THREAD_ASAN_RULES , \
	SANDBOX_ALLOW(gettid, "ASan builds: the interceptor registers the thread"), \
	SANDBOX_ALLOW(sched_getaffinity, "ASan builds: a new thread sizes its allocator caches"), \
	SANDBOX_ALLOW_EQ(madvise, 2, MADV_NOHUGEPAGE, "ASan builds: a thread's shadow memory"), \
	SANDBOX_ALLOW_EQ(madvise, 2, MADV_DONTDUMP, "ASan builds: a thread's shadow memory")
#else
#define SANDBOX_THREAD_ASAN_RULES
#endif

/* RLIMIT_NPROC for n threads: each counts like a process in the jail. */
#define SANDBOX_THREAD_NPROC(n) (n)

#define SANDBOX_THREAD_RULES \
	SANDBOX_FAIL(clone3, ENOSYS, "seccomp cannot read clone3's flags: glibc falls back to clone"), \
	SANDBOX_ALLOW_EQ(clone, 0, SANDBOX_PTHREAD_CLONE_FLAGS, \
			 "pthread_create: a thread, checked flag for flag"), \
	SANDBOX_ALLOW(futex, "pthread_join waits on the thread's tid; mutexes, conditions"), \
	SANDBOX_ALLOW(set_robust_list, "a new thread registers its robust mutex list"), \
	SANDBOX_ALLOW(rseq, "a new thread registers its restartable sequences area"), \
	SANDBOX_ALLOW(rt_sigprocmask, "pthread_create blocks signals around clone"), \
	SANDBOX_ALLOW_EQ(rt_sigaction, 0, SANDBOX_GLIBC_SIGCANCEL, \
			 "the first pthread_create installs glibc's cancellation handler"), \
	SANDBOX_ALLOW_EQ(getrandom, 2, GRND_NONBLOCK, "malloc's first use seeds its tcache key") \
	SANDBOX_THREAD_ASAN_RULES

#endif
