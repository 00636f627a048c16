/* vmsilo-vmm: command line, config, and the VM's life from boot to exit. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "devices/vsock_device.h"
#include "vmm/activation.h"
#include "vmm/agent_watch.h"
#include "vmm/config.h"
#include "vmm/console.h"
#include "vmm/control.h"
#include "vmm/crosvm_socket.h"
#include "vmm/log.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* Exit statuses, distinct so supervisors can tell what happened. */
#define EXIT_POWEROFF	0
#define EXIT_FAILURE_SETUP 1
#define EXIT_REBOOT	32
#define EXIT_CRASH	33

struct options {
	const char *config;
	const char *runtime_dir;	/* NULL: from the config */
	bool check_only;
	int log_level;		/* -1: from the config */
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmsilo-vmm --config FILE.toml [options]\n"
		"Boots the VM described by FILE.toml on KVM.\n\n"
		"  -c, --config FILE     the VM's configuration (required)\n"
		"      --check-config    validate the configuration and exit\n"
		"  -l, --log-level LVL   error|warn|info|debug|trace (overrides the config)\n"
		"      --runtime-dir DIR where the VM's sockets go (overrides runtime_dir)\n"
		"  -h, --help            this text\n"
		"  -V, --version         print the version\n\n"
		"Exit status: 0 guest powered off, %d guest rebooted (reboot = \"exit\"),\n"
		"%d guest crashed, 128+N stopped by signal N, 1 setup error.\n"
		"SIGTERM presses the guest's power button; a second one stops it at once.\n"
		"Takes command.socket from systemd socket activation and notifies\n"
		"readiness (Type=notify) once the guest agent answers.\n",
		EXIT_REBOOT, EXIT_CRASH);
}

static int parse_args(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "runtime-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	*opt = (struct options){ .log_level = -1 };
	while ((c = getopt_long(argc, argv, "c:l:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': opt->config = optarg; break;
		case 'k': opt->check_only = true; break;
		case 'r': opt->runtime_dir = optarg; break;
		case 'l':
			opt->log_level = log_level_parse(optarg);
			if (opt->log_level < 0) {
				fprintf(stderr, "vmsilo-vmm: --log-level: expected error, warn, info, debug or trace, got \"%s\"\n", optarg);
				return -1;
			}
			break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("vmsilo-vmm %s\n", VMSILO_VERSION); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmsilo-vmm: unexpected argument \"%s\" (see --help)\n", argv[optind]);
		return -1;
	}
	if (!opt->config) {
		fprintf(stderr, "vmsilo-vmm: --config FILE is required (see --help)\n");
		return -1;
	}
	/* As the config key: the directory is walked from /, clients use the path. */
	if (opt->runtime_dir && opt->runtime_dir[0] != '/') {
		fprintf(stderr, "vmsilo-vmm: --runtime-dir must be an absolute path, got \"%s\"\n",
			opt->runtime_dir);
		return -1;
	}
	return 0;
}

static int check_host_memory(const struct vm_config *cfg)
{
	struct sysinfo si;
	unsigned long long host_mib;

	if (sysinfo(&si))
		return 0;
	host_mib = (unsigned long long)si.totalram * si.mem_unit >> 20;
	if (cfg->memory_mib > host_mib) {
		fprintf(stderr, "vmsilo-vmm: %s: memory: %llu MiB is more than this host's %llu MiB of RAM\n",
			cfg->source, (unsigned long long)cfg->memory_mib, host_mib);
		return -1;
	}
	return 0;
}

/* Missing images are reported before /dev/kvm problems: they are the
 * config's fault and the easier fix. */
static int check_images(const struct vm_config *cfg)
{
	const char *paths[] = { cfg->kernel, cfg->initramfs };
	const char *what[] = { "kernel", "initramfs" };

	for (int i = 0; i < 2; i++) {
		if (paths[i] && access(paths[i], R_OK)) {
			fprintf(stderr, "vmsilo-vmm: %s: %s: %s\n", what[i], paths[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Only vCPU threads take the kick signal; signals that stop the VM go to
 * the main loop's signalfd. Set before any thread exists. */
static void block_signals(void)
{
	sigset_t set;

	vm_stop_signals(&set);
	sigaddset(&set, vcpu_kick_signal());
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int exit_status(enum vm_exit reason, const struct vm *vm)
{
	switch (reason) {
	case VM_EXIT_POWEROFF:
		return EXIT_POWEROFF;
	case VM_EXIT_RESET:
		log_info("guest rebooted; exiting as configured (reboot = \"exit\")");
		return EXIT_REBOOT;
	case VM_EXIT_STOPPED:
		return vm->stop_signal ? 128 + vm->stop_signal : 0;
	default:
		fprintf(stderr, "vmsilo-vmm: the guest crashed\n");
		return EXIT_CRASH;
	}
}

/* Host services that outlive a guest reboot. */
struct services {
	struct control control;
	struct crosvm_socket crosvm;	/* listen_fd -1: not configured */
	struct agent_watch agent;
	bool has_agent;
};

static void attach_services(struct services *svc, struct vm *vm)
{
	control_attach(&svc->control, vm);
	if (svc->crosvm.listen_fd >= 0)
		crosvm_socket_attach(&svc->crosvm, vm);
	if (svc->has_agent)
		agent_watch_attach(&svc->agent, vm);
	else
		notify_send("READY=1\nSTATUS=running (no [vsock]: no guest agent to wait for)");
}

static int run_vm(const struct vm_config *cfg, struct console *console,
		  const struct vm_host *host, struct services *svc)
{
	static struct vm vm;
	enum vm_exit reason;
	char err[512] = "";

	for (;;) {
		if (vm_create(&vm, cfg, console, host, err, sizeof(err))) {
			fprintf(stderr, "vmsilo-vmm: %s\n", err);
			vm_destroy(&vm);
			return EXIT_FAILURE_SETUP;
		}
		notify_send("STATUS=booting%s", svc->has_agent ? "; waiting for the guest agent" : "");
		attach_services(svc, &vm);
		reason = vm_run(&vm);
		if (reason != VM_EXIT_RESET || cfg->on_reboot != REBOOT_RESTART)
			break;
		log_info("guest rebooted; restarting it");
		vm_destroy(&vm);
	}
	notify_send("STOPPING=1\nSTATUS=%s", vm_exit_name(reason));
	int status = exit_status(reason, &vm);

	vm_destroy(&vm);
	return status;
}

/*
 * The sockets host programs use to reach the guest, made once so that
 * they outlive a guest reboot: vsock.socket, and command.socket unless
 * socket activation handed it in.
 */
static int open_host_sockets(const struct vm_config *cfg, struct vm_host *host,
			     char *err, size_t errlen)
{
	if (!config_count(cfg, &vsock_kind))
		return 0;
	host->vsock_fd = runtime_dir_listen(host->rundir, "vsock.socket", err, errlen);
	if (host->vsock_fd < 0)
		return -1;
	if (host->command_fd < 0)
		host->command_fd = runtime_dir_listen(host->rundir, "command.socket", err, errlen);
	return host->command_fd < 0 ? -1 : 0;
}

static void close_host_sockets(struct vm_host *host)
{
	if (host->vsock_fd >= 0)
		close(host->vsock_fd);
	if (host->command_fd >= 0)
		close(host->command_fd);
}

/* KVM problems come first: the rest of the setup is moot without it. */
static int check_kvm(char *err, size_t errlen)
{
	struct kvm kvm;

	if (kvm_open(&kvm, err, errlen))
		return -1;
	kvm_close(&kvm);
	return 0;
}

static int open_services(const struct vm_config *cfg, const struct vm_host *host,
			 struct services *svc, char *err, size_t errlen)
{
	svc->has_agent = config_count(cfg, &vsock_kind) > 0;
	svc->crosvm.listen_fd = -1;
	if (control_open(&svc->control, host->rundir, cfg->name,
			 svc->has_agent ? &svc->agent : NULL, err, errlen))
		return -1;
	if (cfg->control.crosvm_socket &&
	    crosvm_socket_open(&svc->crosvm, host->rundir, cfg->name, err, errlen)) {
		control_close(&svc->control);
		return -1;
	}
	if (svc->has_agent && agent_watch_open(&svc->agent, cfg, host->rundir, err, errlen)) {
		crosvm_socket_close(&svc->crosvm);
		control_close(&svc->control);
		return -1;
	}
	return 0;
}

static void close_services(struct services *svc)
{
	control_close(&svc->control);
	crosvm_socket_close(&svc->crosvm);
	if (svc->has_agent)
		agent_watch_close(&svc->agent);
}

static int setup_host(const struct vm_config *cfg, struct console *console,
		      struct vm_host *host, struct services *svc, char *err, size_t errlen)
{
	if (runtime_dir_open(host->rundir, cfg, err, errlen))
		return -1;
	if (open_host_sockets(cfg, host, err, errlen) ||
	    open_services(cfg, host, svc, err, errlen)) {
		close_host_sockets(host);
		runtime_dir_close(host->rundir);
		return -1;
	}
	if (console_open(console, cfg, host->rundir, err, errlen)) {
		close_services(svc);
		close_host_sockets(host);
		runtime_dir_close(host->rundir);
		return -1;
	}
	return 0;
}

/* fds 0-2 taken (by /dev/null if closed), so no pipe or socket of ours lands there. */
static void ensure_stdio_open(void)
{
	int fd;

	do
		fd = open("/dev/null", O_RDWR);
	while (fd >= 0 && fd < 3);
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	struct console console;
	struct options opt;
	struct runtime_dir rundir;
	struct vm_host host = { .rundir = &rundir, .command_fd = -1, .vsock_fd = -1 };
	static struct services svc;
	char err[512] = "";
	int status;

	ensure_stdio_open();
	log_set_level(LOG_WARN);
	notify_init();
	if (parse_args(argc, argv, &opt))
		return EXIT_FAILURE_SETUP;
	/* Before anything opens a file: the handed-in fds start at 3. */
	if (activation_command_fd(&host.command_fd, err, sizeof(err))) {
		fprintf(stderr, "vmsilo-vmm: %s\n", err);
		return EXIT_FAILURE_SETUP;
	}
	if (config_load(opt.config, &cfg, NULL, 0))
		return EXIT_FAILURE_SETUP;
	if (opt.runtime_dir) {
		free(cfg.runtime_dir);
		cfg.runtime_dir = strdup(opt.runtime_dir);
		if (!cfg.runtime_dir)
			return EXIT_FAILURE_SETUP;
	}
	if (opt.check_only) {
		printf("%s: ok\n", opt.config);
		config_free(&cfg);
		return 0;
	}
	log_set_level(opt.log_level >= 0 ? (enum log_level)opt.log_level :
		      cfg.log_level_set ? cfg.log_level : LOG_WARN);
	if (check_host_memory(&cfg) || check_images(&cfg)) {
		config_free(&cfg);
		return EXIT_FAILURE_SETUP;
	}
	block_signals();
	if (check_kvm(err, sizeof(err)) ||
	    setup_host(&cfg, &console, &host, &svc, err, sizeof(err))) {
		fprintf(stderr, "vmsilo-vmm: %s\n", err);
		config_free(&cfg);
		return EXIT_FAILURE_SETUP;
	}
	status = run_vm(&cfg, &console, &host, &svc);
	close_services(&svc);
	console_close(&console);
	close_host_sockets(&host);
	runtime_dir_close(&rundir);
	config_free(&cfg);
	return status;
}
