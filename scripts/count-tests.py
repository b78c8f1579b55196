#!/usr/bin/env python3
"""Count test cases in a meson testlog.json: cmocka's "[  PASSED  ] N test(s)"
and "[  FAILED  ] N test(s)" lines, or an "N passed, M failed" line from a
script. A test program with neither line counts as one case, by exit status.
Prints "PASSED FAILED label"."""
import json
import re
import sys

path, label = sys.argv[1], sys.argv[2]
passed = failed = 0
with open(path) as f:
    for line in f:
        t = json.loads(line)
        out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
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
print(passed, failed, label)
