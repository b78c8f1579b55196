#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# cattree-mixed.sh BUILD_DIR: storage queues beside a network libOS in one
# process. examples/log-server appends every request to its log (the
# storage libOS joins the runtime on demi_creat) and answers it once
# durable, its sockets and its log waited on in one demi_wait_any loop:
#
#   catnap     Python clients over the kernel's TCP: 4 connections, each
#              pipelining 1500 records of 1 B..20 KB (sizes around the
#              log's 8-byte and 512-byte units), then a half-close: every
#              answer must still come, byte-exact, numbered in order
#   catloop    catloop.mode host, log-server --client as the other process
#              (8 connections x 32 records in flight, up to 16 KiB each)
#   catnip     two DPDK processes over net_memif (--no-huge), log-server
#              --client as the other one, as for catloop (skipped without
#              DPDK)
#   catpowder  AF_PACKET on a veth pair (netns-lib.sh), the Python clients
#              in the Linux namespace (skipped without root or iproute2)
#
# Records of 8 KiB and more are written from the application's buffer
# (zero-copy), the others copied: both paths, one log. Each case then stops
# the server with SIGTERM (it answers what is in flight and closes its
# queues), and demi-logcheck checks that every acknowledged record is in
# the log at the sequence number its answer gave, byte-exact, offline and
# through the API.
# Prints "ok - NAME" / "not ok - NAME (reason)" per case, then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
# Whole demi_sgaalloc buffers of 8 KiB and more are written in place here
# whatever the disk (cattree.zero_copy auto turns that off on a disk with
# 4 KiB physical blocks, as this VM's): both write paths are tested.
export DEMI_CATTREE_ZERO_COPY=on
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
srv=$build/examples/log-server
lc=$build/tools/demi-logcheck
for f in "$srv" "$lc"; do
    [ -x "$f" ] || { echo "not ok - $f is not built"; echo "0 passed, 1 failed"; exit 1; }
done

tmp=$(mktemp -d "$build/cattree-mixed.XXXXXX")
pids=()
passed=0
failed=0
run_id=$$

dpdk_rundir() {
    if [ "$(id -u)" -eq 0 ]; then echo /var/run/dpdk; else echo "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; fi
}

cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$tmp" "$(dpdk_rundir)"/demi-lsrv-"$run_id"-*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() {
    echo "ok - $1"
    passed=$((passed + 1))
}

skip() {
    echo "ok - $1 # SKIP $2"
}

not_ok() {
    local name=$1 why=$2 log
    shift 2
    echo "not ok - $name ($why)"
    failed=$((failed + 1))
    for log in "$@"; do
        [ -s "$log" ] || continue
        echo "--- $(basename "$log")"
        grep -v '^EAL:' "$log" | tail -n 20
    done | sed 's/^/# /' >&2
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 40000))
}

wait_ready() {
    local out=$1 pid=$2
    for _ in $(seq 300); do
        grep -q "listening on" "$out" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# wait_rc PID SECONDS: its exit status, or 124 (then killed) after SECONDS.
wait_rc() {
    local pid=$1 n=$(($2 * 10))
    while [ "$n" -gt 0 ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            return $?
        fi
        sleep 0.1
        n=$((n - 1))
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 124
}

# The kernel-TCP client: CONNS connections, each pipelining N records from
# a sender thread, then shutting its side down; the replies are checked as
# they come, and the acknowledged records written as "SEQ HEX" lines.
cat >"$tmp/client.py" <<'EOF'
import os, random, socket, struct, sys, threading

host, port, n, conns, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
acked, errors, lock = [], [], threading.Lock()

def recv_exact(s, k):
    b = bytearray()
    while len(b) < k:
        c = s.recv(k - len(b))
        if not c:
            raise EOFError("closed by the server %d bytes into a %d-byte read" % (len(b), k))
        b += c
    return bytes(b)

def run(idx):
    try:
        r = random.Random(idx)
        sizes = [1, 7, 8, 9, 487, 488, 489, 511, 512, 513, 4096, 4097]
        recs = [os.urandom(r.choice(sizes) if r.random() < 0.6 else r.randint(1, 20000)) for _ in range(n)]
        s = socket.create_connection((host, port), timeout=30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        def send():
            for p in recs:
                s.sendall(struct.pack("<I", len(p)) + p)
            s.shutdown(socket.SHUT_WR)  # the answers must still come
        t = threading.Thread(target=send)
        t.start()
        last = -1
        for p in recs:
            ln, seq = struct.unpack("<IQ", recv_exact(s, 12))
            if ln == 0:
                raise RuntimeError("refused: errno %d" % seq)
            if ln != len(p):
                raise RuntimeError("an answer of %d bytes to a request of %d" % (ln, len(p)))
            if recv_exact(s, ln) != p:
                raise RuntimeError("the echo of record %d differs" % seq)
            if seq <= last:
                raise RuntimeError("record %d acknowledged after %d" % (seq, last))
            last = seq
            with lock:
                acked.append((seq, p))
        if s.recv(1) != b"":
            raise RuntimeError("bytes after the last answer")
        t.join()
        s.close()
    except Exception as e:
        with lock:
            errors.append("connection %d: %s" % (idx, e))

threads = [threading.Thread(target=run, args=(i,)) for i in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for e in errors:
    print("client.py: " + e)
acked.sort()
if any(a[0] == b[0] for a, b in zip(acked, acked[1:])):
    errors.append("a sequence number acknowledged twice")
with open(out, "w") as f:
    for seq, p in acked:
        f.write("%d %s\n" % (seq, p.hex()))
print("client.py: %d records acknowledged (%d bytes), byte-exact, in order" % (len(acked), sum(len(p) for _, p in acked)))
sys.exit(1 if errors else 0)
EOF

# verify NAME LOG ACKED SERVER_OUT: the server stopped cleanly, and every
# acknowledged record is in the log (offline and through the API).
verify() {
    local name=$1 log=$2 acked=$3 sout=$4 rc n
    n=$(grep -c . "$acked")
    "$lc" --expect "$acked" "$log" >"$tmp/check.out" 2>&1
    rc=$?
    LIBOS=cattree "$lc" --via-api --expect "$acked" "$log" >"$tmp/check-api.out" 2>&1
    if [ "$rc" -ne 0 ]; then
        not_ok "$name" "demi-logcheck exit $rc" "$tmp/check.out"
    elif ! grep -q "all $n expected records found" "$tmp/check-api.out"; then
        not_ok "$name" "demi-logcheck --via-api" "$tmp/check-api.out"
    elif ! grep -q "SIGTERM: $n records (.*) appended" "$sout"; then
        not_ok "$name" "the server's count is not the client's ($n)" "$sout"
    else
        ok "$name: $n records acknowledged, all in the log byte-exact ($(grep -o '[0-9.]* records per write, [0-9]* zero-copy' "$sout" || echo 'no counters'))"
    fi
}

# ---- catnap: Python clients over the kernel's TCP ------------------------------

name="LIBOS=catnap + storage: 4 kernel-TCP clients x 1500 pipelined records, half-close"
port=$(free_port)
LIBOS=catnap timeout 120 "$srv" --server 127.0.0.1 "$port" --log "$tmp/catnap.log" >"$tmp/catnap.out" 2>&1 &
spid=$!
pids+=("$spid")
if ! command -v python3 >/dev/null; then
    not_ok "$name" "python3 is not installed"
elif ! wait_ready "$tmp/catnap.out" "$spid"; then
    not_ok "$name" "the server did not start" "$tmp/catnap.out"
else
    timeout 60 python3 "$tmp/client.py" 127.0.0.1 "$port" 1500 4 "$tmp/catnap.txt" >"$tmp/catnap-client.out" 2>&1
    rc=$?
    kill -TERM "$spid"
    wait_rc "$spid" 20
    rs=$?
    if [ "$rc" -ne 0 ] || [ "$rs" -ne 0 ]; then
        not_ok "$name" "client exit $rc, server exit $rs" "$tmp/catnap-client.out" "$tmp/catnap.out"
    else
        verify "$name" "$tmp/catnap.log" "$tmp/catnap.txt" "$tmp/catnap.out"
    fi
fi

# ---- catloop: two processes over shared memory -------------------------------------

name="LIBOS=catloop (host mode) + storage: log-server --client, 8 connections x 32 in flight, records up to 16 KiB"
port=$((30000 + run_id % 20000))
LIBOS=catloop DEMI_CATLOOP_MODE=host timeout 120 "$srv" --server 127.0.0.1 "$port" --log "$tmp/catloop.log" \
    >"$tmp/catloop.out" 2>&1 &
spid=$!
pids+=("$spid")
if ! wait_ready "$tmp/catloop.out" "$spid"; then
    not_ok "$name" "the server did not start" "$tmp/catloop.out"
else
    LIBOS=catloop DEMI_CATLOOP_MODE=host timeout 60 "$srv" --client 127.0.0.1 "$port" --records 20000 --conns 8 \
        --depth 32 --size 16384 --acked "$tmp/catloop.txt" >"$tmp/catloop-client.out" 2>&1
    rc=$?
    kill -TERM "$spid"
    wait_rc "$spid" 20
    rs=$?
    if [ "$rc" -ne 0 ] || [ "$rs" -ne 0 ]; then
        not_ok "$name" "client exit $rc, server exit $rs" "$tmp/catloop-client.out" "$tmp/catloop.out"
    else
        verify "$name" "$tmp/catloop.log" "$tmp/catloop.txt" "$tmp/catloop.out"
    fi
fi

# ---- catnip: two DPDK processes over net_memif -----------------------------------------

# As catnip.sh's memif pairs: one lcore each, no hugepages, a socket and an
# EAL file prefix of this run's own.
memif_env() {
    local role=$1 ip=$2 core=$3 wait=$4
    menv=(LIBOS=catnip "DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR=$ip" "DEMI_DPDK_LINK_WAIT_MS=$wait"
        "DEMI_DPDK_EAL_INIT=demi -l $core --no-huge --no-pci --no-telemetry --log-level=warning --file-prefix=demi-lsrv-$run_id-$role --vdev=net_memif0,role=$role,socket=/tmp/demi-lsrv-$run_id.sock")
}
name="LIBOS=catnip (net_memif) + storage: log-server --client over DPDK, 8 connections x 32 in flight, records up to 16 KiB"
core_c=$(($(nproc) >= 2 ? 1 : 0))
memif_env server 10.99.0.1 0 0
timeout 120 env "${menv[@]}" "$srv" --server 10.99.0.1 7000 --log "$tmp/catnip.log" >"$tmp/catnip.out" 2>&1 &
spid=$!
pids+=("$spid")
if ! wait_ready "$tmp/catnip.out" "$spid"; then
    wait "$spid"
    if grep -q "not built into this libdemi" "$tmp/catnip.out"; then
        skip "$name" "libdemi built without DPDK"
    else
        not_ok "$name" "the server did not start" "$tmp/catnip.out"
    fi
else
    memif_env client 10.99.0.2 "$core_c" 5000
    timeout 60 env "${menv[@]}" "$srv" --client 10.99.0.1 7000 --records 20000 --conns 8 --depth 32 --size 16384 \
        --acked "$tmp/catnip.txt" >"$tmp/catnip-client.out" 2>&1
    rc=$?
    kill -TERM "$spid"
    wait_rc "$spid" 20
    rs=$?
    if [ "$rc" -ne 0 ] || [ "$rs" -ne 0 ]; then
        not_ok "$name" "client exit $rc, server exit $rs" "$tmp/catnip-client.out" "$tmp/catnip.out"
    else
        verify "$name" "$tmp/catnip.log" "$tmp/catnip.txt" "$tmp/catnip.out"
    fi
fi

# ---- catpowder: AF_PACKET on a veth pair, kernel-TCP clients in the other namespace ---

name="LIBOS=catpowder (AF_PACKET, veth) + storage: 4 Linux clients x 1500 pipelined records, half-close"
if [ "$(id -u)" -ne 0 ]; then
    skip "$name" "needs root (network namespaces)"
elif ! command -v ip >/dev/null || ! command -v ethtool >/dev/null; then
    skip "$name" "needs iproute2 and ethtool"
else
    # In a subshell: netns-lib.sh's traps and exits stay there. It leaves
    # its verdict in catpowder.rc (none: the namespaces could not be made).
    (
        # shellcheck source=tests/integration/netns-lib.sh
        . "$here/netns-lib.sh"
        netns_setup
        demi_bg "$tmp/catpowder.out" timeout 120 "$srv" --server "$NETNS_IP_DEMI" 7000 --log "$tmp/catpowder.log"
        spid=$NETNS_PID
        if ! netns_wait_for "$tmp/catpowder.out" "listening on" "$spid" 100; then
            echo "server" >"$tmp/catpowder.rc"
            exit 0
        fi
        timeout 60 ip netns exec "$NS_LINUX" python3 "$tmp/client.py" "$NETNS_IP_DEMI" 7000 1500 4 \
            "$tmp/catpowder.txt" >"$tmp/catpowder-client.out" 2>&1
        rc=$?
        kill -TERM "$spid"
        wait "$spid"
        echo "$rc $?" >"$tmp/catpowder.rc"
    ) >"$tmp/netns.out" 2>&1
    if [ ! -s "$tmp/catpowder.rc" ]; then
        not_ok "$name" "network namespace setup failed" "$tmp/netns.out"
    elif [ "$(cat "$tmp/catpowder.rc")" = server ]; then
        not_ok "$name" "the server did not start" "$tmp/catpowder.out"
    elif [ "$(cat "$tmp/catpowder.rc")" != "0 0" ]; then
        not_ok "$name" "client and server exit $(cat "$tmp/catpowder.rc")" "$tmp/catpowder-client.out" "$tmp/catpowder.out"
    else
        verify "$name" "$tmp/catpowder.log" "$tmp/catpowder.txt" "$tmp/catpowder.out"
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
