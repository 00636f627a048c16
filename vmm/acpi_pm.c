#include <string.h>

#include "boot/layout.h"
#include "vmm/acpi_pm.h"

#define PM1_PWRBTN	(1u << 8)	/* status and enable bit */
#define PM1_WAK_STS	(1u << 15)
#define PM1_SCI_EN	(1u << 0)
#define PM1_SLP_TYP(c)	(((c) >> 10) & 7)
#define PM1_SLP_EN	(1u << 13)

void acpi_pm_init(struct acpi_pm *pm, struct kvm *kvm,
		  void (*event)(void *ctx, enum acpi_pm_event), void *ctx)
{
	memset(pm, 0, sizeof(*pm));
	pthread_mutex_init(&pm->lock, NULL);
	pm->kvm = kvm;
	pm->control = PM1_SCI_EN;	/* no SMI_CMD: always in ACPI mode */
	pm->event = event;
	pm->ctx = ctx;
}

static void update_sci(struct acpi_pm *pm)
{
	bool level = (pm->status & pm->enable & PM1_PWRBTN) != 0;

	if (level != pm->sci_level && pm->kvm) {
		pm->sci_level = level;
		kvm_set_irq(pm->kvm, LAYOUT_SCI_IRQ, level);
	}
}

/* Registers are 16 bits wide; accept byte and word accesses within them. */
static void access16(uint16_t *reg, unsigned shift, uint8_t *data, unsigned len,
		     bool is_write, bool write_clears)
{
	uint16_t mask = (uint16_t)(len == 1 ? 0xffu << shift : 0xffffu);
	uint16_t val = (uint16_t)(len == 1 ? data[0] << shift : data[0] | data[1] << 8);

	if (!is_write) {
		uint16_t out = (uint16_t)(*reg >> shift);

		memcpy(data, &out, len);
	} else if (write_clears) {
		*reg &= (uint16_t)~(val & mask);
	} else {
		*reg = (uint16_t)((*reg & ~mask) | (val & mask));
	}
}

void acpi_pm_evt_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			bool is_write)
{
	struct acpi_pm *pm = opaque;
	uint16_t *reg;

	if (len > 2 || (len == 2 && (offset & 1))) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&pm->lock);
	reg = offset < 2 ? &pm->status : &pm->enable;
	access16(reg, (offset & 1) * 8, data, len, is_write, offset < 2);
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_cnt_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			bool is_write)
{
	struct acpi_pm *pm = opaque;
	enum acpi_pm_event event = ACPI_PM_NONE;

	if (len > 2 || offset + len > 2) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&pm->lock);
	access16(&pm->control, (offset & 1) * 8, data, len, is_write, false);
	pm->control |= PM1_SCI_EN;
	if ((pm->control & PM1_SLP_EN) && PM1_SLP_TYP(pm->control) == LAYOUT_S5_SLP_TYP)
		event = ACPI_PM_POWEROFF;
	pm->control &= (uint16_t)~PM1_SLP_EN;	/* write-only bit */
	pthread_mutex_unlock(&pm->lock);
	if (event != ACPI_PM_NONE)
		pm->event(pm->ctx, event);
}

void acpi_pm_reset_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			  bool is_write)
{
	struct acpi_pm *pm = opaque;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (data[0] == LAYOUT_RESET_VALUE)
		pm->event(pm->ctx, ACPI_PM_RESET);
}

void acpi_pm_press_power_button(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->status |= PM1_PWRBTN;
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}
