/* SPDX-License-Identifier: MIT */
/*
 * config_values.c: the validators every configuration value goes through,
 * whatever its origin (default, YAML, environment; config.c): text to
 * value, false when the text is not acceptable.
 */
#include "core/config.h"
#include "core/config_load.h"

#include "core/common.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool config_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};

    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Decimal digits only: "0x10", "-1", "+5", " 5" and "1e3" are all refused. */
bool config_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v = 0;

    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > UINT32_MAX)
            return false;
    }
    if (v < lo || v > hi)
        return false;
    *out = (uint32_t)v;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly six two-digit hex groups separated by ':'. */
bool config_parse_mac(const char *s, uint8_t mac[6])
{
    uint8_t m[6];

    if (strlen(s) != 17)
        return false;
    for (int i = 0; i < 6; i++) {
        int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
            return false;
        m[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(mac, m, 6);
    return true;
}

bool config_parse_ipv4(const char *s, struct in_addr *out)
{
    /* inet_pton, unlike inet_aton, takes only the dotted-quad form. */
    return inet_pton(AF_INET, s, out) == 1;
}

bool config_parse_ipv6(const char *s, struct in6_addr *out)
{
    struct in6_addr a;

    /* An address a host may own beside its link-local one (made from the
     * MAC): not ::, ::1, a group, fe80::/10, nor an IPv4-mapped one. */
    if (inet_pton(AF_INET6, s, &a) != 1 || IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LOOPBACK(&a) ||
        IN6_IS_ADDR_MULTICAST(&a) || IN6_IS_ADDR_LINKLOCAL(&a) || IN6_IS_ADDR_V4MAPPED(&a))
        return false;
    *out = a;
    return true;
}

/* Fits the array with its NUL, no control characters, one of the choices. */
bool config_parse_string(const struct config_key *k, const char *s, char *out)
{
    size_t len = strlen(s);

    if (len >= k->max)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    if (k->choices) {
        /* Case-insensitive match, stored as spelt in the table. */
        const char *c = k->choices;
        for (;;) {
            size_t n = strcspn(c, "|");
            if (n == len && strncasecmp(c, s, n) == 0) {
                memcpy(out, c, n);
                out[n] = '\0';
                return true;
            }
            if (!c[n])
                return false;
            c += n + 1;
        }
    }
    memcpy(out, s, len + 1);
    return true;
}
