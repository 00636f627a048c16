/*
 * vm-stop: ask a VM's guest to power off (the ACPI power button, through
 * its control.socket) and wait for the VMM to exit; stop it hard when the
 * guest has not powered off within the timeout.
 *
 *   vm-stop [--runtime-dir DIR] [--timeout S] NAME
 *
 * Exit status: 0 the guest powered off, 2 it did not and was stopped hard,
 * 1 anything else (not running, not allowed, bad arguments).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-tools/control_client.h"
#include "host-tools/vm_socket.h"

#define DEFAULT_TIMEOUT_S 30
#define HARD_STOP_WAIT_MS 10000
#define REPLY_TIMEOUT_MS 10000
#define EXIT_STOPPED_HARD 2

struct options {
	const char *runtime_dir;
	const char *name;
	long timeout;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vm-stop [--runtime-dir DIR] [--timeout S] NAME\n"
		"Presses the power button of the VM NAME and waits for it to power off;\n"
		"after S seconds (default %d) it stops the VM hard.\n"
		"  --runtime-dir DIR  where the VMs' sockets are (default %s)\n"
		"  --timeout S        seconds the guest gets to power off (0: stop at once)\n"
		"Exit status: 0 powered off, 2 stopped hard after the timeout, 1 error.\n",
		DEFAULT_TIMEOUT_S, VMSILO_DEFAULT_RUNTIME_DIR);
}

static long parse_seconds(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 24 * 3600) {
		fprintf(stderr, "vm-stop: --timeout: expected seconds (0..86400), got \"%s\"\n", s);
		exit(1);
	}
	return v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	int i;

	*o = (struct options){ .runtime_dir = VMSILO_DEFAULT_RUNTIME_DIR, .timeout = DEFAULT_TIMEOUT_S };
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--runtime-dir") && i + 1 < argc)
			o->runtime_dir = argv[++i];
		else if (!strncmp(a, "--runtime-dir=", 14))
			o->runtime_dir = a + 14;
		else if (!strcmp(a, "--timeout") && i + 1 < argc)
			o->timeout = parse_seconds(argv[++i]);
		else if (!strncmp(a, "--timeout=", 10))
			o->timeout = parse_seconds(a + 10);
		else if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			usage(stdout), exit(0);
		else
			usage(stderr), exit(1);
	}
	if (i + 1 != argc) {
		usage(stderr);
		exit(1);
	}
	o->name = argv[i];
	if (!vm_name_valid(o->name)) {
		fprintf(stderr, "vm-stop: \"%s\" is not a VM name ([A-Za-z0-9_.-], 1..64 chars)\n",
			o->name);
		exit(1);
	}
	if (!vm_runtime_dir_valid(o->runtime_dir)) {
		fprintf(stderr, "vm-stop: --runtime-dir must be an absolute path, got \"%s\"\n",
			o->runtime_dir);
		exit(1);
	}
}

static void connect_or_die(struct ctl_conn *c, const struct options *o)
{
	if (!ctl_connect(c, o->runtime_dir, o->name))
		return;
	if (errno == ENOENT || errno == ECONNREFUSED)
		fprintf(stderr, "vm-stop: %s is not running (nothing answers on %s)\n", o->name, c->path);
	else if (errno == EPERM)
		fprintf(stderr, "vm-stop: refusing %s: not the VM's socket (a link, or someone "
			"else's)\n", c->path);
	else
		fprintf(stderr, "vm-stop: %s: %s\n", c->path, strerror(errno));
	exit(1);
}

/* Sends command; a refusal or a lost connection ends vm-stop. */
static void request_or_die(struct ctl_conn *c, const struct options *o, const char *command)
{
	struct json_object reply;
	int rc = ctl_request(c, command, &reply, REPLY_TIMEOUT_MS);
	const char *error;

	if (rc == 1)
		return;
	if (rc == 0) {
		error = json_get_string(&reply, "error");
		fprintf(stderr, "vm-stop: %s: %s\n", o->name, error ? error : "refused");
	} else if (errno == ECONNRESET || errno == EPIPE) {
		printf("vm-stop: %s exited on its own\n", o->name);
		exit(0);
	} else {
		fprintf(stderr, "vm-stop: %s: no answer to %s: %s\n", o->name, command, strerror(errno));
	}
	exit(1);
}

int main(int argc, char **argv)
{
	struct options o;
	struct ctl_conn c;

	parse_options(argc, argv, &o);
	connect_or_die(&c, &o);
	if (o.timeout > 0) {
		request_or_die(&c, &o, "powerbutton");
		if (!ctl_wait_closed(&c, (int)(o.timeout * 1000))) {
			printf("vm-stop: %s powered off\n", o.name);
			return 0;
		}
	}
	request_or_die(&c, &o, "stop");
	if (ctl_wait_closed(&c, HARD_STOP_WAIT_MS)) {
		fprintf(stderr, "vm-stop: %s was told to stop but its VMM is still running after %d s\n",
			o.name, HARD_STOP_WAIT_MS / 1000);
		return 1;
	}
	if (o.timeout > 0)
		printf("vm-stop: %s did not power off within %ld s; stopped it hard\n", o.name, o.timeout);
	else
		printf("vm-stop: %s stopped hard\n", o.name);
	return EXIT_STOPPED_HARD;
}
