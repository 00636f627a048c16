/* The shared log rate limiter: a flood from one call site stays bounded,
 * every dropped line is counted in a later one, call sites are independent. */
#include <pthread.h>
#include <time.h>

#include "check.h"
#include "log_capture.h"
#include "vmm/log.h"

#define FLOOD 100000u

static const char suppressed_tag[] = "(suppressed ";

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Lines let through plus the counts they report: every call, exactly. */
static unsigned long long calls_accounted(const char *text, const char *needle)
{
	unsigned long long total = 0;

	for (const char *line = strstr(text, needle); line; line = strstr(line + 1, needle)) {
		const char *end = strchr(line, '\n');
		const char *count = strstr(line, suppressed_tag);

		total++;
		if (count && (!end || count < end))
			total += strtoull(count + strlen(suppressed_tag), NULL, 10);
	}
	return total;
}

/* Burst, refill and the reported count, on a clock the test controls. */
static void test_admit_on_a_fake_clock(void)
{
	struct log_ratelimit rl = { 0 };
	const uint64_t t0 = 5000000;
	uint64_t suppressed = 99, admitted = 0;

	for (unsigned i = 0; i < FLOOD; i++)
		if (log_ratelimit_admit(&rl, t0, &suppressed)) {
			admitted++;
			CHECK_EQ(suppressed, 0);
		}
	CHECK_EQ(admitted, LOG_RATELIMIT_BURST);
	/* Half an interval later the bucket is still empty. */
	CHECK(!log_ratelimit_admit(&rl, t0 + LOG_RATELIMIT_INTERVAL_MS / 2, &suppressed));
	CHECK(log_ratelimit_admit(&rl, t0 + LOG_RATELIMIT_INTERVAL_MS, &suppressed));
	CHECK_EQ(suppressed, FLOOD - LOG_RATELIMIT_BURST + 1);
	CHECK(!log_ratelimit_admit(&rl, t0 + LOG_RATELIMIT_INTERVAL_MS, &suppressed));
	/* After a long quiet spell a whole burst goes through again. */
	admitted = 0;
	for (unsigned i = 0; i < 100; i++)
		admitted += log_ratelimit_admit(&rl, t0 + 3600000, &suppressed);
	CHECK_EQ(admitted, LOG_RATELIMIT_BURST);
}

static void flood_site(unsigned i)
{
	log_ratelimited(LOG_WARN, "flood site: line %u", i);
}

static void other_site(unsigned i)
{
	log_ratelimited(LOG_WARN, "other site: line %u", i);
}

/* 100000 real calls from one site: a bounded number of lines, and after a
 * pause one more line that reports what was dropped. */
static void test_flood_is_bounded_and_counted(void)
{
	struct log_capture cap;
	double start, elapsed;
	unsigned lines;
	char *text;

	log_capture_begin(&cap);
	start = now_seconds();
	for (unsigned i = 0; i < FLOOD; i++)
		flood_site(i);
	elapsed = now_seconds() - start;
	/* Other sites still have their whole burst. */
	for (unsigned i = 0; i < LOG_RATELIMIT_BURST; i++)
		other_site(i);
	text = log_capture_end(&cap);
	lines = log_count_lines(text, "flood site");
	CHECK(lines >= LOG_RATELIMIT_BURST);
	CHECK(lines <= LOG_RATELIMIT_BURST + 1 + (unsigned)(elapsed * 1000) / LOG_RATELIMIT_INTERVAL_MS);
	CHECK_EQ(log_count_lines(text, "other site"), LOG_RATELIMIT_BURST);
	CHECK_EQ(log_count_lines(text, suppressed_tag), lines - LOG_RATELIMIT_BURST);
	free(text);

	/* One interval later: one line, carrying the count of the rest. */
	usleep(LOG_RATELIMIT_INTERVAL_MS * 1000 + 100000);
	log_capture_begin(&cap);
	flood_site(FLOOD);
	text = log_capture_end(&cap);
	CHECK_EQ(log_count_lines(text, "flood site"), 1);
	CHECK_EQ(log_count_lines(text, suppressed_tag), 1);
	free(text);
}

#define THREADS 4

static void *flood_thread(void *arg)
{
	const unsigned *calls = arg;

	for (unsigned i = 0; i < *calls; i++)
		log_ratelimited(LOG_WARN, "threaded site: line %u", i);
	return arg;
}

/* vCPU threads share call sites: concurrent calls lose no count. */
static void test_threads_share_a_site(void)
{
	struct log_capture cap;
	static const unsigned share = FLOOD / THREADS, one = 1;
	pthread_t t[THREADS];
	char *text;

	log_capture_begin(&cap);
	for (unsigned i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, flood_thread, (void *)&share), 0);
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	usleep(LOG_RATELIMIT_INTERVAL_MS * 1000 + 100000);
	flood_thread((void *)&one);	/* reports the last drops */
	text = log_capture_end(&cap);
	CHECK_EQ(calls_accounted(text, "threaded site"), FLOOD + 1);
	free(text);
}

/* A line below the level costs no token. */
static void test_filtered_lines_are_free(void)
{
	struct log_capture cap;
	char *text;

	log_capture_begin(&cap);
	for (unsigned i = 0; i < FLOOD; i++)
		log_ratelimited(LOG_DEBUG, "debug site: line %u", i);
	text = log_capture_end(&cap);
	CHECK_EQ(strlen(text), 0);
	free(text);
}

int main(void)
{
	log_set_level(LOG_WARN);
	test_admit_on_a_fake_clock();
	test_flood_is_bounded_and_counted();
	test_threads_share_a_site();
	test_filtered_lines_are_free();
	return check_report("test_log_ratelimit");
}
