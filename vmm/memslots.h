/*
 * KVM memory slots beyond guest RAM's, for device shared-memory regions:
 * slots [first, limit) handed out lowest first, freed ones reused, limit
 * from KVM_CAP_NR_MEMSLOTS. The install function is KVM's ioctl in the
 * VMM and a recorder in tests.
 */
#ifndef VMSILO_MEMSLOTS_H
#define VMSILO_MEMSLOTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#define MEMSLOTS_MAX 512	/* bitmap size; KVM's own limit is lower or equal */

typedef int (*memslots_set_fn)(void *ctx, const struct kvm_userspace_memory_region *r);

struct memslots {
	pthread_mutex_t lock;
	memslots_set_fn set;
	void *ctx;
	uint32_t first, limit;
	uint64_t used[MEMSLOTS_MAX / 64];
};

/* limit is clamped to MEMSLOTS_MAX; -EINVAL unless first < limit. */
int memslots_init(struct memslots *ms, uint32_t first, uint32_t limit, memslots_set_fn set,
		  void *ctx);
/* KVM_CAP_NR_MEMSLOTS of /dev/kvm (or the VM fd), or 32 if it says nothing. */
uint32_t memslots_kvm_limit(int kvm_fd);
/* The VMM's set function: ctx is a pointer to the VM fd. */
int memslots_kvm_set(void *ctx, const struct kvm_userspace_memory_region *r);
/* Installs host memory at gpa in a free slot: the slot, or -ENOSPC, -errno. */
int memslots_install(struct memslots *ms, uint64_t gpa, uint64_t size, void *host, bool readonly);
/* Removes the slot from the guest and frees it. */
void memslots_remove(struct memslots *ms, int slot);
void memslots_destroy(struct memslots *ms);

#endif
