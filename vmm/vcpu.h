/* vCPU creation, register setup and the KVM_RUN loop. */
#ifndef VMSILO_VCPU_H
#define VMSILO_VCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <linux/kvm.h>

#include "boot/loader.h"

struct vm;

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

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned id, char *err, size_t errlen);
/* Puts the boot vCPU at the kernel's entry point. */
int vcpu_set_boot_state(struct vcpu *vcpu, const struct boot_image *img);
int vcpu_start(struct vcpu *vcpu);
/* Forces a vCPU out of KVM_RUN; it then sees the exit request. */
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);
/* The signal used to kick vCPUs; main blocks it, vCPU threads unblock it. */
int vcpu_kick_signal(void);

/*
 * Pausing: every running vCPU is kicked out of KVM_RUN and held before
 * entering it again. vcpus_pause returns once all are held (0), or -1
 * when they are not after a few seconds (they stay asked to stop).
 * vcpus_resume lets them run; both are harmless when already done.
 */
void vcpu_gate_init(struct vcpu_gate *gate);
int vcpus_pause(struct vm *vm);
void vcpus_resume(struct vm *vm);
bool vcpus_paused(struct vm *vm);

#endif
