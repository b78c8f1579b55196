#!/bin/bash
# bench/catloop-rtt.sh [BUILD_DIR]: catloop.mode host vs catmem vs Linux TCP loopback,
# 64 B ping-pong between two processes (docs/performance.md). Figures only.
B=${1:-build}
N=20000 W=2000
uptime
run() { # name env... -- prog
    local name=$1; shift
    env "$@" $B/bench/demi-rtt --server 127.0.0.1 $P --proto tcp >/dev/null 2>&1 & local s=$!
    sleep 0.5
    env "$@" $B/bench/demi-rtt --client 127.0.0.1 $P --proto tcp --size 64 --msgs $N --warmup $W 2>&1 | grep RESULT | sed "s/^/$name: /"
    wait $s
}
P=$((40000 + RANDOM % 1000))
run catloop-host LIBOS=catloop DEMI_CATLOOP_MODE=host
P=$((P + 1))
$B/bench/linux-rtt --server 127.0.0.1 $P --proto tcp --busy-poll >/dev/null 2>&1 & s=$!; sleep 0.3
$B/bench/linux-rtt --client 127.0.0.1 $P --proto tcp --size 64 --msgs $N --warmup $W --busy-poll | grep RESULT; wait $s
P=$((P + 1))
$B/bench/linux-rtt --server 127.0.0.1 $P --proto tcp >/dev/null 2>&1 & s=$!; sleep 0.3
$B/bench/linux-rtt --client 127.0.0.1 $P --proto tcp --size 64 --msgs $N --warmup $W | grep RESULT; wait $s
$B/bench/bench_catmem $N 1000 2>&1 | grep -E "transport|---|64 B"
uptime
