/* What a session needs from the agent around it (main.c). */
#ifndef VMSILO_AGENT_AGENT_H
#define VMSILO_AGENT_AGENT_H

#include <stdarg.h>
#include <sys/types.h>

#include "guest-agent/protocol.h"
#include "guest-agent/spawn.h"

struct agent;

const struct spawn_config *agent_spawn_config(const struct agent *a);
/* Counts a detached command as running until it is reaped. */
void agent_add_detached(struct agent *a, pid_t pid);
void agent_state(const struct agent *a, struct agent_state *s);

void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
