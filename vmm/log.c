#include "vmm/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level current_level = LOG_WARN;
static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };

static struct timespec start_time;

/* Debug logs carry the time since the level was first set, at start-up. */
static double seconds_since_start(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start_time.tv_sec) +
	       (double)(now.tv_nsec - start_time.tv_nsec) / 1e9;
}

void log_set_level(enum log_level level)
{
	if (!start_time.tv_sec && !start_time.tv_nsec)
		clock_gettime(CLOCK_MONOTONIC, &start_time);
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

int log_level_parse(const char *name)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcmp(name, level_names[i]))
			return (int)i;
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line so lines from several processes do not interleave. */
	if (current_level >= LOG_DEBUG)
		fprintf(stderr, "vmsilo-vmm: [%8.3f] %s: %s\n", seconds_since_start(),
			level_names[level], line);
	else
		fprintf(stderr, "vmsilo-vmm: %s: %s\n", level_names[level], line);
}
