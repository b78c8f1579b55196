#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# apps-memcached.sh BUILD_DIR MODE: Debian's memcached, unmodified (two
# worker threads, TCP and UDP), under tools/demirun, against real clients:
# libmemcached-tools (memcping, memccp/memccat, memcslap) and a small
# protocol client in python3 written here. MODE is memif, af_packet or
# af_xdp (apps-lib.sh; DEMIRUN= for plain Linux).
#   - memcping
#   - memccp of a 300 KB random file, memccat gives it back byte for byte
#   - python3, one TCP connection: 400 set of known values (1 B to 8 KB, one
#     of 512 KiB), multi-get of all of them compared byte for byte, incr,
#     delete, a miss
#   - memcslap: 8 concurrent connections, 2000 sets each
#   - python3 over UDP (memcached's 8-byte frame header): get of keys set
#     over TCP, values compared
#   - SIGTERM: the server exits 0
# Prints "ok - NAME" / "not ok - NAME (reason)" per case, then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
mode=${2:-memif}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/report-lib.sh
. "$here/report-lib.sh"
APPS_NAME=memcached
# shellcheck source=tests/integration/apps-lib.sh
. "$here/apps-lib.sh"

apps_need memcached memcping memccp memccat memcslap
apps_init "$build" "$mode"
tmp=$APPS_TMP
port=$(apps_port)
servers="--servers=$APPS_IP:$port"

# The protocol client: mc.py tcp|udp HOST PORT SEED. Exit 0 and one line
# "ok ..." when every reply is what it must be; otherwise the first
# difference on stderr, exit 1.
cat >"$tmp/mc.py" <<'EOF'
import random, socket, struct, sys

mode, host, port, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
values = {}
for i in range(400):
    n = 512 * 1024 if i == 123 else rng.randint(1, 8192)
    values["k%d" % i] = rng.randbytes(n)

def fail(msg):
    print("mc.py %s: %s" % (mode, msg), file=sys.stderr)
    sys.exit(1)

class Conn:
    def __init__(self):
        self.s = socket.create_connection((host, port), timeout=20)
        self.buf = b""
    def send(self, data):
        self.s.sendall(data)
    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                fail("connection closed by the server")
            self.buf += d
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l
    def exact(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                fail("connection closed by the server")
            self.buf += d
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

def parse_values(c, want):
    got = {}
    while True:
        l = c.line()
        if l == b"END":
            return got
        p = l.split()
        if p[0] != b"VALUE":
            fail("get: unexpected line %r" % l[:80])
        data = c.exact(int(p[3]))
        if c.exact(2) != b"\r\n":
            fail("get: no CRLF after the data of %r" % p[1])
        got[p[1].decode()] = data

if mode == "tcp":
    c = Conn()
    sent = 0
    for k, v in values.items():
        c.send(b"set %s 7 0 %d\r\n" % (k.encode(), len(v)) + v + b"\r\n")
        sent += len(v)
        r = c.line()
        if r != b"STORED":
            fail("set %s (%d bytes): %r" % (k, len(v), r[:80]))
    keys = list(values)
    got = {}
    for i in range(0, len(keys), 50):
        c.send(b"get " + " ".join(keys[i:i + 50]).encode() + b"\r\n")
        got.update(parse_values(c, keys[i:i + 50]))
    for k, v in values.items():
        if got.get(k) != v:
            fail("get %s: %s" % (k, "missing" if k not in got else "%d bytes differ from the %d set" % (len(got[k]), len(v))))
    c.send(b"set counter 0 0 2\r\n41\r\n")
    if c.line() != b"STORED":
        fail("set counter")
    c.send(b"incr counter 1\r\n")
    if c.line() != b"42":
        fail("incr counter did not give 42")
    c.send(b"delete k0\r\n")
    if c.line() != b"DELETED":
        fail("delete k0")
    c.send(b"get k0\r\n")
    if parse_values(c, []) != {}:
        fail("k0 still there after delete")
    c.send(b"quit\r\n")
    print("ok %d values, %d bytes set and got back" % (len(values), sent))
else:
    # UDP: each request a datagram with the frame header (request id,
    # sequence 0, 1 datagram, 0); the reply may span several datagrams.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    checked = 0
    for i, k in enumerate(["k1", "k2", "k3", "k42", "k200", "counter"]):
        want = values.get(k, b"42")
        for attempt in range(3):
            rid = (i * 16 + attempt) & 0xFFFF
            s.sendto(struct.pack("!HHHH", rid, 0, 1, 0) + b"get " + k.encode() + b"\r\n", (host, port))
            parts = {}
            total = None
            try:
                while total is None or len(parts) < total:
                    d, _ = s.recvfrom(65536)
                    r, seq, tot, _ = struct.unpack("!HHHH", d[:8])
                    if r != rid:
                        continue
                    parts[seq] = d[8:]
                    total = tot
            except socket.timeout:
                continue
            break
        else:
            fail("udp get %s: no complete reply in 3 tries" % k)
        reply = b"".join(parts[j] for j in range(total))
        head, _, rest = reply.partition(b"\r\n")
        p = head.split()
        if len(p) < 4 or p[0] != b"VALUE" or p[1] != k.encode():
            fail("udp get %s: %r" % (k, head[:80]))
        data = rest[:int(p[3])]
        if data != want or rest[int(p[3]):] != b"\r\nEND\r\n":
            fail("udp get %s: value differs (%d bytes, want %d)" % (k, len(data), len(want)))
        checked += 1
    print("ok %d values over UDP" % checked)
EOF

apps_server "$tmp/server.log" memcached -u root -l "$APPS_IP" -p "$port" -U "$port" -t 2 -m 64 -c 256 -vv
server=$APPS_SERVER_PID
if ! apps_wait_log "$tmp/server.log" "server listening" "$server"; then
    not_ok "memcached: starts and listens on $APPS_IP:$port" "no 'server listening'" "$tmp/server.log"
    apps_finish
    exit 1
fi

name="memcached: memcping"
apps_client memcping "$servers" </dev/null >"$tmp/ping.out" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
    ok "$name"
else
    not_ok "$name" "$(apps_why memcping $rc "$tmp/ping.out")" "$tmp/ping.out" "$tmp/server.log"
fi

name="memcached: memccp of 300 KB random bytes, memccat gives them back byte for byte"
head -c 300000 /dev/urandom >"$tmp/blob.bin"
(cd "$tmp" && apps_client memccp "$servers" blob.bin) </dev/null >"$tmp/cp.out" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    not_ok "$name" "memccp: $(apps_why memccp $rc "$tmp/cp.out")" "$tmp/cp.out" "$tmp/server.log"
else
    apps_client memccat "$servers" blob.bin </dev/null >"$tmp/cat.out" 2>"$tmp/cat.err"
    rc=$?
    # memccat ends the value with a newline.
    if [ $rc -eq 0 ] && [ "$(stat -c %s "$tmp/cat.out")" -eq 300001 ] &&
        head -c 300000 "$tmp/cat.out" | cmp -s - "$tmp/blob.bin"; then
        ok "$name"
    else
        not_ok "$name" "memccat: $(apps_why memccat $rc "$tmp/cat.err"), $(stat -c %s "$tmp/cat.out") bytes" \
            "$tmp/cat.err" "$tmp/server.log"
    fi
fi

name="memcached: python3 over TCP: 400 set (1 B to 512 KiB), multi-get compared byte for byte, incr, delete"
apps_client python3 "$tmp/mc.py" tcp "$APPS_IP" "$port" 1 </dev/null >"$tmp/py-tcp.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q '^ok ' "$tmp/py-tcp.out"; then
    ok "$name ($(sed -n 's/^ok //p' "$tmp/py-tcp.out"))"
else
    not_ok "$name" "$(apps_why mc.py $rc "$tmp/py-tcp.out")" "$tmp/py-tcp.out" "$tmp/server.log"
fi

name="memcached: memcslap, 8 concurrent connections x 2000 sets"
apps_client memcslap "$servers" --concurrency=8 --execute-number=2000 --test=set \
    </dev/null >"$tmp/slap.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q 'Time to set *16000 keys' "$tmp/slap.out"; then
    ok "$name ($(grep -o 'Time to set.*' "$tmp/slap.out" | tr -s ' '))"
else
    not_ok "$name" "$(apps_why memcslap $rc "$tmp/slap.out")" "$tmp/slap.out" "$tmp/server.log"
fi

name="memcached: python3 over UDP: get of 6 keys set over TCP, values compared"
apps_client python3 "$tmp/mc.py" udp "$APPS_IP" "$port" 1 </dev/null >"$tmp/py-udp.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q '^ok ' "$tmp/py-udp.out"; then
    ok "$name"
else
    not_ok "$name" "$(apps_why mc.py $rc "$tmp/py-udp.out")" "$tmp/py-udp.out" "$tmp/server.log"
fi

name="memcached: still serving after the load: memccat of the 300 KB value intact"
apps_client memccat "$servers" blob.bin </dev/null >"$tmp/cat2.out" 2>"$tmp/cat2.err"
rc=$?
if [ $rc -eq 0 ] && head -c 300000 "$tmp/cat2.out" | cmp -s - "$tmp/blob.bin"; then
    ok "$name"
else
    not_ok "$name" "memccat: $(apps_why memccat $rc "$tmp/cat2.err")" "$tmp/cat2.err" "$tmp/server.log"
fi

name="memcached: SIGTERM -> memcached exits 0"
if apps_alive "$server"; then
    apps_stop "$server"
    rc=$?
    if [ $rc -eq 0 ]; then ok "$name"; else not_ok "$name" "exit $rc" "$tmp/server.log"; fi
else
    wait "$server"
    not_ok "$name" "the server had already exited ($?)" "$tmp/server.log"
fi

apps_finish
