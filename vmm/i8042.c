#include <string.h>

#include "vmm/i8042.h"

#define I8042_CMD_RESET 0xfe

/* Range base is port 0x60; the command/status port is 0x64. */
void i8042_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct i8042 *kbd = opaque;

	if (!is_write) {
		memset(data, 0, len);	/* status 0: never busy, so waiters do not spin */
		return;
	}
	if (offset == 4 && data[0] == I8042_CMD_RESET)
		kbd->reset(kbd->ctx);
}
