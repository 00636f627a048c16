/*
 * The main loop of a device process: the device model (built in the VMM
 * before the fork, so the child inherits it), its control ring and its
 * queue eventfds, served from one io_uring. The guest RAM mapping is
 * inherited too (MAP_SHARED), so the child never opens anything. The
 * control ring and the io_uring are set up in the jail before seccomp
 * (device_process_prepare), which then forbids making either.
 */
#ifndef VMSILO_DEVICE_PROCESS_H
#define VMSILO_DEVICE_PROCESS_H

#include <sys/epoll.h>
#include <sys/socket.h>

#include "boot/guest_mem.h"
#include "sandbox/sandbox.h"
#include "devices/vdev.h"
#include "virtio/ctl_ring.h"

struct device_process {
	struct vdev *dev;
	/* ctl_ring_create()'s fds, kept across the fork: the child maps its
	 * end itself (device_process_prepare). */
	int ring_fds[CTL_NR_FDS];
	struct ctl_ring_end ctl;	/* the device's end, in the child */
	int log_fd;			/* becomes the child's stderr: a pipe the VMM reads */
	/* The device's end of the fd socket (SOCK_SEQPACKET) its map
	 * requests pass fds on, or -1: a device without shm regions has none. */
	int shm_sock;
};

/*
 * The syscalls the loop itself needs beyond the sandbox's base list (none
 * yet: the rings are made before seccomp and io_uring does the waiting);
 * each device's policy starts with these.
 */
#define DEVICE_PROCESS_RULES \
	SANDBOX_ALLOW(getpid, "log lines name the process")

/*
 * Added by the policy of a device with shared-memory regions (and only
 * then: link_child_start refuses such a device without it). Its only
 * socket is the link's fd socket, so sendmsg reaches nothing else.
 */
#define DEVICE_PROCESS_SHM_RULES \
	SANDBOX_ALLOW_EQ(sendmsg, 2, MSG_NOSIGNAL, \
			 "vdev_shm_map passes the fd to map on the link's fd socket"), \
	SANDBOX_ALLOW(poll, "a map request waits for the VMM's reply on the ring's doorbell"), \
	SANDBOX_ALLOW_EQ(epoll_ctl, 1, EPOLL_CTL_MOD, \
			 "the loop's poll of the ring is muted while a map request waits"), \
	SANDBOX_ALLOW(clock_nanosleep, "a map request backs off while its ring to the VMM is full")

/*
 * sandbox_config.pre_seccomp: attaches the control ring (closing
 * ring_fds), creates the loop's io_uring, restricted to the loop's and
 * the device's opcodes, then runs the device's ops->init_jailed. 0 or
 * -errno.
 */
int device_process_prepare(void *arg);
/* sandbox_spawn's child_main, after prepare: returns the exit status. */
int device_process_main(void *arg);

#endif
