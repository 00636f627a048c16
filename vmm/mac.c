#include "vmm/mac.h"

#include "vmm/hex.h"

#include <stdbool.h>
#include <string.h>

enum mac_error mac_parse(const char *s, uint8_t mac[6])
{
	uint8_t m[6];
	bool zero = true;

	if (strlen(s) != 17)
		return MAC_MALFORMED;
	for (int i = 0; i < 6; i++) {
		int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return MAC_MALFORMED;
		m[i] = (uint8_t)(hi << 4 | lo);
		zero = zero && !m[i];
	}
	if (m[0] & 1)
		return MAC_MULTICAST;
	if (zero)
		return MAC_ZERO;
	memcpy(mac, m, sizeof(m));
	return MAC_OK;
}
