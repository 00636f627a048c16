/*
 * What a VM may be called: the config's name key, the host tools'
 * NAME argument and the runtime directory <runtime_dir>/<name>/ all
 * take this one rule. And where a VM's runtime directory is by default.
 */
#ifndef VMSILO_VM_NAME_H
#define VMSILO_VM_NAME_H

#include <stdbool.h>

#define VM_NAME_MAX_LEN 64

/* The default runtime_dir, the VMM's and the host tools' alike. */
#define VMSILO_DEFAULT_RUNTIME_DIR "/run/vmsilo"

enum vm_name_error {
	VM_NAME_OK,
	VM_NAME_BAD_LENGTH,	/* not 1..VM_NAME_MAX_LEN characters */
	VM_NAME_BAD_CHAR,	/* not all of [A-Za-z0-9_.-] */
	VM_NAME_DOTS,		/* "." or "..": not a directory of its own */
	VM_NAME_LEADING_DASH,	/* "-x": every host tool would take it for an option */
};

enum vm_name_error vm_name_check(const char *name);
bool vm_name_valid(const char *name);

#endif
