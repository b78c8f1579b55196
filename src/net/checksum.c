/* SPDX-License-Identifier: MIT */
#include "net/checksum.h"

#include "mem/dbuf.h"
#include "net/proto.h"
#include "net/tcp.h"

#include <arpa/inet.h>
#include <stddef.h>
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
    /* 32-bit words into a 64-bit sum: carries pile up in the high half
     * (room for 2^32 words) and are folded once at the end. Unrolled to 32
     * bytes: independent loads, one loop test per 8 words. */
    while (len >= 32) {
        uint32_t w[8];
        memcpy(w, b, 32);
        sum += (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7];
        b += 32;
        len -= 32;
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
    /* The pseudo-header is three 32-bit words as laid out in memory:
     * src, dst, {0, proto, len high, len low}; summed like any data. */
    const uint8_t tail[4] = {0, proto, (uint8_t)(len >> 8), (uint8_t)len};
    uint32_t w;

    if (c->odd) { /* never in practice: the pseudo-header comes first */
        uint8_t ph[12];
        memcpy(ph, &src, 4);
        memcpy(ph + 4, &dst, 4);
        memcpy(ph + 8, tail, 4);
        csum_add(c, ph, sizeof(ph));
        return;
    }
    memcpy(&w, tail, 4);
    c->sum += (uint64_t)src + dst + w;
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

    if (len == 20) { /* an IPv4 header without options: five words */
        uint32_t w[5];
        memcpy(w, p, 20);
        c.sum = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
        return csum_finish(&c);
    }
    csum_init(&c);
    csum_add(&c, p, len);
    return csum_finish(&c);
}

bool csum_complete_partial(uint8_t *frame, uint32_t len)
{
    const struct eth_hdr *eh = (const struct eth_hdr *)frame;
    const struct ipv4_hdr *ip = (const struct ipv4_hdr *)(frame + ETH_HLEN);
    uint32_t ihl, total, l4len, off;
    uint8_t *l4;
    struct csum c;
    uint16_t v;

    if (len < ETH_HLEN + IPV4_HLEN || eh->type != htons(ETH_TYPE_IPV4) || (ip->ver_ihl >> 4) != 4)
        return false;
    ihl = (ip->ver_ihl & 0xfu) * 4;
    total = ntohs(ip->total_len);
    if (ihl < IPV4_HLEN || total < ihl || ETH_HLEN + total > len)
        return false;
    if (ntohs(ip->frag) & (IPV4_FLAG_MF | IPV4_FRAG_OFF_MASK)) /* no whole L4 here */
        return false;
    if (ip->proto == IPV4_PROTO_TCP)
        off = offsetof(struct tcp_hdr, csum);
    else if (ip->proto == IPV4_PROTO_UDP)
        off = offsetof(struct udp_hdr, csum);
    else
        return false;
    l4 = frame + ETH_HLEN + ihl;
    l4len = total - ihl;
    if (l4len < off + sizeof(v))
        return false;
    csum_init(&c);
    csum_add(&c, l4, l4len);
    v = csum_finish(&c);
    if (ip->proto == IPV4_PROTO_UDP && v == 0)
        v = 0xffff; /* RFC 768: 0 means no checksum */
    memcpy(l4 + off, &v, sizeof(v));
    return true;
}
