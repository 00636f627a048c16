#include <string.h>

#include "boot/layout.h"
#include "vmm/pci.h"

#define CF8_ENABLE	0x80000000u
#define PCI_VENDOR_INTEL 0x8086
#define PCI_DEVICE_HOST	0x0d57
#define PCI_CLASS_HOST_BRIDGE 0x060000
#define REG_COMMAND	0x04
#define REG_STATUS	0x06
#define REG_BAR0	0x10
#define REG_SUBSYS	0x2c
#define REG_CAP_PTR	0x34
#define REG_INT_LINE	0x3c
#define CMD_MEMORY	(1u << 1)
#define CMD_MASTER	(1u << 2)
#define CMD_INTX_OFF	(1u << 10)
#define STATUS_CAP_LIST	(1u << 4)
#define BAR_MEM_64	0x4u
#define BAR_PREFETCH	0x8u
#define BAR_FLAGS	0xfu

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(dev, 0, sizeof(*dev));
	put16(&dev->config[0x00], vendor);
	put16(&dev->config[0x02], device);
	put32(&dev->config[0x08], class_code << 8 | 0x01);	/* revision 1 */
	put16(&dev->config[REG_SUBSYS], subsys_vendor);
	put16(&dev->config[REG_SUBSYS + 2], subsys_id);
	put16(&dev->writable[REG_COMMAND], CMD_MEMORY | CMD_MASTER | CMD_INTX_OFF);
	dev->writable[REG_INT_LINE] = 0xff;
	dev->next_cap = PCI_CAP_START;
}

int pci_device_add_bar(struct pci_device *dev, unsigned bar, uint64_t size, bool is_64,
		       bus_access_fn access, void *opaque)
{
	uint64_t mask = ~(size - 1);
	uint8_t *reg = &dev->config[REG_BAR0 + 4 * bar];

	if (bar + is_64 >= PCI_NR_BARS || size < 4096 || (size & (size - 1)))
		return -1;
	dev->bars[bar] = (struct pci_bar){ size, is_64, false, access, opaque };
	put32(reg, is_64 ? BAR_MEM_64 : 0);
	put32(&dev->writable[REG_BAR0 + 4 * bar], (uint32_t)mask & ~0xfu);
	if (is_64)
		put32(&dev->writable[REG_BAR0 + 4 * bar + 4], (uint32_t)(mask >> 32));
	return 0;
}

int pci_device_add_prefetch_bar(struct pci_device *dev, unsigned bar, uint64_t size)
{
	if (pci_device_add_bar(dev, bar, size, true, NULL, NULL))
		return -1;
	dev->bars[bar].prefetchable = true;
	put32(&dev->config[REG_BAR0 + 4 * bar], BAR_MEM_64 | BAR_PREFETCH);
	return 0;
}

unsigned pci_device_add_cap(struct pci_device *dev, uint8_t id, const void *body, unsigned len)
{
	unsigned at = dev->next_cap;

	if (at + 2 + len > 0x100)
		return 0;
	dev->config[at] = id;
	dev->config[at + 1] = 0;
	memcpy(&dev->config[at + 2], body, len);
	if (dev->last_cap)
		dev->config[dev->last_cap + 1] = (uint8_t)at;
	else
		dev->config[REG_CAP_PTR] = (uint8_t)at;
	put16(&dev->config[REG_STATUS], STATUS_CAP_LIST);
	dev->last_cap = (uint8_t)at;
	dev->next_cap = (uint8_t)((at + 2 + len + 3) & ~3u);
	return at;
}

uint64_t pci_bar_address(const struct pci_device *dev, unsigned bar)
{
	const uint8_t *reg = &dev->config[REG_BAR0 + 4 * bar];
	uint64_t addr;

	if (bar >= PCI_NR_BARS || !dev->bars[bar].size || !(dev->config[REG_COMMAND] & CMD_MEMORY))
		return 0;
	addr = get32(reg) & ~(uint64_t)BAR_FLAGS;
	if (dev->bars[bar].is_64)
		addr |= (uint64_t)get32(reg + 4) << 32;
	return addr;
}

static void init_host_bridge(struct pci_device *dev)
{
	pci_device_init(dev, PCI_VENDOR_INTEL, PCI_DEVICE_HOST, PCI_CLASS_HOST_BRIDGE, 0, 0);
	memset(dev->writable, 0, sizeof(dev->writable));	/* all read-only */
	dev->config[0x08] = 0;
}

void pci_init(struct pci_bus *pci, uint64_t mmio64_base, uint64_t mmio64_size)
{
	memset(pci, 0, sizeof(*pci));
	pthread_mutex_init(&pci->lock, NULL);
	init_host_bridge(&pci->host_bridge);
	pci->slots[0] = &pci->host_bridge;
	pci->mmio32_next = LAYOUT_MMIO32_BASE;
	pci->mmio32_end = LAYOUT_MMIO32_BASE + LAYOUT_MMIO32_SIZE;
	pci->mmio64_base = pci->mmio64_next = mmio64_base;
	pci->mmio64_end = mmio64_base + mmio64_size;
}

/* Natural alignment, like firmware: a BAR of size S sits at a multiple of S. */
static uint64_t allocate(uint64_t *next, uint64_t end, uint64_t size)
{
	uint64_t at = (*next + size - 1) & ~(size - 1);

	if (at < *next || at + size > end || at + size < at)
		return 0;
	*next = at + size;
	return at;
}

static int assign_bars(struct pci_bus *pci, struct pci_device *dev)
{
	for (unsigned i = 0; i < PCI_NR_BARS; i++) {
		struct pci_bar *bar = &dev->bars[i];
		uint8_t *reg = &dev->config[REG_BAR0 + 4 * i];
		uint64_t at;

		if (!bar->size)
			continue;
		at = bar->is_64 ? allocate(&pci->mmio64_next, pci->mmio64_end, bar->size)
				: allocate(&pci->mmio32_next, pci->mmio32_end, bar->size);
		if (!at)
			return -1;
		put32(reg, (uint32_t)at | (get32(reg) & BAR_FLAGS));
		if (bar->is_64)
			put32(reg + 4, (uint32_t)(at >> 32));
	}
	dev->config[REG_COMMAND] |= CMD_MEMORY;
	return 0;
}

int pci_add_device(struct pci_bus *pci, unsigned slot, struct pci_device *dev)
{
	if (slot >= PCI_MAX_DEVICES || pci->slots[slot] || assign_bars(pci, dev))
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
	if (!is_write && dev->config_read)
		dev->config_read(dev, reg, len);
	for (unsigned i = 0; i < len; i++) {
		uint8_t mask = dev->writable[reg + i];

		if (is_write)
			dev->config[reg + i] = (uint8_t)((dev->config[reg + i] & ~mask) | (data[i] & mask));
		else
			data[i] = dev->config[reg + i];
	}
	if (is_write && dev->config_written)
		dev->config_written(dev, reg, len);
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

/* Finds the BAR decoding addr; the handler runs without the bus lock. */
static void mmio_access(struct pci_bus *pci, uint64_t addr, uint8_t *data, unsigned len,
			bool is_write)
{
	struct pci_bar bar = { 0 };
	uint64_t offset = 0;

	pthread_mutex_lock(&pci->lock);
	for (unsigned s = 0; s < PCI_MAX_DEVICES && !bar.access; s++) {
		struct pci_device *dev = pci->slots[s];

		for (unsigned b = 0; dev && b < PCI_NR_BARS && !bar.access; b++) {
			uint64_t base = pci_bar_address(dev, b);

			if (base && addr >= base && addr - base + len <= dev->bars[b].size) {
				bar = dev->bars[b];
				offset = addr - base;
			}
		}
	}
	pthread_mutex_unlock(&pci->lock);
	if (bar.access)
		bar.access(bar.opaque, offset, data, len, is_write);
	else if (!is_write)
		memset(data, 0xff, len);
}

void pci_mmio32_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	mmio_access(opaque, LAYOUT_MMIO32_BASE + offset, data, len, is_write);
}

void pci_mmio64_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct pci_bus *pci = opaque;

	mmio_access(pci, pci->mmio64_base + offset, data, len, is_write);
}
