/*
 * What virtio-poke's virtio-gpu scripts share: one control-queue call and
 * its reply's type, one checked step printed as "SCRIPT STEP=ok" or
 * "SCRIPT STEP=bad (got 0xG, expected 0xE)", and the script's exit status.
 */
#include <stdio.h>
#include <linux/virtio_gpu.h>

#include "virtio_poke.h"

/* The reply buffer fits every reply (display info's is the largest). */
uint32_t poke_gpu_call(struct poke_steps *st, const void *req, uint32_t len)
{
	static struct virtio_gpu_resp_display_info reply;
	int n;

	if (st->rc)
		return 0;
	n = poke_call(st->p, req, len, &reply, sizeof(reply));
	if (n < 0) {
		st->rc = -n;
		return 0;
	}
	return n >= (int)sizeof(reply.hdr) ? reply.hdr.type : 0;
}

void poke_expect(struct poke_steps *st, const char *step, uint32_t got, uint32_t want)
{
	if (got == want) {
		printf("%s %s=ok\n", st->script, step);
		return;
	}
	printf("%s %s=bad (got %#x, expected %#x)\n", st->script, step, got, want);
	st->unexpected++;
}

int poke_steps_end(struct poke_steps *st)
{
	if (st->rc)
		return st->rc;
	if (poke_needs_reset(st->p)) {
		printf("%s needs-reset=bad\n", st->script);
		return 3;
	}
	return st->unexpected ? POKE_EXIT_UNEXPECTED : 0;
}
