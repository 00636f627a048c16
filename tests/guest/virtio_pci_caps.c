/* Walking a virtio-pci device's capability list: see virtio_pci_caps.h. */
#include <string.h>
#include <linux/virtio_pci.h>

#include "virtio_pci_caps.h"

#define PCI_STATUS_REG		0x06
#define PCI_STATUS_CAP_LIST	0x10
#define PCI_CAP_PTR		0x34
#define PCI_CAP_ID_VENDOR	0x09
#define PCI_HEADER_END		0x40
#define PCI_CAP_SPACE_END	0x100	/* the list lives in the first 256 bytes */
#define PCI_MAX_CAPS		((PCI_CAP_SPACE_END - PCI_HEADER_END) / 4)
#define PCI_NR_BARS		6

static uint32_t le32_at(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static int fail(const char **why, const char *what)
{
	*why = what;
	return -1;
}

static struct virtio_pci_window *window_of(struct virtio_pci_layout *layout, uint8_t type)
{
	switch (type) {
	case VIRTIO_PCI_CAP_COMMON_CFG: return &layout->common;
	case VIRTIO_PCI_CAP_NOTIFY_CFG: return &layout->notify;
	case VIRTIO_PCI_CAP_ISR_CFG: return &layout->isr;
	case VIRTIO_PCI_CAP_DEVICE_CFG: return &layout->device;
	default: return NULL;	/* PCI_CFG, shared memory, vendor data */
	}
}

/* A vendor capability of cap_len bytes, all of them inside config space.
 * Reserved BAR numbers and short notify capabilities are skipped (4.1.4). */
static void take_vendor_cap(const uint8_t *cap, unsigned cap_len, struct virtio_pci_layout *layout)
{
	uint8_t type = cap[offsetof(struct virtio_pci_cap, cfg_type)];
	uint8_t bar = cap[offsetof(struct virtio_pci_cap, bar)];
	struct virtio_pci_window *w = window_of(layout, type);
	bool notify = type == VIRTIO_PCI_CAP_NOTIFY_CFG;

	if (!w || w->found || bar >= PCI_NR_BARS)
		return;
	if (notify && cap_len < sizeof(struct virtio_pci_notify_cap))
		return;
	*w = (struct virtio_pci_window){
		.found = true, .bar = bar,
		.offset = le32_at(cap + offsetof(struct virtio_pci_cap, offset)),
		.length = le32_at(cap + offsetof(struct virtio_pci_cap, length)),
	};
	if (notify)
		layout->notify_off_multiplier =
			le32_at(cap + offsetof(struct virtio_pci_notify_cap, notify_off_multiplier));
}

int virtio_pci_parse_caps(const uint8_t *cfg, size_t len, struct virtio_pci_layout *layout,
			  const char **why)
{
	size_t end = len < PCI_CAP_SPACE_END ? len : PCI_CAP_SPACE_END;
	unsigned seen = 0;

	memset(layout, 0, sizeof(*layout));
	if (len < PCI_HEADER_END)
		return fail(why, "config space shorter than the PCI header");
	if (!(cfg[PCI_STATUS_REG] & PCI_STATUS_CAP_LIST))
		return fail(why, "no capability list");
	for (unsigned at = cfg[PCI_CAP_PTR] & ~3u; at; at = cfg[at + 1] & ~3u) {
		unsigned cap_len;

		if (at < PCI_HEADER_END || at + 2 > end)
			return fail(why, "a capability pointer outside config space "
					 "(only root reads past its first 64 bytes)");
		if (++seen > PCI_MAX_CAPS)
			return fail(why, "the capability list loops");
		if (cfg[at] != PCI_CAP_ID_VENDOR || at + sizeof(struct virtio_pci_cap) > end)
			continue;
		cap_len = cfg[at + offsetof(struct virtio_pci_cap, cap_len)];
		if (cap_len >= sizeof(struct virtio_pci_cap) && at + cap_len <= end)
			take_vendor_cap(cfg + at, cap_len, layout);
	}
	if (!layout->common.found)
		return fail(why, "no common configuration capability");
	if (layout->common.length < sizeof(struct virtio_pci_common_cfg))
		return fail(why, "the common configuration is shorter than its structure");
	if (!layout->notify.found)
		return fail(why, "no notify capability");
	return 0;
}
