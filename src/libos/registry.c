/* SPDX-License-Identifier: MIT */
/*
 * registry.c: the table of libOSes (registry.h). A new libOS is one line
 * here and its constructor's prototype in libos/runtime.h.
 */
#include "libos/registry.h"

#include "core/common.h"
#include "libos/runtime.h"

#include <stdio.h>
#include <string.h>

static const struct libos_entry libos_table[] = {
    {"catnap", catnap_create, "Linux sockets + epoll"},
#ifdef DEMI_HAVE_DPDK
    {"catnip", catnip_create, "inet stack over DPDK"},
#else
    {"catnip", NULL, "inet stack over DPDK"},
#endif
    {"catpowder", catpowder_create, "inet stack over AF_PACKET / AF_XDP"},
    {"catmem", catmem_create, "shared-memory pipes"},
#ifdef DEMI_HAVE_URING
    {"cattree", cattree_create, "storage queues: durable logs over io_uring"},
#else
    {"cattree", NULL, "storage queues: durable logs over io_uring"},
#endif
    {"catloop", catloop_create, "loopback: inet stack in-process, or TCP over shared memory between processes"},
    {"cattest", cattest_create, "inet stack over a scripted device, in virtual time"},
};

const struct libos_entry *libos_registry_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(libos_table); i++)
        if (strcmp(libos_table[i].name, name) == 0)
            return &libos_table[i];
    return NULL;
}

void libos_registry_names(char *buf, size_t len)
{
    size_t n = ARRAY_SIZE(libos_table), at = 0;

    if (len == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < n && at < len; i++) {
        int w = snprintf(buf + at, len - at, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", libos_table[i].name);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}
