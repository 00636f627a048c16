/*
 * The device registry: one const descriptor per device kind, in one
 * table (devices/registry.c). The config schema, the VMM's device
 * creation, the jail and docs/config.md all read it; adding a device is
 * devices/<name>.c with its descriptor, plus one line in the table.
 *
 * CONTRACT (lead engineer, 2026-12-02): the shape below is what other
 * engineers write descriptors against. Refine names and add fields as
 * needed, but keep: the cfg_key table, the one create() signature, the
 * device_env/device_grant split, and the fields listed.
 *
 * Refined (h11): per-key check(), a kind-level check() that sees the
 * earlier instances and reports any number of lines, plural, the
 * essential instance's description, kernel_param(), grant.borrowed.
 */
#ifndef VMSILO_REGISTRY_H
#define VMSILO_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "devices/vdev.h"
#include "virtio/vdev_link.h"
#include "sandbox/sandbox.h"

/* The type of one config key; the parser checks it, the docs print it. */
enum cfg_type {
	CFG_BOOL,	/* bool; def "true" or "false" */
	CFG_UINT,	/* uint64_t, min..max; def in decimal */
	CFG_STRING,	/* char *, strdup'ed; max bytes at most if non-zero */
	CFG_PATH,	/* char *, made absolute against the config file's dir */
	CFG_CHOICE,	/* int: index in choices[]; def one of them */
	CFG_MAC,	/* uint8_t[6], unicast */
	CFG_IFNAME,	/* char *, a Linux interface name */
	CFG_SIZE,	/* uint64_t bytes: an integer or a string "512M", "8G"
			 * (K, M, G, T: powers of 1024); min..max; def as written */
};

/*
 * A string-like key that is absent stays NULL (a MAC: untouched); its def
 * is then only what docs/config.md says happens ("none", "derived").
 */
#define CFG_MAX_KEYS 63	/* keys of one kind, the registry's seccomp_policy aside */

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;			/* of the value in the kind's config struct */
	size_t set_offset;		/* of a bool set when the key is given, 0: none */
	const char *def;		/* the default as written in docs, NULL: required */
	uint64_t min, max;		/* CFG_UINT; CFG_STRING max: bytes */
	const char *const *choices;	/* CFG_CHOICE, NULL-terminated */
	const char *doc;		/* the docs/config.md "Meaning" cell */
	/* Optional, for every type, after the type and range: value points at
	 * the value as stored (uint64_t, char * of STRING/PATH/IFNAME, bool,
	 * int choice, uint8_t[6] MAC); -1 with the message (after "key: ") in why. */
	int (*check)(const void *value, char *why, size_t len);
};

/* What a kind's check() gets to report problems of one instance. */
struct cfg_check {
	const char *vm_name;		/* NULL when the config names no valid VM */
	const void *const *earlier;	/* the kind's instances before this one */
	unsigned nr_earlier;
	/* One error line at the instance's table; may be called many times. */
	void (*report)(struct cfg_check *chk, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
	void *ctx;			/* the parser's */
};

/* What create() may use, in the VMM, before the device process forks. */
struct device_env {
	const char *vm_name;
	unsigned index;			/* among instances of its kind: 0, 1, ... */
	unsigned cpus;
	const struct guest_mem *mem;
	uint64_t ram_bytes;
	int rundir_fd;			/* <runtime_dir>/<name>, opened by the VMM */
	const char *rundir_path;
	int command_fd, vsock_fd;	/* the VMM's listening sockets, or -1 */
	uid_t user_uid;			/* the VM's user (who owns the runtime dir) */
	gid_t user_gid;
};

#define DEVICE_MAX_GRANT_FDS 4

/* What the jail gives the device process beyond its rings (create fills it). */
struct device_grant {
	int fds[DEVICE_MAX_GRANT_FDS];	/* host files the device keeps; closed by the VMM after the fork */
	unsigned nr_fds;
	bool borrowed;			/* fds are the VMM's (env's sockets): kept open after the fork */
	bool rundir;			/* bind the runtime directory, run as the VM's user */
	unsigned nofile;		/* RLIMIT_NOFILE, 0: the default */
	unsigned nproc;			/* RLIMIT_NPROC for io_uring workers/threads, 0: default */
	/*
	 * A host Unix socket the device connects to (the compositor's):
	 * socket_fd is an O_PATH fd create() opened and checked; the jail
	 * bind-mounts that very inode read-only at "/<socket_name>" in its
	 * root, and the VMM closes the fd after the fork. socket_name NULL:
	 * none. (CONTRACT, lead, issue 11.)
	 */
	int socket_fd;
	const char *socket_name;
	/* A new connection to that socket, found again by its path (the
	 * compositor restarted): run in the VMM on the device's request
	 * (vdev_host_connect), on the VMM's copy of the device. NULL: none. */
	int (*socket_connect)(struct vdev *dev, char *err, size_t errlen);
	/* The host's /usr read-only in the jail: drivers loaded at start (virgl's Mesa). */
	bool host_libs;
	/* Rules this instance adds to the kind's policy (gpu's allow_wx), or NULL. */
	const struct sandbox_policy *extra_policy;
};

/*
 * Where a device served by a vhost-user backend is, for kinds that set
 * device_kind.vhost_user (no model and no process of ours: the VMM's
 * vhost-user frontend, vmm/link_vhost_user.h, is its link).
 * CONTRACT (lead, issue 10).
 */
struct vhost_user_target {
	uint16_t device_id;		/* virtio device id: 26 fs, 2 blk, ... */
	const char *socket;		/* a backend someone else started: connect here */
	bool virtiofsd;			/* or the VMM starts a virtiofsd for it (cfg is a
					 * struct shared_dir_config, devices/shared_dir.h) */
	unsigned nr_queues;		/* 0: GET_QUEUE_NUM (MQ), else the type's default */
	uint16_t queue_size;		/* the most the driver may use per queue */
	/* The device config space when the backend has no CONFIG protocol
	 * feature (virtio-fs: tag and num_request_queues); 0 bytes: none. */
	uint8_t config[VDEV_CONFIG_MAX];
	unsigned config_size;
};

struct device_kind {
	const char *section;		/* config: [rng], or [[disk]] when max > 1 */
	const char *prefix;		/* instance names: "blk" -> blk0, blk1 */
	unsigned max;			/* instances at most; 1: a plain table */
	const char *plural;		/* "disks": "at most 6 disks" (max > 1) */
	size_t config_size;		/* the kind's config struct, zeroed then defaults */
	const struct cfg_key *keys;	/* NULL-name terminated; seccomp_policy is added for all */
	const char *doc;		/* the section in one line, for the reference's header */
	/* Optional: checks across keys and instances, after the whole file. */
	void (*check)(const void *cfg, struct cfg_check *chk);
	/* Builds the model in dev; on failure -errno and one line in err. */
	int (*create)(struct vdev *dev, const char *name, const struct device_env *env,
		      const void *cfg, struct device_grant *grant, char *err, size_t errlen);
	/* Optional: one kernel parameter for the guest ("" for none), -1 if it
	 * does not fit in len. */
	int (*kernel_param)(const void *cfg, const struct device_env *env, char *buf, size_t len);
	const struct sandbox_policy *policy;
	/* Instead of create() and policy: the device is a vhost-user backend's;
	 * fills t, on failure -errno and one line in err. */
	int (*vhost_user)(const void *cfg, const struct device_env *env,
			  struct vhost_user_target *t, char *err, size_t errlen);
	bool essential_first;		/* the first instance's death stops the VM (root disk) */
	const char *essential_what;	/* "the root disk", for that log line */
};

extern const struct device_kind *const device_kinds[];	/* in creation order; NULL-terminated */
const struct device_kind *device_kind_find(const char *section);
/* The sum of every kind's max: how many devices a VM can have. */
unsigned device_kinds_max_total(void);

#endif
