/* SPDX-License-Identifier: MIT */
/* stats_shm.c: publication of a process's statistics for demi-stat (see
 * stats_shm.h). */
#include "libos/stats_shm.h"

#include "core/clock.h"
#include "core/log.h"
#include "libos/runtime.h"
#include "libos/inet.h"
#include "net/stack.h"
#include "net/tcp.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct stats_publisher {
    struct inet_stack *stack;
    struct stats_shm *shm;
    char name[64];
    uint64_t next_counters_ns, next_conns_ns;
    uint32_t pcap_snaplen; /* for captures demi-stat starts */
    uint64_t pcap_max_bytes;
};

uint32_t stats_shm_layout(void)
{
    uint32_t h = 2166136261u;
#define STATS_LAYOUT_HASH(n, help)         \
    for (const char *c = #n "\n"; *c; c++) \
        h = (h ^ (uint8_t)*c) * 16777619u;
    INET_STATS(STATS_LAYOUT_HASH)
#undef STATS_LAYOUT_HASH
    return h ^ (uint32_t)sizeof(struct stats_shm);
}

static uint64_t real_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The segment's name, removed at exit (a program that returns from main
 * without closing libdemi, on any libOS). */
static char stats_shm_exit_name[64];

static void stats_shm_atexit(void)
{
    if (stats_shm_exit_name[0] && rt_owner())
        shm_unlink(stats_shm_exit_name);
}

/* Segments of processes that died without removing theirs (SIGKILL, a
 * signal's default action): removed by the next process that publishes, so
 * /dev/shm does not fill up. */
static void stats_shm_reap(void)
{
    DIR *dir = opendir("/dev/shm");
    struct dirent *e;

    if (!dir)
        return;
    while ((e = readdir(dir)) != NULL) {
        char name[300];
        char *end;
        long pid;
        if (strncmp(e->d_name, STATS_SHM_PREFIX, strlen(STATS_SHM_PREFIX)) != 0)
            continue;
        pid = strtol(e->d_name + strlen(STATS_SHM_PREFIX), &end, 10);
        if (*end || pid <= 0 || pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(name, sizeof(name), "/%s", e->d_name);
        if (shm_unlink(name) == 0)
            log_debug("stats: removed %s of dead process %ld", name, pid);
    }
    closedir(dir);
}

struct stats_publisher *stats_shm_create(struct inet_stack *s, const char *libos, const char *dev,
                                         uint32_t pcap_snaplen, uint64_t pcap_max_bytes)
{
    struct stats_publisher *p = calloc(1, sizeof(*p));
    struct stats_shm *m;
    int fd;

    if (!p)
        return NULL;
    stats_shm_reap();
    snprintf(p->name, sizeof(p->name), "/" STATS_SHM_PREFIX "%d", (int)getpid());
    fd = shm_open(p->name, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ftruncate(fd, (off_t)sizeof(*m)) != 0) {
        log_info("stats: no live statistics for demi-stat: %s: %s", p->name, strerror(errno));
        if (fd >= 0) {
            close(fd);
            shm_unlink(p->name);
        }
        free(p);
        return NULL;
    }
    m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        shm_unlink(p->name);
        free(p);
        return NULL;
    }
    m->version = STATS_SHM_VERSION;
    m->layout = stats_shm_layout();
    m->pid = (int32_t)getpid();
    m->ip = s->ip;
    snprintf(m->libos, sizeof(m->libos), "%s", libos);
    snprintf(m->dev, sizeof(m->dev), "%s", dev);
    m->start_real_ns = real_now_ns();
    m->ncounters = (uint32_t)(sizeof(struct inet_stats) / sizeof(uint64_t));
    __atomic_store_n(&m->magic, STATS_SHM_MAGIC, __ATOMIC_RELEASE); /* last: the header is whole */
    p->stack = s;
    p->shm = m;
    p->pcap_snaplen = pcap_snaplen ? pcap_snaplen : 65535;
    p->pcap_max_bytes = pcap_max_bytes;
    {
        static bool registered;
        snprintf(stats_shm_exit_name, sizeof(stats_shm_exit_name), "%s", p->name);
        if (!registered && atexit(stats_shm_atexit) == 0)
            registered = true;
    }
    stats_shm_poll(p, clock_now_ns());
    return p;
}

void stats_conn_row(struct stats_conn *r, const struct tcp_pcb *pcb)
{
    memset(r, 0, sizeof(*r));
    r->state = pcb->state;
    r->local_ip = pcb->local_ip;
    r->remote_ip = pcb->remote_ip;
    r->local_port = pcb->local_port;
    r->remote_port = pcb->remote_port;
    r->sndq = pcb->sndq_bytes;
    r->rcvq = pcb->rcvq_bytes;
    r->cwnd = pcb->cwnd;
    r->ssthresh = pcb->ssthresh;
    r->srtt_us = (uint32_t)(pcb->srtt_ns / 1000);
    r->rttvar_us = (uint32_t)(pcb->rttvar_ns / 1000);
    r->rto_us = (uint32_t)(pcb->rto_ns / 1000);
    r->rexmt = pcb->rexmt_count;
    r->mss = pcb->mss;
    r->backlog_syn = pcb->syn_count;
    r->backlog_ready = pcb->accept_count;
    {
        const struct queue *q = inet_pcb_queue(pcb);
        if (q) {
            r->push_n = lat_count(&q->lat[LAT_PUSH]);
            r->pop_n = lat_count(&q->lat[LAT_POP]);
            r->push_p50_ns = (uint32_t)MIN(lat_quantile(&q->lat[LAT_PUSH], 0.5), UINT32_MAX);
            r->push_p99_ns = (uint32_t)MIN(lat_quantile(&q->lat[LAT_PUSH], 0.99), UINT32_MAX);
            r->pop_p50_ns = (uint32_t)MIN(lat_quantile(&q->lat[LAT_POP], 0.5), UINT32_MAX);
            r->pop_p99_ns = (uint32_t)MIN(lat_quantile(&q->lat[LAT_POP], 0.99), UINT32_MAX);
        }
    }
}

static void stats_conn_add(const struct tcp_pcb *pcb, void *arg)
{
    struct stats_shm *m = arg;

    if (m->nconns < STATS_SHM_MAX_CONNS)
        stats_conn_row(&m->conns[m->nconns++], pcb);
    m->nconns_total++;
}

static void stats_conns(struct stats_publisher *p)
{
    p->shm->nconns = p->shm->nconns_total = 0; /* inside the writer's sequence: readers retry */
    tcp_foreach(p->stack, stats_conn_add, p->shm);
}

/* demi-stat --pcap asked to start or stop the capture. */
static void stats_pcap_control(struct stats_publisher *p)
{
    struct stats_shm *m = p->shm;
    struct inet_stack *s = p->stack;
    char path[sizeof(m->pcap_path)], err[512];
    int ret = 0;

    memcpy(path, m->pcap_path, sizeof(path));
    path[sizeof(path) - 1] = '\0';
    capture_close(s->capture);
    s->capture = NULL;
    if (path[0]) {
        ret = capture_open(&s->capture, path, p->pcap_snaplen, p->pcap_max_bytes, err, sizeof(err));
        if (ret)
            log_warn("stats: demi-stat --pcap: %s", err);
        else
            log_info("stats: demi-stat started a capture to %s", path);
    } else {
        log_info("stats: demi-stat stopped the capture");
    }
    m->pcap_result = ret;
    m->pcap_on = s->capture != NULL;
    __atomic_store_n(&m->pcap_ack, m->pcap_req, __ATOMIC_RELEASE);
}

void stats_shm_poll(struct stats_publisher *p, uint64_t now_ns)
{
    struct stats_shm *m;

    if (!p || now_ns < p->next_counters_ns)
        return;
    m = p->shm;
    /* Seqlock: odd while writing, so a reader retries a torn copy. */
    __atomic_store_n(&m->seq, m->seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    m->stats = p->stack->stats;
    for (int i = 0; i < 3; i++) {
        const struct dbuf_pool *pool = &rt.mem.pools[i];
        m->pools[i].count = pool->count;
        m->pools[i].in_use = pool->count - pool->nfree;
    }
    m->qds_used = rt.qds.nused;
    m->ops_used = rt.ops.nops - rt.ops.nfree;
    m->ops_done = rt.ops.ndone;
    memcpy(m->lat, rt.ops.lat, sizeof(m->lat));
    if (now_ns >= p->next_conns_ns) {
        stats_conns(p);
        p->next_conns_ns = now_ns + STATS_SHM_CONNS_NS;
    }
    if (__atomic_load_n(&m->pcap_req, __ATOMIC_ACQUIRE) != m->pcap_ack)
        stats_pcap_control(p);
    m->pcap_on = p->stack->capture != NULL;
    m->pcap_frames = capture_frames(p->stack->capture);
    m->mono_ns = now_ns;
    m->updated_real_ns = real_now_ns();
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&m->seq, m->seq + 1, __ATOMIC_RELEASE);
    p->next_counters_ns = now_ns + STATS_SHM_COUNTERS_NS;
}

void stats_shm_destroy(struct stats_publisher *p)
{
    if (!p)
        return;
    munmap(p->shm, sizeof(*p->shm));
    shm_unlink(p->name);
    if (strcmp(stats_shm_exit_name, p->name) == 0)
        stats_shm_exit_name[0] = '\0';
    free(p);
}
