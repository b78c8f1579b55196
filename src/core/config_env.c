/* SPDX-License-Identifier: MIT */
/*
 * config_env.c: the DEMI_* environment variables over the configuration
 * (config.c loads defaults and the file first): DEMI_<KEY>, the key
 * upper-cased with '.' as '_', and the aliases of config_keys.c. A DEMI_*
 * name that is neither fails the load with the closest key suggested; the
 * preload shim's DEMI_SHIM* are its own.
 */
#include "core/config.h"
#include "core/config_load.h"
#include "core/config_suggest.h"

#include "core/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* environ */

/* "inetstack_config.mtu" -> "DEMI_INETSTACK_CONFIG_MTU" */
static void env_name(const char *key, char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "DEMI_");

    for (; *key && o + 1 < size; key++)
        buf[o++] = *key == '.' ? '_' : (char)(*key >= 'a' && *key <= 'z' ? *key - 'a' + 'A' : *key);
    buf[o] = '\0';
}

/* Every key's variable, built once per load: env[i] is config_keys[i]'s. */
struct env_names {
    char name[CONFIG_KEYS_MAX][NAME_MAX_LEN];
    const char *ptr[CONFIG_KEYS_MAX];
};

static void env_names_build(struct env_names *en)
{
    for (size_t i = 0; i < config_nkeys; i++) {
        env_name(config_keys[i].key, en->name[i], sizeof(en->name[i]));
        en->ptr[i] = en->name[i];
    }
}

/*
 * @var (a DEMI_* variable) is neither a key's nor an alias: the error, with
 * the closest variable: by edit distance, or the one key whose variable
 * ends with what follows DEMI_ (DEMI_MTU: DEMI_INETSTACK_CONFIG_MTU).
 */
static int env_unknown(struct loader *ld, const struct env_names *en, const char *var)
{
    const char *tail = var + 5;
    size_t limit = config_suggest_limit(strlen(tail));
    struct suggestion s = {0};
    char shown[64], aliases[128] = "", *end;
    size_t o = 0;
    int u;

    for (size_t i = 0; i < config_nkeys; i++)
        config_consider(&s, var, en->name[i], limit, i, false);
    for (size_t i = 0; i < config_naliases; i++)
        config_consider(&s, var, config_aliases[i].env, limit, i, true);
    if (!s.found && *tail && (u = config_unique_tail(en->ptr, config_nkeys, '_', tail)) >= 0)
        config_consider(&s, en->name[u], en->name[u], 0, (size_t)u, false);
    /* The name unquoted: config_quote() without its first and last quote. */
    config_quote(var, strlen(var), shown, sizeof(shown));
    end = strrchr(shown, '"');
    memmove(end, end + 1, strlen(end + 1) + 1);
    if (s.found && s.alias)
        return config_fail(ld, EINVAL, "environment %s: not a libdemi variable; did you mean %s (alias of %s)?",
                           shown + 1, s.name, config_aliases[s.key].key);
    if (s.found)
        return config_fail(ld, EINVAL, "environment %s: not a libdemi variable; did you mean %s (key %s)?", shown + 1,
                           s.name, config_keys[s.key].key);
    for (size_t i = 0; i < config_naliases && o < sizeof(aliases); i++)
        o += (size_t)snprintf(aliases + o, sizeof(aliases) - o, "%s%s", i ? ", " : "", config_aliases[i].env);
    return config_fail(ld, EINVAL,
                       "environment %s: not a libdemi variable: a DEMI_* variable is DEMI_<KEY> for a key "
                       "demi-config lists, or one of %s",
                       shown + 1, aliases);
}

/* Space-separated, no quoting: enough for EAL flags, which hold no spaces. */
static int env_strlist(struct loader *ld, size_t i, const struct origin *o, const char *text)
{
    const char *items[CONFIG_EAL_ARGS_MAX];
    char *copy = strdup(text), *save = NULL, *tok;
    char got[64];
    int n = 0, ret;

    if (!copy)
        return config_fail(ld, ENOMEM, "config: out of memory");
    for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (n == CONFIG_EAL_ARGS_MAX) {
            free(copy);
            return config_value_error(ld, o, &config_keys[i], config_quote(text, strlen(text), got, sizeof(got)));
        }
        items[n++] = tok;
    }
    ret = config_set_strlist(ld, items, n);
    free(copy);
    return ret;
}

/* "mac=ip,mac=ip"; blanks around items are allowed, empty items skipped. */
static int env_arpmap(struct loader *ld, size_t i, const struct origin *o, const char *text)
{
    struct config_arp_entry e[CONFIG_ARP_TABLE_MAX];
    char *copy = strdup(text), *save = NULL, *tok;
    char got[64];
    int n = 0;

    if (!copy)
        return config_fail(ld, ENOMEM, "config: out of memory");
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq, *end;

        tok += strspn(tok, " \t");
        end = tok + strlen(tok);
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (!*tok)
            continue;
        eq = strchr(tok, '=');
        if (eq)
            *eq = '\0';
        if (n == CONFIG_ARP_TABLE_MAX || !eq || !config_parse_mac(tok, e[n].mac) ||
            !config_parse_ipv4(eq + 1, &e[n].ip)) {
            free(copy);
            /* Quote the whole variable: the offending item may be cut. */
            return config_value_error(ld, o, &config_keys[i], config_quote(text, strlen(text), got, sizeof(got)));
        }
        n++;
    }
    free(copy);
    config_set_arpmap(ld->cfg, e, n);
    return 0;
}

/* One variable's @text into key @i. */
static int env_apply(struct loader *ld, size_t i, const struct origin *o, const char *text)
{
    const struct config_key *k = &config_keys[i];
    char got[64];
    int ret = 0;

    if (k->type == CONFIG_T_STRLIST)
        ret = env_strlist(ld, i, o, text);
    else if (k->type == CONFIG_T_ARPMAP)
        ret = env_arpmap(ld, i, o, text);
    else if (!config_set_scalar(ld->cfg, k, text))
        ret = config_value_error(ld, o, k, config_quote(text, strlen(text), got, sizeof(got)));
    if (ret)
        return ret;
    config_mark_set(ld, i, o);
    return 0;
}

/* A presence switch's old spellings: set alone or to 1 means on. */
static const char *presence_text(const char *text)
{
    if (!*text || strcmp(text, "1") == 0)
        return "true";
    if (strcmp(text, "0") == 0)
        return "false";
    return text;
}

int config_load_env(struct loader *ld)
{
    struct env_names en;

    env_names_build(&en);
    /* A DEMI_* name we do not know is a mistake: nothing else uses ours. */
    for (char **e = environ; e && *e; e++) {
        char var[NAME_MAX_LEN];
        size_t n = strcspn(*e, "="), i;

        if (strncmp(*e, "DEMI_", 5) != 0)
            continue;
        if (strncmp(*e, "DEMI_SHIM", 9) == 0 && ((*e)[9] == '=' || (*e)[9] == '_'))
            continue; /* the preload shim's own (docs/shim.md), read by src/shim */
        snprintf(var, sizeof(var), "%.*s", (int)MIN(n, sizeof(var) - 1), *e);
        for (i = 0; n < sizeof(var) && i < config_nkeys && strcmp(var, en.name[i]) != 0; i++)
            ;
        if (n < sizeof(var) && i < config_nkeys)
            continue;
        for (i = 0; n < sizeof(var) && i < config_naliases && strcmp(var, config_aliases[i].env) != 0; i++)
            ;
        if (n < sizeof(var) && i < config_naliases)
            continue;
        return env_unknown(ld, &en, var);
    }
    for (size_t i = 0; i < config_nkeys; i++) {
        struct origin o = {.env = en.name[i]};
        const char *text = getenv(en.name[i]);
        int ret;

        if (text && (ret = env_apply(ld, i, &o, text)) != 0)
            return ret;
    }
    /* Aliases last: they win, as DEMI_LOG always won over the key. */
    for (size_t a = 0; a < config_naliases; a++) {
        const struct config_alias *al = &config_aliases[a];
        struct origin o = {.env = al->env, .alias = al};
        const char *text = getenv(al->env);
        int ret, i = config_find_key(al->key);

        if (!text)
            continue;
        if (i < 0)
            return config_fail(ld, EINVAL, "config: alias %s names no key (%s)", al->env, al->key);
        ret = env_apply(ld, (size_t)i, &o, al->presence ? presence_text(text) : text);
        if (ret)
            return ret;
    }
    return 0;
}
