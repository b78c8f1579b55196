/* SPDX-License-Identifier: MIT */
/*
 * inet_sockopt.c: socket options and names of the inet libOS
 * (demi_setsockopt, demi_getsockopt, demi_getpeername, demi_getsockname),
 * out of inet.c, which keeps sockets, data and events.
 */
#include "core/common.h"
#include "libos/inet_int.h"
#include "libos/sockopt.h"
#include "net/tcp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

/* Linux's limits: MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL (seconds) and
 * MAX_TCP_KEEPCNT (include/net/tcp.h). */
#define INET_KEEPIDLE_MAX 32767
#define INET_KEEPINTVL_MAX 32767
#define INET_KEEPCNT_MAX 127

/* TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT: this connection's keepalive
 * timing over the stack-wide tcp.keepalive_* (a listener's is inherited by
 * its connections). */
static int inet_set_keepalive_opt(struct tcp_pcb *pcb, int optname, int v)
{
    switch (optname) {
    case TCP_KEEPIDLE:
        if (v < 1 || v > INET_KEEPIDLE_MAX)
            return EINVAL;
        pcb->keep_idle_ns = (uint64_t)v * 1000000000ull;
        tcp_keep_retime(pcb); /* the idle time already passed counts */
        return 0;
    case TCP_KEEPINTVL:
        if (v < 1 || v > INET_KEEPINTVL_MAX)
            return EINVAL;
        pcb->keep_intvl_ns = (uint64_t)v * 1000000000ull;
        return 0; /* from the next probe on */
    default:
        if (v < 1 || v > INET_KEEPCNT_MAX)
            return EINVAL;
        pcb->keep_cnt = (uint32_t)v;
        return 0;
    }
}

/* Whole seconds, rounded up: the stack-wide default may be set in ms. */
static int inet_secs(uint64_t ns)
{
    uint64_t s = (ns + 999999999ull) / 1000000000ull;
    return s > INT32_MAX ? INT32_MAX : (int)s;
}

int inet_setsockopt(struct queue *q, int level, int optname, const void *optval, socklen_t optlen)
{
    struct tcp_pcb *pcb = isock(q)->pcb;
    socklen_t want = libos_sockopt_size(level, optname);
    int v = 0;

    /* IPPROTO_IPV6 (AF_INET6 sockets only, the api checked): IPV6_V6ONLY,
     * before bind as Linux (EINVAL after); the api keeps it in q->v6only,
     * which bind and listen hand to the stack. */
    if (level == IPPROTO_IPV6) {
        if (optname != IPV6_V6ONLY)
            return ENOPROTOOPT;
        if (optlen != want)
            return EINVAL;
        if (pcb ? pcb->local_port != 0 : isock(q)->udp.local_port != 0)
            return EINVAL;
        return 0;
    }
    if (want == 0 || (!pcb && !(level == SOL_SOCKET && optname == SO_REUSEADDR)))
        return ENOPROTOOPT;
    if (optlen != want)
        return EINVAL;
    if (optname == SO_LINGER && level == SOL_SOCKET) {
        const struct linger *l = optval;
        pcb->linger_zero = l->l_onoff && l->l_linger == 0;
        return 0;
    }
    memcpy(&v, optval, sizeof(v));
    if (!pcb) {
        isock(q)->udp.reuseaddr = v != 0; /* SO_REUSEADDR: sharing a port (udp_bind) */
        return 0;
    }
    if (level == IPPROTO_TCP) {
        if (optname != TCP_NODELAY)
            return inet_set_keepalive_opt(pcb, optname, v);
        pcb->nodelay = v != 0;
        tcp_output(pcb); /* held-back small segments may go now */
        return 0;
    }
    switch (optname) {
    case SO_KEEPALIVE:
        pcb->keepalive = v != 0;
        if (pcb->keepalive)
            tcp_keep_reset(pcb);
        return 0;
    case SO_REUSEADDR:
        pcb->reuseaddr = v != 0;
        return 0;
    case SO_RCVBUF:
    case SO_SNDBUF:
        if (v < 4096)
            return EINVAL;
        /* The window scale is fixed at the handshake: set buffers before. */
        if (optname == SO_RCVBUF)
            pcb->rcvbuf = (uint32_t)v;
        else
            pcb->sndbuf = (uint32_t)v;
        return 0;
    }
    return ENOPROTOOPT;
}

int inet_getsockopt(struct queue *q, int level, int optname, void *optval, socklen_t *optlen)
{
    struct tcp_pcb *pcb = isock(q)->pcb;
    socklen_t want = libos_sockopt_size(level, optname);
    int v;

    if (level == IPPROTO_IPV6) { /* as inet_setsockopt */
        if (optname != IPV6_V6ONLY)
            return ENOPROTOOPT;
        if (*optlen < want)
            return EINVAL;
        v = q->v6only;
        memcpy(optval, &v, sizeof(v));
        *optlen = want;
        return 0;
    }
    if (want == 0 || (!pcb && !(level == SOL_SOCKET && optname == SO_REUSEADDR)))
        return ENOPROTOOPT;
    if (*optlen < want)
        return EINVAL;
    *optlen = want;
    if (!pcb) {
        v = isock(q)->udp.reuseaddr;
        memcpy(optval, &v, sizeof(v));
        return 0;
    }
    if (level == SOL_SOCKET && optname == SO_LINGER) {
        struct linger l = {pcb->linger_zero ? 1 : 0, 0};
        memcpy(optval, &l, sizeof(l));
        return 0;
    }
    if (level == IPPROTO_TCP && optname == TCP_KEEPIDLE)
        v = inet_secs(pcb->keep_idle_ns);
    else if (level == IPPROTO_TCP && optname == TCP_KEEPINTVL)
        v = inet_secs(pcb->keep_intvl_ns);
    else if (level == IPPROTO_TCP && optname == TCP_KEEPCNT)
        v = (int)pcb->keep_cnt;
    else if (level == IPPROTO_TCP)
        v = pcb->nodelay;
    else if (optname == SO_KEEPALIVE)
        v = pcb->keepalive;
    else if (optname == SO_REUSEADDR)
        v = pcb->reuseaddr;
    else if (optname == SO_RCVBUF)
        v = (int)pcb->rcvbuf;
    else
        v = (int)pcb->sndbuf;
    memcpy(optval, &v, sizeof(v));
    return 0;
}

int inet_getpeername(struct queue *q, struct inet_sockaddr *addr)
{
    struct inet_sock *s = isock(q);

    if (s->pcb) {
        if (s->pcb->state < TCPS_SYN_RECEIVED)
            return ENOTCONN;
        inet_tcp_peer(s, s->pcb, addr);
        return 0;
    }

    if (!s->has_peer)
        return ENOTCONN;
    if (s->udp.peer_v6)
        inet_sockaddr_set_v6(addr, &s->udp.peer_ip6, s->udp.peer_port, 0);
    else
        inet_sockaddr_set_v4(addr, q->family, s->peer_ip, s->peer_port);
    return 0;
}

/* An AF_INET6 UDP socket's name: the address bound ([::], one of ours, or
 * IPv4-mapped), once connected from [::] the source its peer sees (the
 * IPv6 address ipv6_select_src picks, or our IPv4 address mapped). */
static void inet_udp6_sockname(struct inet_sock *s, struct inet_sockaddr *addr)
{
    struct in6_addr ip6 = s->udp.local_ip6;

    if (s->has_peer && s->udp.peer_v6 && IN6_IS_ADDR_UNSPECIFIED(&ip6)) {
        if (ipv6_select_src(&s->il->stack, &s->udp.peer_ip6, &ip6) != 0)
            memset(&ip6, 0, sizeof(ip6));
    } else if (s->has_peer && !s->udp.peer_v6 && !s->udp.local_ip && s->udp.rx_v4) {
        inet_sockaddr_set_v4(addr, AF_INET6, s->il->stack.ip, s->udp.local_port);
        return;
    }
    inet_sockaddr_set_v6(addr, &ip6, s->udp.local_port, 0);
}

/* Linux's answers: 0.0.0.0:0 before bind or connect (the api's zeroed
 * address), the address and port bound, and once connected the local
 * address in use (a UDP socket bound to 0.0.0.0 sends from ours). */
int inet_getsockname(struct queue *q, struct inet_sockaddr *addr)
{
    struct inet_sock *s = isock(q);
    uint32_t ip;

    if (s->pcb && s->pcb->v6) {
        inet_sockaddr_set_v6(addr, &s->pcb->local_ip6, s->pcb->local_port, 0);
        return 0;
    }
    if (s->pcb) {
        inet_sockaddr_set_v4(addr, q->family, s->pcb->local_ip, s->pcb->local_port);
        return 0;
    }
    if (s->udp.v6) {
        inet_udp6_sockname(s, addr);
        return 0;
    }
    ip = s->udp.local_ip;
    if (!ip && s->has_peer)
        ip = s->il->stack.ip;
    inet_sockaddr_set_v4(addr, q->family, ip, s->udp.local_port);
    return 0;
}
