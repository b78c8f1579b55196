/* SPDX-License-Identifier: MIT */
/*
 * runtime.c: the process-wide runtime (runtime.h): rt_init builds the
 * configuration, tables, pools and the libOS named by LIBOS (registry.c);
 * the wait loop polls every libOS. It sits in libos/, above core/ and mem/,
 * because it holds buffer pools and creates libOSes (docs/architecture.md).
 */
#include "libos/runtime.h"

#include "core/clock.h"
#include "core/latency.h"
#include "core/log.h"
#include "core/sigbuf.h"
#include "libos/catmem.h"
#include "libos/cattree.h"
#include "libos/registry.h"
#include "net/stats.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct runtime rt;

int rt_add_libos(struct libos *los)
{
    if (rt.nlibos == RT_MAX_LIBOS)
        return ENOMEM;
    rt.libos[rt.nlibos++] = los;
    return 0;
}

int rt_pipe_libos(struct libos **out)
{
    return catmem_instance(out);
}

#ifndef DEMI_HAVE_URING
int rt_storage_libos(struct libos **out)
{
    (void)out;
    log_err("storage queues: this libdemi was built without liburing (liburing-dev)");
    return ENOTSUP;
}
#endif

size_t rt_counter_names(const char **names, size_t cap)
{
    static const char *const stat_names[] = {
#define STAT_NAME(n, help) #n,
        INET_STATS(STAT_NAME) TREE_STATS(STAT_NAME)
#undef STAT_NAME
    };

    for (size_t i = 0; i < cap && i < ARRAY_SIZE(stat_names); i++)
        names[i] = stat_names[i];
    return ARRAY_SIZE(stat_names);
}

static volatile sig_atomic_t rt_stats_printed;

/* A bucket bound in the unit that reads best: ns, us or ms. */
static void rt_stats_time(struct sigbuf *out, uint64_t ns)
{
    if (ns < 10000) {
        sigbuf_u64(out, ns, 0);
        sigbuf_str(out, " ns");
    } else if (ns < 10000000) {
        sigbuf_u64(out, ns / 1000, 0);
        sigbuf_str(out, " us");
    } else {
        sigbuf_u64(out, ns / 1000000, 0);
        sigbuf_str(out, " ms");
    }
}

void rt_stats_print(const char *why)
{
    static const char *const kinds[LAT_KINDS] = {"push", "pop", "accept", "connect"};
    struct sigbuf out = {.fd = 2};

    if (!rt.initialised || !rt.cfg.stats || rt_stats_printed)
        return;
    rt_stats_printed = 1;
    sigbuf_str(&out, "libdemi: statistics of process ");
    sigbuf_u64(&out, (uint64_t)getpid(), 0);
    sigbuf_str(&out, " (");
    sigbuf_str(&out, why);
    sigbuf_str(&out, "): ");
    sigbuf_u64(&out, rt.qds.nused, 0);
    sigbuf_str(&out, " queues open, ");
    sigbuf_u64(&out, rt.ops.nops - rt.ops.nfree, 0);
    sigbuf_str(&out, " ops in use\n");
    for (int k = 0; k < LAT_KINDS; k++) {
        uint64_t n = lat_count(&rt.ops.lat[k]);
        if (!n)
            continue;
        sigbuf_str(&out, "  ");
        sigbuf_pad(&out, kinds[k], 8);
        sigbuf_u64(&out, n, 12);
        sigbuf_str(&out, " ops  latency p50 < ");
        rt_stats_time(&out, lat_quantile(&rt.ops.lat[k], 0.5));
        sigbuf_str(&out, ", p99 < ");
        rt_stats_time(&out, lat_quantile(&rt.ops.lat[k], 0.99));
        sigbuf_str(&out, ", p99.9 < ");
        rt_stats_time(&out, lat_quantile(&rt.ops.lat[k], 0.999));
        sigbuf_str(&out, "\n");
    }
    for (int i = 0; i < rt.nlibos; i++)
        if (rt.libos[i]->ops->stats)
            rt.libos[i]->ops->stats(rt.libos[i], &out);
    sigbuf_flush(&out);
}

static void rt_stats_at_exit(void)
{
    if (rt_owner())
        rt_stats_print("at exit");
}

/* SIGINT, SIGTERM: the statistics, then the signal's own default action
 * (the process ends as it would have, with the same status). */
static void rt_stats_on_signal(int sig)
{
    if (rt_owner())
        rt_stats_print(sig == SIGINT ? "SIGINT" : "SIGTERM");
    signal(sig, SIG_DFL);
    raise(sig);
}

/* With libdemi.stats: print at exit, and on SIGINT/SIGTERM when the program
 * left them at their default (a program's own handlers are never replaced;
 * one that exits through exit() prints at exit). */
static void rt_stats_arm(void)
{
    static bool armed;
    const int sigs[2] = {SIGINT, SIGTERM};

    if (!rt.cfg.stats || armed)
        return;
    armed = true;
    atexit(rt_stats_at_exit);
    for (int i = 0; i < 2; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO)) {
            struct sigaction sa;
            memset(&sa, 0, sizeof(sa));
            sa.sa_handler = rt_stats_on_signal;
            sigemptyset(&sa.sa_mask);
            sigaction(sigs[i], &sa, NULL);
        }
    }
}

int rt_init(const char *libos_name, const char *cfg_path)
{
    char err[CONFIG_ERR_MAX] = "", ignored[900];
    const struct libos_entry *entry = NULL;
    int ret;

    if (rt.initialised)
        return EEXIST;
    memset(&rt, 0, sizeof(rt));
    rt.owner_pid = getpid();

    ret = config_load(&rt.cfg, cfg_path, err, sizeof(err));
    if (ret) {
        log_err("%s", err[0] ? err : "cannot load the configuration");
        goto out_cfg;
    }
    /* libdemi.log_level holds one of the names (its alias DEMI_LOG included). */
    log_set_level((enum log_level)log_level_parse(rt.cfg.log_level));
    if (config_ignored_warning(&rt.cfg, ignored, sizeof(ignored)))
        log_warn("%s", ignored);

    if (!libos_name || !libos_name[0])
        libos_name = "catnap";
    entry = libos_registry_find(libos_name);
    if (!entry) {
        char names[160];
        libos_registry_names(names, sizeof(names));
        log_err("environment LIBOS: unknown libOS \"%s\" (expected %s)", libos_name, names);
        ret = EINVAL;
        goto out_cfg;
    }
    if (!entry->create) {
        log_err("LIBOS=%s (%s) is not built into this libdemi", entry->name, entry->what);
        ret = ENOTSUP;
        goto out_cfg;
    }

    ret = op_table_init(&rt.ops, rt.cfg.max_ops);
    if (ret)
        goto out_cfg;
    ret = qd_table_init(&rt.qds, rt.cfg.max_queues);
    if (ret)
        goto out_ops;
    ret = mem_init(&rt.mem, rt.cfg.pool_small_count, rt.cfg.pool_large_count, rt.cfg.pool_huge_count);
    if (ret)
        goto out_qds;
    ret = entry->create(&rt.cfg, &rt.net);
    if (ret) {
        log_err("LIBOS=%s: cannot start: %s", entry->name, strerror(ret));
        goto out_mem;
    }
    rt_add_libos(rt.net);
    clock_init(!rt.cfg.clock_no_tsc);
    rt.spin_ns = (uint64_t)rt.cfg.spin_us * 1000u;
    rt.idle_yield = rt.cfg.idle_yield;
    rt.initialised = true;
    rt_stats_printed = 0;
    rt_stats_arm();
    log_info("libdemi: LIBOS=%s, config %s", entry->name, rt.cfg.path[0] ? rt.cfg.path : "(defaults)");
    return 0;

out_mem:
    mem_fini(&rt.mem);
out_qds:
    qd_table_fini(&rt.qds);
out_ops:
    op_table_fini(&rt.ops);
out_cfg:
    config_free(&rt.cfg);
    memset(&rt, 0, sizeof(rt));
    return ret;
}

void rt_shutdown(void)
{
    if (!rt.initialised)
        return;
    rt_stats_print("at shutdown");
    /* Close every open queue so libOSes release sockets and buffers. */
    for (uint32_t qd = 0; qd < rt.qds.nslots; qd++) {
        struct queue *q = rt.qds.slots[qd];
        if (q) {
            qd_release(&rt.qds, (int)qd);
            q->libos->ops->close(q);
        }
    }
    /* Results never waited for may hold popped buffers. */
    while (!list_empty(&rt.ops.cq)) {
        struct demi_op *op = list_entry(list_first(&rt.ops.cq), struct demi_op, link);
        demi_qresult_t qr;
        op_consume(&rt.ops, op, &qr);
        if (qr.qr_opcode == DEMI_OPC_POP && qr.qr_value.sga.sga_buf) {
            struct dbuf *d = mem_lookup_app(&rt.mem, qr.qr_value.sga.sga_buf);
            if (d)
                dbuf_put(d);
        }
    }
    for (int i = rt.nlibos - 1; i >= 0; i--)
        rt.libos[i]->ops->destroy(rt.libos[i]);
    mem_fini(&rt.mem);
    qd_table_fini(&rt.qds);
    op_table_fini(&rt.ops);
    config_free(&rt.cfg);
    memset(&rt, 0, sizeof(rt));
}

/* One round of every libOS's poll, at the time @refresh says to read. */
static int rt_poll_round(bool refresh)
{
    int n = 0;

    if (refresh)
        clock_refresh(); /* the time of this round, for every libOS */
    for (int i = 0; i < rt.nlibos; i++)
        n += rt.libos[i]->ops->poll(rt.libos[i]);
    return n;
}

int rt_poll(void)
{
    return rt_poll_round(true);
}

/* In a wait's spin, an idle round after an idle round reads the clock only
 * every this many rounds: reading the TSC costs 18 ns on this project's VMs,
 * a fifth of an idle round, and the cached time is then at most a few
 * hundred ns old, against 8 us timer ticks. A round after a busy one, the
 * first of a wait and the first after a sleep or a yield read it. */
#define RT_IDLE_CLOCK_ROUNDS 8u

/* The libOS that may sleep for all: the only one with block(), and only
 * while every other one has no op that just its polling completes (a pipe
 * libOS beside catnap: catnap sleeps in epoll while no pipe op waits). */
static struct libos *rt_sleeper(void)
{
    struct libos *sleeper = NULL;

    for (int i = 0; i < rt.nlibos; i++) {
        struct libos *los = rt.libos[i];
        /* One that can sleep but has nothing to wait for (storage queues
         * with no I/O in flight) leaves the sleep to the other. */
        if (los->ops->block && rt.nlibos > 1 && los->ops->has_waiters && !los->ops->has_waiters(los))
            continue;
        if (los->ops->block) {
            if (sleeper)
                return NULL;
            sleeper = los;
        } else if (rt.nlibos > 1 && (!los->ops->has_waiters || los->ops->has_waiters(los))) {
            return NULL;
        }
    }
    return sleeper;
}

bool rt_wait_progress(uint64_t seen_seq, struct rt_deadline *dl)
{
    uint64_t now, idle_since = 0; /* 0: not idle yet */
    struct libos *sleeper;
    unsigned stale_rounds = RT_IDLE_CLOCK_ROUNDS; /* the first round reads it */

    for (;;) {
        bool fresh = stale_rounds >= RT_IDLE_CLOCK_ROUNDS;
        bool busy = rt_poll_round(fresh) > 0;

        stale_rounds = busy ? RT_IDLE_CLOCK_ROUNDS : fresh ? 1 : stale_rounds + 1;

        if (rt.ops.cq_seq != seen_seq)
            return true;
        /* In virtual time (LIBOS=cattest) only the harness moves the clock:
         * waiting cannot make time pass, so a wait polls once. */
        if (clock_is_virtual)
            return false;
        now = clock_now_ns(); /* as this round read it, or a few idle rounds before */
        if (dl->at == 0)
            dl->at = now + dl->timeout_ns < now ? UINT64_MAX : now + dl->timeout_ns;
        if (now >= dl->at)
            return false;
        if (busy || idle_since == 0) {
            idle_since = now;
            continue;
        }
        /* Busy-poll first: µs-scale replies arrive within the spin window.
         * After that, a libOS that can sleep (catnap: epoll_wait) does, in
         * slices of at most 1 ms so deadlines stay accurate. Without one, we
         * keep polling but yield the CPU each round (libdemi.idle_yield): a
         * peer process that shares our core (a pipe's other end, a memif
         * peer) then runs at once instead of after our whole time slice. On
         * a core of its own the yield returns at once, for a syscall's cost. */
        if (now - idle_since >= rt.spin_ns || (rt.nlibos == 1 && rt.net->ops->block_at_once)) {
            uint64_t left = dl->at - now;
            stale_rounds = RT_IDLE_CLOCK_ROUNDS; /* time passes in both */
            if ((sleeper = rt_sleeper()) == NULL) {
                if (rt.idle_yield)
                    sched_yield();
                continue;
            }
            sleeper->ops->block(sleeper, (int64_t)(left < 1000000u ? left : 1000000u));
            if (rt.ops.cq_seq != seen_seq)
                return true;
        }
    }
}
