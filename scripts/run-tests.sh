#!/usr/bin/env bash
# Run every suite of the normal build and the unit suite of the sanitizer
# build, then print one total: "N passed, M failed" counts test cases (cmocka
# cases and integration cases), and a test program that died counts as failed.
set -uo pipefail
build=${1:-build}
asan=${2:-build-asan}
status=0

run() { # dir, label, meson test args...
  local dir=$1 label=$2; shift 2
  echo "== $label"
  meson test -C "$dir" --print-errorlogs "$@" || status=1
  python3 scripts/count-tests.py "$dir/meson-logs/testlog.json" "$label" >> "$tally"
}

tally=$(mktemp)
trap 'rm -f "$tally"' EXIT
run "$build" "all suites" --num-processes 2
# Sanitizers: leaks, overflows, UB in the unit, packet-script and shim suites (ASAN_OPTIONS keep CI logs readable).
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run "$asan" "unit, packet-script and shim suites under ASan+UBSan" --suite unit --suite pkt --suite shim

# Formatting: the C sources follow .clang-format (make format fixes them).
echo "== format"
if out=$(scripts/check-format.sh 2>&1); then :; else status=1; fi
echo "$out"
echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1 | awk '{print $1, $3, "format"}' >> "$tally"
grep -q " format$" "$tally" || echo "0 1 format (no result line)" >> "$tally"

# Portable builds (make build-portable): the builds a packager gets,
# warnings as errors. Those in PORTABLE_UNIT_BUILDS (default: all) must pass
# the unit suite too; the others count as one case, compiled.
for b in ${PORTABLE_BUILDS:-}; do
  [ -f "$b/build.ninja" ] || { echo "0 1 unit suite in $b (not built)" >> "$tally"; status=1; continue; }
  case " ${PORTABLE_UNIT_BUILDS-$PORTABLE_BUILDS} " in
  *" $b "*) run "$b" "unit suite in $b ($(scripts/build-describe.sh "$b"))" --suite unit --num-processes 2 ;;
  *)
    echo "== $b ($(scripts/build-describe.sh "$b")): compiled, unit suite not run"
    if ninja -C "$b" >/dev/null; then echo "1 0 $b compiled" >> "$tally"; else echo "0 1 $b compiled" >> "$tally"; status=1; fi
    ;;
  esac
done

# Installing: what a user of the installed library gets (scripts/check-install.sh).
if [ -n "${PORTABLE_BUILDS:-}" ]; then
  echo "== install check"
  if out=$(scripts/check-install.sh "$(echo "$PORTABLE_BUILDS" | awk '{print $1}')" 2>&1); then :; else status=1; fi
  echo "$out"
  echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1 | awk '{print $1, $3, "install check"}' >> "$tally"
  grep -q "install check" "$tally" || echo "0 1 install check (no result line)" >> "$tally"
fi

# Fuzzing: every fuzz_* target for a bounded time each (make fuzz runs
# longer); one passed or failed count per target.
if [ -n "${FUZZ_BUILD:-}" ]; then
  echo "== fuzzing: every target in $FUZZ_BUILD/tests/fuzz, ${FUZZ_SECONDS:-30} s each"
  if out=$(scripts/run-fuzz.sh "$FUZZ_BUILD" "${FUZZ_SECONDS:-30}" 2>&1); then :; else status=1; fi
  echo "$out" # per target: its figures, its verdict and, on failure, the report
  echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1 | awk '{print $1, $3, "fuzzing"}' >> "$tally"
  grep -q fuzzing "$tally" || echo "0 1 fuzzing (no result line)" >> "$tally"
fi

echo
cat "$tally" | sed 's/^/  /'
awk '{p+=$1; f+=$2} END {printf "%d passed, %d failed\n", p, f}' "$tally"
awk '{f+=$2} END {exit f > 0}' "$tally" || status=1
exit $status
