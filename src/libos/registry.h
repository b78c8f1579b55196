/* SPDX-License-Identifier: MIT */
/*
 * registry.h: every libOS name a user may put in LIBOS, and its constructor.
 * rt_init looks the name up here; nothing else in core/ knows the list.
 * Private header.
 */
#ifndef DEMI_LIBOS_REGISTRY_H
#define DEMI_LIBOS_REGISTRY_H

#include <stddef.h>

struct demi_config;
struct libos;

struct libos_entry {
    const char *name;
    /* NULL: a libOS of Demikernel's that this build does not have (catnip
     * without DPDK): rt_init says so instead of "unknown". */
    int (*create)(const struct demi_config *cfg, struct libos **out);
    const char *what; /* a few words for messages */
};

/* The entry named @name, or NULL when no libOS has that name. */
const struct libos_entry *libos_registry_find(const char *name);

/* "catnap, catnip, ... or cattest", for the message of an unknown name.
 * Always NUL-terminated; truncated to @len. */
void libos_registry_names(char *buf, size_t len);

#endif /* DEMI_LIBOS_REGISTRY_H */
