/*
 * ACPI fixed hardware: PM1 event and control registers (power button, sleep
 * to S5), the reset register, and the SCI line. The FADT in boot/acpi.c
 * points the guest here.
 */
#ifndef VMSILO_ACPI_PM_H
#define VMSILO_ACPI_PM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/kvm.h"

enum acpi_pm_event { ACPI_PM_NONE, ACPI_PM_POWEROFF, ACPI_PM_RESET };

struct acpi_pm {
	pthread_mutex_t lock;
	struct kvm *kvm;
	uint16_t status, enable, control;
	bool sci_level;
	/* Called (with the lock dropped) when the guest powers off or resets. */
	void (*event)(void *ctx, enum acpi_pm_event event);
	void *ctx;
};

void acpi_pm_init(struct acpi_pm *pm, struct kvm *kvm,
		  void (*event)(void *ctx, enum acpi_pm_event), void *ctx);
/* PM1 event block (4 bytes) and PM1 control block (2 bytes). */
void acpi_pm_evt_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			bool is_write);
void acpi_pm_cnt_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			bool is_write);
void acpi_pm_reset_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			  bool is_write);
/* Presses the power button: the guest's ACPI driver starts a clean shutdown. */
void acpi_pm_press_power_button(struct acpi_pm *pm);

#endif
