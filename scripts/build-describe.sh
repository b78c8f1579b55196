#!/usr/bin/env bash
# build-describe.sh BUILD_DIR: "COMPILER VERSION, BUILDTYPE -O LEVEL" of a
# Meson build directory, for test reports (e.g. "gcc 12.2.0, release -O3").
set -euo pipefail
dir=$1
cc=$(sed -n 's/^C compiler for the host machine: [^ ]* (\([a-z]*\) \([0-9.]*\).*/\1 \2/p' "$dir/meson-logs/meson-log.txt" | head -n 1)
python3 - "$dir/meson-info/intro-buildoptions.json" "${cc:-unknown compiler}" <<'PY'
import json, sys
o = {x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}
opt = "no -O" if o["optimization"] == "plain" else "-O" + o["optimization"]
print(f'{sys.argv[2]}, {o["buildtype"]}, {opt}')
PY
