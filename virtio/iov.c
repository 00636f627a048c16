/* Bounded iovec copies and slices. */
#include "virtio/iov.h"

#include <stdint.h>
#include <string.h>

size_t iov_length(const struct iovec *iov, unsigned n)
{
	size_t total = 0;

	for (unsigned i = 0; i < n; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

/*
 * Calls back for each piece of [offset, offset + len) of the iovecs, in
 * order, with the host pointer, its length and its offset in the range.
 */
typedef void iov_piece_fn(void *base, size_t len, size_t done, void *arg);

static size_t iov_walk(const struct iovec *iov, unsigned n, size_t offset, size_t len,
		       iov_piece_fn *fn, void *arg)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t piece;

		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		piece = iov[i].iov_len - offset;
		if (piece > len - done)
			piece = len - done;
		fn((uint8_t *)iov[i].iov_base + offset, piece, done, arg);
		done += piece;
		offset = 0;
	}
	return done;
}

static void iov_piece_out(void *base, size_t len, size_t done, void *buf)
{
	memcpy((uint8_t *)buf + done, base, len);
}

static void iov_piece_in(void *base, size_t len, size_t done, void *buf)
{
	memcpy(base, (const uint8_t *)buf + done, len);
}

/*
 * The device's one fetch of a guest value. The barrier keeps the compiler,
 * even with this inlined, from reading guest memory again where the caller
 * uses the copy in buf: the guest may have changed it by then.
 */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t offset, void *buf,
		  size_t len)
{
	size_t done = iov_walk(iov, n, offset, len, iov_piece_out, buf);

	__asm__ __volatile__("" : : : "memory");
	return done;
}

size_t buf_to_iov(const struct iovec *iov, unsigned n, size_t offset, const void *buf,
		  size_t len)
{
	return iov_walk(iov, n, offset, len, iov_piece_in, (void *)buf);
}

unsigned iov_slice(struct iovec *dst, unsigned max, const struct iovec *iov, unsigned n,
		   size_t offset, size_t len)
{
	unsigned used = 0;

	for (unsigned i = 0; i < n && len && used < max; i++) {
		size_t piece;

		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		piece = iov[i].iov_len - offset;
		if (piece > len)
			piece = len;
		dst[used].iov_base = (uint8_t *)iov[i].iov_base + offset;
		dst[used].iov_len = piece;
		used++;
		len -= piece;
		offset = 0;
	}
	return used;
}
