/* SPDX-License-Identifier: MIT */
/*
 * cattree_rw.c: a storage log's appends (framing, group commit, growth)
 * and reads (pops through an aligned read window). cattree_int.h says how
 * the two stages take turns.
 */
#include "core/log.h"
#include "libos/cattree_int.h"
#include "libos/cattree_log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

static inline uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static void tree_complete(struct demi_op *op, demi_opcode_t opc, int err)
{
    if (opc == DEMI_OPC_PUSH && op->u.push.buf) {
        dbuf_put(op->u.push.buf);
        op->u.push.buf = NULL;
    }
    op_complete(&rt.ops, op, err ? DEMI_OPC_FAILED : opc, err);
}

/* ---- appends ------------------------------------------------------------ */

static bool stage_fits(const struct tree_stage *s, uint32_t len)
{
    return s->fill + log_framed_size(len) + TREE_ALIGN <= TREE_STAGE; /* and the padding to TREE_ALIGN */
}

static void stage_frame(struct tree_log *l, struct tree_stage *s, struct demi_op *op, const void *p, uint32_t len)
{
    s->fill += (uint32_t)log_record_encode(s->buf + s->fill, p, len, l->epoch, l->next_seq++);
    s->nrec++;
    op->u.push.len = len;
    list_add_tail(&s->ops, &op->link);
}

/* Whether the push of @len bytes at @p in our buffer @d goes without a copy:
 * zero-copy on for the log (O_DIRECT, cattree.zero_copy), a big enough
 * record, the whole of a page-aligned buffer of a pool of ours (its bytes
 * up to the next block are not the application's, so they may be zeroed),
 * and room for one more hole. */
static bool stage_zc_fits(const struct tree_log *l, const struct tree_stage *s, const struct dbuf *d, const uint8_t *p,
                          uint32_t len)
{
    return l->zero_copy && d && len >= TREE_ZC_MIN && !d->pool->ops && p == d->data && len == d->len &&
           ((uintptr_t)p & 4095) == 0 && dbuf_tailroom(d) >= log_block_payload(len) - len && s->nholes < TREE_HOLES &&
           s->fill + TREE_BLOCK + TREE_ALIGN <= TREE_STAGE; /* the header's block, the padding */
}

/* Frame a block-aligned record: its header and padding in the stage, its
 * payload left in @d (referenced until the write completes). */
static void stage_frame_zc(struct tree_log *l, struct tree_stage *s, struct demi_op *op, struct dbuf *d)
{
    struct tree_hole *h = &s->holes[s->nholes++];
    uint32_t len = d->len;

    s->fill += log_record_seal_block(s->buf + s->fill, tree_stage_end(s), d->data, len, l->epoch, l->next_seq++);
    memset(d->data + len, 0, log_block_payload(len) - len);
    h->at = s->fill;
    h->len = (uint32_t)log_block_payload(len);
    h->ptr = d->data;
    h->slot = tree_pool_slot(l->t, d);
    s->hole_bytes += h->len;
    s->nrec++;
    l->t->stats.cattree_zero_copy++;
    if (op->u.push.buf != d) {
        dbuf_ref(d);
        op->u.push.buf = d;
    }
    op->u.push.len = len;
    list_add_tail(&s->ops, &op->link);
}

/* Frame @op's record into @s, from our buffer @d without a copy if it can
 * be; false when the stage has no room for it. */
static bool stage_take(struct tree_log *l, struct tree_stage *s, struct demi_op *op, struct dbuf *d, const void *p,
                       uint32_t len)
{
    if (stage_zc_fits(l, s, d, p, len)) {
        stage_frame_zc(l, s, op, d);
        return true;
    }
    if (!stage_fits(s, len))
        return false;
    stage_frame(l, s, op, p, len);
    if (op->u.push.buf) {
        dbuf_put(op->u.push.buf); /* its bytes are in the stage now */
        op->u.push.buf = NULL;
    }
    return true;
}

int tree_push(struct queue *q, struct demi_op *op, const demi_sgarray_t *sga, struct dbuf *d,
              const struct inet_sockaddr *dest)
{
    struct tree_log *l = (struct tree_log *)q;
    struct tree_stage *s = &l->st[l->acc];
    uint32_t len = sga->sga_segs[0].sgaseg_len;

    (void)dest; /* pushto is refused by the api for a queue that is no UDP socket */
    if (!l->can_write)
        return EBADF;
    if (len > LOG_RECORD_MAX)
        return EMSGSIZE;
    op->u.push.buf = NULL;
    if (l->err) {
        tree_complete(op, DEMI_OPC_PUSH, l->err);
        return 0;
    }
    if (!list_empty(&l->waiting) || !stage_take(l, s, op, d, sga->sga_segs[0].sgaseg_buf, len)) {
        op->u.push.ptr = sga->sga_segs[0].sgaseg_buf;
        op->u.push.len = len;
        if (d) {
            dbuf_ref(d); /* kept until framed */
            op->u.push.buf = d;
        }
        list_add_tail(&l->waiting, &op->link);
    }
    tree_kick(l);
    return 0;
}

/* Frame the waiting pushes that fit into the accumulating stage. */
static void tree_take_waiting(struct tree_log *l)
{
    struct tree_stage *s = &l->st[l->acc];

    while (!list_empty(&l->waiting)) {
        struct demi_op *op = list_entry(list_first(&l->waiting), struct demi_op, link);
        list_del(&op->link);
        if (!stage_take(l, s, op, op->u.push.buf, op->u.push.ptr, op->u.push.len)) {
            list_add_head(&l->waiting, &op->link);
            break;
        }
    }
}

static void stage_fail(struct tree_stage *s, int err)
{
    while (!list_empty(&s->ops))
        tree_complete(list_entry(list_first(&s->ops), struct demi_op, link), DEMI_OPC_PUSH, err);
}

void tree_fail_pushes(struct tree_log *l, int err)
{
    struct tree_stage *s = &l->st[l->acc];

    stage_fail(s, err);
    s->fill = (uint32_t)(l->end - s->base); /* back to the prefix */
    s->nrec = 0;
    s->nholes = 0;
    s->hole_bytes = 0;
    while (!list_empty(&l->waiting))
        tree_complete(list_entry(list_first(&l->waiting), struct demi_op, link), DEMI_OPC_PUSH, err);
}

/* Make the file hold @need bytes after its header: fallocate in steps of
 * cattree.prealloc_mib, or just @need when the step does not fit. */
static int tree_grow(struct tree_log *l, uint64_t need)
{
    uint64_t step = (uint64_t)l->t->cfg->cattree_prealloc_mib << 20;
    uint64_t want = round_up(need, step);

    if (l->no_falloc || need <= l->alloc)
        return 0;
    if (fallocate(l->fd, 0, (off_t)tree_file_off(l->alloc), (off_t)(want - l->alloc)) != 0) {
        int err = errno;
        if (err == EOPNOTSUPP) {
            l->no_falloc = true; /* writes extend the file themselves */
            return 0;
        }
        if (err != ENOSPC || (want = round_up(need, TREE_BLOCK)) == 0 ||
            fallocate(l->fd, 0, (off_t)tree_file_off(l->alloc), (off_t)(want - l->alloc)) != 0)
            return errno;
    }
    l->alloc = want;
    l->t->stats.cattree_preallocs++;
    return 0;
}

/* The pieces of @s's write: stage bytes and zero-copy payloads in turn. */
static unsigned stage_pieces(const struct tree_stage *s, struct uring_piece *pcs)
{
    uint32_t at = 0, n = 0;

    for (uint32_t i = 0; i < s->nholes; i++) {
        const struct tree_hole *h = &s->holes[i];
        if (h->at > at)
            pcs[n++] = (struct uring_piece){.buf = s->buf + at, .len = h->at - at, .slot = s->slot};
        pcs[n++] = (struct uring_piece){.buf = h->ptr, .len = h->len, .slot = h->slot};
        at = h->at;
    }
    if (s->wlen > at)
        pcs[n++] = (struct uring_piece){.buf = s->buf + at, .len = s->wlen - at, .slot = s->slot};
    return n;
}

void tree_kick(struct tree_log *l)
{
    for (;;) {
        struct tree_stage *s = &l->st[l->acc], *o = &l->st[!l->acc];
        struct uring_piece pcs[2 * TREE_HOLES + 1];
        uint64_t stage_end;
        int ret;

        if (l->writing || l->err || s->nrec == 0)
            return;
        stage_end = tree_stage_end(s);
        /* Of the stage buffer: to the next TREE_ALIGN in the file, unless
         * the stage ends with a hole (whole blocks already; zeros after it
         * would be one more piece, and the next write starts at its end). */
        if (s->nholes && s->holes[s->nholes - 1].at == s->fill)
            s->wlen = s->fill;
        else
            s->wlen = (uint32_t)(round_up(stage_end, TREE_ALIGN) - s->base - s->hole_bytes);
        ret = tree_grow(l, s->base + s->wlen + s->hole_bytes);
        if (ret) {
            /* No space: these pushes fail; the log stays as it was. */
            uint64_t nrec = s->nrec;
            log_warn("cattree: %s: cannot grow the log: %s; %llu record(s) refused", l->path, strerror(ret),
                     (unsigned long long)nrec);
            tree_fail_pushes(l, ret);
            l->next_seq -= nrec;
            continue; /* none left: returns above */
        }
        memset(s->buf + s->fill, 0, s->wlen - s->fill); /* the end of the log reads as zeros */
        ret =
            uring_write_pieces(l->t->dev, &l->wreq, l->fd, pcs, stage_pieces(s, pcs), tree_file_off(s->base), l->dsync);
        if (ret) {
            l->kick_pending = true; /* the ring is full: the next poll retries */
            return;
        }
        s->wlen += (uint32_t)s->hole_bytes; /* what the write's completion counts */
        l->kick_pending = false;
        l->writing = true;
        l->t->stats.cattree_writes++;
        /* The other stage accumulates from here, after this one's records:
         * its prefix is the log's last partial TREE_ALIGN block, cut at
         * this stage's start and at the end of its last hole, whose payload
         * is not in the stage buffer (the next write then starts on a
         * TREE_BLOCK boundary only). */
        o->base = stage_end & ~(uint64_t)(TREE_ALIGN - 1);
        if (o->base < s->base)
            o->base = s->base;
        if (s->nholes && o->base < s->base + s->holes[s->nholes - 1].at + s->hole_bytes)
            o->base = s->base + s->holes[s->nholes - 1].at + s->hole_bytes;
        o->fill = (uint32_t)(stage_end - o->base);
        memcpy(o->buf, s->buf + s->fill - o->fill, o->fill);
        o->nrec = 0;
        o->nholes = 0;
        o->hole_bytes = 0;
        l->acc = !l->acc;
        tree_take_waiting(l);
        return;
    }
}

static void tree_write_done(struct uring_req *r, int res)
{
    struct tree_log *l = container_of(r, struct tree_log, wreq);
    struct tree_stage *s = &l->st[!l->acc];

    l->writing = false;
    if (res == (int)s->wlen) {
        l->end = tree_stage_end(s);
        l->t->stats.cattree_appends += s->nrec;
        while (!list_empty(&s->ops)) {
            struct demi_op *op = list_entry(list_first(&s->ops), struct demi_op, link);
            l->t->stats.cattree_append_bytes += op->u.push.len;
            tree_complete(op, DEMI_OPC_PUSH, 0);
        }
        s->nrec = 0;
        s->nholes = 0;
        s->hole_bytes = 0;
        tree_take_waiting(l);
        tree_kick(l);
        return;
    }
    /* A failed or short write: which of its blocks reached the disk is not
     * known, nor whether the device still holds what it acknowledged before
     * (the page cache's state after fsync errors is no better). Everything
     * from here fails; the records acknowledged before stay acknowledged, and
     * reopening the log recovers whatever of this group is whole. */
    l->err = res < 0 ? -res : EIO;
    l->t->stats.cattree_write_errors++;
    log_err("cattree: %s: a write of %u bytes at %llu failed: %s; every push to this log now fails (reopen it)",
            l->path, s->wlen, (unsigned long long)tree_file_off(s->base), res < 0 ? strerror(-res) : "short write");
    stage_fail(s, l->err);
    s->nrec = 0;
    s->nholes = 0;
    s->hole_bytes = 0;
    tree_fail_pushes(l, l->err);
}

/* ---- reads -------------------------------------------------------------- */

static void tree_pop_done(struct tree_log *l, struct demi_op *op, struct dbuf *d)
{
    op->qr.qr_value.sga.sga_buf = dbuf_app_handout(d);
    op->qr.qr_value.sga.sga_numsegs = 1;
    op->qr.qr_value.sga.sga_segs[0].sgaseg_buf = d->data;
    op->qr.qr_value.sga.sga_segs[0].sgaseg_len = d->len;
    if (d->len) {
        l->t->stats.cattree_pops++;
        l->t->stats.cattree_pop_bytes += d->len;
    }
    tree_complete(op, DEMI_OPC_POP, 0);
}

static void tree_read_done(struct uring_req *r, int res)
{
    struct tree_log *l = container_of(r, struct tree_log, rreq);

    l->reading = false;
    if (res < 0) {
        l->t->stats.cattree_read_errors++;
        log_err("cattree: %s: a read at %llu failed: %s", l->path, (unsigned long long)tree_file_off(l->rreq_base),
                strerror(-res));
        if (!list_empty(&l->pops))
            tree_complete(list_entry(list_first(&l->pops), struct demi_op, link), DEMI_OPC_POP, -res);
        l->rvalid = 0;
    } else {
        /* Only committed bytes: beyond them the file may change under us. */
        l->rbase = l->rreq_base;
        l->rvalid = (uint32_t)MIN((uint64_t)res, l->rreq_end - l->rreq_base);
    }
    tree_progress_pops(l);
}

/* Read the window that holds position @pos onwards. */
static int tree_read(struct tree_log *l, uint64_t pos)
{
    uint64_t base = pos & ~(uint64_t)4095, len = round_up(l->end, TREE_BLOCK) - base;
    int ret;

    if (len > TREE_RBUF)
        len = TREE_RBUF;
    l->rreq_base = base;
    l->rreq_end = l->end;
    ret = uring_read(l->t->dev, &l->rreq, l->fd, l->rbuf, (uint32_t)len, tree_file_off(base), l->rslot);
    if (ret == 0)
        l->reading = true;
    return ret;
}

/* Complete the first pending pop, or start the read it needs (EAGAIN). */
static int tree_pop_one(struct tree_log *l, struct demi_op *op)
{
    const uint8_t *p = NULL;
    uint64_t avail = 0, expect;
    struct log_rec rec;
    enum log_verdict v;
    struct dbuf *d;

    if (l->rpos >= l->end) {
        d = dbuf_alloc(&rt.mem.pools[MEM_SMALL]);
        if (!d)
            goto nomem;
        tree_pop_done(l, op, d); /* end of the log: a real, zero-length sga */
        return 0;
    }
    if (l->rpos >= l->rbase && l->rpos < l->rbase + l->rvalid) {
        p = l->rbuf + (l->rpos - l->rbase);
        avail = l->rbase + l->rvalid - l->rpos;
    }
    if (avail < LOG_REC_HDR) {
        v = LOG_REC_SHORT;
    } else {
        /* After a seek the sequence number there is not known: the record's
         * own is taken, its CRC and epoch still checked. */
        memcpy(&expect, p + 16, sizeof(expect));
        v = log_record_check(p, avail, l->rseq_known ? l->rseq : expect, 0, l->epoch, &rec);
    }
    if (v == LOG_REC_SHORT) {
        /* A window read from this record's block that holds the rest of the
         * log, or as much as any record needs, and still no whole record:
         * a "record" past the end of the log. */
        if (l->rbase == (l->rpos & ~(uint64_t)4095) && (l->rbase + l->rvalid >= l->end || l->rvalid == TREE_RBUF))
            goto badmsg;
        tree_read(l, l->rpos); /* if the ring is full, the next poll retries */
        return EAGAIN;
    }
    if (v != LOG_REC_OK)
        goto badmsg;
    d = mem_alloc(&rt.mem, rec.len);
    if (!d)
        goto nomem;
    memcpy(d->data, rec.payload, rec.len);
    l->rpos += rec.framed;
    l->rseq = rec.seq + 1;
    l->rseq_known = true;
    tree_pop_done(l, op, d);
    return 0;

badmsg:
    tree_complete(op, DEMI_OPC_POP, EBADMSG); /* not the start of a record */
    return 0;
nomem:
    log_warn("cattree: pop on qd %d: buffer pools exhausted", l->q.qd);
    tree_complete(op, DEMI_OPC_POP, ENOMEM);
    return 0;
}

void tree_progress_pops(struct tree_log *l)
{
    while (!l->reading && !list_empty(&l->pops))
        if (tree_pop_one(l, list_entry(list_first(&l->pops), struct demi_op, link)) == EAGAIN)
            break;
}

int tree_pop(struct queue *q, struct demi_op *op)
{
    struct tree_log *l = (struct tree_log *)q;

    if (!l->can_read)
        return EBADF;
    list_add_tail(&l->pops, &op->link);
    tree_progress_pops(l);
    return 0;
}

bool tree_busy(const struct tree_log *l)
{
    return l->writing || l->reading || l->kick_pending || !list_empty(&l->pops) || !list_empty(&l->waiting) ||
           l->st[l->acc].nrec;
}

void tree_rw_init(struct tree_log *l)
{
    list_init(&l->st[0].ops);
    list_init(&l->st[1].ops);
    list_init(&l->waiting);
    list_init(&l->pops);
    l->wreq.done = tree_write_done;
    l->rreq.done = tree_read_done;
}
