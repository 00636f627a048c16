/*
 * Just enough of the PS/2 controller for the kernel's reboot fallback:
 * command 0xfe on port 0x64 pulses the reset line. The FADT says there is no
 * 8042, so the keyboard driver never probes it.
 */
#ifndef VMSILO_I8042_H
#define VMSILO_I8042_H

#include <stdbool.h>
#include <stdint.h>

struct i8042 {
	void (*reset)(void *ctx);
	void *ctx;
};

void i8042_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);

#endif
