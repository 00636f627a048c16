#include <stdbool.h>
#include <string.h>

#include "boot/cpuid.h"

#define LEVEL_TYPE_SMT	1
#define LEVEL_TYPE_CORE	2
#define CPUID1_EDX_HTT	(1u << 28)
#define CPUID1_ECX_TSC_DEADLINE	(1u << 24)
#define CPUID1_ECX_HYPERVISOR	(1u << 31)
#define EXT1_ECX_CMP_LEGACY (1u << 1)

unsigned cpuid_core_bits(unsigned nr)
{
	unsigned bits = 0;

	while ((1u << bits) < nr)
		bits++;
	return bits;
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *entries, unsigned n,
				    uint32_t function, uint32_t index)
{
	for (unsigned i = 0; i < n; i++) {
		bool indexed = entries[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

		if (entries[i].function == function && (!indexed || entries[i].index == index))
			return &entries[i];
	}
	return NULL;
}

static bool is_amd(struct kvm_cpuid_entry2 *entries, unsigned n)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(entries, n, 0, 0);

	/* "AuthenticAMD" or "HygonGenuine": EBX "Auth" / "Hygo" */
	return e && (e->ebx == 0x68747541 || e->ebx == 0x6f677948);
}

static void set_leaf1(struct kvm_cpuid_entry2 *e, unsigned cpu, unsigned nr)
{
	e->ebx &= 0x0000ffff;
	e->ebx |= cpu << 24 | (1u << cpuid_core_bits(nr)) << 16;
	if (nr > 1)
		e->edx |= CPUID1_EDX_HTT;
	else
		e->edx &= ~CPUID1_EDX_HTT;
}

/* Intel deterministic cache leaf: cores per package and sharing per level. */
static void set_leaf4(struct kvm_cpuid_entry2 *e, unsigned nr)
{
	unsigned level = (e->eax >> 5) & 7;
	unsigned cores = (1u << cpuid_core_bits(nr)) - 1;
	unsigned sharing = level >= 3 ? cores : 0;

	e->eax = (e->eax & 0x3fff) | sharing << 14 | cores << 26;
}

static void fill_ext_topology(struct kvm_cpuid_entry2 *e, uint32_t function,
			      uint32_t index, unsigned cpu, unsigned nr)
{
	e->function = function;
	e->index = index;
	e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	e->edx = cpu;
	switch (index) {
	case 0:		/* SMT level: one thread per core */
		e->eax = 0;
		e->ebx = 1;
		e->ecx = LEVEL_TYPE_SMT << 8;
		break;
	case 1:		/* core level: all vCPUs in one package */
		e->eax = cpuid_core_bits(nr);
		e->ebx = nr;
		e->ecx = LEVEL_TYPE_CORE << 8 | 1;
		break;
	default:	/* end of the list */
		e->eax = 0;
		e->ebx = 0;
		e->ecx = index;
		break;
	}
}

static void set_ext_topology(struct kvm_cpuid_entry2 *entries, unsigned *n, unsigned cap,
			     uint32_t function, unsigned cpu, unsigned nr)
{
	struct kvm_cpuid_entry2 *max = cpuid_find(entries, *n, 0, 0);

	if (!max || max->eax < function)
		return;
	for (uint32_t index = 0; index < 3; index++) {
		struct kvm_cpuid_entry2 *e = cpuid_find(entries, *n, function, index);

		if (!e) {
			if (*n >= cap)
				return;
			e = &entries[(*n)++];
			memset(e, 0, sizeof(*e));
		}
		fill_ext_topology(e, function, index, cpu, nr);
	}
	/* Higher subleaves KVM may have reported from the host are dropped. */
	for (unsigned i = 0; i < *n; i++)
		if (entries[i].function == function && entries[i].index >= 3)
			entries[i] = entries[--(*n)], i--;
}

static void set_amd_leaves(struct kvm_cpuid_entry2 *entries, unsigned n,
			   unsigned cpu, unsigned nr)
{
	struct kvm_cpuid_entry2 *e;

	e = cpuid_find(entries, n, 0x80000001, 0);
	if (e && nr > 1)
		e->ecx |= EXT1_ECX_CMP_LEGACY;
	else if (e)
		e->ecx &= ~EXT1_ECX_CMP_LEGACY;
	e = cpuid_find(entries, n, 0x80000008, 0);
	if (e)
		e->ecx = (e->ecx & ~0xf0ffu) | cpuid_core_bits(nr) << 12 | (nr - 1);
	e = cpuid_find(entries, n, 0x8000001e, 0);
	if (e) {
		e->eax = cpu;
		e->ebx = cpu & 0xff;	/* core id; threads per core - 1 = 0 */
		e->ecx = 0;		/* node 0, one node per package */
	}
}

void cpuid_set_topology(struct kvm_cpuid_entry2 *entries, unsigned *n, unsigned cap,
			unsigned cpu, unsigned nr_cpus)
{
	for (unsigned i = 0; i < *n; i++) {
		if (entries[i].function == 1)
			set_leaf1(&entries[i], cpu, nr_cpus);
		else if (entries[i].function == 4 && !is_amd(entries, *n))
			set_leaf4(&entries[i], nr_cpus);
	}
	set_ext_topology(entries, n, cap, 0xb, cpu, nr_cpus);
	if (cpuid_find(entries, *n, 0x1f, 0))
		set_ext_topology(entries, n, cap, 0x1f, cpu, nr_cpus);
	if (is_amd(entries, *n))
		set_amd_leaves(entries, *n, cpu, nr_cpus);
}

void cpuid_set_features(struct kvm_cpuid_entry2 *entries, unsigned n, bool tsc_deadline)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(entries, n, 1, 0);

	if (!e)
		return;
	e->ecx |= CPUID1_ECX_HYPERVISOR;
	if (tsc_deadline)
		e->ecx |= CPUID1_ECX_TSC_DEADLINE;
}
