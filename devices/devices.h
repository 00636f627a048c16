/* The device models. */
#ifndef VMSILO_DEVICES_H
#define VMSILO_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/vdev.h"

#include "sandbox/sandbox.h"

extern const struct sandbox_policy rng_policy;
int rng_create(struct vdev *dev, const char *name, const struct guest_mem *mem);

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

struct net_options {
	int tap_fd;		/* IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, vnet header size 12 */
	uint8_t mac[6];		/* unicast */
};

/*
 * virtio-net over the tap opt->tap_fd (see vmm/tap.c). Runs in the VMM
 * before the fork: checks the tap, makes it non-blocking and turns its
 * offloads off until a driver accepts them; on failure returns -errno with
 * one line in err. The device process must keep opt->tap_fd.
 */
extern const struct sandbox_policy net_policy;
int net_create(struct vdev *dev, const char *name, const struct guest_mem *mem,
	       const struct net_options *opt, char *err, size_t errlen);

struct vsock_options {
	uint64_t guest_cid;	/* 3 .. 2^32 - 2 */
	/*
	 * Listening Unix sockets the VMM created (non-blocking, CLOEXEC), or
	 * -1. listen_fd is vsock.socket: a client writes "CONNECT <port>\n",
	 * reads "OK <host port>\n" and then has a stream to that guest port.
	 * command_fd is command.socket: each connection is a stream to guest
	 * port 5000, held and retried every 250 ms until the guest accepts
	 * (for hold_ms). A guest connecting to host port P reaches the Unix
	 * socket "vsock.socket_<P>" in the device's working directory (the
	 * runtime directory, its jail's bind_dir), else gets an RST.
	 */
	int listen_fd;
	int command_fd;
	unsigned hold_ms;	/* 0: 120 s */
};

/* RLIMIT_NOFILE for the vsock process: up to 1024 streams, each one socket. */
#define VSOCK_DEVICE_NOFILE 1100

extern const struct sandbox_policy vsock_policy;
int vsock_create(struct vdev *dev, const char *name, const struct guest_mem *mem,
		 const struct vsock_options *opt, char *err, size_t errlen);

#endif
