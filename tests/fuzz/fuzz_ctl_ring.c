/*
 * libFuzzer harness for the control rings as the VMM sees a hostile
 * device child (virtio/ctl_ring.c), and for the link messages' decoders
 * (virtio/link_proto.h). The VMM end and the device end share one mapping,
 * as across the process boundary; the input is a script of what the
 * device does to it: store any index, write any slot, post well-formed
 * messages, while the VMM receives, sends and calls. Every message the
 * VMM receives goes through every decoder. Once the VMM calls the ring
 * corrupt it must stay so; a message it returns has a bounded length.
 *
 * Script: op byte, then its operands (little endian); see run_op.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/ctl_ring.h"
#include "virtio/link_proto.h"
#include "vmm/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct script {
	const uint8_t *p;
	size_t left;
};

static const struct link_limits limits = { .nr_queues = 3, .max_queue_size = 256,
					   .config_size = 60 };

static bool take(struct script *s, void *out, size_t n)
{
	if (s->left < n)
		return false;
	memcpy(out, s->p, n);
	s->p += n;
	s->left -= n;
	return true;
}

/* Every decoder on one message: each may refuse it, none may misbehave. */
static void decode_all(const struct ctl_msg *m)
{
	union {
		struct link_config cfg;
		struct link_vring_state state;
		struct link_vring_addr addr;
		uint8_t data[CTL_MSG_PAYLOAD];
	} u;
	char reason[LINK_REASON_MAX + 1];
	uint64_t v;
	int status;

	link_dec_empty(m, m->type);
	link_dec_u64(m, m->type, &v);
	if (!link_dec_config(m, m->type, &limits, &u.cfg) &&
	    u.cfg.offset + u.cfg.len > limits.config_size)
		abort();
	if (!link_dec_vring_state(m, m->type, &limits, &u.state) && u.state.index >= limits.nr_queues)
		abort();
	if (!link_dec_vring_addr(m, &limits, &u.addr) && u.addr.index >= limits.nr_queues)
		abort();
	if (!link_dec_needs_reset(m, reason, sizeof(reason)))
		for (char *c = reason; *c; c++)
			if (*c < 0x20 || *c > 0x7e)
				abort();
	for (uint32_t want = 0; want <= CTL_MSG_PAYLOAD - LINK_REPLY_HDR; want += 4)
		if (!link_dec_reply(m, m->tag, &status, u.data, want) && (status > 0 || status < -4095))
			abort();
}

static void vmm_receive(struct ctl_ring_end *vmm)
{
	struct ctl_msg m;
	int r;

	for (unsigned i = 0; i < 2 * CTL_RING_SLOTS + CTL_PENDING_MAX; i++) {
		r = ctl_ring_recv(vmm, &m);
		if (r == 0)
			return;
		if (r < 0) {
			if (r != -EPROTO || ctl_ring_recv(vmm, &m) != -EPROTO)
				abort();	/* corrupt stays corrupt */
			return;
		}
		if (m.len > CTL_MSG_PAYLOAD)
			abort();
		decode_all(&m);
	}
	abort();	/* more messages than the ring and queue can hold */
}

static void message(struct script *s, struct ctl_msg *m)
{
	uint8_t len = 0;

	memset(m, 0, sizeof(*m));
	take(s, &m->type, sizeof(m->type));
	take(s, &m->tag, sizeof(m->tag));
	take(s, &m->flags, 1);
	take(s, &len, 1);
	m->len = len < CTL_MSG_PAYLOAD ? len : CTL_MSG_PAYLOAD;
	take(s, m->payload, m->len);
}

static void run_op(struct ctl_ring_end *vmm, struct ctl_ring_end *dev, struct script *s)
{
	struct ctl_ring_shm *shm = dev->shm;
	struct ctl_msg m, reply;
	uint8_t op = 0, slot = 0;
	uint32_t v = 0;

	take(s, &op, 1);
	switch (op % 8) {
	case 0:		/* the device moves the CQ's tail: messages that are not there */
		take(s, &v, 4);
		__atomic_store_n(&shm->dir[CTL_CQ].tail, v, __ATOMIC_RELEASE);
		break;
	case 1:		/* ... or the SQ's head: room that is not there */
		take(s, &v, 4);
		__atomic_store_n(&shm->dir[CTL_SQ].head, v, __ATOMIC_RELEASE);
		break;
	case 2:		/* any bytes in any CQ slot */
		take(s, &slot, 1);
		message(s, &m);
		take(s, &v, 4);
		m.len = v;
		memcpy(&shm->dir[CTL_CQ].slots[slot % CTL_RING_SLOTS], &m, sizeof(m));
		break;
	case 3:		/* a well-formed message */
		message(s, &m);
		ctl_ring_send(dev, &m);
		break;
	case 4:
		vmm_receive(vmm);
		break;
	case 5:
		message(s, &m);
		ctl_ring_send(vmm, &m);
		break;
	case 6:		/* a call that does not wait: messages that came queue up */
		message(s, &m);
		ctl_ring_call(vmm, &m, &reply, 0);
		break;
	case 7:		/* the header the device may scribble on too */
		take(s, &v, 4);
		shm->hdr.nr_slots = v;
		shm->hdr.magic = ~v;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_ring_end vmm, dev;
	struct script s = { data, size };
	int fds[CTL_NR_FDS];

	log_set_level(LOG_ERROR);
	if (ctl_ring_create(&vmm, fds) || ctl_ring_attach(&dev, fds))
		abort();
	ctl_ring_close_fds(fds, CTL_NR_FDS);
	for (unsigned ops = 0; s.left && ops < 4096; ops++)
		run_op(&vmm, &dev, &s);
	vmm_receive(&vmm);
	ctl_ring_close(&dev);
	ctl_ring_close(&vmm);
	return 0;
}
