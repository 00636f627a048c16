#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>

#include "vmm/log.h"
#include "vmm/virtio_pci.h"

/* BAR 0 layout; the BAR size is the next power of two. */
#define BAR_COMMON	0x0000
#define BAR_ISR		0x1000
#define BAR_DEVICE	0x2000
#define BAR_NOTIFY	0x3000
#define BAR_MSIX_TABLE	0x4000
#define BAR_MSIX_PBA	0x5000
#define BAR_SIZE	0x8000
#define REGION_SIZE	0x1000
#define NOTIFY_MULTIPLIER 4
#define PCI_VENDOR_REDHAT_VIRTIO 0x1af4
#define PCI_CAP_ID_VNDR	0x09
#define PCI_CAP_ID_MSIX	0x11
#define MSIX_CTRL_ENABLE (1u << 15)
#define MSIX_CTRL_MASK	(1u << 14)

static uint32_t class_of(uint16_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET: return 0x020000;	/* ethernet */
	case VIRTIO_ID_BLOCK: return 0x018000;	/* other mass storage */
	default: return 0x00ff00;		/* unclassified */
	}
}

static void add_virtio_cap(struct pci_device *dev, uint8_t type, uint32_t offset,
			   uint32_t length, bool notify)
{
	struct {
		struct virtio_pci_cap cap;
		uint32_t multiplier;
	} c = {
		.cap = { .cap_len = notify ? sizeof(c) : sizeof(c.cap), .cfg_type = type,
			 .bar = 0, .offset = offset, .length = length },
		.multiplier = NOTIFY_MULTIPLIER,
	};

	/* pci_device_add_cap writes the id and next bytes itself. */
	pci_device_add_cap(dev, PCI_CAP_ID_VNDR, (uint8_t *)&c + 2, c.cap.cap_len - 2);
}

/* VIRTIO_PCI_CAP_SHARED_MEMORY_CFG (virtio 1.2, 4.1.4.7): all of BAR bar. */
static unsigned add_shm_cap(struct pci_device *dev, unsigned bar, const struct vdev_shm_region *r)
{
	struct virtio_pci_cap64 c = {
		.cap = { .cap_len = sizeof(c), .cfg_type = VIRTIO_PCI_CAP_SHARED_MEMORY_CFG,
			 .bar = (uint8_t)bar, .id = r->id, .offset = 0, .length = (uint32_t)r->size },
		.offset_hi = 0, .length_hi = (uint32_t)(r->size >> 32),
	};

	return pci_device_add_cap(dev, PCI_CAP_ID_VNDR, (uint8_t *)&c + 2, sizeof(c) - 2);
}

static int add_shm_regions(struct virtio_pci *vp)
{
	for (unsigned i = 0; i < vp->link->nr_shm; i++) {
		const struct vdev_shm_region *r = &vp->link->shm[i];

		if (r->size < 4096 || (r->size & (r->size - 1)))
			return -EINVAL;
		if (!add_shm_cap(&vp->pci, VIRTIO_PCI_SHM_BAR(i), r) ||
		    pci_device_add_prefetch_bar(&vp->pci, VIRTIO_PCI_SHM_BAR(i), r->size))
			return -ENOSPC;
		shm_region_init(&vp->shm[i], r->id, r->size, NULL);
	}
	return 0;
}

/* Mappings follow the BARs wherever the guest puts them (the bus lock,
 * then ours: map requests take only ours). */
static void update_shm_bases(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	for (unsigned i = 0; i < vp->link->nr_shm; i++)
		if (vp->shm[i].slots)
			shm_region_move(&vp->shm[i], pci_bar_address(&vp->pci, VIRTIO_PCI_SHM_BAR(i)));
	pthread_mutex_unlock(&vp->lock);
}

/*
 * The VIRTIO_PCI_CAP_PCI_CFG window: BAR access through config space, for
 * drivers that cannot map BARs. The driver writes bar, offset and length
 * (1, 2 or 4) into the capability, then reads or writes pci_cfg_data.
 */
static unsigned add_pci_cfg_cap(struct pci_device *dev)
{
	struct virtio_pci_cfg_cap c = {
		.cap = { .cap_len = sizeof(c), .cfg_type = VIRTIO_PCI_CAP_PCI_CFG },
	};
	unsigned at = pci_device_add_cap(dev, PCI_CAP_ID_VNDR, (uint8_t *)&c + 2, sizeof(c) - 2);

	if (at) {
		dev->writable[at + offsetof(struct virtio_pci_cap, bar)] = 0xff;
		memset(&dev->writable[at + offsetof(struct virtio_pci_cap, offset)], 0xff, 8);
		memset(&dev->writable[at + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)], 0xff, 4);
	}
	return at;
}

/* The BAR access the window currently describes, or false if none. */
static bool pci_cfg_target(struct virtio_pci *vp, uint32_t *offset, uint32_t *len)
{
	const uint8_t *cap = &vp->pci.config[vp->pci_cfg_cap];

	memcpy(offset, cap + offsetof(struct virtio_pci_cap, offset), 4);
	memcpy(len, cap + offsetof(struct virtio_pci_cap, length), 4);
	return cap[offsetof(struct virtio_pci_cap, bar)] == 0 &&
	       (*len == 1 || *len == 2 || *len == 4) && *offset % *len == 0 &&
	       *offset <= BAR_SIZE - *len;
}

static bool touches_pci_cfg_data(struct virtio_pci *vp, unsigned reg, unsigned len)
{
	unsigned data = vp->pci_cfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);

	return vp->pci_cfg_cap && reg < data + 4 && reg + len > data;
}

static void pci_cfg_read(struct pci_device *dev, unsigned reg, unsigned len)
{
	struct virtio_pci *vp = dev->opaque;
	uint8_t *data = &dev->config[vp->pci_cfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)];
	uint32_t offset, size;

	if (!touches_pci_cfg_data(vp, reg, len))
		return;
	memset(data, 0, 4);
	if (pci_cfg_target(vp, &offset, &size))
		virtio_pci_bar_access(vp, offset, data, size, false);
}

static void pci_cfg_write(struct virtio_pci *vp)
{
	uint8_t *data = &vp->pci.config[vp->pci_cfg_cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data)];
	uint32_t offset, size;

	if (pci_cfg_target(vp, &offset, &size))
		virtio_pci_bar_access(vp, offset, data, size, true);
}

static unsigned add_msix_cap(struct pci_device *dev, unsigned nr_vectors)
{
	uint8_t body[10];
	uint16_t ctrl = (uint16_t)(nr_vectors - 1);
	uint32_t table = BAR_MSIX_TABLE, pba = BAR_MSIX_PBA;	/* BIR 0 */
	unsigned at;

	memcpy(body, &ctrl, 2);
	memcpy(body + 2, &table, 4);
	memcpy(body + 6, &pba, 4);
	at = pci_device_add_cap(dev, PCI_CAP_ID_MSIX, body, sizeof(body));
	if (at)
		dev->writable[at + 3] = 0xc0;	/* enable and function mask */
	return at;
}

/* --- ioeventfds follow BAR 0 wherever the guest puts it --- */

static void set_ioeventfds(struct virtio_pci *vp, uint64_t base, bool assign)
{
	for (unsigned q = 0; q < vp->link->nr_queues; q++) {
		struct kvm_ioeventfd io = {
			.addr = base + BAR_NOTIFY + q * NOTIFY_MULTIPLIER, .len = 2,
			.fd = vp->link->kick_fd[q],
			.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
		};

		if (ioctl(vp->kvm->vm_fd, KVM_IOEVENTFD, &io))
			log_ratelimited(LOG_WARN, "%s: KVM_IOEVENTFD: %s (notifications will be slower)",
				 vp->link->name, strerror(errno));
	}
}

static void update_notify_base(struct virtio_pci *vp)
{
	uint64_t base = pci_bar_address(&vp->pci, 0);

	if (!vp->kvm || base == vp->notify_base)
		return;
	if (vp->notify_base)
		set_ioeventfds(vp, vp->notify_base, false);
	if (base)
		set_ioeventfds(vp, base, true);
	vp->notify_base = base;
}

static void config_written(struct pci_device *dev, unsigned reg, unsigned len)
{
	struct virtio_pci *vp = dev->opaque;
	uint16_t ctrl;

	if (reg < 0x18 && reg + len > 0x04)	/* command register or BAR 0 */
		update_notify_base(vp);
	if (reg < 0x28 && reg + len > 0x04)	/* command register or BARs 0..5 */
		update_shm_bases(vp);
	if (touches_pci_cfg_data(vp, reg, len))
		pci_cfg_write(vp);
	for (unsigned at = dev->config[0x34]; at; at = dev->config[at + 1]) {
		if (dev->config[at] != PCI_CAP_ID_MSIX || reg + len <= at + 2 || reg > at + 3)
			continue;
		memcpy(&ctrl, &dev->config[at + 2], 2);
		msix_set_control(&vp->msix, ctrl & MSIX_CTRL_ENABLE, ctrl & MSIX_CTRL_MASK);
	}
}

/* --- the common configuration structure --- */

static struct virtio_pci_queue *selected(struct virtio_pci *vp)
{
	return vp->queue_select < vp->link->nr_queues ? &vp->queues[vp->queue_select] : NULL;
}

static void fill_common(struct virtio_pci *vp, struct virtio_pci_common_cfg *c)
{
	struct virtio_pci_queue *q = selected(vp);

	memset(c, 0, sizeof(*c));
	c->device_feature_select = vp->dfselect;
	c->device_feature = vp->dfselect < 2 ? (uint32_t)(vp->link->features >> (32 * vp->dfselect)) : 0;
	c->guest_feature_select = vp->gfselect;
	c->guest_feature = vp->gfselect < 2 ? (uint32_t)(vp->driver_features >> (32 * vp->gfselect)) : 0;
	c->msix_config = vp->config_vector;
	c->num_queues = (uint16_t)vp->link->nr_queues;
	c->device_status = vp->status;
	c->config_generation = vp->config_generation;
	c->queue_select = vp->queue_select;
	c->queue_msix_vector = VIRTIO_MSI_NO_VECTOR;
	if (!q)
		return;
	c->queue_size = q->size;
	c->queue_msix_vector = q->vector;
	c->queue_enable = q->enabled;
	c->queue_notify_off = vp->queue_select;
	c->queue_desc_lo = (uint32_t)q->desc;
	c->queue_desc_hi = (uint32_t)(q->desc >> 32);
	c->queue_avail_lo = (uint32_t)q->avail;
	c->queue_avail_hi = (uint32_t)(q->avail >> 32);
	c->queue_used_lo = (uint32_t)q->used;
	c->queue_used_hi = (uint32_t)(q->used >> 32);
}

static void reset_device(struct virtio_pci *vp)
{
	vp->link->ops->reset(vp->link);
	for (unsigned i = 0; i < vp->link->nr_shm; i++)	/* a reset device maps nothing */
		shm_region_clear(&vp->shm[i]);
	for (unsigned q = 0; q < vp->link->nr_queues; q++) {
		msix_bind(&vp->msix, vp->link->call_fd[q], MSIX_NO_VECTOR);
		vp->queues[q] = (struct virtio_pci_queue){
			.size = vp->link->max_queue_size, .vector = VIRTIO_MSI_NO_VECTOR,
		};
	}
	vp->dfselect = vp->gfselect = 0;
	vp->driver_features = 0;
	vp->config_vector = VIRTIO_MSI_NO_VECTOR;
	vp->queue_select = 0;
	vp->status = 0;
	vp->isr = 0;
}

static void fail_device(struct virtio_pci *vp, const char *why)
{
	log_ratelimited_msg(&vp->fail_log, LOG_WARN, "%s: %s; the device needs a reset",
			    vp->link->name, why);
	vp->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	if (vp->status & VIRTIO_CONFIG_S_DRIVER_OK) {
		vp->isr |= VIRTIO_PCI_ISR_CONFIG;
		msix_notify(&vp->msix, vp->config_vector);
	}
}

/* virtio 1.2, 3.1.1: a device may refuse the subset; the driver then sees
 * FEATURES_OK clear. */
static bool device_takes_features(struct virtio_pci *vp)
{
	struct vdev_link *link = vp->link;

	return !link->ops->features_ok || !link->ops->features_ok(link, vp->driver_features);
}

static void write_status(struct virtio_pci *vp, uint8_t status)
{
	uint8_t added = status & ~vp->status;

	if (status == 0) {
		reset_device(vp);
		return;
	}
	if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
		bool subset = !(vp->driver_features & ~vp->link->features);
		bool modern = vp->driver_features & (1ull << VIRTIO_F_VERSION_1);

		if (!subset || !modern || !device_takes_features(vp))
			status &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	vp->status = status | (vp->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	if ((added & VIRTIO_CONFIG_S_DRIVER_OK) && (vp->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    vp->link->ops->activate(vp->link, vp->driver_features))
		fail_device(vp, "activation failed");
}

static void enable_queue(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
	unsigned index = (unsigned)(q - vp->queues);
	struct vdev_vring ring = { q->size, q->desc, q->avail, q->used };

	if (q->enabled || (vp->status & VIRTIO_CONFIG_S_DRIVER_OK))
		return;
	if (vp->link->ops->set_vring(vp->link, index, &ring)) {
		fail_device(vp, "queue setup refused");
		return;
	}
	q->enabled = true;
}

/* Queue fields are frozen once enabled, features once FEATURES_OK. */
static void write_queue_field(struct virtio_pci *vp, unsigned reg, uint32_t v)
{
	struct virtio_pci_queue *q = selected(vp);
	uint64_t *addr = NULL;

	if (!q || q->enabled)
		return;
	switch (reg) {
	case VIRTIO_PCI_COMMON_Q_SIZE:
		/* Split rings need a power of two: the 16-bit indices wrap. */
		if (v && v <= vp->link->max_queue_size && !(v & (v - 1)))
			q->size = (uint16_t)v;
		return;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		q->vector = v < vp->msix.nr ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		msix_bind(&vp->msix, vp->link->call_fd[vp->queue_select], q->vector);
		return;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (v == 1)
			enable_queue(vp, q);
		return;
	case VIRTIO_PCI_COMMON_Q_DESCLO: case VIRTIO_PCI_COMMON_Q_DESCHI: addr = &q->desc; break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO: case VIRTIO_PCI_COMMON_Q_AVAILHI: addr = &q->avail; break;
	case VIRTIO_PCI_COMMON_Q_USEDLO: case VIRTIO_PCI_COMMON_Q_USEDHI: addr = &q->used; break;
	default: return;
	}
	if (reg % 8)	/* the high half */
		*addr = (*addr & 0xffffffffull) | (uint64_t)v << 32;
	else
		*addr = (*addr & ~0xffffffffull) | v;
}

static void write_common(struct virtio_pci *vp, unsigned reg, uint32_t v)
{
	switch (reg) {
	case VIRTIO_PCI_COMMON_DFSELECT: vp->dfselect = v; break;
	case VIRTIO_PCI_COMMON_GFSELECT: vp->gfselect = v; break;
	case VIRTIO_PCI_COMMON_GF:
		if (vp->gfselect < 2 && !(vp->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			unsigned shift = 32 * vp->gfselect;

			vp->driver_features = (vp->driver_features & ~(0xffffffffull << shift)) |
					      (uint64_t)v << shift;
		}
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		vp->config_vector = v < vp->msix.nr ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
		break;
	case VIRTIO_PCI_COMMON_STATUS: write_status(vp, (uint8_t)v); break;
	case VIRTIO_PCI_COMMON_Q_SELECT: vp->queue_select = (uint16_t)v; break;
	default: write_queue_field(vp, reg, v); break;
	}
}

/* Field widths, so only whole, aligned field accesses change state. */
static unsigned common_field_size(unsigned reg)
{
	if (reg == VIRTIO_PCI_COMMON_STATUS || reg == VIRTIO_PCI_COMMON_CFGGENERATION)
		return 1;
	if (reg < VIRTIO_PCI_COMMON_MSIX || (reg >= VIRTIO_PCI_COMMON_Q_DESCLO && reg < VIRTIO_PCI_COMMON_Q_NDATA))
		return 4;
	return 2;
}

static void common_access(struct virtio_pci *vp, unsigned reg, uint8_t *data, unsigned len,
			  bool is_write)
{
	struct virtio_pci_common_cfg c;
	uint32_t v = 0;

	if (!is_write) {
		fill_common(vp, &c);
		if (reg + len <= sizeof(c))
			memcpy(data, (uint8_t *)&c + reg, len);
		else
			memset(data, 0, len);
		return;
	}
	if (reg + len > sizeof(c) || len != common_field_size(reg))
		return;
	memcpy(&v, data, len);
	write_common(vp, reg, v);
}

static void device_config_access(struct virtio_pci *vp, unsigned off, uint8_t *data,
				 unsigned len, bool is_write)
{
	struct vdev_link *link = vp->link;

	if (off + len > link->config_size || len > 8) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (!is_write) {
		memcpy(data, link->config + off, len);
	} else if (link->ops->set_config(link, off, data, len) == 0) {
		memcpy(link->config + off, data, len);
	}
}

/*
 * A notify the ioeventfds did not catch (another width, the PCI_CFG window,
 * no KVM) lands here, on a vCPU holding the lock. Kick eventfds are
 * non-blocking: EAGAIN means a device stopped reading with the counter
 * full, and a kick is then pending anyway.
 */
static void notify_access(struct virtio_pci *vp, unsigned off, bool is_write)
{
	unsigned q = off / NOTIFY_MULTIPLIER;

	if (is_write && q < vp->link->nr_queues)
		(void)!write(vp->link->kick_fd[q], &(uint64_t){ 1 }, sizeof(uint64_t));
}

void virtio_pci_bar_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			   bool is_write)
{
	struct virtio_pci *vp = opaque;
	unsigned region = (unsigned)(offset & ~(uint64_t)(REGION_SIZE - 1));
	unsigned off = (unsigned)(offset & (REGION_SIZE - 1));

	if (region == BAR_MSIX_TABLE) {
		msix_table_access(&vp->msix, off, data, len, is_write);
		return;
	}
	if (region == BAR_MSIX_PBA) {
		msix_pba_access(&vp->msix, off, data, len, is_write);
		return;
	}
	if (!is_write)
		memset(data, 0, len);
	pthread_mutex_lock(&vp->lock);
	switch (region) {
	case BAR_COMMON: common_access(vp, off, data, len, is_write); break;
	case BAR_ISR:
		if (!is_write && off == 0) {
			data[0] = vp->isr;	/* read to clear */
			vp->isr = 0;
		}
		break;
	case BAR_DEVICE: device_config_access(vp, off, data, len, is_write); break;
	case BAR_NOTIFY: notify_access(vp, off, is_write); break;
	default: break;
	}
	pthread_mutex_unlock(&vp->lock);
}

/* Recursive: a link may report a broken device from inside one of its ops. */
static void init_lock(pthread_mutex_t *lock)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(lock, &attr);
	pthread_mutexattr_destroy(&attr);
}

static int on_config_changed(void *ctx, unsigned offset, const void *bytes, unsigned len)
{
	return virtio_pci_config_changed(ctx, offset, bytes, len);
}

static void on_needs_reset(void *ctx, const char *why)
{
	virtio_pci_needs_reset(ctx, why);
}

static_assert(VDEV_SHM_PROT_READ == SHM_PROT_READ && VDEV_SHM_PROT_WRITE == SHM_PROT_WRITE,
	      "prot bits");

static int on_shm_map(void *ctx, uint8_t id, uint64_t offset, int fd, uint64_t fd_offset,
		      uint64_t size, uint32_t prot)
{
	return virtio_pci_shm_map(ctx, id, offset, fd, fd_offset, size, prot);
}

static int on_shm_unmap(void *ctx, uint8_t id, uint64_t offset)
{
	return virtio_pci_shm_unmap(ctx, id, offset);
}

static const struct vdev_link_events transport_events = {
	.config_changed = on_config_changed, .needs_reset = on_needs_reset,
	.shm_map = on_shm_map, .shm_unmap = on_shm_unmap,
};

int virtio_pci_init(struct virtio_pci *vp, struct vdev_link *link, struct kvm *kvm,
		    struct msi_routes *routes)
{
	struct pci_device *dev = &vp->pci;
	int rc;

	memset(vp, 0, sizeof(*vp));
	if (link->nr_queues == 0 || link->nr_queues > VDEV_MAX_QUEUES ||
	    link->config_size > VDEV_CONFIG_MAX || !link->max_queue_size ||
	    link->nr_shm > VDEV_MAX_SHM_REGIONS)
		return -EINVAL;
	init_lock(&vp->lock);
	vp->link = link;
	vp->kvm = kvm;
	link->features |= 1ull << VIRTIO_F_VERSION_1;
	if (msix_init(&vp->msix, routes, link->nr_queues + 1))
		return -ENOSPC;
	pci_device_init(dev, PCI_VENDOR_REDHAT_VIRTIO, (uint16_t)(0x1040 + link->device_id),
			class_of(link->device_id), PCI_VENDOR_REDHAT_VIRTIO, 0x40);
	dev->opaque = vp;
	dev->config_written = config_written;
	add_virtio_cap(dev, VIRTIO_PCI_CAP_COMMON_CFG, BAR_COMMON,
		       sizeof(struct virtio_pci_common_cfg), false);
	add_virtio_cap(dev, VIRTIO_PCI_CAP_NOTIFY_CFG, BAR_NOTIFY,
		       link->nr_queues * NOTIFY_MULTIPLIER, true);
	add_virtio_cap(dev, VIRTIO_PCI_CAP_ISR_CFG, BAR_ISR, 1, false);
	if (link->config_size)
		add_virtio_cap(dev, VIRTIO_PCI_CAP_DEVICE_CFG, BAR_DEVICE, link->config_size, false);
	vp->pci_cfg_cap = add_pci_cfg_cap(dev);
	dev->config_read = pci_cfg_read;
	if (!vp->pci_cfg_cap || !add_msix_cap(dev, vp->msix.nr) ||
	    pci_device_add_bar(dev, 0, BAR_SIZE, false, virtio_pci_bar_access, vp))
		return -ENOSPC;
	rc = add_shm_regions(vp);
	if (rc)
		return rc;
	reset_device(vp);
	vdev_link_subscribe(link, &transport_events, vp);
	return 0;
}

int virtio_pci_plug(struct virtio_pci *vp, struct pci_bus *bus, unsigned slot)
{
	if (pci_add_device(bus, slot, &vp->pci))
		return -ENOSPC;
	pthread_mutex_lock(&vp->lock);
	update_notify_base(vp);
	pthread_mutex_unlock(&vp->lock);
	return 0;
}

void virtio_pci_set_memslots(struct virtio_pci *vp, struct memslots *slots)
{
	pthread_mutex_lock(&vp->lock);
	for (unsigned i = 0; i < vp->link->nr_shm; i++)
		vp->shm[i].slots = slots;
	pthread_mutex_unlock(&vp->lock);
	update_shm_bases(vp);
}

static struct shm_region *find_shm(struct virtio_pci *vp, uint8_t id)
{
	for (unsigned i = 0; i < vp->link->nr_shm; i++)
		if (vp->shm[i].slots && vp->shm[i].id == id)
			return &vp->shm[i];
	return NULL;
}

int virtio_pci_shm_map(struct virtio_pci *vp, uint8_t id, uint64_t offset, int fd,
		       uint64_t fd_offset, uint64_t size, uint32_t prot)
{
	struct shm_region *r;
	int rc = -ENODEV;

	pthread_mutex_lock(&vp->lock);
	r = find_shm(vp, id);
	if (r)
		rc = shm_region_map(r, offset, fd, fd_offset, size, prot);
	pthread_mutex_unlock(&vp->lock);
	return rc;
}

int virtio_pci_shm_unmap(struct virtio_pci *vp, uint8_t id, uint64_t offset)
{
	struct shm_region *r;
	int rc = -ENODEV;

	pthread_mutex_lock(&vp->lock);
	r = find_shm(vp, id);
	if (r)
		rc = shm_region_unmap(r, offset);
	pthread_mutex_unlock(&vp->lock);
	return rc;
}

void virtio_pci_shm_clear(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	for (unsigned i = 0; i < vp->link->nr_shm; i++)
		shm_region_clear(&vp->shm[i]);
	pthread_mutex_unlock(&vp->lock);
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
	for (unsigned i = 0; vp->link && i < vp->link->nr_shm; i++)
		shm_region_clear(&vp->shm[i]);
	vdev_link_subscribe(vp->link, NULL, NULL);
	if (vp->kvm && vp->notify_base)
		set_ioeventfds(vp, vp->notify_base, false);
	msix_destroy(&vp->msix);
	pthread_mutex_destroy(&vp->lock);
}

int virtio_pci_config_changed(struct virtio_pci *vp, unsigned offset, const void *bytes,
			      unsigned len)
{
	unsigned size = vp->link->config_size;

	if (!len || offset > size || len > size - offset)
		return -EINVAL;
	pthread_mutex_lock(&vp->lock);
	memcpy(vp->link->config + offset, bytes, len);
	vp->config_generation++;
	vp->isr |= VIRTIO_PCI_ISR_CONFIG;
	if (vp->status & VIRTIO_CONFIG_S_DRIVER_OK)
		msix_notify(&vp->msix, vp->config_vector);
	pthread_mutex_unlock(&vp->lock);
	return 0;
}

void virtio_pci_needs_reset(struct virtio_pci *vp, const char *why)
{
	pthread_mutex_lock(&vp->lock);
	fail_device(vp, why);
	pthread_mutex_unlock(&vp->lock);
}

uint8_t virtio_pci_status(struct virtio_pci *vp)
{
	uint8_t status;

	pthread_mutex_lock(&vp->lock);
	status = vp->status;
	pthread_mutex_unlock(&vp->lock);
	return status;
}
