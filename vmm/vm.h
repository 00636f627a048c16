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
#include "vmm/main_loop.h"
#include "vmm/memory.h"
#include "vmm/msi.h"
#include "vmm/pci.h"
#include "vmm/rtc.h"
#include "vmm/runtime_dir.h"
#include "vmm/serial.h"
#include "vmm/vcpu.h"
#include "vmm/virtio_pci.h"
#include "vmm/vm_device.h"

enum vm_exit {
	VM_EXIT_NONE,
	VM_EXIT_POWEROFF,	/* the guest powered off */
	VM_EXIT_RESET,		/* the guest asked for a reboot */
	VM_EXIT_CRASH,		/* triple fault, KVM internal error, host failure */
	VM_EXIT_STOPPED,	/* stopped from the host (signal, Ctrl-A x) */
};

struct vm;
struct virtiofsd_binary;

/* PCI slots 1..31 for virtio devices. How many a VM has comes from the
 * registry's per-kind max (test_registry: all fit). */
#define VM_MAX_DEVICES 31
/* What the host side hands the VM: where its files go, activated sockets. */
struct vm_host {
	struct runtime_dir *rundir;
	int command_fd;		/* command.socket (maybe from socket activation), or -1 */
	int vsock_fd;		/* vsock.socket, listening, or -1 */
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
	struct memslots memslots;	/* KVM slots after guest RAM's: shm regions */
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
	struct balloon_ctl *balloon;	/* NULL: no [balloon] (vm_attach_balloon) */
	struct virtiofsd_binary *virtiofsd;	/* found for the first share, NULL: none yet */
	bool ram_seal_said;		/* whether RAM's seals were looked at for backends */
};

/* Builds the VM from the config with an open console; -1 with a reason. */
int vm_create(struct vm *vm, const struct vm_config *cfg, struct console *console,
	      const struct vm_host *host, char *err, size_t errlen);
/* Runs until the guest or the host ends it; returns the reason. */
enum vm_exit vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);
const char *vm_exit_name(enum vm_exit reason);
/* Presses the guest's ACPI power button and logs why (SIGTERM, control
 * socket, idle shutdown). Main-loop thread only. */
void vm_press_power_button(struct vm *vm, const char *why);
/* Records the first reason and wakes the main loop; safe from any thread. */
void vm_request_exit(struct vm *vm, enum vm_exit reason);

#endif
