/*
 * The guest's side for the device harnesses (fuzz_net, fuzz_vsock): guest
 * RAM whose contents are the fuzzer's (descriptor tables, avail rings and
 * buffers at fixed ring addresses), a device model behind link_local, and
 * the device loop's turns (kicks, io_uring completions) without waiting.
 *
 * Input: struct fuzz_driver_hdr, host_len bytes for the host side of the
 * device (the harness's to interpret), then guest RAM from gpa 0.
 */
#ifndef VMSILO_FUZZ_DRIVER_H
#define VMSILO_FUZZ_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/guest_mem.h"
#include "devices/link_local.h"

#define FUZZ_RAM	0x20000u
#define FUZZ_RING(q)	((uint64_t)(q) * 0x2000u)	/* desc; avail +0x1000, used +0x1400 */
#define FUZZ_MAX_QUEUES	3

struct fuzz_driver_hdr {
	uint8_t qsize_log[FUZZ_MAX_QUEUES];	/* queue size 1 << (n % 9) */
	uint8_t features;			/* harness-defined feature bits */
	uint16_t host_len;
	uint8_t flags;				/* FUZZ_F_* */
	uint8_t reserved;
};

#define FUZZ_F_EVENT_IDX	0x01

struct fuzz_driver {
	struct guest_mem mem;
	uint8_t *ram;
	struct vdev dev;
	struct link_local ll;
	const uint8_t *host;		/* the host side's bytes */
	size_t host_len;
	bool failed;			/* the device asked for a reset */
	/* Optional: the host side's turn, before each of the device's. */
	void (*host_turn)(struct fuzz_driver *d);
};

/* Splits the input; false when it is too short. RAM is zeroed, then filled. */
bool fuzz_driver_input(struct fuzz_driver *d, const uint8_t *data, size_t size,
		       struct fuzz_driver_hdr *hdr);
/* Behind a link_local, rings set up, activated with the offered part of
 * features (0, or -1 when the device refuses them), every queue kicked. */
int fuzz_driver_start(struct fuzz_driver *d, const struct fuzz_driver_hdr *hdr,
		      uint64_t features);
/* Turns of the device loop until nothing more happens (at most rounds). */
void fuzz_driver_run(struct fuzz_driver *d, unsigned rounds);
void fuzz_driver_stop(struct fuzz_driver *d);

#endif
