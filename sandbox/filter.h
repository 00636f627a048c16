/* The seccomp half of the sandbox, and the child-to-parent report records. */
#ifndef VMSILO_SANDBOX_FILTER_H
#define VMSILO_SANDBOX_FILTER_H

#include <seccomp.h>
#include <stdint.h>

#include "sandbox/sandbox.h"

/* Records on the report socket: setup result, then at most one violation. */
enum report_kind { REPORT_READY = 1, REPORT_FAILED, REPORT_SECCOMP };

struct report {
	int32_t kind;
	int32_t step;		/* REPORT_FAILED: the setup step that failed */
	int32_t err;		/* REPORT_FAILED: its errno */
	int32_t nr;		/* REPORT_SECCOMP: the syscall number */
};

/*
 * Checks the base and device rules and builds the filter in the parent
 * (not loaded): NULL with one line in err if a rule is wrong.
 */
scmp_filter_ctx filter_build(const struct sandbox_policy *policy, bool log_only,
			     char *err, size_t errlen);

/* In the child: the SIGSYS reporter (unless log_only), then the filter. */
int filter_install(scmp_filter_ctx ctx, bool log_only, int report_fd);

/* The syscall number the child reported before dying, or -1. */
int filter_read_report(int report_fd);

#endif
