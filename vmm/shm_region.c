#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "vmm/log.h"
#include "vmm/shm_region.h"

#define PAGE 4096u

void shm_region_init(struct shm_region *r, uint8_t id, uint64_t size, struct memslots *slots)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->size = size;
	r->slots = slots;
}

static bool range_ok(const struct shm_region *r, uint64_t offset, uint64_t size)
{
	if (!size || (offset | size) % PAGE || offset > r->size || size > r->size - offset)
		return false;
	for (unsigned i = 0; i < SHM_MAX_MAPPINGS; i++) {
		const struct shm_mapping *m = &r->maps[i];

		if (m->used && offset < m->offset + m->size && m->offset < offset + size)
			return false;
	}
	return true;
}

/* A regular file (memfds are) holding [fd_offset, fd_offset + size). */
static int fd_ok(int fd, uint64_t fd_offset, uint64_t size, uint32_t prot, bool *readonly)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || fd_offset % PAGE ||
	    fd_offset > (uint64_t)st.st_size || size > (uint64_t)st.st_size - fd_offset)
		return -EINVAL;
	if (!(prot & SHM_PROT_READ) || (prot & ~(SHM_PROT_READ | SHM_PROT_WRITE)) ||
	    (fl & O_ACCMODE) == O_WRONLY)
		return -EINVAL;
	if ((prot & SHM_PROT_WRITE) && (fl & O_ACCMODE) != O_RDWR)
		return -EACCES;
	*readonly = !(prot & SHM_PROT_WRITE);
	return 0;
}

static struct shm_mapping *free_mapping(struct shm_region *r)
{
	for (unsigned i = 0; i < SHM_MAX_MAPPINGS; i++)
		if (!r->maps[i].used)
			return &r->maps[i];
	return NULL;
}

static int install(struct shm_region *r, struct shm_mapping *m)
{
	m->slot = -1;
	if (!r->base)
		return 0;
	m->slot = memslots_install(r->slots, r->base + m->offset, m->size, m->host, m->readonly);
	return m->slot < 0 ? m->slot : 0;
}

int shm_region_map(struct shm_region *r, uint64_t offset, int fd, uint64_t fd_offset,
		   uint64_t size, uint32_t prot)
{
	struct shm_mapping *m = free_mapping(r);
	bool readonly;
	void *host;
	int rc;

	if (!range_ok(r, offset, size))
		return -EINVAL;
	rc = fd_ok(fd, fd_offset, size, prot, &readonly);
	if (rc)
		return rc;
	if (!m)
		return -ENOSPC;
	host = mmap(NULL, size, PROT_READ | (readonly ? 0 : PROT_WRITE), MAP_SHARED, fd,
		    (off_t)fd_offset);
	if (host == MAP_FAILED)
		return -errno;
	*m = (struct shm_mapping){ true, readonly, offset, size, host, -1 };
	rc = install(r, m);
	if (rc) {
		munmap(host, size);
		m->used = false;
		return rc;
	}
	r->nr_mappings++;
	return 0;
}

static void drop(struct shm_region *r, struct shm_mapping *m)
{
	if (m->slot >= 0)
		memslots_remove(r->slots, m->slot);
	munmap(m->host, m->size);
	m->used = false;
	r->nr_mappings--;
}

int shm_region_unmap(struct shm_region *r, uint64_t offset)
{
	for (unsigned i = 0; i < SHM_MAX_MAPPINGS; i++) {
		if (r->maps[i].used && r->maps[i].offset == offset) {
			drop(r, &r->maps[i]);
			return 0;
		}
	}
	return -EINVAL;
}

/* A mapping whose slot cannot be re-installed stays mapped, unseen by the guest. */
void shm_region_move(struct shm_region *r, uint64_t base)
{
	if (base == r->base)
		return;
	for (unsigned i = 0; i < SHM_MAX_MAPPINGS; i++)
		if (r->maps[i].used && r->maps[i].slot >= 0) {
			memslots_remove(r->slots, r->maps[i].slot);
			r->maps[i].slot = -1;
		}
	r->base = base;
	for (unsigned i = 0; i < SHM_MAX_MAPPINGS; i++)
		if (r->maps[i].used && install(r, &r->maps[i]))
			log_ratelimited(LOG_WARN, "shm region %u: a mapping at %#llx has no memslot",
					r->id, (unsigned long long)r->maps[i].offset);
}

void shm_region_clear(struct shm_region *r)
{
	for (unsigned i = 0; i < SHM_MAX_MAPPINGS; i++)
		if (r->maps[i].used)
			drop(r, &r->maps[i]);
}
