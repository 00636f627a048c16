#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/kvm.h"
#include "vmm/errfmt.h"
#include "vmm/log.h"

/* Intel VMX needs these two pages below 4 GiB; they sit in the PCI hole. */
#define KVM_IDENTITY_MAP_ADDR	0xfffbc000ull
#define KVM_TSS_ADDR		0xfffbd000ull
#define CPUID_SPARE		8

/* KVM without VT-x/AMD-V (a paravirtual or emulating KVM) cannot boot Linux. */
static bool host_has_hw_virt(void)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return true;	/* cannot tell: let KVM decide */
	while (!found && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5))
			found = strstr(line, " vmx") || strstr(line, " svm");
	fclose(f);
	return found;
}

static int open_dev_kvm(char *err, size_t errlen)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return errfmt(err, errlen,
			    "/dev/kvm does not exist: load the kvm-intel or kvm-amd module, or enable virtualisation in the firmware");
	if (errno == EACCES || errno == EPERM)
		return errfmt(err, errlen,
			    "/dev/kvm: permission denied: add this user to the 'kvm' group or run as root");
	return errfmt_sys(err, errlen, errno, "/dev/kvm");
}

static int check_caps(struct kvm *kvm, char *err, size_t errlen)
{
	static const struct { int cap; const char *name; } required[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
		{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
		{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	};

	if (ioctl(kvm->sys_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return errfmt(err, errlen, "/dev/kvm: unexpected KVM API version");
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, required[i].cap) <= 0)
			return errfmt(err, errlen, "/dev/kvm: the host kernel lacks %s; use Linux 5.10 or newer",
				    required[i].name);
	return 0;
}

static int get_supported_cpuid(struct kvm *kvm, char *err, size_t errlen)
{
	for (unsigned nent = 64; nent <= 4096; nent *= 2) {
		kvm->cpuid = calloc(1, sizeof(*kvm->cpuid) + nent * sizeof(kvm->cpuid->entries[0]));
		if (!kvm->cpuid)
			return errfmt(err, errlen, "out of memory");
		kvm->cpuid->nent = nent - CPUID_SPARE;
		if (!ioctl(kvm->sys_fd, KVM_GET_SUPPORTED_CPUID, kvm->cpuid)) {
			kvm->cpuid_cap = nent;
			return 0;
		}
		free(kvm->cpuid);
		kvm->cpuid = NULL;
		if (errno != E2BIG)
			break;
	}
	return errfmt_sys(err, errlen, errno, "/dev/kvm: KVM_GET_SUPPORTED_CPUID");
}

int kvm_open(struct kvm *kvm, char *err, size_t errlen)
{
	int size;

	memset(kvm, 0, sizeof(*kvm));
	kvm->vm_fd = -1;
	kvm->sys_fd = open_dev_kvm(err, errlen);
	if (kvm->sys_fd < 0)
		return -1;
	/* Tests of tiny non-Linux guests may run on such a KVM anyway. */
	if (!host_has_hw_virt() && !getenv("VMSILO_ALLOW_NO_HWVIRT")) {
		kvm_close(kvm);
		return errfmt(err, errlen,
			    "/dev/kvm: this host's CPU has no hardware virtualisation (no vmx/svm flag): Linux guests will not boot here; run inside the nested rig (tests/rig/rig.sh)");
	}
	size = ioctl(kvm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (check_caps(kvm, err, errlen) || size <= 0 ||
	    get_supported_cpuid(kvm, err, errlen)) {
		if (size <= 0 && !*err)
			errfmt(err, errlen, "/dev/kvm: KVM_GET_VCPU_MMAP_SIZE failed");
		kvm_close(kvm);
		return -1;
	}
	kvm->run_size = (size_t)size;
	kvm->tsc_deadline = ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	return 0;
}

int kvm_create_vm(struct kvm *kvm, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	kvm->vm_fd = ioctl(kvm->sys_fd, KVM_CREATE_VM, 0);
	if (kvm->vm_fd < 0)
		return errfmt_sys(err, errlen, errno, "KVM_CREATE_VM");
	if (ioctl(kvm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0 ||
	    ioctl(kvm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){ KVM_IDENTITY_MAP_ADDR }) < 0)
		return errfmt_sys(err, errlen, errno, "KVM_SET_TSS_ADDR");
	if (ioctl(kvm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return errfmt_sys(err, errlen, errno, "KVM_CREATE_IRQCHIP");
	if (ioctl(kvm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return errfmt_sys(err, errlen, errno, "KVM_CREATE_PIT2");
	return 0;
}

int kvm_add_memory(struct kvm *kvm, unsigned slot, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	return ioctl(kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
}

void kvm_set_irq(struct kvm *kvm, unsigned irq, bool level)
{
	struct kvm_irq_level line = { .irq = irq, .level = level };

	if (ioctl(kvm->vm_fd, KVM_IRQ_LINE, &line) < 0)
		log_ratelimited(LOG_WARN, "KVM_IRQ_LINE %u: %s", irq, strerror(errno));
}

void kvm_destroy_vm(struct kvm *kvm)
{
	if (kvm->vm_fd >= 0)
		close(kvm->vm_fd);
	kvm->vm_fd = -1;
}

void kvm_close(struct kvm *kvm)
{
	kvm_destroy_vm(kvm);
	if (kvm->sys_fd >= 0)
		close(kvm->sys_fd);
	kvm->sys_fd = -1;
	free(kvm->cpuid);
	kvm->cpuid = NULL;
}
