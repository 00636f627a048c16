/*
 * vmsilo-config-reference: docs/config.md's device key tables against the
 * registry.
 *   vmsilo-config-reference              print every kind's table
 *   vmsilo-config-reference --check DOC  exit 1 if a table in DOC differs
 *   vmsilo-config-reference --update DOC rewrite DOC's tables
 * Each table sits between "<!-- generated from the device registry: NAME -->"
 * and "<!-- end generated -->"; the prose around them is DOC's own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config_reference.h"

static char *table_of(const struct device_kind *kind)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	config_reference_table(f, kind);
	fclose(f);
	return buf;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int ch;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	while (m && (ch = getc(f)) != EOF)
		putc(ch, m);
	if (m)
		fclose(m);
	fclose(f);
	return buf;
}

/* DOC with each marked table replaced by the registry's; *stale counts differences. */
static char *regenerate(const char *doc, unsigned *stale, unsigned *seen)
{
	char *out = NULL, marker[128];
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	const char *p = doc, *begin, *body, *end;

	while (m && (begin = strstr(p, CONFIG_REFERENCE_BEGIN))) {
		const struct device_kind *kind = NULL;

		body = strchr(begin, '\n');
		end = body ? strstr(body, CONFIG_REFERENCE_END) : NULL;
		if (!end)
			break;
		body++;
		for (const struct device_kind *const *k = device_kinds; *k && !kind; k++) {
			snprintf(marker, sizeof(marker), "%s%s -->\n", CONFIG_REFERENCE_BEGIN, (*k)->section);
			if (!strncmp(begin, marker, strlen(marker)))
				kind = *k;
		}
		fwrite(p, 1, (size_t)(body - p), m);
		if (kind) {
			char *table = table_of(kind);

			(*seen)++;
			if (!table || strlen(table) != (size_t)(end - body) ||
			    memcmp(table, body, (size_t)(end - body))) {
				fprintf(stderr, "docs: the [%s] table differs from the registry\n", kind->section);
				(*stale)++;
			}
			fputs(table ? table : "", m);
			free(table);
		} else {
			fwrite(body, 1, (size_t)(end - body), m);
		}
		p = end;
	}
	if (m) {
		fputs(p, m);
		fclose(m);
	}
	return out;
}

int main(int argc, char **argv)
{
	unsigned stale = 0, seen = 0, kinds = 0;
	char *doc, *out;
	FILE *f;

	if (argc == 1) {
		for (const struct device_kind *const *k = device_kinds; *k; k++) {
			printf("%s%s -->\n", CONFIG_REFERENCE_BEGIN, (*k)->section);
			config_reference_table(stdout, *k);
			printf("%s\n\n", CONFIG_REFERENCE_END);
		}
		return 0;
	}
	if (argc != 3 || (strcmp(argv[1], "--check") && strcmp(argv[1], "--update"))) {
		fprintf(stderr, "usage: vmsilo-config-reference [--check|--update DOC]\n");
		return 2;
	}
	if (!(doc = read_all(argv[2]))) {
		fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	out = regenerate(doc, &stale, &seen);
	for (const struct device_kind *const *k = device_kinds; *k; k++)
		kinds++;
	if (seen != kinds) {
		fprintf(stderr, "docs: %u of %u device kinds have a generated table\n", seen, kinds);
		stale++;
	}
	free(doc);
	if (!strcmp(argv[1], "--update") && out && (f = fopen(argv[2], "w"))) {
		fputs(out, f);
		fclose(f);
		stale = 0;
	} else if (stale) {
		fprintf(stderr, "docs: run vmsilo-config-reference --update %s\n", argv[2]);
	}
	free(out);
	return stale ? 1 : 0;
}
