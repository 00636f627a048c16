/* Shared by control.c and the command groups it dispatches to. */
#ifndef VMSILO_CONTROL_INTERNAL_H
#define VMSILO_CONTROL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vmm/control.h"
#include "vmm/json.h"

/* {"version":1,"ok":ok, ... for the caller to add to and finish. */
void control_reply_start(struct json_writer *w, char *buf, size_t size, bool ok);
/* A whole {"version":1,"ok":false,"error":...} line; its length. */
size_t control_reply_error(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * A line for client c later, from the main loop: reply (a deferred
 * request's answer, which clears c->pending) or an event (dropped with a
 * log line if c does not read). c is then served on (its waiting lines).
 */
void control_client_push(struct control_client *c, const char *line, size_t len, bool reply);
/* balloon, balloon_stats, subscribe (control_balloon.c). */
size_t control_balloon(struct control *ctl, struct control_client *from,
		       const struct json_object *req, const char *command, char *buf, size_t size);

/* screenshot (control_gpu.c): answered at once, after the GPU device's reply. */
size_t control_gpu(struct control *ctl, const struct json_object *req, uid_t uid, char *buf,
		   size_t size);

#endif
