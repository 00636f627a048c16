/*
 * The VM's devices that an external vhost-user backend serves: a
 * [[vhost_user]] socket someone else started, or a share whose
 * virtiofsd the VMM starts, watches (pidfd) and restarts.
 */
#ifndef VMSILO_VM_VHOST_USER_H
#define VMSILO_VM_VHOST_USER_H

#include <stddef.h>

struct vm;
struct vm_device;
struct config_device;
struct device_env;

/* Fills d->link for a kind with .vhost_user; -1 with one line in err. */
int vm_vhost_user_link(struct vm *vm, struct vm_device *d, const struct config_device *cd,
		       const struct device_env *env, char *err, size_t errlen);
/* After the link is in the main loop: watch the backend's process, if ours. */
int vm_vhost_user_watch(struct vm *vm, struct vm_device *d);
/* After the link stopped (its connection closed): ends the backend we started. */
void vm_vhost_user_stop(struct vm *vm, struct vm_device *d);

#endif
