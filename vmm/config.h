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
#define CONFIG_MAX_DISKS 6
#define CONFIG_DISK_ID_MAX 20	/* bytes in a virtio-blk serial */
#define CONFIG_MAX_NETS 4
#define CONFIG_IFNAME_MAX 15	/* a Linux interface name, IFNAMSIZ - 1 */
#define CONFIG_MAX_IDLE_SECONDS (7 * 24 * 3600)

struct disk_config {
	char *path;
	bool ro;			/* default false */
	bool sparse;			/* default true: discard/write-zeroes punch holes */
	bool direct;			/* O_DIRECT, default false */
	uint32_t block_size;		/* default 512 */
	char *id;			/* serial for GET_ID, NULL: none */
	enum seccomp_policy seccomp;	/* its own seccomp_policy, else [sandbox]'s */
	bool seccomp_set;
};

struct net_config {
	char *name;			/* the interface name the guest sees */
	char *tap;			/* host TAP; default "<vm name>-<index>" */
	uint8_t mac[6];
	bool mac_set;			/* else derived from the VM and interface names */
	enum seccomp_policy seccomp;
	bool seccomp_set;
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
	struct disk_config disks[CONFIG_MAX_DISKS];	/* [[disk]], in order */
	size_t nr_disks;
	struct {
		bool present;		/* [rng]: a virtio-rng device */
		enum seccomp_policy seccomp;	/* [rng] seccomp_policy, else sandbox's */
	} rng;
	struct net_config nets[CONFIG_MAX_NETS];	/* [[net]], in order */
	size_t nr_nets;
	struct {
		bool present;		/* [vsock]: virtio-vsock and the guest agent */
		uint32_t cid;		/* the guest's CID, 3 .. 0xfffffffe */
		enum seccomp_policy seccomp;
	} vsock;
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
/* The full kernel command line: cmdline plus kernel_params, space-joined. */
char *config_kernel_cmdline(const struct vm_config *cfg);

#endif
