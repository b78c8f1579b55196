/* SPDX-License-Identifier: MIT */
/*
 * capture.h: packet capture at the stack's device boundary (libdemi.pcap):
 * every frame the stack receives from its netdev and every frame it hands
 * to it, in a pcap file (libpcap's dump writer, DLT_EN10MB, nanosecond
 * timestamps) that tcpdump -r and Wireshark open. Every inet libOS gets it
 * (catnip, catpowder, catloop, cattest): the stack calls it, not the
 * drivers. Off, it costs one predictable branch per burst and per frame
 * sent. Private header.
 */
#ifndef DEMI_NET_CAPTURE_H
#define DEMI_NET_CAPTURE_H

#include "mem/dbuf.h"

#include <stddef.h>
#include <stdint.h>

struct capture;

/* Open @path for writing ("%p" in it becomes our PID). @snaplen: bytes kept per frame (64..65535);
 * @max_bytes: the file stops growing there (a warning says so; 0 = no
 * limit). 0, or an errno with a message naming the file in @err. */
int capture_open(struct capture **out, const char *path, uint32_t snaplen, uint64_t max_bytes, char *err,
                 size_t errlen);

/* Record one frame (a chain: its bytes in order) seen at @now_ns
 * (clock_now_ns: monotonic, or virtual in tests). */
void capture_frame(struct capture *c, const struct dbuf *frame, uint64_t now_ns);

/* Frames written, and whether the size limit stopped the capture. */
uint64_t capture_frames(const struct capture *c);

/* Flush and close (NULL is fine). */
void capture_close(struct capture *c);

#endif /* DEMI_NET_CAPTURE_H */
