/* SPDX-License-Identifier: MIT */
/*
 * config.c: load struct demi_config from built-in defaults, a YAML file and
 * DEMI_* environment variables, all driven by the config_keys[] table
 * (config_keys.c: every key, its type, bounds, default and help).
 *
 * Every value, whatever its origin (default text, YAML scalar, environment),
 * goes through the same validators, so a default can never hold a value the
 * file could not. No global state: everything lives in the caller's struct
 * and in the loader context on the stack.
 *
 * A name that is not a key fails the load when it can only be a mistake: a
 * key in one of our sections that neither we nor Demikernel define, or a
 * DEMI_* variable that is neither DEMI_<KEY> nor an alias. The message
 * suggests the closest key (edit distance, or the same leaf in another
 * section). Anything else we do not use (Demikernel's own sections and keys,
 * an application's sections) is listed in cfg->ignored. The DEMI_*
 * variables are read by config_env.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* GNU strerror_r */
#endif

#include "core/config.h"
#include "core/config_load.h"
#include "core/config_suggest.h"

#include "core/common.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

/* Bound on cfg->ignored so a hostile file cannot make us hoard memory. */
#define IGNORED_MAX 8192

int config_fail(struct loader *ld, int ret, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ld->err, ld->errlen, fmt, ap);
    va_end(ap);
    return ret;
}

/* Writes @s as a short double-quoted string fit for a one-line message. */
const char *config_quote(const char *s, size_t len, char *buf, size_t size)
{
    const size_t show_max = 48;
    size_t o = 0;

    buf[o++] = '"';
    for (size_t i = 0; i < len && i < show_max && o + 6 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[o++] = (c < 0x20 || c == 0x7f || c == '"') ? '?' : (char)c;
    }
    buf[o++] = '"';
    if (len > show_max && o + 4 < size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a sequence";
    default:
        return "a scalar";
    }
}

/* YAML's null: an empty plain scalar, "~" or "null". */
static bool node_is_null(const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;

    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (v[0] == '\0' || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0);
}

/* A scalar usable as C text: no NUL hidden inside by a "\0" escape. */
static bool scalar_is_text(const yaml_node_t *n)
{
    return strlen((const char *)n->data.scalar.value) == n->data.scalar.length;
}

static void *field(struct demi_config *cfg, size_t offset)
{
    return (char *)cfg + offset;
}

/* The phrase after "expected" for key @k; @env selects the env syntax. */
static void expected_form(const struct config_key *k, bool env, char *buf, size_t size)
{
    switch (k->type) {
    case CONFIG_T_BOOL:
        snprintf(buf, size, "a boolean (true/false, yes/no or on/off)");
        break;
    case CONFIG_T_U32:
        snprintf(buf, size, "an integer in %u..%u", k->min, k->max);
        break;
    case CONFIG_T_STRING:
        if (k->choices)
            snprintf(buf, size, "one of %s", k->choices);
        else
            snprintf(buf, size, "a string of at most %u characters", k->max - 1);
        break;
    case CONFIG_T_IPV4:
        snprintf(buf, size, "an IPv4 address like 192.168.1.2");
        break;
    case CONFIG_T_IPV6:
        snprintf(buf, size, "a unicast IPv6 address like fd00::2 (not link-local: that one is made from the MAC)");
        break;
    case CONFIG_T_MAC:
        snprintf(buf, size, "a MAC address like 02:00:00:00:00:01");
        break;
    case CONFIG_T_STRLIST:
        if (env)
            snprintf(buf, size, "at most %d space-separated arguments", CONFIG_EAL_ARGS_MAX);
        else
            snprintf(buf, size, "a sequence of at most %d strings like [\"\", \"--no-huge\"]", CONFIG_EAL_ARGS_MAX);
        break;
    case CONFIG_T_ARPMAP:
        if (env)
            snprintf(buf, size,
                     "at most %d comma-separated MAC=IPv4 entries like "
                     "02:00:00:00:00:01=192.168.1.2",
                     CONFIG_ARP_TABLE_MAX);
        else
            snprintf(buf, size,
                     "a mapping of at most %d \"MAC\": \"IPv4\" entries like "
                     "\"02:00:00:00:00:01\": \"192.168.1.2\"",
                     CONFIG_ARP_TABLE_MAX);
        break;
    }
}

/* @got is already formatted: a quoted value, or "a mapping", etc. */
int config_value_error(struct loader *ld, const struct origin *o, const struct config_key *k, const char *got)
{
    char exp[160];

    expected_form(k, o->env != NULL, exp, sizeof(exp));
    if (o->alias)
        return config_fail(ld, EINVAL, "environment %s (alias of %s): expected %s%s, got %s", o->env, k->key,
                           o->alias->presence ? "1, 0 or " : "", exp, got);
    if (o->env)
        return config_fail(ld, EINVAL, "environment %s: expected %s, got %s", o->env, exp, got);
    return config_fail(ld, EINVAL, "config %s: key %s: expected %s, got %s (line %zu)", ld->path, k->key, exp, got,
                       o->line);
}

void config_mark_set(struct loader *ld, size_t i, const struct origin *o)
{
    const char tcp[] = "tcp_socket_options.";

    ld->cfg->source[i] = o->alias ? CONFIG_SRC_ALIAS : o->env ? CONFIG_SRC_ENV : CONFIG_SRC_FILE;
    /* The libOS applies these only when the user asked for any of them. */
    if (strncmp(config_keys[i].key, tcp, sizeof(tcp) - 1) == 0)
        ld->cfg->tcp_options_from_file = true;
}

/* Parses a scalar type into its field; false leaves the field untouched. */
bool config_set_scalar(struct demi_config *cfg, const struct config_key *k, const char *s)
{
    void *p = field(cfg, k->offset);
    bool ok = false;

    switch (k->type) {
    case CONFIG_T_BOOL:
        ok = config_parse_bool(s, p);
        break;
    case CONFIG_T_U32:
        ok = config_parse_u32(s, k->min, k->max, p);
        break;
    case CONFIG_T_STRING:
        ok = config_parse_string(k, s, p);
        break;
    case CONFIG_T_IPV4:
        ok = config_parse_ipv4(s, p);
        break;
    case CONFIG_T_IPV6:
        ok = config_parse_ipv6(s, p);
        break;
    case CONFIG_T_MAC:
        ok = config_parse_mac(s, p);
        break;
    case CONFIG_T_STRLIST:
    case CONFIG_T_ARPMAP:
        break;
    }
    if (ok && k->has_offset != SIZE_MAX)
        *(bool *)field(cfg, k->has_offset) = true;
    return ok;
}

/* Replaces eal_argv by copies of @items; the old strings are freed. */
int config_set_strlist(struct loader *ld, const char *const *items, int n)
{
    struct demi_config *cfg = ld->cfg;
    char *copy[CONFIG_EAL_ARGS_MAX];

    for (int i = 0; i < n; i++) {
        copy[i] = strdup(items[i]);
        if (!copy[i]) {
            while (i--)
                free(copy[i]);
            return config_fail(ld, ENOMEM, "config: out of memory");
        }
    }
    for (int i = 0; i < CONFIG_EAL_ARGS_MAX; i++) {
        free(cfg->eal_argv[i]);
        cfg->eal_argv[i] = i < n ? copy[i] : NULL;
    }
    cfg->eal_argc = n;
    return 0;
}

void config_set_arpmap(struct demi_config *cfg, const struct config_arp_entry *e, int n)
{
    memset(cfg->arp_table, 0, sizeof(cfg->arp_table));
    if (n)
        memcpy(cfg->arp_table, e, (size_t)n * sizeof(*e));
    cfg->arp_table_len = n;
}

int config_find_key(const char *name)
{
    for (size_t i = 0; i < config_nkeys; i++)
        if (strcmp(config_keys[i].key, name) == 0)
            return (int)i;
    return -1;
}

/* True when @name is a proper prefix section of some key. */
static bool is_section(const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < config_nkeys; i++)
        if (strncmp(config_keys[i].key, name, len) == 0 && config_keys[i].key[len] == '.')
            return true;
    return false;
}

/* ---- YAML file ---- */

static void add_ignored(struct loader *ld, const char *name)
{
    size_t len = strlen(name);
    char *p;

    if (ld->ignored_len + len + 2 > IGNORED_MAX)
        return;
    p = realloc(ld->ignored, ld->ignored_len + len + 2);
    if (!p)
        return; /* only informative: losing it is harmless */
    memcpy(p + ld->ignored_len, name, len);
    p[ld->ignored_len + len] = '\n';
    p[ld->ignored_len + len + 1] = '\0';
    ld->ignored = p;
    ld->ignored_len += len + 1;
}

static int file_strlist(struct loader *ld, size_t i, const struct origin *o, yaml_document_t *doc, yaml_node_t *n)
{
    const char *items[CONFIG_EAL_ARGS_MAX];
    char got[96];
    int count = 0;

    if (node_is_null(n))
        return config_set_strlist(ld, items, 0);
    if (n->type != YAML_SEQUENCE_NODE) {
        if (n->type == YAML_SCALAR_NODE) {
            char q[64];
            snprintf(got, sizeof(got), "the scalar %s",
                     config_quote((const char *)n->data.scalar.value, n->data.scalar.length, q, sizeof(q)));
        } else {
            snprintf(got, sizeof(got), "%s", node_kind(n));
        }
        return config_value_error(ld, o, &config_keys[i], got);
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(doc, *it);

        if (count == CONFIG_EAL_ARGS_MAX) {
            snprintf(got, sizeof(got), "%td strings", n->data.sequence.items.top - n->data.sequence.items.start);
            return config_value_error(ld, o, &config_keys[i], got);
        }
        if (!item || item->type != YAML_SCALAR_NODE || !scalar_is_text(item)) {
            snprintf(got, sizeof(got), "%s as item %d", item ? node_kind(item) : "nothing", count);
            return config_value_error(ld, o, &config_keys[i], got);
        }
        items[count++] = (const char *)item->data.scalar.value;
    }
    return config_set_strlist(ld, items, count);
}

static int file_arpmap(struct loader *ld, size_t i, const struct origin *o, yaml_document_t *doc, yaml_node_t *n)
{
    struct config_arp_entry e[CONFIG_ARP_TABLE_MAX];
    char got[160];
    int count = 0;

    if (node_is_null(n)) {
        config_set_arpmap(ld->cfg, e, 0);
        return 0;
    }
    if (n->type != YAML_MAPPING_NODE)
        return config_value_error(ld, o, &config_keys[i], node_kind(n));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(doc, p->value);
        bool ks = kn && kn->type == YAML_SCALAR_NODE && scalar_is_text(kn);
        bool vs = vn && vn->type == YAML_SCALAR_NODE && scalar_is_text(vn);

        if (count == CONFIG_ARP_TABLE_MAX) {
            snprintf(got, sizeof(got), "%td entries", n->data.mapping.pairs.top - n->data.mapping.pairs.start);
            return config_value_error(ld, o, &config_keys[i], got);
        }
        if (!ks || !vs || !config_parse_mac((const char *)kn->data.scalar.value, e[count].mac) ||
            !config_parse_ipv4((const char *)vn->data.scalar.value, &e[count].ip)) {
            char qk[64], qv[64];
            struct origin at = {.line = (kn ? kn->start_mark.line : 0) + 1};

            snprintf(got, sizeof(got), "%s: %s",
                     ks ? config_quote((const char *)kn->data.scalar.value, kn->data.scalar.length, qk, sizeof(qk))
                        : (kn ? node_kind(kn) : "nothing"),
                     vs ? config_quote((const char *)vn->data.scalar.value, vn->data.scalar.length, qv, sizeof(qv))
                        : (vn ? node_kind(vn) : "nothing"));
            return config_value_error(ld, &at, &config_keys[i], got);
        }
        count++;
    }
    config_set_arpmap(ld->cfg, e, count);
    return 0;
}

static int file_value(struct loader *ld, size_t i, yaml_document_t *doc, yaml_node_t *n)
{
    const struct config_key *k = &config_keys[i];
    struct origin o = {.line = n->start_mark.line + 1};
    char got[64];
    int ret = 0;

    if (k->type == CONFIG_T_STRLIST)
        ret = file_strlist(ld, i, &o, doc, n);
    else if (k->type == CONFIG_T_ARPMAP)
        ret = file_arpmap(ld, i, &o, doc, n);
    else if (n->type != YAML_SCALAR_NODE)
        ret = config_value_error(ld, &o, k, node_kind(n));
    else if (!scalar_is_text(n) || !config_set_scalar(ld->cfg, k, (const char *)n->data.scalar.value))
        ret = config_value_error(
            ld, &o, k, config_quote((const char *)n->data.scalar.value, n->data.scalar.length, got, sizeof(got)));
    if (ret)
        return ret;
    config_mark_set(ld, i, &o);
    return 0;
}

/* Demikernel's, not ours: ignored with a warning rather than refused. */
static bool is_foreign(const char *name)
{
    for (size_t i = 0; i < config_nforeign_keys; i++)
        if (strcmp(config_foreign_keys[i], name) == 0)
            return true;
    return false;
}

/* True when @name is inside one of our sections ("libdemi.x", "tcp.y.z"). */
static bool in_our_section(const char *name)
{
    const char *dot = strchr(name, '.');
    char first[NAME_MAX_LEN];

    if (!dot || (size_t)(dot - name) >= sizeof(first))
        return false;
    memcpy(first, name, (size_t)(dot - name));
    first[dot - name] = '\0';
    return is_section(first);
}

/*
 * The closest key or section to @name, a dotted name in one of our sections
 * that is neither: by edit distance (allowed edits scaled to the last
 * component, the part typed in that section), or else the one key with
 * the same name in another section (libdemi.mtu: inetstack_config.mtu).
 */
static bool file_suggest(const char *name, struct suggestion *s)
{
    const char *tail = strchr(name, '.') + 1;
    size_t limit = config_suggest_limit(strlen(strrchr(name, '.') + 1));
    const char *keys[CONFIG_KEYS_MAX];
    char sect[NAME_MAX_LEN];
    int u;

    for (size_t i = 0; i < config_nkeys; i++) {
        const char *k = config_keys[i].key;

        keys[i] = k;
        config_consider(s, name, k, limit, i, false);
        for (const char *d = strchr(k, '.'); d; d = strchr(d + 1, '.')) {
            snprintf(sect, sizeof(sect), "%.*s", (int)(d - k), k);
            config_consider(s, name, sect, limit, i, false);
        }
    }
    if (!s->found && (u = config_unique_tail(keys, config_nkeys, '.', tail)) >= 0)
        config_consider(s, keys[u], keys[u], 0, (size_t)u, false);
    return s->found;
}

static int file_unknown(struct loader *ld, const char *name, size_t line)
{
    struct suggestion s = {0};

    if (file_suggest(name, &s))
        return config_fail(ld, EINVAL, "config %s: key %s: no such key (line %zu); did you mean %s?", ld->path, name,
                           line, s.name);
    return config_fail(ld, EINVAL, "config %s: key %s: no such key (line %zu); demi-config lists every key", ld->path,
                       name, line);
}

/* A top-level name not ours: listed, with our section it resembles. */
static void ignore_top(struct loader *ld, const char *name)
{
    struct suggestion s = {0};
    char sect[NAME_MAX_LEN], note[2 * NAME_MAX_LEN + 32];

    for (size_t i = 0; i < config_nkeys; i++) {
        const char *k = config_keys[i].key;

        snprintf(sect, sizeof(sect), "%.*s", (int)strcspn(k, "."), k);
        config_consider(&s, name, sect, config_suggest_limit(strlen(name)), i, false);
    }
    if (!s.found) {
        add_ignored(ld, name);
        return;
    }
    snprintf(note, sizeof(note), "%s (did you mean %s?)", name, s.name);
    add_ignored(ld, note);
}

/*
 * Walks mapping @map whose dotted name is @prefix ("" at the top). Recursion
 * only follows sections of our keys, so depth is bounded by the table and
 * an alias cycle cannot loop: names grow at each level. In our sections a
 * name is a key, a section, one of Demikernel's keys (ignored) or an error;
 * at the top, any other section is ignored.
 */
static int walk(struct loader *ld, yaml_document_t *doc, yaml_node_t *map, const char *prefix)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(doc, p->value);
        char name[NAME_MAX_LEN];
        int idx, len, ret;

        if (!kn || !vn)
            continue;
        if (kn->type != YAML_SCALAR_NODE || !scalar_is_text(kn)) {
            if (*prefix)
                return config_fail(ld, EINVAL, "config %s: key %s: expected names inside, got %s as key (line %zu)",
                                   ld->path, prefix, node_kind(kn), kn->start_mark.line + 1);
            snprintf(name, sizeof(name), "(%s as key)", node_kind(kn));
            add_ignored(ld, name);
            continue;
        }
        len = snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "", (const char *)kn->data.scalar.value);
        if (len < 0 || (size_t)len >= sizeof(name)) {
            /* Too long to be ours; shown truncated. */
            if (in_our_section(name))
                return file_unknown(ld, name, kn->start_mark.line + 1);
            add_ignored(ld, name);
            continue;
        }
        idx = config_find_key(name);
        if (idx >= 0) {
            ret = file_value(ld, (size_t)idx, doc, vn);
            if (ret)
                return ret;
        } else if (is_section(name)) {
            if (node_is_null(vn))
                continue; /* a section left empty, everything commented out */
            if (vn->type != YAML_MAPPING_NODE)
                return config_fail(ld, EINVAL, "config %s: key %s: expected a mapping (a section), got %s (line %zu)",
                                   ld->path, name, node_kind(vn), vn->start_mark.line + 1);
            ret = walk(ld, doc, vn, name);
            if (ret)
                return ret;
        } else if (is_foreign(name)) {
            add_ignored(ld, name);
        } else if (in_our_section(name)) {
            return file_unknown(ld, name, kn->start_mark.line + 1);
        } else {
            ignore_top(ld, name); /* Demikernel's sections, the application's */
        }
    }
    return 0;
}

static int yaml_error(struct loader *ld, const yaml_parser_t *parser)
{
    if (parser->error == YAML_MEMORY_ERROR)
        return config_fail(ld, ENOMEM, "config %s: out of memory", ld->path);
    if (parser->error == YAML_READER_ERROR)
        return config_fail(ld, EINVAL, "config %s: invalid YAML input: %s at byte %zu", ld->path,
                           parser->problem ? parser->problem : "error", parser->problem_offset);
    if (parser->context)
        return config_fail(ld, EINVAL, "config %s:%zu:%zu: invalid YAML: %s (%s at line %zu)", ld->path,
                           parser->problem_mark.line + 1, parser->problem_mark.column + 1,
                           parser->problem ? parser->problem : "syntax error", parser->context,
                           parser->context_mark.line + 1);
    return config_fail(ld, EINVAL, "config %s:%zu:%zu: invalid YAML: %s", ld->path, parser->problem_mark.line + 1,
                       parser->problem_mark.column + 1, parser->problem ? parser->problem : "syntax error");
}

static int load_file(struct loader *ld, const char *path)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    yaml_node_t *root;
    struct stat st;
    char ebuf[128];
    FILE *f;
    int ret = 0;

    if (strlen(path) >= sizeof(ld->cfg->path))
        return config_fail(ld, EINVAL, "config %.64s...: path longer than %d bytes", path, CONFIG_PATH_MAX - 1);
    strcpy(ld->cfg->path, path);
    ld->path = ld->cfg->path;

    f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        config_fail(ld, EINVAL, "config %s: cannot open: %s", path, strerror_r(e, ebuf, sizeof(ebuf)));
        return e == ENOENT ? ENOENT : EINVAL;
    }
    /* fopen() succeeds on a directory; reading it would fail obscurely. */
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return config_fail(ld, EINVAL, "config %s: cannot open: %s", path, strerror_r(EISDIR, ebuf, sizeof(ebuf)));
    }

    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return config_fail(ld, ENOMEM, "config %s: out of memory", path);
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        ret = yaml_error(ld, &parser);
        goto out;
    }
    root = yaml_document_get_root_node(&doc);
    if (root && !node_is_null(root)) {
        if (root->type != YAML_MAPPING_NODE)
            ret = config_fail(ld, EINVAL, "config %s: expected a mapping of sections at the top, got %s (line %zu)",
                              path, node_kind(root), root->start_mark.line + 1);
        else
            ret = walk(ld, &doc, root, "");
    }
    yaml_document_delete(&doc);
    if (ret)
        goto out;

    /* A second document would be silently dropped: refuse it instead. */
    if (!yaml_parser_load(&parser, &extra)) {
        ret = yaml_error(ld, &parser);
        goto out;
    }
    root = yaml_document_get_root_node(&extra);
    if (root)
        ret = config_fail(ld, EINVAL, "config %s: expected a single YAML document, found another at line %zu", path,
                          root->start_mark.line + 1);
    yaml_document_delete(&extra);
out:
    yaml_parser_delete(&parser);
    fclose(f);
    return ret;
}

static int load_defaults(struct loader *ld)
{
    for (size_t i = 0; i < config_nkeys; i++) {
        const struct config_key *k = &config_keys[i];

        if (k->def && !config_set_scalar(ld->cfg, k, k->def))
            return config_fail(ld, EINVAL, "config: built-in default of key %s is invalid: \"%s\"", k->key, k->def);
        ld->cfg->source[i] = CONFIG_SRC_DEFAULT;
    }
    return 0;
}

int config_defaults(struct demi_config *cfg)
{
    struct loader ld = {.cfg = cfg, .path = ""};

    memset(cfg, 0, sizeof(*cfg));
    return load_defaults(&ld);
}

int config_load(struct demi_config *cfg, const char *path, char *err, size_t errlen)
{
    struct loader ld = {.cfg = cfg, .err = err, .errlen = err ? errlen : 0, .path = ""};
    char path_copy[CONFIG_PATH_MAX];
    int ret;

    if (err && errlen)
        err[0] = '\0';
    if (!cfg)
        return config_fail(&ld, EINVAL, "config: no struct to fill");
    /* Reloading with path = cfg->path must survive the memset below. */
    if (path && strlen(path) < sizeof(path_copy))
        path = strcpy(path_copy, path);
    memset(cfg, 0, sizeof(*cfg));

    ret = load_defaults(&ld);
    if (!ret && path && path[0])
        ret = load_file(&ld, path);
    if (!ret)
        ret = config_load_env(&ld);
    /* A jumbo MTU is asked for twice, as in Demikernel's own files: an MTU
     * set for a jumbo link by mistake would otherwise size every buffer. */
    if (!ret && cfg->mtu > CONFIG_MTU_STANDARD && !cfg->enable_jumbo_frames)
        ret = config_fail(&ld, EINVAL,
                          "%s%s%sinetstack_config.mtu %u is a jumbo MTU (above %u): set "
                          "inetstack_config.enable_jumbo_frames: true as well",
                          ld.path[0] ? "config " : "", ld.path, ld.path[0] ? ": " : "", cfg->mtu, CONFIG_MTU_STANDARD);
    if (ret) {
        free(ld.ignored);
        config_free(cfg);
        return ret;
    }
    cfg->ignored = ld.ignored;
    return 0;
}

enum config_source config_key_source(const struct demi_config *cfg, const char *key)
{
    int i = config_find_key(key);

    return i < 0 ? CONFIG_SRC_DEFAULT : (enum config_source)cfg->source[i];
}

bool config_ignored_warning(const struct demi_config *cfg, char *buf, size_t size)
{
    const char *line;
    size_t o, left = 0;
    int n;

    if (!cfg || !cfg->ignored || !cfg->ignored[0] || !size)
        return false;
    for (line = cfg->ignored; *line; line++)
        left += *line == '\n';
    n = snprintf(buf, size, "libdemi ignores these keys of %s:", cfg->path);
    o = n < 0 ? 0 : MIN((size_t)n, size - 1);
    for (line = cfg->ignored; *line; left--) {
        int len = (int)strcspn(line, "\n");
        /* Room for this one and, should more follow, the count of those. */
        size_t need = (size_t)len + 2 + (left > 1 ? 48 : 0);

        if (o + need >= size) {
            snprintf(buf + o, size - o, " ... and %zu more (demi-config lists them)", left);
            return true;
        }
        o += (size_t)snprintf(buf + o, size - o, "%s %.*s", line == cfg->ignored ? "" : ",", len, line);
        line += len + (line[len] == '\n');
    }
    return true;
}

void config_free(struct demi_config *cfg)
{
    if (!cfg)
        return;
    /* The whole array, not eal_argc: robust to a half-built struct. */
    for (int i = 0; i < CONFIG_EAL_ARGS_MAX; i++) {
        free(cfg->eal_argv[i]);
        cfg->eal_argv[i] = NULL;
    }
    cfg->eal_argc = 0;
    free(cfg->ignored);
    cfg->ignored = NULL;
}
