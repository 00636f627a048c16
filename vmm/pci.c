#include <string.h>

#include "vmm/pci.h"

#define CF8_ENABLE	0x80000000u
#define PCI_VENDOR_INTEL 0x8086
#define PCI_DEVICE_HOST	0x0d57
#define PCI_CLASS_HOST_BRIDGE 0x060000

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

static void init_host_bridge(struct pci_device *dev)
{
	memset(dev, 0, sizeof(*dev));
	put16(&dev->config[0x00], PCI_VENDOR_INTEL);
	put16(&dev->config[0x02], PCI_DEVICE_HOST);
	dev->config[0x09] = PCI_CLASS_HOST_BRIDGE & 0xff;
	dev->config[0x0a] = (PCI_CLASS_HOST_BRIDGE >> 8) & 0xff;
	dev->config[0x0b] = PCI_CLASS_HOST_BRIDGE >> 16;
}

void pci_init(struct pci_bus *pci)
{
	memset(pci, 0, sizeof(*pci));
	pthread_mutex_init(&pci->lock, NULL);
	init_host_bridge(&pci->host_bridge);
	pci->slots[0] = &pci->host_bridge;
}

int pci_add_device(struct pci_bus *pci, unsigned slot, struct pci_device *dev)
{
	if (slot >= PCI_MAX_DEVICES || pci->slots[slot])
		return -1;
	pci->slots[slot] = dev;
	return 0;
}

/* Only bus 0, function 0 exist; everything else reads as absent. */
static struct pci_device *lookup(struct pci_bus *pci, unsigned bus, unsigned slot, unsigned fn)
{
	if (bus != 0 || fn != 0 || slot >= PCI_MAX_DEVICES)
		return NULL;
	return pci->slots[slot];
}

static void config_access(struct pci_device *dev, unsigned reg, uint8_t *data,
			  unsigned len, bool is_write)
{
	if (!dev || reg + len > PCI_CONFIG_SIZE) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	for (unsigned i = 0; i < len; i++) {
		uint8_t mask = dev->writable[reg + i];

		if (is_write)
			dev->config[reg + i] = (uint8_t)((dev->config[reg + i] & ~mask) | (data[i] & mask));
		else
			data[i] = dev->config[reg + i];
	}
}

void pci_io_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct pci_bus *pci = opaque;
	uint32_t a;

	pthread_mutex_lock(&pci->lock);
	if (offset == 0 && len == 4) {
		if (is_write)
			memcpy(&pci->address, data, 4);
		else
			memcpy(data, &pci->address, 4);
	} else if (offset >= 4 && (pci->address & CF8_ENABLE)) {
		a = pci->address;
		config_access(lookup(pci, (a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7),
			      (a & 0xfc) + (unsigned)(offset - 4), data, len, is_write);
	} else if (!is_write) {
		memset(data, 0xff, len);
	}
	pthread_mutex_unlock(&pci->lock);
}

void pci_ecam_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct pci_bus *pci = opaque;

	pthread_mutex_lock(&pci->lock);
	config_access(lookup(pci, (offset >> 20) & 0xff, (offset >> 15) & 0x1f, (offset >> 12) & 7),
		      offset & 0xfff, data, len, is_write);
	pthread_mutex_unlock(&pci->lock);
}
