#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run every libFuzzer target built in BUILD_DIR/tests/fuzz (fuzz_*), FUZZ_JOBS
# at a time (default: the number of cores), SECONDS seconds each (default 30),
# or only the TARGETs named.
# Builds nothing: configure and build first, e.g.
#   CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
#   ninja -C build-fuzz
#   scripts/run-fuzz.sh build-fuzz 60                # every target, 60 s each
#   scripts/run-fuzz.sh build-fuzz 600 fuzz_tcp      # one target, longer
# A target is picked up by its name alone: a new fuzz_* executable runs here
# without editing this script. Its seeds are tests/fuzz/corpus/<target>/
# (copied to a temporary corpus, so the tree is never modified) and its
# dictionary, if any, tests/fuzz/<target>.dict.
#
# Per target it prints executions, exec/s, coverage (edges), features and
# corpus size, then "<target>: passed" or "<target>: FAILED" with the error
# report and the crash artifact (path, bytes, how to reproduce); the
# temporary directory is kept on failure (KEEP=1 keeps it always). The last
# line is "N passed, M failed", one count per target; the exit status is
# non-zero when any target failed (a crash, a sanitizer report, an oracle of
# the harness, a leak, a timeout or running out of memory).
set -uo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi
build=$1
secs=${2:-30}
shift $(( $# >= 2 ? 2 : 1 ))
here=$(cd "$(dirname "$0")/.." && pwd)

targets=()
if [ $# -gt 0 ]; then
  targets=("$@")
else
  for bin in "$build"/tests/fuzz/fuzz_*; do
    [ -f "$bin" ] && [ -x "$bin" ] && targets+=("$(basename "$bin")")
  done
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "run-fuzz: no fuzz_* target in $build/tests/fuzz; configure with -Dfuzzing=true and CC=clang, then build" >&2
  echo "0 passed, 1 failed"
  exit 2
fi

# One target: returns 0 when it ran its time and found nothing.
run_target() {
  local name=$1 bin=$build/tests/fuzz/$1 seeds=$here/tests/fuzz/corpus/$1
  local dict=$here/tests/fuzz/$1.dict work status start elapsed last execs rate cov ft corp
  local extra=() opts=()

  echo "== $name for ${secs}s"
  if [ ! -x "$bin" ]; then
    echo "run-fuzz: $bin not found or not executable"
    echo "$name: FAILED (not built)"
    return 1
  fi
  work=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
  mkdir -p "$work/corpus" "$work/artifacts"
  if [ -d "$seeds" ]; then
    cp "$seeds"/* "$work/corpus/" 2>/dev/null
    extra+=("$seeds")
  fi
  [ -f "$dict" ] && opts+=(-dict="$dict")
  echo "run-fuzz: corpus $work/corpus, seeds ${seeds#"$here"/}$([ -f "$dict" ] && echo ", dictionary ${dict#"$here"/}")"
  # New inputs go to the first directory only; the seed directory is read.
  # (A subshell, so the shell's own "Aborted" notice lands in the log too.)
  start=$(date +%s)
  (
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
    "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" "${opts[@]}" "$work/corpus" "${extra[@]}"
    exit $? # not exec'd: this subshell reports a signal, into the log
  ) > "$work/log" 2>&1
  status=$?
  elapsed=$(( $(date +%s) - start ))

  # The last status line ("#N DONE cov: ...", or the last progress line on a crash).
  last=$(grep -E '^#[0-9]+' "$work/log" | tail -n 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -n 1)
  [ -n "$execs" ] || execs=$(printf '%s\n' "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
  cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([^ ]*\).*/\1/p')
  echo "last: $last"
  echo "executions: ${execs:-?}  exec/s: ${rate:-?}  coverage (edges): ${cov:-?}  features: ${ft:-?}  corpus: ${corp:-?}  duration: ${elapsed}s"

  if [ $status -eq 0 ]; then
    echo "$name: passed"
    if [ "${KEEP:-0}" = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi
    return 0
  fi
  echo "run-fuzz: $name exited with status $status; log: $work/log"
  # The error report: a sanitizer's, one of the harness's oracles
  # ("fuzz_xxx: ..."), or libFuzzer's (deadly signal, timeout, OOM, leak).
  sed -n "/ERROR: \|^$name: \|deadly signal\|ALARM: \|out-of-memory/,/^SUMMARY/p" "$work/log" | head -n 40
  for a in "$work"/artifacts/*; do
    [ -e "$a" ] || continue
    echo "artifact: $a ($(wc -c < "$a") bytes)"
    od -A d -t x1 -v "$a" | head -n 40
    echo "reproduce: $bin $a"
  done
  echo "$name: FAILED"
  return 1
}

# FUZZ_JOBS targets at a time (default: one per core; each fuzzer is one
# process on one core), each into its own report, printed in order.
jobs=${FUZZ_JOBS:-$(nproc)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
reports=$(mktemp -d "${TMPDIR:-/tmp}/run-fuzz.XXXXXX")
trap 'rm -rf "$reports"' EXIT
running=0
for t in "${targets[@]}"; do
  if [ $running -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
  ( run_target "$t" > "$reports/$t.out" 2>&1; echo $? > "$reports/$t.rc" ) &
  running=$((running + 1))
done
wait

passed=0
failed=0
for t in "${targets[@]}"; do
  cat "$reports/$t.out"
  if [ "$(cat "$reports/$t.rc" 2>/dev/null)" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
