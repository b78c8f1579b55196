/* SPDX-License-Identifier: MIT */
/*
 * tcp.h: libdemi's TCP (RFC 9293), the interface between the protocol
 * (tcp_input.c, tcp_output.c, tcp_timer.c, tcp_subr.c, tcp_options.c,
 * tcp_cc_*.c) and the libOS above it. Modelled on FreeBSD's netinet: a
 * protocol control block (pcb) per connection, one file per concern.
 *
 * Buffers. A push appends a slice of the application's buffer to the send
 * queue (no copy); segments are slices of those slices behind a header
 * buffer, and the send queue keeps its references until the bytes are
 * acknowledged. Received segments stay in the buffer they arrived in; the
 * receive queue hands them to the application as they are (zero-copy pop).
 *
 * Upcalls. The stack tells the libOS about progress through one callback
 * with event bits; the libOS then looks at the pcb (tcp_recv, state, err).
 * A pcb closed by the application is detached (owner NULL) and finishes its
 * close alone; the stack frees it when it reaches CLOSED.
 * Private header.
 */
#ifndef DEMI_NET_TCP_H
#define DEMI_NET_TCP_H

#include "core/limits.h" /* TCP_HASH_BUCKETS, TCP_SACK_SCOREBOARD, ... */
#include "core/list.h"
#include "core/timer.h"
#include "mem/dbuf.h"
#include "mem/objpool.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct inet_stack;
struct tcp_pcb;
struct nd6_entry;

/* RFC 9293 3.3.2 states. */
enum tcp_state {
    TCPS_CLOSED = 0,
    TCPS_LISTEN,
    TCPS_SYN_SENT,
    TCPS_SYN_RECEIVED,
    TCPS_ESTABLISHED,
    TCPS_FIN_WAIT_1,
    TCPS_FIN_WAIT_2,
    TCPS_CLOSE_WAIT,
    TCPS_CLOSING,
    TCPS_LAST_ACK,
    TCPS_TIME_WAIT,
};

const char *tcp_state_name(enum tcp_state s);

/* Which queue of its listener a child is on. Recorded, never inferred from
 * the state: a child leaves the SYN queue in whatever state its end puts it
 * in (a timeout sets CLOSED first), and the count it leaves must be the one
 * it joined. */
enum tcp_child_queue {
    TCP_CHILDQ_NONE = 0,
    TCP_CHILDQ_SYN,    /* SYN_RECEIVED, counted in syn_count */
    TCP_CHILDQ_ACCEPT, /* established, not accepted, counted in accept_count */
};

/* Segment flags. */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

struct tcp_hdr {
    uint16_t sport;
    uint16_t dport;
    uint32_t seq;
    uint32_t ack;
    uint8_t off; /* data offset in 32-bit words, high nibble */
    uint8_t flags;
    uint16_t win;
    uint16_t csum;
    uint16_t urp;
} __attribute__((packed));

#define TCP_HLEN 20
#define TCP_MAX_OPTLEN 40
BUILD_BUG_ON(TCP_HLEN + TCP_MAX_OPTLEN != LIMIT_TCP_HLEN_MAX);
/* Timestamps as every segment of a connection that agreed them carries
 * them: NOP, NOP, TS (10), RFC 7323 appendix A. */
#define TCP_TS_OPTLEN 12
/* The MSS of a peer that sent none (RFC 9293 3.7.1). */
#define TCP_DEFAULT_MSS 536u
/* The least MSS we send with, whatever the peer says: an MSS option of a
 * few bytes would make us send absurdly small segments. */
#define TCP_MIN_MSS 64u
/* The largest window the header's 16 bits say, and the largest shift of
 * it (RFC 7323 2.3). */
#define TCP_MAXWIN 65535u
#define TCP_MAX_WSCALE 14

/* Events of the upcall. */
#define TCP_EV_CONNECTED 0x01 /* active open finished: ESTABLISHED, or err set */
#define TCP_EV_ACCEPT 0x02    /* a listener has a connection to accept */
#define TCP_EV_READABLE 0x04  /* data, end of stream or an error to pop */
#define TCP_EV_WRITABLE 0x08  /* send-queue room freed */
#define TCP_EV_ERROR 0x10     /* reset, timeout: pcb->err says which */

typedef void (*tcp_upcall_fn)(struct tcp_pcb *pcb, unsigned events);

/* Options parsed from a segment (tcp_options.c). */
struct tcp_opts {
    uint16_t mss;  /* 0 = absent */
    int8_t wscale; /* -1 = absent; else 0..14 */
    bool sack_ok;
    bool ts_present;
    uint32_t tsval, tsecr;
    uint8_t nsack;       /* SACK blocks present */
    uint32_t sack[4][2]; /* [left, right) edges, host order */
};

/* Tunables, from the configuration (core/config.h "tcp.*" keys), complete:
 * the stack fills in nothing. inet_params_from_config() (net/stack.h) makes
 * them from a loaded configuration; a stack built by hand starts from
 * tcp_params_default() or inet_params_default(), the key table's defaults,
 * and changes what it needs. */
struct tcp_params {
    uint32_t rcvbuf; /* receive buffer: the window we can offer */
    uint32_t sndbuf; /* send queue bytes before pushes wait */
    uint64_t rto_initial_ns;
    uint64_t rto_min_ns;
    uint64_t rto_max_ns;
    uint32_t max_retries; /* retransmissions of one segment before ETIMEDOUT */
    uint32_t syn_retries;
    uint64_t delack_ns;       /* delayed ACK timeout */
    bool delack_off;          /* tcp.delayed_ack_us = 0: acknowledge every segment */
    uint8_t quickacks;        /* tcp.quickack_segments: a new connection's quick ACKs */
    uint64_t msl_ns;          /* TIME_WAIT lasts 2 * msl */
    uint32_t syn_backlog;     /* half-open connections per listener */
    uint32_t max_connections; /* pcbs of the stack, preallocated (tcp.max_connections) */
    bool syn_cookies;         /* answer SYNs with cookies while the SYN queue is full */
    uint64_t user_timeout_ns; /* 0: none (RFC 5482's spirit; tcp_timer.c) */
    uint32_t ooo_max;         /* out-of-order segments kept per connection */
    bool nodelay;             /* default of TCP_NODELAY */
    bool keepalive;
    uint64_t keepalive_idle_ns, keepalive_intvl_ns;
    uint32_t keepalive_probes;
    uint32_t mss; /* inetstack_config.mss: the most we advertise and send */
    bool sack, timestamps, window_scaling;
    const char *cc;     /* "cubic" or "newreno": a string that outlives the stack */
    uint32_t fixed_isn; /* tests only: when use_fixed_isn */
    bool use_fixed_isn;
    uint64_t isn_key_seed;     /* tests only: non-zero = a reproducible ISN secret */
    bool no_header_prediction; /* tests only: every segment takes the full path */
    bool rack;                 /* tcp.rack: RACK-TLP loss detection on SACK connections (tcp_rack.c) */
};

/* Congestion control modules (tcp_cc_newreno.c, tcp_cc_cubic.c). All sizes
 * in bytes. The module owns cwnd and ssthresh in struct tcp_pcb (the caller
 * also inflates and deflates cwnd during fast recovery, RFC 5681 3.2 and
 * RFC 6582 3.2, and restores both after a spurious timeout, RFC 4015) and
 * its own member of pcb->cc_state, which nothing else touches. */
struct tcp_cc_ops {
    const char *name;
    void (*init)(struct tcp_pcb *pcb);
    /* New data acknowledged outside recovery: grow cwnd. */
    void (*ack)(struct tcp_pcb *pcb, uint32_t acked, uint64_t now_ns);
    /* Loss detected by dupacks/SACK: set ssthresh, and cwnd = ssthresh
     * (the caller inflates it for the segments that left, RFC 5681 3.2). */
    void (*enter_recovery)(struct tcp_pcb *pcb, uint64_t now_ns);
    /* Recovery finished (all data outstanding at its start is acked). */
    void (*exit_recovery)(struct tcp_pcb *pcb, uint64_t now_ns);
    /* Retransmission timeout: collapse cwnd (RFC 5681 3.1). */
    void (*timeout)(struct tcp_pcb *pcb, uint64_t now_ns);
};

const struct tcp_cc_ops *tcp_cc_find(const char *name);
extern const struct tcp_cc_ops tcp_cc_newreno;
extern const struct tcp_cc_ops tcp_cc_cubic;

/* Each module's private state (FreeBSD's cc_data, kept in the pcb so no
 * module allocates). NewReno: RFC 5681 3.1's byte counter of congestion
 * avoidance. */
struct tcp_cc_newreno_state {
    uint64_t bytes_acked;
};

/* Cubic (RFC 9438 4). */
struct tcp_cc_cubic_state {
    uint64_t epoch_start_ns; /* 0 = no congestion avoidance epoch yet */
    double w_max;            /* segments */
    double w_last_max;
    double k;        /* seconds */
    double w_est;    /* Reno-friendly estimate, segments */
    double cwnd_cnt; /* fractional growth accumulator */
};

union tcp_cc_state {
    struct tcp_cc_newreno_state newreno;
    struct tcp_cc_cubic_state cubic;
};

/* RFC 6928 2's initial window, min(10 * MSS, max(2 * MSS, 14600)): what
 * both modules start from. */
uint32_t tcp_cc_initial_window(uint32_t mss);

struct tcp_sack_block {
    uint32_t start, end; /* [start, end) */
};

/* A range sent at once, for RACK (tcp_rack.c): sequence [start, end) (a FIN
 * counts), when its first and its last segment went out. */
struct tcp_xmit_rec {
    uint32_t start, end;
    uint64_t first_ns, ts_ns;
    bool retx; /* a retransmission */
    bool lost; /* RACK found it lost: its bytes are resent in new records */
};

#define TCP_XLOG_LEN 16 /* records per connection */
/* What t_rack waits for. */
#define TCP_RACK_PTO 0 /* the tail loss probe (RFC 8985 7.2) */
#define TCP_RACK_REO 1 /* the reordering window of a segment not yet lost (6.3) */

struct tcp_pcb {
    struct list_node link;         /* connection or listener hash */
    struct list_node child_link;   /* listener's syn or accept queue (child_q) */
    struct list_node txwait_link;  /* tcp_table.txwait: data held back by a full transmit queue */
    struct list_node rxready_link; /* tcp_table.rxready: readable, told after the receive burst */
    struct arp_entry *route;       /* the peer's ARP entry, as last used (arp_output_via) */
    struct inet_stack *stack;
    struct tcp_pcb *listener; /* while a child is not yet accepted */
    uint8_t state;            /* enum tcp_state */
    uint8_t child_q;          /* enum tcp_child_queue: which of listener's queues */
    int err;                  /* ECONNRESET, ECONNREFUSED, ETIMEDOUT, ... */
    void *owner;              /* the libOS's socket; NULL = detached */
    tcp_upcall_fn upcall;

    uint32_t local_ip, remote_ip;     /* network order; IPv4 connections */
    uint16_t local_port, remote_port; /* network order */
    bool v6;                          /* an IPv6 connection or socket (tcp6.c) */
    bool v6only;                      /* IPV6_V6ONLY: a v6 listener takes no IPv4 */
    struct in6_addr local_ip6, remote_ip6;
    struct nd6_entry *route6; /* the peer's neighbor entry, as last used (ipv6_output_via) */

    /* Send sequence space (RFC 9293 3.3.1). */
    uint32_t iss, snd_una, snd_nxt, snd_max; /* snd_max: highest ever sent */
    uint32_t snd_wnd;                        /* peer's window, scaled, bytes */
    uint32_t max_snd_wnd;                    /* largest seen (RFC 5961 5.2) */
    uint32_t snd_wl1, snd_wl2;
    uint8_t snd_wscale; /* shift of the peer's windows */
    uint16_t mss;       /* payload bytes per segment we send */
    uint16_t peer_mss;

    /* Receive sequence space. */
    uint32_t irs, rcv_nxt;
    uint32_t rcv_adv;   /* right edge of the window we advertised */
    uint8_t rcv_wscale; /* shift of the windows we send */

    /* Options agreed at the handshake. */
    bool ws_ok, ts_ok, sack_ok;
    uint32_t ts_recent; /* RFC 7323 4.3 */
    uint32_t syn_tsval; /* non-zero: the TSval of our SYN-ACK (a SYN cookie's) */
    uint64_t ts_recent_age_ns;

    /* Send queue: slices in sequence order, from snd_una (head) on. */
    struct dbuf *sndq_head, *sndq_tail;
    uint32_t sndq_bytes; /* queued, acked bytes removed */
    uint32_t sndq_cost;  /* what the queue holds of the pools (truesize) */
    uint32_t sndbuf;
    bool fin_queued; /* close or shutdown(SHUT_WR): FIN after data */
    bool fin_acked;  /* the peer acknowledged our FIN */
    bool rcv_shut;   /* shutdown(SHUT_RD) by the application */

    /* Receive queue: in-order payload buffers not yet popped. */
    struct dbuf *rcvq_head, *rcvq_tail;
    uint32_t rcvq_bytes;
    struct dbuf *ooo_head; /* out of order, by sequence (meta32) */
    uint32_t ooo_count, ooo_bytes;
    uint32_t sack_recent; /* start of the latest out-of-order arrival */
    bool sack_recent_valid;
    uint32_t sack_sent[4]; /* left edges of the blocks in our last SACK option */
    uint8_t nsack_sent;
    uint32_t rcvbuf;
    bool rcv_fin; /* the peer's FIN has been received */

    /* Retransmission (RFC 6298) and RTT sampling (Karn). */
    uint64_t srtt_ns, rttvar_ns, rto_ns;
    uint32_t rtt_seq;      /* segment being timed */
    uint64_t rtt_start_ns; /* 0 = none timed */
    uint32_t rexmt_count;  /* consecutive timeouts */
    uint64_t rto_floor_ns; /* tcp.rto_min_us, raised by a spurious timeout */

    /* Spurious timeout detection (Eifel, RFC 3522, or D-SACK, RFC 3708;
     * response after RFC 4015): the first timeout retransmission and the
     * window before it, restored if the next ACK shows the original arrived. */
    bool rto_undo_armed;
    uint32_t rto_tsval;
    uint32_t rto_seq; /* SND.UNA then: what the retransmission carried */
    uint32_t rto_prior_cwnd, rto_prior_ssthresh;

    /* Congestion control (RFC 5681, 6582, 6675). */
    const struct tcp_cc_ops *cc;
    uint32_t cwnd, ssthresh;
    uint32_t dupacks;
    bool in_recovery;
    uint32_t recover;   /* snd_max when recovery began */
    uint32_t sack_high; /* highest retransmitted in recovery */
    struct tcp_sack_block scoreboard[TCP_SACK_SCOREBOARD];
    uint8_t nsacked;
    union tcp_cc_state cc_state; /* the module's own (pcb->cc) */

    /* RACK-TLP (RFC 8985; tcp_rack.c): what was sent when, RACK's reference
     * (the latest-sent range delivered), and the probe. */
    struct tcp_xmit_rec xlog[TCP_XLOG_LEN]; /* a ring, oldest first */
    uint8_t xlog_first, xlog_n;
    uint8_t rack_timer_kind; /* TCP_RACK_PTO or TCP_RACK_REO, while rack_due_ns */
    bool rack_reordering_seen;
    bool rack_fack_set; /* rack_fack holds a sequence number */
    bool tlp_out;       /* a probe is out: its episode ends with an ACK of tlp_end */
    bool tlp_retx;      /* that probe was a retransmission */
    bool tlp_probe;     /* tcp_output: sending the probe, one segment beyond cwnd */
    uint32_t tlp_end;
    uint32_t rack_end;        /* RACK.end_seq */
    uint32_t rack_fack;       /* the highest byte delivered so far (RACK.fack) */
    uint64_t rack_ts_ns;      /* RACK.xmit_ts; 0 = nothing delivered yet */
    uint64_t rack_rtt_ns;     /* RACK.rtt */
    uint64_t rack_min_rtt_ns; /* least RACK.rtt; 0 = none */
    uint64_t rack_due_ns;     /* t_rack's due time; 0 = stopped (lazy, as t_rexmt) */
    struct timer t_rack;

    /* Timers. t_rexmt and t_delack are lazy (tcp_timer.c): their due time
     * is the one below, and the wheel entry may sit earlier (it then fires
     * and re-arms to it) or be left behind when they stop (it then fires for
     * nothing): no wheel work per segment or per request. */
    struct timer t_rexmt;  /* retransmit, SYN retry, persist */
    uint64_t rexmt_due_ns; /* 0: stopped (tcp_rexmt_armed) */
    struct timer t_delack;
    uint64_t delack_due_ns; /* meaningful while delack_pending */
    struct timer t_keep;
    struct timer t_2msl;        /* TIME_WAIT, FIN_WAIT_2 idle */
    bool persist;               /* t_rexmt is the zero-window probe */
    uint32_t probes_unanswered; /* zero-window probes since the peer's last ACK */
    uint64_t stall_since_ns;    /* data unacknowledged or window shut since; 0 = not stalled */
    uint32_t keep_probes_sent;
    uint64_t last_rx_ns;
    /* Keepalive timing of this connection: tcp.keepalive_* unless
     * TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT set them (a listener's pass
     * to its children, as Linux's do). */
    uint64_t keep_idle_ns, keep_intvl_ns;
    uint32_t keep_cnt;

    /* Flags. */
    bool ack_now; /* send an ACK at the next output */
    bool delack_pending;
    uint8_t unacked_segs;    /* full segments since our last ACK */
    uint8_t quickacks;       /* in-order data segments still acknowledged at once (tcp_ack_inorder) */
    uint64_t quickack_rx_ns; /* while quickacks: when the last of them arrived */
    bool nodelay;
    bool keepalive;
    bool linger_zero;           /* SO_LINGER {1, 0}: close sends RST */
    bool reuseaddr;             /* SO_REUSEADDR; a child inherits its listener's (tcp_port_share) */
    bool port_excl;             /* local port taken by bind()/listen() (tcp_ports.c) */
    struct list_node port_link; /* tcp_table.port_owners while local_port is set */

    /* Listener. */
    struct list_node syn_q;    /* SYN_RECEIVED children, oldest first */
    struct list_node accept_q; /* established, not accepted */
    uint32_t syn_count, accept_count, backlog;
    uint64_t cookie_sent_ns; /* last SYN cookie sent: ACKs are checked for one */
    bool cookies_sent;
};

/* The highest a late ACK can raise a connection's RTO floor: the longest
 * delayed ACK of common stacks (Linux's TCP_DELACK_MAX is 200 ms). */
#define TCP_RTO_FLOOR_MAX_NS 250000000ull

/* What a queued buffer costs against SO_SNDBUF: at least a whole small pool
 * buffer, so many tiny pushes cannot drain the pools (Linux's truesize). */
#define TCP_TRUESIZE(len) ((len) > MEM_SMALL_SIZE ? (len) : MEM_SMALL_SIZE)

/* The per-stack TCP state (in struct inet_stack). Table sizes: core/limits.h. */

struct tcp_table {
    struct list_node conns[TCP_HASH_BUCKETS];       /* by 4-tuple */
    struct list_node listeners[TCP_LISTEN_BUCKETS]; /* by local port */
    struct list_node txwait;                        /* pcbs whose data waits for transmit queue room */
    struct list_node rxready;                       /* pcbs made readable during this receive burst */
    bool in_rx_burst;                               /* more frames of this receive burst follow */
    struct tcp_params params;
    uint8_t isn_key[16]; /* RFC 6528 secret */
    uint32_t npcbs;      /* in use, for leak checks (== pcbs.in_use) */
    struct objpool pcbs; /* every pcb comes from here: no malloc on SYN or socket */
    /* Local ports (tcp_ports.c): holders per port, and RFC 6056 state. */
    uint32_t *port_users;                           /* [65536], host-order port */
    uint32_t *port_excl;                            /* [65536] */
    struct list_node port_owners[TCP_PORT_BUCKETS]; /* every holder, by port (Linux's bind bucket owners) */
    uint8_t port_key[16];
    uint16_t port_perturb[TCP_PORT_PERTURB];
};

/* ---- tcp_subr.c: life cycle and the libOS-facing calls ---------------- */

int tcp_init(struct inet_stack *s, const struct tcp_params *p);

/* The connections whose data a full transmit queue held back send again,
 * oldest first, while the queue has room (inet_stack_poll, after a flush). */
void tcp_txwait_wake(struct inet_stack *s);

/* The end of a receive burst: tell each connection that became readable
 * during it, once (tcp_notify holds TCP_EV_READABLE back until then). */
void tcp_rxready_flush(struct inet_stack *s);
void tcp_fini(struct inet_stack *s);

/* Whether a connection still owes its peer something: data not sent or not
 * acknowledged, or a FIN not sent or not acknowledged (the exit drain). */
bool tcp_owes_peers(const struct inet_stack *s);

/* A pcb from the stack's pool (tcp.max_connections), or NULL with
 * tcp_pcb_exhausted counted when every one is in use. */
struct tcp_pcb *tcp_pcb_new(struct inet_stack *s, void *owner, tcp_upcall_fn upcall);

/* Our MSS: the IP MTU less the IPv4 and TCP headers, at most
 * inetstack_config.mss (tcp_params.mss). What our SYN advertises and the
 * most a segment of ours carries. */
uint32_t tcp_mss_local(const struct inet_stack *s);

/* The MSS we send with, once the peer's (0: none given) is known: the
 * smaller of both, less the timestamps every segment then carries. */
void tcp_mss_set(struct tcp_pcb *pcb, uint32_t peer_mss);

/* ---- tcp_ports.c: local ports ---------------------------------------------- */

int tcp_ports_init(struct tcp_table *t);
void tcp_ports_fini(struct tcp_table *t);

/* 0, EADDRINUSE, EADDRNOTAVAIL, EINVAL (already bound). Port 0: ephemeral,
 * a port nobody holds. A port others hold is shared as Linux does: when
 * @pcb and every holder have reuseaddr and no holder listens. */
int tcp_bind(struct tcp_pcb *pcb, uint32_t ip, uint16_t port);

/* The local port of an active open to @rip:@rport: RFC 6056 algorithm 4
 * when unbound, a check of the 4-tuple when bound; a TIME_WAIT holder of
 * the tuple is taken over where RFC 6191 allows. 0, EADDRINUSE,
 * EADDRNOTAVAIL (no port left for that destination). */
int tcp_connect_tuple(struct tcp_pcb *pcb, uint32_t rip, const struct in6_addr *rip6, uint16_t rport);

/* Would @pcb holding @port (network order) conflict with its other holders
 * (Linux's rule: unless both have reuseaddr and the other one does not
 * listen)? Asked at bind and again at listen. */
bool tcp_port_conflict(const struct tcp_pcb *pcb, uint16_t port);

/* A listener's child holds the listener's port too, and inherits its
 * reuseaddr (Linux's clone does). @child->local_ip is set. */
void tcp_port_share(struct tcp_pcb *child, const struct tcp_pcb *listener, uint16_t port);

/* Give up @pcb's local port (when it is freed). */
void tcp_port_release(struct tcp_pcb *pcb);
int tcp_listen(struct tcp_pcb *pcb, uint32_t backlog);

/* The oldest established connection of a listener, now owned by @owner;
 * NULL when none is waiting. */
struct tcp_pcb *tcp_accept(struct tcp_pcb *listener, void *owner, tcp_upcall_fn upcall);

/* Start an active open; TCP_EV_CONNECTED reports the end. */
int tcp_connect(struct tcp_pcb *pcb, uint32_t ip, uint16_t port);
/* The active open of either family: @ip (IPv4), or @src6 to @dst6. */
int tcp_connect_v(struct tcp_pcb *pcb, uint32_t ip, const struct in6_addr *src6, const struct in6_addr *dst6,
                  uint16_t port);

/* Queue @len bytes at @d->data (@d: a dbuf or slice the stack may keep; its
 * reference moves to the stack). 0; EAGAIN when the send queue is full;
 * ENOTCONN, EPIPE (after close or reset: pcb->err). */
int tcp_send(struct tcp_pcb *pcb, struct dbuf *d);

/* Room in the send queue, bytes. */
uint32_t tcp_send_space(const struct tcp_pcb *pcb);

/* The send-state gate (RFC 9293 3.10.2, SEND): the application may queue
 * data in ESTABLISHED and CLOSE_WAIT, until its FIN is queued. Asked by
 * tcp_send and by the libOS before it takes a push. */
static inline bool tcp_send_open(const struct tcp_pcb *pcb)
{
    return (pcb->state == TCPS_ESTABLISHED || pcb->state == TCPS_CLOSE_WAIT) && !pcb->fin_queued;
}

/* Free receive buffer, bytes: rcvbuf less what the receive and reassembly
 * queues hold. The window offered, the window update and the data accepted
 * all start from it. */
static inline uint32_t tcp_rcv_space(const struct tcp_pcb *pcb)
{
    uint32_t used = pcb->rcvq_bytes + pcb->ooo_bytes;

    return pcb->rcvbuf > used ? pcb->rcvbuf - used : 0;
}

/* The window scale we ask for: the least shift that lets rcvbuf be
 * offered (RFC 7323 2.2). */
uint8_t tcp_rcv_wscale_for(uint32_t rcvbuf);

/* The oldest received payload buffer (its reference moves to the caller), or
 * NULL. NULL with tcp_at_eof() true: end of stream; with pcb->err: error. */
struct dbuf *tcp_recv(struct tcp_pcb *pcb);
bool tcp_at_eof(const struct tcp_pcb *pcb);

/* shutdown(2) from the application; the pcb stays attached. @rd: the
 * receive side is shut (rcv_shut: the libOS answers pops with end of stream
 * once the queue is empty; with our FIN queued too, new data resets the
 * connection, RFC 1122 4.2.2.13). @wr: a half-close, the FIN queued after
 * the data (ESTABLISHED -> FIN_WAIT_1, CLOSE_WAIT -> LAST_ACK); a second
 * one does nothing. 0, or ENOTCONN outside ESTABLISHED..LAST_ACK (nothing
 * done); both false only checks. */
int tcp_shutdown(struct tcp_pcb *pcb, bool rd, bool wr);

/* Close from the application: graceful (FIN after queued data), or a reset
 * with SO_LINGER {1, 0} or unread data. Detaches the pcb either way. */
void tcp_close(struct tcp_pcb *pcb);

/* Send RST and free at once. */
void tcp_abort(struct tcp_pcb *pcb);

/* Set state and keep the hash right; frees the pcb when it reaches CLOSED
 * detached. Returns false when @pcb was freed. */
bool tcp_set_state(struct tcp_pcb *pcb, enum tcp_state st);

/* Internal: free a pcb and everything it holds. */
void tcp_pcb_free(struct tcp_pcb *pcb);

/* Internal: put child @c on queue @q of listener @l, taking it off the one
 * it was on; TCP_CHILDQ_NONE takes it off (accepted, or freed). The only
 * code that changes syn_count and accept_count. */
void tcp_child_move(struct tcp_pcb *l, struct tcp_pcb *c, enum tcp_child_queue q);

/* Call @fn on every hashed pcb, listeners first, then connections (what
 * demi-stat's table and the tests walk). @fn must not free a pcb. */
void tcp_foreach(const struct inet_stack *s, void (*fn)(const struct tcp_pcb *pcb, void *arg), void *arg);

/* Check the invariants the table keeps: each listener's counts equal the
 * lengths of its queues, and every child on them points back at it. 0, or
 * EIO with what is wrong written to @msg. For tests and fuzzers (O(pcbs)). */
int tcp_check(const struct inet_stack *s, char *msg, size_t cap);

/* Internal: the connection or listener a segment is for. */
struct tcp_pcb *tcp_lookup(struct inet_stack *s, uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport);
struct tcp_pcb *tcp_lookup_listener(struct inet_stack *s, uint32_t lip, uint16_t lport);
void tcp_hash_insert(struct tcp_pcb *pcb);
struct list_node *tcp_conn_bucket(struct tcp_table *t, uint16_t lport, uint32_t rip, uint16_t rport);
struct list_node *tcp_listen_bucket(struct tcp_table *t, uint16_t lport);

/* RFC 6528 initial sequence number. */
uint32_t tcp_new_isn(const struct tcp_pcb *pcb); /* for its 4-tuple, of either family */

/* Deliver upcall events if attached. */
void tcp_notify(struct tcp_pcb *pcb, unsigned events);

/* tcp_syncookie.c (SYN cookies, RFC 4987 3.6): in tcp_input.h. */

/* ---- tcp_input.c -------------------------------------------------------- */

void tcp_input(struct inet_stack *s, struct dbuf *d, uint32_t src, uint32_t dst);

/* ---- tcp_reass.c: receive and reassembly queues ---------------------------- */

/* Where tcp_reass put a segment. */
enum tcp_reass_result {
    TCP_REASS_OOO,     /* out of order: kept for later, or not (nothing new, queue full) */
    TCP_REASS_INORDER, /* appended to the receive queue */
    TCP_REASS_FILLED,  /* appended, and it filled a hole: more moved up */
};

/* Queue in-window payload *@d starting at @seq (RCV.NXT or beyond): in
 * order onto the receive queue, with what became in order behind it, or
 * sorted into the reassembly queue (RFC 2018 4: its block is reported
 * first). *@d is set to NULL when the buffer was kept. */
enum tcp_reass_result tcp_reass(struct tcp_pcb *pcb, struct dbuf **d, uint32_t seq);

/* ---- tcp_output.c ------------------------------------------------------- */

/* Send what the windows, Nagle and the flags allow. */
void tcp_output(struct tcp_pcb *pcb);

/* Retransmit the first unacknowledged segment. */
void tcp_retransmit(struct tcp_pcb *pcb, uint32_t seq, uint32_t max_len);

/* A zero-window probe (RFC 9293 3.8.6.1): one byte at SND.NXT that moves
 * SND.NXT/SND.MAX like any new data, or a bare ACK when nothing waits. */
void tcp_send_probe(struct tcp_pcb *pcb);

/* An RST in answer to a segment with no connection (RFC 9293 3.10.7.1). */
void tcp_respond_rst(struct inet_stack *s, uint32_t src, uint32_t dst, const struct tcp_hdr *th, uint32_t seg_len);
/* The RST of RFC 9293 3.10.7.1 answering @th (@seg_len its SEG.LEN) into
 * @r, checksum 0. */
void tcp_rst_fill(struct tcp_hdr *r, const struct tcp_hdr *th, uint32_t seg_len);

/* ---- tcp6.c: TCP over IPv6 ------------------------------------------------ */

uint32_t tcp_addr6_fold(const struct in6_addr *a); /* for the hash buckets */
struct tcp_pcb *tcp_lookup6(struct inet_stack *s, const struct in6_addr *lip, uint16_t lport,
                            const struct in6_addr *rip, uint16_t rport);
struct tcp_pcb *tcp_lookup_listener6(struct inet_stack *s, const struct in6_addr *lip, uint16_t lport);
/* bind() of an IPv6 socket (pcb->v6): @ip one of ours or ::. */
int tcp_bind6(struct tcp_pcb *pcb, const struct in6_addr *ip, uint16_t port);
/* connect() of an IPv6 socket to @ip:@port (network order). */
int tcp_connect6(struct tcp_pcb *pcb, const struct in6_addr *ip, uint16_t port);
/* The MSS we offer and send with: the MTU's (tcp_mss_local) for IPv4,
 * the path MTU's less the IPv6 header for IPv6. */
uint32_t tcp_mss_local_pcb(const struct tcp_pcb *pcb);
void tcp_respond_rst6(struct inet_stack *s, const struct in6_addr *src, const struct in6_addr *dst,
                      const struct tcp_hdr *th, uint32_t seg_len);
/* A Packet Too Big about our segment (@ip6 its IPv6 header, @th the first
 * 8 bytes of its TCP header: ports and sequence number) lowered the path
 * MTU to @mtu: the connection's MSS follows and what it sent is resent
 * (RFC 8201 4, RFC 9293 3.7.3). */
struct ipv6_hdr;
void tcp6_mtu_lowered(struct inet_stack *s, const struct ipv6_hdr *ip6, const uint8_t *th, uint32_t mtu);
/* Checksum and send segment @d (header @th) of IPv6 connection @pcb. */
int tcp6_output(struct tcp_pcb *pcb, struct dbuf *d, struct tcp_hdr *th);

/* A bare segment with @flags from @pcb's current state (ACK, RST, probes). */
void tcp_send_ctl(struct tcp_pcb *pcb, uint8_t flags, uint32_t seq);

/* The window to advertise, already scaled down. */
uint16_t tcp_rcv_window(struct tcp_pcb *pcb);

/* ---- tcp_timer.c -------------------------------------------------------- */

void tcp_timers_init(struct tcp_pcb *pcb);
void tcp_timers_cancel(struct tcp_pcb *pcb);
void tcp_rexmt_arm(struct tcp_pcb *pcb); /* (re)start the RTO timer */
/* Arm t_rexmt for @due_ns exactly (the persist timer's first probe). */
void tcp_rexmt_arm_at(struct tcp_pcb *pcb, uint64_t due_ns);
void tcp_rexmt_stop(struct tcp_pcb *pcb); /* all acknowledged: no RTO due */
void tcp_stall_end(struct tcp_pcb *pcb);  /* new data acked or window opened */
void tcp_rtt_sample(struct tcp_pcb *pcb, uint64_t rtt_ns);
void tcp_delack_arm(struct tcp_pcb *pcb);
void tcp_keep_reset(struct tcp_pcb *pcb);  /* activity: push keepalive out */
void tcp_keep_retime(struct tcp_pcb *pcb); /* keep_idle_ns/keep_intvl_ns changed */
void tcp_2msl_arm(struct tcp_pcb *pcb);

/* Whether the RTO (or persist) timer runs. Not timer_armed(&t_rexmt): the
 * entry stays in the wheel after tcp_rexmt_stop until its time. While the
 * RTO runs its entry is in the wheel (at or before the due time); a
 * timer_cancel of t_rexmt behind tcp_timer.c's back therefore reads as
 * stopped here instead of leaving an RTO that never fires. */
static inline bool tcp_rexmt_armed(const struct tcp_pcb *pcb)
{
    return pcb->rexmt_due_ns != 0 && timer_armed(&pcb->t_rexmt);
}

/* ---- tcp_sack.c --------------------------------------------------------- */

/* Merge the SACK blocks of @o into the scoreboard; forget what SND.UNA covers. */
void tcp_sack_update(struct tcp_pcb *pcb, const struct tcp_opts *o);

/* Bytes the scoreboard holds above SND.UNA. */
uint32_t tcp_sacked_bytes(const struct tcp_pcb *pcb);

/* During fast recovery: resend the next hole (SACK) or the next segment. */
void tcp_recovery_rexmt(struct tcp_pcb *pcb);

/* Loss detected (three duplicate ACKs, RFC 5681 3.2, or enough SACKed,
 * RFC 6675 5): the module's reduction, recovery until SND.MAX is acked
 * (RFC 6582), the first retransmission. */
void tcp_recovery_enter(struct tcp_pcb *pcb, uint64_t now_ns);

/* ---- tcp_rack.c: RACK-TLP (RFC 8985) ------------------------------------ */

/* Whether @pcb runs RACK-TLP: SACK agreed and tcp.rack on. */
#define TCP_RACK_ON(pcb) ((pcb)->sack_ok && (pcb)->stack->tcp.params.rack)

void tcp_rack_init(struct tcp_pcb *pcb);
void tcp_rack_stop(struct tcp_pcb *pcb);
void tcp_rack_rto(struct tcp_pcb *pcb); /* a retransmission timeout: start over */
/* @len bytes (a FIN counts) from @seq went out at @now. */
void tcp_rack_sent(struct tcp_pcb *pcb, uint32_t seq, uint32_t len, bool retx, uint64_t now);
/* New data went out: the probe timer starts if none runs. */
void tcp_rack_sent_new(struct tcp_pcb *pcb, uint64_t now);
/* An ACK was processed (SND.UNA moved from @old_una, SACK blocks of @o
 * merged): RACK's reference, losses (recovery starts or resends), timers.
 * Returns whether SND.UNA moved. */
bool tcp_rack_ack(struct tcp_pcb *pcb, uint32_t old_una, const struct tcp_opts *o, uint64_t now);

/* ---- tcp_options.c ------------------------------------------------------ */

/* Parse the options of @th (optlen bytes after the fixed header). Malformed
 * options end parsing (RFC 9293 3.1: "must be prepared to handle"); returns
 * false only for a length that overruns the header. */
bool tcp_opts_parse(const uint8_t *opt, uint32_t optlen, bool is_syn, struct tcp_opts *o);

/* Write options into @buf (TCP_MAX_OPTLEN bytes); returns the length,
 * a multiple of 4. SYN: MSS, window scale, SACK-permitted, timestamps as
 * enabled; others: timestamps and SACK blocks. */
uint32_t tcp_opts_write(struct tcp_pcb *pcb, uint8_t *buf, uint8_t flags, uint64_t now_ns);

/* Bytes the SACK option of our next segment takes (0 without one): a data
 * segment carries that much less payload than pcb->mss, or it would pass
 * the MTU. */
uint32_t tcp_sack_optlen(const struct tcp_pcb *pcb);

/* The payload of our next segment at most: the MSS less the SACK option. */
static inline uint32_t tcp_seg_max(const struct tcp_pcb *pcb)
{
    return pcb->ooo_head ? pcb->mss - tcp_sack_optlen(pcb) : pcb->mss;
}

/* Our timestamp clock: 1 ms per tick (RFC 7323 5.4). */
static inline uint32_t tcp_ts_now(uint64_t now_ns)
{
    return (uint32_t)(now_ns / 1000000u);
}

#endif /* DEMI_NET_TCP_H */
