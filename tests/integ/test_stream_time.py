"""Robust event time (issue 11, finding 3): one accepted event dated 2099 in a 12,000-event run
made the 6,000 events after it late, and they fell out of every metric (21 metric windows
became 11, plus one for 2099). With --max-future (default 5 min) such an event cannot move the
watermark: it goes to `rejected` with its reason, and every metric table equals the run without
that line (DuckDB over both lakes). Checked for a backfill (a regular file: the reference is the
later of the clock and the watermark) and for live input (stdin: the processing clock).
"""
import glob
import json
import os
import subprocess
import sys

import duckdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ECOM, ECOM_OPT, TMP, Suite, run  # noqa: E402

suite = Suite()
case = suite.case
BASE = os.path.join(TMP, "time_base.ndjson")
BAD = os.path.join(TMP, "time_2099.ndjson")
WITHOUT = os.path.join(TMP, "time_without.ndjson")
BAD_AT = 6000  # 0-based line index of the event re-dated to 2099
RAW = {"views", "cart", "orders", "rejected"}


def make_inputs():
    if os.path.exists(BAD):
        return
    run([ECOM_OPT, "gen", "--seed", "11", "--users", "300", "--start", "2026-11-25T09:00:00Z", "--rate", "10",
         "--count", "12000", "--quiet", "--out", BASE])
    with open(BASE) as f:
        lines = f.readlines()
    assert len(lines) == 12000, len(lines)
    ev = json.loads(lines[BAD_AT])
    ev["timestamp"] = "2099-01-01T00:00:00Z"
    bad = lines[:BAD_AT] + [json.dumps(ev) + "\n"] + lines[BAD_AT + 1:]
    with open(BAD, "w") as f:
        f.writelines(bad)
    with open(WITHOUT, "w") as f:
        f.writelines(lines[:BAD_AT] + lines[BAD_AT + 1:])


def metric_tables(root):
    return sorted(d for d in os.listdir(root)
                  if d not in RAW and not d.startswith("_") and glob.glob(f"{root}/{d}/**/*.parquet", recursive=True))


def rows(con, root, table):
    rel = f"read_parquet('{root}/{table}/**/*.parquet', hive_partitioning=1)"
    return sorted(map(repr, con.execute(f"SELECT * FROM {rel}").fetchall()))


def assert_metrics_equal(got, want):
    con = duckdb.connect()
    tg, tw = metric_tables(got), metric_tables(want)
    assert tg == tw, f"metric tables {tg} vs {tw}"
    assert len(tw) >= 6, tw
    for t in tw:
        a, b = rows(con, got, t), rows(con, want, t)
        assert a == b, f"{t}: {len(a)} rows vs {len(b)} without the 2099 line; first difference: " + \
            next((f"{x} vs {y}" for x, y in zip(a, b) if x != y), "(a prefix)")
    windows = con.execute(f"SELECT count(DISTINCT window_start) FROM read_parquet('{want}/sales_per_minute/**/*.parquet')"
                          ).fetchone()[0]
    assert windows >= 20, f"only {windows} sales windows: the comparison means little"


def rejected_2099(root):
    con = duckdb.connect()
    rel = f"read_parquet('{root}/rejected/**/*.parquet', hive_partitioning=1)"
    return con.execute(f"SELECT position, reason FROM {rel}").fetchall()


def backfill_2099_is_rejected():
    make_inputs()
    got, want = os.path.join(TMP, "r_bad"), os.path.join(TMP, "r_without")
    run([ECOM, "stream", "--input", BAD, "--out", got, "--quiet"])
    run([ECOM, "stream", "--input", WITHOUT, "--out", want, "--quiet"])
    rej = rejected_2099(got)
    assert len(rej) == 1, rej
    pos, reason = rej[0]
    assert pos == BAD_AT + 1, rej
    assert reason.startswith("timestamp 2099-01-01T00:00:00.000Z more than 5m0s ahead of the "), reason
    assert_metrics_equal(got, want)


def live_2099_is_rejected():
    make_inputs()
    got, want = os.path.join(TMP, "r_bad_live"), os.path.join(TMP, "r_without")
    with open(BAD, "rb") as f:
        r = subprocess.run([ECOM, "stream", "--input", "-", "--out", got, "--quiet"], stdin=f,
                           capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rej = rejected_2099(got)
    assert len(rej) == 1 and "ahead of the processing clock" in rej[0][1], rej
    if not os.path.exists(want):
        run([ECOM, "stream", "--input", WITHOUT, "--out", want, "--quiet"])
    assert_metrics_equal(got, want)


def zero_disables_the_limit():
    """--max-future 0 is the old behaviour, under which the checks above fail: the 2099 event
    is accepted, the events after it are late (correction rows) and the tables differ."""
    make_inputs()
    got, want = os.path.join(TMP, "r_nolimit"), os.path.join(TMP, "r_without")
    run([ECOM, "stream", "--input", BAD, "--out", got, "--quiet", "--max-future", "0"])
    assert not glob.glob(f"{got}/rejected/**/*.parquet", recursive=True)
    con = duckdb.connect()
    rel = f"read_parquet('{got}/sales_per_minute/**/*.parquet')"
    ncorr = con.execute(f"SELECT count(*) FILTER (WHERE correction) FROM {rel}").fetchone()[0]
    assert ncorr > 5, f"only {ncorr} correction rows: the events after the 2099 one were not late"
    try:
        assert_metrics_equal(got, want)
    except AssertionError:
        return
    raise AssertionError("the tables equal the run without the line although the 2099 event was accepted")


case(backfill_2099_is_rejected)
case(live_2099_is_rejected)
case(zero_disables_the_limit)
suite.exit()
