/*
 * CROSS_DOMAIN_SECCOMP_RULES are enough: the cross-domain type runs in
 * the real jail, under a filter of the base list, the device-process and
 * shared-memory rules and its own (what gpu.c's policy will hold), with
 * cross_domain_prepare() before it, through every path that makes a
 * syscall: INIT, a query and its blob, a RECEIVE of a memfd to copy, a
 * pipe and an eventfd, a SEND of a host blob and a read pipe, READ, WRITE,
 * a WRITE into a pipe nobody reads (EPIPE, no SIGPIPE), the compositor's
 * hang-up and destroy. The test plays the compositor in the same process
 * with syscalls the same rules allow. Needs root or unprivileged user
 * namespaces; SKIP otherwise.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/virtio_gpu.h>

#include "check.h"
#include "devices/cross_domain.h"
#include "devices/cross_domain_proto.h"
#include "devices/device_process.h"
#include "fake_gpu.h"

#define PAGE 4096u

static const struct sandbox_syscall rules[] = {
	DEVICE_PROCESS_RULES,
	DEVICE_PROCESS_SHM_RULES,
	CROSS_DOMAIN_SECCOMP_RULES,
};
static const struct sandbox_policy policy = {
	.name = "gpu-cross-domain", .rules = rules, .nr_rules = sizeof(rules) / sizeof(rules[0]),
};

struct fds {
	int dev, comp, efd;
};

static int prepare(void *arg)
{
	(void)arg;
	return cross_domain_prepare();
}

static int comp_send(int sock, const char *data, const int *fds, unsigned nfds)
{
	char ctl[CMSG_SPACE(sizeof(int) * 4)] = { 0 };
	struct iovec iov = { (void *)data, strlen(data) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			      .msg_controllen = CMSG_SPACE(sizeof(int) * nfds) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)iov.iov_len ? 0 : -1;
}

/* The fds of what the device sent (the compositor's recvmsg): how many. */
static unsigned comp_recv_fds(int sock, int *fds, unsigned max)
{
	char buf[64], ctl[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			      .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	unsigned n = 0;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) <= 0)
		return 0;
	c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_type == SCM_RIGHTS) {
		n = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		n = n < max ? n : max;
		memcpy(fds, CMSG_DATA(c), n * sizeof(int));
	}
	return n;
}

static uint32_t submit(struct gpu_ctx *ctx, const void *cmd, uint32_t len)
{
	return cross_domain_type.submit(ctx, cmd, len);
}

/* A ring-1 fence, and the loop until it is signalled: 0 or -1. */
static int poll_once(struct gpu *gpu, struct gpu_ctx *ctx, uint64_t id)
{
	const struct fake_fence *f;
	unsigned before = fake_gpu_fences(gpu, &f);

	if (cross_domain_type.fence(ctx, 1, id))
		return -1;
	for (int i = 0; i < 100 && fake_gpu_fences(gpu, &f) == before; i++)
		fake_gpu_pump(10);
	return fake_gpu_fences(gpu, &f) == before + 1 ? 0 : -1;
}

static uint32_t send_ids(struct gpu_ctx *ctx, uint32_t t0, uint32_t id0, uint32_t t1, uint32_t id1)
{
	uint8_t buf[sizeof(struct cross_domain_send_receive) + 4];
	struct cross_domain_send_receive s = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_SEND, .cmd_size = sizeof(buf) },
		.num_identifiers = 2, .opaque_data_size = 4,
		.identifiers = { id0, id1 }, .identifier_types = { t0, t1 },
	};

	memcpy(buf, &s, sizeof(s));
	memcpy(buf + sizeof(s), "send", 4);
	return submit(ctx, buf, sizeof(buf));
}

static uint32_t write_item(struct gpu_ctx *ctx, uint32_t id, const char *data, uint32_t hang_up)
{
	uint8_t buf[64];
	struct cross_domain_read_write w = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_WRITE, .cmd_size = (uint16_t)(sizeof(w) + strlen(data)) },
		.identifier = id, .hang_up = hang_up, .opaque_data_size = (uint32_t)strlen(data),
	};

	memcpy(buf, &w, sizeof(w));
	memcpy(buf + sizeof(w), data, strlen(data));
	return submit(ctx, buf, w.hdr.cmd_size);
}

/* The scenario; its exit status names the first step that failed. */
static int scenario(void *arg)
{
	const struct fds *fds = arg;
	struct gpu *gpu = fake_gpu_new(true, false);
	struct gpu_ctx *ctx = fake_ctx_new(gpu, 1, &cross_domain_type);
	struct gpu_resource *q = fake_res_guest(gpu, 1, PAGE), *c = fake_res_guest(gpu, 2, PAGE);
	struct cross_domain_init init = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_INIT, .cmd_size = 20 },
		.query_ring_id = 1, .channel_ring_id = 2, .channel_type = 1,
	};
	struct cross_domain_get_image_requirements query = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_GET_IMAGE_REQUIREMENTS, .cmd_size = sizeof(query) },
		.width = 64, .height = 64, .drm_format = 0x34325258,
	};
	struct cross_domain_send_receive r;
	uint32_t map_info;
	int blob, memfd, p[2], wr, sent[2];
	char got[8];

	fake_res_attach(q, ctx);
	fake_res_attach(c, ctx);
	fake_gpu_preset_connection(gpu, fds->dev, fds->comp);
	if (submit(ctx, &init, 20))
		return 10;
	if (submit(ctx, &query, sizeof(query)) ||
	    cross_domain_type.create_blob(ctx, 2, 16384, 0, &blob, &map_info))
		return 11;
	fake_res_attach(fake_res_host(gpu, 3, blob, 16384), ctx);

	memfd = memfd_create("keymap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 || ftruncate(memfd, 100) || write(memfd, "keys", 4) != 4 || pipe2(p, O_CLOEXEC))
		return 12;
	if (comp_send(fds->comp, "recv", (int[]){ memfd, p[1], fds->efd }, 3) || poll_once(gpu, ctx, 1))
		return 13;
	close(memfd);
	close(p[1]);
	memcpy(&r, fake_res_data(c), sizeof(r));
	if (r.hdr.cmd != CROSS_DOMAIN_CMD_RECEIVE || r.num_identifiers != 3)
		return 14;
	if (cross_domain_type.create_blob(ctx, r.identifiers[0], PAGE, 0, &blob, &map_info))
		return 15;
	close(blob);

	if (send_ids(ctx, CROSS_DOMAIN_ID_TYPE_VIRTGPU_BLOB, 3, CROSS_DOMAIN_ID_TYPE_READ_PIPE,
		     CROSS_DOMAIN_PIPE_READ_START + 1))
		return 16;
	if (comp_recv_fds(fds->comp, sent, 2) != 2)	/* the blob's, the pipe's */
		return 17;
	close(sent[0]);
	wr = sent[1];
	if (write(wr, "data", 4) != 4 || poll_once(gpu, ctx, 2))
		return 18;
	close(wr);
	if (write(fds->efd, &(uint64_t){ 1 }, 8) != 8 || poll_once(gpu, ctx, 3))
		return 19;

	if (write_item(ctx, r.identifiers[1], "abc", 0) || read(p[0], got, sizeof(got)) != 3)
		return 20;
	close(p[0]);				/* nobody reads it now: EPIPE, not SIGPIPE */
	if (write_item(ctx, r.identifiers[1], "x", 0) != VIRTIO_GPU_RESP_ERR_UNSPEC)
		return 21;

	close(fds->comp);			/* the compositor hangs up */
	if (poll_once(gpu, ctx, 4))
		return 22;
	fake_gpu_preset_connection(gpu, -1, -1);
	fake_gpu_free(gpu);
	return 0;
}

static int wait_child(struct sandbox_child *ch, char *what, size_t len)
{
	siginfo_t info;

	if (sandbox_wait(ch, 0, &info))
		return -1;
	sandbox_describe(ch, &info, what, len);
	sandbox_release(ch);
	return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

int main(void)
{
	int sv[2], efd = eventfd(0, EFD_CLOEXEC);
	struct fds fds;
	int keep[4];
	struct sandbox_config cfg = {
		.name = "gpu0", .enable = true, .nofile = 64, .nproc = 1,
		.keep_fds = keep, .nr_keep_fds = 4, .pre_seccomp = prepare,
	};
	struct sandbox_child ch;
	char err[256] = "", what[256] = "";
	int status;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) || efd < 0)
		return 1;
	fds = (struct fds){ .dev = sv[0], .comp = sv[1], .efd = efd };
	keep[0] = 2;
	keep[1] = sv[0];
	keep[2] = sv[1];
	keep[3] = efd;
	if (sandbox_spawn(&cfg, &policy, scenario, &fds, &ch, err, sizeof(err))) {
		printf("SKIP: jailed tests: %s\n", err);
		return 0;
	}
	status = wait_child(&ch, what, sizeof(what));
	if (status)
		fprintf(stderr, "the jailed scenario: status %d: %s\n", status, what);
	CHECK_EQ(status, 0);
	return check_report("test_cross_domain_jail");
}
