/*
 * One line of error into a caller's buffer, the way every fallible setup
 * function here reports (char *err, size_t errlen). Both return -1 so a
 * failure path is one statement: return errfmt_sys(err, errlen, errno, ...).
 */
#ifndef VMSILO_ERRFMT_H
#define VMSILO_ERRFMT_H

#include <stddef.h>

/* fmt's text into err; -1. */
int errfmt(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "<fmt's text>: <strerror(errnum)>" into err (errnum > 0, or -errno); -1.
 * errno is left as it was. */
int errfmt_sys(char *err, size_t errlen, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
