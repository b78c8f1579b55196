# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# report-lib.sh: the reporting of the netns tests (catpowder.sh,
# interop-tools.sh, loss.sh): "ok - NAME" / "not ok - NAME (reason)" per
# case, counted in $passed and $failed (names of failures in failed_names),
# with the tails of the logs that explain a failure on stderr; and the small
# measures they share.

passed=0
failed=0
failed_names=()

ok() {
    echo "ok - $*"
    passed=$((passed + 1))
}

# not_ok NAME REASON [LOG...]: the logs' last lines go to stderr, indented
# (lines starting with two spaces, counter dumps, are left out). A crash
# report in a log (a sanitizer's, or Redis's stack trace) goes first, since
# the tail is only its end.
not_ok() {
    local name=$1 why=$2 log
    shift 2
    echo "not ok - $name ($why)"
    failed=$((failed + 1))
    failed_names+=("$name")
    for log in "$@"; do
        [ -s "$log" ] || continue
        if grep -q -e '------ STACK TRACE ------' -e '^==[0-9]*==ERROR' "$log"; then
            echo "--- $(basename "$log"): crash report"
            sed -n -e '/------ STACK TRACE ------/,/------ INFO OUTPUT/p' -e '/^==[0-9]*==ERROR/,/^SUMMARY/p' "$log" | head -n 60
        fi
        echo "--- $(basename "$log")"
        grep -v '^  ' "$log" | tail -n 20
    done | sed 's/^/# /' >&2
}

# counter LOG NAME: the last value of a counter in a libdemi dump (DEMI_STATS:
# "  name value help"); "n/a" when there is none.
counter() {
    awk -v n="$2" '$1 == n { v = $2; f = 1 } END { if (f) print v; else print "n/a" }' "$1"
}

now_ns() {
    date +%s%N
}

# MB/s for BYTES moved in NS nanoseconds.
rate() {
    awk -v b="$1" -v ns="$2" 'BEGIN { if (ns <= 0) ns = 1; printf "%.1f", b / 1e6 / (ns / 1e9) }'
}

sha() {
    sha256sum "$1" | cut -d' ' -f1
}
