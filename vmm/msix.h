/*
 * An MSI-X table and pending-bit array as a PCI function exposes them in a
 * BAR. Device interrupts arrive as eventfd writes bound to vectors with
 * irqfds, so they reach the guest without passing through this process;
 * while a vector is masked its eventfds are unbound and simply accumulate,
 * and KVM delivers what accumulated when the irqfd is bound again.
 */
#ifndef VMSILO_MSIX_H
#define VMSILO_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/msi.h"

#define MSIX_MAX_VECTORS 64
#define MSIX_MAX_BINDINGS 64
#define MSIX_NO_VECTOR 0xffff
#define MSIX_ENTRY_SIZE 16

struct msix_vector {
	uint32_t addr_lo, addr_hi, data, ctrl;
	int gsi;
	bool pending;		/* an interrupt raised by the VMM while masked */
};

struct msix_binding {
	int eventfd;
	uint16_t vector;
	bool assigned;
};

struct msix {
	pthread_mutex_t lock;
	struct msi_routes *routes;
	unsigned nr;
	bool enabled, function_masked;
	struct msix_vector vec[MSIX_MAX_VECTORS];
	struct msix_binding bind[MSIX_MAX_BINDINGS];
	unsigned nr_bind;
};

int msix_init(struct msix *msix, struct msi_routes *routes, unsigned nr_vectors);
void msix_destroy(struct msix *msix);
/* The table and the PBA, each as a BAR region handler. */
void msix_table_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
void msix_pba_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
/* From the capability's Message Control register. */
void msix_set_control(struct msix *msix, bool enabled, bool function_masked);
/* Routes an eventfd to a vector (MSIX_NO_VECTOR: to none). */
int msix_bind(struct msix *msix, int eventfd, uint16_t vector);
/* Raises a vector from the VMM itself, or leaves it pending while masked. */
void msix_notify(struct msix *msix, uint16_t vector);

#endif
