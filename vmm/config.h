/* The VM configuration: TOML schema, validation and defaults. */
#ifndef VMSILO_CONFIG_H
#define VMSILO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/log.h"

enum console_mode { CONSOLE_STDOUT, CONSOLE_FILE, CONSOLE_PTY, CONSOLE_NONE };
enum reboot_action { REBOOT_EXIT, REBOOT_RESTART };
enum seccomp_policy { SECCOMP_ENFORCING, SECCOMP_LOG };

#define CONFIG_MIN_MEMORY_MIB 64
#define CONFIG_MAX_MEMORY_MIB (1024u * 1024u)	/* 1 TiB */
#define CONFIG_MAX_CPUS 64
#define CONFIG_MAX_IDLE_SECONDS (7 * 24 * 3600)

struct device_kind;	/* devices/registry.h */

/* One device section: [rng], or one table of [[disk]]. */
struct config_device {
	const struct device_kind *kind;
	void *cfg;			/* the kind's config struct, e.g. struct disk_config */
	unsigned index;			/* among its kind, in config order */
	enum seccomp_policy seccomp;	/* its own seccomp_policy, else [sandbox]'s */
	bool seccomp_set;
	bool sandbox;			/* jailed: its own sandbox, else [sandbox] enable */
	bool sandbox_set;
	enum log_level log_level;	/* its process's, when log_level_set; else the VMM's */
	bool log_level_set;
	bool shared_home;		/* the share shared_home adds, not a table */
	int line, col;			/* of its table (shared_home: of that key) */
};

struct vm_config {
	char *source;			/* the file name, for messages */
	char *name;			/* required; [A-Za-z0-9_.-], 1..64 chars */
	uint64_t memory_mib;		/* default 512 */
	unsigned cpus;			/* default 1 */
	char *kernel;			/* required */
	char *initramfs;		/* NULL when absent */
	char *cmdline;			/* default "console=ttyS0" */
	char **kernel_params;		/* appended to cmdline */
	size_t nr_kernel_params;
	char *runtime_dir;		/* default "/run/vmsilo" */
	char *user;			/* may use the sockets; NULL: the invoking user */
	enum reboot_action on_reboot;	/* key "reboot": "exit" (default) | "restart" */
	enum log_level log_level;	/* key "log_level", default warn */
	bool log_level_set;
	struct {
		enum console_mode mode;	/* default stdout */
		char *path;		/* required for "file" */
	} console;
	struct {
		bool enable;		/* default true; false only for debugging */
		enum seccomp_policy seccomp;	/* default enforcing */
	} sandbox;
	struct config_device *devices;	/* the device sections, in file order */
	size_t nr_devices;
	char *virtiofsd;		/* NULL: searched; copied into every share */
	struct {
		bool enable;		/* key shared_home: true or a path; default false */
		char *path;		/* the path given, NULL: <shared_root>/<name>/home */
	} shared_home;
	char *shared_root;		/* default "/shared" */
	char *home_template;		/* default "/var/lib/vmsilo/home-template" */
	struct {
		bool crosvm_socket;	/* default false: also crosvm.socket (vmm/crosvm_socket.h) */
	} control;
	struct {
		bool enable;		/* default false; needs [vsock] */
		unsigned after;		/* seconds without a running command, default 120 */
	} auto_shutdown;
};

/*
 * Parses and validates a config. On error prints one line per problem to
 * stderr as "file:line:col: key: what is wrong" and returns -1; the first
 * error line is also copied to err when err is not NULL. After an error cfg
 * holds nothing (all zero); config_free is harmless either way.
 */
int config_parse(const char *source, const char *text, size_t len,
		 struct vm_config *cfg, char *err, size_t errlen);
/* Reads path and parses it; a file that cannot be read is one error line. */
int config_load(const char *path, struct vm_config *cfg, char *err, size_t errlen);
void config_free(struct vm_config *cfg);
/* How many instances of kind the config has, and the index'th (or NULL). */
unsigned config_count(const struct vm_config *cfg, const struct device_kind *kind);
const struct config_device *config_instance(const struct vm_config *cfg,
					    const struct device_kind *kind, unsigned index);
/* The full kernel command line: cmdline plus kernel_params, space-joined. */
char *config_kernel_cmdline(const struct vm_config *cfg);

#endif
