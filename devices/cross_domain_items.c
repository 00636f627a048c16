/*
 * Items: the fds a cross-domain context holds for the guest, by id.
 * From the compositor (RECEIVE): memory the guest makes a blob of, the
 * write end of a pipe, an eventfd. For the compositor (SEND): the read
 * ends of pipes the guest asked for (cross_domain_send.c).
 *
 * Telling fds apart without /proc (the jail has none), from fstat:
 *   FIFO, opened O_WRONLY        -> WRITE_PIPE (other pipe ends: refused)
 *   regular file                 -> memory: a blob item. Kept as it is if
 *        sealed against shrinking, page-sized and mappable as opened;
 *        else copied (pread, at most CD_MAX_COPY) into a sealed memfd of
 *        ours. A dma-buf cannot be pread: refused, as dma-bufs are for now
 *   no file type (anonymous inode: eventfd, timerfd, epoll, ...)
 *        -> EVENT if an 8-byte write of 0 succeeds, which only an eventfd
 *           takes (and it leaves its counter as it was)
 *   anything else (socket, device, directory) -> refused
 * A refused fd is closed and reported; its message still goes through.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices/cross_domain_priv.h"
#include "devices/gpu.h"
#include "vmm/log.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define COPY_CHUNK	(64u << 10)

static uint64_t page_up(uint64_t n)
{
	return (n + CD_PAGE - 1) / CD_PAGE * CD_PAGE;
}

/* The fstat syscall itself: glibc's fstat is newfstatat, which takes a path. */
static int fd_stat(int fd, struct stat *st)
{
	return syscall(SYS_fstat, fd, st) ? -errno : 0;
}

struct cd_item *cd_item_find(struct cd_ctx *cd, uint64_t id)
{
	for (struct cd_item *it = cd->items; it; it = it->next)
		if (it->id == id)
			return it;
	return NULL;
}

struct cd_item *cd_item_new(struct cd_ctx *cd, enum cd_item_kind kind, int fd, uint32_t id)
{
	struct cd_item *it;

	if (!id || cd->nr_items >= CD_MAX_ITEMS || !(it = calloc(1, sizeof(*it))))
		return NULL;
	*it = (struct cd_item){ .next = cd->items, .id = id, .kind = kind, .fd = fd };
	it->src.fd = -1;
	cd->items = it;
	cd->nr_items++;
	return it;
}

void cd_item_remove(struct cd_ctx *cd, struct cd_item *item)
{
	for (struct cd_item **p = &cd->items; *p; p = &(*p)->next) {
		if (*p != item)
			continue;
		*p = item->next;
		cd_source_del(&item->src);
		if (item->fd >= 0)
			close(item->fd);
		if (item->copied)
			cd->held_copies -= item->held;
		cd->nr_items--;
		free(item);
		return;
	}
}

void cd_items_free(struct cd_ctx *cd)
{
	while (cd->items)
		cd_item_remove(cd, cd->items);
}

int cd_memfd_new(uint64_t size)
{
	int fd = memfd_create("cross-domain", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* size bytes of src from offset 0 into a new sealed memfd of ours. */
static int memfd_copy(int src, uint64_t size)
{
	static uint8_t buf[COPY_CHUNK];
	int dst = cd_memfd_new(page_up(size));

	for (uint64_t off = 0; dst >= 0 && off < size;) {
		size_t want = size - off < COPY_CHUNK ? (size_t)(size - off) : COPY_CHUNK;
		ssize_t n = pread(src, buf, want, (off_t)off);

		if (n <= 0 || write_all(dst, buf, (size_t)n)) {
			close(dst);
			return -EIO;
		}
		off += (uint64_t)n;
	}
	return dst;
}

static struct cd_item *memory_item(struct cd_ctx *cd, int fd, const struct stat *st, int fl,
				   const char **why)
{
	uint64_t size = (uint64_t)st->st_size;
	int seals = fcntl(fd, F_GET_SEALS);
	bool read_only = (fl & O_ACCMODE) == O_RDONLY;
	bool write_sealed = seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE));
	bool mappable = (fl & O_ACCMODE) != O_WRONLY && (read_only || !write_sealed);
	struct cd_item *it;
	int copy;

	if (!size || size > GPU_MAX_BLOB_SIZE) {
		*why = "memory of no size or beyond the largest blob";
		return NULL;
	}
	if (seals >= 0 && (seals & F_SEAL_SHRINK) && size % CD_PAGE == 0 && mappable) {
		it = cd_item_new(cd, CD_ITEM_BLOB, fd, cd_fresh_id(cd));
		if (it)
			it->size = it->held = size;
		return it;
	}
	if (size > CD_MAX_COPY || cd->held_copies + page_up(size) > CD_MAX_HELD_COPIES) {
		*why = "unsealed memory beyond what we copy";
		return NULL;
	}
	copy = memfd_copy(fd, size);
	if (copy < 0) {
		*why = "memory that cannot be read (a dma-buf?)";
		return NULL;
	}
	it = cd_item_new(cd, CD_ITEM_BLOB, copy, cd_fresh_id(cd));
	if (!it) {
		close(copy);
		return NULL;
	}
	close(fd);
	it->size = size;
	it->held = page_up(size);
	it->copied = true;
	cd->held_copies += it->held;
	return it;
}

/* Only an eventfd takes this write, and adding 0 changes nothing. */
static bool is_eventfd(int fd)
{
	uint64_t zero = 0;

	return write(fd, &zero, sizeof(zero)) == sizeof(zero);
}

/* Pipe write ends and eventfds are written to from the device loop. */
static struct cd_item *nonblocking_item(struct cd_ctx *cd, enum cd_item_kind kind, int fd, int fl)
{
	struct cd_item *it;

	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return NULL;
	it = cd_item_new(cd, kind, fd, cd_fresh_id(cd));
	if (it && kind == CD_ITEM_EVENT && cd_source_add(cd, &it->src, fd, it)) {
		it->fd = -1;
		cd_item_remove(cd, it);
		return NULL;
	}
	return it;
}

struct cd_item *cd_item_from_host(struct cd_ctx *cd, int fd)
{
	const char *why = "an fd we could not keep";
	struct cd_item *it = NULL;
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fd_stat(fd, &st))
		why = "an fd we cannot stat";
	else if (S_ISFIFO(st.st_mode) && (fl & O_ACCMODE) == O_WRONLY)
		it = nonblocking_item(cd, CD_ITEM_WRITE_PIPE, fd, fl);
	else if (S_ISFIFO(st.st_mode))
		why = "the read end of a pipe";
	else if (S_ISREG(st.st_mode))
		it = memory_item(cd, fd, &st, fl, &why);
	else if ((st.st_mode & S_IFMT) == 0 && is_eventfd(fd))
		it = nonblocking_item(cd, CD_ITEM_EVENT, fd, fl);
	else
		why = S_ISSOCK(st.st_mode) ? "a socket" : "an fd of a type we do not pass";
	if (!it) {
		cd_warn(cd->ctx, "the compositor sent %s: closed, "
				"its message goes on without it", why);
		close(fd);
	}
	return it;
}

