/* A hostile guest driver cannot flood the host log: 10000 refused queue
 * enables through the virtio-pci transport leave a bounded number of lines;
 * and one device's flood does not silence another device's lines. */
#include <errno.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "check.h"
#include "log_capture.h"
#include "vmm/log.h"
#include "vmm/virtio_pci.h"

#define ATTEMPTS 10000u
#define BURST_BOUND 10u		/* the limiter's burst (vmm/log.h) */

static int refuse_vring(struct vdev_link *l, unsigned q, const struct vdev_vring *ring)
{
	return -EINVAL;
}

static int accept_config(struct vdev_link *l, unsigned off, const void *buf, unsigned len)
{
	return 0;
}

static int accept_activate(struct vdev_link *l, uint64_t features)
{
	return 0;
}

static int accept_reset(struct vdev_link *l)
{
	return 0;
}

static const struct vdev_link_ops refusing_ops = {
	.set_config = accept_config, .set_vring = refuse_vring,
	.activate = accept_activate, .reset = accept_reset,
};

static struct virtio_pci vp;

static void wr(unsigned off, unsigned len, uint32_t v)
{
	virtio_pci_bar_access(&vp, off, (uint8_t *)&v, len, true);
}

static int common_cfg_offset(void)
{
	const uint8_t *cfg = vp.pci.config;

	for (unsigned at = cfg[0x34]; at; at = cfg[at + 1])
		if (cfg[at] == 0x09 && cfg[at + 3] == VIRTIO_PCI_CAP_COMMON_CFG)
			return cfg[at + 8] | cfg[at + 9] << 8 | cfg[at + 10] << 16;
	return -1;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* After device a's flood of "needs a reset" lines, device b's first one still shows. */
static void test_devices_limited_apart(struct msi_routes *routes)
{
	static struct virtio_pci a, b;
	static struct vdev_link link_a = {
		.ops = &refusing_ops, .name = "flood-a", .device_id = 2,
		.nr_queues = 1, .max_queue_size = 256,
	};
	static struct vdev_link link_b = {
		.ops = &refusing_ops, .name = "quiet-b", .device_id = 2,
		.nr_queues = 1, .max_queue_size = 256,
	};
	struct log_capture cap;
	char *text;

	link_a.kick_fd[0] = link_b.kick_fd[0] = -1;
	link_a.call_fd[0] = link_b.call_fd[0] = -1;
	log_set_level(LOG_ERROR);
	CHECK_EQ(virtio_pci_init(&a, &link_a, NULL, routes), 0);
	CHECK_EQ(virtio_pci_init(&b, &link_b, NULL, routes), 0);
	log_set_level(LOG_WARN);
	log_capture_begin(&cap);
	for (unsigned i = 0; i < ATTEMPTS; i++)
		virtio_pci_needs_reset(&a, "broken");
	virtio_pci_needs_reset(&b, "broken once");
	text = log_capture_end(&cap);
	CHECK_EQ(log_count_lines(text, "quiet-b: broken once"), 1);
	free(text);
}

int main(void)
{
	static struct kvm kvm = { .vm_fd = -1, .sys_fd = -1 };
	static struct msi_routes routes;
	static struct vdev_link link = {
		.ops = &refusing_ops, .name = "flood0", .device_id = 2,
		.nr_queues = 1, .max_queue_size = 256,
	};
	struct log_capture cap;
	unsigned common, lines, bound;
	int found;
	double start, elapsed;
	char *text;

	link.kick_fd[0] = eventfd(0, EFD_NONBLOCK);
	link.call_fd[0] = eventfd(0, EFD_NONBLOCK);
	log_set_level(LOG_ERROR);	/* set-up without KVM is noisy, and not the guest's doing */
	msi_routes_init(&routes, &kvm);
	CHECK_EQ(virtio_pci_init(&vp, &link, NULL, &routes), 0);
	found = common_cfg_offset();
	CHECK(found >= 0);
	common = (unsigned)found;
	wr(common + VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(common + VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);

	log_set_level(LOG_WARN);
	log_capture_begin(&cap);
	start = now_seconds();
	for (unsigned i = 0; i < ATTEMPTS; i++)
		wr(common + VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	elapsed = now_seconds() - start;
	text = log_capture_end(&cap);

	lines = log_count_lines(text, "");
	bound = BURST_BOUND + 1 + (unsigned)elapsed;
	CHECK(log_count_lines(text, "queue setup refused") >= 1);
	CHECK(lines <= bound);
	if (lines > bound)
		fprintf(stderr, "%u attempts gave %u log lines (at most %u allowed)\n",
			ATTEMPTS, lines, bound);
	CHECK(vp.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	free(text);
	test_devices_limited_apart(&routes);
	return check_report("test_log_floods");
}
