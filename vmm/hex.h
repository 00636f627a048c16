/* One hex digit's value, or -1: for the TOML parser's escapes and MAC addresses. */
#ifndef VMSILO_HEX_H
#define VMSILO_HEX_H

static inline int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
