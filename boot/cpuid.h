/*
 * CPUID as the guest sees it: what KVM supports, with a topology of one
 * socket of nr_cpus single-threaded cores and APIC id = vCPU index.
 */
#ifndef VMSILO_CPUID_H
#define VMSILO_CPUID_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

/* Bits needed to number nr cores: ceil(log2(nr)). */
unsigned cpuid_core_bits(unsigned nr);
/* Rewrites the topology leaves of entries[0..*n) for vCPU cpu; appends the
 * extended topology leaf 0xB when the basic range covers it and it is
 * missing (needs room for 3 more entries: cap >= *n + 3). */
void cpuid_set_topology(struct kvm_cpuid_entry2 *entries, unsigned *n, unsigned cap,
			unsigned cpu, unsigned nr_cpus);
/* Announces the hypervisor (KVM leaves 0x40000000.. hold kvmclock and the
 * other paravirtual features) and the LAPIC TSC-deadline timer when KVM
 * emulates it; KVM reports neither bit itself. */
void cpuid_set_features(struct kvm_cpuid_entry2 *entries, unsigned n, bool tsc_deadline);
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *entries, unsigned n,
				    uint32_t function, uint32_t index);

#endif
