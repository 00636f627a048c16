/* MC146818 CMOS clock at ports 0x70/0x71: host UTC time, no alarms. */
#ifndef VMSILO_RTC_H
#define VMSILO_RTC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t cmos[128];	/* registers the guest may store to */
};

void rtc_init(struct rtc *rtc);
void rtc_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
/* The value of a clock register at time t (exposed for tests). */
uint8_t rtc_clock_register(uint8_t reg, int64_t unix_time, uint8_t status_b);

#endif
