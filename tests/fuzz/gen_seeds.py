#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed inputs of the binary-format fuzz targets into
tests/fuzz/corpus/<target>/ (run from anywhere; rerun after changing a
target's input format, described at the top of its .c file)."""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, seeds):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)


# ---- fuzz_tcp -------------------------------------------------------------
SYN, ACK, FIN, RST, PSH = 2, 16, 1, 4, 8
T_A, T_B, T_L1, T_L2, T_C1, T_C2, T_CLOSED, T_FAR = range(8)


V4, V6, DUAL, MIXED = range(4)  # cfg2 bits 2-3: which tuples are IPv6 (fuzz_tcp.c, tuple_v6)


def tcp_hdr(cfg, po, isn, cfg2=0, fam=V4):
    return bytes([cfg, cfg2 | (fam << 2), po]) + struct.pack('>I', isn)


def seg(t, flags, seqd=0, ackd=0, win=65535, o=0, plen=0, extra=b'', rel_max=False, nopoll=False):
    op = (t << 3) | (0x40 if rel_max else 0) | (0x80 if nopoll else 0)
    return bytes([op, flags]) + struct.pack('>hhH', seqd, ackd, win) + bytes([o, plen]) + extra


def good(t, n23=0, fin=False, zero=False, psh=False):
    return bytes([7 | (t << 3) | (0x40 if fin else 0), (n23 & 0x3f) | (0x40 if zero else 0) | (0x80 if psh else 0)])


def app(a, b):
    return bytes([5, a, b])


def send(slot, size_idx, slice_=False):
    return app(0, (size_idx << 5) | (0x10 if slice_ else 0) | slot)


def tnext():
    return bytes([4 | (14 << 3)])


def tstep(i):
    return bytes([4 | (i << 3)])


def ptb(t, mtu, seqd=0, rel_max=False):
    """A Packet Too Big about tuple t's segment at SND.UNA + seqd, MTU mtu (1200..1519)."""
    return bytes([4 | (15 << 3), t | (8 if rel_max else 0)]) + struct.pack('>Hh', mtu - 1200, seqd)


def fuzz_tcp():
    ts = 0x07 | (7 << 4)  # the peer offers timestamps, SACK, window scale 7
    dup = seg(T_B, ACK, 0, 0, o=2, extra=bytes([0]) + struct.pack('>hH', 2920, 1460))
    return {
        # Data both ways on A and B, then graceful closes from both ends.
        'transfer_close.bin': tcp_hdr(0x07, ts, 0x10000000) + send(0, 4) + good(T_A, 10, psh=True) + app(1, 0) +
        send(1, 6, slice_=True) + good(T_B, 63) + good(T_B, 63) + app(1, 1) + app(2, 0) +
        good(T_A, 0, fin=True) + app(2, 1) + good(T_B, 0, fin=True) + tnext() + tnext(),
        # Half-open children time out, one completes and is accepted.
        'syn_timeouts.bin': tcp_hdr(0x03, 0x03, 0x20000000, cfg2=1) + seg(T_L1, SYN) + seg(T_L2, SYN) +
        seg(T_FAR, SYN, nopoll=True) + seg(T_L1, ACK, 0, 1) + tnext() + tnext() + tnext() + app(4, 0) +
        tstep(10) + app(4, 0),
        # A SYN flood beyond the SYN backlog: SYN cookies, then their ACKs.
        'syn_cookies.bin': tcp_hdr(0x01, 0x01, 0x21000000) + seg(T_L1, SYN) + seg(T_L2, SYN) + seg(T_FAR, SYN) +
        app(3, 0) + seg(T_A, SYN, o=5, extra=struct.pack('>hBHB', 0, 0, 1460, 7)) + tstep(1) +
        seg(T_A, ACK, 1, 1, o=1, extra=struct.pack('>hB', 1, 0)) + seg(T_L1, ACK, 1, 1) + app(4, 0) + app(4, 0),
        # Out-of-order data, SACKed, then the hole filled.
        'ooo_fill.bin': tcp_hdr(0x03, 0x03, 0x30000000) + seg(T_A, ACK | PSH, 100, 0, plen=50) +
        seg(T_A, ACK, 300, 0, plen=100) + seg(T_A, ACK | PSH, 0, 0, plen=100) + app(1, 0) +
        seg(T_A, ACK, 0, 0, plen=127) + app(1, 0),
        # Zero window with data queued: probes, then the window opens.
        'zero_window.bin': tcp_hdr(0x00, 0x00, 0x40000000) + good(T_B, 0, zero=True) + send(1, 6) +
        tnext() + tnext() + tnext() + good(T_B, 0) + tstep(6) + good(T_B, 0) + app(2, 1),
        # Resets: in the window (challenge ACK), exact; a SYN on a synchronized
        # connection; SYNs to a closed port and from a host without ARP entry.
        'resets.bin': tcp_hdr(0x01, 0x01, 0x50000000) + seg(T_A, RST, 5, 0) + seg(T_A, SYN, 0, 0) +
        seg(T_B, RST, 0, 0) + app(1, 1) + seg(T_CLOSED, SYN) + seg(T_FAR, SYN) + tnext() + tnext(),
        # Sequence numbers wrapping during a transfer, with timestamps.
        'seq_wrap.bin': tcp_hdr(0x07, ts, 0xffffff80) + good(T_A, 20) + good(T_A, 20) + app(1, 0) +
        seg(T_A, ACK, 0, 0, o=1, plen=40, extra=struct.pack('>hB', 1, 0)) + app(1, 0) + app(3, 0) + tnext(),
        # Duplicate ACKs with SACK blocks (fast retransmit), then timeouts.
        'dupacks_rto.bin': tcp_hdr(0x06, 0x06 | (2 << 4), 0x60000000) + send(1, 6) + send(1, 6) +
        dup + dup + dup + dup + tnext() + tnext() + good(T_B, 0) + app(2, 1),
        # Regressions (docs/fuzzing.md, findings). Every data byte acknowledged
        # with a window below one segment: the sender stalled (no timer).
        'regress-small-window-stall.bin': tcp_hdr(0x00, 0x00, 0x10000000) + send(1, 6) + send(1, 6) +
        seg(T_B, ACK, 0, 0, win=1000, rel_max=True),
        # Out-of-order data received while sending full segments: they carried
        # a SACK option past the MTU and were dropped, then the sender stalled.
        'regress-sack-option-mtu.bin': tcp_hdr(0x02, 0x02, 0x10000000) + send(1, 6) +
        seg(T_B, ACK, 2, 0, plen=100) + send(1, 6) + seg(T_B, ACK, 0, 0, rel_max=True),
        # A SYN cookie's ACK at the same virtual instant as its SYN got a RST.
        'regress-syncookie-same-instant.bin': tcp_hdr(0x01, 0x01, 0x21000000) + seg(T_L1, SYN) + seg(T_L2, SYN) +
        seg(T_FAR, SYN) + app(3, 0) + seg(T_A, SYN) + seg(T_A, ACK, 1, 1) + app(4, 0),
        # A later connect from the application, its handshake and a transfer.
        'connect_more.bin': tcp_hdr(0x00, 0x00, 0x70000000) + app(5, 0) + seg(T_C1, SYN | ACK, 0, 1) +
        send(2, 2) + good(T_C1, 4) + app(1, 2) + app(2, 2) + good(T_C1, 0, fin=True) + tnext(),
        # TCP over IPv6 (a v6only listener on ::, every peer 2001:db8::2 or
        # ::3; the harness answers the stack's neighbor solicitations).
        'v6_transfer_close.bin': tcp_hdr(0x07, ts, 0x10000000, fam=V6) + send(0, 4) + good(T_A, 10, psh=True) +
        app(1, 0) + send(1, 6, slice_=True) + good(T_B, 63) + good(T_B, 63) + app(1, 1) + app(2, 0) +
        good(T_A, 0, fin=True) + app(2, 1) + good(T_B, 0, fin=True) + tnext() + tnext(),
        # SYN flood over IPv6 past the backlog of 3: cookies hashing the
        # whole addresses, then their ACKs.
        'v6_syn_cookies.bin': tcp_hdr(0x01, 0x01, 0x21000000, fam=V6) + seg(T_L1, SYN) + seg(T_L2, SYN) +
        seg(T_FAR, SYN) + app(3, 0) + seg(T_A, SYN, o=5, extra=struct.pack('>hBHB', 0, 0, 1460, 7)) + tstep(1) +
        seg(T_A, ACK, 1, 1, o=1, extra=struct.pack('>hB', 1, 0)) + seg(T_L1, ACK, 1, 1) + app(4, 0) + app(4, 0),
        'v6_dupacks_rto.bin': tcp_hdr(0x06, 0x06 | (2 << 4), 0x60000000, fam=V6) + send(1, 6) + send(1, 6) +
        dup + dup + dup + dup + tnext() + tnext() + good(T_B, 0) + app(2, 1),
        'v6_resets_connect.bin': tcp_hdr(0x01, 0x01, 0x50000000, fam=V6) + seg(T_A, RST, 5, 0) + seg(T_A, SYN) +
        seg(T_CLOSED, SYN) + seg(T_FAR, SYN) + app(5, 0) + seg(T_C1, SYN | ACK, 0, 1) + send(2, 2) +
        good(T_C1, 4) + app(1, 2) + seg(T_B, RST, 0, 0) + app(1, 1) + tnext() + tnext(),
        # Packet Too Big mid-transfer (timestamps on): about data in flight at
        # 1280 (MSS down, resent from SND.UNA), again at 1400 (no smaller:
        # ignored), about acknowledged data (ignored), then the ACKs; NUD's
        # probe after the neighbor entry goes stale (tstep(10): 61 s).
        'v6_packet_too_big.bin': tcp_hdr(0x03, 0x03, 0x10000000, fam=V6) + send(1, 6) + send(1, 6) +
        ptb(T_B, 1280) + ptb(T_B, 1400, 100) + good(T_B, 0) + ptb(T_B, 1300, -100) + ptb(T_A, 1280) +
        send(0, 5) + ptb(T_A, 1290, 0, rel_max=True) + ptb(T_A, 1210, 10) + good(T_A, 0) + good(T_B, 0) +
        tstep(10) + send(1, 4) + tstep(7) + tnext() + good(T_B, 0),
        # Dual stack: the listener on :: takes A, L1 and L2 over IPv4 (IPv4
        # children), B and the later connects are IPv6.
        'dual_stack.bin': tcp_hdr(0x07, ts, 0x30000000, fam=DUAL) + seg(T_L1, SYN) + seg(T_L1, ACK, 1, 1) +
        app(4, 0) + send(0, 4) + good(T_A, 10) + app(1, 0) + send(1, 3) + good(T_B, 5) + app(1, 1) + app(5, 0) +
        seg(T_C1, SYN | ACK, 0, 1) + seg(T_CLOSED, SYN) + app(2, 0) + good(T_A, 0, fin=True) + tnext(),
        # Both families on one dual-stack listener, past its SYN backlog:
        # half-open children of each, then cookies for an IPv6 SYN.
        'dual_mixed_cookies.bin': tcp_hdr(0x01, 0x01, 0x21000000, fam=MIXED) + seg(T_L1, SYN) + seg(T_L2, SYN) +
        seg(T_FAR, SYN) + app(3, 0) + seg(T_A, SYN) + seg(T_A, ACK, 1, 1) + seg(T_L1, ACK, 1, 1) + app(4, 0) +
        app(4, 0) + app(5, 0) + app(5, 1) + seg(T_C1, SYN | ACK, 0, 1) + seg(T_C2, SYN | ACK, 0, 1) + tnext(),
    }


# ---- fuzz_api -------------------------------------------------------------
def api_socket(udp=False, domain=0):
    return bytes([0, domain | ((1 if udp else 0) << 2)])


def api_addr(ip=0, port=0, fam=0, len_idx=0):
    return bytes([ip | (port << 3), (fam << 4) | len_idx])


def api_bind(q, **kw):
    return bytes([1, q]) + api_addr(**kw)


def api_listen(q):
    return bytes([2, q, 1])


def api_accept(q):
    return bytes([3, 0, q])


def api_connect(q, **kw):
    return bytes([4, 0, q]) + api_addr(**kw)


def api_close(q):
    return bytes([5, q])


def api_push(q, sga, free_after=False):
    return bytes([6, 0x40 if free_after else 0, q, sga])


def api_pushto(q, sga, **kw):
    return bytes([7, 0, q, sga]) + api_addr(**kw)


def api_pop(q):
    return bytes([8, 0, q])


def api_wait(qt, timeout=1):
    return bytes([9, timeout, qt])


def api_wait_any(qts, timeout=1):
    return bytes([10, len(qts) | (timeout << 3)]) + bytes(qts)


def api_wait_next_n(n=8):
    return bytes([11, n & 7])


def api_sgaalloc(size_idx):
    return bytes([12, size_idx])


def api_sgafree(b):
    return bytes([13, b])


def api_poll(n=8):
    return bytes([18, n - 1])


def api_time(step):
    return bytes([17, step])


def fuzz_api():
    # qds[] fill in the order sockets and accepted connections appear, qts[]
    # in the order tokens are issued, sgas[] in the order buffers arrive.
    return {
        # A listener, a connection to it, data both ways, then closes.
        'tcp_echo.bin': api_socket() + api_bind(0, port=0) + api_listen(0) + api_accept(0) + api_socket() +
        api_connect(1, port=0) + api_poll() + api_wait(1) + api_wait(0) + api_sgaalloc(1) + api_push(1, 0) +
        api_pop(2) + api_poll() + api_wait_any([2, 3]) + api_wait(3) + api_push(2, 1, free_after=True) +
        api_pop(1) + api_poll() + api_wait_next_n(4) + api_sgafree(0) + api_close(1) + api_pop(2) +
        api_poll() + api_wait(5) + api_close(2) + api_close(0) + api_time(7),
        # UDP: a datagram to a bound socket, popped.
        'udp.bin': api_socket(udp=True) + api_bind(0, port=1) + api_socket(udp=True) + api_sgaalloc(2) +
        api_pushto(1, 0, port=1) + api_pop(0) + api_poll() + api_wait(0) + api_wait(1) + api_sgafree(1) +
        api_sgafree(0xc0),
        # Bad arguments: NULL and short addresses, wrong families, forged and
        # consumed tokens, stale and tampered sgas, bad qds.
        'bad_args.bin': api_socket(domain=1) + api_socket() + api_bind(0, fam=3) + api_bind(0, fam=1) +
        api_bind(0, len_idx=3) + api_bind(0xf0, port=0) + api_bind(0, ip=3) + api_wait(0xc1) + api_wait(0xff) +
        api_sgaalloc(0) + api_sgaalloc(7) + api_sgaalloc(1) + api_push(0, 0xa0) + api_push(0, 0xc0) +
        api_push(0, 0xe1) + api_sgafree(0) + api_sgafree(0x80) + api_sgafree(0xc1) + api_push(0, 0x60) +
        bytes([16, 0x02, 0]) + bytes([16, 0x80, 0]) + bytes([14, 0x08, 0, 0, 0, 0, 1]) + bytes([15, 0, 0, 0, 0, 0, 0]),
        # Connects that fail: refused (no listener), unreachable (no ARP
        # answer), then a pop pending on a socket that closes.
        'connect_fail.bin': api_socket() + api_connect(0, port=2) + api_poll() + api_wait(0) + api_socket() +
        api_connect(1, ip=2, port=0) + api_time(5) + api_time(7) + api_time(7) + api_time(7) + api_wait(1) +
        api_socket(udp=True) + api_pop(2) + api_close(2) + api_wait(2),
        # Regression, as libFuzzer minimized it: a listener, an accept, a
        # connect, every other qd taken by sockets, a poll: the handshake
        # completing freed the connection under the stack (use after free).
        'regress-accept-emfile-uaf.bin': bytes.fromhex('000001000000020001030010000004000100090000000000000000000000'
                                                       '00000000000000000000000000000000001207'),
        # Exhaustion: more sockets than queue descriptors, more ops than the table.
        'exhaust.bin': api_socket(udp=True) + api_bind(0, port=1) + api_pop(0) * 70 + api_socket() * 20 +
        api_sgaalloc(6) * 3,
    }


# ---- fuzz_afpacket and fuzz_afxdp: a frame on the wire ------------------------
def csum16(b):
    if len(b) % 2:
        b += b'\0'
    t = sum(struct.unpack('>%dH' % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff


def eth_ipv4(proto, l4, src=b'\x0a\x00\x00\x02', dst=b'\x0a\x00\x00\x01'):
    ip = bytearray(struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 1, 0x4000, 64, proto, 0, src, dst))
    ip[10:12] = struct.pack('>H', csum16(bytes(ip)))
    eth = b'\x02\x00\x00\x00\x00\x01' + b'\x02\x00\x00\x00\x00\x02' + b'\x08\x00'
    return eth + bytes(ip) + l4


def tcp_syn():
    return eth_ipv4(6, struct.pack('>HHIIBBHHH', 40000, 80, 1, 0, 0x50, 0x02, 65535, 0, 0))


def udp_dgram(n=32):
    return eth_ipv4(17, struct.pack('>HHHH', 9, 7, 8 + n, 0) + bytes(range(n)))


def afp_slot(frame, f=0, st=0, pkttype=0, mac=None, length=None, snaplen=None, tci=None):
    b = bytes([f, st, pkttype])
    if f & 1:
        b += struct.pack('>H', mac)
    if f & 2:
        b += struct.pack('>I', length)
    if f & 4:
        b += struct.pack('>I', snaplen)
    if st & 2:
        b += struct.pack('>H', tci)
    # data fills the slot from the end of its header (52); the kernel's
    # frame starts at 66, so 14 bytes of padding first
    data = bytes(14) + frame
    return b + struct.pack('>H', len(data)) + data


def fuzz_afpacket():
    return {
        'tcp_syn.bin': bytes([2]) + afp_slot(tcp_syn()),
        'udp_csum_partial.bin': bytes([2]) + afp_slot(udp_dgram(), f=0x10, st=1) +
        afp_slot(tcp_syn(), f=0x10, st=1),
        'vlan_truncated_outgoing.bin': bytes([3]) + afp_slot(tcp_syn(), st=2, tci=100) +
        afp_slot(tcp_syn(), st=2, tci=0) + afp_slot(udp_dgram(), f=8, st=64) + afp_slot(tcp_syn(), pkttype=4),
        'bad_offsets.bin': bytes([2]) + afp_slot(tcp_syn(), f=7, mac=2000, length=100, snaplen=100) +
        afp_slot(tcp_syn(), f=5, mac=10, snaplen=54) + afp_slot(tcp_syn(), f=6, length=10, snaplen=54) +
        afp_slot(tcp_syn(), f=4, snaplen=0xffffffff),
        'small_slot.bin': bytes([1]) + afp_slot(tcp_syn()) + afp_slot(b'', f=1, mac=52),
    }


def xdp_lend(n):
    return bytes([0 | ((n - 1) << 3)])


def xdp_rx(sel, off, length, kernel=True, options=None):
    op = 1 | (0x40 if kernel else 0) | (0x80 if options is not None else 0)
    return bytes([op, sel]) + struct.pack('>HH', off, length) + (bytes([options]) if options is not None else b'')


def xdp_forged(kind, arg, length=60, tx=False):
    op = 2 | (kind << 3) | (0x40 if tx else 0)
    if kind == 0:
        a = struct.pack('>Q', arg)
    elif kind in (1, 2):
        a = struct.pack('>H', arg)
    else:
        a = bytes([arg])
    return bytes([op]) + a + struct.pack('>H', length)


def xdp_comp(kind, sel=0, arg=0):
    op = 5 | (kind << 3)
    if kind in (0, 1):
        return bytes([op, sel]) + struct.pack('>H', arg)
    if kind == 2:
        return bytes([op]) + struct.pack('>Q', arg)
    return bytes([op, sel])


def fuzz_afxdp():
    return {
        'rx_tx.bin': xdp_lend(8) + xdp_rx(0, 0, 60) + xdp_rx(1, 0, 1514) + xdp_rx(2, 0, 3840) + bytes([3, 0]) +
        bytes([3, 0]) + bytes([4]) * 3 + xdp_comp(0, 0, 0) + xdp_comp(0, 1, 100) + bytes([6, 0]),
        'bad_desc.bin': xdp_lend(6) + xdp_rx(0, 10, 60, kernel=False) + xdp_rx(0, 4000, 200, kernel=False) +
        xdp_rx(0, 256, 60, options=1) + xdp_rx(0, 64, 4032, kernel=False) + xdp_rx(0, 64, 4033, kernel=False) +
        xdp_forged(0, 1 << 40) + xdp_forged(1, 0) + xdp_forged(1, 4000) + xdp_forged(2, 10) + xdp_forged(3, 0),
        'bad_completion.bin': bytes([4, 4]) + xdp_comp(2, arg=12345) + xdp_comp(3, 5) + xdp_forged(3, 0, tx=True) +
        xdp_comp(1, 0, 7),
    }


# ---- fuzz_frame: IPv6 --------------------------------------------------------
# The stack is 2001:db8::1 and fe80::ff:fe00:1 at 02:00:00:00:00:01; the peer
# 2001:db8::2 and fe80::2 at 02:00:00:00:00:02 (fuzz_frame.c).
MY_MAC = bytes.fromhex('020000000001')
PEER_MAC = bytes.fromhex('020000000002')
MY6 = bytes.fromhex('20010db8000000000000000000000001')
MY_LL = bytes.fromhex('fe80000000000000000000fffe000001')
PEER6 = bytes.fromhex('20010db8000000000000000000000002')
PEER_LL = bytes.fromhex('fe800000000000000000000000000002')
UNSPEC = bytes(16)
ALL_NODES = bytes.fromhex('ff020000000000000000000000000001')
MY_SNODE = bytes.fromhex('ff0200000000000000000001ff000001')  # both our addresses end in 00:00:01
ICMP6, TCP6, UDP6, HBH, RTG, FRAG, DSTO, NONE6 = 58, 6, 17, 0, 43, 44, 60, 59


def frame_chunk(frame, op=0):
    return bytes([op]) + struct.pack('>H', len(frame)) + frame


def eth6(pkt, dst=MY_MAC):
    return dst + PEER_MAC + b'\x86\xdd' + pkt


def mcast_mac(addr):
    return b'\x33\x33' + addr[12:]


def csum6(src, dst, nh, l4):
    return csum16(src + dst + struct.pack('>I', len(l4)) + bytes(3) + bytes([nh]) + l4)


def ip6(src, dst, nh, payload, hlim=64, plen=None):
    return struct.pack('>IHBB', 6 << 28, len(payload) if plen is None else plen, nh, hlim) + src + dst + payload


def icmp6(src, dst, typ, code, data, body=b'', bad=False):
    m = bytearray(struct.pack('>BBHI', typ, code, 0, data) + body)
    m[2:4] = struct.pack('>H', csum6(src, dst, ICMP6, bytes(m)) ^ (0x1234 if bad else 0))
    return bytes(m)


def pkt6(src, dst, typ, code, data, body=b'', hlim=64, ext=b'', first_nh=None, bad=False):
    """An ICMPv6 message behind the extension headers @ext (already chained to ICMPv6)."""
    return ip6(src, dst, first_nh if first_nh is not None else ICMP6, ext + icmp6(src, dst, typ, code, data, body, bad),
               hlim)


def echo6(src=PEER6, dst=MY6, n=16, **kw):
    return pkt6(src, dst, 128, 0, 0x12340001, bytes(range(n)), **kw)


def lla(kind, mac=PEER_MAC, units=1):
    return bytes([kind, units]) + mac + bytes(units * 8 - 8)


def ns6(src=PEER6, dst=MY_SNODE, target=MY6, opts=None, hlim=255):
    return pkt6(src, dst, 135, 0, 0, target + (lla(1) if opts is None else opts), hlim=hlim)


def na6(src=PEER6, dst=MY6, target=PEER6, flags=0x60000000, opts=None, hlim=255):
    return pkt6(src, dst, 136, 0, flags, target + (lla(2) if opts is None else opts), hlim=hlim)


def opts_hdr(nh, opts):
    """A hop-by-hop or destination options header holding @opts, padded to 8n bytes with PadN/Pad1."""
    body = opts
    pad = (8 - (2 + len(body)) % 8) % 8
    if pad == 1:
        body += b'\x00'
    elif pad:
        body += bytes([1, pad - 2]) + bytes(pad - 2)
    return bytes([nh, (2 + len(body)) // 8 - 1]) + body


def tcp6(src, dst, sport, dport, seq, ack, flags, payload=b'', opts=b''):
    off = (20 + len(opts)) // 4
    h = bytearray(struct.pack('>HHIIBBHHH', sport, dport, seq, ack, off << 4, flags, 65535, 0, 0) + opts + payload)
    h[16:18] = struct.pack('>H', csum6(src, dst, TCP6, bytes(h)))
    return bytes(h)


def udp6(src, dst, sport, dport, payload):
    h = bytearray(struct.pack('>HHHH', sport, dport, 8 + len(payload), 0) + payload)
    h[6:8] = struct.pack('>H', csum6(src, dst, UDP6, bytes(h)) or 0xffff)
    return bytes(h)


def icmp6_send(n):
    """fuzz_frame op 3 with bit 7: an echo request of ours to 2001:db8::n (even n) or fe80::n (odd)."""
    return bytes([0x83 | (n << 2)]) + bytes(2)


def timer(steps=0):
    """fuzz_frame op 1: advance the clock by (steps + 1) * 125 ms before the chunk's frame."""
    return 1 | (steps << 2)


def error_about(typ, code, data, inner_dst=PEER6, inner_src=MY6, n=32):
    inner = ip6(inner_src, inner_dst, UDP6, udp6(inner_src, inner_dst, 40000, 9, bytes(n)))
    return eth6(pkt6(PEER6, MY6, typ, code, data, inner))


def fuzz_frame():
    c = frame_chunk
    resolve = c(eth6(ns6()))  # the peer's NS with its address: an entry, and our NA
    syn = tcp6(PEER6, MY6, 40000, 80, 1000, 0, 0x02, opts=struct.pack('>BBH', 2, 4, 1440))
    return {
        # Echo: to our global address after the peer's NS, to our link-local
        # one (the stack resolves the peer: its NS, the peer's NA), and ours
        # to the peer (NS, NA, then the peer's reply); NUD runs out in settle.
        'v6_ns_echo.bin': resolve + c(eth6(echo6())),
        'v6_echo_linklocal.bin': c(eth6(echo6(PEER_LL, MY_LL, 40))) +
        c(eth6(na6(PEER_LL, MY_LL, PEER_LL)), op=timer()) + c(eth6(echo6(PEER_LL, MY_LL, 0))),
        'v6_echo_ours.bin': icmp6_send(2) + c(eth6(na6())) + c(eth6(pkt6(PEER6, MY6, 129, 0, 0x00010083, bytes(74)))) +
        icmp6_send(3) + c(eth6(na6(PEER_LL, MY_LL, bytes.fromhex('fe800000000000000000000000000003'))), op=timer(2)),
        'v6_echo_group.bin': c(eth6(echo6(dst=ALL_NODES), dst=mcast_mac(ALL_NODES))) +
        c(eth6(echo6(dst=MY_SNODE), dst=mcast_mac(MY_SNODE))),
        # Extension headers: hop-by-hop with Pad1, PadN, Router Alert and an
        # unknown option to skip (00); each action of an unknown option (01
        # drop, 10 error even to a group, 11 error); hop-by-hop after another
        # header; routing with no segment left and with one; destination
        # options; an atomic fragment and a real one; an unknown next header;
        # no next header; an option running past its header.
        'v6_ext_hbh.bin': resolve + c(eth6(echo6(ext=opts_hdr(ICMP6, b'\x00' + bytes([1, 2, 0, 0]) +
                                                                 bytes([5, 2, 0, 0]) + bytes([0x1e, 3, 1, 2, 3])),
                                                 first_nh=HBH))),
        'v6_ext_hbh_actions.bin': resolve + b''.join(
            c(eth6(echo6(ext=opts_hdr(ICMP6, bytes([t, 2, 0, 0])), first_nh=HBH))) for t in (0x5e, 0x9e, 0xde)) +
        c(eth6(echo6(dst=ALL_NODES, ext=opts_hdr(ICMP6, bytes([0x9e, 0])), first_nh=HBH), dst=mcast_mac(ALL_NODES))) +
        c(eth6(echo6(dst=ALL_NODES, ext=opts_hdr(ICMP6, bytes([0xde, 0])), first_nh=HBH), dst=mcast_mac(ALL_NODES))),
        'v6_ext_hbh_late.bin': resolve + c(eth6(echo6(ext=opts_hdr(HBH, b'') + opts_hdr(ICMP6, b''), first_nh=DSTO))),
        'v6_ext_routing.bin': resolve + c(eth6(echo6(ext=bytes([ICMP6, 0, 4, 0]) + bytes(4), first_nh=RTG))) +
        c(eth6(echo6(ext=bytes([ICMP6, 2, 0, 1]) + bytes(4) + PEER6, first_nh=RTG))) +
        c(eth6(echo6(ext=bytes([ICMP6, 0, 3, 2]) + bytes(4), first_nh=RTG))),
        'v6_ext_dstopts.bin': resolve + c(eth6(echo6(ext=opts_hdr(ICMP6, bytes([0x1e, 0, 0xc2, 4, 0, 0, 0, 1])),
                                                     first_nh=DSTO))),
        'v6_ext_fragment.bin': resolve + c(eth6(echo6(ext=struct.pack('>BBHI', ICMP6, 0, 0, 0x1234), first_nh=FRAG))) +
        c(eth6(echo6(ext=struct.pack('>BBHI', ICMP6, 0, 1, 0x1235), first_nh=FRAG))) +
        c(eth6(echo6(ext=struct.pack('>BBHI', ICMP6, 0, 8 << 3, 0x1235), first_nh=FRAG))),
        'v6_ext_unknown.bin': resolve + c(eth6(echo6(ext=bytes([99, 0]) + bytes(6), first_nh=DSTO))) +
        c(eth6(ip6(PEER6, MY6, 99, bytes(8)))) + c(eth6(ip6(PEER6, MY6, NONE6, bytes(8)))) +
        c(eth6(echo6(ext=bytes([ICMP6, 0, 1, 9]) + bytes(4), first_nh=HBH))) +
        c(eth6(echo6(ext=bytes([ICMP6, 40]), first_nh=DSTO))),
        # ICMPv6 errors about a packet of ours: Packet Too Big at the
        # minimum MTU, in between, below the minimum and above the link's;
        # the other errors; and one about someone else's packet.
        'v6_errors_in.bin': resolve + b''.join(c(error_about(2, 0, m)) for m in (1280, 1400, 1000, 9000, 1300)) +
        c(error_about(1, 4, 0)) + c(error_about(3, 0, 0)) + c(error_about(4, 1, 40)) +
        c(error_about(2, 0, 1300, inner_src=PEER6)) + c(error_about(2, 1, 1300)) + c(error_about(200, 0, 0)),
        # ND: NS and NA with options of every bad kind (length 0, an address
        # option of 16 bytes, a group address), the wrong hop limit, a DAD
        # probe for our address (we defend it), a DAD NS with an option, an
        # NA claiming our address, NAs updating the peer's entry (solicited,
        # override or not, another MAC), router messages.
        'v6_nd.bin': resolve + c(eth6(ns6(opts=bytes([1, 0]) + bytes(6)))) + c(eth6(ns6(opts=lla(1, units=2)))) +
        c(eth6(ns6(opts=lla(1, mac=b'\x01' + bytes(5))))) + c(eth6(ns6(hlim=64))) +
        c(eth6(ns6(src=UNSPEC, opts=b''))) + c(eth6(ns6(src=UNSPEC))) +
        c(eth6(ns6(target=ALL_NODES))) + c(eth6(ns6(dst=MY6, opts=lla(1) + bytes([14, 1]) + bytes(6)))) +
        c(eth6(na6(target=MY6, dst=ALL_NODES, flags=0x20000000), dst=mcast_mac(ALL_NODES))) +
        c(eth6(na6(flags=0x40000000))) + c(eth6(na6(flags=0, opts=lla(2, mac=bytes.fromhex('020000000099'))))) +
        c(eth6(na6(flags=0x20000000, opts=lla(2, mac=bytes.fromhex('020000000099'))))) +
        c(eth6(na6(dst=ALL_NODES, flags=0x40000000), dst=mcast_mac(ALL_NODES))) +
        c(eth6(na6(opts=lla(2, mac=b'\x03' + bytes(5))))) + c(eth6(na6(opts=b''))) +
        c(eth6(pkt6(PEER_LL, ALL_NODES, 134, 0, 0, bytes(8), hlim=255), dst=mcast_mac(ALL_NODES))),
        # NUD: the peer's entry goes STALE, DELAY on use, PROBE (unicast NS),
        # confirmed by a solicited NA.
        'v6_nud.bin': resolve + c(eth6(echo6()), op=timer(63)) + c(b'', op=timer(40)) + c(eth6(na6())) +
        c(eth6(echo6())),
        # Malformed IPv6: runt, version 4, payload length past the frame,
        # a shorter one (Ethernet padding), a multicast or loopback source,
        # our own address as the source, a group we did not join, someone
        # else's address, an ICMPv6 runt and a bad checksum, :: sending echo.
        'v6_malformed.bin': resolve + c(eth6(echo6()[:39])) + c(eth6(b'\x45' + echo6()[1:])) +
        c(eth6(ip6(PEER6, MY6, ICMP6, icmp6(PEER6, MY6, 128, 0, 0), plen=200))) +
        c(eth6(ip6(PEER6, MY6, ICMP6, icmp6(PEER6, MY6, 128, 0, 0), plen=8) + bytes(20))) +
        c(eth6(echo6(src=ALL_NODES))) + c(eth6(echo6(src=bytes(15) + b'\x01'))) + c(eth6(echo6(src=MY6))) +
        c(eth6(echo6(dst=bytes.fromhex('ff020000000000000000000000000002')), dst=b'\x33\x33\x00\x00\x00\x02')) +
        c(eth6(echo6(dst=PEER6))) + c(eth6(ip6(PEER6, MY6, ICMP6, b'\x80\x00'))) + c(eth6(echo6(bad=True))) +
        c(eth6(echo6(src=UNSPEC))),
        # TCP and UDP over IPv6: a SYN to port 80 (a RST once TCP takes
        # IPv6), an ACK with data, a SYN to a group, UDP to our bound port 7
        # and to port 9 (port unreachable once UDP takes IPv6).
        'v6_tcp_udp.bin': resolve + c(eth6(ip6(PEER6, MY6, TCP6, syn))) +
        c(eth6(ip6(PEER6, MY6, TCP6, tcp6(PEER6, MY6, 40000, 80, 1001, 5000, 0x18, b'hello')))) +
        c(eth6(ip6(PEER6, ALL_NODES, TCP6, tcp6(PEER6, ALL_NODES, 40000, 80, 1000, 0, 0x02)), dst=mcast_mac(ALL_NODES))) +
        c(eth6(ip6(PEER6, MY6, UDP6, udp6(PEER6, MY6, 40000, 7, b'hello fuzz')))) +
        c(eth6(ip6(PEER6, MY6, UDP6, udp6(PEER6, MY6, 40000, 9, b'nobody')))) +
        c(eth6(ip6(PEER_LL, MY_LL, TCP6, tcp6(PEER_LL, MY_LL, 40000, 80, 1000, 0, 0x02)))),
    }


TARGETS = {'fuzz_frame': fuzz_frame, 'fuzz_tcp': fuzz_tcp, 'fuzz_api': fuzz_api, 'fuzz_afpacket': fuzz_afpacket, 'fuzz_afxdp': fuzz_afxdp}

if __name__ == '__main__':
    for name in sys.argv[1:] or TARGETS:
        write(name, TARGETS[name]())
