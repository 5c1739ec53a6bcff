"""GET /status schema 2 (the contract with ecom dash, documented in src/pipeline/pipeline.h and
docs/stream.md), on a live `ecom stream --input -` fed through a pipe that stays open:
every documented field is present; open_windows has one member per catalog metric (names and
columns read from `ecom metrics`), rows carry window_start/window_end/final_at and every catalog
column; money is rendered with two decimals; and once the epoch is committed, every purchase is
either in the lake's sales_per_minute or in the open windows (nothing lost between the two).
"""
import glob
import json
import os
import re
import subprocess
import sys
import time

import duckdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ECOM, ECOM_OPT, TMP, Suite, run, free_port, http_text  # noqa: E402

suite = Suite()
case = suite.case
TOP = ["schema", "input", "layout", "epoch", "uptime_s", "events_per_s", "watermark", "window_s", "lateness_s",
       "funnel_horizon_s", "counters", "state_entries", "partitions", "lag", "open_windows"]
COUNTERS = ["records", "page_view", "add_to_cart", "remove_from_cart", "purchase", "duplicates", "late",
            "corrections", "rejected", "future", "conflicts", "blank", "epochs", "files_committed", "storage_errors", "kafka_errors"]


def catalog():
    """{metric: [columns]} from `ecom metrics` (the catalog, not a copy of it)."""
    out, cur = {}, None
    for line in run([ECOM, "metrics"]).stdout.splitlines():
        if not line.startswith(" "):
            cur = line.split(":")[0]
            out[cur] = []
        elif not line.strip().startswith(("final:", "rank ")):
            out[cur].append(line.split()[0])
    return out


def wait_for(fn, seconds, what, pipe):
    """Polls fn; meanwhile a blank line trickles into the pipe every poll (a trickling pipe is what
    a live stdin looks like: the job commits and publishes /status when a line comes in after its
    commit interval)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        v = fn()
        if v:
            return v
        pipe.write("\n")
        pipe.flush()
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def status_schema_2_on_a_live_stream():
    ev = os.path.join(TMP, "status.ndjson")
    run([ECOM_OPT, "gen", "--seed", "4", "--users", "200", "--start", "2026-11-25T09:00:00Z", "--rate", "20",
         "--count", "4000", "--quiet", "--out", ev])
    lines = open(ev, encoding="utf-8").read().splitlines(keepends=True)
    purchases = sum('"event_type":"purchase"' in x for x in lines)
    root, port = os.path.join(TMP, "r_status"), free_port()
    url = f"http://127.0.0.1:{port}/status"
    p = subprocess.Popen([ECOM, "stream", "--input", "-", "--out", root, "--quiet", "--listen", f"127.0.0.1:{port}",
                          "--commit-interval", "200ms"], stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        p.stdin.writelines(lines)
        p.stdin.flush()
        def counted():
            t = http_text(url)
            return t if t and t.startswith("{\"schema\"") and json.loads(t)["counters"]["records"] >= len(lines) else None
        text = wait_for(counted, 60, "/status to count every line", p.stdin)
        cat = catalog()
        assert len(cat) == 6 and "sales_by_channel" in cat and "product_activity" in cat, cat
        st = json.loads(text)
        assert [k for k in TOP if k not in st] == [], f"missing: {[k for k in TOP if k not in st]}"
        assert st["schema"] == 2 and st["input"] == "file" and st["layout"] == "single"
        assert st["window_s"] == 60 and st["lateness_s"] == 120 and st["funnel_horizon_s"] == 5400, st
        assert sorted(st["counters"]) == sorted(COUNTERS), sorted(st["counters"])
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", st["watermark"]), st["watermark"]
        ow = st["open_windows"]
        assert sorted(ow) == sorted(cat), f"open_windows members {sorted(ow)} vs catalog {sorted(cat)}"
        for m, rows in ow.items():
            for r in rows:
                want = ["window_start", "window_end", "final_at"] + cat[m]
                assert list(r) == want, f"{m} row keys {list(r)} vs {want}"
        assert ow["funnel"] and ow["sales_per_minute"] and ow["product_activity"], "no open windows"
        f = ow["funnel"][0]
        assert f["final_at"] > f["window_end"], f  # funnel: final after the horizon
        assert re.search(r'"revenue":\d+\.\d\d[,}]', text), "money not rendered with two decimals"

        def reconciled():
            s = json.loads(http_text(url) or "null")
            if not s:
                return None
            open_orders = sum(r["orders"] for r in s["open_windows"]["sales_per_minute"])
            g = os.path.join(root, "sales_per_minute", "**", "*.parquet")
            lake = 0
            if glob.glob(g, recursive=True):   # the directory can exist before its first committed file
                lake = duckdb.connect().execute(f"SELECT coalesce(sum(orders), 0) FROM read_parquet('{g}')"
                                                ).fetchone()[0]
            return (lake, open_orders) if lake + open_orders == purchases else None
        lake, open_orders = wait_for(reconciled, 30, "lake + open windows to hold every purchase", p.stdin)
        assert lake > 0 and open_orders > 0, (lake, open_orders)
        print(f"  {purchases} orders: {lake} in the lake, {open_orders} in open windows")
    finally:
        p.stdin.close()
        rc = p.wait(timeout=60)
    assert rc == 0, p.stderr.read()[-1500:]


case(status_schema_2_on_a_live_stream)
suite.exit()
