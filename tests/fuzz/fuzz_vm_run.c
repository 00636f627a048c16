/*
 * libFuzzer harness for vm-run's side of an agent connection
 * (host-tools/vm-run.c): the input is what the guest sends back, read by
 * vm-run's own read_sock() and handle_frame(). vm-run.c is included here
 * with its main renamed, its exit() turned into a jump back to the harness
 * (it dies on any protocol error, by design) and the command's stdout and
 * stderr sent to /dev/null. Whatever the guest sends, vm-run must end with
 * a status a shell can see: 0..255.
 *
 * Input: a flags byte (bit 0: --detach), then the guest's bytes.
 */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int vm_run_main(int argc, char **argv);
void fuzz_vm_run_exit(int status) __attribute__((noreturn));

static int quiet_fd = -1;
static jmp_buf exited;
static int exited_with;

void fuzz_vm_run_exit(int status)
{
	exited_with = status;
	longjmp(exited, 1);
}

#undef STDOUT_FILENO
#undef STDERR_FILENO
#define STDOUT_FILENO quiet_fd
#define STDERR_FILENO quiet_fd
#define main vm_run_main
#define exit fuzz_vm_run_exit
#include "host-tools/vm-run.c"
#undef exit
#undef main

static struct client c;
static FILE *quiet;

/* vm-run's socket loop, as run() drives it, until a status comes out. */
static int read_until_done(bool detach)
{
	for (;;) {
		int status = read_sock(&c, detach);

		if (status >= 0)
			return status;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	volatile int status;
	FILE *saved = stderr;
	int sv[2];

	if (!quiet) {
		quiet = fopen("/dev/null", "w");
		quiet_fd = quiet ? fileno(quiet) : -1;
		if (!quiet)
			abort();
	}
	if (!size || size > 128 * 1024)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	if (size > 1 && send(sv[1], data + 1, size - 1, MSG_NOSIGNAL) != (ssize_t)size - 1)
		abort();
	shutdown(sv[1], SHUT_WR);
	c = (struct client){ .name = "fuzzvm", .sock = sv[0], .sig_fd = -1,
			     .sock_writable = true, .stdin_open = true };
	stderr = quiet;		/* die()'s message */
	if (!setjmp(exited))
		status = read_until_done(data[0] & 1);
	else
		status = exited_with;
	stderr = saved;
	close(sv[0]);
	close(sv[1]);
	if (status < 0 || status > 255)
		abort();
	return 0;
}
