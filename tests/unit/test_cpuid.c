/* CPUID topology: APIC ids, counts and extended topology leaves. */
#include <stdbool.h>

#include "boot/cpuid.h"
#include "check.h"

#define CAP 32

static unsigned fake_cpuid(struct kvm_cpuid_entry2 *e, bool amd)
{
	unsigned n = 0;

	e[n++] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0xd,
		.ebx = amd ? 0x68747541 : 0x756e6547 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 1, .ebx = 0x07ff0800, .edx = 0 };
	for (uint32_t level = 1; level <= 3; level++)
		e[n++] = (struct kvm_cpuid_entry2){ .function = 4, .index = level - 1,
			.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = level << 5 | 0x1 };
	/* A host-like 0xb with four subleaves: the fourth must disappear. */
	for (uint32_t i = 0; i < 4; i++)
		e[n++] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = i,
			.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 7, .ebx = 99 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x80000001, .ecx = 0 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x80000008, .ecx = 0x7007 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x8000001e, .eax = 5, .ebx = 0x105 };
	return n;
}

static void test_topology(unsigned nr, bool amd)
{
	for (unsigned cpu = 0; cpu < nr; cpu++) {
		struct kvm_cpuid_entry2 e[CAP];
		unsigned n = fake_cpuid(e, amd);
		unsigned bits = cpuid_core_bits(nr);
		struct kvm_cpuid_entry2 *l1, *b0, *b1, *b2, *x8, *x1e, *x1, *c3;

		cpuid_set_topology(e, &n, CAP, cpu, nr);
		l1 = cpuid_find(e, n, 1, 0);
		CHECK_EQ(l1->ebx >> 24, cpu);
		CHECK_EQ((l1->ebx >> 16) & 0xff, 1u << bits);
		CHECK_EQ(l1->ebx & 0xffff, 0x0800);	/* other fields kept */
		CHECK_EQ(!!(l1->edx & (1u << 28)), nr > 1);
		b0 = cpuid_find(e, n, 0xb, 0);
		b1 = cpuid_find(e, n, 0xb, 1);
		b2 = cpuid_find(e, n, 0xb, 2);
		CHECK(b0 && b1 && b2);
		CHECK(cpuid_find(e, n, 0xb, 3) == NULL);
		CHECK_EQ(b0->eax, 0);
		CHECK_EQ(b0->ebx, 1);
		CHECK_EQ(b0->ecx, 1 << 8);
		CHECK_EQ(b0->edx, cpu);
		CHECK_EQ(b1->eax, bits);
		CHECK_EQ(b1->ebx, nr);
		CHECK_EQ(b1->ecx, 2 << 8 | 1);
		CHECK_EQ(b1->edx, cpu);
		CHECK_EQ(b2->ecx & 0xff00, 0);
		x1 = cpuid_find(e, n, 0x80000001, 0);
		x8 = cpuid_find(e, n, 0x80000008, 0);
		x1e = cpuid_find(e, n, 0x8000001e, 0);
		c3 = cpuid_find(e, n, 4, 2);
		if (amd) {
			CHECK_EQ(x8->ecx & 0xff, nr - 1);
			CHECK_EQ((x8->ecx >> 12) & 0xf, bits);
			CHECK_EQ(x1e->eax, cpu);
			CHECK_EQ(x1e->ebx, cpu);
			CHECK_EQ(!!(x1->ecx & 2), nr > 1);
			CHECK_EQ(c3->eax, 3 << 5 | 1);	/* Intel leaf untouched on AMD */
		} else {
			CHECK_EQ(c3->eax >> 26, (1u << bits) - 1);
			CHECK_EQ((c3->eax >> 14) & 0xfff, (1u << bits) - 1);
			CHECK_EQ((cpuid_find(e, n, 4, 0)->eax >> 14) & 0xfff, 0);
		}
	}
}

static void test_adds_missing_leaf_b(void)
{
	struct kvm_cpuid_entry2 e[CAP] = {
		{ .function = 0, .eax = 0xd, .ebx = 0x756e6547 },
		{ .function = 1 },
	};
	unsigned n = 2;

	cpuid_set_topology(e, &n, CAP, 1, 2);
	CHECK_EQ(n, 5);
	CHECK(cpuid_find(e, n, 0xb, 1) && cpuid_find(e, n, 0xb, 1)->ebx == 2);
	/* No room: nothing appended, nothing overrun. */
	n = 2;
	cpuid_set_topology(e, &n, 2, 1, 2);
	CHECK_EQ(n, 2);
}

static void test_features(void)
{
	struct kvm_cpuid_entry2 e[CAP];
	unsigned n = fake_cpuid(e, false);

	cpuid_set_features(e, n, false);
	CHECK_EQ(cpuid_find(e, n, 1, 0)->ecx, 1u << 31);
	cpuid_set_features(e, n, true);
	CHECK_EQ(cpuid_find(e, n, 1, 0)->ecx, 1u << 31 | 1u << 24);
}

int main(void)
{
	test_features();
	static const unsigned counts[] = { 1, 2, 3, 4, 8, 64 };

	CHECK_EQ(cpuid_core_bits(1), 0);
	CHECK_EQ(cpuid_core_bits(2), 1);
	CHECK_EQ(cpuid_core_bits(3), 2);
	CHECK_EQ(cpuid_core_bits(4), 2);
	CHECK_EQ(cpuid_core_bits(5), 3);
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		test_topology(counts[i], false);
		test_topology(counts[i], true);
	}
	test_adds_missing_leaf_b();
	return check_report("test_cpuid");
}
