#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# cattree-crash.sh BUILD_DIR: storage queues (<demi/storage.h>) across
# crashes. examples/log-server (LIBOS=catnap, the log beside it) is killed
# with SIGKILL at a random moment while its client streams records with
# many in flight, five times on one log; after each kill, demi-logcheck
# checks that every record the client saw acknowledged, in every round so
# far, is in the log, in order, byte-exact, at the sequence number its
# acknowledgement gave, and that libdemi's own read path (--via-api:
# demi_open O_RDONLY, demi_pop to the end) returns exactly the valid
# records and then the end. Each restart recovers the log (a new epoch) and
# appends after what is there.
#
# Then damage made by hand, where a kill rarely lands: a record torn inside
# its payload with garbage after it (demi-logcheck reports it torn; the API
# never returns it; a restart appends where it began, and the garbage is
# gone); an earlier epoch's records left after the end (the stale-record
# rule: whole and correctly numbered, yet not data); a write error
# (cattree.fault_write_eio): the server refuses from then on, what it
# acknowledged before stays, and a restart writes again.
#
# The logs live under BUILD_DIR (a disk file system, so O_DIRECT is the
# path tested; tmpfs would fall back to buffered writes). Every process is
# bounded; servers are killed and files removed on every exit path.
# Prints "ok - NAME" / "not ok - NAME (reason)" per case, then "N passed, M failed".
set -u

build=$(cd "${1:-build}" && pwd)
srv=$build/examples/log-server
lc=$build/tools/demi-logcheck
rounds=${CATTREE_CRASH_ROUNDS:-5}
for f in "$srv" "$lc"; do
    [ -x "$f" ] || { echo "not ok - $f is not built"; echo "0 passed, 1 failed"; exit 1; }
done

tmp=$(mktemp -d "$build/cattree-crash.XXXXXX")
pids=()
passed=0
failed=0
export LIBOS=catnap
# Whole demi_sgaalloc buffers of 8 KiB and more are written in place here
# whatever the disk (cattree.zero_copy auto turns that off on a disk with
# 4 KiB physical blocks, as this VM's): both write paths are tested.
export DEMI_CATTREE_ZERO_COPY=on

cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() {
    echo "ok - $1"
    passed=$((passed + 1))
}

# not_ok NAME REASON [LOG...]: the logs' last lines go to stderr, indented.
not_ok() {
    local name=$1 why=$2 log
    shift 2
    echo "not ok - $name ($why)"
    failed=$((failed + 1))
    for log in "$@"; do
        [ -s "$log" ] || continue
        echo "--- $(basename "$log")"
        tail -n 20 "$log"
    done | sed 's/^/# /' >&2
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 40000))
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

# start_server LOGFILE PORT OUT [ENV...]: log-server in the background (no
# timeout(1) between: $spid is the process a SIGKILL must reach). 0 once it
# listens.
start_server() {
    local log=$1 port=$2 out=$3
    shift 3
    env "$@" "$srv" --server 127.0.0.1 "$port" --log "$log" >"$out" 2>&1 &
    spid=$!
    pids+=("$spid")
    for _ in $(seq 100); do
        grep -q "listening on" "$out" 2>/dev/null && return 0
        kill -0 "$spid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# stop_server SIGNAL: its exit status (124: it did not stop within 20 s).
stop_server() {
    kill -"$1" "$spid" 2>/dev/null
    wait_rc "$spid" 20
}

# client PORT OUT ARGS...: log-server --client, bounded.
client() {
    local port=$1 out=$2
    shift 2
    timeout 60 "$srv" --client 127.0.0.1 "$port" "$@" >"$out" 2>&1
}

# The numbers of demi-logcheck's first line ("LOG: epoch E, R records, ...").
records_of() { sed -n 's/.*: epoch [0-9]*, \([0-9]*\) records,.*/\1/p' "$1" | head -n 1; }
epoch_of() { sed -n 's/.*: epoch \([0-9]*\), [0-9]* records,.*/\1/p' "$1" | head -n 1; }
acked_of() { sed -n 's/.*: \([0-9]*\) records acknowledged.*/\1/p' "$1" | head -n 1; }
recovered_of() { sed -n 's/.*listening on .*(\([0-9]*\) records)$/\1/p' "$1" | head -n 1; }

# check NAME RC_ALLOWED LOGFILE ARGS...: demi-logcheck ARGS LOGFILE, offline
# and then through the API; both must exit with a status in RC_ALLOWED
# ("0" or "0|1"). Sets $chk (the offline output).
check() {
    local name=$1 allowed=$2 log=$3 rc rca
    shift 3
    chk=$tmp/check.out
    "$lc" "$@" "$log" >"$chk" 2>&1
    rc=$?
    "$lc" --via-api "$@" "$log" >"$tmp/check-api.out" 2>&1
    rca=$?
    if ! [[ $rc =~ ^($allowed)$ ]]; then
        not_ok "$name" "demi-logcheck exit $rc" "$chk"
        return 1
    fi
    if ! [[ $rca =~ ^($allowed)$ ]] || ! grep -q -- "--via-api: [0-9]* records popped, each the file's, then the end" "$tmp/check-api.out"; then
        not_ok "$name" "demi-logcheck --via-api exit $rca" "$tmp/check-api.out"
        return 1
    fi
    return 0
}

# A payload byte of the record at position POS (length LEN) flipped.
flip_byte() {
    local log=$1 pos=$2 len=$3 off b
    off=$((4096 + pos + 24 + len / 2))
    b=$(od -An -tu1 -j "$off" -N1 "$log" | tr -d ' ')
    # shellcheck disable=SC2059
    printf "$(printf '\\%03o' $((b ^ 0xff)))" | dd of="$log" bs=1 seek="$off" conv=notrunc status=none
}

# ---- does io_uring work here? ------------------------------------------------

port=$(free_port)
if ! start_server "$tmp/probe.log" "$port" "$tmp/probe.out"; then
    if grep -q "Operation not supported" "$tmp/probe.out"; then
        echo "ok - storage queues # SKIP $(tail -n 1 "$tmp/probe.out")"
        echo "0 passed, 0 failed"
        exit 0
    fi
    not_ok "log-server starts with a log" "no 'listening on'" "$tmp/probe.out"
    echo "$passed passed, $failed failed"
    exit 1
fi
stop_server TERM >/dev/null
echo "# logs on $(stat -f -c %T "$tmp") ($tmp)"

# ---- kill -9 mid-stream, $rounds times on one log ------------------------------

log=$tmp/crash.log
sizes=(64 1024 65536 300 16384 8 262144)
prev=0
torn=0
: >"$tmp/acked-all.txt"
for round in $(seq "$rounds"); do
    size=${sizes[$(((round - 1) % ${#sizes[@]}))]}
    name="round $round: SIGKILL mid-stream (records of 1..$size B, 8 connections x 32 in flight)"
    port=$(free_port)
    if ! start_server "$log" "$port" "$tmp/server-$round.out"; then
        not_ok "$name" "the server did not start" "$tmp/server-$round.out"
        break
    fi
    if [ "$(recovered_of "$tmp/server-$round.out")" != "$prev" ]; then
        not_ok "$name" "the restarted server counted $(recovered_of "$tmp/server-$round.out") records through demi_pop, demi-logcheck $prev" "$tmp/server-$round.out"
    fi
    timeout 60 "$srv" --client 127.0.0.1 "$port" --records 100000000 --conns 8 --depth 32 --size "$size" \
        --seed "$round" --acked "$tmp/acked-$round.txt" >"$tmp/client-$round.out" 2>&1 &
    cpid=$!
    pids+=("$cpid")
    # 0.3 to 1.5 s into the stream.
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", 0.3 + r % 1200 / 1000 }')"
    kill -9 "$spid"
    wait "$spid" 2>/dev/null
    wait_rc "$cpid" 30
    rc=$?
    acked=$(acked_of "$tmp/client-$round.out")
    if [ "$rc" -ne 3 ] || [ -z "$acked" ] || [ "$acked" -eq 0 ]; then
        not_ok "$name" "client exit $rc (3: the server went away), ${acked:-no} records acknowledged" \
            "$tmp/client-$round.out" "$tmp/server-$round.out"
        break
    fi
    cat "$tmp/acked-$round.txt" >>"$tmp/acked-all.txt"
    total=$(grep -c . "$tmp/acked-all.txt")
    if ! check "$name" "0|1" "$log" --expect "$tmp/acked-all.txt"; then
        break
    fi
    records=$(records_of "$chk")
    tail=$(sed -n 's/^[^:]*: \(clean end\|torn record at.*\|stale record at.*\)$/\1/p' "$chk" | cut -c1-60)
    grep -q "torn\|stale" <<<"$tail" && torn=$((torn + 1))
    if [ "$(epoch_of "$chk")" != "$round" ]; then
        not_ok "$name" "epoch $(epoch_of "$chk") after $round opens for writing" "$chk"
    elif ! grep -q "all $total expected records found, in order, byte-exact" "$chk"; then
        not_ok "$name" "acknowledged records missing" "$chk"
    else
        ok "$name: $acked acknowledged this round; all $total of $round rounds in the log, byte-exact, offline and through demi_pop ($records records, $tail)"
    fi
    prev=$records
done
echo "# $torn of $rounds kills left a torn or stale tail"

# ---- a torn record, and garbage after it ----------------------------------------

log=$tmp/torn.log
port=$(free_port)
name="a clean stop: 2000 records, SIGTERM, clean end"
if start_server "$log" "$port" "$tmp/t1.out" &&
    client "$port" "$tmp/t1c.out" --records 2000 --conns 4 --depth 16 --size 300 --seed 11 --acked "$tmp/t1.txt"; then
    rc=0
    stop_server TERM || rc=$?
    if [ "$rc" -ne 0 ] || ! grep -q "2000 records (.*) appended" "$tmp/t1.out"; then
        not_ok "$name" "server exit $rc" "$tmp/t1.out"
    elif check "$name" 0 "$log" --expect "$tmp/t1.txt" && grep -q "2000 records" "$chk" && grep -q "clean end" "$chk"; then
        ok "$name"
    fi
else
    not_ok "$name" "the run failed" "$tmp/t1.out" "$tmp/t1c.out"
fi

# The last record: "seq pos epoch len".
read -r lseq lpos _ llen < <("$lc" --list "$log" 2>/dev/null | tail -n 1)
lseq=${lseq:-0} lpos=${lpos:-0} llen=${llen:-0}
flip_byte "$log" "$lpos" "$llen"
end=$((4096 + lpos + 24 + (llen + 7) / 8 * 8))
head -c 16384 /dev/urandom | dd of="$log" bs=1 seek="$end" conv=notrunc status=none
head -n "$lseq" "$tmp/t1.txt" >"$tmp/t1-kept.txt"

name="a payload byte of the last record flipped, 16 KiB of garbage after it: torn at its position"
if check "$name" 1 "$log" --expect "$tmp/t1-kept.txt"; then
    if grep -q "$lseq records," "$chk" && grep -q "torn record at position $lpos: .*CRC32C does not match" "$chk" &&
        grep -q "all $lseq expected records found" "$chk" &&
        grep -q -- "--via-api: $lseq records popped" "$tmp/check-api.out"; then
        ok "$name ($lseq records before it, offline and through demi_pop)"
    else
        not_ok "$name" "wrong report" "$chk" "$tmp/check-api.out"
    fi
fi
name="the torn record is not the acknowledged one: --expect of all 2000 fails naming it"
"$lc" --expect "$tmp/t1.txt" "$log" >"$tmp/t1-all.out" 2>&1
rc=$?
if [ "$rc" -eq 3 ] && grep -q "record $lseq missing" "$tmp/t1-all.out"; then
    ok "$name"
else
    not_ok "$name" "exit $rc" "$tmp/t1-all.out"
fi
name="LIBOS=cattree reads the torn log through demi_pop: $lseq records, then the end"
LIBOS=cattree "$lc" --via-api "$log" >"$tmp/t1-tree.out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q -- "--via-api: $lseq records popped, each the file's, then the end" "$tmp/t1-tree.out"; then
    ok "$name"
else
    not_ok "$name" "exit $rc" "$tmp/t1-tree.out"
fi

name="restart after the torn record: recovered at $lseq records, appends begin there, garbage cleared"
port=$(free_port)
if start_server "$log" "$port" "$tmp/t2.out" &&
    client "$port" "$tmp/t2c.out" --records 20 --conns 1 --depth 4 --size 100 --fixed --seed 12 --acked "$tmp/t2.txt"; then
    stop_server TERM >/dev/null
    cat "$tmp/t1-kept.txt" "$tmp/t2.txt" >"$tmp/t12.txt"
    if [ "$(recovered_of "$tmp/t2.out")" != "$lseq" ] || ! grep -q "torn record at position $lpos" "$tmp/t2.out"; then
        not_ok "$name" "no warning of the torn record, or $(recovered_of "$tmp/t2.out") records recovered" "$tmp/t2.out"
    elif [ "$(head -c ${#lseq} "$tmp/t2.txt")" != "$lseq" ]; then
        not_ok "$name" "the first append was acknowledged as $(cut -d' ' -f1 "$tmp/t2.txt" | head -n 1)" "$tmp/t2.txt"
    elif check "$name" 0 "$log" --expect "$tmp/t12.txt"; then
        if grep -q "epoch 2, $((lseq + 20)) records" "$chk" && grep -q "clean end" "$chk" &&
            grep -q "all $((lseq + 20)) expected records found" "$chk"; then
            ok "$name (epoch 2, $((lseq + 20)) records, clean end)"
        else
            not_ok "$name" "wrong report" "$chk"
        fi
    fi
else
    not_ok "$name" "the run failed" "$tmp/t2.out" "$tmp/t2c.out"
fi

# ---- an earlier epoch's records after the end (the stale-record rule) ---------

# 200 records of 100 bytes (128 framed: record k at position 128 k); record
# 195 torn; a restart writes one record in its place (epoch 2), and epoch
# 1's records 196..199 are put back after it: whole, their CRCs right,
# record 196 even has the sequence number expected there. They are stale,
# never data.
log=$tmp/stale.log
port=$(free_port)
name="an earlier epoch's records after the end are stale: not returned, overwritten by the next appends"
if start_server "$log" "$port" "$tmp/s1.out" &&
    client "$port" "$tmp/s1c.out" --records 200 --conns 2 --depth 8 --size 100 --fixed --seed 21 --acked "$tmp/s1.txt" &&
    stop_server TERM >/dev/null && cp "$log" "$tmp/stale-epoch1.log" && flip_byte "$log" $((195 * 128)) 100 &&
    port=$(free_port) && start_server "$log" "$port" "$tmp/s2.out" &&
    client "$port" "$tmp/s2c.out" --records 1 --conns 1 --size 100 --fixed --seed 22 --acked "$tmp/s2.txt" &&
    stop_server TERM >/dev/null; then
    dd if="$tmp/stale-epoch1.log" of="$log" bs=128 skip=$(((4096 + 196 * 128) / 128)) seek=$(((4096 + 196 * 128) / 128)) \
        count=4 conv=notrunc status=none
    { head -n 195 "$tmp/s1.txt"; cat "$tmp/s2.txt"; } >"$tmp/s12.txt"
    if ! grep -q "^195 " "$tmp/s2.txt"; then
        not_ok "$name" "the record after the torn one was acknowledged as $(cut -d' ' -f1 "$tmp/s2.txt")" "$tmp/s2.out"
    elif check "$name" 1 "$log" --expect "$tmp/s12.txt"; then
        if grep -q "epoch 2, 196 records" "$chk" &&
            grep -q "stale record at position $((196 * 128)): seq 196, epoch 1, .*left by an earlier epoch" "$chk" &&
            grep -q "all 196 expected records found" "$chk" &&
            grep -q -- "--via-api: 196 records popped" "$tmp/check-api.out"; then
            port=$(free_port)
            if start_server "$log" "$port" "$tmp/s3.out" &&
                client "$port" "$tmp/s3c.out" --records 2 --conns 1 --size 100 --fixed --seed 23 --acked "$tmp/s3.txt" &&
                stop_server TERM >/dev/null; then
                cat "$tmp/s12.txt" "$tmp/s3.txt" >"$tmp/s123.txt"
                if ! grep -q "earlier epoch's record at position $((196 * 128))" "$tmp/s3.out"; then
                    not_ok "$name" "the restart did not report the stale record" "$tmp/s3.out"
                elif check "$name" 0 "$log" --expect "$tmp/s123.txt" && grep -q "epoch 3, 198 records" "$chk" &&
                    grep -q "clean end" "$chk"; then
                    ok "$name (196 valid, 4 stale; after a restart 198 records, epoch 3, clean end)"
                else
                    not_ok "$name" "after the restart" "$chk"
                fi
            else
                not_ok "$name" "the second restart failed" "$tmp/s3.out" "$tmp/s3c.out"
            fi
        else
            not_ok "$name" "wrong report" "$chk" "$tmp/check-api.out"
        fi
    fi
else
    not_ok "$name" "a run failed" "$tmp/s1.out" "$tmp/s1c.out" "$tmp/s2.out" "$tmp/s2c.out"
fi

# ---- a write error -----------------------------------------------------------

# The 20th group write fails (cattree.fault_write_eio): that push and every
# later one fail; the server refuses from then on; what it acknowledged
# before is in the log; a restart recovers and appends.
log=$tmp/eio.log
port=$(free_port)
name="a write error (cattree.fault_write_eio=20): acknowledged records kept, the rest refused, a restart writes again"
if start_server "$log" "$port" "$tmp/e1.out" DEMI_CATTREE_FAULT_WRITE_EIO=20; then
    client "$port" "$tmp/e1c.out" --records 20000 --conns 4 --depth 16 --size 200 --seed 31 --acked "$tmp/e1.txt"
    rc=$?
    stop_server TERM >/dev/null
    acked=$(acked_of "$tmp/e1c.out")
    refused=$(sed -n 's/.* records acknowledged .*, \([0-9]*\) refused, .*/\1/p' "$tmp/e1c.out" | head -n 1)
    if [ "$rc" -ne 0 ] || [ -z "$acked" ] || [ "${refused:-0}" -eq 0 ] || ! grep -q "the log failed: Input/output error" "$tmp/e1.out"; then
        not_ok "$name" "client exit $rc, ${acked:-?} acknowledged, ${refused:-?} refused" "$tmp/e1.out" "$tmp/e1c.out"
    elif check "$name" "0|1" "$log" --expect "$tmp/e1.txt"; then
        port=$(free_port)
        if start_server "$log" "$port" "$tmp/e2.out" &&
            client "$port" "$tmp/e2c.out" --records 500 --conns 2 --depth 8 --size 200 --seed 32 --acked "$tmp/e2.txt" &&
            stop_server TERM >/dev/null && cat "$tmp/e1.txt" "$tmp/e2.txt" >"$tmp/e12.txt" &&
            check "$name" 0 "$log" --expect "$tmp/e12.txt"; then
            ok "$name ($acked acknowledged, $refused refused; 500 more after the restart)"
        else
            not_ok "$name" "the restart" "$tmp/e2.out" "$tmp/e2c.out" "$chk"
        fi
    fi
else
    not_ok "$name" "the server did not start" "$tmp/e1.out"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
