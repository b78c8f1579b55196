/* SPDX-License-Identifier: MIT */
/*
 * sigbuf.h: text built without malloc, stdio or locks, written with
 * write(2): what a signal handler may use (async-signal-safe), so the
 * statistics printed at exit can be printed from SIGINT and SIGTERM too.
 * Private header.
 */
#ifndef DEMI_CORE_SIGBUF_H
#define DEMI_CORE_SIGBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

struct sigbuf {
    int fd;
    size_t n;
    char b[2048];
};

static inline void sigbuf_flush(struct sigbuf *s)
{
    size_t off = 0;

    while (off < s->n) {
        ssize_t w = write(s->fd, s->b + off, s->n - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    s->n = 0;
}

static inline void sigbuf_str(struct sigbuf *s, const char *str)
{
    size_t len = strlen(str);

    while (len > 0) {
        size_t k = sizeof(s->b) - s->n < len ? sizeof(s->b) - s->n : len;
        memcpy(s->b + s->n, str, k);
        s->n += k;
        str += k;
        len -= k;
        if (s->n == sizeof(s->b))
            sigbuf_flush(s);
    }
}

/* @v in decimal, right-aligned in @width columns (0: as long as it is). */
static inline void sigbuf_u64(struct sigbuf *s, uint64_t v, unsigned width)
{
    char d[24];
    unsigned n = 0;

    do {
        d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < sizeof(d) - 1);
    for (; width > n; width--)
        sigbuf_str(s, " ");
    for (unsigned i = 0; i < n; i++) {
        char c[2] = {d[sizeof(d) - n + i], '\0'};
        sigbuf_str(s, c);
    }
}

/* @str left-aligned in @width columns. */
static inline void sigbuf_pad(struct sigbuf *s, const char *str, unsigned width)
{
    size_t len = strlen(str);

    sigbuf_str(s, str);
    for (; width > len; width--)
        sigbuf_str(s, " ");
}

#endif /* DEMI_CORE_SIGBUF_H */
