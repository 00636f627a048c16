/*
 * kvm-hold: keep one idle KVM VM (with one vCPU) open for the life of L1.
 *
 * Why: creating or destroying the first/last VM makes KVM live-patch kernel
 * text (static keys).  QEMU 7.2's multi-threaded TCG sometimes keeps running
 * the stale code on the other vCPU, and L1 dies with "Oops: int3".  With one
 * VM held open, later VMs come and go without those transitions.
 *
 * Usage: kvm-hold            (returns once the VM exists; a child holds it)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "kvm-hold: /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fprintf(stderr, "kvm-hold: KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		fprintf(stderr, "kvm-hold: KVM_CREATE_VCPU: %s\n", strerror(errno));
		return 1;
	}

	/* The parent returns only after the VM exists, so the caller knows the
	 * code patching is over before it starts its own VMs. */
	pid_t pid = fork();
	if (pid < 0) {
		perror("kvm-hold: fork");
		return 1;
	}
	if (pid > 0)
		return 0;

	setsid();
	int devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
	}
	for (;;)
		pause();
}
