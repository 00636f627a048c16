/*
 * A virtio device of the VM: its model, the link it runs behind (a jailed
 * child today), its PCI function, and the link's fds in the main loop.
 * vm.c builds them; this file is how the rest of the VMM sees one.
 */
#ifndef VMSILO_VM_DEVICE_H
#define VMSILO_VM_DEVICE_H

#include "devices/vdev.h"
#include "virtio/vdev_link.h"
#include "vmm/virtio_pci.h"

struct vm;
struct vm_device;
struct virtiofsd;

/* One of the link's watch slots, as registered in the main loop. */
struct vm_device_watch {
	struct vm_device *d;
	unsigned slot;
	int fd;			/* registered, -1: none */
};

struct vm_device {
	struct vdev dev;
	struct vdev_link *link;		/* NULL until started; owns the process */
	struct virtio_pci transport;
	struct vm_device_watch watch[VDEV_LINK_MAX_WATCHES];
	char name[16];			/* "blk0", "rng0" */
	bool essential;			/* its death stops the VM (the root disk) */
	const char *essential_what;	/* "the root disk", for the message */
	bool plugged;
	bool dead_seen;			/* its death was acted on */
	struct virtiofsd *virtiofsd;	/* the share's backend, if the VMM started it */
	/* Optional: the VMM's side of the device hears of its death once. */
	void (*on_death)(void *ctx);
	void *death_ctx;
};

/* Puts the link's fds in the main loop; -1 when the watch table is full. */
int vm_device_watch(struct vm *vm, struct vm_device *d);
/* "running", "needs-reset" or "dead", for the control socket. */
const char *vm_device_state(struct vm_device *d);
/* The device's process (or the backend the VMM started), 0 if none. */
pid_t vm_device_pid(struct vm_device *d);
/* Takes the link out of the main loop, then stops it and unplugs. */
void vm_device_stop(struct vm *vm, struct vm_device *d);

#endif
