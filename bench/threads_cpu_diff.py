#!/usr/bin/env python3
"""bench/threads_cpu_diff.py — where a `--threads N` run spends more CPU than one thread: the
per-function sample counts of two sets of `perf record` profiles (cpu-clock at one frequency, so
samples are CPU time), summed over each set's runs, and the functions whose counts grew or
shrank most. Record the two sets interleaved (1 N 1 N ...) so that both meet the same load.

  for i in 1 2 3; do for t in 1 2; do
    perf record -F 1999 -e cpu-clock -o P.$t.$i.data -- build/ecom stream --input EV --out R --quiet --threads $t
  done; done
  python3 bench/threads_cpu_diff.py "P.1.*.data" "P.2.*.data" [TOP]

Prints each set's total samples, then `+diff one N function` rows, largest growth first.
"""
import collections
import glob
import re
import subprocess
import sys


def samples(path):
    """Per-symbol sample counts of one perf.data ([k] kernel, [.] user)."""
    out = subprocess.run(['perf', 'report', '-i', path, '--no-children', '-g', 'none', '--sort', 'sym',
                          '-F', 'sample,sym', '--stdio'], capture_output=True, text=True, check=True).stdout
    counts = collections.Counter()
    for line in out.splitlines():
        m = re.match(r'\s*(\d+)\s+(\[.\]\s+.*\S)', line)
        if m:
            counts[m.group(2)] += int(m.group(1))
    return counts


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sets = []
    for pattern in sys.argv[1:3]:
        paths = sorted(glob.glob(pattern))
        if not paths:
            sys.exit(f'no profile matches {pattern}')
        total = collections.Counter()
        for p in paths:
            total += samples(p)
        sets.append((len(paths), total))
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    (na, a), (nb, b) = sets
    print(f'one thread: {sum(a.values())} samples in {na} runs; N threads: {sum(b.values())} in {nb} runs '
          f'({sum(b.values()) / max(1, sum(a.values())):.3f}x)')
    rows = sorted(set(a) | set(b), key=lambda k: b[k] - a[k], reverse=True)
    print(f'{"diff":>7} {"one":>7} {"N":>7}  function')
    for k in rows[:top] + ['...'] + rows[-(top // 3):]:
        if k == '...':
            print('    ...')
            continue
        print(f'{b[k] - a[k]:+7d} {a[k]:7d} {b[k]:7d}  {k}')


if __name__ == '__main__':
    main()
