"""`ecom stream --input FILE` reads a regular file in blocks (source_file.c's block reader) and a
pipe line by line: both must give the same tables. The file is made so that the block reader's
edges are met: ~9 MB of events (lines across every 1 MiB block boundary), a valid event whose
product_name is 3 MiB (longer than a block: the block grows), a CR LF line, blank lines, and a
last line without its newline. Every raw and metric table of the file run equals the pipe run's
(DuckDB EXCEPT ALL both ways), and the views table holds exactly the valid page_view lines."""
import glob
import json
import os
import subprocess

import duckdb

from testlib import ECOM, ECOM_OPT, TMP, Suite, run

S = Suite()
INPUT = os.path.join(TMP, "events.ndjson")
GEN = os.path.join(TMP, "gen.ndjson")
run([ECOM_OPT, "gen", "--seed", "3", "--users", "2000", "--start", "2026-11-25T00:00:00Z", "--rate", "200",
     "--count", "22000", "--quiet", "--dup-frac", "0.01", "--bad-frac", "0", "--out", GEN])
with open(GEN, "rb") as f:
    lines = f.read().split(b"\n")
lines = [l for l in lines if l]
views = [json.loads(l) for l in lines if b'"page_view"' in l and l.startswith(b"{")]
big = dict(views[0], event_id="0f6b6a4e-6a55-4f6e-9d0e-3c1f6a0b9e01", product_name="x" * (3 << 20))
mid = len(lines) // 2
lines.insert(mid, json.dumps(big, separators=(",", ":")).encode())
lines[mid + 1] += b"\r"                     # a CR LF ending
lines.insert(mid + 2, b"   ")                # blank lines are counted, not stored
lines.insert(mid + 3, b"")
with open(INPUT, "wb") as f:
    f.write(b"\n".join(lines))              # the last line has no newline


def stream(out, use_pipe):
    args = [ECOM, "stream", "--input", "-" if use_pipe else INPUT, "--out", out, "--quiet"]
    if use_pipe:
        with open(INPUT, "rb") as f:
            r = subprocess.run(args, stdin=f, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
    else:
        run(args, timeout=600)


FILE_OUT, PIPE_OUT = os.path.join(TMP, "file"), os.path.join(TMP, "pipe")
stream(FILE_OUT, False)
stream(PIPE_OUT, True)


def tables(root):
    return sorted(d for d in os.listdir(root) if glob.glob(f"{root}/{d}/**/*.parquet", recursive=True))


def test_same_tables_as_the_pipe():
    assert tables(FILE_OUT) == tables(PIPE_OUT), (tables(FILE_OUT), tables(PIPE_OUT))
    con = duckdb.connect()
    for t in tables(FILE_OUT):
        cols = [r[0] for r in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet('{FILE_OUT}/{t}/**/*.parquet', hive_partitioning=false)").fetchall()]
        sel = ", ".join(f'"{c}"' for c in cols if c != "ingest_ts")
        for a, b in ((FILE_OUT, PIPE_OUT), (PIPE_OUT, FILE_OUT)):
            n = con.execute(f"SELECT count(*) FROM (SELECT {sel} FROM read_parquet('{a}/{t}/**/*.parquet', "
                            f"hive_partitioning=false) EXCEPT ALL SELECT {sel} FROM read_parquet("
                            f"'{b}/{t}/**/*.parquet', hive_partitioning=false))").fetchone()[0]
            assert n == 0, f"{t}: {n} rows of {a} not in {b}"


def test_views_hold_every_valid_view():
    con = duckdb.connect()
    q = f"read_parquet('{FILE_OUT}/views/**/*.parquet')"
    ids = {r[0] for r in con.execute(f"SELECT event_id FROM {q}").fetchall()}
    want = {v["event_id"] for v in views} | {big["event_id"]}
    assert ids == want, (len(ids), len(want))
    n = con.execute(f"SELECT length(product_name) FROM {q} WHERE event_id = ?", [big["event_id"]]).fetchone()[0]
    assert n == 3 << 20, n


def test_last_line_without_newline_is_read():
    last = json.loads(lines[-1]) if lines[-1].startswith(b"{") else None
    assert last and last.get("event_type"), "the generator's last line is an event"
    con = duckdb.connect()
    tab = {"page_view": "views", "purchase": "orders"}.get(last["event_type"], "cart")
    n = con.execute(f"SELECT count(*) FROM read_parquet('{FILE_OUT}/{tab}/**/*.parquet') WHERE event_id = ?",
                    [last["event_id"]]).fetchone()[0]
    assert n == 1, n


for c in (test_same_tables_as_the_pipe, test_views_hold_every_valid_view, test_last_line_without_newline_is_read):
    S.case(c)
S.exit()
