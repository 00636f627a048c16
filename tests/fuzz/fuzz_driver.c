#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_ring.h>

#include "tests/fuzz/fuzz_driver.h"

static void on_failed(struct vdev *dev, const char *why)
{
	struct fuzz_driver *d = dev->failed_ctx;

	d->failed = true;
}

bool fuzz_driver_input(struct fuzz_driver *d, const uint8_t *data, size_t size,
		       struct fuzz_driver_hdr *hdr)
{
	size_t ram_len;

	if (!d->ram) {
		d->ram = malloc(FUZZ_RAM);
		if (!d->ram)
			abort();
		guest_mem_layout(&d->mem, d->ram, FUZZ_RAM);
	}
	if (size < sizeof(*hdr))
		return false;
	memcpy(hdr, data, sizeof(*hdr));
	data += sizeof(*hdr);
	size -= sizeof(*hdr);
	d->host = data;
	d->host_len = hdr->host_len < size ? hdr->host_len : size;
	ram_len = size - d->host_len < FUZZ_RAM ? size - d->host_len : FUZZ_RAM;
	memset(d->ram, 0, FUZZ_RAM);
	memcpy(d->ram, data + d->host_len, ram_len);
	for (unsigned q = 0; q < FUZZ_MAX_QUEUES; q++)	/* the driver zeroes the used rings */
		memset(d->ram + FUZZ_RING(q) + 0x1400, 0, 0x2000 - 0x1400);
	d->failed = false;
	return true;
}

int fuzz_driver_start(struct fuzz_driver *d, const struct fuzz_driver_hdr *hdr,
		      uint64_t features)
{
	struct vdev_link *link = &d->ll.link;

	d->dev.failed = on_failed;
	d->dev.failed_ctx = d;
	if (link_local_init(&d->ll, &d->dev))
		abort();
	for (unsigned q = 0; q < link->nr_queues && q < FUZZ_MAX_QUEUES; q++) {
		struct vdev_vring ring = {
			.size = (uint16_t)(1u << hdr->qsize_log[q] % 9),
			.desc = FUZZ_RING(q), .avail = FUZZ_RING(q) + 0x1000,
			.used = FUZZ_RING(q) + 0x1400,
		};

		if (ring.size > link->max_queue_size)
			ring.size = link->max_queue_size;
		if (link->ops->set_vring(link, q, &ring))
			abort();
	}
	if (hdr->flags & FUZZ_F_EVENT_IDX)
		features |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	features &= link->features;	/* a driver acks only what is offered */
	if (link->ops->activate(link, features))
		return -1;
	for (unsigned q = 0; q < link->nr_queues; q++)
		if (write(link->kick_fd[q], &(uint64_t){ 1 }, 8) != 8)
			abort();
	return 0;
}

/* One turn: kicks to the device, its SQEs to the kernel, CQEs back. */
static bool turn(struct fuzz_driver *d)
{
	struct io_uring_cqe *cqe;
	bool busy = false;
	uint64_t count;

	if (d->host_turn)
		d->host_turn(d);
	for (unsigned q = 0; q < d->ll.link.nr_queues; q++)
		if (read(d->ll.link.kick_fd[q], &count, sizeof(count)) == sizeof(count) &&
		    d->dev.active) {
			d->dev.ops->notify(&d->dev, q);
			busy = true;
		}
	io_uring_submit(&d->ll.ring);
	while (!io_uring_peek_cqe(&d->ll.ring, &cqe)) {
		uint64_t data = io_uring_cqe_get_data64(cqe);
		int32_t res = cqe->res;

		io_uring_cqe_seen(&d->ll.ring, cqe);
		vdev_uring_complete(&d->dev, data, res);
		busy = true;
	}
	return busy;
}

void fuzz_driver_run(struct fuzz_driver *d, unsigned rounds)
{
	for (unsigned i = 0; i < rounds && turn(d); i++)
		;
}

void fuzz_driver_stop(struct fuzz_driver *d)
{
	link_local_destroy(&d->ll);
	vdev_destroy(&d->dev);
}
