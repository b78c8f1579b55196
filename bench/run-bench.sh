#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run-bench.sh [BUILD_DIR]: libdemi's benchmark, run by `make bench`.
#
# Prints one latency table (and small throughput, scale and datapath
# tables), writes CSV files and a plot under bench/results/, and rewrites the
# section of docs/performance.md between <!-- bench:begin --> and
# <!-- bench:end -->. Progress goes to stderr ("bench: ...").
#
# 1. Round-trip latency, one connection / socket, one message in flight:
#    TCP 64 B, 1 KiB, 16 KiB, 64 KiB; UDP 64 B, 1 KiB, 1472 B. Paths:
#    - Linux loopback, plain sockets (bench/linux-rtt), busy-polling
#      (non-blocking recv in a spin loop) and blocking. Busy-poll is the
#      baseline of the ratio column.
#    - catnap: libdemi over Linux sockets, loopback (bench/demi-rtt).
#    - catnip over DPDK net_memif: two processes, shared memory, no hugepages
#      (the setup of scripts/demo.sh).
#    - catpowder AF_PACKET and AF_XDP, and catnip over DPDK's net_af_xdp, on
#      one end of a veth pair in a network namespace
#      (tests/integration/netns-lib.sh), against Linux in another: the peer is
#      linux-rtt --server --busy-poll, so the Linux server's wakeup latency is
#      not in the figures (its stack and the veth are).
#    - lwIP (Debian's liblwip, a packaged user-space stack) over the same
#      memif pair (bench/lwip-rtt), TCP 64 B, 1 KiB, 16 KiB.
#    - raw DPDK memif ping-pong of one 64-byte frame (bench/memif-pingpong):
#      the floor no stack can beat on that path (ratio against UDP 64 B).
#    The client is timed with CLOCK_MONOTONIC (the ping-pong with the TSC)
#    from just before the send to the arrival of the last byte; percentiles
#    are nearest-rank over the measured rounds, after warm-up rounds.
# 2. Throughput: one TCP flow, 64 KiB pushes: catnip over memif and catnap
#    (demi-rtt --bulk: from the first push to the server's acknowledgement of
#    the last byte), Linux loopback with iperf3 (-l 64K).
# 3. Scale: examples/tcp-echo --conns N (demi_wait_next_n on both sides),
#    64 B requests, N = 1, 16, 256, 1024, over catnip memif and catnap:
#    requests per second over the measured rounds. The defaults
#    (libdemi.max_queues 65536, pool_small_count 8192; build/tools/demi-config)
#    hold 1024 connections per process.
# 4. Datapath: build/bench/bench_datapath (ns per I/O through the stack on
#    an in-process loopback device, no device cost).
# 5. Latency under load (open loop): bench/demi-loadgen, 1024 connections to
#    tcp-echo --server, 64 B requests on a fixed schedule at 25, 50, 75 and
#    90 % of the pair's peak (what demi-loadgen achieves at an excessive
#    rate; BENCH_LOAD_PEAK=scale: the scale figure at 1024 connections), over
#    catnip memif and catnap; latency from each request's intended send time
#    (no coordinated omission).
#
# Each pair is pinned to two cores (server 0, client 1; EAL -l for DPDK,
# taskset otherwise). Every process runs under timeout(1); background
# processes, the namespaces, memif sockets and DPDK runtime directories are
# removed on every exit path. A path that cannot run here (no root for the
# namespaces, DPDK's net_af_xdp refused) prints "n/a (reason)".
#
# CSV files (bench/results/, one header line each):
#   rtt.csv         path,proto,size_bytes,msgs,p50_us,p99_us,p999_us,mean_us,
#                   ratio,status,note
#                   ratio = Linux loopback busy-poll p50 (same proto and size)
#                   / this row's p50; status ok | failed | n/a
#   throughput.csv  path,bytes,push_bytes,seconds,gbps,status,note
#   scale.csv       path,conns,msgs,req_per_s,p50_us,p99_us,status,note
#   datapath.csv    proto,size_bytes,rtt_p50_ns,rtt_p99_ns,io_p50_ns,io_p99_ns
#   latency-load.csv path,conns,load_pct,offered_req_per_s,achieved_req_per_s,
#                   p50_us,p99_us,p999_us,max_us,sent,done,unsent,missing,
#                   peak_req_per_s,peak_source,status,note
# Also rtt.png (p50 round trip against message size, one line per path,
# TCP and UDP side by side), latency-load.png (p50 and p99 against the
# offered rate) and bench.txt (the printed tables).
#
# Tunables (environment): BENCH_MSGS (20000 round trips for messages up to
# 1472 B; 16 KiB gets a quarter, 64 KiB a tenth), BENCH_WARMUP (1000),
# BENCH_TIMEOUT (60 s per process), BENCH_BUDGET (540 s: rows not started by
# then print "n/a (time budget)"), BENCH_BULK_BYTES (1 GiB),
# BENCH_SCALE_MSGS (100000), BENCH_DOC (docs/performance.md; empty: leave it),
# BENCH_LOAD_CONNS (1024), BENCH_LOAD_SECS (2), BENCH_LOAD_WARMUP (0.5),
# BENCH_LOAD_DEPTH (4 requests in flight per connection), BENCH_LOAD_SATURATE
# (4000000 req/s: the rate offered to find a peak the scale section lacks).
# pre_s/pre_c are read through each_size's namerefs, invisible to shellcheck.
# shellcheck disable=SC2034 source-path=SCRIPTDIR
set -u -o pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" 2>/dev/null && pwd) || {
    echo "bench: no build directory '${1:-build}' (make build, or meson setup)" >&2
    exit 1
}
bin=$build/bench
echo_bin=$build/examples/tcp-echo
results=$repo/bench/results
doc=${BENCH_DOC-$repo/docs/performance.md}

msgs=${BENCH_MSGS:-20000}
warmup=${BENCH_WARMUP:-1000}
limit=${BENCH_TIMEOUT:-60}
budget=${BENCH_BUDGET:-540}
bulk_bytes=${BENCH_BULK_BYTES:-1073741824}
scale_msgs=${BENCH_SCALE_MSGS:-100000}

tmp=$(mktemp -d /tmp/demi-bench.XXXXXX)
pids=()
netns_ready=0
failures=0
start_s=$SECONDS

# DPDK's runtime directories (one per --file-prefix) and the memif socket.
dpdk_prefix=demi-bench-$$
memif_sock=/tmp/demi-bench-$$.sock
if [ "$(id -u)" -eq 0 ]; then
    dpdk_rundir=/var/run/dpdk
else
    dpdk_rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk
fi

cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null
    done
    pids=()
    [ "$netns_ready" -eq 1 ] && netns_cleanup
    rm -rf "$tmp" "$dpdk_rundir/$dpdk_prefix"-* "$memif_sock"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() {
    echo "bench: $*" >&2
}

die() {
    say "$*"
    exit 1
}

for f in "$bin/demi-rtt" "$bin/linux-rtt" "$echo_bin"; do
    [ -x "$f" ] || die "$f not found: build first (make build, or ninja -C $build)"
done
mkdir -p "$results" || die "cannot create $results"

# Server on core 0, client on core 1 (both on 0 with one core).
core_s=0
core_c=1
[ "$(nproc)" -ge 2 ] || core_c=0

human_size() {
    if [ "$1" -ge 1024 ] && [ $(($1 % 1024)) -eq 0 ]; then
        echo "$(($1 / 1024)) KiB"
    else
        echo "$1 B"
    fi
}

# The value of KEY=VALUE in a RESULT line.
field() {
    sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}

ns_to_us() {
    awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }'
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 40000))
}

over_budget() {
    [ $((SECONDS - start_s)) -ge "$budget" ]
}

# Last meaningful line of a log: the reason a run failed.
last_error() {
    grep -v -E '^(EAL: (Detected|lcore|Probe|  )|TELEMETRY)' "$1" 2>/dev/null | grep . | tail -n 1 | tr ',' ';' | cut -c1-160
}

# run_pair READY_REGEX [RESULT_REGEX]: runs "${srv[@]}" in the background,
# waits for READY_REGEX in its output, runs "${cli[@]}", waits for the
# server. Sets out (the client's last line matching RESULT_REGEX, by default
# the RESULT line, or empty) and why (the failure, or empty).
# Both commands are arrays set by the caller, timeout(1) included.
run_pair() {
    local ready=$1 result=${2:- RESULT } slog=$tmp/server.log clog=$tmp/client.log spid rc_c rc_s
    out=
    why=
    : >"$clog"
    "${srv[@]}" >"$slog" 2>&1 &
    spid=$!
    pids+=("$spid")
    for _ in $(seq 150); do
        grep -Eq "$ready" "$slog" && break
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -Eq "$ready" "$slog"; then
        kill "$spid" 2>/dev/null
        wait "$spid" 2>/dev/null
        pids=()
        why="server did not start: $(last_error "$slog")"
        return
    fi
    "${cli[@]}" >"$clog" 2>&1
    rc_c=$?
    [ "$rc_c" -ne 0 ] && kill "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    rc_s=$?
    pids=()
    out=$(grep -E -- "$result" "$clog" | tail -n 1)
    if [ "$rc_c" -eq 124 ]; then
        why="client timed out after ${limit}s"
    elif [ "$rc_c" -ne 0 ] || [ -z "$out" ]; then
        why="client exit $rc_c: $(last_error "$clog")"
    elif [ "$rc_s" -ne 0 ]; then
        why="server exit $rc_s: $(last_error "$slog")"
    fi
    [ -n "$why" ] && out=
}

# --------------------------------------------------------------- datapath
# First, while no other process of this run can be left spinning on a core
# (a libdemi process drains its connections for up to 2 s after exit).

dp_csv=$results/datapath.csv
echo "proto,size_bytes,rtt_p50_ns,rtt_p99_ns,io_p50_ns,io_p99_ns" >"$dp_csv"
dp_rows=() # "proto|size|rtt50|rtt99|io50|io99"
if [ -x "$bin/bench_datapath" ]; then
    # The 64 B run once more with libdemi.pcap on (to /dev/null): what the
    # capture costs when on; off, it is the plain rows (one branch per burst).
    for run in 64 1024 64+pcap; do
        size=${run%+pcap}
        tag=
        pcap_env=()
        if [ "$run" != "$size" ]; then
            tag=+pcap
            pcap_env=(DEMI_LIBDEMI_PCAP=/dev/null DEMI_LIBDEMI_PCAP_MAX_MB=0)
        fi
        say "datapath: bench_datapath $size B${tag:+ with libdemi.pcap} ..."
        if ! timeout "$limit" env "${pcap_env[@]}" taskset -c "$core_c" "$bin/bench_datapath" "$size" 100000 \
            >"$tmp/dp.log" 2>&1; then
            failures=$((failures + 1))
            say "  FAILED: $(last_error "$tmp/dp.log")"
            continue
        fi
        # "tcp   64 B  round trip p50 1988 ns  p99 4238 ns   per I/O p50 497 ns  p99 1060 ns"
        while read -r line; do
            dp_rows+=("$line")
            tr '|' ',' <<<"$line" >>"$dp_csv"
        done < <(sed -n 's/^\(tcp\|udp\) *\([0-9]*\) B *round trip p50 *\([0-9]*\) ns *p99 *\([0-9]*\) ns *per I\/O p50 *\([0-9]*\) ns *p99 *\([0-9]*\) ns.*/\1'"$tag"'|\2|\3|\4|\5|\6/p' "$tmp/dp.log")
    done
fi

# ---------------------------------------------------------------- latency

rtt_csv=$results/rtt.csv
echo "path,proto,size_bytes,msgs,p50_us,p99_us,p999_us,mean_us,ratio,status,note" >"$rtt_csv"
declare -A base_p50 # "proto|size" -> Linux busy-poll p50 (us)
declare -A na_path  # path -> reason its remaining rows are n/a
rows=()             # "path|proto|size|p50|p99|p999|ratio|status|note" in order

baseline="Linux loopback, busy-poll"

msgs_for() {
    if [ "$1" -ge 65536 ]; then
        echo $((msgs / 10))
    elif [ "$1" -ge 16384 ]; then
        echo $((msgs / 4))
    else
        echo "$msgs"
    fi
}

warmup_for() {
    if [ "$1" -ge 16384 ]; then echo $((warmup / 10 + 1)); else echo "$warmup"; fi
}

ratio_of() {
    local base=${base_p50["$1|$2"]:-} p50=$3
    if [ -z "$base" ] || [ -z "$p50" ]; then
        echo "-"
    else
        awk -v a="$base" -v b="$p50" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "-" }'
    fi
}

add_row() { # path proto size msgs p50 p99 p999 mean status note
    local ratio=-
    [ "$9" = ok ] && ratio=$(ratio_of "$2" "$3" "$5")
    [ "$2" = eth ] && [ "$9" = ok ] && ratio=$(ratio_of udp 64 "$5")
    echo "\"$1\",$2,$3,$4,$5,$6,$7,$8,$ratio,$9,\"${10}\"" >>"$rtt_csv"
    rows+=("$1|$2|$3|$5|$6|$7|$ratio|$9|${10}")
}

# latency PATH PROTO SIZE NA_ON_FAILURE: one row; srv and cli are set by
# the caller with @MSGS@ and @WARMUP@ placeholders for the counts.
latency() {
    local path=$1 proto=$2 size=$3 na_on_fail=${4:-0} n w i
    n=$(msgs_for "$size")
    w=$(warmup_for "$size")
    if [ -n "${na_path[$path]:-}" ]; then
        add_row "$path" "$proto" "$size" "$n" "" "" "" "" n/a "${na_path[$path]}"
        return
    fi
    if over_budget; then
        add_row "$path" "$proto" "$size" "$n" "" "" "" "" n/a "time budget (${budget}s) spent"
        return
    fi
    for i in "${!srv[@]}"; do srv[i]=${srv[i]//@MSGS@/$n}; srv[i]=${srv[i]//@WARMUP@/$w}; done
    for i in "${!cli[@]}"; do cli[i]=${cli[i]//@MSGS@/$n}; cli[i]=${cli[i]//@WARMUP@/$w}; done
    printf 'bench: %s %s %s ... ' "$path" "$proto" "$(human_size "$size")" >&2
    run_pair 'listening on|server ready'
    if [ -z "$out" ]; then
        if [ "$na_on_fail" -eq 1 ]; then
            echo "n/a ($why)" >&2
            na_path[$path]=$why
            add_row "$path" "$proto" "$size" "$n" "" "" "" "" n/a "$why"
        else
            echo "FAILED: $why" >&2
            failures=$((failures + 1))
            add_row "$path" "$proto" "$size" "$n" "" "" "" "" failed "$why"
        fi
        return
    fi
    local p50 p99 p999 mean
    p50=$(ns_to_us "$(field p50_ns "$out")")
    p99=$(ns_to_us "$(field p99_ns "$out")")
    p999=$(ns_to_us "$(field p999_ns "$out")")
    mean=$(ns_to_us "$(field mean_ns "$out")")
    [ "$path" = "$baseline" ] && base_p50["$proto|$size"]=$p50
    echo "p50 $p50 us, p99 $p99 us" >&2
    add_row "$path" "$proto" "$size" "$n" "$p50" "$p99" "$p999" "$mean" ok ""
}

na_row() { # path proto size reason
    add_row "$1" "$2" "$3" "$(msgs_for "$3")" "" "" "" "" n/a "$4"
}

tcp_sizes=(64 1024 16384 65536)
udp_sizes=(64 1024 1472)

# each_size PATH SERVER_BIN CLIENT_BIN SERVER_IP CONNECT_IP NA_ON_FAILURE
#           SERVER_EXTRA CLIENT_EXTRA SERVER_PREFIX CLIENT_PREFIX
# Every (proto, size) row of one path. The prefixes name arrays (timeout,
# taskset, env ...) put in front of each command; the extras are options
# appended to it.
each_size() {
    local path=$1 sbin=$2 cbin=$3 sip=$4 cip=$5 na_on_fail=$6 sextra=$7 cextra=$8
    local -n spre=$9 cpre=${10}
    local proto size sizes port
    for proto in tcp udp; do
        if [ "$proto" = tcp ]; then sizes=("${tcp_sizes[@]}"); else sizes=("${udp_sizes[@]}"); fi
        for size in "${sizes[@]}"; do
            port=$(free_port)
            # shellcheck disable=SC2206 # the extras are lists of words
            srv=("${spre[@]}" "$sbin" --server "$sip" "$port" --proto "$proto"
                --msgs @MSGS@ --warmup @WARMUP@ $sextra)
            # shellcheck disable=SC2206
            cli=("${cpre[@]}" "$cbin" --client "$cip" "$port" --proto "$proto" --size "$size"
                --msgs @MSGS@ --warmup @WARMUP@ $cextra)
            latency "$path" "$proto" "$size" "$na_on_fail"
            rm -rf "$dpdk_rundir/$dpdk_prefix"-*
        done
    done
}

# catnip_config ROLE IP PEER_IP LCORE FILE: one end of the memif pair
# (scripts/memif-config.sh).
# shellcheck source=scripts/memif-config.sh
. "$repo/scripts/memif-config.sh"
catnip_config() {
    memif_config "$@" "$dpdk_prefix" "$memif_sock"
}
catnip_config server 10.99.0.1 10.99.0.2 "$core_s" "$tmp/catnip-server.yaml"
catnip_config client 10.99.0.2 10.99.0.1 "$core_c" "$tmp/catnip-client.yaml"
# The same pair with jumbo frames (docs/catnip.md): the large-message rows.
jumbo_mtu=9000
jumbo_path="catnip (DPDK memif, MTU $jumbo_mtu)"
MEMIF_MTU=$jumbo_mtu catnip_config server 10.99.0.1 10.99.0.2 "$core_s" "$tmp/catnip-jumbo-server.yaml"
MEMIF_MTU=$jumbo_mtu catnip_config client 10.99.0.2 10.99.0.1 "$core_c" "$tmp/catnip-jumbo-client.yaml"

have_dpdk=0
[ -x "$bin/memif-pingpong" ] && have_dpdk=1
# lwIP over memif (bench/lwip-rtt, built when liblwip-dev is found): TCP only.
lwip_path="lwIP $(pkg-config --modversion lwip 2>/dev/null || echo 2.1.3) (DPDK memif)"
lwip_sizes=(64 1024 16384)
lwip_why="liblwip-dev not installed"
pkg-config --exists lwip 2>/dev/null && lwip_why="lwip-rtt not built (meson setup --reconfigure $build)"

say "results go to $results; each process is bounded by ${limit}s, the run by ${budget}s"

# Linux loopback: the baselines first, so every later row has its ratio.
pre_s=(timeout "$limit" taskset -c "$core_s")
pre_c=(timeout "$limit" taskset -c "$core_c")
each_size "$baseline" "$bin/linux-rtt" "$bin/linux-rtt" 127.0.0.1 127.0.0.1 0 \
    --busy-poll --busy-poll pre_s pre_c
each_size "Linux loopback, blocking" "$bin/linux-rtt" "$bin/linux-rtt" 127.0.0.1 127.0.0.1 0 \
    "" "" pre_s pre_c

# catnap: libdemi over the same Linux sockets.
pre_s=(timeout "$limit" taskset -c "$core_s" env LIBOS=catnap)
pre_c=(timeout "$limit" taskset -c "$core_c" env LIBOS=catnap)
each_size "catnap (loopback)" "$bin/demi-rtt" "$bin/demi-rtt" 127.0.0.1 127.0.0.1 0 "" "" pre_s pre_c

# catnip over memif: EAL pins each process to its lcore.
if [ "$have_dpdk" -eq 1 ]; then
    pre_s=(timeout "$limit" env LIBOS=catnip "CONFIG_PATH=$tmp/catnip-server.yaml")
    pre_c=(timeout "$limit" env LIBOS=catnip "CONFIG_PATH=$tmp/catnip-client.yaml")
    each_size "catnip (DPDK memif)" "$bin/demi-rtt" "$bin/demi-rtt" 10.99.0.1 10.99.0.1 0 "" "" \
        pre_s pre_c
    # Jumbo frames: TCP only (the UDP rows' datagrams fit a 1500-byte MTU).
    pre_s=(timeout "$limit" env LIBOS=catnip "CONFIG_PATH=$tmp/catnip-jumbo-server.yaml")
    pre_c=(timeout "$limit" env LIBOS=catnip "CONFIG_PATH=$tmp/catnip-jumbo-client.yaml")
    saved_udp_sizes=("${udp_sizes[@]}")
    udp_sizes=()
    each_size "$jumbo_path" "$bin/demi-rtt" "$bin/demi-rtt" 10.99.0.1 10.99.0.1 0 "" "" pre_s pre_c
    udp_sizes=("${saved_udp_sizes[@]}")

    # A packaged user-space TCP/IP stack on the identical path: Debian's lwIP
    # (bench/lwip-rtt: DPDK memif port, raw TCP API, one busy-polling thread).
    if [ -x "$bin/lwip-rtt" ]; then
        eal_lwip() {
            echo "-l $1 --no-huge --no-pci --no-telemetry --log-level=warning --file-prefix=$dpdk_prefix-lwip-$2 --vdev=net_memif0,role=$2,socket=$memif_sock,mac=$3"
        }
        for s in "${lwip_sizes[@]}"; do
            port=$(free_port)
            # shellcheck disable=SC2207
            srv=(timeout "$limit" "$bin/lwip-rtt" $(eal_lwip "$core_s" server 02:00:00:00:01:01) -- --server
                10.99.0.1 "$port" --proto tcp)
            # shellcheck disable=SC2207
            cli=(timeout "$limit" "$bin/lwip-rtt" $(eal_lwip "$core_c" client 02:00:00:00:01:02) -- --client
                10.99.0.1 "$port" --proto tcp --local 10.99.0.2 --size "$s" --msgs @MSGS@ --warmup @WARMUP@)
            latency "$lwip_path" tcp "$s"
            rm -rf "$dpdk_rundir/$dpdk_prefix"-*
        done
    else
        for s in "${lwip_sizes[@]}"; do na_row "$lwip_path" tcp "$s" "$lwip_why"; done
    fi

    # The floor: raw frames, no stack.
    eal_pp() {
        echo "-l $1 --no-huge --no-pci --no-telemetry --log-level=warning --file-prefix=$dpdk_prefix-pp-$2 --vdev=net_memif0,role=$2,socket=$memif_sock"
    }
    # shellcheck disable=SC2207
    srv=(timeout "$limit" "$bin/memif-pingpong" $(eal_pp "$core_s" server) -- --server)
    # shellcheck disable=SC2207
    cli=(timeout "$limit" "$bin/memif-pingpong" $(eal_pp "$core_c" client) -- --client
        --rounds @MSGS@ --warmup @WARMUP@)
    latency "DPDK memif raw frame ping-pong" eth 64
    rm -rf "$dpdk_rundir/$dpdk_prefix"-*
else
    for s in "${tcp_sizes[@]}"; do na_row "catnip (DPDK memif)" tcp "$s" "built without DPDK"; done
    for s in "${tcp_sizes[@]}"; do na_row "$jumbo_path" tcp "$s" "built without DPDK"; done
    for s in "${udp_sizes[@]}"; do na_row "catnip (DPDK memif)" udp "$s" "built without DPDK"; done
    for s in "${lwip_sizes[@]}"; do na_row "$lwip_path" tcp "$s" "built without DPDK"; done
    na_row "DPDK memif raw frame ping-pong" eth 64 "built without DPDK"
fi

# Against Linux over veth, each end in its own namespace.
veth_paths=("catpowder AF_PACKET (veth)" "catpowder AF_XDP (veth)" "catnip net_af_xdp (veth)")
netns_why=
if [ "$(id -u)" -ne 0 ]; then
    netns_why="needs root (network namespaces, raw sockets)"
elif [ ! -f "$repo/tests/integration/netns-lib.sh" ]; then
    netns_why="tests/integration/netns-lib.sh is missing"
else
    # shellcheck source=../tests/integration/netns-lib.sh
    . "$repo/tests/integration/netns-lib.sh"
    # Its failures must not end the whole run: note them, go on, check after.
    netns_failed=
    netns_die() {
        netns_failed=$*
        return 1
    }
    netns_ready=1 # netns_cleanup is safe on a partial setup
    netns_setup
    trap cleanup EXIT # netns_setup installed its own
    trap 'exit 130' INT TERM
    if [ -n "$netns_failed" ] || [ -z "${NETNS_MAC_DEMI:-}" ]; then
        netns_why="namespace setup failed: ${netns_failed:-no MAC on the veth}"
    fi
fi
if [ -n "$netns_why" ]; then
    for p in "${veth_paths[@]}"; do
        for s in "${tcp_sizes[@]}"; do na_row "$p" tcp "$s" "$netns_why"; done
        for s in "${udp_sizes[@]}"; do na_row "$p" udp "$s" "$netns_why"; done
    done
else
    pre_s=(ip netns exec "$NS_LINUX" timeout "$limit" taskset -c "$core_s")
    for mode in af_packet af_xdp; do
        pre_c=(ip netns exec "$NS_DEMI" timeout "$limit" taskset -c "$core_c" env LIBOS=catpowder
            "DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR=$NETNS_IP_DEMI" "DEMI_RAW_SOCKET_LINUX_INTERFACE_NAME=$IF_DEMI"
            "DEMI_RAW_SOCKET_MODE=$mode")
        label="catpowder AF_PACKET (veth)"
        [ "$mode" = af_xdp ] && label="catpowder AF_XDP (veth)"
        each_size "$label" "$bin/linux-rtt" "$bin/demi-rtt" "$NETNS_IP_LINUX" "$NETNS_IP_LINUX" 0 \
            --busy-poll "" pre_s pre_c
    done
    # DPDK's own AF_XDP PMD on the same veth end (n/a if it cannot work here).
    if [ "$have_dpdk" -eq 1 ]; then
        pre_c=(ip netns exec "$NS_DEMI" timeout "$limit" env LIBOS=catnip
            "DEMI_DEMIKERNEL_LOCAL_IPV4_ADDR=$NETNS_IP_DEMI" DEMI_DPDK_LINK_WAIT_MS=5000
            "DEMI_DPDK_EAL_INIT=demi -l $core_c --no-huge --no-pci --no-telemetry --log-level=warning --file-prefix=$dpdk_prefix-axdp --vdev=net_af_xdp0,iface=$IF_DEMI")
        each_size "catnip net_af_xdp (veth)" "$bin/linux-rtt" "$bin/demi-rtt" "$NETNS_IP_LINUX" \
            "$NETNS_IP_LINUX" 1 --busy-poll "" pre_s pre_c
    else
        for s in "${tcp_sizes[@]}"; do na_row "catnip net_af_xdp (veth)" tcp "$s" "built without DPDK"; done
        for s in "${udp_sizes[@]}"; do na_row "catnip net_af_xdp (veth)" udp "$s" "built without DPDK"; done
    fi
    # Namespaces are done with: remove them now rather than at exit.
    netns_cleanup
    netns_ready=0
fi

# ------------------------------------------------------------- throughput

tput_csv=$results/throughput.csv
echo "path,bytes,push_bytes,seconds,gbps,status,note" >"$tput_csv"
tput_rows=() # "path|gbps|status|note"

add_tput() { # path bytes secs gbps status note
    echo "\"$1\",$2,65536,$3,$4,$5,\"$6\"" >>"$tput_csv"
    tput_rows+=("$1|$4|$5|$6")
}

bulk() { # path
    local path=$1 port
    if over_budget; then
        add_tput "$path" "$bulk_bytes" "" "" n/a "time budget (${budget}s) spent"
        return
    fi
    port=$(free_port)
    srv+=("$bin/demi-rtt" --server "${sip}" "$port" --proto tcp --bulk "$bulk_bytes")
    cli+=("$bin/demi-rtt" --client "${sip}" "$port" --proto tcp --size 65536 --bulk "$bulk_bytes")
    say "throughput: $path, $((bulk_bytes >> 20)) MiB in 64 KiB pushes ..."
    run_pair 'listening on'
    if [ -z "$out" ]; then
        failures=$((failures + 1))
        say "  FAILED: $why"
        add_tput "$path" "$bulk_bytes" "" "" failed "$why"
    else
        say "  $(field gbps "$out") Gb/s"
        add_tput "$path" "$bulk_bytes" "$(field secs "$out")" "$(field gbps "$out")" ok ""
    fi
    rm -rf "$dpdk_rundir/$dpdk_prefix"-*
}

if [ "$have_dpdk" -eq 1 ]; then
    sip=10.99.0.1
    srv=(timeout "$limit" env LIBOS=catnip "CONFIG_PATH=$tmp/catnip-server.yaml")
    cli=(timeout "$limit" env LIBOS=catnip "CONFIG_PATH=$tmp/catnip-client.yaml")
    bulk "catnip (DPDK memif)"
    srv=(timeout "$limit" env LIBOS=catnip "CONFIG_PATH=$tmp/catnip-jumbo-server.yaml")
    cli=(timeout "$limit" env LIBOS=catnip "CONFIG_PATH=$tmp/catnip-jumbo-client.yaml")
    bulk "$jumbo_path"
else
    add_tput "catnip (DPDK memif)" "$bulk_bytes" "" "" n/a "built without DPDK"
    add_tput "$jumbo_path" "$bulk_bytes" "" "" n/a "built without DPDK"
fi
sip=127.0.0.1
srv=(timeout "$limit" taskset -c "$core_s" env LIBOS=catnap)
cli=(timeout "$limit" taskset -c "$core_c" env LIBOS=catnap)
bulk "catnap (loopback)"

iperf_path="Linux loopback (iperf3 -l 64K)"
if ! command -v iperf3 >/dev/null 2>&1; then
    add_tput "$iperf_path" "" "" "" n/a "iperf3 not installed"
elif over_budget; then
    add_tput "$iperf_path" "" "" "" n/a "time budget (${budget}s) spent"
else
    port=$(free_port)
    say "throughput: $iperf_path, 3 s ..."
    timeout "$limit" taskset -c "$core_s" iperf3 -s -1 -p "$port" >"$tmp/iperf-s.log" 2>&1 &
    ipid=$!
    pids+=("$ipid")
    for _ in $(seq 50); do
        grep -q "listening" "$tmp/iperf-s.log" && break
        sleep 0.1
    done
    timeout "$limit" taskset -c "$core_c" iperf3 -c 127.0.0.1 -p "$port" -t 3 -l 64K -J >"$tmp/iperf.json" 2>&1
    rc=$?
    wait "$ipid" 2>/dev/null
    pids=()
    vals=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["end"]["sum_received"]
print(d["bytes"], "%.3f" % d["seconds"], "%.2f" % (d["bits_per_second"] / 1e9))
' "$tmp/iperf.json" 2>/dev/null)
    if [ "$rc" -ne 0 ] || [ -z "$vals" ]; then
        failures=$((failures + 1))
        say "  FAILED: iperf3 exit $rc"
        add_tput "$iperf_path" "" "" "" failed "iperf3 exit $rc"
    else
        read -r ib isecs igbps <<<"$vals"
        say "  $igbps Gb/s"
        add_tput "$iperf_path" "$ib" "$isecs" "$igbps" ok ""
    fi
fi

# ------------------------------------------------------------------ scale

scale_csv=$results/scale.csv
echo "path,conns,msgs,req_per_s,p50_us,p99_us,status,note" >"$scale_csv"
scale_rows=() # "path|conns|rps|p50|p99|status|note"

# The client and server may each hold 1024 sockets (catnap: file descriptors).
[ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ] && ulimit -n 4096 2>/dev/null

scale() { # path conns
    local path=$1 conns=$2 w port
    w=$((conns * 4 > 1000 ? conns * 4 : 1000))
    if over_budget; then
        echo "\"$path\",$conns,$scale_msgs,,,,n/a,\"time budget spent\"" >>"$scale_csv"
        scale_rows+=("$path|$conns||||n/a|time budget (${budget}s) spent")
        return
    fi
    port=$(free_port)
    srv+=("$echo_bin" --server "$sip" "$port" --once)
    cli+=("$echo_bin" --client "$sip" "$port" --size 64 --msgs "$scale_msgs" --warmup "$w" --conns "$conns")
    printf 'bench: scale: %s, %s connections ... ' "$path" "$conns" >&2
    run_pair 'listening on' '^tcp-echo: libos='
    if [ -z "$out" ]; then
        failures=$((failures + 1))
        echo "FAILED: $why" >&2
        echo "\"$path\",$conns,$scale_msgs,,,,failed,\"$why\"" >>"$scale_csv"
        scale_rows+=("$path|$conns||||failed|$why")
    else
        local rps p50 p99
        rps=$(sed -n 's/.* throughput=\([0-9]*\) msg\/s.*/\1/p' <<<"$out")
        p50=$(sed -n 's/.* p50=\([0-9.]*\)us.*/\1/p' <<<"$out")
        p99=$(sed -n 's/.* p99=\([0-9.]*\)us.*/\1/p' <<<"$out")
        echo "$rps req/s" >&2
        echo "\"$path\",$conns,$scale_msgs,$rps,$p50,$p99,ok,\"\"" >>"$scale_csv"
        scale_rows+=("$path|$conns|$rps|$p50|$p99|ok|")
    fi
    rm -rf "$dpdk_rundir/$dpdk_prefix"-*
}

for conns in 1 16 256 1024; do
    if [ "$have_dpdk" -eq 1 ]; then
        sip=10.99.0.1
        srv=(timeout "$limit" env LIBOS=catnip "CONFIG_PATH=$tmp/catnip-server.yaml")
        cli=(timeout "$limit" env LIBOS=catnip "CONFIG_PATH=$tmp/catnip-client.yaml")
        scale "catnip (DPDK memif)" "$conns"
    fi
    sip=127.0.0.1
    srv=(timeout "$limit" taskset -c "$core_s" env LIBOS=catnap)
    cli=(timeout "$limit" taskset -c "$core_c" env LIBOS=catnap)
    scale "catnap (loopback)" "$conns"
done

# ------------------------------------------------------ latency under load
# Open loop (bench/demi-loadgen): 1024 connections, 64 B requests on a fixed
# schedule at 25, 50, 75 and 90 % of the pair's peak; each request's latency
# runs from its intended send time, so queueing behind a slow response counts.

load_csv=$results/latency-load.csv
echo "path,conns,load_pct,offered_req_per_s,achieved_req_per_s,p50_us,p99_us,p999_us,max_us,sent,done,unsent,missing,peak_req_per_s,peak_source,status,note" >"$load_csv"
load_rows=() # "path|pct|offered|achieved|p50|p99|p999|unsent|status|note"
load_conns=${BENCH_LOAD_CONNS:-1024}
load_secs=${BENCH_LOAD_SECS:-2}
load_warmup=${BENCH_LOAD_WARMUP:-0.5}
load_depth=${BENCH_LOAD_DEPTH:-4} # requests in flight per connection, at most
load_pcts=(25 50 75 90)
# Offered to find the peak when the scale section has no figure: far beyond
# any pair here, so the achieved rate is what the pair sustains.
load_saturate=${BENCH_LOAD_SATURATE:-4000000}
load_peaks=() # "path|peak|source"

# The closed-loop figure of the scale section for PATH at CONNS, or empty.
scale_peak() {
    local r path conns rps status
    for r in "${scale_rows[@]}"; do
        IFS='|' read -r path conns rps _ _ status _ <<<"$r"
        if [ "$path" = "$1" ] && [ "$conns" = "$2" ] && [ "$status" = ok ] && [ -n "$rps" ]; then
            echo "$rps"
            return
        fi
    done
}

add_load() { # path pct offered achieved p50 p99 p999 max sent done unsent missing peak source status note
    echo "\"$1\",$load_conns,$2,$3,$4,$5,$6,$7,$8,$9,${10},${11},${12},${13},\"${14}\",${15},\"${16}\"" >>"$load_csv"
    load_rows+=("$1|$2|$3|$4|$5|$6|$7|${11}|${15}|${16}")
}

# loadgen PATH RATE: one demi-loadgen run against tcp-echo --server (srv and
# cli hold the caller's prefixes). Sets out and why as run_pair does.
loadgen() {
    local port
    port=$(free_port)
    srv+=("$echo_bin" --server "$sip" "$port" --once)
    cli+=("$bin/demi-loadgen" "$sip" "$port" --conns "$load_conns" --rate "$2"
        --secs "$load_secs" --warmup-secs "$load_warmup" --depth "$load_depth")
    run_pair 'listening on'
    rm -rf "$dpdk_rundir/$dpdk_prefix"-*
}

# latency_load PATH SERVER_PREFIX CLIENT_PREFIX: the peak, then one run per
# load level. The prefixes name arrays put in front of each command.
latency_load() {
    local path=$1 peak source pct rate
    local -n lsrv=$2 lcli=$3
    # The peak is what demi-loadgen itself sustains when offered far too
    # much: its schedule costs the client more than tcp-echo's closed loop,
    # so the scale figure (BENCH_LOAD_PEAK=scale) would put "50 %" beyond
    # what the generator can offer (827 k closed loop, 394-451 k open loop
    # over memif on 2026-12-03). Since TCP holds data back on a full
    # transmit queue, the saturating run no longer collapses.
    peak=
    [ "${BENCH_LOAD_PEAK:-loadgen}" = scale ] && peak=$(scale_peak "$path" "$load_conns")
    source="tcp-echo closed loop (scale)"
    if [ -z "$peak" ] && over_budget; then
        source="time budget (${budget}s) spent"
    elif [ -z "$peak" ]; then
        source="demi-loadgen at $load_saturate req/s"
        printf 'bench: latency under load: %s, peak (offered %s req/s) ... ' "$path" "$load_saturate" >&2
        srv=("${lsrv[@]}")
        cli=("${lcli[@]}")
        loadgen "$path" "$load_saturate"
        if [ -n "$out" ]; then
            peak=$(printf '%.0f' "$(field achieved "$out")")
            echo "$peak req/s" >&2
        else
            failures=$((failures + 1))
            echo "FAILED: $why" >&2
            source="none: the saturating run failed ($why)"
        fi
    fi
    load_peaks+=("$path|${peak:-}|$source")
    for pct in "${load_pcts[@]}"; do
        if [ -z "$peak" ] || [ "$peak" -le 0 ]; then
            add_load "$path" "$pct" "" "" "" "" "" "" "" "" "" "" "" "$source" n/a "no peak: $source"
            continue
        fi
        rate=$((peak * pct / 100))
        [ "$rate" -ge 1 ] || rate=1
        if over_budget; then
            add_load "$path" "$pct" "$rate" "" "" "" "" "" "" "" "" "" "$peak" "$source" n/a \
                "time budget (${budget}s) spent"
            continue
        fi
        printf 'bench: latency under load: %s, %s %% (%s req/s) ... ' "$path" "$pct" "$rate" >&2
        srv=("${lsrv[@]}")
        cli=("${lcli[@]}")
        loadgen "$path" "$rate"
        if [ -z "$out" ]; then
            failures=$((failures + 1))
            echo "FAILED: $why" >&2
            add_load "$path" "$pct" "$rate" "" "" "" "" "" "" "" "" "" "$peak" "$source" failed "$why"
            continue
        fi
        local achieved p50 p99 p999 max unsent note=
        achieved=$(field achieved "$out")
        p50=$(ns_to_us "$(field p50_ns "$out")")
        p99=$(ns_to_us "$(field p99_ns "$out")")
        p999=$(ns_to_us "$(field p999_ns "$out")")
        max=$(ns_to_us "$(field max_ns "$out")")
        unsent=$(field unsent "$out")
        # Requests never sent: the client could not keep to the schedule.
        [ "$unsent" != 0 ] && note="client behind its schedule: $unsent requests unsent"
        echo "achieved $achieved req/s, p50 $p50 us, p99 $p99 us${note:+ ($note)}" >&2
        add_load "$path" "$pct" "$rate" "$achieved" "$p50" "$p99" "$p999" "$max" "$(field sent "$out")" \
            "$(field "done" "$out")" "$unsent" "$(field missing "$out")" "$peak" "$source" ok "$note"
    done
}

if [ ! -x "$bin/demi-loadgen" ]; then
    say "latency under load: $bin/demi-loadgen not built: skipped"
else
    if [ "$have_dpdk" -eq 1 ]; then
        sip=10.99.0.1
        load_s=(timeout "$limit" env LIBOS=catnip "CONFIG_PATH=$tmp/catnip-server.yaml")
        load_c=(timeout "$limit" env LIBOS=catnip "CONFIG_PATH=$tmp/catnip-client.yaml")
        latency_load "catnip (DPDK memif)" load_s load_c
    else
        for pct in "${load_pcts[@]}"; do
            add_load "catnip (DPDK memif)" "$pct" "" "" "" "" "" "" "" "" "" "" "" "" n/a "built without DPDK"
        done
    fi
    sip=127.0.0.1
    load_s=(timeout "$limit" taskset -c "$core_s" env LIBOS=catnap)
    load_c=(timeout "$limit" taskset -c "$core_c" env LIBOS=catnap)
    latency_load "catnap (loopback)" load_s load_c
fi

# ----------------------------------------------------------------- report

elapsed=$((SECONDS - start_s))
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
dpdk_ver=$(pkg-config --modversion libdpdk 2>/dev/null || echo "not found")
machine="$(nproc) CPUs ($cpu), Linux $(uname -r), DPDK $dpdk_ver"
command_line="make bench   (bash bench/run-bench.sh $(basename "$build"))"
peer_note="catpowder and net_af_xdp rows: the peer is linux-rtt --server --busy-poll in another network namespace over veth (busy-polling, so the Linux server's wakeup latency does not dominate); offloads off on both veth ends."

fmt_us() { if [ -n "$1" ]; then echo "$1"; else echo "-"; fi; }

print_tables() {
    local r path proto size p50 p99 p999 ratio status note
    echo "libdemi bench: round-trip latency, one connection, one message in flight"
    echo "$machine"
    printf '%-32s %-5s %-7s %10s %10s %10s %8s\n' path proto size "p50 µs" "p99 µs" "p999 µs" "ratio"
    for r in "${rows[@]}"; do
        IFS='|' read -r path proto size p50 p99 p999 ratio status note <<<"$r"
        if [ "$status" = ok ]; then
            printf '%-32s %-5s %-7s %10s %10s %10s %8s\n' "$path" "$proto" "$(human_size "$size")" \
                "$p50" "$p99" "$p999" "$ratio"
        elif [ "$status" = n/a ]; then
            printf '%-32s %-5s %-7s n/a (%s)\n' "$path" "$proto" "$(human_size "$size")" "$note"
        else
            printf '%-32s %-5s %-7s FAILED: %s\n' "$path" "$proto" "$(human_size "$size")" "$note"
        fi
    done
    echo "ratio: Linux loopback busy-poll p50 (same proto and size) / the row's p50; the raw frame row against UDP 64 B."
    echo "$peer_note"
    echo
    echo "Throughput: one TCP flow, 64 KiB pushes"
    printf '%-32s %10s\n' path "Gb/s"
    for r in "${tput_rows[@]}"; do
        IFS='|' read -r path p50 status note <<<"$r"
        if [ "$status" = ok ]; then printf '%-32s %10s\n' "$path" "$p50"; else printf '%-32s %s (%s)\n' "$path" "$status" "$note"; fi
    done
    echo
    echo "Scale: tcp-echo, 64 B requests, N connections through demi_wait_next_n, $scale_msgs requests"
    printf '%-32s %6s %12s %10s %10s\n' path conns "requests/s" "p50 µs" "p99 µs"
    for r in "${scale_rows[@]}"; do
        IFS='|' read -r path size p50 p99 p999 status note <<<"$r"
        if [ "$status" = ok ]; then
            printf '%-32s %6s %12s %10s %10s\n' "$path" "$size" "$p50" "$p99" "$p999"
        else
            printf '%-32s %6s %s (%s)\n' "$path" "$size" "$status" "$note"
        fi
    done
    echo
    echo "Latency under load (open loop): demi-loadgen, $load_conns connections, 64 B requests at a fixed rate,"
    echo "latency from each request's intended send time; ${load_secs} s measured after ${load_warmup} s of warm-up"
    printf '%-32s %6s %12s %12s %10s %10s %10s\n' path load "offered/s" "achieved/s" "p50 µs" "p99 µs" "p999 µs"
    local pct offered achieved unsent peak source
    for r in "${load_rows[@]}"; do
        IFS='|' read -r path pct offered achieved p50 p99 p999 unsent status note <<<"$r"
        if [ "$status" = ok ]; then
            printf '%-32s %5s%% %12s %12s %10s %10s %10s%s\n' "$path" "$pct" "$offered" "$achieved" "$p50" "$p99" \
                "$p999" "${note:+  ($note)}"
        else
            printf '%-32s %5s%% %s (%s)\n' "$path" "$pct" "$status" "$note"
        fi
    done
    for r in "${load_peaks[@]}"; do
        IFS='|' read -r path peak source <<<"$r"
        echo "100 % for $path: ${peak:-none} req/s ($source)"
    done
    echo "CSV and plot: bench/results/latency-load.csv, latency-load.png"
    echo
    echo "Datapath: bench_datapath, catloop (no device), ns"
    printf '%-5s %-7s %12s %12s %10s %10s\n' proto size "RTT p50" "RTT p99" "I/O p50" "I/O p99"
    for r in "${dp_rows[@]}"; do
        IFS='|' read -r proto size p50 p99 p999 ratio <<<"$r"
        printf '%-5s %-7s %12s %12s %10s %10s\n' "$proto" "$(human_size "$size")" "$p50" "$p99" "$p999" "$ratio"
    done
    echo
    echo "Run time: ${elapsed} s. CSV and plot: bench/results/ (rtt.csv, throughput.csv, scale.csv, datapath.csv, rtt.png)"
}

print_tables | tee "$results/bench.txt"

# ------------------------------------------------------------------- plot

plot_ok=0

# plot_lines PROTO: gnuplot "plot" arguments, one line per path of PROTO
# (data files "size p50" in $tmp).
plot_lines() {
    local proto=$1 plots='' idx=0 path r rp p size p50 status f
    local -a paths
    mapfile -t paths < <(for r in "${rows[@]}"; do
        IFS='|' read -r rp p _ <<<"$r"
        [ "$p" = "$proto" ] && echo "$rp"
    done | awk '!seen[$0]++')
    for path in "${paths[@]}"; do
        f=$tmp/plot-$proto-$idx.dat
        idx=$((idx + 1))
        : >"$f"
        for r in "${rows[@]}"; do
            IFS='|' read -r rp p size p50 _ _ _ status _ <<<"$r"
            [ "$rp" = "$path" ] && [ "$p" = "$proto" ] && [ "$status" = ok ] && echo "$size $p50" >>"$f"
        done
        [ -s "$f" ] || continue
        if [ "$proto" = eth ]; then
            plots+="${plots:+, }'$f' using 1:2 with points pt 5 ps 2 lc rgb 'black' title \"$path\""
        else
            plots+="${plots:+, }'$f' using 1:2 with linespoints lw 2 pt 7 title \"$path\""
        fi
    done
    echo "$plots"
}

if command -v gnuplot >/dev/null 2>&1; then
    tcp_plots=$(plot_lines tcp)
    udp_plots=$(plot_lines udp)
    eth_plots=$(plot_lines eth)
    [ -n "$eth_plots" ] && udp_plots+="${udp_plots:+, }$eth_plots"
    {
        echo "set terminal pngcairo size 1400,650 font 'sans,10' noenhanced"
        echo "set output '$results/rtt.png'"
        echo "set multiplot layout 1,2 title 'libdemi round-trip latency, p50 (lower is better; $(nproc) CPUs, $(date -u +%Y-%m-%d))'"
        echo "set logscale xy"
        echo "set xlabel 'message size (bytes)'"
        echo "set ylabel 'p50 round trip (µs)'"
        echo "set grid"
        echo "set key top left font ',9'"
        echo "set xtics ('64' 64, '1K' 1024, '16K' 16384, '64K' 65536)"
        echo "set xrange [48:90000]"
        echo "set title 'TCP'"
        if [ -n "$tcp_plots" ]; then echo "plot $tcp_plots"; else echo "plot 1/0 notitle"; fi
        echo "set xtics ('64' 64, '1K' 1024, '1472' 1472)"
        echo "set xrange [48:2200]"
        echo "set title 'UDP (and one raw 64-byte memif frame)'"
        if [ -n "$udp_plots" ]; then echo "plot $udp_plots"; else echo "plot 1/0 notitle"; fi
        echo "unset multiplot"
    } >"$tmp/plot.gp"
    if timeout 60 gnuplot "$tmp/plot.gp" 2>"$tmp/gnuplot.log"; then
        plot_ok=1
        say "plot: $results/rtt.png"
    else
        say "plot FAILED: $(tail -n 1 "$tmp/gnuplot.log")"
        failures=$((failures + 1))
    fi
else
    say "gnuplot not installed: no plot (scripts/install-deps.sh installs gnuplot-nox)"
fi

# Latency under load: p50 and p99 against the offered rate, one pair of
# lines per path (data files "offered p50 p99" in $tmp).
load_plot_ok=0
if command -v gnuplot >/dev/null 2>&1; then
    load_plots=
    idx=0
    mapfile -t load_paths < <(for r in "${load_rows[@]}"; do echo "${r%%|*}"; done | awk '!seen[$0]++')
    for path in "${load_paths[@]}"; do
        f=$tmp/plot-load-$idx.dat
        idx=$((idx + 1))
        : >"$f"
        for r in "${load_rows[@]}"; do
            IFS='|' read -r rp _ offered _ p50 p99 _ _ status _ <<<"$r"
            [ "$rp" = "$path" ] && [ "$status" = ok ] && echo "$offered $p50 $p99" >>"$f"
        done
        [ -s "$f" ] || continue
        load_plots+="${load_plots:+, }'$f' using 1:3 with linespoints lw 2 pt 7 lc $idx title \"$path p99\""
        load_plots+=", '$f' using 1:2 with linespoints lw 2 pt 6 dt 2 lc $idx title \"$path p50\""
    done
    if [ -n "$load_plots" ]; then
        {
            echo "set terminal pngcairo size 900,600 font 'sans,10' noenhanced"
            echo "set output '$results/latency-load.png'"
            echo "set title 'libdemi latency under load: open loop, $load_conns connections, 64 B requests ($(nproc) CPUs, $(date -u +%Y-%m-%d))'"
            echo "set logscale xy"
            echo "set xlabel 'offered load (requests/s; points at 25, 50, 75, 90 % of each path peak)'"
            echo "set ylabel 'latency from the intended send time (µs)'"
            echo "set grid"
            echo "set key top left font ',9'"
            echo "plot $load_plots"
        } >"$tmp/plot-load.gp"
        if timeout 60 gnuplot "$tmp/plot-load.gp" 2>"$tmp/gnuplot-load.log"; then
            load_plot_ok=1
            say "plot: $results/latency-load.png"
        else
            say "plot FAILED: $(tail -n 1 "$tmp/gnuplot-load.log")"
            failures=$((failures + 1))
        fi
    fi
fi

# ---------------------------------------------------------- docs section

md_section() {
    local r path proto size p50 p99 p999 ratio status note
    echo "<!-- bench:begin -->"
    echo "<!-- Written by bench/run-bench.sh (make bench); edits between these markers are overwritten. -->"
    echo "## make bench (latest run)"
    echo
    echo "Machine: $machine. Generated $(date -u '+%Y-%m-%d %H:%M UTC') in ${elapsed} s."
    echo
    echo "Command: \`$command_line\`"
    echo
    echo "Method: round-trip latency of one connection (or UDP socket) with one message in"
    echo "flight. The client (\`bench/demi-rtt\` through libdemi's public API, \`bench/linux-rtt\`"
    echo "over plain Linux sockets) sends SIZE bytes, reads until SIZE bytes are back, and times"
    echo "that with CLOCK_MONOTONIC: $msgs measured rounds after $warmup warm-up ones (16 KiB: a"
    echo "quarter of both, 64 KiB: a tenth); percentiles are nearest-rank. Server on core 0,"
    echo "client on core 1; the libdemi paths busy-poll. The last column is the Linux loopback"
    echo "busy-poll p50 at the same protocol and size over the row's p50 (above 1: faster than"
    echo "the kernel's best case). The raw memif row bounces one 64-byte frame between two DPDK"
    echo "processes (\`bench/memif-pingpong\`), the floor of the memif rows; its ratio is"
    echo "against UDP 64 B. The lwIP row is a packaged user-space TCP/IP stack on the same"
    echo "memif pair: Debian's lwIP (\`bench/lwip-rtt\`: raw TCP API, Nagle off, one thread"
    echo "busy-polling the port and running lwIP's timers, frames copied between pbufs and"
    echo "mbufs) with the same client protocol, byte checks and timing as \`demi-rtt\`."
    echo
    echo "$peer_note"
    echo
    echo "Throughput: one TCP flow of 64 KiB pushes (\`demi-rtt --bulk\`: from the first push"
    echo "to the receiver's acknowledgement of the last byte) next to iperf3 over loopback."
    echo "Scale: \`examples/tcp-echo --conns N\` (\`demi_wait_next_n\` on both sides), 64 B"
    echo "requests. Datapath: \`bench_datapath\` (catloop, no device). The machine is shared"
    echo "and noisy: compare rows of one run, not runs."
    echo
    echo "Latency under load: \`bench/demi-loadgen\` opens $load_conns connections to \`tcp-echo --server\`"
    echo "and sends 64 B requests open loop, on a fixed schedule (request k due at k / R seconds,"
    echo "round-robin over the connections, up to $load_depth in flight per connection), whether or not the"
    echo "earlier ones were answered. Each latency runs from the request's intended send time to"
    echo "the last byte of its echo, so a stall charges every request scheduled behind it"
    echo "(no coordinated omission; wrk2's method). R is 25, 50, 75 and 90 % of the path's peak:"
    echo "what demi-loadgen itself achieves when offered $load_saturate req/s (the generator's schedule costs"
    echo "more than tcp-echo's closed loop, whose figure would put 50 % beyond what it can offer;"
    echo "BENCH_LOAD_PEAK=scale takes the scale table's instead). ${load_secs} s measured after ${load_warmup} s"
    echo "of warm-up per point; achieved = responses received per second of the measured window."
    echo
    echo "| path | proto | size | p50 µs | p99 µs | p999 µs | busy-poll p50 / p50 |"
    echo "|---|---|---|---|---|---|---|"
    for r in "${rows[@]}"; do
        IFS='|' read -r path proto size p50 p99 p999 ratio status note <<<"$r"
        if [ "$status" = ok ]; then
            echo "| $path | $proto | $(human_size "$size") | $p50 | $p99 | $p999 | $ratio |"
        elif [ "$status" = n/a ]; then
            echo "| $path | $proto | $(human_size "$size") | n/a ($note) | | | |"
        else
            echo "| $path | $proto | $(human_size "$size") | FAILED ($note) | | | |"
        fi
    done
    echo
    echo "| throughput, one TCP flow, 64 KiB pushes | Gb/s |"
    echo "|---|---|"
    for r in "${tput_rows[@]}"; do
        IFS='|' read -r path p50 status note <<<"$r"
        if [ "$status" = ok ]; then echo "| $path | $p50 |"; else echo "| $path | $status ($note) |"; fi
    done
    echo
    echo "| scale: tcp-echo, 64 B | connections | requests/s | p50 µs | p99 µs |"
    echo "|---|---|---|---|---|"
    for r in "${scale_rows[@]}"; do
        IFS='|' read -r path size p50 p99 p999 status note <<<"$r"
        if [ "$status" = ok ]; then
            echo "| $path | $size | $p50 | $p99 | $p999 |"
        else
            echo "| $path | $size | $status ($note) | | |"
        fi
    done
    echo
    local pct offered achieved unsent peak source
    echo "| latency under load, $load_conns connections, 64 B | load % | offered req/s | achieved req/s | p50 µs | p99 µs | p999 µs |"
    echo "|---|---|---|---|---|---|---|"
    for r in "${load_rows[@]}"; do
        IFS='|' read -r path pct offered achieved p50 p99 p999 unsent status note <<<"$r"
        if [ "$status" = ok ]; then
            echo "| $path | $pct | $offered | $achieved${note:+ ($note)} | $p50 | $p99 | $p999 |"
        else
            echo "| $path | $pct | $status ($note) | | | | |"
        fi
    done
    echo
    for r in "${load_peaks[@]}"; do
        IFS='|' read -r path peak source <<<"$r"
        echo "100 % for $path: ${peak:-none} req/s ($source)."
    done
    echo
    echo "| datapath (bench_datapath, catloop) | size | round trip p50 ns | p99 ns | per I/O p50 ns | p99 ns |"
    echo "|---|---|---|---|---|---|"
    for r in "${dp_rows[@]}"; do
        IFS='|' read -r proto size p50 p99 p999 ratio <<<"$r"
        echo "| $proto | $(human_size "$size") | $p50 | $p99 | $p999 | $ratio |"
    done
    echo
    if [ "$plot_ok" -eq 1 ]; then
        echo "Plot: [bench/results/rtt.png](../bench/results/rtt.png) (p50 against message size;"
        echo "bench/results/ is git-ignored: \`git add -f\` it to publish a run). CSV: bench/results/*.csv."
    else
        echo "CSV: bench/results/*.csv (no plot in this run)."
    fi
    if [ "$load_plot_ok" -eq 1 ]; then
        echo "Latency under load: [bench/results/latency-load.png](../bench/results/latency-load.png) (p50 and"
        echo "p99 against the offered rate; CSV bench/results/latency-load.csv)."
    fi
    echo "<!-- bench:end -->"
}

if [ -n "$doc" ] && [ -f "$doc" ]; then
    md_section >"$tmp/section.md"
    if grep -q '<!-- bench:begin -->' "$doc" && grep -q '<!-- bench:end -->' "$doc"; then
        # Replace the marked section, keeping everything around it.
        awk -v sec="$tmp/section.md" '
            /<!-- bench:begin -->/ { while ((getline l < sec) > 0) print l; skip = 1; next }
            /<!-- bench:end -->/ { skip = 0; next }
            !skip { print }' "$doc" >"$tmp/doc.md" && cat "$tmp/doc.md" >"$doc"
        say "updated the bench section of $doc"
    else
        say "$doc has no <!-- bench:begin --> / <!-- bench:end --> markers: left as it is"
    fi
fi

# Unmodified applications under tools/demirun against Linux: its own table (bench/apps.sh).
bash "$repo/bench/apps.sh" "$build" | tee -a "$results/bench.txt" || failures=$((failures + 1))

# Durable appends (storage queues) against pwrite + fdatasync and fio, and a
# durable log server's requests: its own tables (bench/storage.sh).
bash "$repo/bench/storage.sh" "$build" | tee -a "$results/bench.txt" || failures=$((failures + 1))

say "done in $((SECONDS - start_s)) s"
if [ "$failures" -ne 0 ]; then
    say "$failures measurement(s) failed"
    exit 1
fi
