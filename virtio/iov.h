/*
 * Bounded copies between flat buffers and iovec arrays (a virtq_chain's
 * buffers). Nothing here reads or writes outside the iovecs given, and
 * every function stops at the end of the shorter side.
 */
#ifndef VMSILO_IOV_H
#define VMSILO_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/* Total bytes in iov[0..n), saturating at SIZE_MAX. */
size_t iov_length(const struct iovec *iov, unsigned n);

/*
 * Copies up to len bytes from offset in the iovecs to buf; returns bytes
 * copied. For guest memory: check and use only buf, never the iovecs again.
 */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t offset, void *buf,
		  size_t len);

/* Copies up to len bytes from buf to offset in the iovecs; returns bytes copied. */
size_t buf_to_iov(const struct iovec *iov, unsigned n, size_t offset, const void *buf,
		  size_t len);

/*
 * Describes bytes [offset, offset + len) of iov[0..n) in dst, at most max
 * entries, leaving out empty pieces; len may be SIZE_MAX for "to the end",
 * and dst may be iov itself (slicing in place).
 * Returns the number of dst entries; bytes beyond what fits in dst (or
 * beyond the iovecs) are not described, so check iov_length() of the
 * result. Splitting a chain, e.g. a block request: header = bytes
 * [0, 16) of the readable part, status = the last byte of the writable
 * part, data = the writable part without it.
 */
unsigned iov_slice(struct iovec *dst, unsigned max, const struct iovec *iov, unsigned n,
		   size_t offset, size_t len);

#endif
