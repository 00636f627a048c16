#include <string.h>
#include <time.h>

#include "vmm/rtc.h"

enum {
	REG_SECONDS = 0x00, REG_MINUTES = 0x02, REG_HOURS = 0x04, REG_WEEKDAY = 0x06,
	REG_DAY = 0x07, REG_MONTH = 0x08, REG_YEAR = 0x09, REG_A = 0x0a,
	REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d, REG_CENTURY = 0x32,
};

#define B_24H		0x02
#define B_BINARY	0x04
#define A_DIVIDER	0x26	/* 32.768 kHz, 1024 Hz; UIP always clear */
#define D_VALID		0x80

void rtc_init(struct rtc *rtc)
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->cmos[REG_A] = A_DIVIDER;
	rtc->cmos[REG_B] = B_24H;
}

static uint8_t encode(unsigned value, uint8_t status_b)
{
	if (status_b & B_BINARY)
		return (uint8_t)value;
	return (uint8_t)((value / 10) << 4 | value % 10);
}

uint8_t rtc_clock_register(uint8_t reg, int64_t unix_time, uint8_t status_b)
{
	time_t t = (time_t)unix_time;
	struct tm tm;

	gmtime_r(&t, &tm);
	switch (reg) {
	case REG_SECONDS: return encode(tm.tm_sec, status_b);
	case REG_MINUTES: return encode(tm.tm_min, status_b);
	case REG_HOURS: return encode(tm.tm_hour, status_b);
	case REG_WEEKDAY: return encode(tm.tm_wday + 1, status_b);
	case REG_DAY: return encode(tm.tm_mday, status_b);
	case REG_MONTH: return encode(tm.tm_mon + 1, status_b);
	case REG_YEAR: return encode(tm.tm_year % 100, status_b);
	case REG_CENTURY: return encode(19 + tm.tm_year / 100, status_b);
	default: return 0;
	}
}

static bool is_clock_register(uint8_t reg)
{
	return reg <= REG_YEAR ? !(reg & 1) || reg >= REG_WEEKDAY : reg == REG_CENTURY;
}

static uint8_t read_register(struct rtc *rtc, uint8_t reg)
{
	if (is_clock_register(reg))
		return rtc_clock_register(reg, time(NULL), rtc->cmos[REG_B]);
	if (reg == REG_C)
		return 0;	/* no interrupt flags: we raise no RTC interrupts */
	if (reg == REG_D)
		return D_VALID;
	return rtc->cmos[reg];
}

/* Writes to the clock are accepted and forgotten: the host keeps the time. */
static void write_register(struct rtc *rtc, uint8_t reg, uint8_t val)
{
	if (reg == REG_B)
		rtc->cmos[REG_B] = (val & (B_24H | B_BINARY)) | B_24H;
	else if (!is_clock_register(reg) && reg != REG_A && reg != REG_C && reg != REG_D)
		rtc->cmos[reg] = val;
}

void rtc_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct rtc *rtc = opaque;

	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&rtc->lock);
	if (offset == 0 && is_write)
		rtc->index = data[0] & 0x7f;	/* bit 7 is the NMI mask */
	else if (offset == 0)
		data[0] = rtc->index;
	else if (is_write)
		write_register(rtc, rtc->index, data[0]);
	else
		data[0] = read_register(rtc, rtc->index);
	pthread_mutex_unlock(&rtc->lock);
}
