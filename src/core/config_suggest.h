/* SPDX-License-Identifier: MIT */
/*
 * config_suggest.h: the closest key to a misspelled one (config.c's "did
 * you mean"): an edit distance that counts the swap of two neighbours as
 * one edit, a limit that scales with the name, and a "same last part"
 * fallback. Private header.
 */
#ifndef DEMI_CORE_CONFIG_SUGGEST_H
#define DEMI_CORE_CONFIG_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>

/* Longest dotted name config.c ever builds; longer YAML keys cannot be ours. */
#define NAME_MAX_LEN 128

struct suggestion {
    bool found;
    size_t dist;
    size_t key;              /* its key (or alias) index */
    bool alias;              /* config_aliases[key] */
    char name[NAME_MAX_LEN]; /* the closest candidate so far */
};

/* Optimal string alignment distance, ignoring case; SIZE_MAX when either
 * string is longer than NAME_MAX_LEN. */
size_t config_edit_distance(const char *a, const char *b);

/* Edits allowed for a suggestion to a name of @len characters. */
size_t config_suggest_limit(size_t len);

/* Keep @cand in @s when within @limit edits of @typed and closer than the
 * best so far (the first of equals). */
void config_consider(struct suggestion *s, const char *typed, const char *cand, size_t limit, size_t key, bool alias);

/* The one name of @names ending with @sep@tail, or -1 (none, or several). */
int config_unique_tail(const char *const *names, size_t n, char sep, const char *tail);

#endif /* DEMI_CORE_CONFIG_SUGGEST_H */
