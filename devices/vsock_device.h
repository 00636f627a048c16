/* virtio-vsock: the [vsock] section, the model's options, its descriptor
 * (the model's internals are in devices/vsock.h). */
#ifndef VMSILO_DEVICES_VSOCK_DEVICE_H
#define VMSILO_DEVICES_VSOCK_DEVICE_H

#include <stdint.h>

#include "devices/registry.h"

/* The [vsock] table. */
struct vsock_config {
	uint64_t cid;			/* the guest's CID, 3 .. 0xfffffffe */
};

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

/* [vsock]: the VMM's vsock.socket and command.socket, and the runtime
 * directory where host programs listen on vsock.socket_<port>. */
extern const struct device_kind vsock_kind;

#endif
