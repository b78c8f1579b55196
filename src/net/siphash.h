/* SPDX-License-Identifier: MIT */
/*
 * siphash.h: SipHash-2-4 (Aumasson, Bernstein, "SipHash: a fast short-input
 * PRF", 2012), a keyed hash for short inputs: TCP initial sequence numbers
 * (RFC 6528) and anything else an attacker must not predict. Private header.
 */
#ifndef DEMI_NET_SIPHASH_H
#define DEMI_NET_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

/* The 64-bit SipHash-2-4 of @len bytes at @msg under the 128-bit @key (as
 * bytes; read little-endian, as in the paper). @msg may be NULL if @len is 0. */
uint64_t siphash24(const uint8_t key[SIPHASH_KEY_LEN], const void *msg, size_t len);

#endif /* DEMI_NET_SIPHASH_H */
