/* SPDX-License-Identifier: MIT */
/*
 * config_print.c: config_print, what demi-config shows: every key with its
 * value, where the value came from (default, file or environment) and its
 * help (and the older variable that also sets it), then the keys of the file
 * that libdemi does not use.
 */
#include "core/config.h"

#include "core/common.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const void *cfield(const struct demi_config *cfg, size_t offset)
{
    return (const char *)cfg + offset;
}

/* ---- printing ---- */

/* Prints @s as a YAML double-quoted string; returns the columns used. */
static int print_quoted(FILE *out, const char *s)
{
    int n = 1;

    fputc('"', out);
    for (; *s; s++, n++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', out);
            n++;
        }
        fputc(*s, out);
    }
    fputc('"', out);
    return n + 1;
}

static int print_value(FILE *out, const struct config_key *k, const struct demi_config *cfg)
{
    const void *p = cfield(cfg, k->offset);
    char ip[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN];
    const uint8_t *m;
    int n = 0;

    if (k->has_offset != SIZE_MAX && !*(const bool *)cfield(cfg, k->has_offset))
        return fprintf(out, "~");
    switch (k->type) {
    case CONFIG_T_BOOL:
        return fprintf(out, "%s", *(const bool *)p ? "true" : "false");
    case CONFIG_T_U32:
        return fprintf(out, "%u", *(const uint32_t *)p);
    case CONFIG_T_STRING:
        return print_quoted(out, p);
    case CONFIG_T_IPV4:
        return fprintf(out, "%s", inet_ntop(AF_INET, p, ip, sizeof(ip)));
    case CONFIG_T_IPV6:
        return fprintf(out, "%s", inet_ntop(AF_INET6, p, ip6, sizeof(ip6)));
    case CONFIG_T_MAC:
        m = p;
        return fprintf(out, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    case CONFIG_T_STRLIST:
        n += fprintf(out, "[");
        for (int i = 0; i < cfg->eal_argc; i++) {
            n += i ? fprintf(out, ", ") : 0;
            n += print_quoted(out, cfg->eal_argv[i] ? cfg->eal_argv[i] : "");
        }
        return n + fprintf(out, "]");
    case CONFIG_T_ARPMAP:
        n += fprintf(out, "{");
        for (int i = 0; i < cfg->arp_table_len; i++) {
            const struct config_arp_entry *e = &cfg->arp_table[i];
            n += fprintf(out, "%s\"%02x:%02x:%02x:%02x:%02x:%02x\": \"%s\"", i ? ", " : "", e->mac[0], e->mac[1],
                         e->mac[2], e->mac[3], e->mac[4], e->mac[5], inet_ntop(AF_INET, &e->ip, ip, sizeof(ip)));
        }
        return n + fprintf(out, "}");
    }
    return 0;
}

void config_print(FILE *out, const struct demi_config *cfg)
{
    static const char *const src[] = {"default", "file", "env", "alias"};
    const int value_col = 20;
    int key_col = 0;

    for (size_t i = 0; i < config_nkeys; i++)
        key_col = MAX(key_col, (int)strlen(config_keys[i].key) + 1);

    fprintf(out, "# libdemi configuration, file: %s\n", cfg->path[0] ? cfg->path : "(none)");
    fprintf(out, "# key: value  # source: default, file, env (DEMI_<KEY>) or alias (the older variable "
                 "named in the help); help\n");
    for (size_t i = 0; i < config_nkeys; i++) {
        const struct config_key *k = &config_keys[i];
        unsigned s = cfg->source[i] < ARRAY_SIZE(src) ? cfg->source[i] : 0;
        int n;

        fprintf(out, "%s:%*s", k->key, key_col - (int)strlen(k->key), "");
        n = print_value(out, k, cfg);
        fprintf(out, "%*s  # %-7s  %s", n < value_col ? value_col - n : 0, "", src[s], k->help);
        for (size_t a = 0; a < config_naliases; a++)
            if (strcmp(config_aliases[a].key, k->key) == 0)
                fprintf(out, " (alias %s, which wins)", config_aliases[a].env);
        fputc('\n', out);
    }
    if (cfg->ignored && cfg->ignored[0]) {
        const char *line = cfg->ignored;

        fprintf(out, "# keys of %s that libdemi ignores:\n", cfg->path);
        while (*line) {
            int len = (int)strcspn(line, "\n");
            fprintf(out, "#   %.*s\n", len, line);
            line += len + (line[len] == '\n');
        }
    }
}
