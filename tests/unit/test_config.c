/* Unit tests for the config schema: defaults, keys, paths and every error. */
#include "vmm/config.h"
#include "vmm/toml.h"
#include "devices/balloon.h"
#include "devices/blk.h"
#include "devices/net.h"
#include "devices/rng.h"
#include "devices/vsock_device.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_DOC "name = \"banking\"\nkernel = \"/boot/vmlinuz\"\n"

static int cases;

/* The index'th instance of kind; a missing one fails and reads as zeros. */
static const struct config_device *instance(const struct vm_config *cfg,
					    const struct device_kind *kind, unsigned index)
{
	static const uint64_t zeros[16];
	static const struct config_device none = { .cfg = (void *)zeros };
	const struct config_device *d = config_instance(cfg, kind, index);

	CHECK(d != NULL);
	return d ? d : &none;
}

static const struct disk_config *disk(const struct vm_config *cfg, unsigned index)
{
	return instance(cfg, &blk_kind, index)->cfg;
}

static const struct net_config *net(const struct vm_config *cfg, unsigned index)
{
	return instance(cfg, &net_kind, index)->cfg;
}

/* Runs config_parse with stderr captured into out. */
static int parse_quiet(const char *source, const char *doc, size_t len,
		       struct vm_config *cfg, char *err, size_t errlen,
		       char *out, size_t outlen)
{
	FILE *f = tmpfile();
	int saved, ret;
	size_t n = 0;

	fflush(stderr);
	saved = dup(2);
	if (f)
		dup2(fileno(f), 2);
	ret = config_parse(source, doc, len, cfg, err, errlen);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (f) {
		rewind(f);
		n = fread(out, 1, outlen - 1, f);
		fclose(f);
	}
	out[n] = '\0';
	return ret;
}

static int parse(const char *source, const char *doc, struct vm_config *cfg)
{
	char err[512], out[4096];
	int ret;

	cases++;
	ret = parse_quiet(source, doc, strlen(doc), cfg, err, sizeof(err), out, sizeof(out));
	if (ret)
		fprintf(stderr, "unexpected errors:\n%s  input: %s\n", out, doc);
	CHECK_EQ(ret, 0);
	return ret;
}

/*
 * doc (in banking.toml) must fail with exactly the lines in want, the
 * first of which must also be in err.
 */
static void check_errors(int srcline, const char *doc, const char *want)
{
	char err[512], out[4096], first[512];
	struct vm_config cfg;
	int ret;

	cases++;
	ret = parse_quiet("banking.toml", doc, strlen(doc), &cfg, err, sizeof(err),
			  out, sizeof(out));
	CHECK_EQ(ret, -1);
	if (strcmp(out, want))
		fprintf(stderr, "test_config.c:%d: input: %s\n", srcline, doc);
	CHECK_STR(out, want);
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(want, "\n"), want);
	CHECK_STR(err, first);
	/* A failed parse leaves nothing to free. */
	CHECK(cfg.source == NULL && cfg.name == NULL && cfg.cmdline == NULL);
	config_free(&cfg);
}

#define BAD(doc, want) check_errors(__LINE__, doc, want "\n")

static void test_defaults(void)
{
	struct vm_config cfg;

	if (parse("banking.toml", MIN_DOC, &cfg))
		return;
	CHECK_STR(cfg.source, "banking.toml");
	CHECK_STR(cfg.name, "banking");
	CHECK_EQ(cfg.memory_mib, 512);
	CHECK_EQ(cfg.cpus, 1);
	CHECK_STR(cfg.kernel, "/boot/vmlinuz");
	CHECK(cfg.initramfs == NULL);
	CHECK_STR(cfg.cmdline, "console=ttyS0");
	CHECK_EQ(cfg.nr_kernel_params, 0);
	CHECK_STR(cfg.runtime_dir, "/run/vmsilo");
	CHECK_EQ(cfg.on_reboot, REBOOT_EXIT);
	CHECK_EQ(cfg.log_level, LOG_WARN);
	CHECK(!cfg.log_level_set);
	CHECK_EQ(cfg.console.mode, CONSOLE_STDOUT);
	CHECK(cfg.console.path == NULL);
	config_free(&cfg);
	CHECK(cfg.source == NULL && cfg.name == NULL && cfg.kernel_params == NULL);
	config_free(&cfg);	/* twice is harmless */
}

static void test_all_keys(void)
{
	static const char doc[] =
		"name = \"bank-ing_1.0\"\n"
		"memory = 2048\n"
		"cpus = 4\n"
		"kernel = \"/vm/bzImage\"\n"
		"initramfs = \"/vm/initrd.img\"\n"
		"cmdline = \"console=hvc0 quiet\"\n"
		"kernel_params = [\"root=/dev/vda\", 'ro',\n  \"init=/sbin/init\"]\n"
		"runtime_dir = \"/tmp/vmsilo\"\n"
		"reboot = \"restart\"\n"
		"log_level = \"debug\"\n"
		"[console]\n"
		"mode = \"file\"\n"
		"path = \"/var/log/bank.log\"\n";
	struct vm_config cfg;
	char *cmdline;

	if (parse("/etc/vmsilo/bank.toml", doc, &cfg))
		return;
	CHECK_STR(cfg.source, "/etc/vmsilo/bank.toml");
	CHECK_STR(cfg.name, "bank-ing_1.0");
	CHECK_EQ(cfg.memory_mib, 2048);
	CHECK_EQ(cfg.cpus, 4);
	CHECK_STR(cfg.kernel, "/vm/bzImage");
	CHECK_STR(cfg.initramfs, "/vm/initrd.img");
	CHECK_STR(cfg.cmdline, "console=hvc0 quiet");
	CHECK_EQ(cfg.nr_kernel_params, 3);
	if (cfg.nr_kernel_params == 3) {
		CHECK_STR(cfg.kernel_params[0], "root=/dev/vda");
		CHECK_STR(cfg.kernel_params[1], "ro");
		CHECK_STR(cfg.kernel_params[2], "init=/sbin/init");
	}
	CHECK_STR(cfg.runtime_dir, "/tmp/vmsilo");
	CHECK_EQ(cfg.on_reboot, REBOOT_RESTART);
	CHECK_EQ(cfg.log_level, LOG_DEBUG);
	CHECK(cfg.log_level_set);
	CHECK_EQ(cfg.console.mode, CONSOLE_FILE);
	CHECK_STR(cfg.console.path, "/var/log/bank.log");
	cmdline = config_kernel_cmdline(&cfg);
	CHECK_STR(cmdline, "console=hvc0 quiet root=/dev/vda ro init=/sbin/init");
	free(cmdline);
	config_free(&cfg);
}

static void test_choices(void)
{
	static const struct { const char *doc; int mode; } modes[] = {
		{ "[console]\nmode = \"stdout\"", CONSOLE_STDOUT },
		{ "[console]\nmode = \"pty\"", CONSOLE_PTY },
		{ "[console]\nmode = \"none\"", CONSOLE_NONE },
		{ "console.mode = 'pty'", CONSOLE_PTY },
		{ "console = { mode = \"file\", path = \"c.log\" }", CONSOLE_FILE },
		{ "[console]", CONSOLE_STDOUT },
	};
	static const char *const levels[] = { "error", "warn", "info", "debug", "trace" };
	struct vm_config cfg;
	char doc[256];
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(doc, sizeof(doc), MIN_DOC "%s\n", modes[i].doc);
		if (!parse("banking.toml", doc, &cfg))
			CHECK_EQ(cfg.console.mode, modes[i].mode);
		config_free(&cfg);
	}
	for (i = 0; i < 5; i++) {
		snprintf(doc, sizeof(doc), MIN_DOC "log_level = \"%s\"\n", levels[i]);
		if (!parse("banking.toml", doc, &cfg))
			CHECK(cfg.log_level == (enum log_level)i && cfg.log_level_set);
		config_free(&cfg);
	}
	if (!parse("banking.toml", MIN_DOC "reboot = \"exit\"", &cfg))
		CHECK_EQ(cfg.on_reboot, REBOOT_EXIT);
	config_free(&cfg);
}

static void test_limits(void)
{
	struct vm_config cfg;

	if (!parse("b.toml", MIN_DOC "memory = 64\ncpus = 64", &cfg)) {
		CHECK_EQ(cfg.memory_mib, 64);
		CHECK_EQ(cfg.cpus, 64);
	}
	config_free(&cfg);
	if (!parse("b.toml", MIN_DOC "memory = 1_048_576\ncpus = 1", &cfg))
		CHECK_EQ(cfg.memory_mib, 1048576);
	config_free(&cfg);
	if (!parse("b.toml", "name = \"a234567890123456789012345678901234567890123456789012345678901234\"\n"
		   "kernel = \"k\"", &cfg))
		CHECK_EQ(strlen(cfg.name), 64);
	config_free(&cfg);
	if (!parse("b.toml", "name = \"x\"\nkernel = \"k\"", &cfg))
		CHECK_STR(cfg.name, "x");
	config_free(&cfg);
}

static void check_paths(const char *source, const char *kernel, const char *want_kernel,
			const char *want_initrd, const char *want_console)
{
	struct vm_config cfg;
	char doc[512];

	snprintf(doc, sizeof(doc), "name = \"x\"\nkernel = \"%s\"\ninitramfs = '../initrd.img'\n"
		 "console.mode = \"file\"\nconsole.path = \"logs/console.log\"\n", kernel);
	if (parse(source, doc, &cfg))
		return;
	CHECK_STR(cfg.kernel, want_kernel);
	CHECK_STR(cfg.initramfs, want_initrd);
	CHECK_STR(cfg.console.path, want_console);
	config_free(&cfg);
}

static void test_relative_paths(void)
{
	check_paths("/etc/vmsilo/banking.toml", "vmlinuz", "/etc/vmsilo/vmlinuz",
		    "/etc/vmsilo/../initrd.img", "/etc/vmsilo/logs/console.log");
	check_paths("/etc/vmsilo/banking.toml", "/boot/vmlinuz", "/boot/vmlinuz",
		    "/etc/vmsilo/../initrd.img", "/etc/vmsilo/logs/console.log");
	check_paths("vms/banking.toml", "images/vmlinuz", "vms/images/vmlinuz",
		    "vms/../initrd.img", "vms/logs/console.log");
	check_paths("banking.toml", "vmlinuz", "vmlinuz", "../initrd.img", "logs/console.log");
	check_paths("/banking.toml", "vmlinuz", "/vmlinuz", "/../initrd.img", "/logs/console.log");
}

static void check_cmdline(const char *doc, const char *want)
{
	struct vm_config cfg;
	char *s;

	if (!parse("b.toml", doc, &cfg)) {
		s = config_kernel_cmdline(&cfg);
		CHECK_STR(s, want);
		free(s);
	}
	config_free(&cfg);
}

static void test_kernel_cmdline(void)
{
	check_cmdline(MIN_DOC, "console=ttyS0");
	check_cmdline(MIN_DOC "cmdline = \"\"\nkernel_params = [\"a=1\", \"b\"]", "a=1 b");
	check_cmdline(MIN_DOC "cmdline = \"\"\nkernel_params = []", "");
	check_cmdline(MIN_DOC "kernel_params = [\"quiet\"]", "console=ttyS0 quiet");
}

static void test_syntax_errors(void)
{
	BAD(MIN_DOC "memory = 1024\n\n\n\ncpus 2", "banking.toml:7:6: expected '=' after key");
	BAD(MIN_DOC "memory = 1.5", "banking.toml:3:10: floats are not supported");
	BAD(MIN_DOC "memory = 1\nmemory = 2", "banking.toml:4:1: duplicate key \"memory\"");
	/* Syntax errors stop parsing: no schema errors follow. */
	BAD("memroy = 1\nx = \"abc", "banking.toml:2:5: unterminated string");
}

static void test_type_errors(void)
{
	BAD(MIN_DOC "\n\n\n\n\n\n\n\n\n    memory = \"1024\"",
	    "banking.toml:12:14: memory: expected an integer, got a string");
	BAD("name = 1\nkernel = \"k\"", "banking.toml:1:8: name: expected a string, got an integer");
	BAD(MIN_DOC "cpus = true", "banking.toml:3:8: cpus: expected an integer, got a boolean");
	BAD("name = 'x'\nkernel = []", "banking.toml:2:10: kernel: expected a string, got an array");
	BAD(MIN_DOC "initramfs = {}", "banking.toml:3:13: initramfs: expected a string, got a table");
	BAD(MIN_DOC "cmdline = 1", "banking.toml:3:11: cmdline: expected a string, got an integer");
	BAD(MIN_DOC "kernel_params = \"quiet\"",
	    "banking.toml:3:17: kernel_params: expected an array of strings, got a string");
	BAD(MIN_DOC "kernel_params = [\"a\", 1, \"\"]",
	    "banking.toml:3:23: kernel_params[1]: expected a string, got an integer\n"
	    "banking.toml:3:26: kernel_params[2]: must not be empty");
	BAD(MIN_DOC "runtime_dir = false",
	    "banking.toml:3:15: runtime_dir: expected a string, got a boolean");
	BAD(MIN_DOC "reboot = 0", "banking.toml:3:10: reboot: expected a string, got an integer");
	BAD(MIN_DOC "log_level = 3", "banking.toml:3:13: log_level: expected a string, got an integer");
	BAD(MIN_DOC "console = \"pty\"", "banking.toml:3:11: console: expected a table, got a string");
	BAD(MIN_DOC "[console]\nmode = 1", "banking.toml:4:8: console.mode: expected a string, got an integer");
	BAD(MIN_DOC "[console]\nmode = 'file'\npath = 2",
	    "banking.toml:5:8: console.path: expected a string, got an integer");
	BAD(MIN_DOC "[memory]", "banking.toml:3:1: memory: expected an integer, got a table");
}

static void test_value_errors(void)
{
	BAD(MIN_DOC "cpus = 0", "banking.toml:3:8: cpus: must be between 1 and 64, got 0");
	BAD(MIN_DOC "cpus = 65", "banking.toml:3:8: cpus: must be between 1 and 64, got 65");
	BAD(MIN_DOC "memory = 63", "banking.toml:3:10: memory: must be between 64 and 1048576, got 63");
	BAD(MIN_DOC "memory = -1", "banking.toml:3:10: memory: must be between 64 and 1048576, got -1");
	BAD(MIN_DOC "memory = 1048577",
	    "banking.toml:3:10: memory: must be between 64 and 1048576, got 1048577");
	BAD(MIN_DOC "memory = 9223372036854775807",
	    "banking.toml:3:10: memory: must be between 64 and 1048576, got 9223372036854775807");
	BAD("name = \"\"\nkernel = \"k\"", "banking.toml:1:8: name: must be 1 to 64 characters long, got 0");
	BAD("name = \"a2345678901234567890123456789012345678901234567890123456789012345\"\nkernel = \"k\"",
	    "banking.toml:1:8: name: must be 1 to 64 characters long, got 65");
	BAD("name = \"my vm\"\nkernel = \"k\"",
	    "banking.toml:1:8: name: may only contain letters, digits, '_', '.' and '-', got \"my vm\"");
	BAD("name = \"a/b\"\nkernel = \"k\"",
	    "banking.toml:1:8: name: may only contain letters, digits, '_', '.' and '-', got \"a/b\"");
	BAD("name = \"tab\\t\\\"q\\\"\\u00e9\"\nkernel = \"k\"",
	    "banking.toml:1:8: name: may only contain letters, digits, '_', '.' and '-', "
	    "got \"tab\\x09\\\"q\\\"\xc3\xa9\"");
	BAD("name = \"..\"\nkernel = \"k\"", "banking.toml:1:8: name: must not be \".\" or \"..\"");
	BAD("name = \".\"\nkernel = \"k\"", "banking.toml:1:8: name: must not be \".\" or \"..\"");
	BAD("name = \"-rf\"\nkernel = \"k\"", "banking.toml:1:8: name: must not start with '-' "
	    "(host tools would take it for an option), got \"-rf\"");
	BAD("name = \"x\"\nkernel = \"\"", "banking.toml:2:10: kernel: must not be empty");
	BAD(MIN_DOC "initramfs = ''", "banking.toml:3:13: initramfs: must not be empty");
	BAD(MIN_DOC "runtime_dir = \"run/vmsilo\"",
	    "banking.toml:3:15: runtime_dir: must be an absolute path, got \"run/vmsilo\"");
	BAD(MIN_DOC "reboot = \"halt\"",
	    "banking.toml:3:10: reboot: expected one of \"exit\", \"restart\", got \"halt\"");
	BAD(MIN_DOC "log_level = \"verbose\"",
	    "banking.toml:3:13: log_level: expected one of \"error\", \"warn\", \"info\", "
	    "\"debug\", \"trace\", got \"verbose\"");
	BAD(MIN_DOC "log_level = \"WARN\"",
	    "banking.toml:3:13: log_level: expected one of \"error\", \"warn\", \"info\", "
	    "\"debug\", \"trace\", got \"WARN\"");
	BAD(MIN_DOC "[console]\nmode = \"serial\"",
	    "banking.toml:4:8: console.mode: expected one of \"stdout\", \"file\", \"pty\", "
	    "\"none\", got \"serial\"");
	/* Long values are shortened in messages. */
	BAD(MIN_DOC "reboot = \"0123456789012345678901234567890123456789abcdef\"",
	    "banking.toml:3:10: reboot: expected one of \"exit\", \"restart\", "
	    "got \"0123456789012345678901234567890123456789...\"");
}

static void test_console_errors(void)
{
	BAD(MIN_DOC "[console]\nmode = \"file\"",
	    "banking.toml:4:8: console.path: required when mode = \"file\"");
	BAD(MIN_DOC "[console]\npath = \"c.log\"",
	    "banking.toml:4:1: console.path: path is only used with mode = \"file\"");
	BAD(MIN_DOC "[console]\nmode = \"pty\"\n  path = \"c.log\"",
	    "banking.toml:5:3: console.path: path is only used with mode = \"file\"");
	BAD(MIN_DOC "console = { path = \"c.log\", mode = \"none\" }",
	    "banking.toml:3:13: console.path: path is only used with mode = \"file\"");
	BAD(MIN_DOC "[console]\nmode = 'file'\npath = ''",
	    "banking.toml:5:8: console.path: must not be empty");
	/* An invalid mode is reported once, not again with the path. */
	BAD(MIN_DOC "[console]\nmode = \"tty\"\npath = \"c.log\"",
	    "banking.toml:4:8: console.mode: expected one of \"stdout\", \"file\", \"pty\", "
	    "\"none\", got \"tty\"");
	BAD(MIN_DOC "[console]\nmdoe = \"pty\"",
	    "banking.toml:4:1: console.mdoe: unknown key (did you mean \"mode\"?)");
	BAD(MIN_DOC "[console]\nbaud = 9600",
	    "banking.toml:4:1: console.baud: unknown key");
}

static void test_missing(void)
{
	BAD("kernel = \"k\"", "banking.toml: name: required key is missing");
	BAD("name = \"x\"", "banking.toml: kernel: required key is missing");
	BAD("", "banking.toml: name: required key is missing\n"
	    "banking.toml: kernel: required key is missing");
	BAD("# only comments\n", "banking.toml: name: required key is missing\n"
	    "banking.toml: kernel: required key is missing");
}

static void test_unknown_keys(void)
{
	BAD(MIN_DOC "memroy = 1024", "banking.toml:3:1: memroy: unknown key (did you mean \"memory\"?)");
	BAD(MIN_DOC "Memory = 1024", "banking.toml:3:1: Memory: unknown key (did you mean \"memory\"?)");
	BAD(MIN_DOC "CPUS = 2", "banking.toml:3:1: CPUS: unknown key (did you mean \"cpus\"?)");
	BAD(MIN_DOC "cpu = 2", "banking.toml:3:1: cpu: unknown key (did you mean \"cpus\"?)");
	BAD(MIN_DOC "kernal_params = []",
	    "banking.toml:3:1: kernal_params: unknown key (did you mean \"kernel_params\"?)");
	BAD(MIN_DOC "initrd = \"i\"", "banking.toml:3:1: initrd: unknown key");
	BAD(MIN_DOC "[consol]", "banking.toml:3:2: consol: unknown key (did you mean \"console\"?)");
	BAD(MIN_DOC "disks = []", "banking.toml:3:1: disks: unknown key (did you mean \"disk\"?)");
	BAD(MIN_DOC "xy = 1", "banking.toml:3:1: xy: unknown key");
	BAD(MIN_DOC "\"odd key\" = 1", "banking.toml:3:1: \"odd key\": unknown key");
	BAD(MIN_DOC "\"new\\nline\" = 1", "banking.toml:3:1: \"new\\x0aline\": unknown key");
	BAD(MIN_DOC "\"\" = 1", "banking.toml:3:1: \"\": unknown key");
	BAD(MIN_DOC "a.b = 1", "banking.toml:3:1: a: unknown key");
}

static void test_not_supported(void)
{
	BAD(MIN_DOC "[gpu]\nopengl = 3", "banking.toml:4:10: gpu.opengl: expected a boolean, got an integer");
	BAD(MIN_DOC "[sound]", "banking.toml:3:2: sound: not supported yet");
	BAD(MIN_DOC "[usb]", "banking.toml:3:2: usb: not supported yet");
	BAD(MIN_DOC "[pci]", "banking.toml:3:2: pci: not supported yet");
}

static void test_many_errors(void)
{
	BAD("memroy = 1024\ncpus = 0\nname = \"my vm\"\n[console]\nmode = \"serial\"\n[sound]",
	    "banking.toml:1:1: memroy: unknown key (did you mean \"memory\"?)\n"
	    "banking.toml:2:8: cpus: must be between 1 and 64, got 0\n"
	    "banking.toml:3:8: name: may only contain letters, digits, '_', '.' and '-', got \"my vm\"\n"
	    "banking.toml:5:8: console.mode: expected one of \"stdout\", \"file\", \"pty\", \"none\", "
	    "got \"serial\"\n"
	    "banking.toml:6:2: sound: not supported yet\n"
	    "banking.toml: kernel: required key is missing");
}

static void test_err_buffer(void)
{
	struct vm_config cfg;
	char err[8], out[512];

	memset(err, 'x', sizeof(err));
	CHECK_EQ(parse_quiet("banking.toml", "", 0, &cfg, err, sizeof(err), out, sizeof(out)), -1);
	CHECK_STR(err, "banking");
	CHECK_EQ(parse_quiet("banking.toml", "", 0, &cfg, NULL, 0, out, sizeof(out)), -1);
	CHECK_EQ(parse_quiet(NULL, "", 0, &cfg, NULL, 0, out, sizeof(out)), -1);
	CHECK_STR(out, "config: name: required key is missing\n"
		  "config: kernel: required key is missing\n");
	cases += 3;
}

static int load_quiet(const char *path, struct vm_config *cfg, char *err, size_t errlen)
{
	int saved = dup(2), null = open("/dev/null", O_WRONLY), ret;

	fflush(stderr);
	dup2(null, 2);
	ret = config_load(path, cfg, err, errlen);
	dup2(saved, 2);
	close(saved);
	close(null);
	return ret;
}

static void test_load(void)
{
	char dir[] = "/tmp/test_config.XXXXXX", path[512], err[512], want[600];
	const char *doc = "name = \"t\"\nkernel = \"vmlinuz\"\n";
	struct vm_config cfg;
	int fd;

	cases += 4;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/missing.toml", dir);
	CHECK_EQ(load_quiet(path, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot read: %s", path, strerror(ENOENT));
	CHECK_STR(err, want);
	CHECK(cfg.source == NULL);

	CHECK_EQ(load_quiet(dir, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot read: %s", dir, strerror(EISDIR));
	CHECK_STR(err, want);

	snprintf(path, sizeof(path), "%s/vm.toml", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && write(fd, doc, strlen(doc)) == (ssize_t)strlen(doc));
	close(fd);
	CHECK_EQ(load_quiet(path, &cfg, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/vmlinuz", dir);
	CHECK_STR(cfg.kernel, want);
	CHECK_STR(cfg.source, path);
	config_free(&cfg);

	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "cpus = 0\n", 9) == 9);
	close(fd);
	CHECK_EQ(load_quiet(path, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:1:8: cpus: must be between 1 and 64, got 0", path);
	CHECK_STR(err, want);
	unlink(path);
	rmdir(dir);
}

/* The shipped example must load and mean what its comments say. */
static void test_example(void)
{
	char path[1024], err[512];
	const char *file = __FILE__, *end = strstr(file, "tests/unit/test_config.c");
	struct vm_config cfg;

	if (!end)
		return;
	cases++;
	snprintf(path, sizeof(path), "%.*sexamples/banking.toml", (int)(end - file), file);
	CHECK_EQ(load_quiet(path, &cfg, err, sizeof(err)), 0);
	if (cfg.name) {
		CHECK_STR(cfg.name, "banking");
		CHECK_EQ(cfg.memory_mib, 1024);
		CHECK_EQ(cfg.cpus, 2);
		CHECK(cfg.kernel && cfg.initramfs && cfg.nr_kernel_params > 0);
	} else {
		fprintf(stderr, "%s\n", err);
	}
	config_free(&cfg);
}

static const char sample[] =
	"name = \"banking\"\n"
	"memory = 1024\n"
	"cpus = 2\n"
	"kernel = \"vmlinuz\"\n"
	"initramfs = \"initrd.img\"\n"
	"cmdline = \"console=ttyS0 quiet\"\n"
	"kernel_params = [\"root=/dev/vda\", \"ro\"]\n"
	"runtime_dir = \"/run/vmsilo\"\n"
	"reboot = \"restart\"\n"
	"log_level = \"info\"\n"
	"[console]\n"
	"mode = \"file\"\n"
	"path = \"console.log\"\n";

/* Truncations and byte flips of a valid config must never crash. */
static void test_fuzz(void)
{
	int saved = dup(2), null = open("/dev/null", O_WRONLY);
	char doc[sizeof(sample)], err[128];
	size_t n, len = sizeof(sample) - 1;
	struct vm_config cfg;
	unsigned seed = 42;
	int i, j;

	fflush(stderr);
	dup2(null, 2);
	for (n = 0; n <= len; n++) {
		memcpy(doc, sample, n);
		config_parse("fuzz.toml", doc, n, &cfg, err, sizeof(err));
		config_free(&cfg);
	}
	for (i = 0; i < 10000; i++) {
		memcpy(doc, sample, len);
		for (j = 0; j < 1 + i % 3; j++) {
			seed = seed * 1103515245 + 12345;
			doc[(seed >> 8) % len] = (char)(seed >> 20);
		}
		if (!config_parse("/a/fuzz.toml", doc, len, &cfg, err, sizeof(err)))
			free(config_kernel_cmdline(&cfg));
		config_free(&cfg);
	}
	dup2(saved, 2);
	close(saved);
	close(null);
	cases++;
}

static void test_disks(void)
{
	struct vm_config cfg;

	if (!parse("/etc/b.toml", MIN_DOC "[[disk]]\npath = \"root.erofs\"\nro = true\nid = \"root\"\n"
		   "[[disk]]\npath = \"/var/home.img\"\nsparse = false\ndirect = true\nblock_size = 4096\n"
		   "seccomp_policy = \"log\"", &cfg)) {
		CHECK_EQ(config_count(&cfg, &blk_kind), 2);
		CHECK_STR(disk(&cfg, 0)->path, "/etc/root.erofs");
		CHECK(disk(&cfg, 0)->ro && disk(&cfg, 0)->sparse && !disk(&cfg, 0)->direct);
		CHECK_EQ(disk(&cfg, 0)->block_size, 512);
		CHECK_STR(disk(&cfg, 0)->id, "root");
		CHECK_EQ(instance(&cfg, &blk_kind, 0)->seccomp, SECCOMP_ENFORCING);
		CHECK_STR(disk(&cfg, 1)->path, "/var/home.img");
		CHECK(!disk(&cfg, 1)->ro && !disk(&cfg, 1)->sparse && disk(&cfg, 1)->direct);
		CHECK_EQ(disk(&cfg, 1)->block_size, 4096);
		CHECK(disk(&cfg, 1)->id == NULL);
		CHECK_EQ(instance(&cfg, &blk_kind, 1)->seccomp, SECCOMP_LOG);
	}
	config_free(&cfg);
	BAD(MIN_DOC "[[disk]]\nro = true", "banking.toml:3:1: disk[0]: path: required key is missing");
	BAD(MIN_DOC "[[disk]]\npath = \"a\"\nblock_size = 1000",
	    "banking.toml:5:14: disk[0].block_size: must be a power of two, got 1000");
	BAD(MIN_DOC "[[disk]]\npath = \"a\"\nblock_size = 256",
	    "banking.toml:5:14: disk[0].block_size: must be between 512 and 65536, got 256");
	BAD(MIN_DOC "[[disk]]\npath = \"a\"\nid = \"0123456789abcdefghijk\"",
	    "banking.toml:5:6: disk[0].id: at most 20 bytes (a virtio-blk serial)");
	BAD(MIN_DOC "[[disk]]\npath = \"a\"\nreadonly = true",
	    "banking.toml:5:1: disk[0].readonly: unknown key");
	BAD(MIN_DOC "disk = \"a\"", "banking.toml:3:8: disk: expected [[disk]] tables, got a string");
}

/* n tables of [[section]], each with its required key, in one document. */
static char *tables(const char *section, const char *body, unsigned n)
{
	size_t cap = strlen(MIN_DOC) + n * (strlen(section) + strlen(body) + 16) + 1;
	char *doc = malloc(cap), *p = doc;

	p += sprintf(p, "%s", MIN_DOC);
	for (unsigned i = 0; i < n; i++)
		p += sprintf(p, "[[%s]]\n%s%u\"\n", section, body, i);
	return doc;
}

/* The cap is the registry's max: max tables parse, one more is refused at it. */
static void check_cap(const struct device_kind *kind, const char *body, const char *plural)
{
	struct vm_config cfg;
	char *doc = tables(kind->section, body, kind->max), want[128];

	if (!parse("banking.toml", doc, &cfg)) {
		CHECK_EQ(config_count(&cfg, kind), kind->max);
		config_free(&cfg);
	}
	free(doc);
	doc = tables(kind->section, body, kind->max + 1);
	/* Two lines per table after MIN_DOC's two: the extra one is at 3 + 2 * max. */
	snprintf(want, sizeof(want), "banking.toml:%u:1: %s: at most %u %s\n",
		 3 + 2 * kind->max, kind->section, kind->max, plural);
	check_errors(__LINE__, doc, want);
	free(doc);
}

/* Device sections are parsed from the registry with the messages they always had. */
static void test_device_sections(void)
{
	struct vm_config cfg;

	BAD(MIN_DOC "[[disk]]\npath = 1", "banking.toml:4:8: disk[0].path: expected a string, got an integer");
	BAD(MIN_DOC "[[disk]]\npath = \"a\"\nro = 1",
	    "banking.toml:5:6: disk[0].ro: expected a boolean, got an integer");
	BAD(MIN_DOC "[vsock]\ncid = \"3\"", "banking.toml:4:7: vsock.cid: expected an integer, got a string");
	BAD(MIN_DOC "[[net]]\nname = 4", "banking.toml:4:8: net[0].name: expected a string, got an integer");
	BAD(MIN_DOC "[[disk]]\npath = \"a\"\nsprase = true",
	    "banking.toml:5:1: disk[0].sprase: unknown key (did you mean \"sparse\"?)");
	BAD(MIN_DOC "[[net]]\nname = \"a\"\nmca = \"52:54:00:12:34:56\"",
	    "banking.toml:5:1: net[0].mca: unknown key (did you mean \"mac\"?)");
	BAD(MIN_DOC "[vsock]\ncid = 3\nSeccomp_Policy = \"log\"",
	    "banking.toml:5:1: vsock.Seccomp_Policy: unknown key (did you mean \"seccomp_policy\"?)");
	BAD(MIN_DOC "[vsock]\ncid = 3\nport = 1", "banking.toml:5:1: vsock.port: unknown key");
	BAD(MIN_DOC "[[disk]]\npath = \"a\"\nblock_size = 131072",
	    "banking.toml:5:14: disk[0].block_size: must be between 512 and 65536, got 131072");
	BAD(MIN_DOC "[[net]]\nname = \"a\"\nseccomp_policy = \"off\"",
	    "banking.toml:5:18: net[0].seccomp_policy: expected one of \"enforcing\", \"log\", got \"off\"");
	BAD(MIN_DOC "[[rng]]", "banking.toml:3:1: rng: expected a table, got an array");
	BAD(MIN_DOC "[disk]\npath = \"a\"", "banking.toml:3:1: disk: expected [[disk]] tables, got a table");
	/* Every kind's seccomp_policy: its own, else [sandbox]'s wherever that stands. */
	if (!parse("b.toml", MIN_DOC "[vsock]\ncid = 3\nseccomp_policy = \"log\"\n[[net]]\nname = \"a\"\n"
		   "[[disk]]\npath = \"/d\"\n[sandbox]\nseccomp_policy = \"log\"\n"
		   "[[net]]\nname = \"b\"\nseccomp_policy = \"enforcing\"", &cfg)) {
		CHECK_EQ(instance(&cfg, &vsock_kind, 0)->seccomp, SECCOMP_LOG);
		CHECK_EQ(instance(&cfg, &net_kind, 0)->seccomp, SECCOMP_LOG);
		CHECK_EQ(instance(&cfg, &net_kind, 1)->seccomp, SECCOMP_ENFORCING);
		CHECK_EQ(instance(&cfg, &blk_kind, 0)->seccomp, SECCOMP_LOG);
		config_free(&cfg);
	}
	check_cap(&blk_kind, "path = \"/d", "disks");
	check_cap(&net_kind, "name = \"n", "interfaces");
}

static void test_sandbox_and_rng(void)
{
	struct vm_config cfg;

	if (!parse("b.toml", MIN_DOC, &cfg)) {
		CHECK(cfg.sandbox.enable);
		CHECK_EQ(cfg.sandbox.seccomp, SECCOMP_ENFORCING);
		CHECK(!config_count(&cfg, &rng_kind));
	}
	config_free(&cfg);
	/* A device inherits [sandbox]'s policy even when [sandbox] comes later. */
	if (!parse("b.toml", MIN_DOC "[rng]\n[sandbox]\nenable = false\nseccomp_policy = \"log\"", &cfg)) {
		CHECK(!cfg.sandbox.enable);
		CHECK(config_count(&cfg, &rng_kind));
		CHECK_EQ(instance(&cfg, &rng_kind, 0)->seccomp, SECCOMP_LOG);
	}
	config_free(&cfg);
	if (!parse("b.toml", MIN_DOC "[sandbox]\nseccomp_policy = \"log\"\n[rng]\nseccomp_policy = \"enforcing\"", &cfg))
		CHECK_EQ(instance(&cfg, &rng_kind, 0)->seccomp, SECCOMP_ENFORCING);
	config_free(&cfg);
	BAD(MIN_DOC "[sandbox]\nseccomp_policy = \"strict\"",
	    "banking.toml:4:18: sandbox.seccomp_policy: expected one of \"enforcing\", \"log\", got \"strict\"");
	BAD(MIN_DOC "[sandbox]\nenable = 1",
	    "banking.toml:4:10: sandbox.enable: expected a boolean, got an integer");
	BAD(MIN_DOC "[rng]\nsecomp_policy = \"log\"",
	    "banking.toml:4:1: rng.secomp_policy: unknown key (did you mean \"seccomp_policy\"?)");
	BAD(MIN_DOC "rng = true",
	    "banking.toml:3:7: rng: expected a table, got a boolean");
}

/* sandbox and log_level: every kind with a process of ours, its own or [sandbox]'s. */
static void test_device_sandbox_and_log_level(void)
{
	struct vm_config cfg;

	if (!parse("b.toml", MIN_DOC "[rng]\n[[disk]]\npath = \"/d\"\nsandbox = false\n"
		   "log_level = \"debug\"", &cfg)) {
		CHECK(instance(&cfg, &rng_kind, 0)->sandbox);
		CHECK(!instance(&cfg, &rng_kind, 0)->log_level_set);
		CHECK(!instance(&cfg, &blk_kind, 0)->sandbox);
		CHECK(instance(&cfg, &blk_kind, 0)->log_level_set);
		CHECK_EQ(instance(&cfg, &blk_kind, 0)->log_level, LOG_DEBUG);
	}
	config_free(&cfg);
	/* [sandbox] enable is the default wherever it stands; a device's own wins. */
	if (!parse("b.toml", MIN_DOC "[rng]\n[vsock]\ncid = 3\nsandbox = true\nlog_level = \"error\"\n"
		   "[sandbox]\nenable = false", &cfg)) {
		CHECK(!instance(&cfg, &rng_kind, 0)->sandbox);
		CHECK(instance(&cfg, &vsock_kind, 0)->sandbox);
		CHECK_EQ(instance(&cfg, &vsock_kind, 0)->log_level, LOG_ERROR);
	}
	config_free(&cfg);
	BAD(MIN_DOC "[rng]\nsandbox = \"no\"",
	    "banking.toml:4:11: rng.sandbox: expected a boolean, got a string");
	BAD(MIN_DOC "[rng]\nlog_level = \"verbose\"",
	    "banking.toml:4:13: rng.log_level: expected one of \"error\", \"warn\", \"info\", "
	    "\"debug\", \"trace\", got \"verbose\"");
	BAD(MIN_DOC "[balloon]\nlog_levle = \"info\"",
	    "banking.toml:4:1: balloon.log_levle: unknown key (did you mean \"log_level\"?)");
	BAD(MIN_DOC "[balloon]\nsandbx = false",
	    "banking.toml:4:1: balloon.sandbx: unknown key (did you mean \"sandbox\"?)");
}

static void test_net(void)
{
	struct vm_config cfg;

	if (!parse("b.toml", MIN_DOC "[[net]]\nname = \"upstream\"\ntap = \"banking-0\"\n"
		   "mac = \"52:54:00:12:34:5f\"\n[[net]]\nname = \"lan\"", &cfg)) {
		CHECK_EQ(config_count(&cfg, &net_kind), 2);
		CHECK_STR(net(&cfg, 0)->name, "upstream");
		CHECK_STR(net(&cfg, 0)->tap, "banking-0");
		CHECK(net(&cfg, 0)->mac_set && net(&cfg, 0)->mac[0] == 0x52 && net(&cfg, 0)->mac[5] == 0x5f);
		CHECK_STR(net(&cfg, 1)->name, "lan");
		CHECK(net(&cfg, 1)->tap == NULL && !net(&cfg, 1)->mac_set);
		CHECK_EQ(instance(&cfg, &net_kind, 1)->seccomp, SECCOMP_ENFORCING);
	}
	config_free(&cfg);
	BAD(MIN_DOC "[[net]]\ntap = \"t0\"", "banking.toml:3:1: net[0]: name: required key is missing");
	BAD(MIN_DOC "[[net]]\nname = \"a very long name!\"",
	    "banking.toml:4:8: net[0].name: expected an interface name (1 to 15 of A-Z a-z 0-9 _ . -), "
	    "got \"a very long name!\"");
	BAD(MIN_DOC "[[net]]\nname = \"a\"\nmac = \"52:54:00:12:34\"",
	    "banking.toml:5:7: net[0].mac: expected a MAC address like \"52:54:00:12:34:56\", "
	    "got \"52:54:00:12:34\"");
	BAD(MIN_DOC "[[net]]\nname = \"a\"\nmac = \"01:00:5e:00:00:01\"",
	    "banking.toml:5:7: net[0].mac: \"01:00:5e:00:00:01\" is a multicast address");
	BAD(MIN_DOC "[[net]]\nname = \"a\"\nmac = \"00:00:00:00:00:00\"",
	    "banking.toml:5:7: net[0].mac: \"00:00:00:00:00:00\" is the all-zero address");
	BAD(MIN_DOC "[[net]]\nname = \"a\"\n[[net]]\nname = \"a\"",
	    "banking.toml:5:1: net[1]: name \"a\" is used twice");
	BAD("name = \"a-very-long-vm\"\nkernel = \"k\"\n[[net]]\nname = \"a\"",
	    "banking.toml:3:1: net[0]: tap: required when the VM name is over 13 characters "
	    "(the default \"<name>-<index>\" must fit in 15)");
}

static void test_vsock_and_idle(void)
{
	struct vm_config cfg;

	if (!parse("b.toml", MIN_DOC "user = \"david\"\n[vsock]\ncid = 3\n[auto_shutdown]\n"
		   "enable = true\nafter = 60", &cfg)) {
		CHECK_STR(cfg.user, "david");
		CHECK(config_count(&cfg, &vsock_kind));
		CHECK_EQ(((const struct vsock_config *)instance(&cfg, &vsock_kind, 0)->cfg)->cid, 3);
		CHECK(cfg.auto_shutdown.enable);
		CHECK_EQ(cfg.auto_shutdown.after, 60);
	}
	config_free(&cfg);
	if (!parse("b.toml", MIN_DOC, &cfg)) {
		CHECK(cfg.user == NULL && !config_count(&cfg, &vsock_kind) && !cfg.auto_shutdown.enable);
		CHECK_EQ(cfg.auto_shutdown.after, 120);
	}
	config_free(&cfg);
	BAD(MIN_DOC "[vsock]\ncid = 2", "banking.toml:4:7: vsock.cid: must be between 3 and 4294967294, got 2");
	BAD(MIN_DOC "[vsock]", "banking.toml:3:1: vsock: cid: required key is missing");
	BAD(MIN_DOC "[auto_shutdown]\nenable = true",
	    "banking.toml:3:1: auto_shutdown: needs [vsock]: the guest agent reports idleness over it");
	BAD(MIN_DOC "[auto_shutdown]\nafter = 0",
	    "banking.toml:4:9: auto_shutdown.after: must be between 1 and 604800, got 0");
	BAD(MIN_DOC "user = \"-x\"", "banking.toml:3:8: user: expected a user name, got \"-x\"");
}

static void test_balloon(void)
{
	const struct balloon_config *b;
	struct vm_config cfg;

	if (!parse("b.toml", MIN_DOC "[balloon]", &cfg)) {
		CHECK_EQ(config_count(&cfg, &balloon_kind), 1);
		b = instance(&cfg, &balloon_kind, 0)->cfg;
		CHECK(b->free_page_reporting && b->deflate_on_oom);
		CHECK_EQ(b->stats_interval, 2);
	}
	config_free(&cfg);
	if (!parse("b.toml", MIN_DOC "[balloon]\nfree_page_reporting = false\ndeflate_on_oom = false\n"
		   "stats_interval = 0", &cfg)) {
		b = instance(&cfg, &balloon_kind, 0)->cfg;
		CHECK(!b->free_page_reporting && !b->deflate_on_oom);
		CHECK_EQ(b->stats_interval, 0);
	}
	config_free(&cfg);
	BAD(MIN_DOC "[balloon]\nstats_interval = 3601",
	    "banking.toml:4:18: balloon.stats_interval: must be between 0 and 3600, got 3601");
	BAD(MIN_DOC "[balloon]\ndeflate_on_oom = 1",
	    "banking.toml:4:18: balloon.deflate_on_oom: expected a boolean, got an integer");
	BAD(MIN_DOC "[balloon]\nreporting = true",
	    "banking.toml:4:1: balloon.reporting: unknown key");
	BAD(MIN_DOC "[[balloon]]", "banking.toml:3:1: balloon: expected a table, got an array");
}

int main(void)
{
	test_balloon();
	test_net();
	test_vsock_and_idle();
	test_sandbox_and_rng();
	test_device_sandbox_and_log_level();
	test_disks();
	test_device_sections();
	test_defaults();
	test_all_keys();
	test_choices();
	test_limits();
	test_relative_paths();
	test_kernel_cmdline();
	test_syntax_errors();
	test_type_errors();
	test_value_errors();
	test_console_errors();
	test_missing();
	test_unknown_keys();
	test_not_supported();
	test_many_errors();
	test_err_buffer();
	test_load();
	test_example();
	test_fuzz();
	printf("test_config: %d cases\n", cases);
	return check_report("test_config");
}
