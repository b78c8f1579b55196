/* SPDX-License-Identifier: MIT */
#include "net/checksum.h"

#include "mem/dbuf.h"

#include <string.h>

/* Value of a byte at the first / second memory position of a 16-bit load. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CSUM_FIRST_BYTE(b) ((uint64_t)(b))
#define CSUM_SECOND_BYTE(b) ((uint64_t)(b) << 8)
#else
#define CSUM_FIRST_BYTE(b) ((uint64_t)(b) << 8)
#define CSUM_SECOND_BYTE(b) ((uint64_t)(b))
#endif

void csum_add(struct csum *c, const void *p, size_t len)
{
    const uint8_t *b = p;
    uint64_t sum = c->sum;

    /* Words are summed as loaded (host order): the one's complement sum is
     * byte-order independent (RFC 1071 2.B), so the folded result stored as
     * is lands in network order. A piece of odd length leaves half a word:
     * its byte is the first in memory of a word the next piece completes. */
    if (c->odd && len > 0) {
        sum += CSUM_SECOND_BYTE(*b);
        b++;
        len--;
        c->odd = 0;
    }
    while (len >= 8) {
        uint32_t w[2];
        memcpy(w, b, 8);
        sum += (uint64_t)w[0] + w[1];
        b += 8;
        len -= 8;
    }
    while (len >= 2) {
        uint16_t w;
        memcpy(&w, b, 2);
        sum += w;
        b += 2;
        len -= 2;
    }
    if (len) {
        sum += CSUM_FIRST_BYTE(*b);
        c->odd = 1;
    }
    c->sum = sum;
}

void csum_add_pseudo(struct csum *c, uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
    uint8_t ph[12];

    memcpy(ph, &src, 4);
    memcpy(ph + 4, &dst, 4);
    ph[8] = 0;
    ph[9] = proto;
    ph[10] = (uint8_t)(len >> 8);
    ph[11] = (uint8_t)len;
    csum_add(c, ph, sizeof(ph));
}

void csum_add_chain(struct csum *c, const struct dbuf *d)
{
    for (; d; d = d->next)
        csum_add(c, d->data, d->len);
}

uint16_t csum_finish(const struct csum *c)
{
    uint64_t sum = c->sum;

    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint16_t inet_csum(const void *p, size_t len)
{
    struct csum c;

    csum_init(&c);
    csum_add(&c, p, len);
    return csum_finish(&c);
}
