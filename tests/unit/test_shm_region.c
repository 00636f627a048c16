/*
 * The memslot allocator and a device's shared-memory region, with a fake
 * KVM that records the slots it is given: what the guest would see at
 * each address is read back through the recorded host pointer. Every
 * hostile request (unaligned, outside, overlapping, a pipe, a short or
 * read-only file, too many) is refused and leaves nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "vmm/shm_region.h"

#define FIRST_SLOT 2		/* 0 and 1: guest RAM */
#define LIMIT 6
#define REGION (1u << 20)
#define BASE 0x800000000ull
#define PAGE 4096u

static struct kvm_userspace_memory_region fake_kvm[MEMSLOTS_MAX];

static int fake_set(void *ctx, const struct kvm_userspace_memory_region *r)
{
	(void)ctx;
	fake_kvm[r->slot] = *r;
	return 0;
}

/* What the guest reads at gpa, through whichever slot holds it; 0 if none. */
static uint8_t guest_read(uint64_t gpa)
{
	for (unsigned s = 0; s < MEMSLOTS_MAX; s++) {
		const struct kvm_userspace_memory_region *r = &fake_kvm[s];

		if (r->memory_size && gpa >= r->guest_phys_addr &&
		    gpa < r->guest_phys_addr + r->memory_size)
			return *(uint8_t *)(uintptr_t)(r->userspace_addr + gpa - r->guest_phys_addr);
	}
	return 0;
}

static unsigned slots_in_use(void)
{
	unsigned n = 0;

	for (unsigned s = 0; s < MEMSLOTS_MAX; s++)
		n += fake_kvm[s].memory_size != 0;
	return n;
}

static int memfd_with(uint8_t fill, size_t size)
{
	int fd = memfd_create("shm-test", MFD_CLOEXEC);
	uint8_t *buf = malloc(size);

	memset(buf, fill, size);
	CHECK_EQ(write(fd, buf, size), (ssize_t)size);
	free(buf);
	return fd;
}

static void test_map_move_unmap(struct memslots *ms)
{
	struct shm_region r;
	int a = memfd_with(0xaa, 2 * PAGE), b = memfd_with(0xbb, PAGE);

	shm_region_init(&r, 1, REGION, ms);
	CHECK_EQ(shm_region_map(&r, 0, a, PAGE, PAGE, SHM_PROT_READ | SHM_PROT_WRITE), 0);
	CHECK_EQ(slots_in_use(), 0);			/* not decoded yet */
	shm_region_move(&r, BASE);
	CHECK_EQ(slots_in_use(), 1);
	CHECK_EQ(guest_read(BASE), 0xaa);
	CHECK_EQ(fake_kvm[FIRST_SLOT].flags, 0);
	CHECK_EQ(shm_region_map(&r, 4 * PAGE, b, 0, PAGE, SHM_PROT_READ), 0);
	CHECK_EQ(guest_read(BASE + 4 * PAGE), 0xbb);
	CHECK_EQ(fake_kvm[FIRST_SLOT + 1].flags, KVM_MEM_READONLY);
	shm_region_move(&r, 2 * BASE);			/* the guest moved the BAR */
	CHECK_EQ(guest_read(BASE), 0);
	CHECK_EQ(guest_read(2 * BASE), 0xaa);
	CHECK_EQ(guest_read(2 * BASE + 4 * PAGE), 0xbb);
	shm_region_move(&r, 0);				/* memory decode off */
	CHECK_EQ(slots_in_use(), 0);
	shm_region_move(&r, BASE);
	CHECK_EQ(shm_region_unmap(&r, 0), 0);
	CHECK_EQ(shm_region_unmap(&r, 0), -EINVAL);
	CHECK_EQ(guest_read(BASE), 0);
	CHECK_EQ(guest_read(BASE + 4 * PAGE), 0xbb);
	shm_region_clear(&r);
	CHECK_EQ(slots_in_use(), 0);
	CHECK_EQ(r.nr_mappings, 0);
	close(a);
	close(b);
}

static void test_hostile_requests(struct memslots *ms)
{
	struct shm_region r;
	int fd = memfd_with(1, 4 * PAGE), p[2], ro;
	char path[64];

	shm_region_init(&r, 1, REGION, ms);
	shm_region_move(&r, BASE);
	CHECK_EQ(shm_region_map(&r, 1, fd, 0, PAGE, SHM_PROT_READ), -EINVAL);	/* unaligned */
	CHECK_EQ(shm_region_map(&r, 0, fd, 1, PAGE, SHM_PROT_READ), -EINVAL);
	CHECK_EQ(shm_region_map(&r, 0, fd, 0, PAGE + 1, SHM_PROT_READ), -EINVAL);
	CHECK_EQ(shm_region_map(&r, 0, fd, 0, 0, SHM_PROT_READ), -EINVAL);
	CHECK_EQ(shm_region_map(&r, REGION, fd, 0, PAGE, SHM_PROT_READ), -EINVAL);	/* outside */
	CHECK_EQ(shm_region_map(&r, REGION - PAGE, fd, 0, 2 * PAGE, SHM_PROT_READ), -EINVAL);
	CHECK_EQ(shm_region_map(&r, PAGE, fd, 0, UINT64_MAX - PAGE + 1, SHM_PROT_READ), -EINVAL);
	CHECK_EQ(shm_region_map(&r, 0, fd, 0, 8 * PAGE, SHM_PROT_READ), -EINVAL);	/* short fd */
	CHECK_EQ(shm_region_map(&r, 0, fd, 4 * PAGE, PAGE, SHM_PROT_READ), -EINVAL);
	CHECK_EQ(shm_region_map(&r, 0, fd, 0, PAGE, SHM_PROT_WRITE), -EINVAL);	/* bad prot */
	CHECK_EQ(shm_region_map(&r, 0, fd, 0, PAGE, 0x10 | SHM_PROT_READ), -EINVAL);
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	CHECK_EQ(shm_region_map(&r, 0, p[0], 0, PAGE, SHM_PROT_READ), -EINVAL);	/* not a file */
	CHECK_EQ(shm_region_map(&r, 0, -1, 0, PAGE, SHM_PROT_READ), -EINVAL);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	CHECK_EQ(shm_region_map(&r, 0, ro, 0, PAGE, SHM_PROT_READ | SHM_PROT_WRITE), -EACCES);
	CHECK_EQ(shm_region_map(&r, 0, ro, 0, PAGE, SHM_PROT_READ), 0);	/* read-only is fine */
	CHECK_EQ(fake_kvm[FIRST_SLOT].flags, KVM_MEM_READONLY);
	CHECK_EQ(shm_region_map(&r, 2 * PAGE, fd, 0, 2 * PAGE, SHM_PROT_READ), 0);
	CHECK_EQ(shm_region_map(&r, PAGE, fd, 0, 2 * PAGE, SHM_PROT_READ), -EINVAL);	/* overlap */
	CHECK_EQ(shm_region_map(&r, 3 * PAGE, fd, 0, PAGE, SHM_PROT_READ), -EINVAL);
	CHECK_EQ(slots_in_use(), 2);
	CHECK_EQ(r.nr_mappings, 2);
	shm_region_clear(&r);
	close(ro);
	close(p[0]);
	close(p[1]);
	close(fd);
}

/* LIMIT - FIRST_SLOT slots: the next map fails and takes nothing; an
 * unmapped one's slot is reused. */
static void test_slots_bounded_and_reused(struct memslots *ms)
{
	struct shm_region r;
	int fd = memfd_with(7, PAGE);
	unsigned n = LIMIT - FIRST_SLOT;

	shm_region_init(&r, 2, REGION, ms);
	shm_region_move(&r, BASE);
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(shm_region_map(&r, i * PAGE, fd, 0, PAGE, SHM_PROT_READ), 0);
	CHECK_EQ(shm_region_map(&r, n * PAGE, fd, 0, PAGE, SHM_PROT_READ), -ENOSPC);
	CHECK_EQ(r.nr_mappings, n);
	CHECK_EQ(shm_region_unmap(&r, PAGE), 0);
	CHECK_EQ(shm_region_map(&r, n * PAGE, fd, 0, PAGE, SHM_PROT_READ), 0);
	CHECK_EQ(fake_kvm[FIRST_SLOT + 1].guest_phys_addr, BASE + n * PAGE);
	CHECK_EQ(fake_kvm[LIMIT].memory_size, 0);	/* never past the limit */
	shm_region_clear(&r);
	close(fd);
}

static void test_mapping_bound(void)
{
	struct memslots ms;
	struct shm_region r;
	int fd = memfd_with(3, PAGE);

	CHECK_EQ(memslots_init(&ms, FIRST_SLOT, MEMSLOTS_MAX, fake_set, NULL), 0);
	shm_region_init(&r, 3, (uint64_t)2 * SHM_MAX_MAPPINGS * PAGE, &ms);
	for (unsigned i = 0; i < SHM_MAX_MAPPINGS; i++)
		CHECK_EQ(shm_region_map(&r, i * PAGE, fd, 0, PAGE, SHM_PROT_READ), 0);
	CHECK_EQ(shm_region_map(&r, SHM_MAX_MAPPINGS * PAGE, fd, 0, PAGE, SHM_PROT_READ), -ENOSPC);
	shm_region_clear(&r);
	memslots_destroy(&ms);
	close(fd);
}

int main(void)
{
	struct memslots ms;

	CHECK_EQ(memslots_init(&ms, 4, 4, fake_set, NULL), -EINVAL);
	CHECK_EQ(memslots_init(&ms, FIRST_SLOT, LIMIT, fake_set, NULL), 0);
	test_map_move_unmap(&ms);
	test_hostile_requests(&ms);
	test_slots_bounded_and_reused(&ms);
	memslots_destroy(&ms);
	test_mapping_bound();
	return check_report("test_shm_region");
}
