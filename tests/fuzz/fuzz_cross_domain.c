/*
 * libFuzzer harness for the cross-domain context type (devices/
 * cross_domain*.c) on tests/unit/fake_gpu.c: a hostile guest's command
 * streams, fences and blob creations interleaved with a hostile
 * compositor's bytes and fds (memfds sealed or not, pipe ends, eventfds,
 * sockets), ring detaches and hang-ups. A context with its rings, a host
 * blob (resource 3), a guest blob (4) and another context's resource (40)
 * is set up and INITed first.
 *
 * Beyond ASan/UBSan: after every step a message in the channel ring has
 * sizes within the ring, and after each input every fd is closed again.
 *
 * Input: steps, each an enum step byte and its bytes.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../unit/fake_gpu.h"
#include "../unit/open_fds.h"
#include "devices/cross_domain.h"
#include "devices/cross_domain_priv.h"
#include "vmm/log.h"

#define PAGE 4096u

enum step { S_SUBMIT, S_FENCE, S_HOST, S_PUMP, S_BLOB, S_DETACH, S_HANG_UP, S_STEPS };
enum host_fd { FD_NONE, FD_MEMFD, FD_SEALED, FD_PIPE_W, FD_PIPE_R, FD_EVENT, FD_SOCKET, FD_KINDS };

struct input {
	const uint8_t *p;
	size_t left;
};

static bool take(struct input *in, void *out, size_t n)
{
	if (in->left < n)
		return false;
	memcpy(out, in->p, n);
	in->p += n;
	in->left -= n;
	return true;
}

static int memfd_of(uint16_t size, bool sealed)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd >= 0 && ftruncate(fd, sealed ? PAGE : size ? size : 1) == 0 && sealed)
		fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
	return fd;
}

/* The fd the compositor sends, and the one it keeps (closed after). */
static int host_fd(uint8_t kind, uint16_t size, int *keep)
{
	int p[2];

	*keep = -1;
	switch (kind % FD_KINDS) {
	case FD_MEMFD:
		return memfd_of(size, false);
	case FD_SEALED:
		return memfd_of(size, true);
	case FD_PIPE_W:
	case FD_PIPE_R:
		if (pipe2(p, O_CLOEXEC))
			return -1;
		*keep = kind % FD_KINDS == FD_PIPE_W ? p[0] : p[1];
		return kind % FD_KINDS == FD_PIPE_W ? p[1] : p[0];
	case FD_EVENT:
		return eventfd(1, EFD_CLOEXEC);
	case FD_SOCKET:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
			return -1;
		*keep = p[1];
		return p[0];
	default:
		return -1;
	}
}

static void host_send(int comp, struct input *in)
{
	uint8_t kind, buf[512];
	uint16_t len;
	char ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { buf, 0 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fd, keep;

	if (!take(in, &kind, 1) || !take(in, &len, 2))
		return;
	iov.iov_len = len % sizeof(buf) + 1;
	memset(buf, kind, iov.iov_len);
	take(in, buf, iov.iov_len < in->left ? iov.iov_len : in->left);
	fd = host_fd(kind, len, &keep);
	if (fd >= 0) {
		struct cmsghdr *c;

		msg.msg_control = ctl;
		msg.msg_controllen = sizeof(ctl);
		c = CMSG_FIRSTHDR(&msg);
		*c = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof(int)), .cmsg_level = SOL_SOCKET,
				       .cmsg_type = SCM_RIGHTS };
		memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	}
	(void)!sendmsg(comp, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (fd >= 0)
		close(fd);
	if (keep >= 0)
		close(keep);
}

/* What the device sent the compositor: read and dropped, fds closed. */
static void host_drain(int comp)
{
	static uint8_t buf[65536];
	char ctl[CMSG_SPACE(sizeof(int) * 32)];

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
				      .msg_controllen = sizeof(ctl) };

		if (recvmsg(comp, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < n; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				close(fd);
			}
		}
	}
}

static void check_channel(struct gpu_resource *ring)
{
	const uint8_t *m = fake_res_data(ring);
	struct cross_domain_send_receive r;
	struct cross_domain_read_write w;

	if (m[0] == CROSS_DOMAIN_CMD_RECEIVE) {
		memcpy(&r, m, sizeof(r));
		if (r.opaque_data_size > CROSS_DOMAIN_RECEIVE_MAX_DATA ||
		    r.num_identifiers > CROSS_DOMAIN_MAX_IDENTIFIERS)
			abort();
	} else if (m[0] == CROSS_DOMAIN_CMD_READ) {
		memcpy(&w, m, sizeof(w));
		if (w.opaque_data_size > CROSS_DOMAIN_READ_MAX_DATA || w.hang_up > 1)
			abort();
	}
}

static void step(struct gpu_ctx *ctx, struct gpu_resource **rings, int comp, struct input *in,
		 uint64_t *fence_id)
{
	static uint8_t cmd[65536];
	uint8_t op, b;
	uint16_t len;
	uint32_t blob[2];
	int fd;
	uint32_t map_info;

	if (!take(in, &op, 1))
		return;
	switch (op % S_STEPS) {
	case S_SUBMIT:
		if (!take(in, &len, 2))
			return;
		len = (uint16_t)(len < in->left ? len : in->left);
		take(in, cmd, len);
		ctx->type->submit(ctx, cmd, len);
		break;
	case S_FENCE:
		if (take(in, &b, 1))
			ctx->type->fence(ctx, b % 3, ++*fence_id);
		break;
	case S_HOST:
		host_send(comp, in);
		break;
	case S_PUMP:
		fake_gpu_pump(0);
		break;
	case S_BLOB:
		if (take(in, blob, sizeof(blob)) &&
		    !ctx->type->create_blob(ctx, blob[0], blob[1], 0, &fd, &map_info))
			close(fd);
		break;
	case S_DETACH:
		if (take(in, &b, 1))
			fake_res_detach(rings[b & 1], ctx);
		break;
	case S_HANG_UP:
		shutdown(comp, SHUT_WR);
		break;
	}
	host_drain(comp);
	check_channel(rings[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool once;
	unsigned fds_before;
	struct gpu *gpu;
	struct gpu_ctx *ctx, *other;
	struct gpu_resource *rings[2];
	struct input in = { data, size };
	struct cross_domain_init init = {
		.hdr = { .cmd = CROSS_DOMAIN_CMD_INIT, .cmd_size = CROSS_DOMAIN_INIT_SIZE_V1 },
		.query_ring_id = 1, .channel_ring_id = 2, .channel_type = CROSS_DOMAIN_CHANNEL_WAYLAND,
	};
	uint64_t fence_id = 0;
	int comp;

	if (!once) {
		log_set_level(LOG_ERROR);
		cross_domain_prepare();
		once = true;
	}
	fds_before = open_fds();
	gpu = fake_gpu_new(true, false);
	ctx = fake_ctx_new(gpu, 1, &cross_domain_type);
	other = fake_ctx_new(gpu, 2, &cross_domain_type);
	rings[0] = fake_res_guest(gpu, 1, PAGE);
	rings[1] = fake_res_guest(gpu, 2, PAGE);
	fake_res_attach(rings[0], ctx);
	fake_res_attach(rings[1], ctx);
	fake_res_attach(fake_res_host(gpu, 3, memfd_of(0, true), PAGE), ctx);
	fake_res_attach(fake_res_guest(gpu, 4, PAGE), ctx);
	fake_res_attach(fake_res_host(gpu, 40, memfd_of(0, true), PAGE), other);
	if (ctx->type->submit(ctx, (const uint8_t *)&init, CROSS_DOMAIN_INIT_SIZE_V1))
		abort();
	comp = fake_gpu_compositor(gpu, 0);
	fcntl(comp, F_SETFL, O_NONBLOCK);
	while (in.left)
		step(ctx, rings, comp, &in, &fence_id);
	if (((struct cd_ctx *)ctx->priv)->nr_items > CD_MAX_ITEMS)
		abort();
	fake_gpu_free(gpu);
	if (open_fds() != fds_before)
		abort();
	return 0;
}
