#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/registry.h"
#include "devices/shared_dir.h"
#include "vmm/link_vhost_user.h"
#include "vmm/log.h"
#include "vmm/shared_home.h"
#include "vmm/virtiofsd.h"
#include "vmm/vm.h"
#include "vmm/vm_vhost_user.h"

/* The guest-RAM fd backends map: sealed where the backing allows it. */
static void say_if_unsealed(struct vm *vm)
{
	int seals = fcntl(vm->ram.fd, F_GET_SEALS);

	if (vm->ram_seal_said)
		return;
	vm->ram_seal_said = true;
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		log_info("guest RAM (%s) cannot be sealed: a vhost-user backend could resize it",
			 vm->ram.backing);
}

static const struct virtiofsd_binary *find_virtiofsd(struct vm *vm, const char *configured,
						     char *err, size_t errlen)
{
	if (vm->virtiofsd)
		return vm->virtiofsd;
	vm->virtiofsd = calloc(1, sizeof(*vm->virtiofsd));
	if (!vm->virtiofsd) {
		snprintf(err, errlen, "virtiofsd: out of memory");
		return NULL;
	}
	if (virtiofsd_find(configured, vm->virtiofsd, err, errlen)) {
		free(vm->virtiofsd);
		vm->virtiofsd = NULL;
		return NULL;
	}
	log_dbg("virtiofsd: %s (%s)", vm->virtiofsd->path, vm->virtiofsd->version);
	return vm->virtiofsd;
}

/* The share's home from its template, then its virtiofsd; *conn is our end. */
static int start_virtiofsd(struct vm *vm, struct vm_device *d, const struct shared_dir_config *share,
			   int *conn, char *err, size_t errlen)
{
	const struct runtime_dir *rd = vm->host ? vm->host->rundir : NULL;
	const struct virtiofsd_binary *bin;
	struct virtiofsd_options o;

	if (!rd) {
		snprintf(err, errlen, "%s: shared directories need the VM's runtime directory", d->name);
		return -1;
	}
	if (share->home &&
	    shared_home_prepare(share->path, share->home_template, rd->uid, rd->gid, err, errlen))
		return -1;
	bin = find_virtiofsd(vm, share->virtiofsd, err, errlen);
	if (!bin)
		return -1;
	o = (struct virtiofsd_options){
		.bin = bin, .share = share, .name = d->name, .rundir_fd = rd->dir_fd,
		.rundir_path = rd->path, .uid = rd->uid, .gid = rd->gid,
	};
	d->virtiofsd = virtiofsd_start(&o, conn, err, errlen);
	return d->virtiofsd ? 0 : -1;
}

/* "file:line:col: " of the device's table, before a message that lacks it. */
static void locate(const struct vm *vm, const struct config_device *cd, char *err, size_t errlen)
{
	char msg[512];

	if (!vm->cfg->source || !cd->line)
		return;
	snprintf(msg, sizeof(msg), "%s", err);
	snprintf(err, errlen, "%s:%d:%d: %s", vm->cfg->source, cd->line, cd->col, msg);
}

int vm_vhost_user_link(struct vm *vm, struct vm_device *d, const struct config_device *cd,
		       const struct device_env *env, char *err, size_t errlen)
{
	struct vhost_user_target t = { .nr_queues = 0 };
	struct vhost_user_options o;
	int conn = -1;

	if (cd->kind->vhost_user(cd->cfg, env, &t, err, errlen))
		return -1;
	if (t.virtiofsd && start_virtiofsd(vm, d, cd->cfg, &conn, err, errlen)) {
		locate(vm, cd, err, errlen);
		return -1;
	}
	say_if_unsealed(vm);
	o = (struct vhost_user_options){
		.name = d->name, .device_id = t.device_id, .sock_fd = conn,
		.socket_path = t.virtiofsd ? NULL : t.socket, .nr_queues = t.nr_queues,
		.queue_size = t.queue_size, .mem = &vm->mem, .mem_fd = vm->ram.fd,
		.config = t.config, .config_size = t.config_size,
		.peer_uid = vm->host ? vm->host->rundir->uid : 0,
	};
	d->link = vhost_user_link_create(&o, err, errlen);
	return d->link ? 0 : -1;
}

/* The share's virtiofsd ended: say so, start another, and hand the link its
 * connection; the guest sees NEEDS_RESET until it resets the device. */
static void on_virtiofsd_exit(struct vm *vm, void *ctx, short revents)
{
	struct vm_device *d = ctx;
	char why[128], err[256];
	int conn = -1, rc;

	(void)revents;
	vm_watch(vm, virtiofsd_pidfd(d->virtiofsd), 0, NULL, NULL);
	virtiofsd_reap(d->virtiofsd, why, sizeof(why));
	log_warn("%s: virtiofsd %s; starting another", d->name, why);
	vdev_link_needs_reset(d->link, "virtiofsd ended");
	rc = virtiofsd_restart(d->virtiofsd, &conn, err, sizeof(err));
	if (rc) {
		log_err("%s: virtiofsd not restarted: %s", d->name, err);
		return;
	}
	rc = vhost_user_link_reattach(d->link, conn);
	if (rc)
		log_err("%s: the new virtiofsd did not take the connection: %s", d->name,
			strerror(-rc));
	else
		log_warn("%s: virtiofsd restarted (pid %d); the device works again once the guest "
			 "resets it", d->name, (int)virtiofsd_pid(d->virtiofsd));
	if (vm_vhost_user_watch(vm, d))
		log_err("%s: the main loop has no room for virtiofsd's pidfd", d->name);
}

int vm_vhost_user_watch(struct vm *vm, struct vm_device *d)
{
	if (!d->virtiofsd)
		return 0;
	return vm_watch(vm, virtiofsd_pidfd(d->virtiofsd), POLLIN, on_virtiofsd_exit, d);
}

void vm_vhost_user_stop(struct vm *vm, struct vm_device *d)
{
	if (!d->virtiofsd)
		return;
	if (virtiofsd_pidfd(d->virtiofsd) >= 0)
		vm_watch(vm, virtiofsd_pidfd(d->virtiofsd), 0, NULL, NULL);
	virtiofsd_stop(d->virtiofsd);
	d->virtiofsd = NULL;
}
