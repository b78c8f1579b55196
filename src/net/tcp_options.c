/* SPDX-License-Identifier: MIT */
/*
 * tcp_options.c: TCP options, parsed from received segments and written into
 * the segments we send: MSS (RFC 9293 3.2, 3.7.1), window scale and
 * timestamps (RFC 7323), SACK-permitted and SACK (RFC 2018).
 *
 * Parsing rules (RFC 9293 3.1, 3.2):
 *  - EOL ends the list; NOP is skipped.
 *  - Every other kind has a length byte covering kind and length. A length
 *    below 2 cannot be skipped over: parsing stops there, the options before
 *    it are kept, and the result is true (the segment is still usable).
 *  - A kind whose length byte is missing (the kind is the last byte), or a
 *    length that runs past optlen: parsing stops, the options before it are
 *    kept, and the result is false, so the caller may drop the segment.
 *  - A known kind with the wrong length for it is ignored and skipped by its
 *    length (not fatal); so is an unknown kind.
 *  - MSS, window scale and SACK-permitted count only on a SYN (RFC 9293
 *    3.7.1, RFC 7323 2.2, RFC 2018 2); SACK blocks only on a non-SYN (a SYN
 *    acknowledges no data); timestamps on any segment.
 *  - A kind repeated in one segment: the last well-formed one wins.
 *  - The values are reported as they are: whether a SACK block is sane
 *    (left < right, inside the window) or an MSS of 0 is usable is for the
 *    caller to decide.
 */
#include "net/tcp.h"

#include "core/log.h"
#include "net/stack.h"
#include "net/tcp_seq.h"

#include <string.h>

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WSCALE 3
#define TCPOPT_SACK_OK 4
#define TCPOPT_SACK 5
#define TCPOPT_TS 8

#define TCPOLEN_MSS 4
#define TCPOLEN_WSCALE 3
#define TCPOLEN_SACK_OK 2
#define TCPOLEN_SACK_BASE 2
#define TCPOLEN_SACK_BLOCK 8
#define TCPOLEN_TS 10

static inline uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint8_t *put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static inline uint8_t *put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

/* One option of @len bytes at @p (kind and length included, len fits). */
static void tcp_opt_one(const uint8_t *p, uint8_t len, bool is_syn, struct tcp_opts *o)
{
    switch (p[0]) {
    case TCPOPT_MSS:
        if (len == TCPOLEN_MSS && is_syn)
            o->mss = get_be16(p + 2);
        break;
    case TCPOPT_WSCALE:
        if (len == TCPOLEN_WSCALE && is_syn) {
            uint8_t shift = p[2];
            if (shift > TCP_MAX_WSCALE) {
                /* RFC 7323 2.3: log, and use 14. Debug level: a peer can
                 * send this on every SYN. */
                log_debug("tcp: window scale %u > %u, using %u", shift, TCP_MAX_WSCALE, TCP_MAX_WSCALE);
                shift = TCP_MAX_WSCALE;
            }
            o->wscale = (int8_t)shift;
        }
        break;
    case TCPOPT_SACK_OK:
        if (len == TCPOLEN_SACK_OK && is_syn)
            o->sack_ok = true;
        break;
    case TCPOPT_SACK: {
        uint32_t n = (uint32_t)(len - TCPOLEN_SACK_BASE) / TCPOLEN_SACK_BLOCK;
        if (is_syn || len < TCPOLEN_SACK_BASE + TCPOLEN_SACK_BLOCK ||
            (len - TCPOLEN_SACK_BASE) % TCPOLEN_SACK_BLOCK != 0 || n > ARRAY_SIZE(o->sack))
            break; /* malformed SACK length: ignore this option */
        for (uint32_t b = 0; b < n; b++) {
            const uint8_t *q = p + TCPOLEN_SACK_BASE + b * TCPOLEN_SACK_BLOCK;
            o->sack[b][0] = get_be32(q);
            o->sack[b][1] = get_be32(q + 4);
        }
        o->nsack = (uint8_t)n;
        break;
    }
    case TCPOPT_TS:
        if (len == TCPOLEN_TS) {
            o->ts_present = true;
            o->tsval = get_be32(p + 2);
            o->tsecr = get_be32(p + 6);
        }
        break;
    default:
        break; /* unknown: skipped */
    }
}

bool tcp_opts_parse(const uint8_t *opt, uint32_t optlen, bool is_syn, struct tcp_opts *o)
{
    uint32_t i = 0;

    memset(o, 0, sizeof(*o));
    o->wscale = -1;

    while (i < optlen) {
        uint8_t kind = opt[i], len;

        if (kind == TCPOPT_EOL)
            break;
        if (kind == TCPOPT_NOP) {
            i++;
            continue;
        }
        if (optlen - i < 2)
            return false; /* no room for the length byte */
        len = opt[i + 1];
        if (len < 2)
            break; /* cannot skip it: stop, keep what we have */
        if (len > optlen - i)
            return false; /* overruns the header */
        tcp_opt_one(opt + i, len, is_syn, o);
        i += len;
    }
    return true;
}

static uint8_t *put_ts(uint8_t *p, uint32_t tsval, uint32_t tsecr)
{
    *p++ = TCPOPT_TS;
    *p++ = TCPOLEN_TS;
    p = put_be32(p, tsval);
    return put_be32(p, tsecr);
}

/*
 * The ranges of out-of-order data held in pcb->ooo_head, at most @max, in
 * ascending sequence order, the lowest first. The list is sorted by sequence;
 * its buffers may be adjacent or overlap, so they are merged into maximal
 * ranges. Anything below rcv_nxt is cut off: a block must lie above the
 * cumulative acknowledgement (RFC 2018 3).
 *
 * RFC 2018 4: the block holding the most recently received segment
 * (pcb->sack_recent) goes first; the others follow lowest first, the ones
 * the sender needs to fill the holes next to rcv_nxt. (RFC 2018 also asks to
 * repeat recently reported blocks; with the ranges listed from the bottom
 * every ACK repeats the oldest holes anyway.)
 */
static unsigned tcp_sack_ranges(const struct tcp_pcb *pcb, uint32_t r[][2], unsigned max)
{
    unsigned n = 0;
    bool open = false;
    uint32_t start = 0, end = 0;

    for (const struct dbuf *d = pcb->ooo_head; d; d = d->next) {
        uint32_t s = d->meta32, e = d->meta32 + d->len;

        if (SEQ_LT(s, pcb->rcv_nxt))
            s = pcb->rcv_nxt;
        if (!SEQ_LT(s, e))
            continue; /* empty, or entirely below rcv_nxt */
        if (open && SEQ_LEQ(s, end)) {
            if (SEQ_GT(e, end))
                end = e;
            continue;
        }
        if (open) {
            r[n][0] = start;
            r[n][1] = end;
            if (++n == max)
                return n; /* another range follows: no room for it */
        }
        start = s;
        end = e;
        open = true;
    }
    if (open) {
        r[n][0] = start;
        r[n][1] = end;
        n++;
    }
    return n;
}

uint32_t tcp_sack_optlen(const struct tcp_pcb *pcb)
{
    uint32_t r[TCP_SACK_SCOREBOARD][2];
    unsigned n;

    if (!pcb->sack_ok || !pcb->ooo_head)
        return 0;
    n = tcp_sack_ranges(pcb, r, TCP_SACK_SCOREBOARD);
    if (n > (pcb->ts_ok ? 3u : 4u))
        n = pcb->ts_ok ? 3u : 4u;
    return n ? 2u + TCPOLEN_SACK_BASE + n * TCPOLEN_SACK_BLOCK : 0; /* NOP NOP kind len blocks */
}

/* The ranges to report, at most @max, the most recent first. */
static unsigned tcp_sack_blocks(struct tcp_pcb *pcb, uint32_t out[][2], unsigned max)
{
    uint32_t all[TCP_SACK_SCOREBOARD][2];
    unsigned n = tcp_sack_ranges(pcb, all, TCP_SACK_SCOREBOARD), k = 0;
    bool used[TCP_SACK_SCOREBOARD] = {false};

    /* RFC 2018 4: the first block holds the segment that triggered this
     * ACK; the next ones repeat the most recently reported blocks, so every
     * block goes out in several ACKs and a peer that loses some still learns
     * of it (reporting only the lowest holes would hide the blocks between
     * them, which the peer would then take for lost and resend). Blocks
     * never reported yet follow, lowest first. */
    for (int pass = 0; pass < 3; pass++) {
        unsigned nkeys = pass == 0 ? (pcb->sack_recent_valid ? 1 : 0) : pass == 1 ? pcb->nsack_sent : n;

        for (unsigned j = 0; j < nkeys && k < max; j++) {
            for (unsigned i = 0; i < n; i++) {
                bool match = pass == 0   ? SEQ_GEQ(pcb->sack_recent, all[i][0]) && SEQ_LT(pcb->sack_recent, all[i][1])
                             : pass == 1 ? SEQ_GEQ(pcb->sack_sent[j], all[i][0]) && SEQ_LT(pcb->sack_sent[j], all[i][1])
                                         : i == j;
                if (match && !used[i]) {
                    used[i] = true;
                    out[k][0] = all[i][0];
                    out[k][1] = all[i][1];
                    k++;
                    break;
                }
            }
        }
    }
    for (unsigned i = 0; i < k; i++)
        pcb->sack_sent[i] = out[i][0];
    pcb->nsack_sent = (uint8_t)k;
    return k;
}

/*
 * Layouts, every option group 4-byte aligned, as Linux and FreeBSD send them:
 *
 *   SYN:     MSS(4) [SACKOK,TS(12) | NOP,NOP,TS(12) | NOP,NOP,SACKOK(4)]
 *            [NOP,WS(4)]                                   at most 20 bytes
 *   others:  [NOP,NOP,TS(12)] [NOP,NOP,SACK(2+8n)]         at most 40 bytes
 *            n <= 3 with timestamps, 4 without.
 *
 * TSecr echoes ts_recent only when the ACK bit is set; zero otherwise (RFC
 * 7323 3.2), so an initial SYN carries TSecr 0. A RST carries timestamps
 * (RFC 7323 3.2: SHOULD) but no SACK blocks; a SYN never carries SACK blocks.
 */
uint32_t tcp_opts_write(struct tcp_pcb *pcb, uint8_t *buf, uint8_t flags, uint64_t now_ns)
{
    uint8_t *p = buf;
    uint32_t tsecr = (flags & TH_ACK) ? pcb->ts_recent : 0;

    if (flags & TH_SYN) {
        *p++ = TCPOPT_MSS;
        *p++ = TCPOLEN_MSS;
        p = put_be16(p, (uint16_t)MIN(tcp_mss_local_pcb(pcb), UINT16_MAX));
        if (pcb->ts_ok) {
            if (pcb->sack_ok) {
                *p++ = TCPOPT_SACK_OK;
                *p++ = TCPOLEN_SACK_OK;
            } else {
                *p++ = TCPOPT_NOP;
                *p++ = TCPOPT_NOP;
            }
            p = put_ts(p, pcb->syn_tsval ? pcb->syn_tsval : tcp_ts_now(now_ns), tsecr);
        } else if (pcb->sack_ok) {
            *p++ = TCPOPT_NOP;
            *p++ = TCPOPT_NOP;
            *p++ = TCPOPT_SACK_OK;
            *p++ = TCPOLEN_SACK_OK;
        }
        if (pcb->ws_ok) {
            *p++ = TCPOPT_NOP;
            *p++ = TCPOPT_WSCALE;
            *p++ = TCPOLEN_WSCALE;
            *p++ = (uint8_t)MIN(pcb->rcv_wscale, TCP_MAX_WSCALE);
        }
        return (uint32_t)(p - buf);
    }

    if (pcb->ts_ok) {
        *p++ = TCPOPT_NOP;
        *p++ = TCPOPT_NOP;
        p = put_ts(p, tcp_ts_now(now_ns), tsecr);
    }
    if (pcb->sack_ok && pcb->ooo_head && !(flags & TH_RST)) {
        uint32_t r[4][2];
        unsigned n = tcp_sack_blocks(pcb, r, pcb->ts_ok ? 3 : 4);

        if (n > 0) {
            *p++ = TCPOPT_NOP;
            *p++ = TCPOPT_NOP;
            *p++ = TCPOPT_SACK;
            *p++ = (uint8_t)(TCPOLEN_SACK_BASE + n * TCPOLEN_SACK_BLOCK);
            for (unsigned b = 0; b < n; b++) {
                p = put_be32(p, r[b][0]);
                p = put_be32(p, r[b][1]);
            }
        }
    }
    return (uint32_t)(p - buf);
}
