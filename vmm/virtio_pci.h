/*
 * The modern (1.x) virtio-pci transport: PCI identity and capabilities,
 * the common configuration state machine, ISR, device config (served from
 * the link's cache), notifications through KVM ioeventfds and interrupts
 * through MSI-X irqfds. It knows the device only through its vdev_link.
 */
#ifndef VMSILO_VIRTIO_PCI_H
#define VMSILO_VIRTIO_PCI_H

#include <pthread.h>

#include "vmm/log.h"
#include "vmm/msix.h"
#include "vmm/pci.h"
#include "vmm/shm_region.h"
#include "virtio/vdev_link.h"

struct virtio_pci_queue {
	uint16_t size, vector;
	bool enabled;
	uint64_t desc, avail, used;
};

struct virtio_pci {
	pthread_mutex_t lock;		/* recursive: see virtio_pci_needs_reset */
	struct pci_device pci;
	struct vdev_link *link;
	struct kvm *kvm;		/* NULL: no ioeventfds (unit tests) */
	struct msix msix;
	uint64_t notify_base;		/* where the ioeventfds sit, 0: none */
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint16_t config_vector, queue_select;
	uint8_t status, config_generation, isr;
	struct virtio_pci_queue queues[VDEV_MAX_QUEUES];
	unsigned pci_cfg_cap;		/* config offset of the PCI_CFG window */
	struct log_ratelimit fail_log;	/* its own: one device cannot silence another's */
	struct shm_region shm[VDEV_MAX_SHM_REGIONS];	/* the link's, in BARs 2, 4 */
};

/* PCI BAR of shared-memory region i. */
#define VIRTIO_PCI_SHM_BAR(i) (2 + 2 * (i))

/* Subscribes to the link's events (config changed, needs reset, map and
 * unmap in the shared-memory regions); device events are not the transport's. */
int virtio_pci_init(struct virtio_pci *vp, struct vdev_link *link, struct kvm *kvm,
		    struct msi_routes *routes);
/* Puts the function in a slot, with its BARs and ioeventfds in place. */
int virtio_pci_plug(struct virtio_pci *vp, struct pci_bus *bus, unsigned slot);
void virtio_pci_destroy(struct virtio_pci *vp);
/* Where the link's shared-memory regions get their KVM slots. */
void virtio_pci_set_memslots(struct virtio_pci *vp, struct memslots *slots);
/*
 * The device's map and unmap requests for its region id (see
 * shm_region_map); -ENODEV if it has no such region or no memslots.
 */
int virtio_pci_shm_map(struct virtio_pci *vp, uint8_t id, uint64_t offset, int fd,
		       uint64_t fd_offset, uint64_t size, uint32_t prot);
int virtio_pci_shm_unmap(struct virtio_pci *vp, uint8_t id, uint64_t offset);
/* The device is gone (its process died): what it mapped goes now, and its
 * memslots with it, not only at the guest's reset. */
void virtio_pci_shm_clear(struct virtio_pci *vp);
/*
 * From the device: len new bytes of its config at offset (-EINVAL, nothing
 * changed, unless they fit in config_size), or it needs a reset. The latter
 * may be called from inside a link op, with the lock already held.
 */
int virtio_pci_config_changed(struct virtio_pci *vp, unsigned offset, const void *bytes,
			      unsigned len);
void virtio_pci_needs_reset(struct virtio_pci *vp, const char *why);
/* The device status register as the driver sees it. */
uint8_t virtio_pci_status(struct virtio_pci *vp);
/* The BAR handler (exposed for tests). */
void virtio_pci_bar_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			   bool is_write);

#endif
