/* A 16550A UART (COM1) with interrupts, wired to the console backend. */
#ifndef VMSILO_SERIAL_H
#define VMSILO_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/kvm.h"

#define SERIAL_RX_SIZE 64

struct serial {
	pthread_mutex_t lock;
	struct kvm *kvm;
	unsigned irq;
	int out_fd;		/* guest output; -1 discards */
	int space_fd;		/* eventfd written when the guest drains input */
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thr_interrupt;	/* a THR-empty interrupt is pending */
	bool irq_level;
	uint8_t rx[SERIAL_RX_SIZE];
	unsigned rx_head, rx_count;
};

void serial_init(struct serial *s, struct kvm *kvm, unsigned irq, int out_fd, int space_fd);
void serial_destroy(struct serial *s);
void serial_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
/* Queues host input for the guest; returns how many bytes were taken. */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);
bool serial_can_receive(struct serial *s);

#endif
