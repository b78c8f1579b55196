/* SPDX-License-Identifier: MIT */
/*
 * fault_stage.h: the fault machinery shared by simlink (per destination
 * port) and fault_wrap (on transmit): a seeded PRNG, the per-frame fault
 * decision, and the delay line frames wait in until they are due.
 *
 * The delay line is a bounded min-heap keyed by (due time, entry order), so
 * frames come out in delivery order and ties keep send order, whatever the
 * jitter. A frame chosen for reordering is held beside the heap and released
 * right behind the next frame queued after it, or FAULT_REORDER_HOLD_NS past
 * its own due time if no frame follows. Private header.
 */
#ifndef DEMI_DEV_FAULT_STAGE_H
#define DEMI_DEV_FAULT_STAGE_H

#include "dev/fault.h"

#include <stdbool.h>
#include <stdint.h>

/* How long a held (reordered) frame waits for a frame to overtake it. */
#define FAULT_REORDER_HOLD_NS 1000000ull

struct fault_stage {
    struct fault_params p;
    uint64_t rng; /* splitmix64 state */
    struct fault_stats stats;
};

/* @p may be NULL: a perfect stage. */
void fault_stage_init(struct fault_stage *s, const struct fault_params *p);
/* New knobs; the PRNG is reseeded only if the seed changed, so healing a
 * link mid-run keeps the rest of the run's draws as they were. */
void fault_stage_set(struct fault_stage *s, const struct fault_params *p);

struct fault_qentry {
    uint64_t due_ns;
    uint64_t order;     /* queue-local arrival order: breaks ties */
    struct dbuf *frame; /* owns one reference */
};

struct fault_queue {
    struct fault_qentry *heap;
    uint32_t n, cap; /* cap counts the held slot too */
    bool has_held;
    struct fault_qentry held; /* due_ns = release deadline */
    uint64_t held_due_ns;     /* when the held frame was due itself */
    uint64_t next_order;
};

int fault_queue_init(struct fault_queue *q, uint32_t cap);
/* Drops the reference of every queued frame and frees the heap. */
void fault_queue_fini(struct fault_queue *q);
/* Entries queued, held one included. */
uint32_t fault_queue_count(const struct fault_queue *q);
/* Due time of the first entry, or UINT64_MAX when empty. */
uint64_t fault_queue_next(const struct fault_queue *q);
/* Pops the first entry if it is due at @now_ns. */
bool fault_queue_pop(struct fault_queue *q, uint64_t now_ns, struct fault_qentry *out);
/* Puts back an entry just popped (its key still sorts first), for a
 * consumer that could not take it; there is room since it was just popped. */
void fault_queue_unpop(struct fault_queue *q, const struct fault_qentry *e);

/* Frames one fault_stage_send could not queue, for the caller's counters. */
struct fault_losses {
    uint32_t overflow; /* queue full */
    uint32_t nobuf;    /* no buffer for a duplicate */
};

/*
 * Offers @frame (one linear frame whose only reference the caller gives up)
 * to the stage, bound for @q, leaving the wire at @t_ns: drop, duplicate,
 * corrupt one byte, hold back for reordering, add delay + jitter. Copies for
 * duplicates come from @mem. Losses other than faults are added to @lost.
 */
void fault_stage_send(struct fault_stage *s, struct fault_queue *q, struct mem *mem, struct dbuf *frame, uint64_t t_ns,
                      struct fault_losses *lost);

/* Serialisation at the stage's rate: the time a @len-byte frame offered at
 * @now_ns has left the wire, advancing the sender's *next_free_ns. */
uint64_t fault_serialise(const struct fault_params *p, uint64_t *next_free_ns, uint32_t len, uint64_t now_ns);

/* A new single buffer with the bytes of the chain @frame, data at the
 * headroom (the receiver can still prepend); NULL if @mem has none. */
struct dbuf *frame_linearize(struct mem *mem, const struct dbuf *frame);

/* A buffer of @len bytes for a netdev's alloc op: len = @len, data at the
 * headroom; @len 0 gives an empty small buffer. NULL when none. */
struct dbuf *frame_alloc(struct mem *mem, uint32_t len);

#endif /* DEMI_DEV_FAULT_STAGE_H */
