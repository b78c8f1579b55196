#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# apps-iperf3.sh BUILD_DIR MODE: Debian's iperf3, unmodified, server (-s,
# several tests in a row) under tools/demirun and client (-c with a byte
# count, -J). MODE is memif, af_packet or af_xdp (apps-lib.sh; DEMIRUN= for
# plain Linux).
#   - TCP 32 MiB client -> server, TCP 32 MiB server -> client (-R), TCP
#     4 streams (-P 4), UDP 8 MiB at 200 Mb/s: each exits 0 with no error in
#     its JSON, the sender sent the byte count asked for, the receiver got
#     a nonzero amount at a nonzero rate (iperf3 stops counting at the end
#     of the test, so its received figure may fall short of the sent one)
#   - the server is still serving after the four tests
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

apps_server "$tmp/server.log" iperf3 -s -B "$APPS_IP" -p "$port" --forceflush
server=$APPS_SERVER_PID
if ! apps_wait_log "$tmp/server.log" "Server listening on" "$server"; then
    not_ok "iperf3: server starts on $APPS_IP:$port" "no 'Server listening on'" "$tmp/server.log"
    apps_finish
    exit 1
fi

# run NAME BYTES IPERF3-ARGS...: one client test, its JSON checked.
run() {
    local name=$1 bytes=$2 tag rc res prc
    shift 2
    tag=$(echo "$*" | tr -dc 'a-zA-Z0-9')
    apps_client iperf3 -c "$APPS_IP" -p "$port" -n "$bytes" -J "$@" </dev/null >"$tmp/c-$tag.json" 2>"$tmp/c-$tag.err"
    rc=$?
    res=$(python3 - "$tmp/c-$tag.json" "$bytes" <<'EOF' 2>&1
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
    )
    prc=$?
    if [ $rc -eq 0 ] && [ $prc -eq 0 ]; then
        ok "$name ($res)"
    else
        [ $rc -ne 0 ] && res="$(apps_why iperf3 $rc "$tmp/c-$tag.err"); $res"
        not_ok "$name" "$(tail -n 1 <<<"$res")" "$tmp/c-$tag.err" "$tmp/server.log"
    fi
}

mib=$((1024 * 1024))
run "iperf3: TCP -n 32M client -> server, success" $((32 * mib))
run "iperf3: TCP -n 32M -R server -> client, success" $((32 * mib)) -R
run "iperf3: TCP -n 32M -P 4 (four streams), success" $((32 * mib)) -P 4
run "iperf3: UDP -n 8M -b 200M, success" $((8 * mib)) -u -b 200M

name="iperf3: the server still serves after four tests"
if apps_alive "$server" && grep -q 'Server listening on .*test #5' "$tmp/server.log"; then
    ok "$name"
else
    not_ok "$name" "server gone or not listening for test #5" "$tmp/server.log"
fi
apps_stop "$server"

apps_finish
