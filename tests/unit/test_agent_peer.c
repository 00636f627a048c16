/* The guest agent lets only the host in over vsock; the accept path closes
 * anyone else and says so. (No vsock loopback on the build host: the
 * refusal is driven through a TCP peer, the same path as a guest-local
 * vsock one.) */
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "check.h"
#include "guest-agent/agent.h"
#include "guest-agent/peer.h"

static char last_log[512];
static unsigned log_lines;

void agent_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
	log_lines++;
}

static bool vsock_peer_allowed(unsigned cid)
{
	struct sockaddr_vm vm = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = 1234 };

	return agent_peer_allowed((struct sockaddr *)&vm, sizeof(vm));
}

static void test_predicate(void)
{
	struct sockaddr_vm vm = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST };
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	sa_family_t unnamed_unix = AF_UNIX;

	CHECK(vsock_peer_allowed(VMADDR_CID_HOST));
	CHECK(!vsock_peer_allowed(VMADDR_CID_LOCAL));	/* vsock loopback */
	CHECK(!vsock_peer_allowed(3));			/* the guest's own CID */
	CHECK(!vsock_peer_allowed(VMADDR_CID_HYPERVISOR));
	CHECK(!vsock_peer_allowed(VMADDR_CID_ANY));
	CHECK(!agent_peer_allowed((struct sockaddr *)&vm, sizeof(vm) - 1));	/* truncated */
	CHECK(!agent_peer_allowed((struct sockaddr *)&in, sizeof(in)));
	CHECK(agent_peer_allowed((struct sockaddr *)&unnamed_unix, sizeof(unnamed_unix)));
	CHECK(!agent_peer_allowed((struct sockaddr *)&vm, 0));
}

/* A TCP peer on loopback is closed, accept4's EAGAIN comes back, one line logged. */
static void test_refused_peer_is_closed(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), client, fd;
	char byte;

	CHECK(lfd >= 0);
	CHECK_EQ(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	CHECK_EQ(listen(lfd, 4), 0);
	CHECK_EQ(getsockname(lfd, (struct sockaddr *)&addr, &len), 0);
	client = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_EQ(connect(client, (struct sockaddr *)&addr, sizeof(addr)), 0);

	log_lines = 0;
	errno = 0;
	fd = agent_accept(lfd);
	CHECK_EQ(fd, -1);
	CHECK_EQ(errno, EAGAIN);
	if (fd >= 0)
		close(fd);
	CHECK_EQ(log_lines, 1);
	CHECK(strstr(last_log, "refused a connection") != NULL);
	CHECK(recv(client, &byte, 1, 0) <= 0);		/* closed on it */
	close(client);
	close(lfd);
}

/* A Unix peer (--listen unix:PATH) gets through, connected to the client. */
static void test_unix_peer_is_accepted(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0), client, fd;
	char byte = 0;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "/tmp/test_agent_peer.%d", (int)getpid());
	unlink(addr.sun_path);
	CHECK_EQ(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	CHECK_EQ(listen(lfd, 4), 0);
	client = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_EQ(connect(client, (struct sockaddr *)&addr, sizeof(addr)), 0);

	log_lines = 0;
	fd = agent_accept(lfd);
	CHECK(fd >= 0);
	CHECK_EQ(log_lines, 0);
	CHECK_EQ(write(client, "x", 1), 1);
	CHECK_EQ(read(fd, &byte, 1), 1);
	CHECK_EQ(byte, 'x');
	close(fd);
	close(client);
	close(lfd);
	unlink(addr.sun_path);
}

int main(void)
{
	test_predicate();
	test_refused_peer_is_closed();
	test_unix_peer_is_accepted();
	return check_report("test_agent_peer");
}
