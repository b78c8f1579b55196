/* SPDX-License-Identifier: MIT */
/* capture.c: libdemi.pcap, the stack's packet capture (see capture.h). */
#include "net/capture.h"

#include "core/clock.h"
#include "core/common.h"
#include "core/log.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Written data reaches the file at least this often, so a process that
 * dies without closing (kill -9) leaves a capture that reads to within a
 * second of its end. */
#define CAPTURE_FLUSH_NS 1000000000ull
#define PCAP_RECORD_HDR 16u

/* Open captures, flushed at exit: a program that returns from main or
 * calls exit() without closing libdemi still leaves a complete file. */
#define CAPTURE_OPEN_MAX 8
static struct capture *capture_open_list[CAPTURE_OPEN_MAX];

struct capture {
    pcap_t *pcap;
    pcap_dumper_t *dumper;
    char path[256];
    uint32_t snaplen;
    uint64_t max_bytes, bytes;
    uint64_t frames;
    uint64_t wall0_ns, mono0_ns; /* wall time = wall0 + (now - mono0) */
    uint64_t last_flush_ns;
    uint8_t *scratch; /* a chain's bytes, contiguous */
};

static void capture_flush_all(void)
{
    for (int i = 0; i < CAPTURE_OPEN_MAX; i++)
        if (capture_open_list[i] && capture_open_list[i]->dumper)
            pcap_dump_flush(capture_open_list[i]->dumper);
}

static void capture_track(struct capture *c, struct capture *replace)
{
    static bool registered;

    for (int i = 0; i < CAPTURE_OPEN_MAX; i++)
        if (capture_open_list[i] == replace) {
            capture_open_list[i] = c;
            break;
        }
    if (!registered && atexit(capture_flush_all) == 0)
        registered = true;
}

/* @path with each "%p" replaced by our PID: one file per process when a
 * client and a server share the setting. */
static void capture_path(char *out, size_t n, const char *path)
{
    size_t k = 0;

    for (const char *p = path; *p && k + 1 < n; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            int w = snprintf(out + k, n - k, "%d", (int)getpid());
            k = w > 0 && (size_t)w < n - k ? k + (size_t)w : n - 1;
            p++;
        } else {
            out[k++] = *p;
        }
    }
    out[k] = '\0';
}

int capture_open(struct capture **out, const char *path_pattern, uint32_t snaplen, uint64_t max_bytes, char *err,
                 size_t errlen)
{
    struct capture *c = calloc(1, sizeof(*c));
    struct timespec ts;
    char path[sizeof(c->path)];

    capture_path(path, sizeof(path), path_pattern);

    if (!c || !(c->scratch = malloc(snaplen))) {
        free(c);
        snprintf(err, errlen, "libdemi.pcap: no memory for the capture of %s", path);
        return ENOMEM;
    }
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->snaplen = snaplen;
    c->max_bytes = max_bytes;
    c->pcap = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, (int)snaplen, PCAP_TSTAMP_PRECISION_NANO);
    if (c->pcap)
        c->dumper = pcap_dump_open(c->pcap, path);
    if (!c->dumper) {
        snprintf(err, errlen, "libdemi.pcap: cannot write %s: %s", path,
                 c->pcap ? pcap_geterr(c->pcap) : "pcap_open_dead failed");
        capture_close(c);
        return EINVAL;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    c->wall0_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    c->mono0_ns = clock_now_ns();
    c->last_flush_ns = c->mono0_ns;
    c->bytes = 24; /* the file header */
    capture_track(c, NULL);
    *out = c;
    log_info("capture: every frame to %s (snap length %u, limit %llu bytes)", path, snaplen,
             (unsigned long long)max_bytes);
    return 0;
}

void capture_frame(struct capture *c, const struct dbuf *frame, uint64_t now_ns)
{
    struct pcap_pkthdr h;
    uint64_t t = c->wall0_ns + (now_ns - c->mono0_ns);
    uint32_t len = 0, cap = 0;

    if (!c->dumper)
        return; /* stopped at the size limit */
    for (const struct dbuf *d = frame; d; d = d->next) {
        uint32_t n = MIN(d->len, c->snaplen - cap);
        memcpy(c->scratch + cap, d->data, n);
        cap += n;
        len += d->len;
    }
    if (c->max_bytes && c->bytes + PCAP_RECORD_HDR + cap > c->max_bytes) {
        log_warn("capture: %s reached libdemi.pcap_max_mb after %llu frames; capture stopped", c->path,
                 (unsigned long long)c->frames);
        pcap_dump_close(c->dumper);
        c->dumper = NULL;
        return;
    }
    memset(&h, 0, sizeof(h));
    h.ts.tv_sec = (time_t)(t / 1000000000ull);
    h.ts.tv_usec = (suseconds_t)(t % 1000000000ull); /* nanosecond precision: ns */
    h.caplen = cap;
    h.len = len;
    pcap_dump((u_char *)c->dumper, &h, c->scratch);
    c->bytes += PCAP_RECORD_HDR + cap;
    c->frames++;
    if (now_ns - c->last_flush_ns >= CAPTURE_FLUSH_NS) {
        c->last_flush_ns = now_ns;
        pcap_dump_flush(c->dumper);
    }
}

uint64_t capture_frames(const struct capture *c)
{
    return c ? c->frames : 0;
}

void capture_close(struct capture *c)
{
    if (!c)
        return;
    capture_track(NULL, c);
    if (c->dumper)
        pcap_dump_close(c->dumper);
    if (c->pcap)
        pcap_close(c->pcap);
    free(c->scratch);
    free(c);
}
