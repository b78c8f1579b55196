/* SPDX-License-Identifier: MIT */
/*
 * sockopt.h: the socket options PDPIX supports (SO_LINGER, SO_KEEPALIVE,
 * SO_REUSEADDR, SO_RCVBUF, SO_SNDBUF, TCP_NODELAY, TCP_KEEP*, IPV6_V6ONLY), one list
 * for every libOS with sockets (catnap passes them to Linux, inet applies
 * them to its own stack). Private header.
 */
#ifndef DEMI_LIBOS_SOCKOPT_H
#define DEMI_LIBOS_SOCKOPT_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* The size of the option's value; 0 when PDPIX does not support it. */
static inline socklen_t libos_sockopt_size(int level, int optname)
{
    if (level == SOL_SOCKET) {
        switch (optname) {
        case SO_LINGER:
            return sizeof(struct linger);
        case SO_KEEPALIVE:
        case SO_REUSEADDR:
        case SO_RCVBUF:
        case SO_SNDBUF:
            return sizeof(int);
        }
    } else if (level == IPPROTO_IPV6) {
        /* AF_INET6 sockets only: the api answers ENOPROTOOPT on others. */
        if (optname == IPV6_V6ONLY)
            return sizeof(int);
    } else if (level == IPPROTO_TCP) {
        switch (optname) {
        case TCP_NODELAY:
        case TCP_KEEPIDLE:
        case TCP_KEEPINTVL:
        case TCP_KEEPCNT:
            return sizeof(int);
        }
    }
    return 0;
}

#endif /* DEMI_LIBOS_SOCKOPT_H */
