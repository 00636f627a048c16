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

static void log_line(enum log_level level, const char *line)
{
	/* One write per line so lines from several processes do not interleave. */
	if (current_level >= LOG_DEBUG)
		fprintf(stderr, "vmsilo-vmm: [%8.3f] %s: %s\n", seconds_since_start(),
			level_names[level], line);
	else
		fprintf(stderr, "vmsilo-vmm: %s: %s\n", level_names[level], line);
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
	log_line(level, line);
}

/*
 * Generic cell rate algorithm: next_ms advances by one interval per line
 * let through and a line is dropped while it would run more than a burst
 * of intervals ahead of now. One compare-and-swap, no lock: vCPU threads
 * and device processes after seccomp call this.
 */
bool log_ratelimit_admit(struct log_ratelimit *rl, uint64_t now_ms, uint64_t *suppressed)
{
	const uint64_t window = (uint64_t)LOG_RATELIMIT_BURST * LOG_RATELIMIT_INTERVAL_MS;
	uint64_t next = atomic_load_explicit(&rl->next_ms, memory_order_relaxed), after;

	do {
		after = (next > now_ms ? next : now_ms) + LOG_RATELIMIT_INTERVAL_MS;
		if (after - now_ms > window) {
			atomic_fetch_add_explicit(&rl->suppressed, 1, memory_order_relaxed);
			return false;
		}
	} while (!atomic_compare_exchange_weak_explicit(&rl->next_ms, &next, after,
							memory_order_relaxed,
							memory_order_relaxed));
	*suppressed = atomic_exchange_explicit(&rl->suppressed, 0, memory_order_relaxed);
	return true;
}

static uint64_t monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

void log_ratelimited_msg(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
{
	char line[1024];
	uint64_t suppressed;
	size_t len;
	va_list ap;

	if (level > current_level || !log_ratelimit_admit(rl, monotonic_ms(), &suppressed))
		return;
	/* Keep room for the count: it must survive a long message. */
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line) - 64, fmt, ap);
	va_end(ap);
	len = strlen(line);
	if (suppressed)
		snprintf(line + len, sizeof(line) - len, " (suppressed %llu similar messages)",
			 (unsigned long long)suppressed);
	log_line(level, line);
}

void log_ratelimited_raw(struct log_ratelimit *rl, const char *line)
{
	uint64_t suppressed;

	if (!log_ratelimit_admit(rl, monotonic_ms(), &suppressed))
		return;
	if (suppressed)
		fprintf(stderr, "%s (suppressed %llu similar messages)\n", line,
			(unsigned long long)suppressed);
	else
		fprintf(stderr, "%s\n", line);
}
