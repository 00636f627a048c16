/*
 * A VM's runtime directory, <runtime_dir>/<name>, as a host tool running
 * as root must open it: the VM's user owns it and may have swapped it for
 * a link. Shared by vm_socket.c and vm_console.c.
 */
#ifndef VMSILO_VM_DIR_H
#define VMSILO_VM_DIR_H

#include <sys/types.h>

/* An O_PATH handle on the directory and its owner in *owner; -1 with
 * errno, EPERM when <name> is a link or not a directory. */
int vm_dir_open(const char *runtime_dir, const char *name, uid_t *owner);
/* Closes fd (if open) and fails with EPERM: what the VM's user rigged. */
int vm_dir_refuse(int fd);

#endif
