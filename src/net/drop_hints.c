/* SPDX-License-Identifier: MIT */
/*
 * drop_hints.c: drops that speak. Every drop is counted under its cause
 * (stats.h); the causes that usually mean a misconfiguration also say so,
 * once: a warning that names the likely cause and the fix, after a few
 * drops of the kind (one bad checksum is noise, a run of them is a peer
 * that offloads its checksums), then at most once a minute per kind.
 * Called on drop paths only, never on the datapath proper.
 */
#include "net/drop_hints.h"

#include "core/clock.h"
#include "core/log.h"
#include "net/proto.h"
#include "net/stack.h"

#include <arpa/inet.h>
#include <stdio.h>

#define HINT_QUIET_NS (60ull * 1000000000ull)
#define HINT_RUN_NS (10ull * 1000000000ull)

/* Drops of a kind within 10 s before its warning: a few for what a stray
 * frame can cause (a connect whose SYNs all fail their checksum sends 3 in
 * its first 2 s), the first for what never happens in a working setup. */
static const uint32_t hint_threshold[INET_HINT_KINDS] = {
    [INET_HINT_CSUM] = 3, [INET_HINT_MAC] = 8,       [INET_HINT_IP] = 8,
    [INET_HINT_ARP] = 1,  [INET_HINT_UDP_QUEUE] = 1, [INET_HINT_TX_FULL] = 1,
};

static const char *ip_str(uint32_t ip, char *b, size_t n)
{
    return inet_ntop(AF_INET, &ip, b, (socklen_t)n) ? b : "?";
}

static const char *mac_str(const uint8_t *m, char *b, size_t n)
{
    snprintf(b, n, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return b;
}

void inet_hint_slow(struct inet_stack *s, enum inet_hint h, uint32_t addr, const uint8_t *mac, uint32_t n)
{
    struct inet_hint_state *st = &s->hints[h];
    uint64_t now = clock_now_ns();
    char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], m1[18], m2[18];
    uint32_t count;

    if (st->count == 0 || now - st->first_ns > HINT_RUN_NS) {
        st->count = 0;
        st->first_ns = now;
    }
    if (++st->count < hint_threshold[h] || (st->warned && now - st->last_ns < HINT_QUIET_NS))
        return;
    count = st->count;
    st->count = 0;
    st->warned = true;
    st->last_ns = now;
    switch (h) {
    case INET_HINT_CSUM:
        log_warn(
            "%s: %u packets with bad %s checksums, the last from %s: the peer may offload its transmit "
            "checksums (a veth or tap peer: ethtool -K <its interface> tx off), or frames are corrupted on the way",
            s->dev->name, count,
            n == IPV4_PROTO_TCP   ? "TCP"
            : n == IPV4_PROTO_UDP ? "UDP"
            : n == 0              ? "IPv4 header"
                                  : "ICMP",
            ip_str(addr, a, sizeof(a)));
        break;
    case INET_HINT_MAC:
        log_warn("%s: %u frames for MAC %s, not ours (%s): a peer's ARP cache may hold another MAC for our address, "
                 "or demikernel.local_link_addr differs from the interface's MAC",
                 s->dev->name, count, mac_str(mac, m1, sizeof(m1)), mac_str(s->mac, m2, sizeof(m2)));
        break;
    case INET_HINT_IP:
        log_warn("%s: %u IPv4 packets for %s, not our address %s: check demikernel.local_ipv4_addr, and that peers "
                 "use libdemi's address (not the kernel's address of the interface)",
                 s->dev->name, count, ip_str(addr, a, sizeof(a)), ip_str(s->ip, b, sizeof(b)));
        break;
    case INET_HINT_ARP:
        log_warn("%s: no ARP answer from %s after %u requests: it is down, not on this link, or its address is "
                 "wrong (a permanent entry: inetstack_config.arp_table)",
                 s->dev->name, ip_str(addr, a, sizeof(a)), n);
        break;
    case INET_HINT_UDP_QUEUE:
        log_warn("%s: UDP datagrams to port %u dropped: the socket's receive queue is full (the application pops "
                 "more slowly than they arrive)",
                 s->dev->name, n);
        break;
    case INET_HINT_TX_FULL:
        log_warn("%s: frames dropped: the device's transmit queue and libdemi's (%u frames) are full; the peer or "
                 "the NIC drains more slowly than the stack sends",
                 s->dev->name, n);
        break;
    default:
        break;
    }
}
