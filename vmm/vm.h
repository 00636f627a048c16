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
#include "vmm/runtime_dir.h"
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

/* PCI slots 1..31 for virtio devices: the bound for the poll loop. How many
 * a VM has comes from the registry's per-kind max (test_registry: all fit). */
#define VM_MAX_DEVICES 31
#define VM_MAX_WATCHES 32

/* A host fd the main loop polls for a service (control socket, agent). */
typedef void (*vm_watch_fn)(struct vm *vm, void *ctx, short revents);

struct vm_watch {
	int fd;			/* -1: a free slot */
	short events;
	vm_watch_fn fn;
	void *ctx;
};

/* What the host side hands the VM: where its files go, activated sockets. */
struct vm_host {
	struct runtime_dir *rundir;
	int command_fd;		/* command.socket (maybe from socket activation), or -1 */
	int vsock_fd;		/* vsock.socket, listening, or -1 */
};

/* A virtio device: its model, the process it runs in, its PCI function. */
struct vm_device {
	struct vdev dev;
	struct link_child child;
	struct virtio_pci transport;
	char name[16];			/* "blk0", "rng0" */
	bool essential;			/* its death stops the VM (the root disk) */
	const char *essential_what;	/* "the root disk" */
	bool started, plugged;
};

/* Holds the vCPUs out of KVM_RUN while the VM is paused (vcpu.c). */
struct vcpu_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	_Atomic bool closed;	/* paused: vCPUs wait here before KVM_RUN */
	unsigned parked;	/* how many wait */
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
	struct vm_device **devices;	/* one per config device section, NULL-terminated */
	unsigned nr_devices;
	struct vcpu *vcpus;
	struct vcpu_gate gate;
	const struct vm_host *host;
	struct vm_watch watches[VM_MAX_WATCHES];
	int wake_fd;		/* eventfd: an exit was requested */
	int serial_space_fd;	/* eventfd: the guest drained console input */
	_Atomic int exit_reason;
	int stop_signal;	/* for VM_EXIT_STOPPED by a signal */
	bool button_pressed;	/* the power button was pressed: the VM is stopping */
};

/* Builds the VM from the config with an open console; -1 with a reason. */
int vm_create(struct vm *vm, const struct vm_config *cfg, struct console *console,
	      const struct vm_host *host, char *err, size_t errlen);
/* Runs until the guest or the host ends it; returns the reason. */
enum vm_exit vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);
/* The signals the main loop handles (power button, stop); they must be
 * blocked in every thread before the VM runs. */
void vm_stop_signals(sigset_t *set);
const char *vm_exit_name(enum vm_exit reason);
/*
 * Polls fd for events in the main loop and calls fn with what came; a
 * second call for the same fd replaces the first, events 0 removes it.
 * Main-loop thread only (callbacks may add and remove watches). Returns -1
 * when all VM_MAX_WATCHES slots are taken.
 */
int vm_watch(struct vm *vm, int fd, short events, vm_watch_fn fn, void *ctx);
/* Presses the guest's ACPI power button and logs why (SIGTERM, control
 * socket, idle shutdown). Main-loop thread only. */
void vm_press_power_button(struct vm *vm, const char *why);
/* Records the first reason and wakes the main loop; safe from any thread. */
void vm_request_exit(struct vm *vm, enum vm_exit reason);

#endif
