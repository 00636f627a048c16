#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/log.h"
#include "vmm/msi.h"

#define MSI_FIRST_GSI	24	/* 0..23 stay the IOAPIC pins */
#define NR_IOAPIC_PINS	24
#define NR_PIC_IRQS	16

void msi_routes_destroy(struct msi_routes *routes)
{
	pthread_mutex_destroy(&routes->lock);
}

static unsigned add_irqchip(struct kvm_irq_routing_entry *e, unsigned n, uint32_t gsi,
			    uint32_t chip, uint32_t pin)
{
	e[n] = (struct kvm_irq_routing_entry){
		.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
		.u.irqchip = { .irqchip = chip, .pin = pin },
	};
	return n + 1;
}

/* KVM replaces the whole table on each update, so it is always rebuilt:
 * the default legacy routes first, then the valid MSI routes. */
static int commit(struct msi_routes *routes)
{
	unsigned max = NR_IOAPIC_PINS + NR_PIC_IRQS + MSI_MAX_ROUTES, n = 0;
	struct kvm_irq_routing *table;
	int rc;

	table = calloc(1, sizeof(*table) + max * sizeof(table->entries[0]));
	if (!table)
		return -ENOMEM;
	for (uint32_t i = 0; i < NR_IOAPIC_PINS; i++) {
		n = add_irqchip(table->entries, n, i, KVM_IRQCHIP_IOAPIC, i);
		if (i < NR_PIC_IRQS)
			n = add_irqchip(table->entries, n, i,
					i < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, i % 8);
	}
	for (unsigned i = 0; i < routes->nr_msi; i++) {
		if (!routes->valid[i])
			continue;
		table->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = MSI_FIRST_GSI + i, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = {
				.address_lo = (uint32_t)routes->msg[i].addr,
				.address_hi = (uint32_t)(routes->msg[i].addr >> 32),
				.data = routes->msg[i].data,
			},
		};
	}
	table->nr = n;
	rc = ioctl(routes->kvm->vm_fd, KVM_SET_GSI_ROUTING, table) ? -errno : 0;
	free(table);
	return rc;
}

int msi_routes_init(struct msi_routes *routes, struct kvm *kvm)
{
	memset(routes, 0, sizeof(*routes));
	pthread_mutex_init(&routes->lock, NULL);
	routes->kvm = kvm;
	return 0;
}

int msi_gsi_alloc(struct msi_routes *routes)
{
	int gsi = -1;

	pthread_mutex_lock(&routes->lock);
	if (routes->nr_msi < MSI_MAX_ROUTES)
		gsi = MSI_FIRST_GSI + (int)routes->nr_msi++;
	pthread_mutex_unlock(&routes->lock);
	return gsi;
}

int msi_gsi_set(struct msi_routes *routes, int gsi, const struct msi_message *msg, bool valid)
{
	unsigned i = (unsigned)(gsi - MSI_FIRST_GSI);
	int rc;

	if (gsi < MSI_FIRST_GSI || i >= MSI_MAX_ROUTES)
		return -EINVAL;
	pthread_mutex_lock(&routes->lock);
	if (valid)
		routes->msg[i] = *msg;
	routes->valid[i] = valid;
	rc = commit(routes);
	pthread_mutex_unlock(&routes->lock);
	if (rc)
		log_ratelimited(LOG_WARN, "KVM_SET_GSI_ROUTING: %s", strerror(-rc));
	return rc;
}

int msi_irqfd(struct kvm *kvm, int gsi, int eventfd, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)eventfd, .gsi = (uint32_t)gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(kvm->vm_fd, KVM_IRQFD, &irqfd) ? -errno : 0;
}

int msi_signal(struct kvm *kvm, const struct msi_message *msg)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)msg->addr,
		.address_hi = (uint32_t)(msg->addr >> 32),
		.data = msg->data,
	};

	return ioctl(kvm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}
