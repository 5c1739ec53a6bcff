#!/usr/bin/env python3
"""bench/threads_cpu_split.py — one `ecom stream --threads N` profile split by thread and by
the kind of work (engine, parse, read, write, kernel, other), in percent of all samples.

  perf record -F 1999 -o P.data -- build/ecom stream --input EV.ndjson --out ROOT --quiet --threads 2
  python3 bench/threads_cpu_split.py P.data

The kinds are by function name (the binary's symbols, zstd for write); a rough grouping, good
enough to tell the job's thread's sequential work (engine) from what any thread could do.
"""
import collections
import re
import subprocess
import sys

KINDS = [
    ('write', r'(pq_|dict_|col_|flat_|plain_|put_|emit_page|flush_|chunk_|lake_raw|lake_ingest_write|slot_write|'
              r'worker_table|bytes_eq|hash_bytes|guess_|lake_table|rle_|bitpack)'),
    ('parse', r'(event_parse|parse_|events_|event_keep|view_keep|slot_parse|lake_ingest_parse|validate|skip_|json_|'
              r'event_uuid|arena_)'),
    ('engine', r'(st_|stream_|apply_|funnel_|shard_|pairtab|job_decide|job_record|emit|metric_|agg_|window)'),
    ('read', r'(slot_fill|slot_add|file_poll|block_|__memchr|_copy_to_iter|filemap_|copy_page_to_iter|__memmove)'),
]


def kind(sym, dso):
    if 'zstd' in dso:
        return 'write'
    for k, rx in KINDS:
        if re.match(rx, sym):
            return k
    return 'kernel' if 'kernel' in dso else 'other'


def main():
    out = subprocess.run(['perf', 'script', '-i', sys.argv[1], '-F', 'tid,ip,sym,dso'],
                         capture_output=True, text=True, check=True).stdout
    per = collections.defaultdict(collections.Counter)
    total = 0
    for line in out.splitlines():
        f = line.split()
        if len(f) < 4:
            continue
        per[f[0]][kind(f[2], f[-1])] += 1
        total += 1
    for tid, c in sorted(per.items(), key=lambda kv: -sum(kv[1].values())):
        share = 100 * sum(c.values()) / total
        print('thread %s: %.1f%% of all samples: ' % (tid, share) +
              ', '.join('%s %.1f' % (k, 100 * v / total) for k, v in c.most_common()))


if __name__ == '__main__':
    main()
