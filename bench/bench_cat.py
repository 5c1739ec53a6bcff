"""bench/bench_cat.py — `ecom cat` (Parquet -> NDJSON) against pyarrow (read_table + to_pylist +
json.dumps per row) and DuckDB (COPY ... TO (FORMAT JSON)) on the same lake file, same run.

    python bench/bench_cat.py ECOM FILE.parquet RUNS

Each tool runs as its own child process writing its NDJSON to /dev/null; its CPU time
(user + sys of the child, from wait4) gives rows per CPU-second, the per-core cost on a shared
machine. Runs are interleaved (ecom, pyarrow, duckdb, ecom, ...) so a change of load hits
every tool alike; the medians are printed with the load average before and after.
"""
import os
import statistics
import subprocess
import sys

import pyarrow.parquet as pq

ecom, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
PYARROW = """
import json, sys, pyarrow.parquet as pq
out = open('/dev/null', 'w')
for row in pq.read_table(sys.argv[1], use_threads=False).to_pylist():
    out.write(json.dumps(row, default=str, ensure_ascii=False) + '\\n')
"""
DUCKDB = """
import sys, duckdb
duckdb.sql("COPY (SELECT * FROM read_parquet('%s')) TO '/dev/null' (FORMAT JSON)" % sys.argv[1])
"""
TOOLS = {
    "ecom cat": [ecom, "cat", path],
    "pyarrow to_pylist+json": [sys.executable, "-c", PYARROW, path],
    "duckdb COPY TO JSON": [sys.executable, "-c", DUCKDB, path],
}


def run(cmd):
    """CPU seconds (user + sys) and wall seconds of cmd, its stdout discarded."""
    t0 = os.times().elapsed
    with open(os.devnull, "wb") as null:
        p = subprocess.Popen(cmd, stdout=null)
        _, status, ru = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed: {status}")
    return ru.ru_utime + ru.ru_stime, os.times().elapsed - t0


rows = pq.ParquetFile(path).metadata.num_rows
load0 = os.getloadavg()
res = {k: [] for k in TOOLS}
for _ in range(runs):
    for name, cmd in TOOLS.items():
        res[name].append(run(cmd))
load1 = os.getloadavg()
base = None
print(f"file: {path} ({os.path.getsize(path) / 1e6:.1f} MB, {rows} rows); {runs} interleaved runs; "
      f"load average {load0[0]:.1f} before, {load1[0]:.1f} after")
print(f"{'tool':26s} {'CPU s':>8s} {'wall s':>8s} {'rows/CPU-s':>12s} {'ecom x':>7s}")
for name, r in res.items():
    cpu = statistics.median(x[0] for x in r)
    wall = statistics.median(x[1] for x in r)
    base = base or cpu
    print(f"{name:26s} {cpu:8.2f} {wall:8.2f} {rows / cpu:12,.0f} {cpu / base:6.2f}x")
print("(medians; `ecom x` = the tool's CPU time over ecom's: > 1 means ecom is cheaper per row)")
