/* virtio-rng: entropy from the host's getrandom(), one queue of requests. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <linux/virtio_ids.h>

#include "devices/device_process.h"
#include "devices/rng.h"
#include "virtio/iov.h"

/* A driver may post huge buffers; no single request gets more than this. */
#define RNG_MAX_REQUEST (64 * 1024)

static size_t fill_random(const struct iovec *iov, unsigned n, size_t cap)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < cap; i++) {
		size_t want = iov[i].iov_len < cap - done ? iov[i].iov_len : cap - done;
		size_t got = 0;

		while (got < want) {
			ssize_t r = getrandom((uint8_t *)iov[i].iov_base + got, want - got, 0);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return done + got;
			got += (size_t)r;
		}
		done += got;
	}
	return done;
}

static void rng_notify(struct vdev *dev, unsigned q)
{
	struct virtq_chain *chain = dev->priv;
	struct vdev_queue *vq = &dev->queues[q];
	int rc;

	while ((rc = virtq_pop(&vq->vq, dev->mem, chain)) > 0)
		virtq_push(&vq->vq, chain->head,
			   (uint32_t)fill_random(virtq_chain_in(chain), chain->nr_in, RNG_MAX_REQUEST));
	if (rc < 0)
		vdev_fail(dev, "malformed request chain");
	vdev_signal(dev, q);
}

static void rng_destroy(struct vdev *dev)
{
	free(dev->priv);
}

static const struct sandbox_syscall rng_rules[] = {
	DEVICE_PROCESS_RULES,
	SANDBOX_ALLOW(getrandom, "the entropy the guest asks for"),
};

const struct sandbox_policy rng_policy = {
	"rng", rng_rules, sizeof(rng_rules) / sizeof(rng_rules[0]),
};

static const struct vdev_ops rng_ops = {
	.name = "rng",
	.device_id = VIRTIO_ID_RNG,
	.nr_queues = 1,
	.queue_size = 64,
	.notify = rng_notify,
	.destroy = rng_destroy,
};

int rng_create(struct vdev *dev, const char *name, const struct guest_mem *mem)
{
	struct virtq_chain *chain = malloc(sizeof(*chain));

	if (!chain)
		return -ENOMEM;
	vdev_init(dev, &rng_ops, chain, name, mem);
	return 0;
}

static const struct cfg_key rng_keys[] = {
	{ .name = NULL },
};

static int rng_kind_create(struct vdev *dev, const char *name, const struct device_env *env,
			   const void *cfg, struct device_grant *grant, char *err, size_t errlen)
{
	int rc = rng_create(dev, name, env->mem);

	if (rc)
		snprintf(err, errlen, "%s: %s", name, strerror(-rc));
	return rc;
}

const struct device_kind rng_kind = {
	.section = "rng",
	.prefix = "rng",
	.max = 1,
	.keys = rng_keys,
	.doc = "virtio-rng fed from the host's getrandom()",
	.create = rng_kind_create,
	.policy = &rng_policy,
};
