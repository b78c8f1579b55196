#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check-format.sh [--fix]: the C sources follow .clang-format (clang-format
# from Debian's clang-format package, install-deps.sh). Without --fix it
# changes nothing and lists the files that differ; with --fix (make format)
# it rewrites them. Prints "ok - NAME" / "not ok - NAME (reason)", then
# "N passed, M failed".
set -u
cd "$(dirname "$0")/.."
fix=false
[ "${1:-}" = --fix ] && fix=true
command -v clang-format >/dev/null || { echo "not ok - format (clang-format is not installed: scripts/install-deps.sh)"; echo "0 passed, 1 failed"; exit 1; }
mapfile -t files < <(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'tools/*.c' 'examples/*.c' 'tests/*.c' 'tests/*.h' \
    'bench/*.c' 'bench/*.h')
if $fix; then
    clang-format -i "${files[@]}"
fi
bad=()
for f in "${files[@]}"; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
name="${#files[@]} C files follow .clang-format ($(clang-format --version | sed 's/.*version \([0-9.]*\).*/clang-format \1/'))"
if [ ${#bad[@]} -eq 0 ]; then
    echo "ok - $name"
    echo "1 passed, 0 failed"
else
    echo "not ok - $name (${#bad[@]} differ, e.g. ${bad[*]:0:3}; make format rewrites them)"
    echo "0 passed, 1 failed"
    exit 1
fi
