/* Leveled logging to stderr with a component prefix. */
#ifndef VMSILO_LOG_H
#define VMSILO_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error" | "warn" | "info" | "debug" | "trace"; -1 if unknown. */
int log_level_parse(const char *name);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_dbg(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * Lines a guest, a device child or a local client can cause go through
 * log_ratelimited(): each call site may log a burst of LOG_RATELIMIT_BURST
 * lines, then one per LOG_RATELIMIT_INTERVAL_MS; the next line let through
 * after a drop ends in "(suppressed N similar messages)". Thread-safe and
 * lock-free; needs no syscall but clock_gettime (vDSO) and the write.
 */
#define LOG_RATELIMIT_BURST 10
#define LOG_RATELIMIT_INTERVAL_MS 1000

struct log_ratelimit {
	_Atomic uint64_t next_ms;	/* when the bucket is empty again (GCRA) */
	_Atomic uint64_t suppressed;	/* lines dropped since the last one let through */
};

/* Lets a line through at now_ms or drops it; a line let through gets the
 * count of those dropped before it in *suppressed. */
bool log_ratelimit_admit(struct log_ratelimit *rl, uint64_t now_ms, uint64_t *suppressed);
void log_ratelimited_msg(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A line a device process wrote (with its own prefix), passed on as it is. */
void log_ratelimited_raw(struct log_ratelimit *rl, const char *line);

/*
 * One static limiter per call site: two sites never silence each other.
 * A line one site logs for many sources (each device) takes a limiter kept
 * per source instead, through log_ratelimited_msg (zeroed is ready).
 */
#define log_ratelimited(level, ...) do { \
	static struct log_ratelimit log_site_limit_; \
	log_ratelimited_msg(&log_site_limit_, (level), __VA_ARGS__); \
} while (0)

#endif
