/* Ethernet station addresses as the config writes them. */
#ifndef VMSILO_MAC_H
#define VMSILO_MAC_H

#include <stdint.h>

enum mac_error {
	MAC_OK,
	MAC_MALFORMED,	/* not six two-digit hex bytes joined by ':' */
	MAC_MULTICAST,	/* the group bit: not a station's address */
	MAC_ZERO,	/* 00:00:00:00:00:00: no station's address either */
};

/* "52:54:00:12:34:56" into mac (written only on MAC_OK). */
enum mac_error mac_parse(const char *s, uint8_t mac[6]);

#endif
