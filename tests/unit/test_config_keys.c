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
	uint64_t num;
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
	return check_report("test_config_keys");
}
