/* SPDX-License-Identifier: MIT */
/*
 * config_load.h: what the configuration loader's two halves share: the
 * file and defaults (config.c) and the environment (config_env.c). One
 * loader context on the caller's stack; every value goes through the same
 * validators whatever its origin. Private header.
 */
#ifndef DEMI_CORE_CONFIG_LOAD_H
#define DEMI_CORE_CONFIG_LOAD_H

#include "core/config.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loader {
    struct demi_config *cfg;
    char *err;
    size_t errlen;
    const char *path; /* file being read, for messages */
    char *ignored;    /* heap, '\n'-separated */
    size_t ignored_len;
};

/* Where a value comes from, for error messages. */
struct origin {
    const char *env;                  /* variable name, or NULL for the file */
    size_t line;                      /* 1-based line in the file */
    const struct config_alias *alias; /* @env is this alias, or NULL */
};

/* Write the message to ld->err; returns @ret. */
__attribute__((format(printf, 3, 4))) int config_fail(struct loader *ld, int ret, const char *fmt, ...);

/* @s as a short double-quoted string fit for a one-line message, in @buf. */
const char *config_quote(const char *s, size_t len, char *buf, size_t size);

/* The error for a value of @k that is not acceptable (EINVAL). */
int config_value_error(struct loader *ld, const struct origin *o, const struct config_key *k, const char *got);

/* Key @i was set from @o. */
void config_mark_set(struct loader *ld, size_t i, const struct origin *o);

/* Validate @s for the scalar key @k and store it; false when not acceptable. */
bool config_set_scalar(struct demi_config *cfg, const struct config_key *k, const char *s);

/* dpdk.eal_init's list and inetstack_config.arp_table's map. */
int config_set_strlist(struct loader *ld, const char *const *items, int n);
void config_set_arpmap(struct demi_config *cfg, const struct config_arp_entry *e, int n);

/* The validators (config_values.c): text to value, false when the text is
 * not acceptable. */
bool config_parse_bool(const char *s, bool *out);
bool config_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);
/* Fits the key's array with its NUL, no control characters, one of its
 * choices (stored as spelt in the table). */
bool config_parse_string(const struct config_key *k, const char *s, char *out);
bool config_parse_mac(const char *s, uint8_t mac[6]);
bool config_parse_ipv4(const char *s, struct in_addr *out);
bool config_parse_ipv6(const char *s, struct in6_addr *out);

/* The index of key @name in config_keys[], or -1. */
int config_find_key(const char *name);

/* Apply the DEMI_* variables (config_env.c). */
int config_load_env(struct loader *ld);

#endif /* DEMI_CORE_CONFIG_LOAD_H */
