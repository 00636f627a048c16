/*
 * Fitting into systemd without libsystemd: sockets handed in by socket
 * activation (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES; they start at fd 3)
 * and readiness notification (a datagram to NOTIFY_SOCKET).
 */
#ifndef VMSILO_ACTIVATION_H
#define VMSILO_ACTIVATION_H

#include <stddef.h>
#include <sys/types.h>

#define ACTIVATION_FIRST_FD 3

/*
 * Which handed-in fd is the socket called want, from the values of the
 * three variables (NULL when unset): *fd is that fd, or -1 when nothing
 * was handed to this process. A single unnamed (or "unknown") fd counts
 * as want. -1 with err set when the variables are malformed or name
 * several fds but none is want.
 */
int activation_parse(const char *listen_pid, const char *listen_fds, const char *fdnames,
		     pid_t self, const char *want, int *fd, char *err, size_t errlen);

/*
 * The activated "command" socket (see activation_parse), made close-on-exec
 * and non-blocking; the other handed-in fds are closed and the variables
 * unset so nothing started later inherits them. *fd is -1 when the VMM
 * was not socket-activated.
 */
int activation_command_fd(int *fd, char *err, size_t errlen);

/* Reads and unsets NOTIFY_SOCKET; "@name" is an abstract address. */
void notify_init(void);
/* Sends one notification ("READY=1", "STATUS=..."); nothing when not
 * started by a service manager. 0 on success or when there is none. */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
