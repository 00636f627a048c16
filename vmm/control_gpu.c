/*
 * The control socket's screenshot command: the GPU device writes a
 * scanout's image as a PPM in the runtime directory (GPU_CMD_SCREENSHOT,
 * devices/gpu.h) and the reply says where and how big. The device answers
 * on its control ring within link_child's call limit (2 s; a device that
 * misses it is killed), on the main loop's thread: no vCPU waits for it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "devices/gpu.h"
#include "vmm/control_internal.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define GPU_DEVICE "gpu0"	/* [gpu] is a plain table: one instance */

static struct vm_device *find_gpu(struct vm *vm)
{
	for (unsigned i = 0; vm && i < vm->nr_devices; i++)
		if (!strcmp(vm->devices[i]->name, GPU_DEVICE) && vm->devices[i]->link)
			return vm->devices[i];
	return NULL;
}

static size_t reply_shot(struct vm *vm, const struct vm_device *d, unsigned scanout,
			 const struct gpu_cmd_reply *r, char *buf, size_t size)
{
	char name[64], path[PATH_MAX + 64];
	const char *dir = vm->host && vm->host->rundir ? vm->host->rundir->path : ".";
	struct json_writer w;
	int len;

	snprintf(name, sizeof(name), GPU_SCREENSHOT_FMT, d->name, scanout);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	control_reply_start(&w, buf, size, true);
	json_add_string(&w, "path", path);
	json_add_int(&w, "width", r->width);
	json_add_int(&w, "height", r->height);
	len = json_finish(&w);
	return len < 0 ? control_reply_error(buf, size, "internal error: reply does not fit")
		       : (size_t)len;
}

static size_t shot_failed(const struct vm_device *d, unsigned scanout, int rc, char *buf,
			  size_t size)
{
	if (rc == -ENOENT)
		return control_reply_error(buf, size, "screenshot: scanout %u shows nothing "
					   "(disabled, or no resource set)", scanout);
	if (rc == -EPIPE)
		return control_reply_error(buf, size, "screenshot: %s is not running (its process "
					   "died or was stopped; see the log)", d->name);
	if (rc == -EINVAL)
		return control_reply_error(buf, size, "screenshot: %s has no scanout %u",
					   d->name, scanout);
	return control_reply_error(buf, size, "screenshot: %s refused: %s", d->name,
				   strerror(rc < 0 ? -rc : EIO));
}

size_t control_gpu(struct control *ctl, const struct json_object *req, uid_t uid, char *buf,
		   size_t size)
{
	struct vm_device *d = find_gpu(ctl->vm);
	struct gpu_cmd cmd = { .op = GPU_CMD_SCREENSHOT };
	struct gpu_cmd_reply r = { 0 };
	unsigned len = sizeof(r);
	int64_t scanout = 0;
	int rc;

	if (!d)
		return control_reply_error(buf, size, "this VM has no GPU (add [gpu])");
	if (json_get(req, "scanout") && (!json_get_int(req, "scanout", &scanout) ||
					 scanout < 0 || scanout >= GPU_MAX_SCANOUTS))
		return control_reply_error(buf, size, "\"scanout\" is an integer, 0..%d",
					   GPU_MAX_SCANOUTS - 1);
	cmd.scanout = (uint32_t)scanout;
	log_ratelimited(LOG_INFO, "control socket: screenshot of %s scanout %u by uid %u",
			d->name, cmd.scanout, (unsigned)uid);
	rc = vdev_link_command(d->link, &cmd, sizeof(cmd), &r, &len);
	if (rc)
		return shot_failed(d, cmd.scanout, rc, buf, size);
	if (len != sizeof(r) || !r.width || !r.height || r.width > GPU_MAX_WIDTH ||
	    r.height > GPU_MAX_HEIGHT) {
		log_ratelimited(LOG_WARN, "%s: malformed screenshot reply (%u bytes, %ux%u)",
				d->name, len, r.width, r.height);
		return control_reply_error(buf, size, "screenshot: %s sent a malformed reply",
					   d->name);
	}
	return reply_shot(ctl->vm, d, cmd.scanout, &r, buf, size);
}
