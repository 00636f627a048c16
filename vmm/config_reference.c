/* docs/config.md's device key tables, from the registry's key tables. */
#include "vmm/config_reference.h"

static const char *type_name(enum cfg_type type)
{
	switch (type) {
	case CFG_BOOL: return "boolean";
	case CFG_UINT: return "integer";
	case CFG_PATH: return "string (path)";
	case CFG_SIZE: return "size";
	default: return "string";
	}
}

/* Booleans and integers in code style, choices quoted, the rest as written. */
static void print_default(FILE *out, const struct cfg_key *k)
{
	if (!k->def)
		fputs("required", out);
	else if (k->type == CFG_BOOL || k->type == CFG_UINT)
		fprintf(out, "`%s`", k->def);
	else if (k->type == CFG_CHOICE || k->type == CFG_SIZE)
		fprintf(out, "`\"%s\"`", k->def);
	else
		fputs(k->def, out);
}

void config_reference_table(FILE *out, const struct device_kind *kind)
{
	fputs("| Key | Type | Default | Meaning |\n|-----|------|---------|---------|\n", out);
	for (const struct cfg_key *k = kind->keys; k->name; k++) {
		fprintf(out, "| `%s` | %s | ", k->name, type_name(k->type));
		print_default(out, k);
		fprintf(out, " | %s |\n", k->doc);
	}
	if (kind->vhost_user)
		return;	/* no process of ours to filter */
	fputs("| `seccomp_policy` | string | `[sandbox]`'s | `\"enforcing\"`: a syscall outside "
	      "the device's list kills its process; `\"log\"`: it is allowed and logged by the "
	      "kernel (to find a missing rule). |\n", out);
	fputs("| `sandbox` | boolean | `[sandbox]`'s `enable` | `false`: this device's process "
	      "gets no namespaces, empty root, limits or capability drop (debugging only; one "
	      "warning at start); seccomp still applies as `seccomp_policy` says. |\n", out);
	fputs("| `log_level` | string | the VMM's | The device process's log level: "
	      "`\"error\"`, `\"warn\"`, `\"info\"`, `\"debug\"` or `\"trace\"`. |\n", out);
}
