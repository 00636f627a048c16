/*
 * Who may talk to the agent. Over vsock only the host (CID 2): with vsock
 * loopback in the guest kernel any guest user could otherwise connect and
 * run commands as root. Unix sockets (--listen unix:PATH, for tests) are
 * guarded by the path's permissions.
 */
#ifndef VMSILO_AGENT_PEER_H
#define VMSILO_AGENT_PEER_H

#include <stdbool.h>
#include <sys/socket.h>

bool agent_peer_allowed(const struct sockaddr *addr, socklen_t len);

/*
 * accept4() on listen_fd (non-blocking, close-on-exec) until a peer
 * agent_peer_allowed() lets in; others are closed with one log line each.
 * Returns its fd, or -1 with errno from accept4 (EAGAIN: none waiting).
 */
int agent_accept(int listen_fd);

#endif
