/* virtio-blk: the [[disk]] section, the model's options, its descriptor. */
#ifndef VMSILO_DEVICES_BLK_H
#define VMSILO_DEVICES_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/registry.h"

#define BLK_MAX_DISKS 6
#define BLK_ID_MAX 20		/* bytes in a virtio-blk serial */

/* One [[disk]] table. */
struct disk_config {
	char *path;
	bool ro;			/* default false */
	bool sparse;			/* default true: discard/write-zeroes punch holes */
	bool direct;			/* O_DIRECT, default false */
	uint64_t block_size;		/* default 512 */
	char *id;			/* serial for GET_ID, NULL: none */
};

struct blk_options {
	int fd;			/* opened by the VMM: O_RDWR, or O_RDONLY if ro; maybe O_DIRECT */
	bool ro;		/* VIRTIO_BLK_F_RO, and the device refuses writes */
	bool sparse;		/* offer DISCARD and WRITE_ZEROES (not with ro) */
	bool direct;		/* fd is O_DIRECT: data buffers must be 512-aligned */
	uint32_t block_size;	/* 512..65536, a power of two */
	const char *id;		/* serial for VIRTIO_BLK_T_GET_ID, up to 20 bytes, or NULL */
	unsigned nr_queues;	/* 1..VDEV_MAX_QUEUES, one per vCPU */
};

/*
 * virtio-blk over opt->fd. Runs in the VMM before the fork: reads the
 * capacity (fstat, or BLKGETSIZE64 for a block device) and checks the
 * options; on failure returns -errno with one line in err. The device
 * process must keep opt->fd and allow io_uring workers (RLIMIT_NPROC).
 */
extern const struct sandbox_policy blk_policy;
int blk_create(struct vdev *dev, const char *name, const struct guest_mem *mem,
	       const struct blk_options *opt, char *err, size_t errlen);

/* [[disk]]: the VMM opens the image, the jailed device gets only the fd. */
extern const struct device_kind blk_kind;

#endif
