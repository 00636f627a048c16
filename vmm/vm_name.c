#include "vmm/vm_name.h"

#include <string.h>

enum vm_name_error vm_name_check(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > VM_NAME_MAX_LEN)
		return VM_NAME_BAD_LENGTH;
	if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != len)
		return VM_NAME_BAD_CHAR;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return VM_NAME_DOTS;
	if (name[0] == '-')
		return VM_NAME_LEADING_DASH;
	return VM_NAME_OK;
}

bool vm_name_valid(const char *name)
{
	return vm_name_check(name) == VM_NAME_OK;
}
