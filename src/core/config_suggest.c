/* SPDX-License-Identifier: MIT */
/* config_suggest.c: the closest key to a misspelled one, for "did you
 * mean" (config_suggest.h). */
#include "core/config_suggest.h"

#include "core/common.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/*
 * Optimal string alignment distance (Levenshtein plus the swap of two
 * neighbours, the commonest typo), ignoring case. SIZE_MAX when either
 * string is longer than any name of ours.
 */
size_t config_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][NAME_MAX_LEN + 1];
    size_t *pp = rows[0], *p = rows[1], *c = rows[2];

    if (la > NAME_MAX_LEN || lb > NAME_MAX_LEN)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        p[j] = j;
    for (size_t i = 1; i <= la; i++) {
        c[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
            size_t cost = ai != bj;
            size_t d = MIN(MIN(p[j] + 1, c[j - 1] + 1), p[j - 1] + cost);

            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) && tolower((unsigned char)a[i - 2]) == bj)
                d = MIN(d, pp[j - 2] + 1);
            c[j] = d;
        }
        size_t *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[lb];
}

/* Edits allowed for a suggestion to a name of @len characters: about one
 * in four, at least one, at most three; "foo" suggests nothing. */
size_t config_suggest_limit(size_t len)
{
    return MAX((size_t)1, MIN((size_t)3, (len + 2) / 4));
}

/* Keeps @cand when within @limit edits of @typed and closer than the best
 * so far (the first of equals: table order). */
void config_consider(struct suggestion *s, const char *typed, const char *cand, size_t limit, size_t key, bool alias)
{
    size_t d = config_edit_distance(typed, cand);

    if (d > limit || (s->found && d >= s->dist))
        return;
    s->found = true;
    s->dist = d;
    s->key = key;
    s->alias = alias;
    snprintf(s->name, sizeof(s->name), "%s", cand);
}

/* The one key whose name ends with @sep@tail, or -1 (none, or several). */
int config_unique_tail(const char *const *names, size_t n, char sep, const char *tail)
{
    size_t tl = strlen(tail);
    int found = -1;

    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        if (nl > tl && names[i][nl - tl - 1] == sep && strcasecmp(names[i] + nl - tl, tail) == 0) {
            if (found >= 0)
                return -1;
            found = (int)i;
        }
    }
    return found;
}
