/*
 * A vCPU's kvm_run mapping is not inherited by a process forked after the
 * vCPU was made (a device child): needs /dev/kvm, else skipped (77).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "vmm/config.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* In a child: 0 if the page at p is not mapped there, 1 if it is. */
static int page_mapped(void *p)
{
	unsigned char vec;

	if (mincore(p, 1, &vec) == 0)
		return 1;
	return errno == ENOMEM ? 0 : 2;
}

int main(void)
{
	static const struct vm_config cfg = { .cpus = 1 };
	static struct vm vm = { .cfg = &cfg };
	struct vcpu vcpu;
	char err[256] = "no access";
	int status;
	pid_t pid;

	setenv("VMSILO_ALLOW_NO_HWVIRT", "1", 1);	/* the vCPU never runs */
	if (access("/dev/kvm", R_OK | W_OK) || kvm_open(&vm.kvm, err, sizeof(err)) ||
	    kvm_create_vm(&vm.kvm, err, sizeof(err))) {
		fprintf(stderr, "no usable /dev/kvm (%s): skipped\n", err);
		return 77;
	}
	CHECK_EQ(vcpu_create(&vm, &vcpu, 0, err, sizeof(err)), 0);
	CHECK_EQ(page_mapped(vcpu.run), 1);
	pid = fork();
	if (pid == 0)
		_exit(page_mapped(vcpu.run));
	CHECK(pid > 0);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);	/* 1: the child has the mapping */
	vcpu_destroy(&vcpu);
	kvm_destroy_vm(&vm.kvm);
	kvm_close(&vm.kvm);
	return check_report("test_vcpu_fork");
}
