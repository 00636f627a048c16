/*
 * virtio-gpu (virtio 1.2, 5.7), the device model: [gpu]'s keys, the
 * model's ops, the ctrl and cursor queues and the dispatch of their
 * commands, and the GPU process's seccomp policy. Resources are
 * gpu_res.c's, contexts and fences gpu_ctx.c's; see docs/gpu.md.
 *
 * Choices:
 * - A chain whose readable part cannot hold a header, or whose writable
 *   part cannot hold a response header, is returned with ERR_UNSPEC if
 *   it has room for one, else with nothing written; any other command
 *   too short for its fixed part or its response gets ERR_UNSPEC without
 *   being run (as QEMU does). Only a broken ring resets the device.
 * - Each notify serves at most a queue's worth of chains, then kicks
 *   itself: a guest cannot hold the loop.
 * - Without a context type (wayland = false) the device is 2D only: no
 *   VIRGL, RESOURCE_BLOB or CONTEXT_INIT, so Linux's dumb buffers stay 2D
 *   resources that SET_SCANOUT shows.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "devices/cross_domain.h"
#include "devices/device_process.h"
#include "devices/gpu_internal.h"
#include "devices/gpu_socket.h"
#include "devices/gpu_virgl.h"
#include "sandbox/threads.h"
#include "virtio/iov.h"
#include "vmm/log.h"

static struct gpu *of(struct vdev *dev)
{
	return dev->priv;
}

/* ---- commands without state of their own ---- */

static uint32_t cmd_display_info(struct gpu *g, struct gpu_call *c)
{
	c->resp_len = gpu_enc_display_info(c->resp, (unsigned)g->cfg.displays,
					   (uint32_t)g->cfg.width, (uint32_t)g->cfg.height);
	return VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
}

static uint32_t cmd_edid(struct gpu *g, struct gpu_call *c)
{
	uint32_t s = c->req.edid.scanout;

	if (s >= g->cfg.displays) {
		log_ratelimited(LOG_WARN, "%s: GET_EDID of scanout %u", g->dev->name, s);
		return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	}
	c->resp_len = gpu_enc_edid(c->resp, (uint32_t)g->cfg.width, (uint32_t)g->cfg.height, s + 1);
	return VIRTIO_GPU_RESP_OK_EDID;
}

/* SET_SCANOUT_BLOB: not offered (no blob scanouts without RESOURCE_BLOB
 * in 2D mode, and cross-domain shows windows on the host instead). */
static uint32_t cmd_unsupported(struct gpu *g, struct gpu_call *c)
{
	log_ratelimited(LOG_WARN, "%s: command %#x is not supported", g->dev->name, c->req.hdr.type);
	return VIRTIO_GPU_RESP_ERR_UNSPEC;
}

static const struct {
	uint32_t type;
	uint32_t resp_size;		/* the least room the response needs */
	gpu_handler fn;
} handlers[] = {
	{ VIRTIO_GPU_CMD_GET_DISPLAY_INFO, GPU_RESP_DISPLAY_INFO, cmd_display_info },
	{ VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, GPU_HDR_SIZE, gpu_cmd_create_2d },
	{ VIRTIO_GPU_CMD_RESOURCE_UNREF, GPU_HDR_SIZE, gpu_cmd_unref },
	{ VIRTIO_GPU_CMD_SET_SCANOUT, GPU_HDR_SIZE, gpu_cmd_set_scanout },
	{ VIRTIO_GPU_CMD_RESOURCE_FLUSH, GPU_HDR_SIZE, gpu_cmd_flush },
	{ VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, GPU_HDR_SIZE, gpu_cmd_transfer_2d },
	{ VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, GPU_HDR_SIZE, gpu_cmd_attach_backing },
	{ VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, GPU_HDR_SIZE, gpu_cmd_detach_backing },
	{ VIRTIO_GPU_CMD_GET_CAPSET_INFO, GPU_RESP_CAPSET_INFO, gpu_cmd_get_capset_info },
	{ VIRTIO_GPU_CMD_GET_CAPSET, GPU_HDR_SIZE, gpu_cmd_get_capset },	/* checks its size */
	{ VIRTIO_GPU_CMD_GET_EDID, GPU_RESP_EDID, cmd_edid },
	{ VIRTIO_GPU_CMD_RESOURCE_ASSIGN_UUID, GPU_RESP_UUID, gpu_cmd_assign_uuid },
	{ VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB, GPU_HDR_SIZE, gpu_cmd_create_blob },
	{ VIRTIO_GPU_CMD_SET_SCANOUT_BLOB, GPU_HDR_SIZE, cmd_unsupported },
	{ VIRTIO_GPU_CMD_CTX_CREATE, GPU_HDR_SIZE, gpu_cmd_ctx_create },
	{ VIRTIO_GPU_CMD_CTX_DESTROY, GPU_HDR_SIZE, gpu_cmd_ctx_destroy },
	{ VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, GPU_HDR_SIZE, gpu_cmd_ctx_attach },
	{ VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE, GPU_HDR_SIZE, gpu_cmd_ctx_detach },
	{ VIRTIO_GPU_CMD_SUBMIT_3D, GPU_HDR_SIZE, gpu_cmd_submit },
	{ VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, GPU_HDR_SIZE, gpu_cmd_create_3d },
	{ VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D, GPU_HDR_SIZE, gpu_cmd_transfer_to_3d },
	{ VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, GPU_HDR_SIZE, gpu_cmd_transfer_from_3d },
	{ VIRTIO_GPU_CMD_RESOURCE_MAP_BLOB, GPU_RESP_MAP_INFO, gpu_cmd_map_blob },
	{ VIRTIO_GPU_CMD_RESOURCE_UNMAP_BLOB, GPU_HDR_SIZE, gpu_cmd_unmap_blob },
};

static uint32_t dispatch(struct gpu *g, struct gpu_call *c)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (handlers[i].type != c->req.hdr.type)
			continue;
		if (c->room < handlers[i].resp_size) {
			log_ratelimited(LOG_WARN, "%s: command %#x with %llu bytes for its response",
					g->dev->name, c->req.hdr.type, (unsigned long long)c->room);
			return VIRTIO_GPU_RESP_ERR_UNSPEC;
		}
		return handlers[i].fn(g, c);
	}
	log_ratelimited(LOG_WARN, "%s: unknown command %#x on the ctrl queue", g->dev->name,
			c->req.hdr.type);
	return VIRTIO_GPU_RESP_ERR_UNSPEC;
}

/* What gpu_dec_req refused: the error response, after one line. */
static uint32_t refused(struct gpu *g, const struct virtq_chain *ch, const struct gpu_req *req,
			int rc)
{
	if (rc == -EMSGSIZE)
		log_ratelimited(LOG_WARN, "%s: command %#x in %llu bytes is cut short", g->dev->name,
				req->hdr.type, (unsigned long long)ch->out_len);
	else if (rc == -ENOMSG)
		log_ratelimited(LOG_WARN, "%s: unknown command %#x", g->dev->name, req->hdr.type);
	else
		log_ratelimited(LOG_WARN, "%s: ctrl chain of %llu bytes holds no command header",
				g->dev->name, (unsigned long long)ch->out_len);
	return VIRTIO_GPU_RESP_ERR_UNSPEC;
}

static void serve_ctrl_chain(struct gpu *g, struct virtq_chain *ch)
{
	struct virtq *vq = &g->dev->queues[GPU_QUEUE_CTRL].vq;
	uint8_t cmd[GPU_MAX_CMD_SIZE];
	size_t n = iov_to_buf(ch->iov, ch->nr_out, 0, cmd, sizeof(cmd));
	struct gpu_call c = {
		.out = ch->iov, .nr_out = ch->nr_out, .out_len = ch->out_len, .room = ch->in_len,
		.resp = g->resp, .resp_len = GPU_HDR_SIZE,
	};
	int rc = gpu_dec_req(cmd, n, &c.req);
	uint32_t type, written;

	if (ch->in_len < GPU_HDR_SIZE) {
		log_ratelimited(LOG_WARN, "%s: ctrl chain with %llu bytes for a response; "
				"returned unanswered", g->dev->name, (unsigned long long)ch->in_len);
		virtq_push(vq, ch->head, 0);
		return;
	}
	type = rc ? refused(g, ch, &c.req, rc) : dispatch(g, &c);
	if (type >= VIRTIO_GPU_RESP_ERR_UNSPEC)
		c.resp_len = GPU_HDR_SIZE;
	gpu_enc_hdr(g->resp, &c.req.hdr, type);
	written = (uint32_t)buf_to_iov(virtq_chain_in(ch), ch->nr_in, 0, g->resp, c.resp_len);
	if (type < VIRTIO_GPU_RESP_ERR_UNSPEC && gpu_fence_park(g, &c.req.hdr, ch->head, written))
		return;
	virtq_push(vq, ch->head, written);
}

/* The cursor is kept, not drawn: nothing on the host shows the scanout. */
static void serve_cursor_chain(struct gpu *g, struct virtq_chain *ch)
{
	uint8_t cmd[GPU_MAX_CMD_SIZE];
	size_t n = iov_to_buf(ch->iov, ch->nr_out, 0, cmd, sizeof(cmd));
	struct gpu_req req;

	if (gpu_dec_req(cmd, n, &req) || (req.hdr.type != VIRTIO_GPU_CMD_UPDATE_CURSOR &&
					  req.hdr.type != VIRTIO_GPU_CMD_MOVE_CURSOR)) {
		log_ratelimited(LOG_WARN, "%s: cursor queue: %zu bytes of command %#x ignored",
				g->dev->name, n, n >= 4 ? req.hdr.type : 0);
	} else if (req.hdr.type == VIRTIO_GPU_CMD_UPDATE_CURSOR) {
		g->cursor.scanout_id = req.cursor.scanout_id;
		g->cursor.x = req.cursor.x;
		g->cursor.y = req.cursor.y;
		g->cursor.resource_id = req.cursor.resource_id;
		g->cursor.hot_x = req.cursor.hot_x;
		g->cursor.hot_y = req.cursor.hot_y;
	} else {
		g->cursor.scanout_id = req.cursor.scanout_id;
		g->cursor.x = req.cursor.x;
		g->cursor.y = req.cursor.y;
	}
	virtq_push(&g->dev->queues[GPU_QUEUE_CURSOR].vq, ch->head, 0);
}

static void gpu_notify(struct vdev *dev, unsigned q)
{
	struct gpu *g = of(dev);
	struct virtq *vq = &dev->queues[q].vq;
	unsigned served = 0;
	int rc = 0;

	if (q > GPU_QUEUE_CURSOR)
		return;
	while (dev->active && served < vq->size && (rc = virtq_pop(vq, dev->mem, &g->chain)) > 0) {
		served++;
		if (q == GPU_QUEUE_CTRL)
			serve_ctrl_chain(g, &g->chain);
		else
			serve_cursor_chain(g, &g->chain);
	}
	if (rc < 0)
		vdev_fail(dev, q == GPU_QUEUE_CTRL ? "malformed ctrl chain" : "malformed cursor chain");
	else if (served && served == vq->size)
		vdev_requeue(dev, q);
	vdev_signal(dev, q);
}

/* ---- config, reset, the VMM's commands ---- */

static void gpu_config(struct vdev *dev, uint8_t *buf)
{
	struct gpu *g = of(dev);

	gpu_enc_config(buf, g->events_read, (uint32_t)g->cfg.displays, g->nr_types);
}

/* Only events_clear is the driver's to write. */
static int gpu_write_config(struct vdev *dev, unsigned off, const uint8_t *buf, unsigned len)
{
	struct gpu *g = of(dev);
	uint32_t clear;

	if (off != 4 || len != 4)
		return -1;
	memcpy(&clear, buf, 4);
	g->events_read &= ~le32toh(clear);
	return 0;
}

/*
 * Inside the VMM's reset request: contexts go through their type, the
 * resources are freed, and the mappings forgotten (the transport drops
 * them on reset; asking the VMM from here would deadlock).
 */
static void gpu_reset(struct vdev *dev)
{
	struct gpu *g = of(dev);

	gpu_fences_drop(g);
	gpu_contexts_destroy_all(g);
	gpu_res_free_all(g, false);
	memset(&g->cursor, 0, sizeof(g->cursor));
	g->events_read = 0;
}

static void gpu_destroy(struct vdev *dev)
{
	struct gpu *g = of(dev);

	gpu_reset(dev);
	if (g->render_fd >= 0)
		close(g->render_fd);
	free(g);
}

static int gpu_command(struct vdev *dev, const void *req, unsigned len, void *reply,
		       unsigned *reply_len)
{
	struct gpu_cmd cmd;
	struct gpu_cmd_reply r;
	int rc;

	*reply_len = 0;
	if (gpu_dec_cmd(req, len, &cmd))
		return -EINVAL;
	rc = gpu_screenshot(of(dev), cmd.scanout, &r);
	if (rc)
		return rc;
	r.width = htole32(r.width);
	r.height = htole32(r.height);
	memcpy(reply, &r, sizeof(r));
	*reply_len = sizeof(r);
	return 0;
}

/*
 * Where the compositor's socket is in this process: "/" GPU_SOCKET_NAME
 * in the jail, "/proc/self/fd/N" without one (sandbox = false); behind
 * link_local (tests) the path the VMM found.
 */
static int gpu_init_jailed(struct vdev *dev)
{
	struct gpu *g = of(dev);
	const char *path = sandbox_socket_path();
	int rc;

	if (g->cfg.wayland && path)
		g->connect_path = path;
	if (g->virgl && (rc = gpu_virgl_start(g, g->render_fd)))
		return rc;
	return cross_domain_prepare();
}

/* ---- the GPU process's policy ---- */

static const struct sandbox_syscall gpu_rules[] = {
	DEVICE_PROCESS_RULES,
	DEVICE_PROCESS_SHM_RULES,
	SANDBOX_ALLOW_EQ(socket, 0, AF_UNIX, "a connection to the host compositor per context"),
	SANDBOX_ALLOW(connect, "to \"/" GPU_SOCKET_NAME "\", the compositor's socket the VMM checked"),
	CROSS_DOMAIN_SECCOMP_RULES,
	SANDBOX_ALLOW(lseek, "the size of a memfd from the compositor"),
	SANDBOX_ALLOW_EQ(newfstatat, 3, AT_EMPTY_PATH, "glibc's fstat"),
	SANDBOX_ALLOW_EQ(openat, 2, GPU_SCREENSHOT_OPEN_FLAGS,
			 "write a screenshot in the working directory (the runtime directory)"),
	SANDBOX_ALLOW(renameat, "a screenshot's temporary file to its name"),
	SANDBOX_ALLOW_EQ(getrandom, 2, GRND_NONBLOCK, "RESOURCE_ASSIGN_UUID: random uuids"),
#ifdef SANDBOX_ASAN_BUILD
	/* ASan maps shadow for each large allocation (a framebuffer's host copy). */
	SANDBOX_ALLOW_EQ(madvise, 2, MADV_NOHUGEPAGE, "ASan builds: a large allocation's shadow"),
	SANDBOX_ALLOW_EQ(madvise, 2, MADV_DONTDUMP, "ASan builds: a large allocation's shadow"),
#endif
};

const struct sandbox_policy gpu_policy = {
	"gpu", gpu_rules, sizeof(gpu_rules) / sizeof(gpu_rules[0]),
};

/*
 * opengl: virglrenderer on Mesa, measured on llvmpipe (Mesa 22.3, LLVM
 * 15): its threads, and what they do while rendering. Mesa opens and
 * maps every file it needs before the filter.
 */
#define GPU_VIRGL_RULES \
	SANDBOX_THREAD_RULES, \
	SANDBOX_ALLOW(sched_yield, "Mesa's queues and llvmpipe's fences spin, then yield"), \
	SANDBOX_ALLOW(gettid, "Mesa's thread helpers"), \
	SANDBOX_ALLOW(sched_getaffinity, "llvmpipe counts the CPUs it may use"), \
	SANDBOX_ALLOW_EQ(prctl, 0, PR_SET_NAME, "Mesa names its threads"), \
	SANDBOX_FAIL(readlink, ENOENT, \
		     "each new GL context reads driconf, which resolves /proc/self/exe for the " \
		     "process name; the jail has no /proc, so it fails as it would anyway"), \
	SANDBOX_FAIL(sysinfo, ENOSYS, \
		     "glibc's sysconf(_SC_PHYS_PAGES), asked by Mesa (its memory caps) and by " \
		     "qsort for large arrays; both take a failure as \"unknown\"")

/* Executable memory exactly as llvmpipe makes it; nothing file-backed. */
static const struct sandbox_syscall gpu_virgl_rules[] = {
	GPU_VIRGL_RULES,
	SANDBOX_ALLOW_EQ(mmap, 2, PROT_READ | PROT_WRITE | PROT_EXEC,
			 "llvmpipe: glapi's dispatch stubs and the vertex translator's code heap "
			 "are anonymous memory written and run at once"),
	SANDBOX_ALLOW_EQ(mprotect, 2, PROT_READ | PROT_EXEC,
			 "llvmpipe: LLVM writes a compiled shader, then makes it executable"),
};

const struct sandbox_policy gpu_virgl_policy = {
	"gpu-virgl", gpu_virgl_rules, sizeof(gpu_virgl_rules) / sizeof(gpu_virgl_rules[0]),
};

/* allow_wx: executable memory, writable at once or flipped (JITs). */
#define GPU_WX_RULES \
	SANDBOX_ALLOW_MASKED(mmap, 2, PROT_EXEC, PROT_EXEC, \
			     "allow_wx: drivers that need W+X memory (NVIDIA's), llvmpipe's JIT"), \
	SANDBOX_ALLOW_MASKED(mprotect, 2, PROT_EXEC, PROT_EXEC, \
			     "allow_wx: a JIT makes its code executable")

static const struct sandbox_syscall gpu_wx_rules[] = { GPU_WX_RULES };

const struct sandbox_policy gpu_wx_policy = {
	"gpu-wx", gpu_wx_rules, sizeof(gpu_wx_rules) / sizeof(gpu_wx_rules[0]),
};

static const struct sandbox_syscall gpu_virgl_wx_rules[] = { GPU_VIRGL_RULES, GPU_WX_RULES };

const struct sandbox_policy gpu_virgl_wx_policy = {
	"gpu-virgl-wx", gpu_virgl_wx_rules, sizeof(gpu_virgl_wx_rules) / sizeof(gpu_virgl_wx_rules[0]),
};

/* ---- [gpu] ---- */

static uint64_t offered_features(const struct gpu *g)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_GPU_F_EDID |
		     1ull << VIRTIO_GPU_F_RESOURCE_UUID;

	/* Linux's driver allows EXECBUFFER only with VIRGL, whatever the capsets. */
	if (g->nr_types)
		f |= 1ull << VIRTIO_GPU_F_VIRGL | 1ull << VIRTIO_GPU_F_RESOURCE_BLOB |
		     1ull << VIRTIO_GPU_F_CONTEXT_INIT;
	return f;
}

int gpu_add_ctx_type(struct gpu *g, const struct gpu_ctx_type *type)
{
	if (g->nr_types >= GPU_MAX_CAPSETS)
		return -ENOSPC;
	if (!type->create || !type->destroy || !type->submit || !type->capset ||
	    type->capset_size > GPU_MAX_CAPSET_SIZE)
		return -EINVAL;
	g->types[g->nr_types++] = type;
	g->ops.features = offered_features(g);
	return 0;
}

/* The first render node, or -ENOENT: then virgl renders on llvmpipe. */
static int first_render_node(void)
{
	char path[32];

	for (int i = 128; i < 192; i++) {
		int fd;

		snprintf(path, sizeof(path), "/dev/dri/renderD%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0)
			return fd;
	}
	return -ENOENT;
}

/*
 * virgl's capsets, the render node opened here (the jail has no /dev),
 * the host's /usr in the jail for Mesa, room for its threads. With
 * allow_wx, its rules include what gpu_virgl_policy allows.
 */
static int enable_virgl(struct gpu *g, const char *name, const struct gpu_config *gc,
			struct device_grant *grant, char *err, size_t errlen)
{
	int rc = gpu_virgl_enable(g, err, errlen);

	if (rc)
		return rc;
	g->virgl = true;
	if (gc->render_node) {
		g->render_fd = open(gc->render_node, O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (g->render_fd < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: render_node: cannot open %s: %s", name,
				 gc->render_node, strerror(errno));
			return rc;
		}
	} else {
		g->render_fd = first_render_node();
	}
	if (grant && g->render_fd >= 0)
		grant->fds[grant->nr_fds++] = g->render_fd;
	if (grant) {
		grant->host_libs = true;
		grant->nproc = GPU_VIRGL_NPROC;
	}
	return 0;
}

/* In the VMM, for the GPU process: the compositor's socket found again. */
static int gpu_socket_reconnect(struct vdev *dev, char *err, size_t errlen)
{
	struct gpu *g = of(dev);

	return gpu_socket_connect(dev->name, g->host_socket, g->socket_user, err, errlen);
}

/* The compositor's socket, found and checked here, shown to the jail. */
static int open_socket(struct gpu *g, const char *name, const struct device_env *env,
		       const struct gpu_config *cfg, struct device_grant *grant, char *err,
		       size_t errlen)
{
	int fd;

	if (gpu_socket_path(cfg->wayland_socket, env->user_uid, g->host_socket,
			    sizeof(g->host_socket))) {
		snprintf(err, errlen, "%s: the Wayland socket's path is too long", name);
		return -ENAMETOOLONG;
	}
	fd = gpu_socket_open(name, g->host_socket, env->user_uid, err, errlen);
	if (fd < 0)
		return fd;
	g->socket_user = env->user_uid;
	if (grant) {
		grant->socket_fd = fd;
		grant->socket_name = GPU_SOCKET_NAME;
		grant->socket_connect = gpu_socket_reconnect;
	} else {
		close(fd);
	}
	return 0;
}

static void set_ops(struct gpu *g)
{
	g->shm = (struct vdev_shm_region){ GPU_SHM_ID_HOST_VISIBLE, g->cfg.host_visible_size };
	g->ops = (struct vdev_ops){
		.name = "gpu", .device_id = VIRTIO_ID_GPU, .nr_queues = 2,
		.queue_size = GPU_QUEUE_SIZE, .config_size = GPU_CONFIG_SIZE,
		.features = offered_features(g),
		.config = gpu_config, .write_config = gpu_write_config, .notify = gpu_notify,
		.reset = gpu_reset, .destroy = gpu_destroy, .init_jailed = gpu_init_jailed,
		.command = gpu_command, .shm_regions = &g->shm, .nr_shm_regions = 1,
	};
}

static int gpu_create(struct vdev *dev, const char *name, const struct device_env *env,
		      const void *cfg, struct device_grant *grant, char *err, size_t errlen)
{
	const struct gpu_config *gc = cfg;
	struct gpu *g;
	int rc;

	if (!(g = calloc(1, sizeof(*g)))) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	g->cfg = *gc;
	g->cfg.wayland_socket = NULL;
	g->cfg.render_node = NULL;
	g->render_fd = -1;
	set_ops(g);
	rc = gc->opengl ? enable_virgl(g, name, gc, grant, err, errlen) : 0;
	if (rc) {
		free(g);
		return rc;
	}
	rc = gc->wayland ? gpu_add_ctx_type(g, &cross_domain_type) : 0;
	if (!rc && gc->wayland)
		rc = open_socket(g, name, env, gc, grant, err, errlen);
	else if (rc)
		snprintf(err, errlen, "%s: the cross-domain context type is broken", name);
	if (rc) {
		if (g->render_fd >= 0)
			close(g->render_fd);
		free(g);
		return rc;
	}
	g->connect_path = g->host_socket;
	if (grant) {
		grant->rundir = true;
		grant->nofile = GPU_NOFILE;
		grant->extra_policy = gc->opengl ? gc->allow_wx ? &gpu_virgl_wx_policy
							       : &gpu_virgl_policy
				      : gc->allow_wx ? &gpu_wx_policy : NULL;
	}
	vdev_init(dev, &g->ops, g, name, env->mem);
	g->dev = dev;
	return 0;
}

static int power_of_two(const void *value, char *why, size_t len)
{
	uint64_t n = *(const uint64_t *)value;

	if (n & (n - 1)) {
		snprintf(why, len, "must be a power of two, such as \"4G\" or \"8G\"");
		return -1;
	}
	return 0;
}

static const struct cfg_key gpu_keys[] = {
	{ .name = "wayland", .type = CFG_BOOL, .offset = offsetof(struct gpu_config, wayland),
	  .def = "true",
	  .doc = "The cross-domain context (capset 5): the guest's Wayland clients show their "
		 "windows on the host compositor." },
	{ .name = "opengl", .type = CFG_BOOL, .offset = offsetof(struct gpu_config, opengl),
	  .def = "true",
	  .doc = "virgl contexts (capsets VIRGL and VIRGL2): OpenGL in the guest through Mesa's "
		 "virgl driver, rendered by virglrenderer in the GPU process (which then loads "
		 "the host's Mesa: `libgl1-mesa-dri`)." },
	{ .name = "render_node", .type = CFG_PATH,
	  .offset = offsetof(struct gpu_config, render_node), .def = "derived",
	  .doc = "The DRM render node virglrenderer's EGL runs on; by default the first "
		 "`/dev/dri/renderD*`, or surfaceless EGL on llvmpipe (software) if there is "
		 "none." },
	{ .name = "wayland_socket", .type = CFG_PATH,
	  .offset = offsetof(struct gpu_config, wayland_socket), .def = "derived",
	  .doc = "The host compositor's socket; by default `$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY` "
		 "of the VMM when it runs as `user`, else `/run/user/<uid>/wayland-0`." },
	{ .name = "host_visible_size", .type = CFG_SIZE,
	  .offset = offsetof(struct gpu_config, host_visible_size), .def = "8G",
	  .min = 64ull << 20, .max = 32ull << 30, .check = power_of_two,
	  .doc = "The host-visible memory window (a 64-bit BAR) the guest maps host buffers "
		 "through: a power of two, `\"64M\"` to `\"32G\"`." },
	{ .name = "allow_wx", .type = CFG_BOOL, .offset = offsetof(struct gpu_config, allow_wx),
	  .def = "false",
	  .doc = "Let the GPU process make memory writable and executable (drivers with a JIT)." },
	{ .name = "displays", .type = CFG_UINT, .offset = offsetof(struct gpu_config, displays),
	  .def = "1", .min = 1, .max = GPU_MAX_SCANOUTS,
	  .doc = "Scanouts, each `width` x `height`." },
	{ .name = "width", .type = CFG_UINT, .offset = offsetof(struct gpu_config, width),
	  .def = "1280", .min = 32, .max = GPU_MAX_MODE, .doc = "Each scanout's width in pixels." },
	{ .name = "height", .type = CFG_UINT, .offset = offsetof(struct gpu_config, height),
	  .def = "800", .min = 32, .max = GPU_MAX_MODE, .doc = "Each scanout's height in pixels." },
	{ .name = NULL },
};

const struct device_kind gpu_kind = {
	.section = "gpu", .prefix = "gpu", .max = 1,
	.config_size = sizeof(struct gpu_config), .keys = gpu_keys,
	.doc = "virtio-gpu: Wayland windows of the guest on the host compositor (cross-domain), "
	       "2D scanouts, blobs in a host-visible window",
	.create = gpu_create, .policy = &gpu_policy,
};
