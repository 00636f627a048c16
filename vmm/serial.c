#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vmm/serial.h"

enum { REG_DATA, REG_IER, REG_IIR_FCR, REG_LCR, REG_MCR, REG_LSR, REG_MSR, REG_SCR };

#define IER_RDI		0x01
#define IER_THRI	0x02
#define IIR_NO_INT	0x01
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_FIFO_ON	0xc0
#define FCR_FIFO_EN	0x01
#define FCR_CLEAR_RX	0x02
#define LCR_DLAB	0x80
#define MCR_LOOP	0x10
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_DCD		0x80

void serial_init(struct serial *s, struct kvm *kvm, unsigned irq, int out_fd, int space_fd)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->kvm = kvm;
	s->irq = irq;
	s->out_fd = out_fd;
	s->space_fd = space_fd;
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

static uint8_t pending_interrupt(const struct serial *s)
{
	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI;
	if ((s->ier & IER_THRI) && s->thr_interrupt)
		return IIR_THRI;
	return IIR_NO_INT;
}

static void update_irq(struct serial *s)
{
	bool level = pending_interrupt(s) != IIR_NO_INT;

	if (level != s->irq_level && s->kvm) {
		s->irq_level = level;
		kvm_set_irq(s->kvm, s->irq, level);
	}
}

static void push_rx(struct serial *s, uint8_t byte)
{
	if (s->rx_count == SERIAL_RX_SIZE)
		return;		/* overrun: the byte is lost, as on hardware */
	s->rx[(s->rx_head + s->rx_count++) % SERIAL_RX_SIZE] = byte;
}

static uint8_t pop_rx(struct serial *s)
{
	uint8_t byte;

	if (!s->rx_count)
		return 0;
	byte = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_SIZE;
	if (--s->rx_count == 0 && s->space_fd >= 0)
		(void)!write(s->space_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
	return byte;
}

static void transmit(struct serial *s, uint8_t byte)
{
	if (s->mcr & MCR_LOOP)
		push_rx(s, byte);
	else if (s->out_fd >= 0)
		while (write(s->out_fd, &byte, 1) < 0 && errno == EINTR)
			;	/* a full non-blocking PTY drops output */
	s->thr_interrupt = true;
}

static uint8_t modem_status(const struct serial *s)
{
	uint8_t mcr = s->mcr;

	if (!(mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	/* Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD (the 8250 probe checks). */
	return (uint8_t)(((mcr & 0x1) << 5) | ((mcr & 0x2) << 3) | ((mcr & 0xc) << 4));
}

static uint8_t read_reg(struct serial *s, unsigned reg)
{
	bool dlab = s->lcr & LCR_DLAB;
	uint8_t iir;

	switch (reg) {
	case REG_DATA:
		return dlab ? s->dll : pop_rx(s);
	case REG_IER:
		return dlab ? s->dlm : s->ier;
	case REG_IIR_FCR:
		iir = pending_interrupt(s);
		if (iir == IIR_THRI)
			s->thr_interrupt = false;
		return iir | ((s->fcr & FCR_FIFO_EN) ? IIR_FIFO_ON : 0);
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		return LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
	case REG_MSR:
		return modem_status(s);
	default:
		return s->scr;
	}
}

static void write_reg(struct serial *s, unsigned reg, uint8_t val)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case REG_DATA:
		if (dlab)
			s->dll = val;
		else
			transmit(s, val);
		break;
	case REG_IER:
		if (dlab) {
			s->dlm = val;
			break;
		}
		/* Enabling THRI with an empty THR raises the interrupt at once. */
		if ((val & IER_THRI) && !(s->ier & IER_THRI))
			s->thr_interrupt = true;
		s->ier = val & 0x0f;
		break;
	case REG_IIR_FCR:
		if (val & FCR_CLEAR_RX)
			s->rx_count = 0;
		s->fcr = val & FCR_FIFO_EN ? val & 0xc9 : 0;
		break;
	case REG_LCR:
		s->lcr = val;
		break;
	case REG_MCR:
		s->mcr = val & 0x1f;
		break;
	case REG_SCR:
		s->scr = val;
		break;
	default:
		break;	/* LSR and MSR are read-only */
	}
}

void serial_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct serial *s = opaque;

	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (is_write)
		write_reg(s, (unsigned)offset, data[0]);
	else
		data[0] = read_reg(s, (unsigned)offset);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t taken = 0;

	pthread_mutex_lock(&s->lock);
	while (taken < len && s->rx_count < SERIAL_RX_SIZE)
		push_rx(s, buf[taken++]);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return taken;
}

bool serial_can_receive(struct serial *s)
{
	bool space;

	pthread_mutex_lock(&s->lock);
	space = s->rx_count < SERIAL_RX_SIZE;
	pthread_mutex_unlock(&s->lock);
	return space;
}
