/*
 * The device registry's table: every kind is complete, its keys are
 * well-formed (a default the parser can read, offsets inside the config
 * struct), section names are unique, and all kinds together fit the PCI
 * slots the VMM gives virtio devices.
 */
#include "devices/registry.h"
#include "tests/unit/check.h"

#include <ctype.h>
#include <stdlib.h>

#define PCI_VIRTIO_SLOTS 31	/* slots 1..31: 0 is the host bridge */

static size_t key_size(const struct cfg_key *k)
{
	switch (k->type) {
	case CFG_BOOL: return sizeof(bool);
	case CFG_UINT: return sizeof(uint64_t);
	case CFG_CHOICE: return sizeof(int);
	case CFG_MAC: return 6;
	default: return sizeof(char *);
	}
}

static bool default_readable(const struct cfg_key *k)
{
	char *end;
	uint64_t n;

	if (!k->def)
		return true;	/* required */
	switch (k->type) {
	case CFG_BOOL:
		return !strcmp(k->def, "true") || !strcmp(k->def, "false");
	case CFG_UINT:
		n = strtoull(k->def, &end, 10);
		return !*end && n >= k->min && n <= k->max;
	case CFG_SIZE:	/* digits, then K, M, G or T and maybe "iB" (config.c's parse) */
		n = strtoull(k->def, &end, 10);
		if (end == k->def)
			return false;
		if (*end && strchr("KMGTkmgt", *end))
			n <<= 10 * (strchr("KMGT", toupper((unsigned char)*end)) - "KMGT" + 1), end++;
		if (!strcmp(end, "iB"))
			end += 2;
		return !*end && n >= k->min && n <= k->max;
	case CFG_CHOICE:
		for (const char *const *c = k->choices; c && *c; c++)
			if (!strcmp(*c, k->def))
				return true;
		return false;
	default:
		return true;	/* documentation only */
	}
}

static void check_keys(const struct device_kind *kind)
{
	size_t n = 0;

	/* The parser tracks given keys in an array of CFG_MAX_KEYS. */
	for (const struct cfg_key *k = kind->keys; k->name; k++)
		n++;
	CHECK(n <= CFG_MAX_KEYS);
	for (const struct cfg_key *k = kind->keys; k->name; k++) {
		/* config.c adds these to every kind with a process of ours. */
		CHECK(strcmp(k->name, "seccomp_policy"));
		CHECK(kind->vhost_user || (strcmp(k->name, "sandbox") && strcmp(k->name, "log_level")));
		CHECK(k->doc && *k->doc);
		CHECK(k->offset + key_size(k) <= kind->config_size);
		CHECK(!k->set_offset || k->set_offset + sizeof(bool) <= kind->config_size);
		CHECK((k->type != CFG_UINT && k->type != CFG_SIZE) || k->min <= k->max);
		CHECK(k->type != CFG_CHOICE || k->choices);
		if (!default_readable(k))
			fprintf(stderr, "%s.%s: default \"%s\"\n", kind->section, k->name, k->def);
		CHECK(default_readable(k));
		for (const struct cfg_key *o = kind->keys; o < k; o++)
			CHECK(strcmp(o->name, k->name));
	}
}

int main(void)
{
	unsigned total = 0, kinds = 0;

	for (const struct device_kind *const *k = device_kinds; *k; k++) {
		const struct device_kind *kind = *k;

		kinds++;
		CHECK(kind->section && kind->prefix && kind->keys && kind->doc);
		/* Our own device process, or a vhost-user backend's device: one of them. */
		CHECK(kind->vhost_user ? !kind->create && !kind->policy
				       : kind->create && kind->policy);
		CHECK(kind->max >= 1);
		CHECK(kind->max == 1 || kind->plural);
		CHECK(!kind->essential_first || kind->essential_what);
		CHECK(device_kind_find(kind->section) == kind);
		for (const struct device_kind *const *o = device_kinds; o < k; o++)
			CHECK(strcmp((*o)->section, kind->section) && strcmp((*o)->prefix, kind->prefix));
		check_keys(kind);
		total += kind->max;
	}
	CHECK(kinds >= 4);
	CHECK(device_kind_find("disk") && device_kind_find("disk")->max == 6);
	CHECK(device_kind_find("net") && device_kind_find("net")->max == 4);
	CHECK(device_kind_find("nosuch") == NULL);
	CHECK_EQ(device_kinds_max_total(), total);
	CHECK(total <= PCI_VIRTIO_SLOTS);
	return check_report("test_registry");
}
