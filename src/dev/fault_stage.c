/* SPDX-License-Identifier: MIT */
#include "dev/fault_stage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: tiny, full-period over any seed (0 included), and good enough
 * for fault draws; a run is a pure function of the seed. */
static uint64_t fault_rand(struct fault_stage *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* True with probability @ppm / 1e6. Draws only for a live knob, so a
 * perfect stage consumes no randomness. */
static bool fault_chance(struct fault_stage *s, uint32_t ppm)
{
    if (ppm == 0)
        return false;
    return fault_rand(s) % 1000000u < ppm;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void fault_stage_init(struct fault_stage *s, const struct fault_params *p)
{
    memset(s, 0, sizeof(*s));
    if (p)
        s->p = *p;
    s->rng = s->p.seed;
}

void fault_stage_set(struct fault_stage *s, const struct fault_params *p)
{
    struct fault_params none = {0};

    if (!p)
        p = &none;
    if (p->seed != s->p.seed)
        s->rng = p->seed;
    s->p = *p;
}

/* ---- delay line ---- */

static bool entry_before(const struct fault_qentry *a, const struct fault_qentry *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->order < b->order);
}

static void heap_insert(struct fault_queue *q, struct fault_qentry e)
{
    uint32_t i = q->n++;

    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!entry_before(&e, &q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = e;
}

static struct fault_qentry heap_pop(struct fault_queue *q)
{
    struct fault_qentry top = q->heap[0];
    struct fault_qentry last = q->heap[--q->n];
    uint32_t i = 0;

    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && entry_before(&q->heap[c + 1], &q->heap[c]))
            c++;
        if (!entry_before(&q->heap[c], &last))
            break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (q->n > 0)
        q->heap[i] = last;
    return top;
}

int fault_queue_init(struct fault_queue *q, uint32_t cap)
{
    memset(q, 0, sizeof(*q));
    if (cap == 0)
        return EINVAL;
    q->heap = calloc(cap, sizeof(*q->heap));
    if (!q->heap)
        return ENOMEM;
    q->cap = cap;
    return 0;
}

void fault_queue_fini(struct fault_queue *q)
{
    for (uint32_t i = 0; i < q->n; i++)
        dbuf_put(q->heap[i].frame);
    if (q->has_held)
        dbuf_put(q->held.frame);
    free(q->heap);
    memset(q, 0, sizeof(*q));
}

uint32_t fault_queue_count(const struct fault_queue *q)
{
    return q->n + (q->has_held ? 1 : 0);
}

/* The first entry (heap top or held), or NULL. */
static const struct fault_qentry *queue_first(const struct fault_queue *q)
{
    const struct fault_qentry *first = q->n > 0 ? &q->heap[0] : NULL;

    if (q->has_held && (!first || entry_before(&q->held, first)))
        first = &q->held;
    return first;
}

uint64_t fault_queue_next(const struct fault_queue *q)
{
    const struct fault_qentry *first = queue_first(q);

    return first ? first->due_ns : UINT64_MAX;
}

bool fault_queue_pop(struct fault_queue *q, uint64_t now_ns, struct fault_qentry *out)
{
    const struct fault_qentry *first = queue_first(q);

    if (!first || first->due_ns > now_ns)
        return false;
    if (first == &q->held) {
        *out = q->held;
        q->has_held = false;
    } else {
        *out = heap_pop(q);
    }
    return true;
}

void fault_queue_unpop(struct fault_queue *q, const struct fault_qentry *e)
{
    /* The heap always has room: cap covers heap + held and @e was in one. */
    heap_insert(q, *e);
}

/* Queue @frame due at @t; a held frame is released right behind it. */
static bool queue_push(struct fault_queue *q, struct dbuf *frame, uint64_t t)
{
    if (fault_queue_count(q) >= q->cap)
        return false;
    heap_insert(q, (struct fault_qentry){.due_ns = t, .order = q->next_order++, .frame = frame});
    if (q->has_held) {
        /* Overtaken: due right behind the frame that passed it, but never
         * past its hold deadline (the time next_delivery promised). */
        uint64_t due = MIN(q->held.due_ns, MAX(t, q->held_due_ns));
        struct fault_qentry e = {.due_ns = due, .order = q->next_order++, .frame = q->held.frame};
        q->has_held = false;
        heap_insert(q, e);
    }
    return true;
}

/* Hold @frame (due at @t) back until another frame passes it. */
static bool queue_hold(struct fault_queue *q, struct dbuf *frame, uint64_t t)
{
    if (fault_queue_count(q) >= q->cap)
        return false;
    q->held =
        (struct fault_qentry){.due_ns = sat_add(t, FAULT_REORDER_HOLD_NS), .order = q->next_order++, .frame = frame};
    q->held_due_ns = t;
    q->has_held = true;
    return true;
}

/* ---- the fault decision ---- */

/* Corruption and delay, drawn per copy so a duplicate is its own packet. */
static uint64_t copy_faults(struct fault_stage *s, struct dbuf *copy, uint64_t t)
{
    uint64_t jitter = s->p.jitter_ns;

    if (fault_chance(s, s->p.corrupt_ppm) && copy->len > 0) {
        uint32_t at = (uint32_t)(fault_rand(s) % copy->len);
        /* 1..255: the byte always changes. */
        copy->data[at] ^= (uint8_t)(1 + fault_rand(s) % 255);
        s->stats.corrupted++;
    }
    t = sat_add(t, s->p.delay_ns);
    if (jitter)
        t = sat_add(t, jitter == UINT64_MAX ? fault_rand(s) : fault_rand(s) % (jitter + 1));
    return t;
}

void fault_stage_send(struct fault_stage *s, struct fault_queue *q, struct mem *mem, struct dbuf *frame, uint64_t t_ns,
                      struct fault_losses *lost)
{
    struct dbuf *dup = NULL;
    uint64_t t_frame, t_dup = 0;
    bool reorder;

    s->stats.offered++;
    if (fault_chance(s, s->p.loss_ppm)) {
        s->stats.dropped++;
        dbuf_put(frame);
        return;
    }
    if (fault_chance(s, s->p.dup_ppm)) {
        /* Copied before corruption: each copy is damaged independently. */
        dup = frame_linearize(mem, frame);
        if (dup)
            s->stats.duplicated++;
        else
            lost->nobuf++;
    }
    t_frame = copy_faults(s, frame, t_ns);
    if (dup)
        t_dup = copy_faults(s, dup, t_ns);
    reorder = fault_chance(s, s->p.reorder_ppm);

    /* The duplicate goes first: queued after a held original it would
     * release it at once, and the hold would reorder nothing. */
    if (dup) {
        if (queue_push(q, dup, t_dup)) {
            s->stats.delivered++;
        } else {
            dbuf_put(dup);
            lost->overflow++;
        }
    }
    /* One frame held at a time: a second one is simply queued (and passes
     * the first, which is a reordering too). */
    reorder = reorder && !q->has_held;
    if (reorder ? queue_hold(q, frame, t_frame) : queue_push(q, frame, t_frame)) {
        s->stats.delivered++;
        if (reorder)
            s->stats.reordered++;
    } else {
        dbuf_put(frame);
        lost->overflow++;
    }
}

uint64_t fault_serialise(const struct fault_params *p, uint64_t *next_free_ns, uint32_t len, uint64_t now_ns)
{
    uint64_t start;

    if (p->rate_bps == 0)
        return now_ns;
    start = MAX(now_ns, *next_free_ns);
    /* len <= 1 MiB, so len * 1e9 fits easily in 64 bits. */
    *next_free_ns = sat_add(start, (uint64_t)len * 1000000000ull / p->rate_bps);
    return *next_free_ns;
}

/* ---- frame buffers ---- */

struct dbuf *frame_alloc(struct mem *mem, uint32_t len)
{
    struct dbuf *d;

    if (len == 0)
        return dbuf_alloc(&mem->pools[MEM_SMALL]);
    d = mem_alloc(mem, len);
    return d;
}

struct dbuf *frame_linearize(struct mem *mem, const struct dbuf *frame)
{
    uint32_t total = dbuf_chain_len(frame);
    struct dbuf *d = frame_alloc(mem, total);

    if (!d)
        return NULL;
    d->len = 0;
    if (dbuf_tailroom(d) < total) {
        dbuf_put(d);
        return NULL;
    }
    d->len = dbuf_chain_copy(frame, d->data);
    return d;
}
