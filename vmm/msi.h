/*
 * MSI delivery through KVM: the GSI routing table (the default IOAPIC/PIC
 * routes plus one MSI route per allocated GSI), irqfds that turn an
 * eventfd write into an interrupt without leaving the kernel, and direct
 * injection for interrupts the VMM raises itself.
 */
#ifndef VMSILO_MSI_H
#define VMSILO_MSI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/kvm.h"

#define MSI_MAX_ROUTES 256

struct msi_message {
	uint64_t addr;
	uint32_t data;
};

struct msi_routes {
	pthread_mutex_t lock;
	struct kvm *kvm;
	unsigned nr_msi;		/* GSIs handed out, from MSI_FIRST_GSI up */
	struct msi_message msg[MSI_MAX_ROUTES];
	bool valid[MSI_MAX_ROUTES];
};

int msi_routes_init(struct msi_routes *routes, struct kvm *kvm);
void msi_routes_destroy(struct msi_routes *routes);
/* A GSI for one MSI vector, or -1 when the table is full. */
int msi_gsi_alloc(struct msi_routes *routes);
/* Points gsi at msg (valid) or removes its route; rewrites KVM's table. */
int msi_gsi_set(struct msi_routes *routes, int gsi, const struct msi_message *msg, bool valid);
/* Binds or unbinds an eventfd to a GSI. */
int msi_irqfd(struct kvm *kvm, int gsi, int eventfd, bool assign);
/* Raises one MSI now. */
int msi_signal(struct kvm *kvm, const struct msi_message *msg);

#endif
