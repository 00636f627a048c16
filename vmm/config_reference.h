/* The device sections' key tables of docs/config.md, printed from the registry. */
#ifndef VMSILO_CONFIG_REFERENCE_H
#define VMSILO_CONFIG_REFERENCE_H

#include <stdio.h>

#include "devices/registry.h"

/* The markers around a kind's table in docs/config.md. */
#define CONFIG_REFERENCE_BEGIN "<!-- generated from the device registry: "
#define CONFIG_REFERENCE_END "<!-- end generated -->"

/* The markdown table of kind's keys, seccomp_policy last. */
void config_reference_table(FILE *out, const struct device_kind *kind);

#endif
