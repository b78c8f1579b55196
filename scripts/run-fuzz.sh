#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run the fuzz_frame libFuzzer target for SECONDS seconds. Builds nothing:
# configure and build first, e.g.
#   CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
#   ninja -C build-fuzz tests/fuzz/fuzz_frame
#   scripts/run-fuzz.sh build-fuzz 60
# The seeds in tests/fuzz/corpus are copied to a temporary corpus so the tree
# is never modified. Prints the exec count, exec/s and coverage, then
# "1 passed, 0 failed", or "0 passed, 1 failed" with the crash artifact (path
# and bytes) when the fuzzer found a crash, a leak or a hang; exits non-zero
# then. The temporary directory is kept on failure (KEEP=1 keeps it always).
set -uo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 BUILD_DIR [SECONDS]" >&2
  exit 2
fi
build=$1
secs=${2:-60}
here=$(cd "$(dirname "$0")/.." && pwd)
seeds=$here/tests/fuzz/corpus
bin=$build/tests/fuzz/fuzz_frame

if [ ! -x "$bin" ]; then
  echo "run-fuzz: $bin not found; configure with -Dfuzzing=true and CC=clang, then build it" >&2
  echo "0 passed, 1 failed"
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz_frame.XXXXXX")
mkdir -p "$work/corpus" "$work/artifacts"
cp "$seeds"/* "$work/corpus/"

echo "run-fuzz: $bin for ${secs}s, corpus $work/corpus (seeds from $seeds)"
# New inputs go to the first directory only; the seed directory is read.
# (A subshell, so the shell's own "Aborted" notice lands in the log too.)
start=$(date +%s)
(
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
  "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds"
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
  echo "1 passed, 0 failed"
  if [ "${KEEP:-0}" = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi
  exit 0
fi

echo "run-fuzz: fuzz_frame exited with status $status; log: $work/log"
# The error report: a sanitizer's, one of the harness's oracles
# ("fuzz_frame: ..."), or libFuzzer's (deadly signal, timeout, OOM).
sed -n '/ERROR: \|^fuzz_frame: \|deadly signal\|ALARM: \|out-of-memory/,/^SUMMARY/p' "$work/log" | head -n 40
for a in "$work"/artifacts/*; do
  [ -e "$a" ] || continue
  echo "artifact: $a ($(wc -c < "$a") bytes)"
  od -A d -t x1 -v "$a" | head -n 40
  echo "reproduce: $bin $a"
done
echo "0 passed, 1 failed"
exit 1
