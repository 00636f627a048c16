/*
 * Opening a VM's console PTY through the link its VMM publishes as
 * <runtime_dir>/<name>/console.
 */
#ifndef VMSILO_VM_CONSOLE_H
#define VMSILO_VM_CONSOLE_H

/*
 * The PTY read-write, non-blocking, close-on-exec and never our
 * controlling terminal; or -1 with errno: ENOENT (no console link),
 * EPERM (refused: not the VM's console PTY), ENAMETOOLONG, or open's.
 */
int vm_console_open(const char *runtime_dir, const char *name);

#endif
