/* SPDX-License-Identifier: MIT */
/*
 * shmring.h: a lock-free single-producer/single-consumer ring of
 * variable-length messages, laid out to live in memory shared by two
 * processes (catmem's pipes).
 *
 * The ring is a power-of-two byte array plus two free-running 64-bit
 * counters: tail (bytes the producer published) and head (bytes the consumer
 * released). Each lives on its own 128-byte block, so the producer's and the
 * consumer's stores never share a cache line, nor the pair of lines x86's
 * adjacent-line prefetcher fetches together. Each side keeps a private copy
 * of its own counter and a cached copy of the other's, and reads the shared
 * one only when the cache says the ring is full (producer) or empty
 * (consumer): in a steady stream, one shared load per batch, not per message.
 *
 * A message is a record: an 8-byte header (length, flags) and the payload,
 * padded to SHMRING_ALIGN (64 B) so that every record starts on its own
 * cache line and the consumer never reads a line the producer is still
 * writing. A record never wraps: when it does not fit before the end, the
 * producer writes a WRAP record over the rest and starts at offset 0; the
 * WRAP and the record behind it are published by one store, so a consumer
 * that sees the WRAP always finds the record at 0.
 *
 * Publication is a release store of tail after the bytes are written;
 * consumption an acquire load of tail before they are read (and the mirror
 * for head): no locks, no syscalls, no read-modify-write instructions.
 *
 * The other side may be buggy or hostile: everything read from shared
 * memory (counters, record headers) is bounds-checked before use, and a bad
 * value makes the ring report it (shmring_attach false, SHMRING_CORRUPT,
 * shmring_broken) instead of reading or writing outside it. A record header
 * is read from shared memory once (volatile), so the peer cannot change it
 * between the check and the use. The counter checks sit where the cached
 * counter runs out (a reload from shared memory), off the fast path.
 * Private header.
 */
#ifndef DEMI_MEM_SHMRING_H
#define DEMI_MEM_SHMRING_H

#include "core/common.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define SHMRING_ALIGN 64u
#define SHMRING_HDR 8u
#define SHMRING_MIN_SIZE 4096u
#define SHMRING_MAX_SIZE (1u << 30)

/* Record flag: skip to offset 0. */
#define SHMRING_F_WRAP 1u
/* Record flag: the producer wrote the payload in place (zero-copy push); a
 * hint that the consumer may hand it out in place too. No effect on bounds. */
#define SHMRING_F_ZC 2u

/* The shared counters of one ring (in the shared segment). */
struct shmring_ctl {
    _Alignas(128) _Atomic uint64_t tail; /* written by the producer only */
    _Alignas(128) _Atomic uint64_t head; /* written by the consumer only */
};
BUILD_BUG_ON(sizeof(struct shmring_ctl) != 256);
BUILD_BUG_ON(offsetof(struct shmring_ctl, head) != 128);

struct shmring_rec {
    uint32_t len;   /* payload bytes */
    uint32_t flags; /* SHMRING_F_* */
};
BUILD_BUG_ON(sizeof(struct shmring_rec) != SHMRING_HDR);

/* One side's private view of a ring. */
struct shmring {
    struct shmring_ctl *ctl;
    uint8_t *data;
    uint64_t size;  /* power of two */
    uint64_t mine;  /* producer: tail; consumer: read position (private) */
    uint64_t other; /* producer: cached head; consumer: cached tail */
    uint64_t skip;  /* producer: WRAP bytes in front of the last reservation */
    bool broken;    /* the peer left an impossible counter (shmring_broken) */
};

/* Outcome of a consumer peek. */
enum shmring_peek { SHMRING_EMPTY = 0, SHMRING_MSG, SHMRING_CORRUPT };

static inline bool shmring_size_ok(uint64_t size)
{
    return size >= SHMRING_MIN_SIZE && size <= SHMRING_MAX_SIZE && (size & (size - 1)) == 0;
}

/* The largest payload a ring of @size accepts. A record of at most half the
 * ring always fits once the ring drains, wherever the wrap point is; a
 * larger one could wait forever. */
static inline uint32_t shmring_max_msg(uint64_t size)
{
    return (uint32_t)(size / 2 - SHMRING_HDR);
}

/* Bytes a record of @len payload bytes takes. */
static inline uint64_t shmring_rec_bytes(uint32_t len)
{
    return ((uint64_t)len + SHMRING_HDR + SHMRING_ALIGN - 1) & ~(uint64_t)(SHMRING_ALIGN - 1);
}

/*
 * Attach as producer or consumer to a ring whose counters are at @ctl and
 * bytes at @data. Counters of a fresh segment are 0 (ftruncate zeroes).
 * false when the counter this side takes over is not at a record boundary
 * (SHMRING_ALIGN): only a broken or hostile peer leaves one there, and
 * every later offset would follow from it (a record header written or read
 * across the ring's end). The private counters stay on boundaries after
 * that, so this is the only place it is checked. The ring then reports
 * SHMRING_CORRUPT and shmring_broken, and never touches its bytes.
 */
static inline bool shmring_attach(struct shmring *r, struct shmring_ctl *ctl, uint8_t *data, uint64_t size,
                                  bool producer)
{
    r->ctl = ctl;
    r->data = data;
    r->size = size;
    r->skip = 0;
    if (producer) {
        r->mine = atomic_load_explicit(&ctl->tail, memory_order_relaxed);
        r->other = atomic_load_explicit(&ctl->head, memory_order_acquire);
    } else {
        r->mine = atomic_load_explicit(&ctl->head, memory_order_relaxed);
        r->other = atomic_load_explicit(&ctl->tail, memory_order_acquire);
    }
    r->broken = (r->mine & (SHMRING_ALIGN - 1)) != 0;
    if (r->broken)
        r->other = r->mine + 1; /* off the fast paths: both check broken there */
    return !r->broken;
}

/* Whether the ring was found broken by the peer (sticky): an impossible
 * counter at attach, or (producer) a head moved past tail or left more than
 * a ring behind. A NULL from shmring_reserve (false from shmring_push) then
 * means "never", not "full". */
static inline bool shmring_broken(const struct shmring *r)
{
    return r->broken;
}

/*
 * Producer: room for a @len-byte message (len <= shmring_max_msg). Returns
 * where to write the payload, or NULL when the ring is full (nothing
 * changed). Follow with shmring_commit(r, len) (len at most the reserved
 * one) to publish it, or with nothing to drop it: nothing is published
 * until the commit. The WRAP decision is made here and kept in r->skip, so
 * a shorter commit still publishes the record where it was written.
 */
static inline void *shmring_reserve(struct shmring *r, uint32_t len)
{
    uint64_t need = shmring_rec_bytes(len);
    uint64_t off = r->mine & (r->size - 1);
    uint64_t contig = r->size - off;
    uint64_t total = need <= contig ? need : contig + need;
    struct shmring_rec *rec;

    if (r->mine - r->other > r->size || r->size - (r->mine - r->other) < total) {
        if (r->broken)
            return NULL;
        r->other = atomic_load_explicit(&r->ctl->head, memory_order_acquire);
        /* A consumer that moved head past tail, or left it more than a ring
         * behind, is broken: nothing is written, and it says so. */
        if (r->other > r->mine || r->mine - r->other > r->size) {
            r->other = r->mine + 1;
            r->broken = true;
            return NULL;
        }
        if (r->size - (r->mine - r->other) < total)
            return NULL;
    }
    r->skip = 0;
    if (need > contig) {
        rec = (struct shmring_rec *)(r->data + off);
        rec->len = 0;
        rec->flags = SHMRING_F_WRAP;
        r->skip = contig;
        off = 0;
    }
    rec = (struct shmring_rec *)(r->data + off);
    rec->len = len;
    rec->flags = 0;
    return rec + 1;
}

/* Producer: publish the message reserved last (and its WRAP, if any) as
 * @len payload bytes (<= the reserved length) with record flags @flags. */
static inline void shmring_commit_flags(struct shmring *r, uint32_t len, uint32_t flags)
{
    struct shmring_rec *rec = (struct shmring_rec *)(r->data + ((r->mine + r->skip) & (r->size - 1)));

    rec->len = len;
    rec->flags = flags;
    r->mine += r->skip + shmring_rec_bytes(len);
    atomic_store_explicit(&r->ctl->tail, r->mine, memory_order_release);
}

static inline void shmring_commit(struct shmring *r, uint32_t len)
{
    shmring_commit_flags(r, len, 0);
}

/* Producer: copy @len bytes in as one message. false when the ring is full. */
static inline bool shmring_push(struct shmring *r, const void *buf, uint32_t len)
{
    void *dst = shmring_reserve(r, len);

    if (!dst)
        return false;
    memcpy(dst, buf, len);
    shmring_commit(r, len);
    return true;
}

/*
 * Consumer: the oldest message, without consuming it. On SHMRING_MSG,
 * *@payload and *@len describe it (valid until shmring_release, or until
 * the head is published past it). @max_len bounds what a sane producer
 * could have written. *@flags (if not NULL) gets the record's flags.
 */
static inline enum shmring_peek shmring_peek_flags(struct shmring *r, uint32_t max_len, const uint8_t **payload,
                                                   uint32_t *len, uint32_t *flags)
{
    const volatile struct shmring_rec *rec;
    uint64_t off, avail;
    uint32_t rlen, rflags;

    if (r->mine == r->other) {
        r->other = atomic_load_explicit(&r->ctl->tail, memory_order_acquire);
        if (r->mine == r->other)
            return SHMRING_EMPTY;
    }
    avail = r->other - r->mine;
    if (avail > r->size || r->broken)
        return SHMRING_CORRUPT;
    off = r->mine & (r->size - 1);
    /* Each header field is read once: what is checked is what is used,
     * whatever the peer writes meanwhile. */
    rec = (const volatile struct shmring_rec *)(r->data + off);
    rflags = rec->flags;
    if (rflags & SHMRING_F_WRAP) {
        uint64_t skip = r->size - off;
        if (avail <= skip)
            return SHMRING_CORRUPT; /* a WRAP is always published with a record behind it */
        /* Skipping is private until the release that follows the message. */
        r->mine += skip;
        avail -= skip;
        off = 0;
        rec = (const volatile struct shmring_rec *)r->data;
        rflags = rec->flags;
    }
    rlen = rec->len;
    if (rlen > max_len || shmring_rec_bytes(rlen) > avail || shmring_rec_bytes(rlen) > r->size - off ||
        (rflags & SHMRING_F_WRAP))
        return SHMRING_CORRUPT;
    *payload = (const uint8_t *)(uintptr_t)(rec + 1);
    *len = rlen;
    if (flags)
        *flags = rflags;
    return SHMRING_MSG;
}

static inline enum shmring_peek shmring_peek(struct shmring *r, uint32_t max_len, const uint8_t **payload,
                                             uint32_t *len)
{
    return shmring_peek_flags(r, max_len, payload, len, NULL);
}

/* Consumer: step over the message last peeked (of @len bytes) without
 * giving its space back: the next peek sees the next message, and the
 * producer may not reuse these bytes until shmring_publish_head passes them.
 * Returns the read position after it. */
static inline uint64_t shmring_consume(struct shmring *r, uint32_t len)
{
    r->mine += shmring_rec_bytes(len);
    return r->mine;
}

/* Consumer: give every byte before read position @pos (at most r->mine)
 * back to the producer. */
static inline void shmring_publish_head(struct shmring *r, uint64_t pos)
{
    atomic_store_explicit(&r->ctl->head, pos, memory_order_release);
}

/* Consumer: give the message last peeked (of @len bytes) back to the producer. */
static inline void shmring_release(struct shmring *r, uint32_t len)
{
    shmring_publish_head(r, shmring_consume(r, len));
}

/* Consumer: where the message last peeked starts (its record header), as a
 * read position: the first byte that must stay held while it is in use. */
static inline uint64_t shmring_read_pos(const struct shmring *r)
{
    return r->mine;
}

/* Whether a producer's ring is empty (everything published was consumed). */
static inline bool shmring_drained(struct shmring *r)
{
    r->other = atomic_load_explicit(&r->ctl->head, memory_order_acquire);
    return r->other == r->mine;
}

#endif /* DEMI_MEM_SHMRING_H */
