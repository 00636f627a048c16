/*
 * The virtio PCI capabilities (virtio 1.2, 4.1.4) of a device's config
 * space as the driver reads it (sysfs's config file in the guest): where
 * the common, notify, ISR and device structures are. The bytes are the
 * device's: every pointer and length is checked, a looping list ends.
 * Shared by tests/guest/virtio_poke.c and its unit test.
 */
#ifndef VMSILO_VIRTIO_PCI_CAPS_H
#define VMSILO_VIRTIO_PCI_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct virtio_pci_window {
	bool found;
	uint8_t bar;
	uint32_t offset, length;	/* in the BAR */
};

struct virtio_pci_layout {
	struct virtio_pci_window common, notify, isr, device;
	uint32_t notify_off_multiplier;
};

/*
 * Fills layout from len bytes of config space; the first usable
 * capability of each type wins (4.1.4.1). 0, or -1 with *why saying what
 * is missing or malformed. Common and notify are required; ISR and device
 * config are reported if present.
 */
int virtio_pci_parse_caps(const uint8_t *cfg, size_t len, struct virtio_pci_layout *layout,
			  const char **why);

#endif
