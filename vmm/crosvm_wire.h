/*
 * crosvm's control-socket wire format, for the requests vmsilo's memory
 * daemon sends (docs/crosvm-socket.md): one serde_json value per
 * datagram, enums externally tagged ("Exit", {"BalloonCommand":...}).
 * Parsing and reply formatting only; the socket is crosvm_socket.c.
 */
#ifndef VMSILO_CROSVM_WIRE_H
#define VMSILO_CROSVM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/balloon_ctl.h"
#include "vmm/json.h"

#define CROSVM_REQUEST_MAX JSON_MAX_LINE	/* bytes in one request datagram */
#define CROSVM_REPLY_MAX 1024		/* the longest reply, stats, is ~700 */

enum crosvm_op {
	CROSVM_EXIT,
	CROSVM_POWERBTN,
	CROSVM_SUSPEND_VCPUS,
	CROSVM_RESUME_VCPUS,
	CROSVM_BALLOON_ADJUST,
	CROSVM_BALLOON_STATS,
};

struct crosvm_request {
	enum crosvm_op op;
	uint64_t num_bytes;		/* CROSVM_BALLOON_ADJUST */
	bool wait_for_success;		/* CROSVM_BALLOON_ADJUST */
};

/*
 * 0 with req filled; -EINVAL for what is not JSON or not the shape of one
 * of our requests, -EOPNOTSUPP for well-formed JSON naming a request we
 * do not serve (crosvm has many).
 */
int crosvm_parse_request(const char *in, size_t len, struct crosvm_request *req);

/* Each writes one reply (no newline, no NUL counted) and returns its length. */
size_t crosvm_reply_ok(char *buf, size_t size);
size_t crosvm_reply_err(char *buf, size_t size, int err);	/* err: a positive errno */
size_t crosvm_reply_stats(char *buf, size_t size, const struct balloon_stats *st);

#endif
