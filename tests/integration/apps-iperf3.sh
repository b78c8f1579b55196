#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# apps-iperf3.sh BUILD_DIR MODE: Debian's iperf3, unmodified, server and
# client (-c with a byte count, -J) under tools/demirun. MODE is memif,
# af_packet or af_xdp (apps-lib.sh; DEMIRUN= for plain Linux).
#   - TCP 32 MiB client -> server, TCP 32 MiB server -> client (-R), TCP
#     4 streams (-P 4), UDP 8 MiB at 200 Mb/s, each against its own one-off
#     server (iperf3 -s -1): the client exits 0 with no error in its JSON,
#     the sender sent the byte count asked for, the receiver got a nonzero
#     amount at a nonzero rate (iperf3 stops counting at the end of the
#     test, so its received figure may fall short of the sent one), and the
#     server exits 0
#   - one iperf3 -s serves two TCP tests in a row: between them it closes
#     its listener and binds the port again (SO_REUSEADDR) while the first
#     test's connections are still closing
# Prints "ok - NAME" / "not ok - NAME (reason)" per case, then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
mode=${2:-memif}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/report-lib.sh
. "$here/report-lib.sh"
APPS_NAME=iperf3
# shellcheck source=tests/integration/apps-lib.sh
. "$here/apps-lib.sh"

apps_need iperf3
apps_init "$build" "$mode"
tmp=$APPS_TMP
port=$(apps_port)
mib=$((1024 * 1024))

# The check of a client's JSON: a summary line, or exit 1 with the reason.
cat >"$tmp/check.py" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
if d.get("error"):
    sys.exit("iperf3 error: %s" % d["error"])
e = d["end"]
sent = e["sum_sent"]["bytes"]
recv = e["sum_received"]["bytes"]
bps = e["sum_received"]["bits_per_second"]
if sent < int(sys.argv[2]):
    sys.exit("sent %d bytes of %s" % (sent, sys.argv[2]))
if recv <= 0 or bps <= 0:
    sys.exit("received %d bytes at %.0f b/s" % (recv, bps))
extra = ""
if "lost_percent" in e.get("sum", {}):
    extra = ", %.2f %% lost" % e["sum"]["lost_percent"]
print("%d bytes sent, %d received, %.2f Gb/s%s" % (sent, recv, bps / 1e9, extra))
EOF

# start_iperf LOG ARGS...: an iperf3 server; 0 once it listens (APPS_SERVER_PID).
start_iperf() {
    local log=$1
    shift
    apps_server "$log" iperf3 -s -B "$APPS_IP" -p "$port" --forceflush "$@"
    apps_wait_log "$log" "Server listening on" "$APPS_SERVER_PID"
}

# client TAG BYTES IPERF3-ARGS...: one client test; sets res (a summary, or
# why it failed) and returns 0 if its JSON says success.
client() {
    local tag=$1 bytes=$2 rc prc
    shift 2
    apps_client iperf3 -c "$APPS_IP" -p "$port" -n "$bytes" -J "$@" </dev/null >"$tmp/c-$tag.json" 2>"$tmp/c-$tag.err"
    rc=$?
    res=$(python3 "$tmp/check.py" "$tmp/c-$tag.json" "$bytes" 2>&1)
    prc=$?
    res=$(tail -n 1 <<<"$res")
    [ $rc -ne 0 ] && res="$(apps_why iperf3 $rc "$tmp/c-$tag.err"); $res"
    [ $rc -eq 0 ] && [ $prc -eq 0 ]
}

# run NAME BYTES IPERF3-ARGS...: one test against a one-off server.
run() {
    local name=$1 bytes=$2 tag slog rc src
    shift 2
    tag=$(echo "$*" | tr -dc 'a-zA-Z0-9')
    slog=$tmp/server-$tag.log
    if ! start_iperf "$slog" -1; then
        not_ok "$name" "the server did not listen" "$slog"
        apps_stop "$APPS_SERVER_PID"
        return
    fi
    client "$tag" "$bytes" "$@"
    rc=$?
    # -1: the server ends after its test (10 s allowed).
    for _ in $(seq 100); do
        apps_alive "$APPS_SERVER_PID" || break
        sleep 0.1
    done
    apps_stop "$APPS_SERVER_PID"
    src=$?
    if [ $rc -eq 0 ] && [ $src -eq 0 ]; then
        ok "$name ($res)"
    elif [ $rc -eq 0 ]; then
        not_ok "$name" "client ok ($res), server exit $src" "$slog"
    else
        not_ok "$name" "$res" "$tmp/c-$tag.err" "$slog"
    fi
}

run "iperf3: TCP -n 32M client -> server, success" $((32 * mib))
run "iperf3: TCP -n 32M -R server -> client, success" $((32 * mib)) -R
run "iperf3: TCP -n 32M -P 4 (four streams), success" $((32 * mib)) -P 4
run "iperf3: UDP -n 8M -b 200M, success" $((8 * mib)) -u -b 200M

name="iperf3: one iperf3 -s serves two TCP tests in a row (re-binds its port between them)"
if start_iperf "$tmp/server-two.log"; then
    server=$APPS_SERVER_PID
    why=
    client two-1 $((4 * mib)) || why="first test: $res"
    if [ -z "$why" ] && ! apps_wait_log "$tmp/server-two.log" 'Server listening on .*test #2' "$server" 50; then
        why="not listening for a second test: $(grep -i error "$tmp/server-two.log" | tail -n 1)"
    fi
    if [ -z "$why" ]; then
        client two-2 $((4 * mib)) || why="second test: $res"
    fi
    if [ -z "$why" ] && ! apps_wait_log "$tmp/server-two.log" 'Server listening on .*test #3' "$server" 50; then
        why="not listening for a third test: $(grep -i error "$tmp/server-two.log" | tail -n 1)"
    fi
    if [ -z "$why" ]; then
        ok "$name"
    else
        not_ok "$name" "$why" "$tmp/server-two.log"
    fi
    apps_stop "$server"
else
    not_ok "$name" "the server did not listen" "$tmp/server-two.log"
    apps_stop "$APPS_SERVER_PID"
fi

apps_finish
