/*
 * A small, strict TOML parser for the subset vmsilo configs use: tables,
 * arrays of tables, dotted keys, basic and literal strings (with escapes,
 * multi-line forms), integers (decimal with '_', 0x/0o/0b), booleans, arrays,
 * inline tables and comments. Floats and dates are rejected with a clear
 * message. Every value remembers its line and column for error messages.
 */
#ifndef VMSILO_TOML_H
#define VMSILO_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum toml_type { TOML_STRING, TOML_INTEGER, TOML_BOOL, TOML_ARRAY, TOML_TABLE };

struct toml_value;

struct toml_entry {
	char *key;
	int line, col;			/* position of the key */
	struct toml_value *value;
};

struct toml_value {
	enum toml_type type;
	int line, col;			/* position of the value (table: its header) */
	union {
		char *string;
		int64_t integer;
		bool boolean;
		struct {
			struct toml_value **items;
			size_t len;
		} array;
		struct {
			struct toml_entry *entries;	/* in document order */
			size_t len;
		} table;
	};
};

struct toml_error {
	int line, col;
	char msg[160];
};

/* Parses text (need not be NUL-terminated). Returns the root table, or NULL
 * with *err filled in. */
struct toml_value *toml_parse(const char *text, size_t len, struct toml_error *err);
void toml_free(struct toml_value *value);

/* Entry of a table by key, or NULL. */
const struct toml_entry *toml_find(const struct toml_value *table, const char *key);
/* "a string", "an integer", "a boolean", "an array", "a table" */
const char *toml_type_name(enum toml_type type);

#endif
