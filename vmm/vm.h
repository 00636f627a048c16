/* One virtual machine: KVM, guest memory, platform devices and vCPUs. */
#ifndef VMSILO_VM_H
#define VMSILO_VM_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "boot/guest_mem.h"
#include "vmm/acpi_pm.h"
#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/console.h"
#include "vmm/i8042.h"
#include "vmm/kvm.h"
#include "vmm/link_child.h"
#include "vmm/memory.h"
#include "vmm/msi.h"
#include "vmm/pci.h"
#include "vmm/rtc.h"
#include "vmm/serial.h"
#include "vmm/virtio_pci.h"

enum vm_exit {
	VM_EXIT_NONE,
	VM_EXIT_POWEROFF,	/* the guest powered off */
	VM_EXIT_RESET,		/* the guest asked for a reboot */
	VM_EXIT_CRASH,		/* triple fault, KVM internal error, host failure */
	VM_EXIT_STOPPED,	/* stopped from the host (signal, Ctrl-A x) */
};

struct vm;

#define VM_MAX_DEVICES 8

/* A virtio device: its model, the process it runs in, its PCI function. */
struct vm_device {
	struct vdev dev;
	struct link_child child;
	struct virtio_pci transport;
	char name[16];			/* "blk0", "rng0" */
	bool essential;			/* its death stops the VM (the root disk) */
	bool started, plugged;
};

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool running;
};

struct vm {
	const struct vm_config *cfg;
	struct console *console;
	struct kvm kvm;
	struct guest_ram ram;
	struct guest_mem mem;	/* the guest physical view of ram */
	struct bus pio, mmio;
	struct serial serial;
	struct rtc rtc;
	struct acpi_pm pm;
	struct pci_bus pci;
	struct i8042 kbd;
	struct msi_routes routes;
	struct vm_device *devices[VM_MAX_DEVICES];
	unsigned nr_devices;
	struct vcpu *vcpus;
	int wake_fd;		/* eventfd: an exit was requested */
	int serial_space_fd;	/* eventfd: the guest drained console input */
	_Atomic int exit_reason;
	int stop_signal;	/* for VM_EXIT_STOPPED by a signal */
};

/* Builds the VM from the config with an open console; -1 with a reason. */
int vm_create(struct vm *vm, const struct vm_config *cfg, struct console *console,
	      char *err, size_t errlen);
/* Runs until the guest or the host ends it; returns the reason. */
enum vm_exit vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);
/* The signals the main loop handles (power button, stop); they must be
 * blocked in every thread before the VM runs. */
void vm_stop_signals(sigset_t *set);
const char *vm_exit_name(enum vm_exit reason);
/* Records the first reason and wakes the main loop; safe from any thread. */
void vm_request_exit(struct vm *vm, enum vm_exit reason);

#endif
