#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/errfmt.h"
#include "vmm/log.h"
#include "vmm/memory.h"

#define SHMEM_THP_KNOB "/sys/kernel/mm/transparent_hugepage/shmem_enabled"

/* memfd pages can be huge unless the host says "[never]" or "[deny]". */
static int memfd_can_be_huge(void)
{
	char buf[128] = "";
	int fd = open(SHMEM_THP_KNOB, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	return !strstr(buf, "[never]") && !strstr(buf, "[deny]");
}

static int send_fd(int sock, int fd)
{
	char data = fd >= 0 ? 1 : 0;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl = { 0 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		CMSG_FIRSTHDR(&msg)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&msg)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&msg)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&msg)), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } ctl;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	int fd = -1;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1 || !data)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* In a throwaway mount namespace: a tmpfs that always uses huge pages. */
static void huge_tmpfs_child(int sock, uint64_t size)
{
	char opts[64];
	int fd = -1;

	snprintf(opts, sizeof(opts), "huge=always,size=%llu,mode=0700",
		 (unsigned long long)size);
	if (!unshare(CLONE_NEWNS) &&
	    !mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) &&
	    !mount("vmsilo-guest-ram", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts))
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	send_fd(sock, fd);
	_exit(0);
}

/*
 * Needs CAP_SYS_ADMIN; must run before any thread exists (it forks). The
 * file outlives the namespace, which vanishes with the child.
 */
static int open_huge_tmpfs(uint64_t size)
{
	int sv[2], fd;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		huge_tmpfs_child(sv[1], size);
	}
	close(sv[1]);
	fd = pid > 0 ? recv_fd(sv[0]) : -1;
	close(sv[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return fd;
}

static int open_backing(struct guest_ram *ram, uint64_t size)
{
	int huge = memfd_can_be_huge();

	if (!huge && geteuid() == 0) {
		ram->fd = open_huge_tmpfs(size);
		ram->backing = "huge-page tmpfs";
		if (ram->fd >= 0)
			return 0;
	}
	ram->fd = memfd_create("vmsilo-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (ram->fd < 0)
		return -1;
	ram->backing = huge ? "memfd, huge pages" : "memfd, 4 KiB pages";
	if (!huge)
		log_info("guest RAM uses 4 KiB pages; boots are faster with huge pages: echo advise > %s",
			 SHMEM_THP_KNOB);
	return 0;
}

int guest_ram_create(struct guest_ram *ram, uint64_t size, char *err, size_t errlen)
{
	void *host;

	ram->fd = -1;
	ram->host = NULL;
	ram->size = size;
	if (open_backing(ram, size) || ftruncate(ram->fd, (off_t)size)) {
		return errfmt_sys(err, errlen, errno, "guest memory");
	}
	/* Devices may map it but never resize it (sealing works on memfds only). */
	fcntl(ram->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
	host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, ram->fd, 0);
	if (host == MAP_FAILED) {
		return errfmt_sys(err, errlen, errno, "guest memory: mmap of %llu MiB",
				  (unsigned long long)(size >> 20));
	}
	madvise(host, size, MADV_HUGEPAGE);
	ram->host = host;
	log_dbg("guest memory: %llu MiB, %s", (unsigned long long)(size >> 20), ram->backing);
	return 0;
}

void guest_ram_destroy(struct guest_ram *ram)
{
	if (ram->host)
		munmap(ram->host, ram->size);
	if (ram->fd >= 0)
		close(ram->fd);
	ram->host = NULL;
	ram->fd = -1;
}
