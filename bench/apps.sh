#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# apps.sh [BUILD_DIR]: unmodified Debian applications over libdemi against
# the same applications over Linux, one table. Run at the end of
# bench/run-bench.sh (make bench), or alone.
#
# Paths, each a server on core 0 and its client on core 1:
#   libdemi  both ends under BUILD_DIR/tools/demirun (the LD_PRELOAD shim),
#            LIBOS=catnip over DPDK net_memif: two processes over shared
#            memory, the pair of scripts/demo.sh (10.99.0.1 on lcore 0,
#            10.99.0.2 on lcore 1)
#   Linux    the same programs on the kernel's loopback, 127.0.0.1, pinned
#            with taskset to the same cores
# Rows:
#   redis-benchmark SET and GET, -c 50 and -c 1, -P 1 and -P 16: requests/s
#     and p99 (redis-server --save '' --appendonly no)
#   sockperf ping-pong --full-rtt, TCP and UDP, 64 B: p50 and p99 round trip
#   nginx (one worker, master_process off) + wrk -t1 --latency, a small
#     page, -c 1, -c 10 and -c 50: requests/s and p99
#   the same path through the native API: bench/demi-rtt over catnip memif
#     (the libdemi column) and bench/linux-rtt, blocking (Linux), TCP 64 B
#     round trips: what the shim and the application add
# The last column is the speedup of libdemi over Linux: libdemi/Linux for
# rates, Linux/libdemi for latencies (above 1: libdemi is better).
# Also writes bench/results/apps.csv and appends nothing else.
#
# Every process runs under timeout(1) (BENCH_APPS_TIMEOUT, 60 s) and every
# load is bounded by a request count or a duration; the run takes about two
# minutes (BENCH_APPS_BUDGET, 170 s: rows not started by then print "n/a").
# Exit status 1 if any measurement failed (a missing demirun included).
set -u -o pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" 2>/dev/null && pwd) || {
    echo "bench-apps: no build directory '${1:-build}'" >&2
    exit 1
}
results=$repo/bench/results
limit=${BENCH_APPS_TIMEOUT:-60}
budget=${BENCH_APPS_BUDGET:-170}
demirun=${DEMIRUN:-$build/tools/demirun}
secs=${BENCH_APPS_SECONDS:-3} # sockperf and wrk runs

tmp=$(mktemp -d /tmp/demi-bench-apps.XXXXXX)
pids=()
failures=0
start_s=$SECONDS
dpdk_prefix=demi-bench-apps-$$
memif_sock=/tmp/demi-bench-apps-$$.sock
if [ "$(id -u)" -eq 0 ]; then
    dpdk_rundir=/var/run/dpdk
else
    dpdk_rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk
fi

core_s=0
core_c=1
[ "$(nproc)" -ge 2 ] || core_c=0

# Stop one background process of ours (its process group: timeout(1) makes
# one): TERM, KILL after 5 s, reap.
stop() {
    local pid=$1 keep=() p
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do
        [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != Z ]; then
        kill -KILL -- "-$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    for p in "${pids[@]}"; do [ "$p" != "$pid" ] && keep+=("$p"); done
    pids=("${keep[@]}")
}

cleanup() {
    local p
    for p in "${pids[@]}"; do stop "$p"; done
    rm -rf "$tmp" "$dpdk_rundir/$dpdk_prefix"-* "$memif_sock"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() {
    echo "bench-apps: $*" >&2
}

over_budget() {
    [ $((SECONDS - start_s)) -ge "$budget" ]
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 40000))
}

last_error() {
    grep -v -E '^(EAL: (Detected|lcore|Probe|  )|TELEMETRY)' "$1" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' |
        grep . | tail -n 1 | tr ',' ';' | cut -c1-120
}

# catnip_config ROLE IP PEER_IP LCORE FILE: one end of the memif pair, with
# its subnet (the shim routes it; scripts/memif-config.sh).
# shellcheck source=scripts/memif-config.sh
. "$repo/scripts/memif-config.sh"
catnip_config() {
    memif_config "$@" "$dpdk_prefix" "$memif_sock" 24
}
catnip_config server 10.99.0.1 10.99.0.2 "$core_s" "$tmp/server.yaml"
catnip_config client 10.99.0.2 10.99.0.1 "$core_c" "$tmp/client.yaml"

# use_path demi|linux: the address and the command prefixes of a path.
use_path() {
    path=$1
    if [ "$path" = demi ]; then
        ip=10.99.0.1
        spre=(timeout -k 5 "$limit" taskset -c "$core_s" "$demirun" --libos catnip --config "$tmp/server.yaml" --)
        cpre=(timeout -k 5 "$limit" taskset -c "$core_c" "$demirun" --libos catnip --config "$tmp/client.yaml" --)
    else
        ip=127.0.0.1
        spre=(timeout -k 5 "$limit" taskset -c "$core_s")
        cpre=(timeout -k 5 "$limit" taskset -c "$core_c")
    fi
}

declare -A val  # "path|key" -> value
declare -A note # "path|key" -> why there is no value
keys=()         # row keys in order
declare -A label unit better

row() { # key label unit high|low
    keys+=("$1")
    label[$1]=$2
    unit[$1]=$3
    better[$1]=$4
}

# fail_keys REASON KEY...: no value for these keys on this path.
fail_keys() {
    local why=$1 k
    shift
    for k in "$@"; do note["$path|$k"]="FAILED: $why"; done
    failures=$((failures + 1))
    say "  $path: FAILED: $why"
}

# start_server LOG READY_REGEX CMD...: 0 once READY_REGEX is in LOG; sets spid.
start_server() {
    local log=$1 ready=$2
    shift 2
    rm -rf "$dpdk_rundir/$dpdk_prefix"-server
    "${spre[@]}" "$@" </dev/null >"$log" 2>&1 &
    spid=$!
    pids+=("$spid")
    for _ in $(seq 150); do
        grep -Eq "$ready" "$log" && return 0
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    grep -Eq "$ready" "$log" && return 0
    stop "$spid"
    return 1
}

ms_to_us() {
    awk -v v="$1" 'BEGIN { if (v == "") exit; printf "%.0f", v * 1000 }'
}

# wrk's latency: 185.00us, 1.23ms, 2.00s -> us.
wrk_us() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.0f", v }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.0f", v * 1000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.0f", v * 1000000 }
    }'
}

# ------------------------------------------------------------------ redis
redis_runs=("50 1 50000" "50 16 200000" "1 1 20000" "1 16 100000") # conns pipeline requests
for r in "${redis_runs[@]}"; do
    read -r c p n <<<"$r"
    for t in SET GET; do
        row "redis-$t-c$c-P$p-rps" "redis-benchmark $t -c $c -P $p" "req/s" high
        row "redis-$t-c$c-P$p-p99" "redis-benchmark $t -c $c -P $p" "p99 us" low
    done
done

bench_redis() {
    local port log=$tmp/redis-$path.log r c p n k t keys_all=()
    for r in "${redis_runs[@]}"; do
        read -r c p n <<<"$r"
        for t in SET GET; do keys_all+=("redis-$t-c$c-P$p-rps" "redis-$t-c$c-P$p-p99"); done
    done
    if over_budget; then
        for k in "${keys_all[@]}"; do note["$path|$k"]="time budget spent"; done
        return
    fi
    port=$(free_port)
    say "$path: redis-server ..."
    if ! start_server "$log" "Ready to accept connections" redis-server --port "$port" --bind "$ip" \
        --save '' --appendonly no --protected-mode no --daemonize no --logfile ''; then
        fail_keys "redis-server did not start: $(last_error "$log")" "${keys_all[@]}"
        return
    fi
    for r in "${redis_runs[@]}"; do
        read -r c p n <<<"$r"
        local out=$tmp/rb-$path-$c-$p.csv
        if over_budget; then
            for t in SET GET; do
                note["$path|redis-$t-c$c-P$p-rps"]="time budget spent"
                note["$path|redis-$t-c$c-P$p-p99"]="time budget spent"
            done
            continue
        fi
        "${cpre[@]}" redis-benchmark -h "$ip" -p "$port" -t set,get -n "$n" -c "$c" -P "$p" --csv \
            </dev/null >"$out" 2>&1
        local rc=$? line
        for t in SET GET; do
            # "SET","74626.87","0.422","0.160","0.407","0.631","0.743","1.135"
            line=$(grep "^\"$t\"," "$out" | tr -d '"')
            if [ $rc -ne 0 ] || [ -z "$line" ]; then
                fail_keys "redis-benchmark -c $c -P $p exit $rc: $(last_error "$out")" \
                    "redis-$t-c$c-P$p-rps" "redis-$t-c$c-P$p-p99"
                continue
            fi
            val["$path|redis-$t-c$c-P$p-rps"]=$(cut -d, -f2 <<<"$line" | cut -d. -f1)
            val["$path|redis-$t-c$c-P$p-p99"]=$(ms_to_us "$(cut -d, -f7 <<<"$line")")
        done
        say "  -c $c -P $p: SET ${val["$path|redis-SET-c$c-P$p-rps"]:-?} GET ${val["$path|redis-GET-c$c-P$p-rps"]:-?} req/s"
    done
    stop "$spid"
}

# --------------------------------------------------------------- sockperf
for proto in tcp udp; do
    row "sockperf-$proto-p50" "sockperf ping-pong $proto 64 B (full RTT)" "p50 us" low
    row "sockperf-$proto-p99" "sockperf ping-pong $proto 64 B (full RTT)" "p99 us" low
done

bench_sockperf() {
    local port log=$tmp/sockperf-$path.log proto out opt
    if over_budget; then
        for k in sockperf-{tcp,udp}-p{50,99}; do note["$path|$k"]="time budget spent"; done
        return
    fi
    port=$(free_port)
    printf 'T:%s:%s\nU:%s:%s\n' "$ip" "$port" "$ip" "$port" >"$tmp/feed-$path"
    say "$path: sockperf server ..."
    if ! start_server "$log" "to block on socket" sockperf server -f "$tmp/feed-$path"; then
        fail_keys "sockperf server did not start: $(last_error "$log")" sockperf-{tcp,udp}-p{50,99}
        return
    fi
    for proto in tcp udp; do
        out=$tmp/sp-$path-$proto.log
        opt=()
        [ "$proto" = tcp ] && opt=(--tcp)
        "${cpre[@]}" sockperf ping-pong "${opt[@]}" -i "$ip" -p "$port" -m 64 -t "$secs" --full-rtt \
            </dev/null 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >"$out"
        local rc=$? p50 p99
        p50=$(awk '$3 == "percentile" && $4 == "50.000" { print $6 }' "$out")
        p99=$(awk '$3 == "percentile" && $4 == "99.000" { print $6 }' "$out")
        if [ $rc -ne 0 ] || [ -z "$p50" ] || ! grep -q 'Summary: Round trip' "$out"; then
            fail_keys "sockperf ping-pong $proto exit $rc: $(last_error "$out")" "sockperf-$proto-p50" "sockperf-$proto-p99"
            continue
        fi
        val["$path|sockperf-$proto-p50"]=$p50
        val["$path|sockperf-$proto-p99"]=$p99
        say "  $proto 64 B: p50 $p50 us, p99 $p99 us"
    done
    stop "$spid"
}

# ------------------------------------------------------------ nginx + wrk
wrk_conns=(1 10 50)
wrk_keys=()
for c in "${wrk_conns[@]}"; do
    wrk_keys+=("wrk-c$c-rps" "wrk-c$c-p99")
    row "wrk-c$c-rps" "nginx + wrk -t1 -c $c, small page" "req/s" high
    row "wrk-c$c-p99" "nginx + wrk -t1 -c $c, small page" "p99 us" low
done

bench_nginx() {
    local port log=$tmp/nginx-$path.log c out dir=$tmp/nginx-$path
    if over_budget; then
        for k in "${wrk_keys[@]}"; do note["$path|$k"]="time budget spent"; done
        return
    fi
    port=$(free_port)
    mkdir -p "$dir/www"
    echo "<!doctype html><title>libdemi</title><p>bench/apps.sh</p>" >"$dir/www/index.html"
    cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log stderr notice;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    types { text/html html; }
    keepalive_requests 1000000;
    server {
        listen $ip:$port;
        root $dir/www;
    }
}
EOF
    say "$path: nginx ..."
    if ! start_server "$log" "getrlimit" nginx -c "$dir/nginx.conf" -e stderr; then
        fail_keys "nginx did not start: $(last_error "$log")" "${wrk_keys[@]}"
        return
    fi
    for c in "${wrk_conns[@]}"; do
        out=$tmp/wrk-$path-$c.log
        "${cpre[@]}" wrk -t1 -c "$c" -d "${secs}s" --timeout 5s --latency "http://$ip:$port/index.html" \
            </dev/null >"$out" 2>&1
        local rc=$? rps p99
        rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$out" | cut -d. -f1)
        p99=$(wrk_us "$(awk '$1 == "99%" { print $2 }' "$out")")
        if grep -Eq 'Socket errors|Non-2xx' "$out"; then
            fail_keys "wrk -c $c: $(grep -E 'requests in|Socket errors|Non-2xx' "$out" | tr -s ' ' | tr '\n' ';')" \
                "wrk-c$c-rps" "wrk-c$c-p99"
            continue
        fi
        if [ $rc -ne 0 ] || [ -z "$rps" ] || [ "$rps" -eq 0 ] || [ -z "$p99" ]; then
            fail_keys "wrk -c $c exit $rc: $(last_error "$out")" "wrk-c$c-rps" "wrk-c$c-p99"
            continue
        fi
        val["$path|wrk-c$c-rps"]=$rps
        val["$path|wrk-c$c-p99"]=$p99
        say "  -c $c: $rps req/s, p99 $p99 us"
    done
    stop "$spid"
}

# ----------------------------------------------------- native API, 64 B TCP
row "native-p50" "native API, TCP 64 B: demi-rtt | linux-rtt" "p50 us" low
row "native-p99" "native API, TCP 64 B: demi-rtt | linux-rtt" "p99 us" low

bench_native() {
    local port log=$tmp/rtt-$path.log out=$tmp/rtt-$path-c.log msgs=20000 warm=1000 bin
    if over_budget; then
        note["$path|native-p50"]="time budget spent"
        note["$path|native-p99"]="time budget spent"
        return
    fi
    port=$(free_port)
    # demi-rtt needs no shim: the same configs through LIBOS and CONFIG_PATH.
    # (spre and cpre are the callers'; these shadow them here and in
    # start_server.)
    local -a spre=("${spre[@]}") cpre=("${cpre[@]}")
    if [ "$path" = demi ]; then
        bin=$build/bench/demi-rtt
        spre=(timeout -k 5 "$limit" env LIBOS=catnip "CONFIG_PATH=$tmp/server.yaml")
        cpre=(timeout -k 5 "$limit" env LIBOS=catnip "CONFIG_PATH=$tmp/client.yaml")
    else
        bin=$build/bench/linux-rtt
    fi
    if [ ! -x "$bin" ]; then
        fail_keys "$bin not built" native-p50 native-p99
        return
    fi
    say "$path: $(basename "$bin") tcp 64 B ..."
    if ! start_server "$log" 'listening on|server ready' "$bin" --server "$ip" "$port" --proto tcp \
        --msgs "$msgs" --warmup "$warm"; then
        fail_keys "$(basename "$bin") server did not start: $(last_error "$log")" native-p50 native-p99
        return
    fi
    "${cpre[@]}" "$bin" --client "$ip" "$port" --proto tcp --size 64 --msgs "$msgs" --warmup "$warm" \
        </dev/null >"$out" 2>&1
    local rc=$? line
    line=$(grep ' RESULT ' "$out" | tail -n 1)
    [ -z "$line" ] && line=$(grep 'RESULT' "$out" | tail -n 1)
    if [ $rc -ne 0 ] || [ -z "$line" ]; then
        stop "$spid"
        fail_keys "$(basename "$bin") client exit $rc: $(last_error "$out")" native-p50 native-p99
        return
    fi
    wait "$spid" 2>/dev/null
    stop "$spid"
    val["$path|native-p50"]=$(awk -v v="$(sed -n 's/.* p50_ns=\([0-9]*\).*/\1/p' <<<"$line")" 'BEGIN { printf "%.2f", v / 1000 }')
    val["$path|native-p99"]=$(awk -v v="$(sed -n 's/.* p99_ns=\([0-9]*\).*/\1/p' <<<"$line")" 'BEGIN { printf "%.2f", v / 1000 }')
    say "  p50 ${val["$path|native-p50"]} us, p99 ${val["$path|native-p99"]} us"
}

# ------------------------------------- the same POSIX program on both paths
# bench/linux-rtt --busy-poll, a plain sockets program: under demirun on the
# libdemi path, on the kernel's loopback on the Linux one. Beside demi-rtt
# (the native API on the same memif path), its p50 is what the shim costs.
row "posix-p50" "POSIX linux-rtt --busy-poll, TCP 64 B" "p50 us" low
row "posix-p99" "POSIX linux-rtt --busy-poll, TCP 64 B" "p99 us" low

bench_posix_rtt() {
    local port log=$tmp/posix-$path.log out=$tmp/posix-$path-c.log msgs=20000 warm=1000
    local bin=$build/bench/linux-rtt rc line
    if over_budget; then
        note["$path|posix-p50"]="time budget spent"
        note["$path|posix-p99"]="time budget spent"
        return
    fi
    if [ ! -x "$bin" ]; then
        fail_keys "$bin not built" posix-p50 posix-p99
        return
    fi
    port=$(free_port)
    say "$path: linux-rtt --busy-poll tcp 64 B ..."
    if ! start_server "$log" 'listening on|server ready' "$bin" --server "$ip" "$port" --proto tcp --busy-poll \
        --msgs "$msgs" --warmup "$warm"; then
        fail_keys "linux-rtt server did not start: $(last_error "$log")" posix-p50 posix-p99
        return
    fi
    "${cpre[@]}" "$bin" --client "$ip" "$port" --proto tcp --size 64 --msgs "$msgs" --warmup "$warm" --busy-poll \
        </dev/null >"$out" 2>&1
    rc=$?
    line=$(grep 'RESULT' "$out" | tail -n 1)
    wait "$spid" 2>/dev/null
    stop "$spid"
    if [ $rc -ne 0 ] || [ -z "$line" ]; then
        fail_keys "linux-rtt client exit $rc: $(last_error "$out")" posix-p50 posix-p99
        return
    fi
    val["$path|posix-p50"]=$(awk -v v="$(sed -n 's/.* p50_ns=\([0-9]*\).*/\1/p' <<<"$line")" 'BEGIN { printf "%.2f", v / 1000 }')
    val["$path|posix-p99"]=$(awk -v v="$(sed -n 's/.* p99_ns=\([0-9]*\).*/\1/p' <<<"$line")" 'BEGIN { printf "%.2f", v / 1000 }')
    say "  p50 ${val["$path|posix-p50"]} us, p99 ${val["$path|posix-p99"]} us"
}

# The shim's ns per call (bench/shim-calls), under demirun over catloop.
shim_calls() {
    local bin=$build/bench/shim-calls
    [ -x "$bin" ] && [ -x "$demirun" ] || return
    printf 'demikernel:\n  local_ipv4_addr: 10.0.0.1\n' >"$tmp/loop.yaml"
    timeout -k 5 "$limit" taskset -c "$core_s" "$demirun" --libos catloop --config "$tmp/loop.yaml" \
        "$bin" 10.0.0.1 2>&1 | sed 's/^/  /'
    timeout -k 5 "$limit" taskset -c "$core_s" "$bin" 127.0.0.1 2>&1 | sed 's/^/  /'
}

# --------------------------------------------------------------------- run
missing=()
for t in redis-server redis-benchmark sockperf nginx wrk taskset python3; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "missing: ${missing[*]} (scripts/install-deps.sh installs them)"
    failures=$((failures + 1))
fi

say "libdemi (catnip memif, both ends under $demirun) against Linux loopback; each process bounded by ${limit}s, the run by ${budget}s"
for p in linux demi; do
    use_path "$p"
    if [ ${#missing[@]} -gt 0 ]; then
        for k in "${keys[@]}"; do note["$p|$k"]="missing: ${missing[*]}"; done
        continue
    fi
    if [ "$p" = demi ] && [ ! -x "$demirun" ]; then
        for k in "${keys[@]}"; do note["$p|$k"]="FAILED: demirun missing ($demirun)"; done
        failures=$((failures + 1))
        say "demi: FAILED: demirun missing: $demirun"
        bench_native
        continue
    fi
    bench_redis
    bench_sockperf
    bench_nginx
    bench_native
    bench_posix_rtt
done

# ------------------------------------------------------------------ report
speedup() { # key
    local d=${val["demi|$1"]:-} l=${val["linux|$1"]:-}
    if [ -z "$d" ] || [ -z "$l" ]; then
        echo "-"
    elif [ "${better[$1]}" = high ]; then
        awk -v a="$d" -v b="$l" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "-" }'
    else
        awk -v a="$l" -v b="$d" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "-" }'
    fi
}

cell() { # path key
    if [ -n "${val["$1|$2"]:-}" ]; then
        echo "${val["$1|$2"]}"
    elif [ "${note["$1|$2"]:0:7}" = FAILED: ]; then
        echo "FAILED"
    elif [ -n "${note["$1|$2"]:-}" ]; then
        echo "n/a"
    else
        echo "-"
    fi
}

mkdir -p "$results" 2>/dev/null
csv=$results/apps.csv
echo "benchmark,metric,libdemi,linux,speedup,note" >"$csv" 2>/dev/null
elapsed=$((SECONDS - start_s))
{
    echo "Applications: libdemi (catnip over DPDK memif, client and server both under tools/demirun) vs Linux loopback"
    echo "server on core $core_s, client on core $core_c; $(nproc) CPUs; unmodified Debian binaries"
    printf '%-44s %-7s %12s %12s %8s\n' benchmark metric libdemi Linux speedup
    for k in "${keys[@]}"; do
        printf '%-44s %-7s %12s %12s %8s\n' "${label[$k]}" "${unit[$k]}" "$(cell demi "$k")" "$(cell linux "$k")" "$(speedup "$k")"
        echo "\"${label[$k]}\",${unit[$k]},${val["demi|$k"]:-},${val["linux|$k"]:-},$(speedup "$k"),\"${note["demi|$k"]:-}${note["linux|$k"]:+ linux: ${note["linux|$k"]}}\"" >>"$csv" 2>/dev/null
    done
    echo "speedup: libdemi/Linux for req/s, Linux/libdemi for latencies (above 1: libdemi better)."
    echo "native API row: bench/demi-rtt over catnip memif vs bench/linux-rtt (blocking) over loopback, 20000 round trips."
    if [ -n "${val["demi|posix-p50"]:-}" ] && [ -n "${val["demi|native-p50"]:-}" ]; then
        echo "shim cost on the memif path: linux-rtt under demirun p50 ${val["demi|posix-p50"]} us - demi-rtt p50 ${val["demi|native-p50"]} us = $(awk -v a="${val["demi|posix-p50"]}" -v b="${val["demi|native-p50"]}" 'BEGIN { printf "%+.2f", a - b }') us"
    fi
    echo "ns per call (bench/shim-calls): the shim over catloop, then Linux sockets"
    shim_calls
    # The reasons behind n/a cells, once each.
    for p in demi linux; do
        for k in "${keys[@]}"; do
            [ -n "${note["$p|$k"]:-}" ] && echo "$p, ${label[$k]}: ${note["$p|$k"]}"
        done
    done | awk '!seen[$0]++'
    echo "Run time: ${elapsed} s. CSV: bench/results/apps.csv"
}

if [ "$failures" -ne 0 ]; then
    say "$failures measurement(s) failed"
    exit 1
fi
