#include <poll.h>
#include <linux/virtio_config.h>

#include "vmm/log.h"
#include "vmm/virtiofsd.h"
#include "vmm/vm.h"
#include "vmm/vm_device.h"

static void on_link_fd(struct vm *vm, void *ctx, short revents);

/* The main loop follows the slot's fd: a link may close one or get a new one. */
static int follow(struct vm *vm, struct vm_device_watch *w, const struct vdev_link_watch *now)
{
	int fd = now ? now->fd : -1;

	if (w->fd == fd)
		return fd < 0 ? 0 : vm_watch(vm, fd, now->events, on_link_fd, w);
	if (w->fd >= 0)
		vm_watch(vm, w->fd, 0, NULL, NULL);
	w->fd = fd;
	return fd < 0 ? 0 : vm_watch(vm, fd, now->events, on_link_fd, w);
}

static int sync_watches(struct vm *vm, struct vm_device *d)
{
	struct vdev_link_watch now[VDEV_LINK_MAX_WATCHES];
	unsigned n = d->link->ops->watches(d->link, now);
	int rc = 0;

	for (unsigned i = 0; i < VDEV_LINK_MAX_WATCHES; i++)
		rc |= follow(vm, &d->watch[i], i < n ? &now[i] : NULL);
	return rc;
}

static void check_death(struct vm *vm, struct vm_device *d)
{
	if (d->dead_seen || d->link->ops->status(d->link) != VDEV_LINK_DEAD)
		return;
	d->dead_seen = true;
	/* Nothing will unmap for it: the memory and slots it held go now. */
	if (d->plugged && d->link->nr_shm)
		virtio_pci_shm_clear(&d->transport);
	if (d->on_death)
		d->on_death(d->death_ctx);
	if (!d->essential)
		return;
	log_err("%s: %s's device is dead; stopping the VM", d->name,
		d->essential_what ? d->essential_what : "an essential device");
	vm_request_exit(vm, VM_EXIT_CRASH);
}

static void on_link_fd(struct vm *vm, void *ctx, short revents)
{
	struct vm_device_watch *w = ctx;
	struct vm_device *d = w->d;
	struct vdev_link_watch now[VDEV_LINK_MAX_WATCHES];
	unsigned n = d->link->ops->watches(d->link, now);

	if (w->slot < n && now[w->slot].fd == w->fd)
		now[w->slot].serve(d->link, revents);
	sync_watches(vm, d);
	check_death(vm, d);
}

int vm_device_watch(struct vm *vm, struct vm_device *d)
{
	for (unsigned i = 0; i < VDEV_LINK_MAX_WATCHES; i++)
		d->watch[i] = (struct vm_device_watch){ .d = d, .slot = i, .fd = -1 };
	return sync_watches(vm, d);
}

const char *vm_device_state(struct vm_device *d)
{
	enum vdev_link_status st = d->link ? d->link->ops->status(d->link) : VDEV_LINK_DEAD;

	if (st == VDEV_LINK_DEAD)
		return "dead";
	if (st == VDEV_LINK_NEEDS_RESET ||
	    (virtio_pci_status(&d->transport) & VIRTIO_CONFIG_S_NEEDS_RESET))
		return "needs-reset";
	return "running";
}

pid_t vm_device_pid(struct vm_device *d)
{
	if (d->virtiofsd)
		return virtiofsd_pid(d->virtiofsd);
	return d->link ? d->link->ops->pid(d->link) : 0;
}

void vm_device_stop(struct vm *vm, struct vm_device *d)
{
	for (unsigned i = 0; i < VDEV_LINK_MAX_WATCHES; i++)
		if (d->watch[i].d)	/* vm_device_watch ran */
			follow(vm, &d->watch[i], NULL);
	if (d->plugged)
		virtio_pci_destroy(&d->transport);
	d->plugged = false;
	if (d->link)
		d->link->ops->stop(d->link);
	d->link = NULL;
}
