/*
 * vmsilo-wl-test: a Wayland client in a guest that reaches the host's
 * compositor the way wayland-proxy-virtwl does, through virtio-gpu's
 * cross-domain context (capset 5) and the virtio_gpu DRM ioctls, with no
 * libwayland and no libdrm.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest-agent/wayland/virtgpu_uapi.h"
#include "wlt.h"

#define DEFAULT_WIDTH	200
#define DEFAULT_HEIGHT	120
#define DEFAULT_SECONDS	30
#define MAX_SIDE	16384
#define MAX_SECONDS	86400
#define MAX_FRAMES	1000000

static const char usage_text[] =
"usage: vmsilo-wl-test MODE [OPTION]...\n"
"\n"
"Modes (each prints VMSILO lines on stdout):\n"
"  client   an xdg toplevel showing 4 vertical bands, left to right red,\n"
"           green, blue, white (XRGB8888), in a host blob. Prints each\n"
"           global as \"wl-global=IFACE vN\", then wl-globals-done,\n"
"           wl-configure=W H, wl-image stride=.. size=.., wl-frame-done=1;\n"
"           stays mapped for --seconds or until stdin (a pipe, socket or\n"
"           terminal; not /dev/null) closes, then wl-client-done\n"
"  fds      against a compositor with wl_seat (keyboard) and\n"
"           wl_data_device_manager: keymap-size=N keymap-sum=FNV,\n"
"           clip-sent=N (ours, on wl_data_source.send),\n"
"           clip-received=N clip-sum=FNV (its selection), then fds-done;\n"
"           --seconds is the time limit\n"
"  hostile  malformed cross-domain commands, one hostile-NAME=ok|ERRNO\n"
"           line each (ok: the guest kernel took it), NAME one of\n"
"           cmd-size-0 cmd-size-7 cmd-size-oversized image-req-flood\n"
"           send-unknown-id send-29-ids send-foreign-resource\n"
"           init-unattached-ring read-pipe-wrong-id write-unknown-id;\n"
"           then the client flow (--seconds default 0) and\n"
"           hostile-client=ok|failed; exit 0 only if that worked\n"
"\n"
"Options:\n"
"  --width W, --height H   the buffer (default 200x120)\n"
"  --seconds S             see the modes (default 30)\n"
"  --frames N              client: after the first frame, N more, each\n"
"                          redrawn in full (two buffers), damaged whole,\n"
"                          committed and its frame callback waited for;\n"
"                          then \"bench fps=F ms-per-frame=L frames=N\"\n"
"                          (L: commit to frame callback); --seconds 0\n"
"  --title T               the toplevel's title (default vmsilo-wl-test)\n"
"  --init-size 16|20|36    INIT's size (default 20); with 16 the query ring\n"
"                          is the channel ring too, as that layout has it\n"
"  --device PATH           the DRM node (default: the first /dev/dri node,\n"
"                          render nodes first, whose driver is virtio_gpu)\n"
"\n"
"First lines: drm-node=PATH, virtgpu 3d=.. blob=.. host-visible=..,\n"
"capset5 version=.. channels=..; last line: exit=STATUS.\n"
"FNV is FNV-1a 32-bit, 8 hex digits. Exit status: 0 ok, 1 usage,\n"
"2 protocol error (wl_display.error, a timeout, a bad reply), 3 no\n"
"cross-domain capset, 4 DRM error (\"VMSILO drm-error ioctl=.. errno=..\").\n";

static _Noreturn void usage(const char *why)
{
	if (why)
		fprintf(stderr, "vmsilo-wl-test: %s\n", why);
	fputs(usage_text, stderr);
	exit(WLT_USAGE);
}

static long number(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "vmsilo-wl-test: %s: expected %ld..%ld, got \"%s\"\n", what, min,
			max, s);
		exit(WLT_USAGE);
	}
	return v;
}

static void parse(int argc, char **argv, struct wlt_opts *o)
{
	o->seconds = -1;
	o->width = DEFAULT_WIDTH;
	o->height = DEFAULT_HEIGHT;
	o->title = "vmsilo-wl-test";
	o->init_size = CROSS_DOMAIN_INIT_SIZE_V1;
	if (argc < 2)
		usage(NULL);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, stdout);
		exit(WLT_OK);
	}
	o->mode = argv[1];
	for (int i = 2; i < argc; i += 2) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			usage("an option lacks its value");
		if (!strcmp(opt, "--width"))
			o->width = (uint32_t)number(val, 1, MAX_SIDE, opt);
		else if (!strcmp(opt, "--height"))
			o->height = (uint32_t)number(val, 1, MAX_SIDE, opt);
		else if (!strcmp(opt, "--seconds"))
			o->seconds = (int)number(val, 0, MAX_SECONDS, opt);
		else if (!strcmp(opt, "--frames"))
			o->frames = (int)number(val, 1, MAX_FRAMES, opt);
		else if (!strcmp(opt, "--title"))
			o->title = val;
		else if (!strcmp(opt, "--device"))
			o->node = val;
		else if (!strcmp(opt, "--init-size"))
			o->init_size = (unsigned)number(val, 16, 36, opt);
		else
			usage("unknown option");
	}
	if (o->init_size != CROSS_DOMAIN_INIT_SIZE_LEGACY &&
	    o->init_size != CROSS_DOMAIN_INIT_SIZE_V1 && o->init_size != CROSS_DOMAIN_INIT_SIZE)
		usage("--init-size is 16, 20 or 36");
	if (o->seconds < 0)
		o->seconds = strcmp(o->mode, "hostile") && !o->frames ? DEFAULT_SECONDS : 0;
}

static int param(int fd, uint64_t which)
{
	int value = -1;
	struct vgpu_getparam p = { .param = which, .value = (uint64_t)(uintptr_t)&value };

	ioctl(fd, VGPU_IOCTL_GETPARAM, &p);
	return value;
}

/* The device's features and capset 5: a WLT_* status. */
static int check_device(const char *node)
{
	struct cross_domain_capabilities caps = { 0 };
	int fd = open(node, O_RDWR | O_CLOEXEC);
	int rc;

	if (fd < 0) {
		printf("VMSILO drm-error open %s: %s\n", node, strerror(errno));
		return WLT_DRM;
	}
	printf("VMSILO virtgpu 3d=%d blob=%d host-visible=%d context-init=%d capsets=%#x\n",
	       param(fd, VGPU_PARAM_3D_FEATURES), param(fd, VGPU_PARAM_RESOURCE_BLOB),
	       param(fd, VGPU_PARAM_HOST_VISIBLE), param(fd, VGPU_PARAM_CONTEXT_INIT),
	       param(fd, VGPU_PARAM_SUPPORTED_CAPSET_IDS));
	rc = vgpu_get_caps(fd, CROSS_DOMAIN_CAPSET_ID, &caps, sizeof(caps));
	close(fd);
	if (rc == -EINVAL || rc == -ENOSYS) {
		printf("VMSILO no cross-domain capset\n");
		return WLT_NO_CROSS_DOMAIN;
	}
	if (rc)
		return WLT_DRM;
	printf("VMSILO capset5 version=%u channels=%#x dmabuf=%u external-memory=%u\n",
	       caps.version, caps.supported_channels, caps.supports_dmabuf,
	       caps.supports_external_gpu_memory);
	if (!(caps.supported_channels & 1u << CROSS_DOMAIN_CHANNEL_WAYLAND)) {
		printf("VMSILO no cross-domain capset: no Wayland channel\n");
		return WLT_NO_CROSS_DOMAIN;
	}
	return WLT_OK;
}

int main(int argc, char **argv)
{
	static char node[256];
	struct wlt_opts o = { 0 };
	int (*run)(const struct wlt_opts *);
	int status;

	parse(argc, argv, &o);
	run = !strcmp(o.mode, "client") ? wlt_client :
	      !strcmp(o.mode, "fds") ? wlt_fds :
	      !strcmp(o.mode, "hostile") ? wlt_hostile : NULL;
	if (!run)
		usage("unknown mode");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!o.node) {
		if (vgpu_find_node(node, sizeof(node)))
			return WLT_DRM;
		o.node = node;
	}
	printf("VMSILO drm-node=%s\n", o.node);
	status = check_device(o.node);
	if (status == WLT_OK)
		status = run(&o);
	printf("VMSILO exit=%d\n", status);
	return status;
}
