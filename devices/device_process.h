/*
 * The main loop of a device process: the device model (built in the VMM
 * before the fork, so the child inherits it), its control ring and its
 * queue eventfds, served from one io_uring. The guest RAM mapping is
 * inherited too (MAP_SHARED), so the child never opens anything.
 */
#ifndef VMSILO_DEVICE_PROCESS_H
#define VMSILO_DEVICE_PROCESS_H

#include "boot/guest_mem.h"
#include "sandbox/sandbox.h"
#include "devices/vdev.h"
#include "virtio/ctl_ring.h"

struct device_process {
	struct vdev *dev;
	struct ctl_ring_end ctl;	/* the device's end, attached before the fork */
};

/*
 * The syscalls the loop itself needs beyond the sandbox's base list (none
 * yet: the control ring is attached before the fork and io_uring does the
 * waiting); each device's policy starts with these.
 */
#define DEVICE_PROCESS_RULES \
	SANDBOX_ALLOW(getpid, "log lines name the process")

/* sandbox_spawn's child_main: returns the process exit status. */
int device_process_main(void *arg);

#endif
