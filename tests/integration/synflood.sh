#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# synflood.sh BUILD_DIR: a libdemi listener under SYN floods, over catpowder
# (AF_PACKET, or AF_XDP with DEMI_RAW_SOCKET_MODE=af_xdp) in a network
# namespace (netns-lib.sh: Linux 10.77.0.1, libdemi 10.77.0.2). The server
# is demi-soak-server (echo on 7000), which at the end drains and checks
# that every pool, pcb, listener count, qd, op, timer and ARP resolution is
# back to its start value.
#
#   1. One SYN from 10.77.0.99, an on-link address nobody answers ARP for
#      (hping3 -c 1 -S -a 10.77.0.99): the half-open connection times out
#      (tcp.syn_retries 2: about 1.4 s), then a Linux client must still
#      connect and get its echo, and the listener's counts must be back to 0.
#      Issue 11, fault 1: the timeout used to decrement the listener's accept
#      count instead of its SYN count; the count wrapped and every later
#      handshake was dropped (tcp_accept_overflow).
#   2. hping3 floods SYNs from random sources (two at -i u5, about 50 k/s) for
#      SYNFLOOD_SECONDS (20); meanwhile a Linux client connects every second,
#      sends 4 KiB and checks the echo byte for byte: every second must
#      succeed. The server must answer the flood with SYN cookies
#      (tcp_syncookies_sent) and drop the martian sources among the random
#      ones (ipv4_drop_martian), and drain back to its start counts.
# Figures: SYNs sent and the rate, probes ok/failed, median and max connect
# time, the server's counters.
#
# When a case fails, the servers' logs (every counter) and a capture of the
# client's packets during the flood are kept in BUILD_DIR/meson-logs.
# Needs root, iproute2, ethtool, hping3, tcpdump and python3 (install-deps.sh);
# fails (does not skip) when any is missing. Every process is bounded by
# timeout(1); the namespaces go at exit. SYNFLOOD_SECONDS, SYNFLOOD_PROCS
# (hping3 processes, default 2) and SYNFLOOD_INTERVAL (their -i, default u5;
# "flood" for --flood, about 130 k/s from one) change the flood.
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
srv=$build/tests/integration/demi-soak-server
peer=$here/soak-peer.py
port=7000
flood_s=${SYNFLOOD_SECONDS:-20}
interval=${SYNFLOOD_INTERVAL:-u5}
procs=${SYNFLOOD_PROCS:-2}
unused_ip=10.77.0.99
# Short half-open and TIME_WAIT lives, so the drains take seconds.
export DEMI_TCP_SYN_RETRIES=2 DEMI_TCP_MSL_MS=500
echo "# raw_socket.mode $mode, flood ${flood_s}s by $procs x hping3 -i $interval, tcp.syn_retries 2"

[ -x "$srv" ] || netns_die "$srv is not built"
netns_need hping3 python3 tcpdump timeout awk
netns_setup
tmp=$NETNS_TMP

# counts LOG: the counts the server printed after its drain (listeners
# open), "name start->end" on one line.
counts() {
    awk '/^demi-soak-server: counts with the listeners open/ { on = 1; next }
        on && /^  [a-z_]+ +[0-9]+ -> [0-9]+/ { out = out (out ? ", " : "") $1 " " $2 "->" $4; next }
        on { on = 0 } END { print out }' "$1"
}

# Start demi-soak-server; 0 once it listens. Not under timeout(1), which
# would die of the SIGUSR1 meant for the server: --duration bounds it.
start_server() {
    local log=$1
    shift
    demi_bg "$log" "$srv" "$NETNS_IP_DEMI" "$port" --duration 240 --drain-s 20 "$@"
    server=$NETNS_PID
    netns_wait_for "$log" "listening on" "$server" 100
}

# Stop the server (SIGTERM: it drains, checks its counts and exits);
# sets server_rc.
stop_server() {
    kill -TERM "$server" 2>/dev/null
    wait "$server"
    server_rc=$?
}

# server_verdict LOG: the server's last line about its counts.
server_verdict() {
    grep -E '^demi-soak-server: (OK|LEAK)' "$1" | tail -n 1 | sed 's/^demi-soak-server: //'
}

# ------------------------------------------------- 1. one half-open SYN
name="half-open: one SYN from $unused_ip (no ARP answer) times out, then a Linux client still connects and echoes"
if start_server "$tmp/server1.log"; then
    in_linux timeout 20 python3 "$peer" probe "$NETNS_IP_DEMI" "$port" --seconds 1 >"$tmp/probe1a.log" 2>&1
    rc_before=$?
    in_linux timeout 10 hping3 -c 1 -S -a "$unused_ip" -p "$port" "$NETNS_IP_DEMI" >"$tmp/hping1.log" 2>&1
    # SYN-ACK at 0, resent at 0.2 and 0.6 s, given up at 1.4 s (RTO 200 ms, 2 retries).
    sleep 3
    kill -USR1 "$server" 2>/dev/null
    sleep 0.5
    timeouts=$(counter "$tmp/server1.log" tcp_conn_timeout)
    in_linux timeout 20 python3 "$peer" probe "$NETNS_IP_DEMI" "$port" --seconds 1 >"$tmp/probe1b.log" 2>&1
    rc_after=$?
    listeners=$(grep -m1 'listener :'"$port" <(sed -n '/counts now/,$p' "$tmp/server1.log") | sed 's/^ *//')
    stop_server
    if [ $rc_before -ne 0 ]; then
        not_ok "$name" "the connection before the SYN failed: $(tail -n 1 "$tmp/probe1a.log")" \
            "$tmp/probe1a.log" "$tmp/server1.log"
    elif ! grep -q "1 packets transmitted" "$tmp/hping1.log"; then
        not_ok "$name" "hping3 did not send the SYN" "$tmp/hping1.log"
    elif [ "$timeouts" = n/a ] || [ "$timeouts" -lt 1 ]; then
        not_ok "$name" "the half-open connection did not time out (tcp_conn_timeout $timeouts)" "$tmp/server1.log"
    elif [ $rc_after -ne 0 ]; then
        not_ok "$name" "after the timeout: $(grep -m1 FAIL "$tmp/probe1b.log"); server: $listeners (issue 11 fault 1)" \
            "$tmp/probe1b.log" "$tmp/server1.log"
    else
        ok "$name ($(grep -o 'connect_ms=[0-9.]*' "$tmp/probe1b.log"); $listeners)"
    fi
    name="half-open: after it, the server's counts are back to their start values"
    verdict=$(server_verdict "$tmp/server1.log")
    if [ "$server_rc" -eq 0 ] && [ "${verdict%%:*}" = OK ]; then
        ok "$name"
    else
        not_ok "$name" "server exit $server_rc: ${verdict:-no verdict}" "$tmp/server1.log"
    fi
else
    not_ok "$name" "demi-soak-server did not start" "$tmp/server1.log"
fi

# ---------------------------------------------------------- 2. the flood
name="flood: a Linux client connects every second of a ${flood_s} s random-source SYN flood and gets 4 KiB echoed byte-exact"
if start_server "$tmp/server2.log"; then
    # Linux learns libdemi's MAC before the flood (hping3 needs it too).
    in_linux timeout 20 python3 "$peer" probe "$NETNS_IP_DEMI" "$port" --seconds 1 >"$tmp/probe2a.log" 2>&1
    # The client's packets (not the flood's), kept when a case fails.
    linux_bg "$tmp/tcpdump.log" timeout $((flood_s + 60)) tcpdump -U -n -i "$IF_LINUX" -s 128 \
        -w "$tmp/client.pcap" "host $NETNS_IP_LINUX and tcp port $port"
    dump=$NETNS_PID
    netns_wait_for "$tmp/tcpdump.log" "listening on" "$dump" 50
    tx0=$(in_linux cat "/sys/class/net/$IF_LINUX/statistics/tx_packets")
    t0=$(now_ns)
    if [ "$interval" = flood ]; then pace=(--flood); else pace=(-i "$interval"); fi
    # One paced hping3 sends about 20-25 k/s whatever its -i (its sleeping
    # costs more than the packets): several make the flood.
    floods=()
    for i in $(seq "$procs"); do
        linux_bg "$tmp/hping2-$i.log" timeout -s INT -k 5 "$flood_s" hping3 -S -p "$port" --rand-source \
            "${pace[@]}" "$NETNS_IP_DEMI"
        floods+=("$NETNS_PID")
    done
    sleep 0.5
    in_linux timeout $((flood_s + 30)) python3 "$peer" probe "$NETNS_IP_DEMI" "$port" \
        --seconds $((flood_s - 1)) >"$tmp/probe2.log" 2>&1
    probe_rc=$?
    wait "${floods[@]}"
    t1=$(now_ns)
    tx1=$(in_linux cat "/sys/class/net/$IF_LINUX/statistics/tx_packets")
    # hping3's own counts; the interface's when one of them printed none
    # (killed: it ignored SIGINT).
    sent=$(cat "$tmp"/hping2-*.log | awk -v p="$procs" '/packets transmitted/ { n += $1; f++ } END { if (f == p) print n }')
    [ -n "$sent" ] || sent=$((tx1 - tx0))
    secs=$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", ns / 1e9 }')
    rate=$(awk -v n="$sent" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
    summary=$(grep '^probe:' "$tmp/probe2.log")
    echo "# flood: hping3 sent $sent SYNs in $secs s ($rate SYN/s; the Linux end sent $((tx1 - tx0)) frames)"
    echo "# ${summary:-probe: no summary}"
    stop_server
    netns_stop "$dump"
    log=$tmp/server2.log
    echo "# server: $(grep '^demi-soak-server: served' "$log" | sed 's/^demi-soak-server: //')"
    figures=""
    for c in eth_rx tcp_rx tcp_syncookies_sent tcp_syncookies_ok tcp_syncookies_failed ipv4_drop_martian \
        tcp_syn_drop_oldest tcp_accept_overflow tcp_drop_listen tcp_tx_rst tcp_conn_passive tcp_conn_timeout \
        arp_tx_request arp_drop_table_full arp_drop_pending_full mem_drop_nobuf eth_drop_tx_full; do
        figures+=" $c $(counter "$log" "$c"),"
    done
    echo "# server counters:${figures%,}"
    echo "# server counts, start->end: $(counts "$log")"

    if [ "$rate" -lt 10000 ]; then
        not_ok "$name" "hping3 reached only $rate SYN/s (wanted about 50000): not a flood" "$tmp/hping2-1.log"
    elif [ $probe_rc -ne 0 ] || [ -z "$summary" ]; then
        why="${summary:-the prober printed no summary}; failed seconds: $(sed -n 's/^probe \([0-9]*\) FAIL.*/\1/p' \
            "$tmp/probe2.log" | tr '\n' ' ')first failure: $(grep -m1 FAIL "$tmp/probe2.log")"
        # A client whose SYN-ACKs never leave: its first resolution was
        # evicted by the flood's pending ones (an entry in use is
        # re-confirmed in place at its TTL, never resolved again).
        if grep -q 'FAIL.*TimeoutError' "$tmp/probe2.log" && [ "$(counter "$log" arp_drop_table_full)" != n/a ]; then
            why+="; libdemi's ARP table was full for $(counter "$log" arp_drop_table_full) resolutions"
        fi
        not_ok "$name" "$why" "$tmp/probe2.log" "$log"
    else
        ok "$name ($rate SYN/s; ${summary#probe: })"
    fi

    name="flood: the server answered with SYN cookies (tcp_syncookies_sent > 0)"
    v=$(counter "$log" tcp_syncookies_sent)
    if [ "$v" = n/a ]; then
        not_ok "$name" "no tcp_syncookies_sent counter: this libdemi has no SYN cookies (issue 11)"
    elif [ "$v" -eq 0 ]; then
        not_ok "$name" "tcp_syncookies_sent 0 under $rate SYN/s" "$log"
    else
        ok "$name (sent $v, completed $(counter "$log" tcp_syncookies_ok), rejected $(counter "$log" tcp_syncookies_failed))"
    fi

    name="flood: martian sources among the random ones are dropped (ipv4_drop_martian > 0)"
    v=$(counter "$log" ipv4_drop_martian)
    if [ "$v" = n/a ]; then
        not_ok "$name" "no ipv4_drop_martian counter: this libdemi does not drop martian sources (issue 11 fault 2)"
    elif [ "$v" -eq 0 ]; then
        not_ok "$name" "ipv4_drop_martian 0 after $sent random sources" "$log"
    else
        ok "$name ($v dropped)"
    fi

    name="flood: afterwards the server's counts are back to their start values"
    verdict=$(server_verdict "$log")
    if [ "$server_rc" -eq 0 ] && [ "${verdict%%:*}" = OK ]; then
        ok "$name ($(grep '^demi-soak-server: drained' "$log" | sed 's/^demi-soak-server: //'))"
    else
        not_ok "$name" "server exit $server_rc: ${verdict:-no verdict}" "$log"
    fi
else
    not_ok "$name" "demi-soak-server did not start" "$tmp/server2.log"
fi

# Evidence for a failure: the servers' logs (with every counter) and the
# client's packets during the flood.
if [ $failed -gt 0 ] && [ -d "$build/meson-logs" ]; then
    tag=synflood-$mode
    for f in server1.log server2.log probe2.log client.pcap; do
        [ -s "$tmp/$f" ] && cp "$tmp/$f" "$build/meson-logs/$tag-$f"
    done
    echo "# logs and the client's capture: $build/meson-logs/$tag-*" >&2
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
