/*
 * GPU_CMD_SCREENSHOT: what a scanout shows (its rect of the resource's
 * host copy, as TRANSFER_TO_HOST_2D left it) as a binary PPM (P6) in the
 * working directory, the VM's runtime directory in the jail. Written to
 * a temporary name and renamed, so a reader never sees half a file; no
 * symlink is followed. The VMM waits for this: one pass, large writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/gpu_internal.h"
#include "vmm/log.h"

#define CHUNK (256u * 1024)

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_pixels(int fd, const struct gpu_resource *res, const struct gpu_rect *r)
{
	uint8_t rgb[3], *buf = malloc(CHUNK);
	size_t used = 0;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	gpu_format_rgb(res->format, rgb);
	for (uint32_t y = 0; y < r->height && !rc; y++) {
		const uint8_t *px = res->pixels + (uint64_t)(r->y + y) * res->stride + (uint64_t)r->x * 4;

		for (uint32_t x = 0; x < r->width && !rc; x++, px += 4) {
			if (used + 3 > CHUNK) {
				rc = write_all(fd, buf, used);
				used = 0;
			}
			buf[used++] = px[rgb[0]];
			buf[used++] = px[rgb[1]];
			buf[used++] = px[rgb[2]];
		}
	}
	if (!rc)
		rc = write_all(fd, buf, used);
	free(buf);
	return rc;
}

static int write_ppm(const char *path, const struct gpu_resource *res, const struct gpu_rect *r)
{
	char head[64];
	int n = snprintf(head, sizeof(head), "P6\n%u %u\n255\n", r->width, r->height);
	int fd = openat(AT_FDCWD, path, GPU_SCREENSHOT_OPEN_FLAGS, 0600), rc;

	if (fd < 0)
		return -errno;
	rc = write_all(fd, (const uint8_t *)head, (size_t)n);
	if (!rc)
		rc = write_pixels(fd, res, r);
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

int gpu_screenshot(struct gpu *g, uint32_t scanout, struct gpu_cmd_reply *reply)
{
	char name[64], tmp[72];
	struct gpu_resource *res;
	const struct gpu_scanout *s;
	int rc;

	if (scanout >= g->cfg.displays)
		return -EINVAL;
	s = &g->scanouts[scanout];
	res = s->resource_id ? gpu_res_find(g, s->resource_id) : NULL;
	if (!res || !res->pixels)
		return -ENOENT;
	snprintf(name, sizeof(name), GPU_SCREENSHOT_FMT, g->dev->name, scanout);
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	rc = write_ppm(tmp, res, &s->r);
	if (!rc && renameat(AT_FDCWD, tmp, AT_FDCWD, name))
		rc = -errno;
	if (rc) {
		log_ratelimited(LOG_WARN, "%s: screenshot %s: %s", g->dev->name, name, strerror(-rc));
		return rc;
	}
	reply->width = s->r.width;
	reply->height = s->r.height;
	return 0;
}
