/*
 * vmsilo-wl-test's client code (tests/guest/wlt_*.c, wl_client.c) on the
 * host, its device replaced by fake_xd.c, which relays to the compositor
 * on $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY: test_wl_client.sh runs it against
 * Weston headless and against fake_compositor.
 *
 *   test_wl_client client|fds [SECONDS [FRAMES]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/guest/wlt.h"

int main(int argc, char **argv)
{
	struct wlt_opts o = {
		.node = "fake", .width = 200, .height = 120, .title = "test_wl_client",
		.init_size = CROSS_DOMAIN_INIT_SIZE_V1, .seconds = argc > 2 ? atoi(argv[2]) : 0,
		.frames = argc > 3 ? atoi(argv[3]) : 0,
	};
	int status;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || (strcmp(argv[1], "client") && strcmp(argv[1], "fds"))) {
		fprintf(stderr, "usage: test_wl_client client|fds [SECONDS [FRAMES]]\n");
		return 1;
	}
	o.mode = argv[1];
	status = !strcmp(o.mode, "client") ? wlt_client(&o) : wlt_fds(&o);
	printf("VMSILO exit=%d\n", status);
	return status;
}
