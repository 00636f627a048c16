/* Platform devices at register level: UART, CMOS clock, ACPI PM, PCI config. */
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check.h"
#include "vmm/acpi_pm.h"
#include "vmm/bus.h"
#include "vmm/pci.h"
#include "vmm/rtc.h"
#include "vmm/serial.h"

static uint8_t in8(bus_access_fn fn, void *dev, uint64_t off)
{
	uint8_t v = 0;

	fn(dev, off, &v, 1, false);
	return v;
}

static void out8(bus_access_fn fn, void *dev, uint64_t off, uint8_t v)
{
	fn(dev, off, &v, 1, true);
}

static void test_serial(void)
{
	struct serial s;
	int out[2], space;
	char buf[8] = "";

	CHECK_EQ(pipe2(out, O_NONBLOCK), 0);
	space = eventfd(0, EFD_NONBLOCK);
	serial_init(&s, NULL, 4, out[1], space);
	out8(serial_access, &s, 0, 'h');
	out8(serial_access, &s, 0, 'i');
	CHECK_EQ(read(out[0], buf, sizeof(buf)), 2);
	CHECK(!memcmp(buf, "hi", 2));
	CHECK_EQ(in8(serial_access, &s, 5) & 0x60, 0x60);	/* THR empty */
	CHECK_EQ(in8(serial_access, &s, 2) & 0x0f, 0x01);	/* no interrupt */
	/* Enabling THRI with an empty THR interrupts at once; reading IIR acks. */
	out8(serial_access, &s, 1, 0x02);
	CHECK_EQ(in8(serial_access, &s, 2) & 0x0f, 0x02);
	CHECK_EQ(in8(serial_access, &s, 2) & 0x0f, 0x01);
	/* Received data: DR in LSR, RDI has priority over THRI. */
	out8(serial_access, &s, 1, 0x03);
	CHECK_EQ(serial_receive(&s, (const uint8_t *)"ab", 2), 2);
	CHECK_EQ(in8(serial_access, &s, 5) & 1, 1);
	CHECK_EQ(in8(serial_access, &s, 2) & 0x0f, 0x04);
	CHECK_EQ(in8(serial_access, &s, 0), 'a');
	CHECK_EQ(in8(serial_access, &s, 0), 'b');
	CHECK_EQ(in8(serial_access, &s, 5) & 1, 0);
	CHECK_EQ(read(space, buf, 8), 8);	/* drained: the main loop is told */
	/* A full FIFO takes no more. */
	for (unsigned i = 0; i < SERIAL_RX_SIZE; i++)
		serial_receive(&s, (const uint8_t *)"x", 1);
	CHECK(!serial_can_receive(&s));
	CHECK_EQ(serial_receive(&s, (const uint8_t *)"y", 1), 0);
	out8(serial_access, &s, 2, 0x03);	/* FIFO on, clear RX */
	CHECK(serial_can_receive(&s));
	CHECK_EQ(in8(serial_access, &s, 2) & 0xc0, 0xc0);
	/* Loopback, as the 8250 probe uses it: MCR outputs appear in MSR. */
	out8(serial_access, &s, 4, 0x10 | 0x0a);
	CHECK_EQ(in8(serial_access, &s, 6) & 0xf0, 0x90);
	out8(serial_access, &s, 0, 'z');
	CHECK_EQ(in8(serial_access, &s, 0), 'z');
	CHECK_EQ(read(out[0], buf, sizeof(buf)), -1);	/* nothing left the UART */
	/* Divisor latch. */
	out8(serial_access, &s, 3, 0x80);
	out8(serial_access, &s, 0, 0x01);
	CHECK_EQ(in8(serial_access, &s, 0), 0x01);
	out8(serial_access, &s, 3, 0x03);
	/* Scratch register and a wide access, which reads as all ones. */
	out8(serial_access, &s, 7, 0x5a);
	CHECK_EQ(in8(serial_access, &s, 7), 0x5a);
	uint32_t wide = 0;
	serial_access(&s, 0, (uint8_t *)&wide, 4, false);
	CHECK_EQ(wide, 0xffffffff);
	serial_destroy(&s);
	close(out[0]);
	close(out[1]);
	close(space);
}

static void test_rtc(void)
{
	struct rtc rtc;
	int64_t t = 1764417845;	/* 2025-11-29 12:04:05 UTC, a Saturday */

	CHECK_EQ(rtc_clock_register(0x00, t, 0x02), 0x05);
	CHECK_EQ(rtc_clock_register(0x02, t, 0x02), 0x04);
	CHECK_EQ(rtc_clock_register(0x04, t, 0x02), 0x12);
	CHECK_EQ(rtc_clock_register(0x06, t, 0x02), 7);
	CHECK_EQ(rtc_clock_register(0x07, t, 0x02), 0x29);
	CHECK_EQ(rtc_clock_register(0x08, t, 0x02), 0x11);
	CHECK_EQ(rtc_clock_register(0x09, t, 0x02), 0x25);
	CHECK_EQ(rtc_clock_register(0x32, t, 0x02), 0x20);
	CHECK_EQ(rtc_clock_register(0x04, t, 0x06), 12);	/* binary mode */
	rtc_init(&rtc);
	out8(rtc_access, &rtc, 0, 0x0a);
	CHECK_EQ(in8(rtc_access, &rtc, 1) & 0x80, 0);		/* never updating */
	out8(rtc_access, &rtc, 0, 0x8d);			/* NMI bit ignored */
	CHECK_EQ(in8(rtc_access, &rtc, 1), 0x80);		/* valid RAM and time */
	out8(rtc_access, &rtc, 0, 0x40);
	out8(rtc_access, &rtc, 1, 0x77);
	CHECK_EQ(in8(rtc_access, &rtc, 1), 0x77);		/* CMOS RAM keeps writes */
}

static enum acpi_pm_event last_event;

static void record_event(void *ctx, enum acpi_pm_event event)
{
	last_event = event;
}

static void test_acpi_pm(void)
{
	struct acpi_pm pm;
	uint16_t v;

	acpi_pm_init(&pm, NULL, record_event, NULL);
	acpi_pm_press_power_button(&pm);
	acpi_pm_evt_access(&pm, 0, (uint8_t *)&v, 2, false);
	CHECK_EQ(v & 0x100, 0x100);
	CHECK(!pm.sci_level);				/* not enabled yet */
	v = 0x100;
	acpi_pm_evt_access(&pm, 2, (uint8_t *)&v, 2, true);	/* enable */
	CHECK_EQ(pm.enable, 0x100);
	acpi_pm_evt_access(&pm, 0, (uint8_t *)&v, 2, true);	/* write 1 to clear */
	acpi_pm_evt_access(&pm, 0, (uint8_t *)&v, 2, false);
	CHECK_EQ(v, 0);
	acpi_pm_cnt_access(&pm, 0, (uint8_t *)&v, 2, false);
	CHECK_EQ(v & 1, 1);				/* SCI_EN always set */
	CHECK_EQ(last_event, ACPI_PM_NONE);
	v = (uint16_t)(5 << 10);			/* SLP_TYP without SLP_EN */
	acpi_pm_cnt_access(&pm, 0, (uint8_t *)&v, 2, true);
	CHECK_EQ(last_event, ACPI_PM_NONE);
	v = (uint16_t)(5 << 10 | 1 << 13);
	acpi_pm_cnt_access(&pm, 0, (uint8_t *)&v, 2, true);
	CHECK_EQ(last_event, ACPI_PM_POWEROFF);
	last_event = ACPI_PM_NONE;
	out8(acpi_pm_reset_access, &pm, 0, 0x02);
	CHECK_EQ(last_event, ACPI_PM_NONE);
	out8(acpi_pm_reset_access, &pm, 0, 0x01);
	CHECK_EQ(last_event, ACPI_PM_RESET);
}

static uint32_t cf8_read(struct pci_bus *pci, unsigned slot, unsigned reg)
{
	uint32_t addr = 0x80000000u | slot << 11 | reg, v;

	pci_io_access(pci, 0, (uint8_t *)&addr, 4, true);
	pci_io_access(pci, 4, (uint8_t *)&v, 4, false);
	return v;
}

static void test_pci(void)
{
	struct pci_bus pci;
	uint32_t v = 0x12345678;

	pci_init(&pci, 0x100000000ull, 1ull << 30);
	CHECK_EQ(cf8_read(&pci, 0, 0), 0x0d578086);
	CHECK_EQ(cf8_read(&pci, 0, 8) >> 8, 0x060000);
	CHECK_EQ(cf8_read(&pci, 1, 0), 0xffffffff);		/* empty slot */
	pci_io_access(&pci, 0, (uint8_t *)&v, 4, false);	/* latch reads back */
	CHECK_EQ(v, 0x80000800);
	pci_ecam_access(&pci, 0, (uint8_t *)&v, 4, false);
	CHECK_EQ(v, 0x0d578086);
	pci_ecam_access(&pci, 1 << 20, (uint8_t *)&v, 4, false);	/* bus 1 */
	CHECK_EQ(v, 0xffffffff);
	v = 0;
	pci_ecam_access(&pci, 0, (uint8_t *)&v, 4, true);	/* read-only */
	CHECK_EQ(cf8_read(&pci, 0, 0), 0x0d578086);
	pci_ecam_access(&pci, 0xffe, (uint8_t *)&v, 4, false);	/* past the end */
	CHECK_EQ(v, 0xffffffff);
}

static uint64_t last_bar_offset;
static unsigned bar_hits;

static void fake_bar(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	last_bar_offset = offset;
	bar_hits++;
	if (!is_write)
		memset(data, 0xab, len);
}

static uint32_t ecam_read32(struct pci_bus *pci, unsigned slot, unsigned reg)
{
	uint32_t v;

	pci_ecam_access(pci, slot << 15 | reg, (uint8_t *)&v, 4, false);
	return v;
}

static void ecam_write32(struct pci_bus *pci, unsigned slot, unsigned reg, uint32_t v)
{
	pci_ecam_access(pci, slot << 15 | reg, (uint8_t *)&v, 4, true);
}

static void test_pci_bars(void)
{
	static struct pci_device dev;
	struct pci_bus pci;
	uint8_t body[2] = { 0x12, 0x34 };
	uint32_t v;

	pci_init(&pci, 0x100000000ull, 1ull << 30);
	pci_device_init(&dev, 0x1af4, 0x1042, 0x010000, 0x1af4, 2);
	CHECK_EQ(pci_device_add_bar(&dev, 0, 0x8000, false, fake_bar, NULL), 0);
	CHECK_EQ(pci_device_add_bar(&dev, 2, 0x4000, true, fake_bar, NULL), 0);
	CHECK_EQ(pci_device_add_bar(&dev, 5, 0x4000, true, fake_bar, NULL), -1);	/* no room */
	CHECK_EQ(pci_device_add_bar(&dev, 1, 0x3000, false, fake_bar, NULL), -1);	/* not 2^n */
	CHECK_EQ(pci_device_add_cap(&dev, 0x09, body, 2), 0x40);
	CHECK_EQ(pci_device_add_cap(&dev, 0x11, body, 2), 0x44);
	CHECK_EQ(pci_add_device(&pci, 3, &dev), 0);
	CHECK_EQ(pci_add_device(&pci, 3, &dev), -1);				/* slot taken */
	CHECK_EQ(ecam_read32(&pci, 3, 0), 0x10421af4);
	CHECK_EQ(ecam_read32(&pci, 3, 0x34) & 0xff, 0x40);
	CHECK_EQ(ecam_read32(&pci, 3, 0x40), 0x34124409);			/* id, next, body */
	CHECK_EQ(ecam_read32(&pci, 3, 0x04) >> 16 & 0x10, 0x10);		/* cap list */
	CHECK_EQ(ecam_read32(&pci, 3, 0x10), 0xc0000000);			/* firmware-placed */
	CHECK_EQ(ecam_read32(&pci, 3, 0x18), 0x4);				/* 64-bit, low */
	CHECK_EQ(ecam_read32(&pci, 3, 0x1c), 1);				/* at 4 GiB */
	CHECK_EQ(pci_bar_address(&dev, 2), 0x100000000ull);
	/* MMIO reaches the BAR handler with the offset inside the BAR. */
	pci_mmio32_access(&pci, 0x10, (uint8_t *)&v, 4, false);
	CHECK_EQ(v, 0xabababab);
	CHECK_EQ(last_bar_offset, 0x10);
	pci_mmio64_access(&pci, 0x3ffc, (uint8_t *)&v, 4, false);
	CHECK_EQ(last_bar_offset, 0x3ffc);
	bar_hits = 0;
	pci_mmio64_access(&pci, 0x3ffe, (uint8_t *)&v, 4, false);		/* straddles the end */
	CHECK_EQ(bar_hits, 0);
	CHECK_EQ(v, 0xffffffff);
	/* The sizing dance: all ones reads back the size mask, then restore. */
	ecam_write32(&pci, 3, 0x10, 0xffffffff);
	CHECK_EQ(ecam_read32(&pci, 3, 0x10), 0xffff8000);
	ecam_write32(&pci, 3, 0x10, 0xc0010000);
	CHECK_EQ(pci_bar_address(&dev, 0), 0xc0010000);
	/* Memory decode off: nothing answers. */
	ecam_write32(&pci, 3, 0x04, 0);
	CHECK_EQ(pci_bar_address(&dev, 0), 0);
	bar_hits = 0;
	pci_mmio32_access(&pci, 0x10000, (uint8_t *)&v, 4, false);
	CHECK_EQ(bar_hits, 0);
	/* Read-only identity. */
	ecam_write32(&pci, 3, 0, 0);
	CHECK_EQ(ecam_read32(&pci, 3, 0), 0x10421af4);
}

int main(void)
{
	test_pci_bars();
	test_serial();
	test_rtc();
	test_acpi_pm();
	test_pci();
	return check_report("test_devices");
}
