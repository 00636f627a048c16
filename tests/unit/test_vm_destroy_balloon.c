/*
 * vm_destroy frees the VM's balloon_ctl only after its devices are
 * stopped: until then the balloon device's link may still reach it (its
 * events, on_death). A fake device whose link, when stopped, uses the VM's
 * balloon stands in for that; ASan reports a use after free otherwise.
 */
#include <stdlib.h>

#include "check.h"
#include "vmm/balloon_ctl_impl.h"
#include "vmm/vm.h"
#include "vmm/vm_device.h"

static struct vm vm;
static unsigned stops_seeing_balloon;

static void fake_stop(struct vdev_link *link)
{
	(void)link;
	if (vm_balloon(&vm)) {
		balloon_ctl_event(vm_balloon(&vm), "late", 4);	/* a last event, dropped */
		stops_seeing_balloon++;
	}
}

static const struct vdev_link_ops fake_ops = { .stop = fake_stop };

int main(void)
{
	static struct vdev_link link = { .ops = &fake_ops, .name = "balloon0" };
	struct vm_device *d = calloc(1, sizeof(*d));

	CHECK(d != NULL);
	d->link = &link;
	vm.devices = calloc(2, sizeof(*vm.devices));
	CHECK(vm.devices != NULL);
	vm.devices[0] = d;
	vm.nr_devices = 1;
	vm.kvm.vm_fd = vm.kvm.sys_fd = -1;
	vm.ram.fd = vm.wake_fd = vm.serial_space_fd = -1;
	vm.balloon = balloon_ctl_create(1 << 20, 0, &link);
	CHECK(vm.balloon != NULL);
	vm_destroy(&vm);
	CHECK_EQ(stops_seeing_balloon, 1);
	CHECK(vm_balloon(&vm) == NULL);
	return check_report("test_vm_destroy_balloon");
}
