#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/memslots.h"

int memslots_init(struct memslots *ms, uint32_t first, uint32_t limit, memslots_set_fn set,
		  void *ctx)
{
	memset(ms, 0, sizeof(*ms));
	if (limit > MEMSLOTS_MAX)
		limit = MEMSLOTS_MAX;
	if (first >= limit || !set)
		return -EINVAL;
	pthread_mutex_init(&ms->lock, NULL);
	ms->set = set;
	ms->ctx = ctx;
	ms->first = first;
	ms->limit = limit;
	return 0;
}

uint32_t memslots_kvm_limit(int kvm_fd)
{
	int n = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);

	return n > 0 ? (uint32_t)n : 32;
}

int memslots_kvm_set(void *ctx, const struct kvm_userspace_memory_region *r)
{
	return ioctl(*(int *)ctx, KVM_SET_USER_MEMORY_REGION, r) ? -errno : 0;
}

static bool is_used(const struct memslots *ms, uint32_t slot)
{
	return ms->used[slot / 64] & (1ull << (slot % 64));
}

static void mark(struct memslots *ms, uint32_t slot, bool used)
{
	if (used)
		ms->used[slot / 64] |= 1ull << (slot % 64);
	else
		ms->used[slot / 64] &= ~(1ull << (slot % 64));
}

int memslots_install(struct memslots *ms, uint64_t gpa, uint64_t size, void *host, bool readonly)
{
	struct kvm_userspace_memory_region r = {
		.flags = readonly ? KVM_MEM_READONLY : 0, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (uintptr_t)host,
	};
	int rc = -ENOSPC;

	pthread_mutex_lock(&ms->lock);
	for (uint32_t slot = ms->first; slot < ms->limit; slot++) {
		if (is_used(ms, slot))
			continue;
		r.slot = slot;
		rc = ms->set(ms->ctx, &r);
		if (!rc) {
			mark(ms, slot, true);
			rc = (int)slot;
		}
		break;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

void memslots_remove(struct memslots *ms, int slot)
{
	struct kvm_userspace_memory_region r = { .slot = (uint32_t)slot };	/* size 0: delete */

	pthread_mutex_lock(&ms->lock);
	if (slot >= (int)ms->first && slot < (int)ms->limit && is_used(ms, (uint32_t)slot)) {
		ms->set(ms->ctx, &r);
		mark(ms, (uint32_t)slot, false);
	}
	pthread_mutex_unlock(&ms->lock);
}

void memslots_destroy(struct memslots *ms)
{
	for (uint32_t slot = ms->first; slot < ms->limit; slot++)
		memslots_remove(ms, (int)slot);
	pthread_mutex_destroy(&ms->lock);
}
