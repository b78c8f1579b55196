#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# soak.sh BUILD_DIR: a bounded mixed run against libdemi's stack, then a
# check that it holds exactly what it held at start: every buffer pool, TCP
# pcb, listener SYN and accept count, qd, op, timer and ARP resolution
# (soak_counts.h). SOAK_SECONDS (default 120) is split a third and two
# thirds between:
#   1. catloop, one process (demi-soak): a few dozen clients at a time
#      against echo and source services through the whole stack: echo,
#      bulk echo (up to 4 MiB), source transfers (the server closes first,
#      TIME_WAIT), SO_LINGER 0 resets, transfers aborted mid-way with
#      operations pending; for the second quarter every frame sent may be
#      lost (1 %), duplicated (0.5 %) or held back (1 %); at 60 % a burst of
#      SYNs from random and martian sources (10 k/s for 2 s); ARP TTL 2 s,
#      so the one entry every connection uses is re-confirmed during it.
#   2. catpowder (AF_PACKET, or AF_XDP with DEMI_RAW_SOCKET_MODE=af_xdp) in
#      a network namespace (netns-lib.sh): demi-soak-server against Linux
#      clients (soak-peer.py load, 6 threads): the same mix, with resets by
#      SO_LINGER 0 and clients killed with SIGKILL mid-transfer; for the
#      second quarter the Linux end loses 2 % of the TCP segments both ways
#      (loss.sh's tc BPF classifier: this kernel has no netem), libdemi's
#      transmit fault injector duplicates 0.5 % and reorders 1 % of its
#      frames throughout; at 60 % hping3 floods SYNs from random sources
#      for 5 s (not during the loss: a SYN-cookie handshake whose first
#      data segments are lost is reset, as in Linux).
# Every byte that arrives anywhere is checked against what was sent. Both
# servers then drain (tcp.msl_ms 100-200, tcp.syn_retries 2-3) and compare
# their counts with those at start. Figures: connections, bytes, resets,
# kills, what the loss and hping3 did, the start and end counts.
#
# Needs root, iproute2 (tc), ethtool, hping3, python3, clang and libbpf (the
# BPF classifier and drop-ctl are built by Meson) (install-deps.sh);
# fails (does not skip) when any is missing. Every process is bounded by
# timeout(1) or its own duration; the namespaces go at exit. A failure keeps
# the logs (every counter) in BUILD_DIR/meson-logs/soak-*.
# Prints "ok - NAME" / "not ok - NAME (reason)" per case, then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/netns-lib.sh
. "$here/netns-lib.sh"
# shellcheck source=tests/integration/report-lib.sh
. "$here/report-lib.sh"

mode=${DEMI_RAW_SOCKET_MODE:-af_packet}
case $mode in
af_packet | af_xdp) ;;
*) netns_die "DEMI_RAW_SOCKET_MODE=$mode: af_packet or af_xdp" ;;
esac
total=${SOAK_SECONDS:-120}
[ "$total" -ge 12 ] 2>/dev/null || netns_die "SOAK_SECONDS=$total: at least 12"
loop_s=$((total / 3))
pow_s=$((total - loop_s))
seed=${SOAK_SEED:-$$}
soak=$build/tests/integration/demi-soak
srv=$build/tests/integration/demi-soak-server
peer=$here/soak-peer.py
bpf_obj=$build/tests/integration/drop.bpf.o
ctl=$build/tests/integration/drop-ctl
port=7000
echo "# SOAK_SECONDS $total: catloop ${loop_s}s, catpowder ($mode) ${pow_s}s; seed $seed"

for f in "$soak" "$srv" "$bpf_obj" "$ctl"; do
    [ -e "$f" ] || netns_die "$f is not built (drop.bpf.o and drop-ctl need clang and libbpf)"
done
netns_need hping3 python3 tc timeout awk
netns_setup
tmp=$NETNS_TMP

# line LOG PREFIX: the last line starting with PREFIX, PREFIX removed.
line() {
    grep "^$2" "$1" | tail -n 1 | sed "s/^$2//"
}

# counts LOG WHO: the counts WHO printed after its drain (listeners open),
# "name start->end" on one line.
counts() {
    awk -v who="$2" '$0 ~ "^" who ": counts with the listeners open" { on = 1; next }
        on && /^  [a-z_]+ +[0-9]+ -> [0-9]+/ { out = out (out ? ", " : "") $1 " " $2 "->" $4; next }
        on { on = 0 } END { print out }' "$1"
}

# Why a run stalled, if libdemi says: segments it could not send.
stall_hint() {
    local v
    v=$(counter "$1" ipv4_drop_too_big)
    if [ "$v" != n/a ] && [ "$v" -gt 0 ]; then
        echo "; libdemi built $v segments larger than the MTU (ipv4_drop_too_big) and never sent them"
    fi
}

keep_logs() {
    local f
    [ -d "$build/meson-logs" ] || return 0
    for f in "$@"; do
        [ -s "$tmp/$f" ] && cp "$tmp/$f" "$build/meson-logs/soak-$mode-$f"
    done
    echo "# logs: $build/meson-logs/soak-$mode-*" >&2
}

# ------------------------------------------------------------ 1. catloop
log=$tmp/catloop.log
timeout $((loop_s + 120)) env -u LIBOS "$soak" --seconds "$loop_s" --seed "$seed" >"$log" 2>&1
rc=$?
summary=$(grep '^demi-soak: [0-9]* connections' "$log" | tail -n 1 | sed 's/^demi-soak: //')
echo "# catloop: ${summary:-no summary}"
echo "# catloop: $(line "$log" "demi-soak: SYN burst: ")"
echo "# catloop counts, start->end: $(counts "$log" demi-soak)"
name="catloop: ${loop_s} s of churn, bulk, source, resets and aborts in one process, under loss and a SYN burst: every byte exact"
if [ $rc -eq 124 ]; then
    not_ok "$name" "demi-soak did not finish in $((loop_s + 120)) s" "$log"
elif grep -q '^demi-soak: FAIL' "$log" || [ -z "$summary" ]; then
    not_ok "$name" "$(line "$log" "demi-soak: FAIL: "); first: $(grep -m1 'FAIL .* client' "$log" |
        sed 's/^demi-soak: FAIL //')$(stall_hint "$log")" "$log"
else
    ok "$name ($summary)"
fi
name="catloop: afterwards every pool, pcb, listener count, qd, op, timer and ARP entry is back to its start value"
if grep -q '^demi-soak: LEAK' "$log"; then
    not_ok "$name" "$(line "$log" "demi-soak: LEAK")" "$log"
elif ! grep -q '^demi-soak: counts before the listeners' "$log"; then
    not_ok "$name" "demi-soak exit $rc before its counts" "$log"
else
    ok "$name ($(line "$log" "demi-soak: drained in " | sed 's/;.*//') drain)"
fi
[ $failed -gt 0 ] && keep_logs catloop.log

# ---------------------------------------------------------- 2. catpowder
# Loss on the Linux end: tc netem is not in every kernel (not in this CI's),
# so loss.sh's BPF classifier drops TCP segments there, both ways, while
# libdemi's transmit fault injector duplicates and reorders its own frames
# for the whole run.
tc_attach() {
    local dir id
    netns_run ip netns exec "$NS_LINUX" ip link set dev "$IF_LINUX" gso_max_segs 1
    netns_run ip netns exec "$NS_LINUX" tc qdisc add dev "$IF_LINUX" clsact
    for dir in ingress egress; do
        netns_run ip netns exec "$NS_LINUX" tc filter add dev "$IF_LINUX" "$dir" bpf da obj "$bpf_obj" sec tc
        id=$(ip netns exec "$NS_LINUX" tc filter show dev "$IF_LINUX" "$dir" | sed -n 's/.* id \([0-9]*\) .*/\1/p' | head -n 1)
        [ -n "$id" ] || netns_die "no BPF program id on $IF_LINUX $dir"
        if [ "$dir" = ingress ]; then prog_in=$id; else prog_out=$id; fi
    done
}

# drop_set PROG PPM (egress drops are stolen: see loss.sh).
drop_set() {
    local action=shot
    [ "$1" = "$prog_out" ] && action=stolen
    "$ctl" "$1" set "$2" "$action" || netns_die "drop-ctl $1 set $2 failed"
}

drop_count() {
    "$ctl" "$1" show | awk '{ print $4 " of " $2 }'
}

tc_attach
# Short TIME_WAIT and half-open lives: the drain takes seconds.
export DEMI_TCP_MSL_MS=200 DEMI_TCP_SYN_RETRIES=3 DEMI_FAULT_SEED="$seed" DEMI_FAULT_TX_DUP_PPM=5000 \
    DEMI_FAULT_TX_REORDER_PPM=10000
slog=$tmp/server.log
# SOAK_PCAP=FILE: the catpowder server captures its frames' first 128 bytes
# there (libdemi.pcap), to find a stalled connection's last exchanges.
[ -n "${SOAK_PCAP:-}" ] && export DEMI_LIBDEMI_PCAP=$SOAK_PCAP DEMI_LIBDEMI_PCAP_SNAPLEN=128 DEMI_LIBDEMI_PCAP_MAX_MB=4096
demi_bg "$slog" "$srv" "$NETNS_IP_DEMI" "$port" --duration $((pow_s + 120)) --drain-s 30
unset DEMI_LIBDEMI_PCAP
server=$NETNS_PID
name="catpowder: ${pow_s} s of Linux clients (churn, bulk, source, resets, kill -9) under loss, duplication, reordering and a SYN flood: every byte exact"
if netns_wait_for "$slog" "listening on" "$server" 100; then
    linux_bg "$tmp/load.log" timeout $((pow_s + 180)) python3 "$peer" load "$NETNS_IP_DEMI" "$port" \
        --seconds "$pow_s" --workers 6 --seed "$seed"
    load=$NETNS_PID
    t0=$(date +%s)
    # at SECONDS: sleep until that many seconds into the run.
    at() {
        local d=$(($1 - ($(date +%s) - t0)))
        [ $d -gt 0 ] && sleep "$d"
    }
    at $((pow_s / 4))
    drop_set "$prog_out" 20000
    drop_set "$prog_in" 20000
    echo "# loss on at $(($(date +%s) - t0)) s"
    at $((pow_s / 2))
    lost="$(drop_count "$prog_out") Linux sent, $(drop_count "$prog_in") libdemi sent"
    drop_set "$prog_out" 0
    drop_set "$prog_in" 0
    echo "# loss off at $(($(date +%s) - t0)) s: the Linux end dropped $lost"
    # The flood after the loss: a handshake completed by a SYN cookie whose
    # first data segments are lost is reset (see demi-soak.c).
    at $((6 * pow_s / 10))
    linux_bg "$tmp/hping.log" timeout -s INT -k 5 5 hping3 -S -p "$port" --rand-source -i u10 "$NETNS_IP_DEMI"
    hping=$NETNS_PID
    wait "$hping"
    echo "# hping3: $(grep -m1 'packets transmitted' "$tmp/hping.log" | cut -d, -f1) SYNs from random sources in 5 s"
    wait "$load"
    load_rc=$?
    kill -TERM "$server" 2>/dev/null
    wait "$server"
    server_rc=$?
    echo "# Linux: $(line "$tmp/load.log" "load: ")"
    echo "# server: $(line "$slog" "demi-soak-server: served ")"
    figures=""
    for c in tcp_conn_passive tcp_conn_reset tcp_conn_timeout tcp_rexmt tcp_rto tcp_fast_rexmt tcp_dup_data \
        tcp_ooo tcp_syncookies_sent tcp_syncookies_ok ipv4_drop_martian ipv4_drop_too_big mem_drop_nobuf; do
        figures+=" $c $(counter "$slog" "$c"),"
    done
    echo "# server counters:${figures%,}"
    echo "# server counts, start->end: $(counts "$slog" demi-soak-server)"
    if [ $load_rc -eq 0 ]; then
        ok "$name ($(line "$tmp/load.log" "load: "))"
    else
        not_ok "$name" "clients exit $load_rc: $(line "$tmp/load.log" "load: "); first: $(grep -m1 '^load: FAIL' \
            "$tmp/load.log" | sed 's/^load: FAIL //')$(stall_hint "$slog")" "$tmp/load.log" "$slog"
    fi
    name="catpowder: afterwards every pool, pcb, listener count, qd, op, timer and ARP entry of the server is back to its start value"
    verdict=$(grep -E '^demi-soak-server: (OK|LEAK)' "$slog" | tail -n 1 | sed 's/^demi-soak-server: //')
    if [ "$server_rc" -eq 0 ] && [ "${verdict%%:*}" = OK ]; then
        ok "$name ($(line "$slog" "demi-soak-server: drained in ") drain)"
    else
        not_ok "$name" "server exit $server_rc: ${verdict:-no verdict}" "$slog"
    fi
    [ $failed -gt 0 ] && keep_logs load.log server.log
else
    not_ok "$name" "demi-soak-server did not start" "$slog"
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
