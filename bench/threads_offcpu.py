#!/usr/bin/env python3
"""bench/threads_offcpu.py — where the threads of one `ecom stream --threads N` run wait.

Reads `perf script -F tid,time,event,trace` of a system-wide `perf record -e sched:sched_switch`
(plus, optionally, uprobe pairs FUNC / FUNC_r__return, as bench/threads_trace.sh sets them) and
prints, per thread of the process named COMM: time running, preempted (runnable, not running)
and asleep; each thread's sleep split by what the other thread did meanwhile (running: a real
wait on it, which a quiet box has too; preempted: the box's load; asleep too: I/O such as fsync);
and each thread's sleep inside the other thread's probe spans.

  python3 bench/threads_offcpu.py TRACE.txt COMM [--timeline]
"""
import collections
import re
import sys


def main():
    path, comm = sys.argv[1], sys.argv[2]
    state, since, last = {}, {}, None
    acc = collections.defaultdict(collections.Counter)
    pair = collections.defaultdict(collections.Counter)
    sleeps = collections.defaultdict(list)
    spans, opened = [], {}

    def both(t):
        nonlocal last
        if last is not None and len(state) >= 2:
            a, b = sorted(state)[:2]
            for x, y in ((a, b), (b, a)):
                pair[x][(state[x], state[y])] += t - last
        last = t

    for line in open(path):
        m = re.match(r'\s*(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)', line)
        if not m:
            continue
        tid, t, ev, tr = int(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
        if not ev.startswith('sched:'):
            name = ev.split(':')[1]
            if name.endswith('_r__return'):
                k = (tid, name[:-len('_r__return')])
                if k in opened:
                    spans.append((opened.pop(k), t, tid, k[1]))
            else:
                opened[(tid, name)] = t
            continue
        if 'sched_switch' not in ev:
            continue
        a = dict(re.findall(r'(\w+)=(\S+)', tr))
        both(t)
        if a['prev_comm'].startswith(comm):
            p = int(a['prev_pid'])
            if state.get(p) == 'run':
                acc[p]['run'] += t - since[p]
            state[p] = 'sleep' if a['prev_state'].startswith(('S', 'D')) else 'pre'
            since[p] = t
        if a['next_comm'].startswith(comm):
            p = int(a['next_pid'])
            if p in since and state.get(p) in ('sleep', 'pre'):
                acc[p][state[p]] += t - since[p]
                if state[p] == 'sleep':
                    sleeps[p].append((since[p], t))
            state[p], since[p] = 'run', t
    ms = lambda v: '%.0f ms' % (v * 1000)
    for p, c in acc.items():
        print('thread %d: running %s, preempted %s, asleep %s' % (p, ms(c['run']), ms(c['pre']), ms(c['sleep'])))
        q = pair[p]
        print('  asleep while the other ran %s, while it was preempted %s, while it slept too %s' %
              (ms(q[('sleep', 'run')]), ms(q[('sleep', 'pre')]), ms(q[('sleep', 'sleep')])))
        inside = collections.Counter()
        for (s0, s1, stid, name) in spans:
            if stid == p:
                continue
            for (a0, a1) in sleeps[p]:
                o = min(s1, a1) - max(s0, a0)
                if o > 0:
                    inside[name] += o
        if inside:
            print('  asleep inside the other thread\'s spans: ' + ', '.join('%s %s' % (k, ms(v)) for k, v in inside.items()))
    if '--timeline' in sys.argv:
        t0 = min([s for v in sleeps.values() for s, _ in v] + [s for s, _, _, _ in spans])
        ev = [(s, 'thread %d asleep %s' % (p, ms(e - s))) for p, v in sleeps.items() for s, e in v if e - s > 0.004]
        ev += [(s, 'thread %d %s %s' % (p, n, ms(e - s))) for s, e, p, n in spans if e - s > 0.004]
        for t, x in sorted(ev):
            print('%.4f %s' % (t - t0, x))


if __name__ == '__main__':
    main()
