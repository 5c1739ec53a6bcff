"""--time-zone: the date= partition of every table is the date in that zone. Events around
midnight in Guayaquil (05:00 UTC) are loaded (`ecom load`) and streamed (`ecom stream`) with
--time-zone America/Guayaquil: every raw row sits in the partition of its timestamp's local date,
every metric row in that of its window_start's local date, a rejected line in that of its own
timestamp's; without the flag the dates are UTC. An unknown zone exits 2 with a message naming
it, before anything is written."""
import datetime
import os
import subprocess
import zoneinfo

import duckdb

from testlib import ECOM, TMP, Suite, run

S = Suite()
ZONE = "America/Guayaquil"
EVENTS = os.path.join(TMP, "midnight.ndjson")
run([ECOM, "gen", "--seed", "5", "--start", "2026-11-25T04:56:00Z", "--rate", "40", "--count", "20000",
     "--users", "500", "--bad-frac", "0.01", "--quiet", "--out", EVENTS])
with open(EVENTS, "ab") as f:  # a rejected line dated by its own timestamp: 03:00 UTC = 22:00 the day before
    f.write(b'{"timestamp":"2026-11-25T03:00:00.000Z","event_type":"nope","x":"\xff"}\n')


def local_date(ts, zone):
    return ts.astimezone(zoneinfo.ZoneInfo(zone)).date() if zone else ts.astimezone(datetime.timezone.utc).date()


def check_dates(root, zone, tables, label):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    seen = set()
    for table, col in tables:
        rows = con.execute(f"SELECT {col}, date FROM read_parquet('{root}/{table}/**/*.parquet', "
                           "hive_partitioning=1)").fetchall()
        assert rows, f"{label}: {table} is empty"
        bad = [(t, d) for t, d in rows if local_date(t, zone) != d]
        assert not bad, f"{label}: {table}: {len(bad)} rows in the wrong partition, e.g. {bad[:2]}"
        seen |= {d for _, d in rows}
    # 04:56-05:04 UTC: one UTC date, two dates in Guayaquil (UTC-5)
    assert len(seen) == (2 if zone else 1), f"{label}: dates {seen}"
    rej = con.execute(f"SELECT date FROM read_parquet('{root}/rejected/**/*.parquet', hive_partitioning=1) "
                      "WHERE raw_preview LIKE '%\"nope\"%'").fetchall()
    assert rej == [(datetime.date(2026, 11, 24) if zone else datetime.date(2026, 11, 25),)], (label, rej)


def run_any(args):
    """Runs a command that may fail; returns the CompletedProcess."""
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


RAW = [("views", "timestamp"), ("cart", "timestamp"), ("orders", "timestamp")]


@S.case
def load_partitions_by_local_date():
    root = os.path.join(TMP, "load_ec")
    run([ECOM, "load", "--input", EVENTS, "--out", root, "--time-zone", ZONE])
    check_dates(root, ZONE, RAW, "load " + ZONE)
    # ecom cat --where-date D is partition D, whatever its zone (rows after 00:00 UTC included)
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{root}/views/date=2026-11-24/*.parquet')").fetchone()[0]
    out = run([ECOM, "cat", os.path.join(root, "views"), "--where-date", "2026-11-24"]).stdout.splitlines()
    assert n > 0 and len(out) == n, (len(out), n)
    root = os.path.join(TMP, "load_utc")
    run([ECOM, "load", "--input", EVENTS, "--out", root])
    check_dates(root, None, RAW, "load UTC")


@S.case
def stream_partitions_raw_and_metric_tables_by_local_date():
    root = os.path.join(TMP, "stream_ec")
    run([ECOM, "stream", "--input", EVENTS, "--out", root, "--quiet", "--time-zone", ZONE])
    metric = [(t, "window_start") for t in sorted(os.listdir(root))
              if t not in ("views", "cart", "orders", "rejected", "_ecom")]
    assert "sales_per_minute" in [t for t, _ in metric], metric
    check_dates(root, ZONE, RAW + metric, "stream " + ZONE)


@S.case
def dashboard_reads_every_local_partition():
    """The dashboard's partition pruning must not assume UTC days: the windows of 04:56-05:00 UTC sit
    in date=2026-11-24 of a Guayaquil lake, and a range from 04:50 UTC must still see them."""
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    from dashlib import Dash
    root = os.path.join(TMP, "stream_ec")
    want = duckdb.sql(f"SELECT count(*) FROM read_parquet('{root}/orders/**/*.parquet', hive_partitioning=1)").fetchone()[0]
    d = Dash(root)
    try:
        st, j = d.get_json("/api/summary?from=2026-11-25T04:50:00Z&to=2026-11-25T05:30:00Z")
        assert st == 200 and j["orders"] == want and want > 0, (st, j.get("orders"), want)
    finally:
        d.stop()


@S.case
def unknown_zone_exits_2_before_writing():
    for cmd in (["load", "--input", EVENTS], ["stream", "--input", EVENTS], ["run"]):
        root = os.path.join(TMP, "bad_zone")
        r = run_any([ECOM, *cmd, "--out", root, "--time-zone", "America/Atlantis"])
        assert r.returncode == 2 and "America/Atlantis" in r.stderr, (cmd, r.returncode, r.stderr[-300:])
        assert not os.path.exists(root), f"{cmd}: wrote {root}"
    r = run_any([ECOM, "load", "--input", EVENTS, "--out", os.path.join(TMP, "bad_zone"),
                 "--time-zone", "../../../etc/passwd"])
    assert r.returncode == 2, r.stderr


S.exit()
