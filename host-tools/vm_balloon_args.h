/* vm-balloon's command line: what to do and the sizes it takes. */
#ifndef VMSILO_VM_BALLOON_ARGS_H
#define VMSILO_VM_BALLOON_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/control.h"	/* CONTROL_BALLOON_MAX_WAIT_S: what the VMM takes */

struct balloon_options {
	const char *runtime_dir;
	const char *name;
	bool set;		/* a SIZE was given: set the balloon to it */
	uint64_t bytes;
	long wait;		/* -1: do not wait */
	bool json;		/* show: the VMM's reply as it came */
};

/* "256M", "1G", "4096", "0": bytes (K, M, G are KiB, MiB, GiB); -1 for
 * anything else or more than a JSON integer holds. */
int balloon_parse_size(const char *s, uint64_t *out);
/* 0; -1 with a message in err; 1 for --help. */
int balloon_parse_args(int argc, char **argv, struct balloon_options *o, char *err, size_t errlen);
/* The control request (one JSON object, no newline) into buf; -1 if it does not fit. */
int balloon_request(const struct balloon_options *o, char *buf, size_t size);
/* "256.0 MiB" for humans. */
void balloon_format_bytes(uint64_t bytes, char *buf, size_t size);

#endif
