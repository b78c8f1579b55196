#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# demi-stat.sh BUILD_DIR: demi-stat against a live catnip server.
#
# Two catnip processes over DPDK's net_memif (no hugepages, no root needed):
# a tcp-echo server and a client echoing 64-byte messages. While they run,
# demi-stat must list the server, show its counters moving (tcp_rx grows
# between two looks, at a rate above zero under -w), its connection table
# (the listener and one ESTABLISHED connection from the client's address),
# and the same in JSON; when the client is done, the server's counters
# must account for every message (tcp_conn_passive 1, at least one segment
# received per message). A server killed with SIGKILL leaves its segment;
# demi-stat no longer lists it, and the next libdemi process removes it.
# Prints "ok - NAME" / "not ok - NAME (reason)", then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
stat=$build/tools/demi-stat
echo_bin=$build/examples/tcp-echo
msgs=${STAT_MSGS:-2000000} # enough to outlast every look at the live server (several seconds)
run_id=$$
tmp=$(mktemp -d)
pids=()

# shellcheck source=report-lib.sh
. "$(dirname "$0")/report-lib.sh"

dpdk_rundir() {
    if [ "$(id -u)" -eq 0 ]; then echo /var/run/dpdk; else echo "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; fi
}
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$(dpdk_rundir)"/demi-stat-"$run_id"-* "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for f in "$stat" "$echo_bin"; do
    [ -x "$f" ] || { echo "demi-stat.sh: $f is missing (build first)" >&2; echo "0 passed, 1 failed"; exit 1; }
done

# menv_of ROLE IP CORE WAIT: sets menv, one catnip process's environment
# on this test's memif pair (its own socket and EAL file prefixes).
menv_of() {
    menv=(LIBOS=catnip "DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR=$2" "DEMI_DPDK_LINK_WAIT_MS=$4"
        "DEMI_DPDK_EAL_INIT=demi -l $3 --no-huge --no-pci --no-telemetry --log-level=warning --file-prefix=demi-stat-$run_id-$1 --vdev=net_memif0,role=$1,socket=/tmp/demi-stat-$run_id.sock")
}
core_c=1
[ "$(nproc)" -ge 2 ] || core_c=0
menv_of server 10.99.0.1 0 0
senv=("${menv[@]}")
menv_of client 10.99.0.2 "$core_c" 5000
cenv=("${menv[@]}")

timeout 120 env "${senv[@]}" "$echo_bin" --server 10.99.0.1 7000 >"$tmp/server.log" 2>&1 &
spid=$!
pids+=("$spid")
for _ in $(seq 100); do
    grep -q "listening on" "$tmp/server.log" && break
    sleep 0.1
done
timeout 120 env "${cenv[@]}" "$echo_bin" --client 10.99.0.1 7000 --msgs "$msgs" >"$tmp/client.log" 2>&1 &
cpid=$!
pids+=("$cpid")

# The echo's own process: timeout(1) forks it.
server=
for _ in $(seq 50); do
    server=$(pgrep -P "$spid" -f tcp-echo | head -n 1)
    [ -n "$server" ] && [ -e "/dev/shm/demi-stats-$server" ] && break
    sleep 0.1
done
# Wait for traffic.
for _ in $(seq 100); do
    grep -q "connection" "$tmp/server.log" 2>/dev/null && break
    "$stat" "$server" 2>/dev/null | grep -q tcp_conn_passive && break
    sleep 0.1
done

if "$stat" >"$tmp/list" 2>&1 && grep -Eq "^$server +catnip +net_memif0 +10\.99\.0\.1 " "$tmp/list"; then
    ok "list shows the server"
else
    not_ok "list shows the server" "no line for $server" "$tmp/list"
fi

"$stat" "$server" >"$tmp/c1" 2>&1
sleep 0.3
"$stat" "$server" >"$tmp/c2" 2>&1
rx1=$(awk '$1 == "tcp_rx" {print $2}' "$tmp/c1")
rx2=$(awk '$1 == "tcp_rx" {print $2}' "$tmp/c2")
if [ -n "$rx1" ] && [ -n "$rx2" ] && [ "$rx2" -gt "$rx1" ] && grep -q "pool small" "$tmp/c1"; then
    ok "counters move ($rx1 -> $rx2 segments received)"
else
    not_ok "counters move" "tcp_rx '$rx1' then '$rx2'" "$tmp/c1" "$tmp/c2" "$tmp/client.log"
fi

# Three screens: on a loaded machine one interval may see no new
# publication (the server not scheduled); the best rate is taken.
"$stat" -w 0.3 -c 3 "$server" >"$tmp/w" 2>&1
rate=$(awk '$1 == "tcp_rx" && $3 ~ /^[0-9]+\/s$/ {sub("/s", "", $3); print $3}' "$tmp/w" | sort -n | tail -n 1)
if [ -n "$rate" ] && awk -v r="$rate" 'BEGIN { exit !(r > 0) }'; then
    ok "-w shows rates ($rate segments/s received)"
else
    not_ok "-w shows rates" "no tcp_rx rate" "$tmp/w"
fi

"$stat" -n "$server" >"$tmp/n" 2>&1
if grep -Eq "^LISTEN +10\.99\.0\.1:7000 " "$tmp/n" &&
    grep -Eq "^ESTABLISHED +10\.99\.0\.1:7000 +10\.99\.0\.2:[0-9]+ " "$tmp/n"; then
    ok "-n shows the listener and the connection"
else
    not_ok "-n shows the listener and the connection" "rows missing" "$tmp/n"
fi

if "$stat" --json -n "$server" >"$tmp/j" 2>&1 &&
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["counters"]["tcp_rx"] > 0; assert any(c["state"] == "ESTABLISHED" for c in d["conns"])' "$tmp/j"; then
    ok "--json parses, with counters and connections"
else
    not_ok "--json parses, with counters and connections" "bad JSON" "$tmp/j"
fi

# A capture started and stopped in the running server (demi-stat --pcap):
# a pcap file of whole TCP/IPv4 frames from and to 10.99.0.1.
if "$stat" --pcap "$tmp/live.pcap" "$server" >"$tmp/pcap-on" 2>&1 && sleep 0.3 &&
    "$stat" "$server" >"$tmp/pcap-state" 2>&1 && "$stat" --pcap off "$server" >"$tmp/pcap-off" 2>&1 &&
    grep -q "capture on" "$tmp/pcap-state" && python3 - "$tmp/live.pcap" >"$tmp/pcap-n" <<'EOF'; then
import struct, sys
data = open(sys.argv[1], "rb").read()
magic, = struct.unpack("<I", data[:4])
assert magic == 0xa1b23c4d, hex(magic)  # nanosecond pcap
off, n = 24, 0
while off + 16 <= len(data):
    _, _, caplen, length = struct.unpack("<IIII", data[off:off + 16])
    frame = data[off + 16:off + 16 + caplen]
    assert caplen == length and frame[12:14] == b"\x08\x00", (caplen, length, frame[12:14])
    assert frame[23] == 6 and b"\x0a\x63\x00\x01" in (frame[26:30], frame[30:34])  # TCP, 10.99.0.1
    off += 16 + caplen
    n += 1
assert n > 100, n
print(n)
EOF
    ok "--pcap starts and stops a capture in the running server ($(cat "$tmp/pcap-n") TCP frames of 10.99.0.1)"
else
    not_ok "--pcap starts and stops a capture in the running server" "no capture" "$tmp/pcap-on" "$tmp/pcap-state" \
        "$tmp/pcap-off"
fi
if "$stat" --pcap /nonexistent-dir/x.pcap "$server" >"$tmp/pcap-bad" 2>&1; then
    not_ok "--pcap to a file the server cannot write fails" "exit 0" "$tmp/pcap-bad"
elif grep -q "cannot write /nonexistent-dir/x.pcap" "$tmp/pcap-bad"; then
    ok "--pcap to a file the server cannot write fails, naming it"
else
    not_ok "--pcap to a file the server cannot write fails, naming it" "message" "$tmp/pcap-bad"
fi

# The client finishes; the server's counters account for it.
wait "$cpid"
rc=$?
check_final() {
    "$stat" --json "$server" >"$tmp/final" 2>&1 && python3 - "$tmp/final" "$msgs" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))["counters"]
n = int(sys.argv[2])
assert c["tcp_conn_passive"] == 1, c["tcp_conn_passive"]
assert c["tcp_rx"] >= n, (c["tcp_rx"], n)
assert c["tcp_tx"] >= n, (c["tcp_tx"], n)
assert c["eth_rx"] >= c["tcp_rx"], (c["eth_rx"], c["tcp_rx"])
EOF
}
# A publication (every 10 ms of the server's polling) after its last segments.
final_ok=false
for _ in $(seq 50); do
    if check_final 2>"$tmp/final.err"; then
        final_ok=true
        break
    fi
    sleep 0.1
done
if [ "$rc" -eq 0 ] && $final_ok; then
    ok "the counters account for $msgs echoes"
else
    not_ok "the counters account for $msgs echoes" "client exit $rc or counts short" "$tmp/final" "$tmp/final.err" \
        "$tmp/client.log"
fi

kill -KILL "$server"
wait "$spid" 2>/dev/null
"$stat" >"$tmp/list2" 2>&1
if [ -e "/dev/shm/demi-stats-$server" ] && ! grep -Eq "^$server " "$tmp/list2"; then
    # Any libdemi process on an inet libOS reaps it: a catloop one that
    # starts and stops at once (its connect is refused).
    LIBOS=catloop DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR=10.9.9.9 timeout 20 "$echo_bin" --client 10.9.9.9 9 --msgs 1 \
        >"$tmp/reaper.log" 2>&1
    if [ ! -e "/dev/shm/demi-stats-$server" ]; then
        ok "a killed process's segment: not listed, then reclaimed"
    else
        not_ok "a killed process's segment: not listed, then reclaimed" "still there" "$tmp/reaper.log"
    fi
else
    not_ok "a killed process's segment: not listed, then reclaimed" "gone already or listed" "$tmp/list2"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
