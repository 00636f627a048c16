#include "vmm/errfmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int errfmt(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int errfmt_sys(char *err, size_t errlen, int errnum, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	int n;

	if (!errlen)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < errlen)
		snprintf(err + n, errlen - (size_t)n, ": %s", strerror(errnum < 0 ? -errnum : errnum));
	errno = saved;
	return -1;
}
