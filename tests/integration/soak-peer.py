#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""soak-peer.py: the Linux clients of synflood.sh and soak.sh, against
demi-soak-server (echo on PORT, source on PORT+1: 16 bytes of request, a
length and a seed as big-endian 64-bit numbers, answered with that many
bytes of examples/common.h's pattern, then the server closes).

  soak-peer.py probe HOST PORT --seconds N [--size B] [--timeout S]
      one new connection every second for N seconds, each sending B bytes
      (default 4096) and checking the echo byte for byte; one line per
      probe, then a summary; exit 1 if any probe failed.
  soak-peer.py load HOST PORT --seconds N [--workers W] [--seed S]
      W threads of mixed traffic until N seconds have passed: echo rounds,
      bulk echo (up to 4 MiB each way), source transfers (up to 8 MiB),
      resets (SO_LINGER 0 close with data in flight), and clients killed
      with SIGKILL mid-transfer (a child process, this script's 'victim');
      every byte that arrives is checked; exit 1 on any failure.
  soak-peer.py victim HOST PORT KIND   (for load: a transfer that never ends)

Every socket operation has a timeout; nothing loops without a bound.
"""
import argparse
import os
import random
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

ROT = [bytes((j + r) & 0xFF for j in range(256)) for r in range(256)]


def pattern(seed, n):
    """Bytes 0..n-1 of stream @seed of examples/common.h's ex_pattern."""
    blocks = []
    for k in range((n + 255) // 256):
        blocks.append(ROT[(seed * 151 + k * 256 + k * 7 + (k >> 8) * 3) & 0xFF])
    return b"".join(blocks)[:n]


def recv_exact(s, n, deadline):
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"got {len(buf)} of {n} bytes back in time")
        s.settimeout(left)
        try:
            chunk = s.recv(min(n - len(buf), 1 << 20))
        except socket.timeout:
            # Say where the stream stalled (local port: find it in a capture).
            raise TimeoutError(f"nothing for {left:.1f} s after {len(buf)} of {n} bytes "
                               f"(local port {s.getsockname()[1]})") from None
        if not chunk:
            raise ConnectionError(f"end of stream after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def first_diff(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return i
    return min(len(a), len(b))


# ----------------------------------------------------------------- probe
def probe(args):
    results = {}
    lock = threading.Lock()

    def one(k):
        data = random.Random(k).randbytes(args.size)
        t0 = time.monotonic()
        deadline = t0 + args.timeout
        res = None
        try:
            s = socket.create_connection((args.host, args.port), timeout=args.timeout)
            t1 = time.monotonic()
            try:
                s.sendall(data)
                got = recv_exact(s, len(data), deadline)
                t2 = time.monotonic()
                if got != data:
                    res = (False, f"echo differs at byte {first_diff(got, data)}", t1 - t0, 0)
                else:
                    res = (True, "", t1 - t0, t2 - t1)
            finally:
                s.close()
        except Exception as e:  # every failure of a probe is reported, none ends the run
            res = (False, f"{type(e).__name__}: {e}", time.monotonic() - t0, 0)
        with lock:
            results[k] = res
        ok, why, c, e = res
        if ok:
            print(f"probe {k} ok connect_ms={c * 1e3:.2f} echo_ms={e * 1e3:.2f}", flush=True)
        else:
            print(f"probe {k} FAIL after {c * 1e3:.0f} ms: {why}", flush=True)

    start = time.monotonic()
    threads = []
    for k in range(args.seconds):
        delay = start + k - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t = threading.Thread(target=one, args=(k,), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(args.timeout + 5)
    ok = [r for r in results.values() if r[0]]
    failed = args.seconds - len(ok)
    conn = sorted(r[2] * 1e3 for r in ok) or [0.0]
    echo = sorted(r[3] * 1e3 for r in ok) or [0.0]
    print(f"probe: {len(ok)} ok, {failed} failed of {args.seconds}; connect ms median "
          f"{statistics.median(conn):.2f} max {max(conn):.2f}; echo ms median "
          f"{statistics.median(echo):.2f} max {max(echo):.2f}", flush=True)
    return 0 if failed == 0 else 1


# ------------------------------------------------------------------ load
class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.n = {"echo": 0, "bulk": 0, "source": 0, "reset": 0, "kill": 0,
                  "bytes": 0, "failures": 0}
        self.errors = []

    def add(self, key, v=1):
        with self.lock:
            self.n[key] += v

    def fail(self, what):
        with self.lock:
            self.n["failures"] += 1
            if len(self.errors) < 20:
                self.errors.append(what)
        print(f"load: FAIL {what}", flush=True)


def connect(host, port, timeout):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def do_echo(a, rng, t):
    with connect(a.host, a.port, a.timeout) as s:
        for _ in range(rng.randint(1, 8)):
            data = rng.randbytes(rng.randint(1, 16384))
            s.sendall(data)
            got = recv_exact(s, len(data), time.monotonic() + a.timeout)
            if got != data:
                raise ValueError(f"echo differs at byte {first_diff(got, data)} of {len(data)}")
            t.add("bytes", 2 * len(data))
    t.add("echo")


def do_bulk(a, rng, t):
    n = rng.randint(256 * 1024, 4 << 20)
    data = rng.randbytes(n)
    err = []
    with connect(a.host, a.port, a.timeout) as s:
        sent = [0]

        def sender():
            try:
                view = memoryview(data)
                while sent[0] < n:
                    sent[0] += s.send(view[sent[0]:])
            except Exception as e:
                err.append(e)
        th = threading.Thread(target=sender, daemon=True)
        th.start()
        try:
            got = recv_exact(s, n, time.monotonic() + a.timeout + n / 1e6)
        except TimeoutError as e:
            raise TimeoutError(f"{e}; sent {sent[0]} of {n}") from None
        th.join(a.timeout)
        if err:
            raise err[0]
        if got != data:
            raise ValueError(f"bulk echo differs at byte {first_diff(got, data)} of {n}")
    t.add("bulk")
    t.add("bytes", 2 * n)


def do_source(a, rng, t):
    n = rng.randint(1, 8 << 20)
    seed = rng.randint(0, 1 << 32)
    with connect(a.host, a.port + 1, a.timeout) as s:
        s.sendall(struct.pack(">QQ", n, seed))
        got = recv_exact(s, n, time.monotonic() + a.timeout + n / 1e6)
        s.settimeout(a.timeout)
        extra = s.recv(1)  # the server closes after the last byte
        if extra:
            raise ValueError(f"source sent more than the {n} bytes asked")
    want = pattern(seed, n)
    if got != want:
        raise ValueError(f"source differs at byte {first_diff(got, want)} of {n} (seed {seed})")
    t.add("source")
    t.add("bytes", n)


def do_reset(a, rng, t):
    s = connect(a.host, a.port, a.timeout)
    try:
        # At most what the socket buffers hold while nobody reads the echo
        # (more would deadlock sendall against the server's echo).
        s.sendall(rng.randbytes(rng.randint(1, 48 * 1024)))
        if rng.random() < 0.5:
            s.settimeout(a.timeout)
            s.recv(4096)  # some of the echo back first
    finally:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    t.add("reset")


def do_kill(a, rng, t):
    kind = rng.choice(["echo", "source", "noread"])
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "victim", a.host,
                          str(a.port), kind], stdout=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.2, 0.8))
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    t.add("kill")


def load(args):
    t = Tally()
    deadline = time.monotonic() + args.seconds
    actions = [(do_echo, 40), (do_bulk, 10), (do_source, 15), (do_reset, 15), (do_kill, 8)]
    funcs = [f for f, w in actions for _ in range(w)]

    def worker(i):
        rng = random.Random(args.seed * 1000 + i)
        while time.monotonic() < deadline:
            f = rng.choice(funcs)
            try:
                f(args, rng, t)
            except Exception as e:
                t.fail(f"worker {i} {f.__name__[3:]}: {type(e).__name__}: {e}")
                time.sleep(0.2)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(args.seconds + 4 * args.timeout + 60)
    n = t.n
    conns = n["echo"] + n["bulk"] + n["source"] + n["reset"] + n["kill"]
    print(f"load: {conns} connections (echo {n['echo']}, bulk {n['bulk']}, source {n['source']}, "
          f"reset {n['reset']}, killed {n['kill']}), {n['bytes'] / 1e6:.1f} MB checked, "
          f"{n['failures']} failures", flush=True)
    for e in t.errors:
        print(f"load: error: {e}", flush=True)
    return 0 if n["failures"] == 0 else 1


def victim(args):
    """A transfer that does not end before the SIGKILL."""
    port = args.port + 1 if args.kind == "source" else args.port
    s = socket.create_connection((args.host, port), timeout=30)
    if args.kind == "source":
        s.sendall(struct.pack(">QQ", 1 << 30, 7))
        while s.recv(1 << 16):
            pass
    elif args.kind == "noread":
        # Fill libdemi's send queue towards us and our receive window.
        data = os.urandom(1 << 16)
        while True:
            s.sendall(data)
    else:
        data = os.urandom(1 << 16)
        while True:
            s.sendall(data)
            recv_exact(s, len(data), time.monotonic() + 30)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("probe")
    pl = sub.add_parser("load")
    pv = sub.add_parser("victim")
    for q in (pp, pl, pv):
        q.add_argument("host")
        q.add_argument("port", type=int)
    pp.add_argument("--seconds", type=int, required=True)
    pp.add_argument("--size", type=int, default=4096)
    pp.add_argument("--timeout", type=float, default=3.0)
    pl.add_argument("--seconds", type=float, required=True)
    pl.add_argument("--workers", type=int, default=6)
    pl.add_argument("--seed", type=int, default=1)
    pl.add_argument("--timeout", type=float, default=20.0)
    pv.add_argument("kind", choices=["echo", "source", "noread"])
    args = p.parse_args()
    return {"probe": probe, "load": load, "victim": victim}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
