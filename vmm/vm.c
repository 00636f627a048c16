#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "boot/acpi.h"
#include "boot/cpu_state.h"
#include "boot/loader.h"
#include "devices/balloon.h"
#include "devices/registry.h"
#include "vmm/balloon_ctl_impl.h"
#include "vmm/errfmt.h"
#include "vmm/link_child.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/vm_vhost_user.h"

static int create_memory(struct vm *vm, char *err, size_t errlen)
{
	if (guest_ram_create(&vm->ram, vm->cfg->memory_mib * MIB, err, errlen))
		return -1;
	guest_mem_layout(&vm->mem, vm->ram.host, vm->ram.size);
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct guest_region *r = &vm->mem.regions[i];

		if (kvm_add_memory(&vm->kvm, i, r->gpa, r->size, vm->mem.host + r->offset))
			return errfmt_sys(err, errlen, errno, "KVM_SET_USER_MEMORY_REGION");
	}
	return 0;
}

/* Devices' shared-memory mappings take the KVM slots guest RAM leaves. */
static int create_memslots(struct vm *vm, char *err, size_t errlen)
{
	uint32_t limit = memslots_kvm_limit(vm->kvm.vm_fd);

	if (memslots_init(&vm->memslots, vm->mem.nr_regions, limit, memslots_kvm_set,
			  &vm->kvm.vm_fd)) {
		snprintf(err, errlen, "KVM has %u memory slots, guest RAM takes them all", limit);
		return -1;
	}
	return 0;
}

static void on_pm_event(void *ctx, enum acpi_pm_event event)
{
	vm_request_exit(ctx, event == ACPI_PM_RESET ? VM_EXIT_RESET : VM_EXIT_POWEROFF);
}

static void on_kbd_reset(void *ctx)
{
	vm_request_exit(ctx, VM_EXIT_RESET);
}

static int add_devices(struct vm *vm)
{
	struct bus *pio = &vm->pio;

	serial_init(&vm->serial, &vm->kvm, LAYOUT_COM1_IRQ, vm->console->out_fd,
		    vm->serial_space_fd);
	rtc_init(&vm->rtc);
	acpi_pm_init(&vm->pm, &vm->kvm, on_pm_event, vm);
	pci_init(&vm->pci, guest_mem_mmio64_base(&vm->mem), LAYOUT_MMIO64_SIZE);
	vm->kbd = (struct i8042){ .reset = on_kbd_reset, .ctx = vm };
	return bus_add(pio, LAYOUT_COM1_PORT, 8, serial_access, &vm->serial) ||
	       bus_add(pio, 0x70, 2, rtc_access, &vm->rtc) ||
	       bus_add(pio, 0x60, 5, i8042_access, &vm->kbd) ||
	       bus_add(pio, LAYOUT_PM1A_EVT_PORT, 4, acpi_pm_evt_access, &vm->pm) ||
	       bus_add(pio, LAYOUT_PM1A_CNT_PORT, 2, acpi_pm_cnt_access, &vm->pm) ||
	       bus_add(pio, LAYOUT_RESET_PORT, 1, acpi_pm_reset_access, &vm->pm) ||
	       bus_add(pio, 0xcf8, 8, pci_io_access, &vm->pci) ||
	       bus_add(&vm->mmio, LAYOUT_ECAM_BASE, LAYOUT_ECAM_SIZE, pci_ecam_access, &vm->pci) ||
	       bus_add(&vm->mmio, LAYOUT_MMIO32_BASE, LAYOUT_MMIO32_SIZE, pci_mmio32_access, &vm->pci) ||
	       bus_add(&vm->mmio, vm->pci.mmio64_base, LAYOUT_MMIO64_SIZE, pci_mmio64_access, &vm->pci)
	       ? -1 : 0;
}

static int write_acpi(struct vm *vm, char *err, size_t errlen)
{
	struct acpi_config acpi = {
		.nr_cpus = vm->cfg->cpus,
		.mmio64_base = guest_mem_mmio64_base(&vm->mem),
		.mmio64_size = LAYOUT_MMIO64_SIZE,
	};
	uint64_t size = LAYOUT_ACPI_END - LAYOUT_ACPI_START;
	void *dst = guest_mem_ptr(&vm->mem, LAYOUT_ACPI_START, size);

	if (!dst || !acpi_build(dst, size, LAYOUT_ACPI_START, &acpi)) {
		snprintf(err, errlen, "ACPI tables do not fit below 1 MiB");
		return -1;
	}
	return 0;
}

/* First PCI slot for virtio devices; 0 is the host bridge. */
#define VIRTIO_FIRST_SLOT 1

/* The runtime directory, for a device that acts there as the VM's user. */
static int grant_rundir(struct vm *vm, const struct vm_device *d, struct link_child_options *opt,
			char *err, size_t errlen)
{
	/* The user owns the directory and may swap its name: the jail gets
	 * the one we opened or none. */
	int rc = sandbox_dir_id(vm->host->rundir->dir_fd, &opt->bind_dir_id);

	if (rc) {
		snprintf(err, errlen, "%s: %s: %s", d->name, vm->host->rundir->path, strerror(-rc));
		return -1;
	}
	opt->bind_dir = vm->host->rundir->path;
	opt->as_user = true;
	opt->uid = vm->host->rundir->uid;
	opt->gid = vm->host->rundir->gid;
	return 0;
}

/* The device's PCI function and its link's fds in the main loop. */
static int plug_device(struct vm *vm, struct vm_device *d, char *err, size_t errlen)
{
	int rc = virtio_pci_init(&d->transport, d->link, &vm->kvm, &vm->routes);

	if (!rc)
		rc = virtio_pci_plug(&d->transport, &vm->pci, VIRTIO_FIRST_SLOT + vm->nr_devices);
	if (rc && d->link->nr_shm) {
		snprintf(err, errlen, "%s: its shared-memory regions do not fit in the %llu GiB "
			 "64-bit MMIO window beside the other devices' BARs", d->name,
			 (unsigned long long)(LAYOUT_MMIO64_SIZE / GIB));
		return -1;
	}
	if (rc) {
		snprintf(err, errlen, "%s: cannot place the PCI function: %s", d->name, strerror(-rc));
		return -1;
	}
	if (d->link->nr_shm)
		virtio_pci_set_memslots(&d->transport, &vm->memslots);
	d->plugged = true;
	if (vm_device_watch(vm, d) || vm_vhost_user_watch(vm, d)) {
		snprintf(err, errlen, "%s: the main loop has no room for its fds", d->name);
		return -1;
	}
	return 0;
}

/* Forks the device's jailed process with what create() granted. */
static int start_device(struct vm *vm, struct vm_device *d, const struct config_device *cd,
			const struct device_grant *grant, char *err, size_t errlen)
{
	struct link_child_options opt = {
		.sandbox = true, .no_jail = !cd->sandbox, .seccomp_log = cd->seccomp == SECCOMP_LOG,
		.policy = cd->kind->policy, .extra_policy = grant->extra_policy,
		.device_fds = grant->fds, .nr_device_fds = grant->nr_fds, .nofile = grant->nofile,
		.nproc = grant->nproc,
		.bind_socket_fd = grant->socket_fd,
		.bind_socket_name = grant->socket_fd >= 0 ? grant->socket_name : NULL,
		.socket_connect = grant->socket_connect,
		.host_libs = grant->host_libs,
		.log_level_set = cd->log_level_set, .log_level = cd->log_level,
	};

	if (grant->rundir && grant_rundir(vm, d, &opt, err, errlen))
		return -1;
	d->link = link_child_create(&d->dev, &opt, err, errlen);
	return d->link ? 0 : -1;
}

static void device_env(const struct vm *vm, unsigned index, struct device_env *env)
{
	const struct runtime_dir *rd = vm->host ? vm->host->rundir : NULL;

	*env = (struct device_env){
		.vm_name = vm->cfg->name, .index = index, .cpus = vm->cfg->cpus,
		.mem = &vm->mem, .ram_bytes = vm->ram.size,
		.rundir_fd = vm->host ? vm->host->rundir->dir_fd : -1,
		.rundir_path = vm->host ? vm->host->rundir->path : NULL,
		.command_fd = vm->host ? vm->host->command_fd : -1,
		.vsock_fd = vm->host ? vm->host->vsock_fd : -1,
		.user_uid = rd ? rd->uid : geteuid(), .user_gid = rd ? rd->gid : getegid(),
	};
}

/*
 * Kinds with a side in the VMM besides their transport: the balloon's
 * target, stats and waiters (balloon_ctl.c). One line per such kind.
 */
static int attach_balloon(struct vm *vm, struct vm_device *d, const void *cfg)
{
	return vm_attach_balloon(vm, d, cfg);
}

static const struct {
	const struct device_kind *kind;
	int (*attach)(struct vm *vm, struct vm_device *d, const void *cfg);
} host_sides[] = {
	{ &balloon_kind, attach_balloon },
};

static int attach_host_side(struct vm *vm, struct vm_device *d, const struct config_device *cd,
			    char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(host_sides) / sizeof(host_sides[0]); i++) {
		int rc = host_sides[i].kind == cd->kind ? host_sides[i].attach(vm, d, cd->cfg) : 0;

		if (rc) {
			snprintf(err, errlen, "%s: %s", d->name, strerror(-rc));
			return -1;
		}
	}
	return 0;
}

/* One instance: the kind's create() in the VMM, then its process. */
static int add_device(struct vm *vm, const struct config_device *cd, char *err, size_t errlen)
{
	struct vm_device *d = calloc(1, sizeof(*d));
	struct device_grant grant = { .socket_fd = -1 };
	struct device_env env;
	int rc;

	if (!d) {
		snprintf(err, errlen, "%s: out of memory", cd->kind->section);
		return -1;
	}
	vm->devices[vm->nr_devices] = d;
	snprintf(d->name, sizeof(d->name), "%s%u", cd->kind->prefix, cd->index);
	d->essential = cd->kind->essential_first && cd->index == 0;
	d->essential_what = cd->kind->essential_what;
	device_env(vm, cd->index, &env);
	if (cd->kind->vhost_user) {
		rc = vm_vhost_user_link(vm, d, cd, &env, err, errlen);
	} else {
		rc = cd->kind->create(&d->dev, d->name, &env, cd->cfg, &grant, err, errlen);
		if (rc)
			return -1;
		rc = start_device(vm, d, cd, &grant, err, errlen);
	}
	if (!rc)
		rc = plug_device(vm, d, err, errlen);
	if (!rc)
		rc = attach_host_side(vm, d, cd, err, errlen);
	for (unsigned i = 0; i < grant.nr_fds && !grant.borrowed; i++)
		close(grant.fds[i]);	/* the device process has its own */
	if (grant.socket_fd >= 0)
		close(grant.socket_fd);
	if (!rc)
		vm->nr_devices++;
	return rc;
}

/*
 * Each device process is forked here, before any vCPU thread exists, in
 * the registry's order and, within a kind, in config order.
 */
static int create_devices(struct vm *vm, char *err, size_t errlen)
{
	msi_routes_init(&vm->routes, &vm->kvm);
	if (vm->cfg->nr_devices > VM_MAX_DEVICES) {
		snprintf(err, errlen, "%zu devices: at most %d", vm->cfg->nr_devices, VM_MAX_DEVICES);
		return -1;
	}
	vm->devices = calloc(vm->cfg->nr_devices + 1, sizeof(*vm->devices));
	if (!vm->devices)
		return errfmt_sys(err, errlen, errno, "devices");
	for (const struct device_kind *const *k = device_kinds; *k; k++)
		for (unsigned i = 0; i < config_count(vm->cfg, *k); i++)
			if (add_device(vm, config_instance(vm->cfg, *k, i), err, errlen))
				return -1;
	return 0;
}

static void destroy_devices(struct vm *vm)
{
	for (unsigned i = 0; vm->devices && vm->devices[i]; i++) {
		struct vm_device *d = vm->devices[i];

		vm_device_stop(vm, d);
		vm_vhost_user_stop(vm, d);	/* after the link closed its connection */
		vdev_destroy(&d->dev);
		free(d);
		vm->devices[i] = NULL;
	}
	free(vm->devices);
	vm->devices = NULL;
	vm->nr_devices = 0;
	msi_routes_destroy(&vm->routes);
}

/* Appends " param" to *line; -1 (and *line freed) when out of memory. */
static int append_param(char **line, const char *param)
{
	char *next;

	if (!*param)
		return 0;
	if (asprintf(&next, "%s%s%s", *line, **line ? " " : "", param) < 0)
		next = NULL;
	free(*line);
	*line = next;
	return next ? 0 : -1;
}

/* The config's command line plus each device's parameter (vmsilo.ifname=...). */
static char *kernel_cmdline(const struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	char *out = config_kernel_cmdline(cfg), param[256];
	struct device_env env;

	for (size_t i = 0; out && i < cfg->nr_devices; i++) {
		const struct config_device *cd = &cfg->devices[i];

		if (!cd->kind->kernel_param)
			continue;
		device_env(vm, cd->index, &env);
		if (cd->kind->kernel_param(cd->cfg, &env, param, sizeof(param)) ||
		    append_param(&out, param)) {
			free(out);
			return NULL;
		}
	}
	return out;
}

static int load_guest(struct vm *vm, struct boot_image *img, char *err, size_t errlen)
{
	const struct vm_config *cfg = vm->cfg;
	char *cmdline;
	int rc;

	if (boot_load_kernel(&vm->mem, cfg->kernel, img, err, errlen))
		return -1;
	if (cfg->initramfs && boot_load_initrd(&vm->mem, cfg->initramfs, img, err, errlen))
		return -1;
	if (write_acpi(vm, err, errlen))
		return -1;
	cmdline = kernel_cmdline(vm);
	if (!cmdline)
		return errfmt_sys(err, errlen, errno, "cmdline");
	rc = boot_write_params(&vm->mem, img, cmdline, LAYOUT_ACPI_START, err, errlen);
	free(cmdline);
	if (!rc && cpu_state_write_tables(&vm->mem, img->kind)) {
		snprintf(err, errlen, "memory: no room for the boot page tables");
		rc = -1;
	}
	return rc;
}

static int create_vcpus(struct vm *vm, const struct boot_image *img, char *err, size_t errlen)
{
	vm->vcpus = calloc(vm->cfg->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return errfmt_sys(err, errlen, errno, "vcpus");
	for (unsigned i = 0; i < vm->cfg->cpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < vm->cfg->cpus; i++)
		if (vcpu_create(vm, &vm->vcpus[i], i, err, errlen))
			return -1;
	if (vcpu_set_boot_state(&vm->vcpus[0], img))
		return errfmt_sys(err, errlen, errno, "vcpu0: setting boot registers");
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, struct console *console,
	      const struct vm_host *host, char *err, size_t errlen)
{
	struct boot_image img;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->console = console;
	vm->host = host;
	vcpu_gate_init(&vm->gate);
	for (unsigned i = 0; i < VM_MAX_WATCHES; i++)
		vm->watches[i].fd = -1;
	vm->ram.fd = vm->wake_fd = vm->serial_space_fd = -1;
	vm->pio.name = "pio";
	vm->mmio.name = "mmio";
	vm->kvm.sys_fd = vm->kvm.vm_fd = -1;
	atomic_init(&vm->exit_reason, VM_EXIT_NONE);
	vm->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->serial_space_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->wake_fd < 0 || vm->serial_space_fd < 0)
		return errfmt_sys(err, errlen, errno, "eventfd");
	if (kvm_open(&vm->kvm, err, errlen) || kvm_create_vm(&vm->kvm, err, errlen) ||
	    create_memory(vm, err, errlen) || create_memslots(vm, err, errlen))
		return -1;
	if (add_devices(vm)) {
		snprintf(err, errlen, "internal error: overlapping device ranges");
		return -1;
	}
	if (create_devices(vm, err, errlen))
		return -1;
	log_dbg("guest memory and devices ready");
	if (load_guest(vm, &img, err, errlen))
		return -1;
	log_dbg("kernel and initramfs loaded");
	if (create_vcpus(vm, &img, err, errlen))
		return -1;
	log_info("%s: %u vCPUs, %llu MiB, %s entry at 0x%llx", cfg->name, cfg->cpus,
		 (unsigned long long)cfg->memory_mib,
		 img.kind == BOOT_PVH ? "PVH" : "64-bit bzImage",
		 (unsigned long long)img.entry);
	return 0;
}

const char *vm_exit_name(enum vm_exit reason)
{
	static const char *const names[] = {
		[VM_EXIT_NONE] = "running", [VM_EXIT_POWEROFF] = "guest powered off",
		[VM_EXIT_RESET] = "guest reset", [VM_EXIT_CRASH] = "guest crashed",
		[VM_EXIT_STOPPED] = "stopped by the host",
	};

	return reason <= VM_EXIT_STOPPED ? names[reason] : "?";
}

void vm_request_exit(struct vm *vm, enum vm_exit reason)
{
	int none = VM_EXIT_NONE;

	if (atomic_compare_exchange_strong(&vm->exit_reason, &none, (int)reason))
		(void)!write(vm->wake_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
}

void vm_press_power_button(struct vm *vm, const char *why)
{
	/* Any local client may press it again and again: only the first is sure to show. */
	if (vm->button_pressed)
		log_ratelimited(LOG_INFO, "%s: pressing the ACPI power button again", why);
	else
		log_info("%s: pressing the ACPI power button", why);
	acpi_pm_press_power_button(&vm->pm);
	vm->button_pressed = true;
}

enum vm_exit vm_run(struct vm *vm)
{
	unsigned i;

	log_dbg("starting %u vCPUs", vm->cfg->cpus);
	for (i = 0; i < vm->cfg->cpus; i++)
		if (vcpu_start(&vm->vcpus[i])) {
			log_err("vcpu%u: cannot start thread", i);
			vm_request_exit(vm, VM_EXIT_CRASH);
			break;
		}
	main_loop_run(vm);
	log_dbg("stopping: %s", vm_exit_name(atomic_load(&vm->exit_reason)));
	vcpus_resume(vm);	/* paused vCPUs leave the gate and see the exit */
	for (unsigned j = 0; j < i; j++)
		vcpu_kick(&vm->vcpus[j]);
	for (unsigned j = 0; j < i; j++)
		vcpu_join(&vm->vcpus[j]);
	return (enum vm_exit)atomic_load(&vm->exit_reason);
}

void vm_destroy(struct vm *vm)
{
	destroy_devices(vm);	/* their mappings leave the memslots */
	/* After the devices: the balloon device's callbacks (events, on_death)
	 * hold this balloon_ctl until its link is stopped. */
	balloon_ctl_destroy(vm->balloon);
	vm->balloon = NULL;
	free(vm->virtiofsd);
	if (vm->memslots.set)
		memslots_destroy(&vm->memslots);
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->cfg->cpus; i++)
			if (vm->vcpus[i].vm)
				vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
	}
	guest_ram_destroy(&vm->ram);
	kvm_close(&vm->kvm);
	if (vm->wake_fd >= 0)
		close(vm->wake_fd);
	if (vm->serial_space_fd >= 0)
		close(vm->serial_space_fd);
	memset(vm, 0, sizeof(*vm));
}
