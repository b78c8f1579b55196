/* SPDX-License-Identifier: MIT */
/*
 * demi-stat: what a running libdemi process's stack is doing, read from the
 * shared memory it publishes (/dev/shm/demi-stats-PID, libos/stats_shm.h):
 * the processes, their counters (with rates under -w), their connections.
 * Reads only; the process is never stopped or signalled.
 */
#include "core/common.h"
#include "libos/stats_shm.h"
#include "net/tcp.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct counter_info {
    const char *name, *help;
    size_t offset;
};

static const struct counter_info counters[] = {
#define COUNTER_INFO(n, h) {#n, h, offsetof(struct inet_stats, n)},
    INET_STATS(COUNTER_INFO)
#undef COUNTER_INFO
};

static void usage(FILE *out)
{
    fprintf(out, "usage: demi-stat                      list the libdemi processes on this machine\n"
                 "       demi-stat [-a] [--json] PID    counters of the process's stack, pools, queues\n"
                 "       demi-stat -n [--json] PID      its connections, as netstat/ss would show them\n"
                 "       demi-stat -l [--json] PID      latency of its operations (push, pop, accept, connect)\n"
                 "       demi-stat -w SECS [-c N] [-n] PID   refresh every SECS seconds (N times), with rates\n"
                 "       demi-stat --pcap FILE PID      start capturing every frame of its stack to FILE\n"
                 "       demi-stat --pcap off PID       stop it\n"
                 "\n"
                 "  -a      every counter, the zero ones too\n"
                 "  -n      the connection table: state, addresses, queues, cwnd, ssthresh, srtt,\n"
                 "          rttvar, rto, retransmissions, each queue's push and pop latency\n"
                 "          (listeners: half-open and ready counts)\n"
                 "  -l      histograms of the time from each push, pop, accept and connect to its\n"
                 "          completion, every queue together (power-of-two buckets of ns)\n"
                 "  -w SECS watch: clear the screen and print again every SECS seconds, each\n"
                 "          counter with its rate per second since the last screen\n"
                 "  -c N    with -w: stop after N screens (default: until interrupted)\n"
                 "  --json  one JSON object instead of text\n"
                 "\n"
                 "--pcap needs write access to /dev/shm/demi-stats-PID (the process's user, or\n"
                 "root); the file is written by the process, with its rights, snap length and\n"
                 "size limit (libdemi.pcap_snaplen, libdemi.pcap_max_mb).\n"
                 "\n"
                 "A process publishes its statistics while libdemi.live_stats is true (the\n"
                 "default) on an inet libOS (catnip, catpowder, catloop): counters every 10 ms,\n"
                 "connections every 100 ms, from its own poll loop.\n");
}

static bool pid_alive(int pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* Map /dev/shm/demi-stats-PID read-only; NULL with a message. */
static const struct stats_shm *map_pid(int pid, bool quiet)
{
    char name[64];
    const struct stats_shm *m;
    struct stat st;
    int fd;

    snprintf(name, sizeof(name), "/" STATS_SHM_PREFIX "%d", pid);
    fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        if (!quiet)
            fprintf(stderr,
                    "demi-stat: no statistics for process %d (/dev/shm%s: %s); is it a libdemi process "
                    "on an inet libOS with libdemi.live_stats on?\n",
                    pid, name, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(*m)) {
        if (!quiet)
            fprintf(stderr, "demi-stat: /dev/shm%s is %lld bytes, not a statistics segment of this version\n", name,
                    (long long)st.st_size);
        close(fd);
        return NULL;
    }
    m = mmap(NULL, sizeof(*m), PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return NULL;
    if (m->magic != STATS_SHM_MAGIC || m->version != STATS_SHM_VERSION || m->layout != stats_shm_layout()) {
        if (!quiet)
            fprintf(stderr,
                    "demi-stat: process %d publishes another layout (version %u, layout %08x; this "
                    "demi-stat reads version %u, layout %08x): use the demi-stat of its libdemi\n",
                    pid, m->version, m->layout, STATS_SHM_VERSION, stats_shm_layout());
        munmap((void *)(uintptr_t)m, sizeof(*m));
        return NULL;
    }
    return m;
}

/* A consistent copy (the writer's sequence number even and unchanged). */
static bool snapshot(const struct stats_shm *m, struct stats_shm *out)
{
    for (int tries = 0; tries < 1000; tries++) {
        uint32_t s1 = __atomic_load_n(&m->seq, __ATOMIC_ACQUIRE);
        if (s1 & 1) {
            usleep(50);
            continue;
        }
        memcpy(out, m, sizeof(*out));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&m->seq, __ATOMIC_RELAXED) == s1)
            return true;
    }
    return false;
}

static uint64_t counter(const struct stats_shm *m, size_t i)
{
    uint64_t v;
    memcpy(&v, (const uint8_t *)&m->stats + counters[i].offset, sizeof(v));
    return v;
}

static const char *ip_str(uint32_t ip, char *b, size_t n)
{
    return inet_ntop(AF_INET, &ip, b, (socklen_t)n);
}

/* demi-stat --pcap FILE|off PID: ask the process to start or stop its
 * capture, and wait for its answer. */
static int pcap_control(int pid, const char *arg)
{
    char name[64], path[4096];
    struct stats_shm *m;
    uint32_t req;
    int fd;

    if (strcmp(arg, "off") == 0) {
        path[0] = '\0';
    } else if (arg[0] == '/') {
        snprintf(path, sizeof(path), "%s", arg);
    } else { /* the process has its own working directory: make it absolute */
        char cwd[2048];
        if (!getcwd(cwd, sizeof(cwd))) {
            fprintf(stderr, "demi-stat: getcwd: %s\n", strerror(errno));
            return 1;
        }
        snprintf(path, sizeof(path), "%s/%s", cwd, arg);
    }
    if (strlen(path) >= sizeof(m->pcap_path)) {
        fprintf(stderr, "demi-stat: %s: path longer than %zu bytes\n", path, sizeof(m->pcap_path) - 1);
        return 2;
    }
    if (!map_pid(pid, false))
        return 1; /* says why; checks the layout */
    snprintf(name, sizeof(name), "/" STATS_SHM_PREFIX "%d", pid);
    fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "demi-stat: %s: %s (run as the process's user or root)\n", name, strerror(errno));
        return 1;
    }
    m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return 1;
    memcpy(m->pcap_path, path, strlen(path) + 1);
    req = __atomic_add_fetch(&m->pcap_req, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 300 && __atomic_load_n(&m->pcap_ack, __ATOMIC_ACQUIRE) != req; i++)
        usleep(10000);
    if (__atomic_load_n(&m->pcap_ack, __ATOMIC_ACQUIRE) != req) {
        fprintf(stderr, "demi-stat: process %d did not answer in 3 s (is it polling its stack?)\n", pid);
        return 1;
    }
    if (m->pcap_result) {
        fprintf(stderr, "demi-stat: process %d cannot write %s: %s (see its log)\n", pid, path,
                strerror(m->pcap_result));
        return 1;
    }
    if (path[0])
        printf("process %d captures every frame of its stack to %s\n", pid, path);
    else
        printf("process %d stopped capturing\n", pid);
    munmap(m, sizeof(*m));
    return 0;
}

static int list_processes(void)
{
    DIR *dir = opendir("/dev/shm");
    struct dirent *e;
    int n = 0;

    if (!dir) {
        fprintf(stderr, "demi-stat: /dev/shm: %s\n", strerror(errno));
        return 1;
    }
    printf("%-8s %-10s %-16s %-15s %9s %6s %14s %14s\n", "PID", "LIBOS", "DEVICE", "ADDRESS", "UPTIME", "CONNS",
           "RX FRAMES", "TX FRAMES");
    while ((e = readdir(dir)) != NULL) {
        struct stats_shm *snap;
        const struct stats_shm *m;
        char ip[INET_ADDRSTRLEN];
        int pid;

        if (strncmp(e->d_name, STATS_SHM_PREFIX, strlen(STATS_SHM_PREFIX)) != 0)
            continue;
        pid = atoi(e->d_name + strlen(STATS_SHM_PREFIX));
        if (!pid_alive(pid) || !(m = map_pid(pid, true)))
            continue; /* a crashed process's leftover, or another version */
        snap = malloc(sizeof(*snap));
        if (snap && snapshot(m, snap)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
            printf("%-8d %-10s %-16s %-15s %8.0fs %6u %14" PRIu64 " %14" PRIu64 "\n", pid, snap->libos, snap->dev,
                   ip_str(snap->ip, ip, sizeof(ip)), (double)(now - snap->start_real_ns) / 1e9, snap->nconns_total,
                   snap->stats.eth_rx, snap->stats.eth_tx);
            n++;
        }
        free(snap);
        munmap((void *)(uintptr_t)m, sizeof(*m));
    }
    closedir(dir);
    if (n == 0)
        printf("(no running libdemi process publishes statistics)\n");
    return 0;
}

static void print_counters(const struct stats_shm *m, const struct stats_shm *prev, double dt, bool all)
{
    char ip[INET_ADDRSTRLEN];
    static const char *const pool_names[3] = {"small (2 KiB)", "large (64 KiB)", "huge (1 MiB)"};

    printf("process %d  libOS %s  device %s  address %s\n", m->pid, m->libos, m->dev, ip_str(m->ip, ip, sizeof(ip)));
    printf("queues %u  ops in use %u (%u completed, not yet taken)  connections %u  capture %s", m->qds_used,
           m->ops_used, m->ops_done, m->nconns_total, m->pcap_on ? "on" : "off");
    if (m->pcap_on)
        printf(" (%" PRIu64 " frames)", m->pcap_frames);
    printf("\n");
    for (int i = 0; i < 3; i++)
        printf("pool %-15s %8u of %8u in use\n", pool_names[i], m->pools[i].in_use, m->pools[i].count);
    if (prev && dt <= 0)
        printf("(nothing published since the last screen: the process has not polled its stack)\n");
    printf("\n");
    for (size_t i = 0; i < ARRAY_SIZE(counters); i++) {
        uint64_t v = counter(m, i);
        if (!v && !all)
            continue;
        if (prev && dt > 0)
            printf("  %-28s %14" PRIu64 " %12.0f/s  %s\n", counters[i].name, v, (double)(v - counter(prev, i)) / dt,
                   counters[i].help);
        else if (prev)
            printf("  %-28s %14" PRIu64 " %12s/s  %s\n", counters[i].name, v, "?", counters[i].help);
        else
            printf("  %-28s %14" PRIu64 "  %s\n", counters[i].name, v, counters[i].help);
    }
}

/* A latency for a table: "-" for none, else the bucket bound in µs. */
static const char *lat_str(uint32_t ns, char *b, size_t n)
{
    if (!ns)
        snprintf(b, n, "-");
    else if (ns < 10000)
        snprintf(b, n, "%.1f", ns / 1e3);
    else
        snprintf(b, n, "%.0f", ns / 1e3);
    return b;
}

static void print_conns(const struct stats_shm *m)
{
    printf("%-12s %-21s %-21s %8s %8s %8s %10s %8s %8s %8s %5s %15s %15s\n", "STATE", "LOCAL", "REMOTE", "SEND-Q",
           "RECV-Q", "CWND", "SSTHRESH", "SRTT-US", "RTTVAR", "RTO-US", "REXMT", "PUSH-US p50/99", "POP-US p50/99");
    for (uint32_t i = 0; i < m->nconns; i++) {
        const struct stats_conn *c = &m->conns[i];
        char l[32], r[32], a[INET_ADDRSTRLEN], pu[32], po[32], x[16], y[16];
        snprintf(l, sizeof(l), "%s:%u", ip_str(c->local_ip, a, sizeof(a)), ntohs(c->local_port));
        if (c->state == TCPS_LISTEN) {
            printf("%-12s %-21s %-21s %8u %8u   (half-open %u, ready to accept %u)\n", "LISTEN", l, "*:*",
                   c->backlog_syn, c->backlog_ready, c->backlog_syn, c->backlog_ready);
            continue;
        }
        snprintf(r, sizeof(r), "%s:%u", ip_str(c->remote_ip, a, sizeof(a)), ntohs(c->remote_port));
        snprintf(pu, sizeof(pu), "%s/%s", lat_str(c->push_p50_ns, x, sizeof(x)), lat_str(c->push_p99_ns, y, sizeof(y)));
        snprintf(po, sizeof(po), "%s/%s", lat_str(c->pop_p50_ns, x, sizeof(x)), lat_str(c->pop_p99_ns, y, sizeof(y)));
        printf("%-12s %-21s %-21s %8u %8u %8u %10u %8u %8u %8u %5u %15s %15s\n", tcp_state_name(c->state), l, r,
               c->sndq, c->rcvq, c->cwnd, c->ssthresh, c->srtt_us, c->rttvar_us, c->rto_us, c->rexmt, pu, po);
    }
    if (m->nconns < m->nconns_total)
        printf("(%u more not shown: the table holds %u)\n", m->nconns_total - m->nconns, STATS_SHM_MAX_CONNS);
}

static const char *const lat_names[LAT_KINDS] = {"push", "pop", "accept", "connect"};

static void print_latency(const struct stats_shm *m)
{
    for (int k = 0; k < LAT_KINDS; k++) {
        const struct lat_hist *h = &m->lat[k];
        uint64_t n = lat_count(h), max = 0;
        if (!n)
            continue;
        printf("%s: %" PRIu64 " ops, p50 < %.1f us, p99 < %.1f us, p99.9 < %.1f us\n", lat_names[k], n,
               (double)lat_quantile(h, 0.5) / 1e3, (double)lat_quantile(h, 0.99) / 1e3,
               (double)lat_quantile(h, 0.999) / 1e3);
        for (int i = 0; i < LAT_BUCKETS; i++)
            max = h->n[i] > max ? h->n[i] : max;
        for (int i = 0; i < LAT_BUCKETS; i++) {
            char lo[16];
            if (!h->n[i])
                continue;
            if (i < 10)
                snprintf(lo, sizeof(lo), "%llu ns", 1ull << i);
            else if (i < 20)
                snprintf(lo, sizeof(lo), "%llu us", (1ull << i) / 1000);
            else
                snprintf(lo, sizeof(lo), "%llu ms", (1ull << i) / 1000000);
            printf("  >= %-9s %12" PRIu64 " %5.1f%% %.*s\n", lo, h->n[i], 100.0 * (double)h->n[i] / (double)n,
                   (int)(40 * h->n[i] / max), "########################################");
        }
    }
}

static void print_json(const struct stats_shm *m, bool conns)
{
    char ip[INET_ADDRSTRLEN];

    printf("{\"pid\": %d, \"libos\": \"%s\", \"device\": \"%s\", \"address\": \"%s\", \"queues\": %u, "
           "\"ops_in_use\": %u, \"connections\": %u,\n \"pools\": {\"small\": [%u, %u], \"large\": [%u, %u], "
           "\"huge\": [%u, %u]},\n \"counters\": {",
           m->pid, m->libos, m->dev, ip_str(m->ip, ip, sizeof(ip)), m->qds_used, m->ops_used, m->nconns_total,
           m->pools[0].in_use, m->pools[0].count, m->pools[1].in_use, m->pools[1].count, m->pools[2].in_use,
           m->pools[2].count);
    for (size_t i = 0; i < ARRAY_SIZE(counters); i++)
        printf("%s\"%s\": %" PRIu64, i ? ", " : "", counters[i].name, counter(m, i));
    printf("},\n \"latency\": {");
    for (int k = 0; k < LAT_KINDS; k++) {
        printf("%s\"%s\": [", k ? ", " : "", lat_names[k]);
        for (int i = 0; i < LAT_BUCKETS; i++)
            printf("%s%" PRIu64, i ? ", " : "", m->lat[k].n[i]);
        printf("]");
    }
    printf("}");
    if (conns) {
        printf(",\n \"conns\": [");
        for (uint32_t i = 0; i < m->nconns; i++) {
            const struct stats_conn *c = &m->conns[i];
            char l[INET_ADDRSTRLEN], r[INET_ADDRSTRLEN];
            printf("%s\n  {\"state\": \"%s\", \"local\": \"%s:%u\", \"remote\": \"%s:%u\", \"sndq\": %u, \"rcvq\": %u, "
                   "\"cwnd\": %u, \"ssthresh\": %u, \"srtt_us\": %u, \"rttvar_us\": %u, \"rto_us\": %u, "
                   "\"rexmt\": %u, \"half_open\": %u, \"ready\": %u, \"push_p50_ns\": %u, \"push_p99_ns\": %u, "
                   "\"pop_p50_ns\": %u, \"pop_p99_ns\": %u}",
                   i ? "," : "", tcp_state_name(c->state), ip_str(c->local_ip, l, sizeof(l)), ntohs(c->local_port),
                   ip_str(c->remote_ip, r, sizeof(r)), ntohs(c->remote_port), c->sndq, c->rcvq, c->cwnd, c->ssthresh,
                   c->srtt_us, c->rttvar_us, c->rto_us, c->rexmt, c->backlog_syn, c->backlog_ready, c->push_p50_ns,
                   c->push_p99_ns, c->pop_p50_ns, c->pop_p99_ns);
        }
        printf("]");
    }
    printf("}\n");
}

int main(int argc, char **argv)
{
    bool all = false, conns = false, json = false, latency = false;
    double watch = 0;
    long count = -1;
    int pid = 0, ret = 0;
    const char *pcap = NULL;
    const struct stats_shm *m;
    struct stats_shm *snap, *prev;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-a") == 0) {
            all = true;
        } else if (strcmp(a, "-n") == 0) {
            conns = true;
        } else if (strcmp(a, "-l") == 0) {
            latency = true;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "-w") == 0 && i + 1 < argc) {
            watch = atof(argv[++i]);
            if (watch <= 0) {
                fprintf(stderr, "demi-stat: -w takes a number of seconds above 0\n");
                return 2;
            }
        } else if (strcmp(a, "--pcap") == 0 && i + 1 < argc) {
            pcap = argv[++i];
        } else if (strcmp(a, "-c") == 0 && i + 1 < argc) {
            count = atol(argv[++i]);
        } else if (a[0] >= '1' && a[0] <= '9' && !pid) {
            pid = atoi(a);
        } else {
            fprintf(stderr, "demi-stat: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (pcap && !pid) {
        fprintf(stderr, "demi-stat: --pcap needs a PID\n");
        return 2;
    }
    if (pcap)
        return pcap_control(pid, pcap);
    if (!pid)
        return list_processes();
    if (!(m = map_pid(pid, false)))
        return 1;
    snap = malloc(sizeof(*snap));
    prev = malloc(sizeof(*prev));
    if (!snap || !prev)
        return 1;
    for (long n = 0; count < 0 || n < count; n++) {
        if (!snapshot(m, snap)) {
            fprintf(stderr, "demi-stat: process %d kept writing; no consistent copy\n", pid);
            ret = 1;
            break;
        }
        if (watch > 0 && isatty(STDOUT_FILENO))
            printf("\033[H\033[2J");
        if (json)
            print_json(snap, conns);
        else if (conns)
            print_conns(snap);
        else if (latency)
            print_latency(snap);
        else
            print_counters(snap, n > 0 ? prev : NULL, n > 0 ? (double)(snap->mono_ns - prev->mono_ns) / 1e9 : 0, all);
        fflush(stdout);
        if (watch <= 0)
            break;
        if (!pid_alive(pid)) {
            printf("process %d has exited\n", pid);
            break;
        }
        memcpy(prev, snap, sizeof(*prev));
        usleep((useconds_t)(watch * 1e6));
    }
    free(snap);
    free(prev);
    munmap((void *)(uintptr_t)m, sizeof(*m));
    return ret;
}
