/*
 * PCI bus 0 configuration space through ports 0xcf8/0xcfc and the ECAM
 * window. For now it holds only the host bridge at 00:00.0; devices plug in
 * with pci_add_device.
 */
#ifndef VMSILO_PCI_H
#define VMSILO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define PCI_MAX_DEVICES 32
#define PCI_CONFIG_SIZE 4096

struct pci_device {
	uint8_t config[PCI_CONFIG_SIZE];
	uint8_t writable[PCI_CONFIG_SIZE];	/* per-byte write mask */
};

struct pci_bus {
	pthread_mutex_t lock;
	uint32_t address;			/* the 0xcf8 latch */
	struct pci_device *slots[PCI_MAX_DEVICES];	/* function 0 only */
	struct pci_device host_bridge;
};

void pci_init(struct pci_bus *pci);
int pci_add_device(struct pci_bus *pci, unsigned slot, struct pci_device *dev);
/* Ports 0xcf8..0xcff. */
void pci_io_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
/* The ECAM window: offset = bus << 20 | dev << 15 | fn << 12 | reg. */
void pci_ecam_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);

#endif
