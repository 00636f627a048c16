/*
 * The client's test pattern, which the host-side checks look for in a
 * screenshot: four vertical bands of equal width, left to right red,
 * green, blue and white (XRGB8888), over the whole buffer.
 */
#ifndef VMSILO_PATTERN_H
#define VMSILO_PATTERN_H

#include <stdint.h>

static inline uint32_t pattern_pixel(uint32_t x, uint32_t width)
{
	static const uint32_t bands[4] = { 0xffff0000u, 0xff00ff00u, 0xff0000ffu, 0xffffffffu };

	return bands[(uint64_t)x * 4 / width];
}

#endif
