/*
 * The VMM's view of the guest agent: it connects through the vsock
 * device's listener (vsock.socket, reached by the handle runtime_dir keeps
 * on it, not by name) to the agent's port, sends WATCH and reads the STATE messages (how many
 * commands run, for how long none has). The first answer makes the
 * service ready (sd_notify READY=1); with [auto_shutdown] an idle guest
 * gets the power button, and a hard stop if it does not power off.
 */
#ifndef VMSILO_AGENT_WATCH_H
#define VMSILO_AGENT_WATCH_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "vmm/config.h"

struct vm;
struct runtime_dir;

enum agent_phase { AGENT_ABSENT, AGENT_WAITING, AGENT_READY };

struct agent_status {
	enum agent_phase phase;
	uint32_t commands;	/* running in the guest (AGENT_READY) */
	uint32_t idle_seconds;	/* since the last one ended; 0 while busy */
};

#define AGENT_WATCH_RETRY_MS 500
#define AGENT_WATCH_POWEROFF_GRACE_S 30

struct agent_watch {
	struct vm *vm;
	const struct runtime_dir *rd;	/* whose vsock.socket listener we connect to */
	int fd;			/* the connection to the agent, or -1 */
	int retry_fd;		/* timerfd: try connecting again */
	int idle_fd;		/* timerfd: idle long enough / grace over */
	enum { AW_IDLE, AW_HANDSHAKE, AW_WATCHING } conn;
	uint8_t in[256];	/* received, not yet handled */
	size_t in_len;
	bool have_state;
	uint32_t commands, idle_at_state;	/* the last STATE */
	struct timespec state_time;	/* when it came */
	bool notified;		/* READY=1 sent */
	bool pressed;		/* auto_shutdown pressed the button */
	bool auto_shutdown;
	unsigned after;		/* seconds */
};

/* Nothing is connected until agent_watch_attach. */
int agent_watch_open(struct agent_watch *aw, const struct vm_config *cfg,
		     const struct runtime_dir *rd, char *err, size_t errlen);
/* Starts watching the guest of vm (again after a reboot). */
void agent_watch_attach(struct agent_watch *aw, struct vm *vm);
void agent_watch_close(struct agent_watch *aw);
void agent_watch_status(const struct agent_watch *aw, struct agent_status *st);

#endif
