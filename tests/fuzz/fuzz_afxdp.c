/* SPDX-License-Identifier: MIT */
/*
 * fuzz_afxdp.c: libFuzzer target for the receive and completion paths of
 * the AF_XDP driver (dev/afxdp.c): afxdp_rx_desc, which rx_burst runs on
 * every rx descriptor, and afxdp_tx_done, which the completion ring's
 * reaping runs on every address, here run on descriptors the input writes
 * as a kernel would, or as a broken one. No socket, no privilege: the UMEM
 * is the real one (afxdp_umem_attach: 64 frames made the small buffer class
 * of a struct mem), the kernel is a model in this file.
 *
 *     input := op*      op & 7:
 *       0  lend: the fill ring takes up to (op >> 3) + 1 free frames
 *       1  rx: a lent frame comes back, off:u16 len:u16 [options:u8]
 *       2  rx: a descriptor with an address of the input's choice
 *          (outside the UMEM, at its edge, in a frame we hold), addr:u64 len:u16
 *       3  the application releases a received frame
 *       4  tx: a frame is allocated and given to the kernel to send
 *       5  completion: a frame sent comes back, or an address outside the
 *          UMEM or of a free frame does
 *       6, 7  a received frame is released, and another frame lent
 *
 * The model never names a frame that is free in the pool (not lent, not
 * held): nothing in a frame tells the driver that case apart without a
 * write per frame lent, and a real kernel only returns what it was given.
 *
 * Oracles, besides ASan/UBSan:
 *   - every verdict matches the rules computed here: a descriptor inside a
 *     lent frame, after its dbuf and within its 4 KiB, without options, comes
 *     out with data and length as described; one outside the UMEM or in a
 *     held frame is refused and counted without a write to any frame (the
 *     frame's dbuf compares equal before and after); a lent frame with a bad
 *     offset, length or options goes back to the pool, counted; a completion
 *     is taken only for a frame held;
 *   - after every op, frames free in the pool + lent + held add up to the
 *     UMEM's 64, and the pool's free stack holds no frame twice;
 *   - at the end of each input every frame comes back to the pool.
 */
#include "fuzz_common.h"

#include "core/log.h"
#include "dev/afxdp.h"
#include "mem/dbuf.h"

#include <stdbool.h>

#define die(...) FUZZ_DIE("fuzz_afxdp", __VA_ARGS__)

#define NFRAMES 64u
#define FRAME 4096u
#define RX_OFF 256u /* where a kernel puts a packet: XDP_PACKET_HEADROOM */

enum frame_state { F_FREE = 0, F_LENT, F_RX, F_TX };

static struct mem mem;
static struct afxdp_umem *um;
static uint8_t state[NFRAMES];
static uint64_t bad;

static struct dbuf *frame_dbuf(unsigned i)
{
    return (struct dbuf *)(um->area + (size_t)i * FRAME);
}

static unsigned frame_index(const struct dbuf *d)
{
    return (unsigned)(((const uint8_t *)d - um->area) / FRAME);
}

static void init_once(void)
{
    static bool done;

    if (done)
        return;
    done = true;
    log_set_level(LOG_ERROR);
    if (mem_init(&mem, 16, 0, 0) != 0 || afxdp_umem_attach(&mem, NFRAMES, &um) != 0)
        die("init: UMEM");
    if (um->len != (size_t)NFRAMES * FRAME || um->pool->nfree != NFRAMES)
        die("init: a UMEM of %zu bytes, %u frames free", um->len, um->pool->nfree);
}

/* The pool's free stack against the model: each free frame once, no other. */
FUZZ_NOCOV static void check_pool(void)
{
    uint8_t seen[NFRAMES] = {0};
    unsigned nfree = 0, lent = 0, held = 0;

    for (uint32_t i = 0; i < um->pool->nfree; i++) {
        const uint8_t *p = (const uint8_t *)um->free[i];
        unsigned f;
        if (p < um->area || p >= um->area + um->len || (p - um->area) % FRAME != 0)
            die("free stack entry %u is not a frame of the UMEM", i);
        f = frame_index((const struct dbuf *)p);
        if (seen[f]++)
            die("frame %u twice on the free stack", f);
        if (state[f] != F_FREE)
            die("frame %u on the free stack while %s", f, state[f] == F_LENT ? "lent" : "held");
    }
    for (unsigned f = 0; f < NFRAMES; f++) {
        nfree += state[f] == F_FREE;
        lent += state[f] == F_LENT;
        held += state[f] == F_RX || state[f] == F_TX;
    }
    if (nfree != um->pool->nfree)
        die("%u frames free in the model, %u in the pool (%u lent, %u held)", nfree, um->pool->nfree, lent, held);
}

/* The n-th frame in state @st, counting from @from, or -1. */
static int frame_pick(uint8_t st, unsigned from)
{
    for (unsigned k = 0; k < NFRAMES; k++) {
        unsigned f = (from + k) % NFRAMES;
        if (state[f] == st)
            return (int)f;
    }
    return -1;
}

/* The fill ring, as xf_refill fills it: frames off the free stack. */
static void op_lend(unsigned n)
{
    while (n-- > 0 && um->pool->nfree > 0) {
        struct dbuf *d = um->free[--um->pool->nfree];
        state[frame_index(d)] = F_LENT;
    }
}

static void op_rx_lent(struct fuzz_in *in, uint8_t op)
{
    int f = frame_pick(F_LENT, fuzz_u8(in));
    uint32_t off = fuzz_u16(in), len = fuzz_u16(in), options = (op & 0x80) ? fuzz_u8(in) : 0;
    uint64_t before = bad, addr;
    bool ok;
    struct dbuf *d;

    if (f < 0)
        return;
    if (op & 0x40) /* a kernel's descriptor: the packet after the headroom */
        off = RX_OFF, len %= FRAME - RX_OFF + 1;
    else
        off %= FRAME;
    addr = (uint64_t)f * FRAME + off;
    ok = off >= sizeof(struct dbuf) && len <= FRAME - off && options == 0;
    d = afxdp_rx_desc(um, addr, len, options, &bad);
    if (ok) {
        if (!d || d != frame_dbuf((unsigned)f) || d->data != (uint8_t *)d + off || d->len != len || d->refcnt != 1 ||
            d->pool != um->pool || d->next || d->parent || bad != before)
            die("a good descriptor (frame %d, offset %u, length %u) did not come out as described", f, off, len);
        state[f] = F_RX;
    } else {
        if (d || bad != before + 1)
            die("a bad descriptor (frame %d, offset %u, length %u, options %u) %s", f, off, len, options,
                d ? "came out" : "was not counted");
        state[f] = F_FREE; /* back to the pool */
    }
}

static void op_rx_forged(struct fuzz_in *in, uint8_t op)
{
    uint64_t addr, before = bad;
    uint32_t len;
    int f = -1;
    struct dbuf copy;
    struct dbuf *d;

    switch ((op >> 3) & 3) {
    case 0: /* anywhere */
        addr = fuzz_u64(in);
        break;
    case 1: /* just past the UMEM */
        addr = um->len + fuzz_u16(in);
        break;
    case 2: /* near the top of the address space: sums wrap */
        addr = UINT64_MAX - fuzz_u16(in);
        break;
    default: /* in a frame we hold */
        f = frame_pick((op & 0x40) ? F_TX : F_RX, fuzz_u8(in));
        addr = f < 0 ? 0 : (uint64_t)f * FRAME + RX_OFF;
        break;
    }
    len = fuzz_u16(in);
    if (addr < um->len && f < 0) {
        f = (int)(addr / FRAME);
        if (state[f] == F_FREE)
            return; /* a frame never lent: outside the model (see above) */
        if (state[f] == F_LENT)
            return; /* a lent frame: op_rx_lent's case */
    }
    if (f >= 0)
        memcpy(&copy, frame_dbuf((unsigned)f), sizeof(copy));
    d = afxdp_rx_desc(um, addr, len, 0, &bad);
    if (d || bad != before + 1)
        die("a descriptor at 0x%llx naming no lent frame %s", (unsigned long long)addr,
            d ? "came out" : "was not counted");
    if (f >= 0 && memcmp(&copy, frame_dbuf((unsigned)f), sizeof(copy)) != 0)
        die("a refused descriptor wrote to frame %d", f);
}

static void op_release(struct fuzz_in *in)
{
    int f = frame_pick(F_RX, fuzz_u8(in));

    if (f < 0)
        return;
    dbuf_put(frame_dbuf((unsigned)f));
    state[f] = F_FREE;
}

static void op_tx(void)
{
    struct dbuf *d = mem_alloc(&mem, 100);

    if (!d)
        return;
    if ((const uint8_t *)d < um->area || (const uint8_t *)d >= um->area + um->len)
        die("a small buffer outside the UMEM");
    if (state[frame_index(d)] != F_FREE)
        die("frame %u handed out while not free", frame_index(d));
    state[frame_index(d)] = F_TX; /* the kernel holds it until the completion */
}

static void op_completion(struct fuzz_in *in, uint8_t op)
{
    uint64_t addr;
    int f = -1;
    bool want;

    switch ((op >> 3) & 3) {
    case 0:
    case 1: /* a frame sent */
        f = frame_pick(F_TX, fuzz_u8(in));
        if (f < 0)
            return;
        addr = (uint64_t)f * FRAME + sizeof(struct dbuf) + (fuzz_u16(in) % (FRAME - sizeof(struct dbuf)));
        want = true;
        break;
    case 2: /* outside the UMEM */
        addr = um->len + fuzz_u64(in) % (UINT64_MAX - um->len);
        want = false;
        break;
    default: /* a free frame */
        f = frame_pick(F_FREE, fuzz_u8(in));
        if (f < 0)
            return;
        addr = (uint64_t)f * FRAME;
        want = false;
        break;
    }
    if (afxdp_tx_done(um, addr) != want)
        die("completion at 0x%llx %s", (unsigned long long)addr, want ? "refused" : "taken");
    if (want)
        state[f] = F_FREE;
}

/* Everything back: lent frames come back as received and are released,
 * held ones are released, sent ones complete. */
static void finish(void)
{
    for (unsigned f = 0; f < NFRAMES; f++) {
        struct dbuf *d;
        switch (state[f]) {
        case F_LENT:
            d = afxdp_rx_desc(um, (uint64_t)f * FRAME + RX_OFF, 60, 0, &bad);
            if (!d)
                die("a lent frame refused at the end");
            dbuf_put(d);
            break;
        case F_RX:
            dbuf_put(frame_dbuf(f));
            break;
        case F_TX:
            if (!afxdp_tx_done(um, (uint64_t)f * FRAME))
                die("a sent frame refused at the end");
            break;
        default:
            break;
        }
        state[f] = F_FREE;
    }
    check_pool();
    if (um->pool->nfree != NFRAMES)
        die("%u frames of %u back", um->pool->nfree, NFRAMES);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in;

    init_once();
    fuzz_in_init(&in, data, size);
    while (fuzz_in_left(&in) > 0) {
        uint8_t op = fuzz_u8(&in);
        switch (op & 7) {
        case 0:
            op_lend((op >> 3) + 1u);
            break;
        case 1:
            op_rx_lent(&in, op);
            break;
        case 2:
            op_rx_forged(&in, op);
            break;
        case 3:
            op_release(&in);
            break;
        case 4:
            op_tx();
            break;
        case 5:
            op_completion(&in, op);
            break;
        default:
            op_release(&in);
            op_lend(1);
            break;
        }
        check_pool();
    }
    finish();
    return 0;
}
