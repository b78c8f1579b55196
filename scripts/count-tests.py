#!/usr/bin/env python3
"""Count test cases in a meson testlog.json: cmocka's "[  PASSED  ] N test(s)"
and "[  FAILED  ] N test(s)" lines, or an "N passed, M failed" line from a
script. A test program with neither line counts as one case, by exit status.
A program that meson reports skipped (exit 77: what it needs is not here)
counts as neither; the label names it and its first reason ("# SKIP ..."),
so a skip is never silent. Prints "PASSED FAILED label"."""
import json
import re
import sys

path, label = sys.argv[1], sys.argv[2]
passed = failed = 0
skipped = []
with open(path) as f:
    for line in f:
        t = json.loads(line)
        out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
        if t.get("result") == "SKIP":
            why = re.search(r"# SKIP (.*)", out) or re.search(r"(\S.*)\s*$", out)
            skipped.append("%s (%s)" % (t.get("name", "?").split(" / ")[-1], why.group(1).strip() if why else "no reason given"))
            continue
        ok = t.get("result") == "OK"
        p = re.findall(r"\[  PASSED  \] (\d+) test", out)
        fl = re.findall(r"\[  FAILED  \] (\d+) test", out)
        s = re.findall(r"^(\d+) passed, (\d+) failed", out, re.M)
        if p or fl:
            passed += sum(map(int, p))
            failed += sum(map(int, fl))
            if not ok and not fl:  # crashed after its summary, or leaked under ASan
                failed += 1
        elif s:
            passed += int(s[-1][0])
            failed += int(s[-1][1])
            if not ok and int(s[-1][1]) == 0:
                failed += 1
        else:
            passed += ok
            failed += not ok
if skipped:
    label += "; skipped: " + "; ".join(skipped)
print(passed, failed, label)
