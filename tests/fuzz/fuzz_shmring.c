/* SPDX-License-Identifier: MIT */
/*
 * fuzz_shmring.c: libFuzzer target for catmem's shared memory as a hostile
 * peer process writes it: ring counters, record headers and payloads, the
 * pipe's header (magic, version, sizes, flags), at any moment, while our
 * reader and writer paths run over it. The first byte chooses the level:
 *
 * even: the ring alone (mem/shmring.h). Its bytes are a heap block of
 *   exactly the ring's size, so ASan sees any access outside it. Ops:
 *
 *     op:u8, then by op % 8
 *     0  peer sets a counter: (op>>3)&1 tail|head, (op>>4)&3 how:
 *        set u64 / add s16 / add u8*64 / set to the other counter + u8
 *     1  peer writes n = (op>>3)+1 bytes at off:u16 % size
 *     2  peer writes a record header (len:u32, flags:u32) at our read
 *        position, or at off:u16 when (op>>3)&1
 *     3  we reserve len:u16 % (max+1), write it all, then by (op>>3)&3:
 *        commit it / commit shorter (len2:u16) with flag ZC / drop it
 *     4  we push len:u16 % (max+1) bytes
 *     5  we peek; a message is read byte by byte, then by (op>>3)&3:
 *        release / consume and hold (a zero-copy pop) / leave it
 *     6  we give back the held records (publish the head)
 *     7  we attach again (producer when (op>>3)&1) to the counters as they are
 *
 * odd: a real pipe (LIBOS=catmem, 8 KiB rings, the liveness probed at every
 * poll), created at the start of each input under a name of its own; the
 * peer writes through a mapping of its own. Ops (op % 16):
 *
 *     0  demi_open_pipe (once): the header may have been rewritten before
 *     1  peer writes n = (op>>4)+1 bytes at off:u16 % object size
 *     2  peer sets ring (op>>4)&1's (op>>5)&1 tail|head: set u64 / add s16 by (op>>6)&1
 *     3  peer writes a record header (len:u32, flags:u32) where end
 *        (op>>4)&1 reads next
 *     4  end (op>>4)&1 pushes a copy of len:u16 bytes (0 and too big too)
 *     5  end (op>>4)&1 demi_pipe_sgaalloc size:u16, then by (op>>5)&3:
 *        push it / push it shorter / free it / keep it reserved
 *     6  end (op>>4)&1 pushes its kept reservation
 *     7  end (op>>4)&1 pops; by (op>>5)&1 frees the sga at once or holds it
 *     8  every pending op: one non-blocking wait (the poll loop runs)
 *     9  free held sga (op>>4)
 *     10 end (op>>4)&1 closes (graceful: the other sees EOF / EPIPE)
 *     11 end (op>>4)&1 "dies": its lock byte is let go, as the kernel does
 *        when a process is killed (the other sees ECONNRESET)
 *     12 end (op>>4)&1 frees its kept reservation
 *
 * Oracles, besides ASan/UBSan: every buffer handed out (reserved, popped
 * in place) lies inside the ring it belongs to, lengths within the pipe's
 * largest message; a message popped from a healthy ring is byte-exact; at
 * the end of each input, once both ends are closed, every op is complete
 * (nothing waits forever) and every buffer and view header is back.
 */
#include "libos/runtime.h"
#include "libos/catmem.h"
#include "libos/catmem_int.h"
#include "mem/shmring.h"

#include <demi/libos.h>
#include <demi/pipe.h>
#include <demi/sga.h>
#include <demi/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define RING 8192u      /* the pipe's rings (DEMI_CATMEM_RING_SIZE) */
#define LONE_RING 4096u /* the lone ring's */
#define MAX_OPS 512
#define MAX_QTS MAX_OPS /* one op per op at most: never full */
#define MAX_HELD 16
#define DIE(...)                                            \
    do {                                                    \
        fprintf(real_stderr, "fuzz_shmring: " __VA_ARGS__); \
        fputc('\n', real_stderr);                           \
        abort();                                            \
    } while (0)

static FILE *real_stderr;

struct in {
    const uint8_t *p;
    size_t len, off;
};

static uint8_t in_u8(struct in *in)
{
    return in->off < in->len ? in->p[in->off++] : 0;
}

static uint16_t in_u16(struct in *in)
{
    uint16_t hi = in_u8(in);
    return (uint16_t)(hi << 8 | in_u8(in));
}

static uint32_t in_u32(struct in *in)
{
    uint32_t hi = in_u16(in);
    return hi << 16 | in_u16(in);
}

static uint64_t in_u64(struct in *in)
{
    uint64_t hi = in_u32(in);
    return hi << 32 | in_u32(in);
}

static uint8_t pat(uint32_t seq, uint32_t i)
{
    return (uint8_t)(seq * 131u + i * 7u);
}

/* ---- the ring alone -------------------------------------------------------- */

static struct shmring_ctl lone_ctl __attribute__((aligned(128)));

/* Whether [p, p+n) lies in [lo, lo+size). */
static bool inside(const void *p, uint64_t n, const void *lo, uint64_t size)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)lo;
    return a >= b && a - b <= size && n <= size - (a - b);
}

static void fuzz_ring(struct in *in)
{
    uint8_t *data = aligned_alloc(SHMRING_ALIGN, LONE_RING);
    uint32_t max = shmring_max_msg(LONE_RING), seq = 0;
    uint64_t held_from = 0;
    bool holding = false;
    struct shmring tx, rx;
    volatile uint8_t sink = 0;

    if (!data)
        DIE("out of memory");
    memset(data, 0, LONE_RING);
    memset(&lone_ctl, 0, sizeof(lone_ctl));
    atomic_store(&lone_ctl.tail, in_u64(in));
    atomic_store(&lone_ctl.head, in_u64(in));
    shmring_attach(&tx, &lone_ctl, data, LONE_RING, true);
    shmring_attach(&rx, &lone_ctl, data, LONE_RING, false);
    for (int n = 0; n < MAX_OPS && in->off < in->len; n++) {
        uint8_t op = in_u8(in);
        switch (op % 8) {
        case 0: {
            _Atomic uint64_t *c = (op >> 3) & 1 ? &lone_ctl.head : &lone_ctl.tail;
            _Atomic uint64_t *o = (op >> 3) & 1 ? &lone_ctl.tail : &lone_ctl.head;
            switch ((op >> 4) & 3) {
            case 0:
                atomic_store(c, in_u64(in));
                break;
            case 1:
                atomic_store(c, atomic_load(c) + (uint64_t)(int64_t)(int16_t)in_u16(in));
                break;
            case 2:
                atomic_store(c, atomic_load(c) + (uint64_t)in_u8(in) * SHMRING_ALIGN);
                break;
            default:
                atomic_store(c, atomic_load(o) + in_u8(in));
                break;
            }
            break;
        }
        case 1: {
            uint32_t off = in_u16(in) % LONE_RING, k = (op >> 3) + 1u;
            for (uint32_t i = 0; i < k && off + i < LONE_RING; i++)
                data[off + i] = in_u8(in);
            break;
        }
        case 2: {
            uint64_t off = (op >> 3) & 1 ? in_u16(in) : rx.mine;
            off &= LONE_RING - 1;
            off &= ~(uint64_t)(SHMRING_HDR - 1); /* a header's own alignment */
            if (off + SHMRING_HDR <= LONE_RING) {
                struct shmring_rec r = {.len = in_u32(in), .flags = in_u32(in)};
                memcpy(data + off, &r, sizeof(r));
            }
            break;
        }
        case 3: {
            uint32_t len = in_u16(in) % (max + 1);
            uint8_t *p = shmring_reserve(&tx, len);
            if (!p)
                break;
            if (!inside(p, len, data, LONE_RING) || (uintptr_t)(p - SHMRING_HDR - data) % SHMRING_ALIGN)
                DIE("reserve of %u bytes at offset %td: outside the ring or off a record", len, p - data);
            for (uint32_t i = 0; i < len; i++)
                p[i] = pat(seq, i);
            switch ((op >> 3) & 3) {
            case 0:
                shmring_commit(&tx, len);
                seq++;
                break;
            case 1:
                shmring_commit_flags(&tx, len ? in_u16(in) % (len + 1) : 0, SHMRING_F_ZC);
                seq++;
                break;
            default:
                break; /* dropped: nothing published */
            }
            break;
        }
        case 4: {
            uint32_t len = in_u16(in) % (max + 1);
            uint8_t buf[LONE_RING / 2];
            for (uint32_t i = 0; i < len; i++)
                buf[i] = pat(seq, i);
            if (shmring_push(&tx, buf, len))
                seq++;
            break;
        }
        case 5: {
            const uint8_t *p = NULL;
            uint32_t len = 0, flags = 0;
            if (shmring_peek_flags(&rx, max, &p, &len, &flags) != SHMRING_MSG)
                break;
            if (len > max || !inside(p, len, data, LONE_RING))
                DIE("peek: %u bytes at offset %td, outside the ring", len, p - data);
            for (uint32_t i = 0; i < len; i++)
                sink ^= p[i];
            switch ((op >> 3) & 3) {
            case 0:
                if (holding)
                    shmring_consume(&rx, len); /* behind a held one: its space waits */
                else
                    shmring_release(&rx, len);
                break;
            case 1:
                if (!holding)
                    held_from = shmring_read_pos(&rx);
                holding = true;
                shmring_consume(&rx, len);
                break;
            default:
                break;
            }
            break;
        }
        case 6:
            shmring_publish_head(&rx, shmring_read_pos(&rx));
            holding = false;
            break;
        case 7:
            if ((op >> 3) & 1)
                shmring_attach(&tx, &lone_ctl, data, LONE_RING, true);
            else
                shmring_attach(&rx, &lone_ctl, data, LONE_RING, false);
            holding = false;
            break;
        }
        if (!shmring_broken(&tx) && (tx.mine % SHMRING_ALIGN))
            DIE("producer position %llu off a record boundary", (unsigned long long)tx.mine);
        if (!shmring_broken(&rx) && (rx.mine % SHMRING_ALIGN))
            DIE("consumer position %llu off a record boundary", (unsigned long long)rx.mine);
    }
    (void)held_from;
    (void)sink;
    free(data);
}

/* ---- a real pipe ----------------------------------------------------------- */

struct end {
    int qd;               /* -1: not open (never, or closed) */
    struct cm_pipe *p;    /* while open */
    const uint8_t *rx_lo; /* the ring it reads, in its mapping */
    const uint8_t *tx_lo; /* the ring it writes */
    uint64_t ring;
    uint32_t max;
    demi_sgarray_t resv; /* kept reservation (sga_numsegs 0: none) */
};

static struct pipe_state {
    struct end e[2]; /* creator, opener */
    uint8_t *peer;   /* the hostile peer's own mapping */
    size_t peer_len;
    demi_qtoken_t qts[MAX_QTS];
    int nqts;
    demi_sgarray_t held[MAX_HELD];
    int nheld;
    bool hostile; /* the peer wrote something: bytes may differ */
} ps;

static unsigned pipe_seq;
static uint32_t bufs_at_start;

static void end_attach(struct end *e, int qd)
{
    struct queue *q = qd_get(&rt.qds, qd);

    if (!q)
        DIE("qd %d has no queue", qd);
    e->qd = qd;
    e->p = cm_pipe(q);
    e->ring = (e->p->map->len - CM_HDR_SIZE) / 2;
    e->rx_lo = e->p->rx.data;
    e->tx_lo = e->p->tx.data;
    e->max = e->p->max_msg;
}

/* Check a completed pop or push and keep or free the pop's sga. */
static void check_result(const demi_qresult_t *qr, bool hold)
{
    const demi_sgarray_t *sga = &qr->qr_value.sga;
    const struct end *e = NULL;

    if (qr->qr_opcode != DEMI_OPC_POP)
        return;
    for (int i = 0; i < 2; i++)
        if (ps.e[i].qd == qr->qr_qd)
            e = &ps.e[i];
    if (sga->sga_numsegs != 1)
        DIE("pop: %u segments", sga->sga_numsegs);
    if (e) {
        const uint8_t *b = sga->sga_segs[0].sgaseg_buf;
        uint32_t len = sga->sga_segs[0].sgaseg_len;
        if (len > e->max)
            DIE("pop of %u bytes from a pipe whose largest message is %u", len, e->max);
        /* In place: inside the ring it read. Anywhere else in the mapping
         * would be the header or our own ring. */
        if ((uintptr_t)b >= (uintptr_t)e->p->map->base && (uintptr_t)b < (uintptr_t)e->p->map->base + e->p->map->len &&
            !inside(b, len, e->rx_lo, e->ring))
            DIE("zero-copy pop of %u bytes at %p, outside its ring [%p, +%llu)", len, (const void *)b,
                (const void *)e->rx_lo, (unsigned long long)e->ring);
        /* Every message we push is pat(0, i): unless the peer scribbled,
         * what comes out is exactly that. */
        for (uint32_t i = 0; !ps.hostile && i < len; i++)
            if (b[i] != pat(0, i))
                DIE("pop of %u bytes: byte %u is %#x, pushed %#x (no hostile write in this input)", len, i, b[i],
                    pat(0, i));
    }
    if (hold && ps.nheld < MAX_HELD)
        ps.held[ps.nheld++] = *sga;
    else if (demi_sgafree((demi_sgarray_t *)sga) != 0)
        DIE("free of a popped sga failed");
}

static void track(demi_qtoken_t qt)
{
    if (ps.nqts == MAX_QTS)
        DIE("more than %d ops pending", MAX_QTS);
    ps.qts[ps.nqts++] = qt;
}

static void poll_all(bool hold)
{
    demi_qresult_t qr;

    for (int i = 0; i < ps.nqts;) {
        if (demi_wait(&qr, ps.qts[i], &(struct timespec){0, 0}) == 0) {
            check_result(&qr, hold);
            ps.qts[i] = ps.qts[--ps.nqts];
        } else {
            i++;
        }
    }
}

static void end_close(struct end *e)
{
    if (e->qd < 0)
        return;
    if (e->resv.sga_numsegs)
        demi_sgafree(&e->resv); /* a view: goes with its mapping otherwise */
    memset(&e->resv, 0, sizeof(e->resv));
    if (demi_close(e->qd) != 0)
        DIE("close of qd %d failed", e->qd);
    e->qd = -1;
    e->p = NULL;
}

static void fill(demi_sgarray_t *sga, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        ((uint8_t *)sga->sga_segs[0].sgaseg_buf)[i] = pat(0, i);
}

static void fuzz_pipe(struct in *in)
{
    char name[64], path[96];
    demi_sgarray_t sga;
    demi_qtoken_t qt;
    struct end *e;
    bool opened = false;
    int qd, fd;

    memset(&ps, 0, sizeof(ps));
    ps.e[0].qd = ps.e[1].qd = -1;
    snprintf(name, sizeof(name), "fuzz-%d-%u", (int)getpid(), pipe_seq++);
    if (demi_create_pipe(&qd, name) != 0)
        DIE("demi_create_pipe %s failed", name);
    end_attach(&ps.e[0], qd);
    snprintf(path, sizeof(path), CATMEM_SHM_PREFIX "%s", name);
    fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    ps.peer_len = ps.e[0].p->map->len;
    ps.peer = fd < 0 ? MAP_FAILED : mmap(NULL, ps.peer_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fd >= 0)
        close(fd);
    if (ps.peer == MAP_FAILED)
        DIE("cannot map %s", path);

    for (int n = 0; n < MAX_OPS && in->off < in->len; n++) {
        uint8_t op = in_u8(in);
        e = &ps.e[(op >> 4) & 1];
        switch (op % 16) {
        case 0:
            if (!opened) {
                opened = true;
                if (demi_open_pipe(&qd, name) == 0)
                    end_attach(&ps.e[1], qd);
            }
            break;
        case 1: {
            size_t off = in_u16(in) % ps.peer_len, k = (size_t)(op >> 4) + 1;
            ps.hostile = true;
            for (size_t i = 0; i < k && off + i < ps.peer_len; i++)
                ps.peer[off + i] = in_u8(in);
            break;
        }
        case 2: {
            struct cm_shm *s = (struct cm_shm *)ps.peer;
            struct shmring_ctl *c = &s->ring[(op >> 4) & 1];
            _Atomic uint64_t *x = (op >> 5) & 1 ? &c->head : &c->tail;
            ps.hostile = true;
            if ((op >> 6) & 1)
                atomic_store(x, atomic_load(x) + (uint64_t)(int64_t)(int16_t)in_u16(in));
            else
                atomic_store(x, in_u64(in));
            break;
        }
        case 3:
            if (e->qd >= 0) {
                uint64_t off = CM_HDR_SIZE + (uint64_t)(1 - e->p->side) * e->ring + (e->p->rx.mine & (e->ring - 1));
                struct shmring_rec r = {.len = in_u32(in), .flags = in_u32(in)};
                ps.hostile = true;
                if (off + sizeof(r) <= ps.peer_len)
                    memcpy(ps.peer + off, &r, sizeof(r));
            }
            break;
        case 4:
            if (e->qd >= 0) {
                uint32_t len = in_u16(in);
                sga = demi_sgaalloc(len ? len : 1);
                if (sga.sga_numsegs == 0)
                    break;
                fill(&sga, sga.sga_segs[0].sgaseg_len);
                if (len == 0)
                    sga.sga_segs[0].sgaseg_len = 0;
                if (demi_push(&qt, e->qd, &sga) == 0)
                    track(qt);
                demi_sgafree(&sga);
            }
            break;
        case 5:
            if (e->qd >= 0) {
                uint32_t size = in_u16(in);
                int ret = demi_pipe_sgaalloc(&sga, e->qd, size);
                if (ret != 0) {
                    if (sga.sga_numsegs != 0)
                        DIE("demi_pipe_sgaalloc failed (%d) with a buffer", ret);
                    break;
                }
                if (sga.sga_segs[0].sgaseg_len != size || !inside(sga.sga_segs[0].sgaseg_buf, size, e->tx_lo, e->ring))
                    DIE("reservation of %u bytes outside its ring", size);
                fill(&sga, size);
                switch ((op >> 5) & 3) {
                case 1:
                    sga.sga_segs[0].sgaseg_len = 1 + in_u16(in) % size; /* fall through */
                case 0:
                    if (demi_push(&qt, e->qd, &sga) == 0)
                        track(qt);
                    break;
                case 2:
                    demi_sgafree(&sga);
                    break;
                default:
                    e->resv = sga;
                    break;
                }
            }
            break;
        case 6:
            if (e->qd >= 0 && e->resv.sga_numsegs) {
                if (demi_push(&qt, e->qd, &e->resv) == 0)
                    track(qt);
                memset(&e->resv, 0, sizeof(e->resv));
            }
            break;
        case 7:
            if (e->qd >= 0 && demi_pop(&qt, e->qd) == 0) {
                demi_qresult_t qr;
                if (demi_wait(&qr, qt, &(struct timespec){0, 0}) == 0)
                    check_result(&qr, (op >> 5) & 1);
                else
                    track(qt);
            }
            break;
        case 8:
            poll_all((op >> 4) & 1);
            break;
        case 9:
            if (ps.nheld > 0) {
                int i = (op >> 4) % ps.nheld;
                if (demi_sgafree(&ps.held[i]) != 0)
                    DIE("free of a held sga failed");
                ps.held[i] = ps.held[--ps.nheld];
            }
            break;
        case 10:
            end_close(e);
            break;
        case 11:
            if (e->qd >= 0) {
                struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = e->p->side, .l_len = 1};
                fcntl(e->p->fd, F_OFD_SETLK, &fl);
            }
            break;
        case 12:
            if (e->qd >= 0 && e->resv.sga_numsegs) {
                demi_sgafree(&e->resv);
                memset(&e->resv, 0, sizeof(e->resv));
            }
            break;
        default:
            break;
        }
    }

    /* The end: both ends close, every op completes, everything comes back. */
    end_close(&ps.e[0]);
    end_close(&ps.e[1]);
    poll_all(false);
    if (ps.nqts)
        DIE("%d op(s) still pending after both ends closed", ps.nqts);
    for (int i = 0; i < ps.nheld; i++)
        if (demi_sgafree(&ps.held[i]) != 0)
            DIE("free of a held sga after close failed");
    munmap(ps.peer, ps.peer_len);
    if (mem_in_use(&rt.mem) != bufs_at_start)
        DIE("%u buffer(s) in use after the input, %u before", mem_in_use(&rt.mem), bufs_at_start);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct demi_args args = {0, NULL, NULL};
    char ring[16];

    (void)argc, (void)argv;
    snprintf(ring, sizeof(ring), "%u", RING);
    setenv("LIBOS", "catmem", 1);
    setenv("DEMI_CATMEM_RING_SIZE", ring, 1);
    setenv("DEMI_CATMEM_PEER_CHECK_US", "0", 1); /* probe at every poll: no wall clock in the outcome */
    unsetenv("CONFIG_PATH");
    if (demi_init(&args) != 0)
        abort();
    /* A corrupt pipe is logged as an error, which is what we feed it all
     * day: libdemi's stdio goes to /dev/null. libFuzzer and the sanitizers
     * write to fd 2 (libFuzzer through the FILE it took at start), so
     * their reports still arrive; ours go through real_stderr. */
    real_stderr = stderr;
    stderr = fopen("/dev/null", "w");
    if (!stderr)
        stderr = real_stderr;
    bufs_at_start = mem_in_use(&rt.mem);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, size, 0};

    if (in_u8(&in) & 1)
        fuzz_pipe(&in);
    else
        fuzz_ring(&in);
    return 0;
}
