/* SPDX-License-Identifier: MIT */
/*
 * inet_int.h: the inet libOS's own objects, shared by inet.c (sockets,
 * data, events) and inet_sockopt.c (options and names). Not for anything
 * outside src/libos/inet*.c.
 */
#ifndef DEMI_LIBOS_INET_INT_H
#define DEMI_LIBOS_INET_INT_H

#include "libos/runtime.h"
#include "net/stack.h"

#include <sys/socket.h>

struct stats_publisher;

struct inet_libos {
    struct libos base;
    struct inet_stack stack;
    struct netdev *dev;
    bool harness;                /* LIBOS=cattest: dev is a scriptdev */
    struct stats_publisher *pub; /* live statistics for demi-stat; NULL = none */
    struct objpool socks;        /* struct inet_sock records, libdemi.max_queues of them */
};

struct inet_sock {
    struct queue q; /* first: the runtime sees a struct queue */
    struct inet_libos *il;
    struct udp_sock udp;     /* QUEUE_UDP */
    struct tcp_pcb *pcb;     /* QUEUE_TCP */
    struct list_node pops;   /* pending pops, FIFO */
    struct list_node pushes; /* TCP pushes waiting for send-queue room, FIFO */
    struct list_node accepts;
    struct demi_op *connect_op;
    bool has_peer; /* UDP connect() set a default destination */
    uint32_t peer_ip;
    uint16_t peer_port;
    bool shut_rd;     /* UDP: demi_shutdown(SHUT_RD) (TCP: pcb->rcv_shut) */
    bool shut_wr;     /* demi_shutdown(SHUT_WR): pushes fail with EPIPE */
    bool fin_pending; /* TCP: the FIN waits for the pushes on s->pushes */
};

static inline struct inet_sock *isock(struct queue *q)
{
    return container_of(q, struct inet_sock, q);
}

/* inet_sockopt.c: struct libos_ops' option and name calls. */
int inet_setsockopt(struct queue *q, int level, int optname, const void *optval, socklen_t optlen);
int inet_getsockopt(struct queue *q, int level, int optname, void *optval, socklen_t *optlen);
int inet_getpeername(struct queue *q, struct inet_sockaddr *addr);
/* The peer of TCP connection @pcb as socket @s reports it: IPv6, IPv4, or
 * IPv4-mapped on an AF_INET6 socket (inet.c). */
void inet_tcp_peer(const struct inet_sock *s, const struct tcp_pcb *pcb, struct inet_sockaddr *addr);

/* inet_tcp.c: TCP's news from the stack (the pcb's upcall), and what the
 * calls in inet.c hand it: an accept, a pop to serve, an end of stream. */
void inet_tcp_upcall(struct tcp_pcb *pcb, unsigned ev);
void inet_tcp_serve_accepts(struct inet_sock *s);
void inet_tcp_serve_pops(struct inet_sock *s);
void inet_pop_eof(struct inet_sock *s, struct demi_op *op, const struct tcp_pcb *pcb);

/* inet.c: complete pop @op with @d from @addr (a datagram's source when
 * @is_source, kept with the buffer for demi_sga_source). */
void inet_pop_complete(struct demi_op *op, struct dbuf *d, const struct inet_sockaddr *addr, bool is_source);
int inet_getsockname(struct queue *q, struct inet_sockaddr *addr);

#endif /* DEMI_LIBOS_INET_INT_H */
