/*
 * libFuzzer harness for the config file: the input is the TOML text of a
 * VM config, parsed (vmm/toml.c) and validated against the schema
 * (vmm/config.c) as vmsilo-vmm does with a file named on its command
 * line. A file from another user is hostile input: it must be refused
 * with an error line, never crash. The TOML tree is also walked on its
 * own, and a config that passes must give a kernel command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"
#include "vmm/log.h"
#include "vmm/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *quiet;

/* Touches every string of the tree, so ASan checks each one. */
static size_t walk(const struct toml_value *v, unsigned depth)
{
	size_t n = 1;

	if (depth > 1000)
		abort();	/* the parser let a document nest without bound */
	if (v->type == TOML_STRING)
		return strlen(v->string);
	if (v->type == TOML_ARRAY)
		for (size_t i = 0; i < v->array.len; i++)
			n += walk(v->array.items[i], depth + 1);
	if (v->type == TOML_TABLE)
		for (size_t i = 0; i < v->table.len; i++)
			n += strlen(v->table.entries[i].key) + walk(v->table.entries[i].value, depth + 1);
	return n;
}

static void parse_tree(const char *text, size_t len)
{
	struct toml_error err = { 0 };
	struct toml_value *root = toml_parse(text, len, &err);

	if (!root) {
		if (!err.msg[0] || !memchr(err.msg, '\0', sizeof(err.msg)))
			abort();	/* a refusal says why */
		return;
	}
	if (root->type != TOML_TABLE)
		abort();
	walk(root, 0);
	toml_free(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_config cfg;
	char err[256] = "";
	FILE *saved = stderr;
	char *cmdline;

	if (!quiet) {
		quiet = fopen("/dev/null", "w");
		if (!quiet)
			abort();
		log_set_level(LOG_ERROR);
	}
	parse_tree((const char *)data, size);
	stderr = quiet;		/* one line per problem: not wanted here */
	int rc = config_parse("fuzz.toml", (const char *)data, size, &cfg, err, sizeof(err));
	stderr = saved;
	if (rc == 0) {
		cmdline = config_kernel_cmdline(&cfg);
		if (!cmdline)
			abort();
		free(cmdline);
	} else if (!err[0]) {
		abort();	/* an error names itself */
	}
	config_free(&cfg);
	return 0;
}
