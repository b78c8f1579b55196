/* SPDX-License-Identifier: MIT */
/*
 * checksum.h: the Internet checksum (RFC 1071), incrementally over pieces
 * (pseudo-header, header, payload segments). Private header.
 */
#ifndef DEMI_NET_CHECKSUM_H
#define DEMI_NET_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dbuf;

/* Add @len bytes at @p to a 32-bit running sum. @odd tracks whether an odd
 * number of bytes came before, so pieces of any length concatenate right. */
struct csum {
    uint64_t sum;
    int odd;
};

static inline void csum_init(struct csum *c)
{
    c->sum = 0;
    c->odd = 0;
}

void csum_add(struct csum *c, const void *p, size_t len);

/* The loop csum_add runs over the bulk of a long buffer: "avx2" where the
 * CPU has it, else "portable" (SSE2 on any x86-64, NEON on arm64).
 * csum_set_impl picks one (tests run both): 0, or ENOTSUP when this CPU or
 * build has no such loop. Not thread-safe: call before any traffic. */
const char *csum_impl(void);
int csum_set_impl(const char *name);

/* The pseudo-header of RFC 768 / RFC 9293 3.1 (addresses in network order). */
void csum_add_pseudo(struct csum *c, uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

/* The IPv6 pseudo-header of RFC 8200 8.1 (16-byte addresses as on the
 * wire; @len the upper-layer packet length). Comes first, like the above. */
void csum_add_pseudo6(struct csum *c, const void *src, const void *dst, uint8_t proto, uint32_t len);

/* The checksum of an upper-layer packet over IPv6: pseudo-header plus every
 * segment of chain @d (@d's length is the upper-layer length). 0 when @d
 * holds a valid checksum; else the value to store. */
uint16_t inet6_pseudo_csum(const void *src, const void *dst, uint8_t proto, const struct dbuf *d);

/* Add every segment of a dbuf chain. */
void csum_add_chain(struct csum *c, const struct dbuf *d);

/* Fold to 16 bits and complement: the value to store (network order). */
uint16_t csum_finish(const struct csum *c);

/* Checksum of one buffer (IPv4 header): 0 when @p holds a valid checksum. */
uint16_t inet_csum(const void *p, size_t len);

/*
 * Finish the TCP or UDP checksum of an Ethernet + IPv4 frame that left the
 * local kernel with CHECKSUM_PARTIAL (its checksum field holds only the
 * pseudo-header sum; a NIC was to sum the rest): sum from the transport
 * header to the end of the IPv4 packet and store the complement, as that
 * NIC would. For drivers that receive such frames (AF_PACKET from a veth).
 * Returns true when it wrote a checksum; false (frame untouched) when the
 * frame is not one: not IPv4, a fragment, another protocol, truncated.
 */
bool csum_complete_partial(uint8_t *frame, uint32_t len);

#endif /* DEMI_NET_CHECKSUM_H */
