/* SPDX-License-Identifier: MIT */
/*
 * tcp_cc.c: the table of congestion control modules, looked up by the name
 * the configuration gives ("tcp.cc"). The modules themselves are
 * tcp_cc_newreno.c and tcp_cc_cubic.c.
 */
#include "net/tcp.h"

#include "core/common.h"

#include <stddef.h>
#include <string.h>

static const struct tcp_cc_ops *const tcp_cc_modules[] = {
    &tcp_cc_cubic,
    &tcp_cc_newreno,
};

uint32_t tcp_cc_initial_window(uint32_t mss)
{
    return MIN(10 * mss, MAX(2 * mss, 14600u)); /* RFC 6928 2 */
}

/* The module called @name exactly, or NULL (unknown name, or no name). */
const struct tcp_cc_ops *tcp_cc_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < ARRAY_SIZE(tcp_cc_modules); i++)
        if (strcmp(tcp_cc_modules[i]->name, name) == 0)
            return tcp_cc_modules[i];
    return NULL;
}
