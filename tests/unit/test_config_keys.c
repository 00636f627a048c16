/*
 * The generic key parser of vmm/config.c on a fake device kind (this
 * binary brings its own registry): a key's check() runs for every type,
 * and a key is marked set only when its value was taken.
 */
#include "devices/registry.h"
#include "devices/fs_tag.h"
#include "devices/shared_dir.h"
#include "vmm/config.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <string.h>

struct fake_config {
	char *path, *ifname, *text;
	bool flag;
	int choice;
	uint8_t mac[6];
	uint64_t num, size;
	bool path_set, ifname_set;
};

#define FAKE(f) offsetof(struct fake_config, f)

/* Every check refuses the value "refused" (or its counterpart in the type). */
static int refuse_string(const void *value, char *why, size_t len)
{
	const char *s = *(char *const *)value;
	size_t len_s = strlen(s);

	if (len_s < 7 || strcmp(s + len_s - 7, "refused"))
		return 0;
	snprintf(why, len, "refused by its check");
	return -1;
}

static int refuse_true(const void *value, char *why, size_t len)
{
	if (!*(const bool *)value)
		return 0;
	snprintf(why, len, "true refused by its check");
	return -1;
}

static int refuse_second(const void *value, char *why, size_t len)
{
	if (*(const int *)value != 1)
		return 0;
	snprintf(why, len, "\"b\" refused by its check");
	return -1;
}

static int refuse_local(const void *value, char *why, size_t len)
{
	if (!(((const uint8_t *)value)[0] & 2))
		return 0;
	snprintf(why, len, "a local address refused by its check");
	return -1;
}

static int refuse_odd_size(const void *value, char *why, size_t len)
{
	if (*(const uint64_t *)value != 12345)
		return 0;
	snprintf(why, len, "12345 refused by its check");
	return -1;
}

static const char *const choices[] = { "a", "b", NULL };

static const struct cfg_key fake_keys[] = {
	{ "path", CFG_PATH, FAKE(path), FAKE(path_set), .def = "none", .doc = "p",
	  .check = refuse_string },
	{ "ifname", CFG_IFNAME, FAKE(ifname), FAKE(ifname_set), .def = "none", .doc = "i",
	  .check = refuse_string },
	{ "text", CFG_STRING, FAKE(text), .def = "none", .doc = "t", .check = refuse_string },
	{ "flag", CFG_BOOL, FAKE(flag), .def = "false", .doc = "f", .check = refuse_true },
	{ "choice", CFG_CHOICE, FAKE(choice), .def = "a", .choices = choices, .doc = "c",
	  .check = refuse_second },
	{ "mac", CFG_MAC, FAKE(mac), .def = "none", .doc = "m", .check = refuse_local },
	{ "num", CFG_UINT, FAKE(num), .def = "0", .max = 10, .doc = "n" },
	{ "size", CFG_SIZE, FAKE(size), .def = "8G", .min = 4096, .max = 64ull << 30, .doc = "s",
	  .check = refuse_odd_size },
	{ 0 },
};

/* The kind's check sees what the parser marked as set. */
static bool seen_path_set, seen_ifname_set;

static void record_set(const void *cfg, struct cfg_check *chk)
{
	const struct fake_config *f = cfg;

	seen_path_set = f->path_set;
	seen_ifname_set = f->ifname_set;
}

static const struct device_kind fake_kind = {
	.section = "fake", .prefix = "fake", .max = 1, .config_size = sizeof(struct fake_config),
	.keys = fake_keys, .doc = "a fake device", .check = record_set,
};

/* The registry config.c looks devices up in. */
const struct device_kind vsock_kind = { .section = "no-vsock-here", .keys = fake_keys };
const struct device_kind shared_dir_kind = { .section = "no-shares-here", .keys = fake_keys };

int shared_dir_check_directory(const char *path, char *why, size_t len)
{
	(void)path;
	snprintf(why, len, "no directories here");
	return -1;
}
const char *device_fs_tag(const struct device_kind *kind, const void *cfg)
{
	(void)kind;
	(void)cfg;
	return NULL;
}
const struct device_kind *const device_kinds[] = { &fake_kind, NULL };

const struct device_kind *device_kind_find(const char *section)
{
	return strcmp(section, "fake") ? NULL : &fake_kind;
}

static const struct fake_config *parse(const char *section, struct vm_config *cfg,
				       char *err, size_t errlen)
{
	char text[512];
	int len = snprintf(text, sizeof(text),
			   "name = \"t\"\nmemory = 64\nkernel = \"/k\"\n[fake]\n%s\n", section);

	err[0] = '\0';
	if (config_parse("t.toml", text, (size_t)len, cfg, err, errlen))
		return NULL;
	return config_instance(cfg, &fake_kind, 0)->cfg;
}

/* The line names the key and says its check refused it. */
static void expect_refused(const char *section, const char *key)
{
	struct vm_config cfg;
	char err[256];

	CHECK(!parse(section, &cfg, err, sizeof(err)));
	if (!strstr(err, key) || !strstr(err, "refused by its check"))
		fprintf(stderr, "%s: %s\n", section, err);
	CHECK(strstr(err, key) && strstr(err, "refused by its check"));
	config_free(&cfg);
}

static void test_check_every_type(void)
{
	expect_refused("path = \"/refused\"", "fake.path");
	expect_refused("ifname = \"refused\"", "fake.ifname");
	expect_refused("text = \"refused\"", "fake.text");
	expect_refused("flag = true", "fake.flag");
	expect_refused("choice = \"b\"", "fake.choice");
	expect_refused("mac = \"02:00:00:00:00:01\"", "fake.mac");
	expect_refused("size = 12345", "fake.size");
}

/* One value of size, or the error line it gives. */
static void expect_size(const char *value, uint64_t want)
{
	char section[128], err[256];
	const struct fake_config *f;
	struct vm_config cfg;

	snprintf(section, sizeof(section), "size = %s", value);
	f = parse(section, &cfg, err, sizeof(err));
	if (!f || f->size != want)
		fprintf(stderr, "size = %s: %s\n", value, err);
	CHECK(f && f->size == want);
	if (f)
		config_free(&cfg);
}

static void expect_size_error(const char *value, const char *want)
{
	char section[128], err[256];
	struct vm_config cfg;

	snprintf(section, sizeof(section), "size = %s", value);
	CHECK(!parse(section, &cfg, err, sizeof(err)));
	CHECK_STR(err, want);
}

static void test_sizes(void)
{
	struct vm_config cfg;
	const struct fake_config *f;
	char err[256];

	f = parse("", &cfg, err, sizeof(err));
	CHECK(f && f->size == 8ull << 30);	/* the default as written: "8G" */
	if (f)
		config_free(&cfg);
	expect_size("4096", 4096);
	expect_size("\"4096\"", 4096);
	expect_size("\"4K\"", 4096);
	expect_size("\"4k\"", 4096);
	expect_size("\"512M\"", 512ull << 20);
	expect_size("\"8G\"", 8ull << 30);
	expect_size("\"8GiB\"", 8ull << 30);
	expect_size("\"8giB\"", 8ull << 30);
	expect_size("\"64G\"", 64ull << 30);
	expect_size("\"4097\"", 4097);
	expect_size_error("\"1T\"", "t.toml:5:8: fake.size: must be between 4K and 64G, got 1T");
	expect_size_error("\"8GB\"", "t.toml:5:8: fake.size: expected a size: a whole number with "
			  "an optional K, M, G or T (powers of 1024, \"iB\" allowed), like \"8G\", "
			  "got \"8GB\"");
	expect_size_error("\"8 G\"", "t.toml:5:8: fake.size: expected a size: a whole number with "
			  "an optional K, M, G or T (powers of 1024, \"iB\" allowed), like \"8G\", "
			  "got \"8 G\"");
	expect_size_error("\"\"", "t.toml:5:8: fake.size: expected a size: a whole number with "
			  "an optional K, M, G or T (powers of 1024, \"iB\" allowed), like \"8G\", "
			  "got \"\"");
	expect_size_error("\"1.5G\"", "t.toml:5:8: fake.size: expected a size: a whole number "
			  "with an optional K, M, G or T (powers of 1024, \"iB\" allowed), like \"8G\", "
			  "got \"1.5G\"");
	expect_size_error("\"G\"", "t.toml:5:8: fake.size: expected a size: a whole number with "
			  "an optional K, M, G or T (powers of 1024, \"iB\" allowed), like \"8G\", "
			  "got \"G\"");
	/* 2^64 and beyond overflow instead of wrapping into range. */
	expect_size_error("\"16777216T\"", "t.toml:5:8: fake.size: expected a size: a whole number "
			  "with an optional K, M, G or T (powers of 1024, \"iB\" allowed), like \"8G\", "
			  "got \"16777216T\"");
	expect_size_error("\"18446744073709551616\"", "t.toml:5:8: fake.size: expected a size: a "
			  "whole number with an optional K, M, G or T (powers of 1024, \"iB\" allowed), "
			  "like \"8G\", got \"18446744073709551616\"");
	expect_size_error("1000", "t.toml:5:8: fake.size: must be between 4K and 64G, got 1000");
	expect_size_error("\"65G\"", "t.toml:5:8: fake.size: must be between 4K and 64G, got 65G");
	expect_size_error("-1", "t.toml:5:8: fake.size: must not be negative, got -1");
	expect_size_error("true", "t.toml:5:8: fake.size: expected a size (bytes, or a string like "
			  "\"8G\"), got a boolean");
}

static void test_accepted_values(void)
{
	struct vm_config cfg;
	const struct fake_config *f;
	char err[256];

	f = parse("path = \"/ok\"\nifname = \"tap0\"\ntext = \"ok\"\nflag = false\n"
		  "choice = \"a\"\nmac = \"00:11:22:33:44:55\"\nnum = 3", &cfg, err, sizeof(err));
	CHECK(f);
	if (!f)
		return;
	CHECK_STR(f->path, "/ok");
	CHECK_STR(f->ifname, "tap0");
	CHECK(f->path_set && f->ifname_set);
	CHECK_EQ(f->mac[5], 0x55);
	CHECK_EQ(f->num, 3);
	config_free(&cfg);
}

/* A rejected value does not count as given: no set flag for a NULL value. */
static void test_set_only_when_taken(void)
{
	struct vm_config cfg;
	char err[256];

	seen_path_set = seen_ifname_set = true;
	CHECK(!parse("path = \"\"\nifname = \"not an ifname\"", &cfg, err, sizeof(err)));
	CHECK(!seen_path_set);
	CHECK(!seen_ifname_set);
	config_free(&cfg);
}

int main(void)
{
	test_check_every_type();
	test_accepted_values();
	test_set_only_when_taken();
	test_sizes();
	return check_report("test_config_keys");
}
