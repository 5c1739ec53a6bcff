#!/usr/bin/env python3
"""bench/callgrind_diff.py — the growth of instructions by function between two callgrind runs
(self cost, callgrind_annotate's function table), largest first: where run B spends more than
run A. Exact counts, so the figures hold on a loaded box (docs/benchmarks.md).

    valgrind --tool=callgrind --callgrind-out-file=A.out build/ecom stream ... --threads 1
    valgrind --tool=callgrind --callgrind-out-file=B.out build/ecom stream ... --threads 2
    python3 bench/callgrind_diff.py A.out B.out [ROWS]
"""
import collections
import re
import subprocess
import sys


def self_costs(path):
    """Function -> instructions (self), from callgrind_annotate's table of functions."""
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no", path],
                         capture_output=True, text=True, check=True).stdout
    costs, on = collections.Counter(), False
    for line in out.splitlines():
        if "file:function" in line:
            on = True
            continue
        if on and line.startswith("-----") and costs:
            break
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(.*)$", line) if on else None
        if m:
            name = re.sub(r"\s*\[.*\]$", "", m.group(2)).split(":")[-1]
            costs[name] += int(m.group(1).replace(",", ""))
    return costs


def main():
    a, b = self_costs(sys.argv[1]), self_costs(sys.argv[2])
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    ta, tb = sum(a.values()), sum(b.values())
    print(f"total A {ta:,}  B {tb:,}  B - A {tb - ta:+,} ({(tb - ta) / ta:+.2%})")
    print(f"{'B - A':>14} {'A':>14} {'B':>14}  function")
    for k in sorted(set(a) | set(b), key=lambda k: a[k] - b[k])[:rows]:
        print(f"{b[k] - a[k]:>+14,} {a[k]:>14,} {b[k]:>14,}  {k}")


if __name__ == "__main__":
    main()
