/*
 * What virtio-poke's scripts (tests/guest/virtio_poke_gpu.c) get of its
 * driver core (tests/guest/virtio_poke.c): calls on the one queue set up,
 * locked pages with their guest-physical addresses, the device's status.
 */
#ifndef VMSILO_VIRTIO_POKE_H
#define VMSILO_VIRTIO_POKE_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_gpu.h>

#define POKE_EXIT_UNEXPECTED	4	/* a script's answer was not the one expected */

struct poke;

/* req (device-readable) then a resp_len-byte reply (device-writable) as one
 * chain, notified and polled for: the bytes written into resp, or the
 * negated exit status (no reply, NEEDS_RESET). */
int poke_call(struct poke *p, const void *req, uint32_t req_len, void *resp, uint32_t resp_len);
/* A zeroed, locked page: its address in *va, its guest-physical one returned. */
uint64_t poke_page(uint8_t **va);
bool poke_needs_reset(struct poke *p);

/* A script's checked steps on virtio-gpu's control queue (virtio_poke_steps.c). */
struct poke_steps {
	struct poke *p;
	const char *script;		/* the prefix of its lines */
	int rc;				/* the core's exit status once a call failed */
	unsigned unexpected;
};

/* One command; its reply's type, 0 when there was none (or an earlier call failed). */
uint32_t poke_gpu_call(struct poke_steps *st, const void *req, uint32_t len);
void poke_expect(struct poke_steps *st, const char *step, uint32_t got, uint32_t want);
/* The exit status: the core's, 3 on NEEDS_RESET, POKE_EXIT_UNEXPECTED, or 0. */
int poke_steps_end(struct poke_steps *st);

static inline struct virtio_gpu_ctrl_hdr poke_gpu_hdr(uint32_t type, uint32_t ctx)
{
	return (struct virtio_gpu_ctrl_hdr){ .type = type, .ctx_id = ctx };
}

/* virtio-gpu: VIRGL (bit 0, as Linux takes it), RESOURCE_BLOB, CONTEXT_INIT. */
#define POKE_GPU_FEATURES	(1ull << 0 | 1ull << 3 | 1ull << 4)
int poke_gpu_map(struct poke *p, int argc, char **argv);
int poke_gpu_virgl(struct poke *p, int argc, char **argv);

#endif
