#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# storage.sh [BUILD_DIR]: durable appends through libdemi's storage queues
# (LIBOS=cattree) against the baselines, and a durable log server's request
# latency, one table each. Run at the end of bench/run-bench.sh (make
# bench), or alone.
#
# Everything runs in one directory on disk (BENCH_STORAGE_DIR, /var/tmp; a
# tmpfs is refused: no O_DIRECT, no device flush), removed at the end.
#
# 1. Appends of 64 B, 4 KiB and 64 KiB records, each durable before it
#    completes (build/bench/bench_storage, then fio):
#    - libdemi: demi_creat a fresh log, demi_push from demi_sgaalloc
#      buffers; depth 1 (push, wait, push ...): p50/p99 of each push;
#      depth 32 (32 pushes in flight, demi_wait_next_n): appends/s.
#    - pwrite + fdatasync per record on a file grown by fallocate in 64 MiB
#      steps as libdemi grows its log; serial, so its depth-32 figure is its
#      depth-1 rate.
#    - fio --ioengine=io_uring --rw=write --direct=1 --sync=dsync
#      --fallocate=native: O_DSYNC on an O_DIRECT file makes every write
#      durable by itself (a flush or FUA with the write), which is what
#      libdemi's RWF_DSYNC does per write; --fdatasync=1 would add a second
#      operation per write that fio runs only once the writes before it are
#      done, which neither libdemi nor a depth of 32 does. --bs is libdemi's
#      write of one record: the 24-byte header and the payload padded to 8,
#      rounded up to 512 (O_DIRECT writes whole sectors: a 64 B record is a
#      512 B write). clat p50/p99 and lat p50 (slat + clat) from
#      --output-format=json (jq).
#    Targets (issue 17): libdemi's depth-1 p50 within 10 % of fio's p50
#    (judged against clat and against lat: libdemi's figure, from demi_push
#    on, includes the submission that clat leaves out); libdemi's depth-32
#    appends/s at least 5x pwrite + fdatasync's.
# 2. A log server's request latency, one connection, one 64 B request in
#    flight: examples/log-server (each request appended to a storage queue,
#    answered once durable) on LIBOS=catnap and on catnip over DPDK memif,
#    and bench/log-server-linux (kernel sockets, write + fdatasync per
#    request). The client is bench/log-rtt (kernel sockets) on loopback,
#    the same for catnap and Linux, and bench/log-rtt-demi (the same
#    program over libdemi) on catnip's memif peer. Server on core 0, client
#    on core 1. Ratio: Linux p50 / this p50 (above 1: libdemi is faster).
#
# Each cell is measured in BENCH_STORAGE_ROUNDS rounds (3) of
# BENCH_STORAGE_SECS seconds (1, after 0.25 s of warm-up), the three
# appenders of a size one after the other in every round, and the table
# gives the median of the rounds: the disk of a shared machine changes speed
# from minute to minute, and a comparison is fair only between runs close in
# time. The whole run takes about a minute and a half.
#
# Also writes bench/results/storage.csv (every round's p50 in its notes) and
# rewrites the section of docs/performance.md (BENCH_DOC; empty: leave it)
# between <!-- storage:begin --> and <!-- storage:end -->. Other tunables:
# BENCH_STORAGE_DIR (/var/tmp), BENCH_STORAGE_TIMEOUT (60 s per process).
# Exit status 1 if any measurement failed.
set -u -o pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" 2>/dev/null && pwd) || {
    echo "bench-storage: no build directory '${1:-build}'" >&2
    exit 1
}
bin=$build/bench
log_server=$build/examples/log-server
results=$repo/bench/results
doc=${BENCH_DOC-$repo/docs/performance.md}
secs=${BENCH_STORAGE_SECS:-1}
rounds=${BENCH_STORAGE_ROUNDS:-3}
limit=${BENCH_STORAGE_TIMEOUT:-60}
base_dir=${BENCH_STORAGE_DIR:-/var/tmp}
sizes=(64 4096 65536)
depth=32
failures=0
start_s=$SECONDS
pids=()
# DPDK's runtime directories (one per --file-prefix) and the memif socket.
dpdk_prefix=demi-bench-storage-$$
memif_sock=/tmp/demi-bench-storage-$$.sock
if [ "$(id -u)" -eq 0 ]; then
    dpdk_rundir=/var/run/dpdk
else
    dpdk_rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk
fi

say() {
    echo "bench-storage: $*" >&2
}

work=$(mktemp -d "$base_dir/demi-bench-storage.XXXXXX") || {
    say "cannot make a directory in $base_dir"
    exit 1
}
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    pids=()
    rm -rf "$work" "$dpdk_rundir/$dpdk_prefix"-* "$memif_sock"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fs_type=$(findmnt -n -o FSTYPE -T "$work" 2>/dev/null || stat -f -c %T "$work")
fs_dev=$(df --output=source "$work" | tail -n 1)
if [ "$fs_type" = tmpfs ] || [ "$fs_type" = ramfs ]; then
    say "$base_dir is $fs_type: no disk under it (BENCH_STORAGE_DIR=a directory on disk)"
    exit 1
fi
where="$fs_type on $fs_dev, in $base_dir"
mkdir -p "$results" || exit 1

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
    [ -n "$1" ] && awk -v v="$1" 'BEGIN { printf "%.1f", v / 1000 }'
}

# fio's write of one record: header and payload padded to 8, whole sectors.
record_bs() {
    local framed=$((24 + ($1 + 7) / 8 * 8))
    echo $(((framed + 511) / 512 * 512))
}

last_error() {
    grep . "$1" 2>/dev/null | tail -n 1 | tr ',' ';' | cut -c1-160
}

# ------------------------------------------------- libdemi, pwrite and fio
# Size by size, the three side by side in time, in $rounds rounds: the disk
# of a shared machine changes speed from minute to minute, and the median
# of the rounds is what is kept.

declare -A m # "impl|size|depth|metric" -> the rounds' values, one per word
add() {
    [ -n "$2" ] && m["$1"]="${m["$1"]:-}${m["$1"]:+ }$2"
}
# The median of the rounds (the lower middle one of an even count).
median() {
    local v=${m["$1"]:-}
    [ -n "$v" ] && tr ' ' '\n' <<<"$v" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

fio_ver=
if ! command -v fio >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
    say "fio or jq not installed (scripts/install-deps.sh): no fio column"
    failures=$((failures + 1))
else
    fio_ver=$(fio --version)
fi
[ -x "$bin/bench_storage" ] || {
    say "$bin/bench_storage not found: build first"
    failures=$((failures + 1))
}
for round in $(seq "$rounds"); do
    for size in "${sizes[@]}"; do
        if [ -x "$bin/bench_storage" ]; then
            say "round $round, $(human_size "$size"): pwrite + fdatasync, libdemi (LIBOS=cattree) depth 1 and $depth ..."
            if timeout "$limit" env LIBOS=cattree taskset -c "$core_c" "$bin/bench_storage" --dir "$work" \
                --secs "$secs" --depth "$depth" "$size" >"$work/bench_storage.log" 2>&1; then
                while read -r line; do
                    k="$(field impl "$line")|$size|$(field depth "$line")"
                    add "$k|p50" "$(field p50_ns "$line")"
                    add "$k|p99" "$(field p99_ns "$line")"
                    add "$k|rate" "$(field per_s "$line")"
                    add "$k|rpw" "$(awk -v a="$(field records "$line")" -v b="$(field writes "$line")" \
                        'BEGIN { if (b > 0) printf "%.2f", a / b }')"
                done < <(grep ' RESULT ' "$work/bench_storage.log")
            else
                say "  FAILED: $(last_error "$work/bench_storage.log")"
                failures=$((failures + 1))
            fi
        fi
        [ -n "$fio_ver" ] || continue
        bs=$(record_bs "$size")
        for qd in 1 "$depth"; do
            say "round $round, fio io_uring, bs $bs, iodepth $qd ..."
            # 1 GiB, preallocated: no run here wraps around to blocks
            # already written, which cost less than fresh ones.
            if timeout "$limit" taskset -c "$core_c" fio --name=append --filename="$work/fio.dat" \
                --ioengine=io_uring --rw=write --direct=1 --sync=dsync --fallocate=native \
                --bs="$bs" --size=1G --iodepth="$qd" --time_based --runtime="$secs" --ramp_time=0.25 \
                --lat_percentiles=1 --output-format=json >"$work/fio.json" 2>"$work/fio.err"; then
                read -r f50 f99 fiops flat50 < <(jq -r '.jobs[0].write | "\(.clat_ns.percentile["50.000000"]) \(.clat_ns.percentile["99.000000"]) \(.iops) \(.lat_ns.percentile["50.000000"])"' "$work/fio.json")
                add "fio|$size|$qd|p50" "$f50"
                add "fio|$size|$qd|p99" "$f99"
                add "fio|$size|$qd|rate" "$(printf '%.0f' "$fiops")"
                add "fio|$size|$qd|lat50" "$flat50"
            else
                say "  FAILED: $(last_error "$work/fio.err")"
                failures=$((failures + 1))
            fi
            rm -f "$work/fio.dat"
        done
    done
done

# ------------------------------------------------------------- log server

# serve NAME: "${srv_cmd[@]}" (listening on $port) in the background until
# it says "listening", then "${cli_cmd[@]}" (a log-rtt) against it, then
# SIGTERM. Sets out (the client's RESULT line) and why.
serve() {
    local name=$1 spid rc
    out=
    why=
    "${srv_cmd[@]}" >"$work/server.log" 2>&1 &
    spid=$!
    pids=("$spid")
    for _ in $(seq 100); do
        grep -q 'listening on' "$work/server.log" && break
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    if grep -q 'listening on' "$work/server.log"; then
        "${cli_cmd[@]}" >"$work/client.log" 2>&1
        rc=$?
        out=$(grep ' RESULT ' "$work/client.log" | tail -n 1)
        [ -z "$out" ] && why="client exit $rc: $(last_error "$work/client.log")"
    else
        why="server did not start: $(last_error "$work/server.log")"
    fi
    kill -TERM "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    pids=()
    grep -h -E 'records per write|appended|fdatasyncs' "$work/server.log" | sed "s/^/bench-storage:   $name: /" >&2
    rm -rf "$work/server.dat" "$dpdk_rundir/$dpdk_prefix"-* "$memif_sock"
}

# catnip over DPDK memif, the pair of scripts/demo.sh: the server on lcore
# 0, log-rtt-demi on lcore 1 (EAL pins them).
# shellcheck source=scripts/memif-config.sh
. "$repo/scripts/memif-config.sh"
memif_config server 10.99.0.1 10.99.0.2 "$core_s" "$work/catnip-server.yaml" "$dpdk_prefix" "$memif_sock"
memif_config client 10.99.0.2 10.99.0.1 "$core_c" "$work/catnip-client.yaml" "$dpdk_prefix" "$memif_sock"

declare -A srv_why # name -> why it has no figures
srv_names=("log-server, catnap + cattree" "log-server, catnip memif + cattree" "write + fdatasync, Linux sockets")
[ -x "$log_server" ] || {
    srv_why[${srv_names[0]}]="n/a ($log_server not built)"
    srv_why[${srv_names[1]}]="n/a ($log_server not built)"
}
[ -x "$bin/memif-pingpong" ] && [ -x "$bin/log-rtt-demi" ] ||
    srv_why[${srv_names[1]}]="n/a (libdemi built without DPDK)"
rtt_opts=(--size 64 --msgs 1000000 --warmup 50 --secs "$secs")
for round in $(seq "$rounds"); do
    for name in "${srv_names[@]}"; do
        [ -n "${srv_why[$name]:-}" ] && continue
        say "round $round, log server: $name, 64 B requests, one in flight ..."
        port=$((20000 + RANDOM % 40000))
        case $name in
        *catnap*)
            srv_cmd=(timeout "$limit" taskset -c "$core_s" env LIBOS=catnap "$log_server" --server 127.0.0.1 "$port"
                --log "$work/server.dat")
            cli_cmd=(timeout "$limit" taskset -c "$core_c" "$bin/log-rtt" 127.0.0.1 "$port" "${rtt_opts[@]}")
            ;;
        *catnip*)
            srv_cmd=(timeout "$limit" env LIBOS=catnip "CONFIG_PATH=$work/catnip-server.yaml" "$log_server"
                --server 10.99.0.1 "$port" --log "$work/server.dat")
            cli_cmd=(timeout "$limit" env LIBOS=catnip "CONFIG_PATH=$work/catnip-client.yaml" "$bin/log-rtt-demi"
                10.99.0.1 "$port" "${rtt_opts[@]}")
            ;;
        *)
            srv_cmd=(timeout "$limit" taskset -c "$core_s" "$bin/log-server-linux" 127.0.0.1 "$port"
                --log "$work/server.dat")
            cli_cmd=(timeout "$limit" taskset -c "$core_c" "$bin/log-rtt" 127.0.0.1 "$port" "${rtt_opts[@]}")
            ;;
        esac
        serve "$name"
        if [ -n "$out" ]; then
            add "$name|p50" "$(field p50_ns "$out")"
            add "$name|p99" "$(field p99_ns "$out")"
            add "$name|rate" "$(field per_s "$out")"
        else
            srv_why[$name]="FAILED ($why)"
            say "  FAILED: $why"
            failures=$((failures + 1))
        fi
    done
done


# ----------------------------------------------------------------- report

elapsed=$((SECONDS - start_s))
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
machine="$(nproc) CPUs ($cpu), Linux $(uname -r), $where"
command_line="bash bench/storage.sh $(basename "$build")"
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)

csv=$results/storage.csv
echo "section,size_bytes,depth,impl,p50_us,p99_us,per_s,note" >"$csv"

# One row per size and depth: "size|depth|demi50|demi99|demi/s|pw50|pw99|pw/s|
# fio bs|fio50|fio99|fio/s|ratio|target"
rows=()
for size in "${sizes[@]}"; do
    for qd in 1 "$depth"; do
        d50=$(ns_to_us "$(median "libdemi|$size|$qd|p50")")
        d99=$(ns_to_us "$(median "libdemi|$size|$qd|p99")")
        dps=$(median "libdemi|$size|$qd|rate")
        rpw=$(median "libdemi|$size|$qd|rpw")
        p50=$(ns_to_us "$(median "pwrite|$size|1|p50")")
        p99=$(ns_to_us "$(median "pwrite|$size|1|p99")")
        pps=$(median "pwrite|$size|1|rate")
        f50=$(ns_to_us "$(median "fio|$size|$qd|p50")")
        f99=$(ns_to_us "$(median "fio|$size|$qd|p99")")
        fps=$(median "fio|$size|$qd|rate")
        flat50=$(ns_to_us "$(median "fio|$size|$qd|lat50")")
        bs=$(record_bs "$size")
        ratio=- target=-
        if [ "$qd" -eq 1 ] && [ -n "$d50" ] && [ -n "$f50" ]; then
            # Against fio's clat (the issue's measure) and its lat (slat +
            # clat: from the submission, as libdemi's figure is).
            ratio=$(awk -v a="$d50" -v b="$f50" -v c="$flat50" 'BEGIN { printf "%.2f/%.2f", a / b, a / c }')
            target=$(awk -v a="$d50" -v b="$f50" -v c="$flat50" 'function v(r) {
                    return r <= 1.10 ? "met" : sprintf("MISSED +%.0f%%", (r - 1) * 100) }
                BEGIN { printf "<= 1.10x fio: clat %s, lat %s\n", v(a / b), v(a / c) }')
        elif [ "$qd" -ne 1 ] && [ -n "$dps" ] && [ -n "$pps" ]; then
            ratio=$(awk -v a="$dps" -v b="$pps" 'BEGIN { printf "%.1f", a / b }')
            target=$(awk -v r="$ratio" 'BEGIN { if (r >= 5) print ">= 5x pwrite: met"; else printf ">= 5x pwrite: MISSED (%.1fx)\n", r }')
        fi
        rows+=("$size|$qd|$d50|$d99|$dps|$p50|$p99|$pps|$bs|$f50|$f99|$fps|$ratio|$target")
        echo "appends,$size,$qd,libdemi,$d50,$d99,$dps,\"p50 of the rounds: ${m["libdemi|$size|$qd|p50"]:-} ns; $rpw records per write\"" >>"$csv"
        [ "$qd" -eq 1 ] && echo "appends,$size,1,pwrite+fdatasync,$p50,$p99,$pps,\"p50 of the rounds: ${m["pwrite|$size|1|p50"]:-} ns\"" >>"$csv"
        echo "appends,$size,$qd,fio io_uring bs $bs,$f50,$f99,$fps,\"clat; p50 of the rounds: ${m["fio|$size|$qd|p50"]:-} ns; lat (slat + clat) p50 $flat50 us\"" >>"$csv"
    done
done

lin50=$(ns_to_us "$(median "${srv_names[2]}|p50")")
srv_rows=()
for name in "${srv_names[@]}"; do
    if [ -z "${srv_why[$name]:-}" ]; then
        s50=$(ns_to_us "$(median "$name|p50")")
        s99=$(ns_to_us "$(median "$name|p99")")
        sps=$(median "$name|rate")
        sratio=-
        [ -n "$lin50" ] && sratio=$(awk -v a="$lin50" -v b="$s50" 'BEGIN { printf "%.2f", a / b }')
        srv_rows+=("$name|$s50|$s99|$sps|$sratio")
        echo "log-server,64,1,\"$name\",$s50,$s99,$sps,\"ratio $sratio; p50 of the rounds: ${m["$name|p50"]:-} ns\"" >>"$csv"
    else
        srv_rows+=("$name|${srv_why[$name]}")
        echo "log-server,64,1,\"$name\",,,,\"${srv_why[$name]}\"" >>"$csv"
    fi
done

print_tables() {
    local r size qd d50 d99 dps p50 p99 pps bs f50 f99 fiops ratio target
    echo
    echo "storage: durable appends ($machine; median of $rounds rounds of ${secs} s per cell)"
    printf '%-7s %3s  %-21s %9s  %-21s %9s  %7s %-21s %9s  %9s  %s\n' size qd "libdemi p50 / p99 µs" "appends/s" \
        "pwrite+fdatasync µs" "appends/s" "fio bs" "fio clat p50 / p99 µs" "IOPS" ratio target
    for r in "${rows[@]}"; do
        IFS='|' read -r size qd d50 d99 dps p50 p99 pps bs f50 f99 fiops ratio target <<<"$r"
        if [ "$qd" -ne 1 ]; then p50=serial p99=; fi
        printf '%-7s %3s  %9s / %-9s %9s  %9s / %-9s %9s  %7s %9s / %-9s %9s  %9s  %s\n' "$(human_size "$size")" "$qd" \
            "${d50:-n/a}" "$d99" "${dps:-n/a}" "${p50:-n/a}" "$p99" "${pps:-n/a}" "$bs B" "${f50:-n/a}" "$f99" \
            "${fiops:-n/a}" "$ratio" "$target"
    done
    echo "ratio: depth 1, libdemi p50 / fio clat p50 and / fio lat p50 (slat + clat: from the submission on, as"
    echo "libdemi's figure is); depth $depth, libdemi appends/s / pwrite+fdatasync appends/s"
    echo
    echo "storage: log server, 64 B requests, one in flight (client bench/log-rtt; catnip: log-rtt-demi)"
    printf '%-40s %10s %10s %10s %8s\n' server "p50 µs" "p99 µs" "req/s" ratio
    for r in "${srv_rows[@]}"; do
        IFS='|' read -r name s50 s99 sps sratio <<<"$r"
        if [ -n "$s99" ]; then
            printf '%-40s %10s %10s %10s %8s\n' "$name" "$s50" "$s99" "$sps" "$sratio"
        else
            printf '%-40s %s\n' "$name" "$s50"
        fi
    done
    echo "ratio: write + fdatasync p50 / this row's p50 (above 1: faster than the kernel baseline)"
}

md_section() {
    local r size qd d50 d99 dps p50 p99 pps bs f50 f99 fiops ratio target name s50 s99 sps sratio
    echo "<!-- storage:begin -->"
    echo "<!-- Written by bench/storage.sh (make bench); edits between these markers are overwritten. -->"
    echo "### Latest run"
    echo
    echo "Machine: $machine. Generated $(date -u '+%Y-%m-%d %H:%M UTC') in ${elapsed} s; every cell the median of"
    echo "$rounds rounds of ${secs} s after 0.25 s of warm-up (the log server: after 50 requests). ${fio_ver:-fio missing}."
    echo "Command: \`$command_line\` (or \`make bench\`), libdemi at $commit."
    echo
    echo "| size | depth | libdemi p50 µs | p99 µs | appends/s | pwrite+fdatasync p50 µs | p99 µs | appends/s | fio bs | fio clat p50 µs | p99 µs | IOPS | ratio | target |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for r in "${rows[@]}"; do
        IFS='|' read -r size qd d50 d99 dps p50 p99 pps bs f50 f99 fiops ratio target <<<"$r"
        if [ "$qd" -ne 1 ]; then p50="(serial)" p99=; fi
        echo "| $(human_size "$size") | $qd | ${d50:-n/a} | $d99 | ${dps:-n/a} | ${p50:-n/a} | $p99 | ${pps:-n/a} | $bs B | ${f50:-n/a} | $f99 | ${fiops:-n/a} | $ratio | $target |"
    done
    echo
    echo "| log server, 64 B, one request in flight | p50 µs | p99 µs | requests/s | Linux p50 / p50 |"
    echo "|---|---|---|---|---|"
    for r in "${srv_rows[@]}"; do
        IFS='|' read -r name s50 s99 sps sratio <<<"$r"
        if [ -n "$s99" ]; then echo "| $name | $s50 | $s99 | $sps | $sratio |"; else echo "| $name | $s50 | | | |"; fi
    done
    echo
    echo "CSV: bench/results/storage.csv."
    echo "<!-- storage:end -->"
}

print_tables

if [ -n "$doc" ] && [ -f "$doc" ]; then
    if grep -q '<!-- storage:begin -->' "$doc" && grep -q '<!-- storage:end -->' "$doc"; then
        md_section >"$work/section.md"
        awk -v sec="$work/section.md" '
            /<!-- storage:begin -->/ { while ((getline l < sec) > 0) print l; skip = 1; next }
            /<!-- storage:end -->/ { skip = 0; next }
            !skip { print }' "$doc" >"$work/doc.md" && cat "$work/doc.md" >"$doc"
        say "updated the storage section of $doc"
    else
        say "$doc has no <!-- storage:begin --> / <!-- storage:end --> markers: left as it is"
    fi
fi

say "done in $((SECONDS - start_s)) s"
if [ "$failures" -ne 0 ]; then
    say "$failures measurement(s) failed"
    exit 1
fi
