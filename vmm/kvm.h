/* /dev/kvm, the VM file descriptor and VM-wide KVM state. */
#ifndef VMSILO_KVM_H
#define VMSILO_KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

struct kvm {
	int sys_fd;		/* /dev/kvm */
	int vm_fd;
	size_t run_size;	/* size of each vCPU's kvm_run mapping */
	struct kvm_cpuid2 *cpuid;	/* KVM_GET_SUPPORTED_CPUID, with spare room */
	unsigned cpuid_cap;
	bool tsc_deadline;	/* the in-kernel LAPIC emulates TSC-deadline */
};

/* Opens /dev/kvm and checks what we need; -1 with a one-line reason. */
int kvm_open(struct kvm *kvm, char *err, size_t errlen);
/* Creates the VM with in-kernel IRQ chips and PIT. */
int kvm_create_vm(struct kvm *kvm, char *err, size_t errlen);
int kvm_add_memory(struct kvm *kvm, unsigned slot, uint64_t gpa, uint64_t size, void *host);
/* Drives an interrupt line of the in-kernel PIC/IOAPIC. */
void kvm_set_irq(struct kvm *kvm, unsigned irq, bool level);
void kvm_destroy_vm(struct kvm *kvm);
void kvm_close(struct kvm *kvm);

#endif
