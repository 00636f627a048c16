/*
 * What the cross-domain context type (cross_domain.c) needs from the GPU
 * process's seccomp policy, for gpu.c to list among its rules. The host
 * socket comes from gpu_host_connect (gpu.c's own socket/connect rules);
 * epoll_ctl's EPOLL_CTL_MOD and poll are in DEVICE_PROCESS_SHM_RULES,
 * which the GPU has as a device with a shared-memory region.
 */
#ifndef VMSILO_CROSS_DOMAIN_H
#define VMSILO_CROSS_DOMAIN_H

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "sandbox/sandbox.h"

/*
 * For the GPU process's init_jailed, before seccomp: a WRITE into a pipe
 * whose reader has gone fails with EPIPE instead of killing the process
 * (SIGPIPE, which a process outside a PID namespace, sandbox = false,
 * would not survive). 0 or -errno.
 */
int cross_domain_prepare(void);

#define CROSS_DOMAIN_SECCOMP_RULES \
	SANDBOX_ALLOW_EQ(sendmsg, 2, MSG_NOSIGNAL | MSG_DONTWAIT, \
			 "cross-domain SEND: Wayland bytes and fds to the compositor"), \
	SANDBOX_ALLOW_EQ(recvmsg, 2, MSG_CMSG_CLOEXEC | MSG_DONTWAIT, \
			 "cross-domain RECEIVE: Wayland bytes and fds from the compositor; " \
			 "a new compositor connection from the VMM on the fd socket"), \
	SANDBOX_ALLOW(shutdown, "cross-domain: end a host connection a SEND left half-written"), \
	SANDBOX_ALLOW_EQ(memfd_create, 1, MFD_CLOEXEC | MFD_ALLOW_SEALING, \
			 "cross-domain host blobs, and sealed copies of the compositor's memfds"), \
	SANDBOX_ALLOW(ftruncate, "cross-domain: size a new memfd"), \
	SANDBOX_ALLOW_EQ(fcntl, 1, F_ADD_SEALS, "cross-domain: seal a new memfd's size"), \
	SANDBOX_ALLOW_EQ(fcntl, 1, F_GET_SEALS, "cross-domain: is a compositor memfd sealed"), \
	SANDBOX_ALLOW_EQ(fcntl, 1, F_GETFL, "cross-domain: a compositor fd's access mode"), \
	SANDBOX_ALLOW_EQ(fcntl, 1, F_SETFL, "cross-domain: pipes and eventfds made non-blocking"), \
	SANDBOX_ALLOW(fstat, "cross-domain: the type and size of a compositor fd (no path)"), \
	SANDBOX_ALLOW(pread64, "cross-domain: copy an unsealed compositor memfd"), \
	SANDBOX_ALLOW_EQ(pipe2, 1, O_CLOEXEC, "cross-domain SEND: a read pipe for the compositor"), \
	SANDBOX_ALLOW_EQ(epoll_create1, 0, EPOLL_CLOEXEC, \
			 "cross-domain: one epoll set for every context's host fds"), \
	SANDBOX_ALLOW_EQ(epoll_ctl, 1, EPOLL_CTL_ADD, "cross-domain: poll a new host fd"), \
	SANDBOX_ALLOW_EQ(epoll_ctl, 1, EPOLL_CTL_DEL, "cross-domain: stop polling a host fd"), \
	SANDBOX_ALLOW(epoll_wait, "cross-domain: the one ready host fd, without waiting")

#endif
