/*
 * PCI bus 0: configuration space through ports 0xcf8/0xcfc and the ECAM
 * window, memory BARs assigned in the DSDT's windows like firmware would,
 * and MMIO dispatch to whichever BAR the guest currently decodes.
 */
#ifndef VMSILO_PCI_H
#define VMSILO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"

#define PCI_MAX_DEVICES 32
#define PCI_CONFIG_SIZE 4096
#define PCI_NR_BARS 6
#define PCI_CAP_START 0x40

struct pci_bar {
	uint64_t size;		/* a power of two >= 4 KiB; 0: unused */
	bool is_64;		/* also uses the next BAR register */
	bool prefetchable;
	bus_access_fn access;
	void *opaque;
};

struct pci_device {
	uint8_t config[PCI_CONFIG_SIZE];
	uint8_t writable[PCI_CONFIG_SIZE];	/* per-byte write mask */
	struct pci_bar bars[PCI_NR_BARS];
	uint8_t next_cap;			/* where the next capability goes */
	uint8_t last_cap;			/* offset of the last one, 0: none */
	/* After a guest write to [reg, reg + len) landed, with the bus locked. */
	void (*config_written)(struct pci_device *dev, unsigned reg, unsigned len);
	/* Optional: before a guest read of [reg, reg + len), to refresh it. */
	void (*config_read)(struct pci_device *dev, unsigned reg, unsigned len);
	void *opaque;
};

struct pci_bus {
	pthread_mutex_t lock;
	uint32_t address;			/* the 0xcf8 latch */
	struct pci_device *slots[PCI_MAX_DEVICES];	/* function 0 only */
	struct pci_device host_bridge;
	uint64_t mmio32_next, mmio32_end;	/* BAR allocation cursors */
	uint64_t mmio64_base, mmio64_next, mmio64_end;
};

void pci_init(struct pci_bus *pci, uint64_t mmio64_base, uint64_t mmio64_size);
void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint16_t subsys_vendor, uint16_t subsys_id);
int pci_device_add_bar(struct pci_device *dev, unsigned bar, uint64_t size, bool is_64,
		       bus_access_fn access, void *opaque);
/* A 64-bit prefetchable BAR backed by KVM memslots, not an access handler:
 * where nothing is mapped it reads as all ones. */
int pci_device_add_prefetch_bar(struct pci_device *dev, unsigned bar, uint64_t size);
/* Appends a capability (id, then body after the id/next bytes); returns
 * its config offset, or 0 when config space is full. */
unsigned pci_device_add_cap(struct pci_device *dev, uint8_t id, const void *body, unsigned len);
/* Places the device in a slot and assigns its BARs; -1 if no room. */
int pci_add_device(struct pci_bus *pci, unsigned slot, struct pci_device *dev);
/* The guest address a BAR decodes now, or 0 when memory decode is off. */
uint64_t pci_bar_address(const struct pci_device *dev, unsigned bar);

/* Ports 0xcf8..0xcff. */
void pci_io_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
/* The ECAM window: offset = bus << 20 | dev << 15 | fn << 12 | reg. */
void pci_ecam_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
/* The two BAR windows, registered on the MMIO bus at their bases. */
void pci_mmio32_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
void pci_mmio64_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);

#endif
