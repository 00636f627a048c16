#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "boot/cpu_state.h"
#include "boot/cpuid.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define MSR_IA32_SYSENTER_CS	0x174
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_IA32_SYSENTER_EIP	0x176
#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MISC_ENABLE_FAST_STRING	(1ull << 0)
#define MTRR_ENABLE_WRITEBACK	((1ull << 11) | 6)	/* MTRRs on, default WB */
#define APIC_LVT_LINT0		0x350
#define APIC_LVT_LINT1		0x360
#define APIC_MODE_EXTINT	(7u << 8)
#define APIC_MODE_NMI		(4u << 8)

static int set_cpuid(struct vcpu *vcpu)
{
	struct kvm *kvm = &vcpu->vm->kvm;
	size_t size = sizeof(*kvm->cpuid) + kvm->cpuid_cap * sizeof(kvm->cpuid->entries[0]);
	struct kvm_cpuid2 *cpuid = malloc(size);
	unsigned n;
	int rc;

	if (!cpuid)
		return -1;
	memcpy(cpuid, kvm->cpuid, size);
	n = cpuid->nent;
	cpuid_set_topology(cpuid->entries, &n, kvm->cpuid_cap, vcpu->id, vcpu->vm->cfg->cpus);
	cpuid_set_features(cpuid->entries, n, kvm->tsc_deadline);
	cpuid->nent = n;
	rc = ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid);
	free(cpuid);
	return rc;
}

static int set_msrs(struct vcpu *vcpu)
{
	static const struct { uint32_t index; uint64_t value; } init[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 }, { MSR_LSTAR, 0 },
		{ MSR_CSTAR, 0 }, { MSR_SYSCALL_MASK, 0 }, { MSR_KERNEL_GS_BASE, 0 },
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WRITEBACK },
	};
	enum { N = sizeof(init) / sizeof(init[0]) };
	struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + N * sizeof(msrs->entries[0]));
	int rc;

	if (!msrs)
		return -1;
	msrs->nmsrs = N;
	for (unsigned i = 0; i < N; i++) {
		msrs->entries[i].index = init[i].index;
		msrs->entries[i].data = init[i].value;
	}
	rc = ioctl(vcpu->fd, KVM_SET_MSRS, msrs) == N ? 0 : -1;
	free(msrs);
	return rc;
}

static int set_fpu(struct vcpu *vcpu)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	return ioctl(vcpu->fd, KVM_SET_FPU, &fpu);
}

/* Virtual-wire mode, as firmware leaves it: LINT0 ExtINT, LINT1 NMI. */
static int set_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;
	uint32_t lint0 = APIC_MODE_EXTINT, lint1 = APIC_MODE_NMI;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic))
		return -1;
	memcpy(&lapic.regs[APIC_LVT_LINT0], &lint0, 4);
	memcpy(&lapic.regs[APIC_LVT_LINT1], &lint1, 4);
	return ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic);
}

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned id, char *err, size_t errlen)
{
	const char *step;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->kvm.vm_fd, KVM_CREATE_VCPU, id);
	if (vcpu->fd < 0) {
		step = "KVM_CREATE_VCPU";
		goto fail;
	}
	vcpu->run = mmap(NULL, vm->kvm.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		vcpu->run = NULL;
		step = "mmap kvm_run";
		goto fail;
	}
	/* A device forked later (whatever the creation order) must not inherit it. */
	if (madvise(vcpu->run, vm->kvm.run_size, MADV_DONTFORK)) {
		step = "madvise kvm_run";
		goto fail;
	}
	step = set_cpuid(vcpu) ? "KVM_SET_CPUID2" : set_msrs(vcpu) ? "KVM_SET_MSRS" :
	       set_fpu(vcpu) ? "KVM_SET_FPU" : set_lapic(vcpu) ? "KVM_SET_LAPIC" : NULL;
	if (!step)
		return 0;
fail:
	snprintf(err, errlen, "vcpu%u: %s: %s", id, step, strerror(errno));
	return -1;
}

int vcpu_set_boot_state(struct vcpu *vcpu, const struct boot_image *img)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs))
		return -1;
	cpu_state_boot_regs(img, &sregs, &regs);
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) || ioctl(vcpu->fd, KVM_SET_REGS, &regs))
		return -1;
	return 0;
}

static void dump_segment(const char *name, const struct kvm_segment *s)
{
	fprintf(stderr, "  %-3s sel=%04x base=%016llx limit=%08x type=%x dpl=%u p=%u l=%u db=%u\n",
		name, s->selector, (unsigned long long)s->base, s->limit, s->type, s->dpl,
		s->present, s->l, s->db);
}

/* One screen of state for a guest that died: what a developer asks first. */
static void dump_registers(struct vcpu *vcpu, const char *why)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	fprintf(stderr, "vmsilo-vmm: vcpu%u: %s\n", vcpu->id, why);
	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) || ioctl(vcpu->fd, KVM_GET_SREGS, &s))
		return;
	fprintf(stderr,
		"  rip=%016llx rsp=%016llx rflags=%016llx\n"
		"  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
		"  rsi=%016llx rdi=%016llx rbp=%016llx r8 =%016llx\n"
		"  r9 =%016llx r10=%016llx r11=%016llx r12=%016llx\n"
		"  r13=%016llx r14=%016llx r15=%016llx\n"
		"  cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx efer=%016llx\n",
		r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp,
		r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15,
		s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	dump_segment("cs", &s.cs);
	dump_segment("ss", &s.ss);
	dump_segment("ds", &s.ds);
	dump_segment("tr", &s.tr);
	fprintf(stderr, "  gdt=%016llx/%04x idt=%016llx/%04x\n",
		(unsigned long long)s.gdt.base, s.gdt.limit,
		(unsigned long long)s.idt.base, s.idt.limit);
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		bus_access(&vcpu->vm->pio, run->io.port, data, run->io.size, is_write);
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned len = run->mmio.len <= 8 ? run->mmio.len : 8;

	bus_access(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
		   run->mmio.is_write);
}

static void handle_system_event(struct vcpu *vcpu)
{
	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_exit(vcpu->vm, VM_EXIT_POWEROFF);
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_exit(vcpu->vm, VM_EXIT_RESET);
		break;
	default:
		dump_registers(vcpu, "guest crashed (KVM system event)");
		vm_request_exit(vcpu->vm, VM_EXIT_CRASH);
		break;
	}
}

/* Returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *vcpu)
{
	char why[96];

	switch (vcpu->run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(vcpu);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(vcpu);
		return false;
	case KVM_EXIT_SHUTDOWN:
		dump_registers(vcpu, "triple fault: the guest CPU reset itself unexpectedly");
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why), "KVM internal error (suberror %u)",
			 vcpu->run->internal.suberror);
		dump_registers(vcpu, why);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "VM entry failed (hardware reason 0x%llx)",
			 (unsigned long long)vcpu->run->fail_entry.hardware_entry_failure_reason);
		dump_registers(vcpu, why);
		break;
	default:
		snprintf(why, sizeof(why), "unexpected KVM exit %u", vcpu->run->exit_reason);
		dump_registers(vcpu, why);
		break;
	}
	vm_request_exit(vcpu->vm, VM_EXIT_CRASH);
	return false;
}

/* Holds the vCPU while the VM is paused; an exit request lets it go. */
static void wait_at_gate(struct vm *vm)
{
	struct vcpu_gate *gate = &vm->gate;

	pthread_mutex_lock(&gate->lock);
	gate->parked++;
	pthread_cond_broadcast(&gate->cond);
	while (atomic_load(&gate->closed) && atomic_load(&vm->exit_reason) == VM_EXIT_NONE)
		pthread_cond_wait(&gate->cond, &gate->lock);
	gate->parked--;
	pthread_mutex_unlock(&gate->lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, vcpu_kick_signal());
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	while (atomic_load(&vm->exit_reason) == VM_EXIT_NONE) {
		if (atomic_load(&vm->gate.closed)) {
			wait_at_gate(vm);
			continue;
		}
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				continue;
			}
			log_err("vcpu%u: KVM_RUN: %s", vcpu->id, strerror(errno));
			vm_request_exit(vm, VM_EXIT_CRASH);
			break;
		}
		if (!handle_exit(vcpu))
			break;
	}
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig;
}

int vcpu_kick_signal(void)
{
	return SIGRTMIN;
}

int vcpu_start(struct vcpu *vcpu)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigaction(vcpu_kick_signal(), &sa, NULL);
	if (pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu))
		return -1;
	vcpu->running = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->running)
		return;
	vcpu->run->immediate_exit = 1;
	pthread_kill(vcpu->thread, vcpu_kick_signal());
}

void vcpu_join(struct vcpu *vcpu)
{
	if (vcpu->running)
		pthread_join(vcpu->thread, NULL);
	vcpu->running = false;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->kvm.run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

void vcpu_gate_init(struct vcpu_gate *gate)
{
	pthread_mutex_init(&gate->lock, NULL);
	pthread_cond_init(&gate->cond, NULL);
	atomic_init(&gate->closed, false);
	gate->parked = 0;
}

static unsigned running_vcpus(struct vm *vm)
{
	unsigned n = 0;

	for (unsigned i = 0; i < vm->cfg->cpus; i++)
		n += vm->vcpus[i].running;
	return n;
}

#define PAUSE_TIMEOUT_S 5

int vcpus_pause(struct vm *vm)
{
	struct vcpu_gate *gate = &vm->gate;
	unsigned want = running_vcpus(vm);
	struct timespec deadline;
	int rc = 0;

	atomic_store(&gate->closed, true);
	for (unsigned i = 0; i < vm->cfg->cpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += PAUSE_TIMEOUT_S;
	pthread_mutex_lock(&gate->lock);
	while (gate->parked < want && atomic_load(&vm->exit_reason) == VM_EXIT_NONE && !rc)
		rc = pthread_cond_timedwait(&gate->cond, &gate->lock, &deadline);
	pthread_mutex_unlock(&gate->lock);
	return rc ? -1 : 0;
}

void vcpus_resume(struct vm *vm)
{
	struct vcpu_gate *gate = &vm->gate;

	pthread_mutex_lock(&gate->lock);
	atomic_store(&gate->closed, false);
	pthread_cond_broadcast(&gate->cond);
	pthread_mutex_unlock(&gate->lock);
}

bool vcpus_paused(struct vm *vm)
{
	return atomic_load(&vm->gate.closed);
}
