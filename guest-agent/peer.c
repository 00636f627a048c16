#include "guest-agent/peer.h"

#include <stddef.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "guest-agent/agent.h"

bool agent_peer_allowed(const struct sockaddr *addr, socklen_t len)
{
	const struct sockaddr_vm *vm = (const struct sockaddr_vm *)addr;

	if (len < (socklen_t)sizeof(addr->sa_family))
		return false;
	if (addr->sa_family == AF_UNIX)
		return true;
	return addr->sa_family == AF_VSOCK && len >= (socklen_t)sizeof(*vm) &&
	       vm->svm_cid == VMADDR_CID_HOST;
}

static void log_refused(const struct sockaddr *addr, socklen_t len)
{
	const struct sockaddr_vm *vm = (const struct sockaddr_vm *)addr;

	if (len >= (socklen_t)sizeof(*vm) && addr->sa_family == AF_VSOCK)
		agent_log("refused a connection from vsock CID %u: only the host (CID %u) may connect",
			  vm->svm_cid, VMADDR_CID_HOST);
	else
		agent_log("refused a connection from address family %d: only the host may connect",
			  len >= (socklen_t)sizeof(addr->sa_family) ? addr->sa_family : -1);
}

int agent_accept(int listen_fd)
{
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(listen_fd, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0 || agent_peer_allowed((struct sockaddr *)&peer, len))
			return fd;
		log_refused((struct sockaddr *)&peer, len);
		close(fd);
	}
}
