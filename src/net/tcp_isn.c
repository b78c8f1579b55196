/* SPDX-License-Identifier: MIT */
/*
 * tcp_isn.c: initial sequence numbers (RFC 6528 3):
 *
 *     ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 *
 * M is a timer that ticks every 4 microseconds (RFC 9293 3.4.1's clock, so
 * successive incarnations of one connection move forward through the
 * sequence space), F is SipHash-2-4 keyed by the per-stack secret
 * s->tcp.isn_key (filled from getrandom(2) at tcp_init), truncated to its low
 * 32 bits. An off-path attacker who does not know the key cannot predict F,
 * and F is constant for one 4-tuple, so the ISNs of one connection's
 * incarnations still grow with M.
 */
#include "net/tcp.h"

#include "core/clock.h"
#include "net/siphash.h"
#include "net/stack.h"

#include <string.h>

/* M ticks once per this many nanoseconds. */
#define TCP_ISN_TICK_NS 4000u

uint32_t tcp_new_isn(const struct tcp_pcb *pcb)
{
    const struct inet_stack *s = pcb->stack;
    uint8_t msg[36];
    size_t alen = pcb->v6 ? 16 : 4;
    uint32_t m, f;

    if (s->tcp.params.use_fixed_isn)
        return s->tcp.params.fixed_isn;

    /* The 4-tuple as it is on the wire (an IPv6 address whole): the values
     * are in network order and copied byte for byte, so the hash input does
     * not depend on the host. */
    memcpy(msg, pcb->v6 ? (const void *)&pcb->local_ip6 : (const void *)&pcb->local_ip, alen);
    memcpy(msg + alen, &pcb->local_port, 2);
    memcpy(msg + alen + 2, pcb->v6 ? (const void *)&pcb->remote_ip6 : (const void *)&pcb->remote_ip, alen);
    memcpy(msg + 2 * alen + 2, &pcb->remote_port, 2);
    f = (uint32_t)siphash24(s->tcp.isn_key, msg, 2 * alen + 4);

    m = (uint32_t)(clock_now_ns() / TCP_ISN_TICK_NS); /* wraps every ~4.77 h */
    return m + f;
}
