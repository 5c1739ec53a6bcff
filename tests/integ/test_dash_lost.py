"""test_dash_lost — a committed file lost (deleted by hand, a storage fault) never turns silently
into smaller numbers (docs/dashboard.md "A lost file").

The commit log keeps only its newest record (pipeline.h), so a file an older commit published
and that is gone is named by nothing: the dashboard tells it from the tables that count the same
events. A lake the current binary wrote with one commit per minute (--commit-interval 1ms over a
file, short funnel horizons so the funnel has a file per minute too); for each metric table, a
copy with one of its files from the middle of the range deleted (not the newest commit's):

  - sales_per_minute: its minute is `missing` (why units_sold), the sales totals are null;
    sales_by_city / sales_by_channel disagree with it in that minute;
  - funnel: its minutes are `missing` in /api/funnel (why views: category_activity counts them),
    the funnel's totals and /api/summary's viewed/carted/purchased/conversion are null,
    summary.funnel_missing_windows counts them (before: every funnel number 2-3% smaller, said
    nowhere);
  - category_activity / product_activity: each disagrees with the other in that minute
    (disagree_with, disagree_windows; before: nothing said), and so do the product ranks;
  - sales_by_city / sales_by_channel: disagree with sales_per_minute;
  - every funnel file: the minutes category_activity counts views in up to its latest end minus
    the funnel horizon its files state are `missing` (before: no bound, nothing said).
The intact lake: no minute missing, every disagree_windows 0.
"""
import datetime as dt
import glob
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
from dashlib import Dash  # noqa: E402
from testlib import ECOM_OPT, TMP, Suite, run  # noqa: E402

Q = "?from=2026-11-23T10:00:00.000Z&to=2026-11-23T11:00:00.000Z"
APIS = ["summary", "sales_per_minute", "funnel", "category_activity", "product_activity", "top_products",
        "sales_by_city", "sales_by_channel"]
KEYED = {"category_activity": "product_activity", "product_activity": "category_activity",
         "top_products": "category_activity", "sales_by_city": "sales_per_minute",
         "sales_by_channel": "sales_per_minute"}
STATE = {}
suite = Suite()
case = suite.case


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def lake():
    if "lake" not in STATE:
        root, ev = os.path.join(TMP, "lake"), os.path.join(TMP, "ev.ndjson")
        run([ECOM_OPT, "gen", "--seed", "7", "--users", "400", "--start", "2026-11-23T10:00:00Z", "--rate", "15",
             "--duration", "40m", "--out", ev, "--quiet"])
        # One thread: a commit every 1 ms gives about a file per minute; with workers a commit's
        # barrier holds up to a ring of batches (2,048 records), so fewer, larger epochs.
        run([ECOM_OPT, "stream", "--input", ev, "--out", root, "--quiet", "--commit-interval", "1ms",
             "--view-to-cart", "2m", "--cart-to-purchase", "3m", "--threads", "1"])
        STATE["lake"] = root
    return STATE["lake"]


def answers(root):
    d = Dash(root)
    try:
        out = {}
        for a in APIS:
            st, j = d.get_json("/api/" + a + Q)
            check(st == 200, f"/api/{a}: {st} {j}")
            out[a] = j
    finally:
        rc, err = d.stop()
    check(rc == 0, f"dash exited {rc}: {err[-1500:]}")
    return out


def losing(table):
    """A copy of the lake without one file of table from the middle of the range: the answers."""
    root = os.path.join(TMP, "lost-" + table)
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(lake(), root)
    files = sorted(glob.glob(os.path.join(root, table, "date=*", "*.parquet")))
    check(len(files) >= 20, f"fixture: {table} has a file per minute: {len(files)}")
    os.remove(files[len(files) // 2])
    return answers(root)


def disagreeing(a, lost=(), n=None):
    """The keyed answers' disagree_windows (checked against their witness' name): the same n >= 1
    (the lost file's minutes; a file may hold more than one) for the tables in lost, 0 for the
    others. Returns n."""
    got = {}
    for k, w in KEYED.items():
        check(a[k].get("disagree_with") == w, f"{k} is compared with {w}: {a[k].get('disagree_with')}")
        got[k] = a[k].get("disagree_windows")
    n = n or (got[lost[0]] if lost else 0)
    want = {k: n if k in lost else 0 for k in KEYED}
    check(got == want and (n >= 1 or not lost), f"disagree_windows {got}, want {want}")
    return n


def intact_says_nothing():
    a = answers(lake())
    check(a["sales_per_minute"]["missing"] == [] and a["funnel"]["missing"] == [], "nothing missing")
    check(a["summary"]["missing_windows"] == 0 and a["summary"]["funnel_missing_windows"] == 0, a["summary"])
    check(a["summary"]["conversion"] is not None and a["funnel"]["viewed"] > 0, a["summary"])
    disagreeing(a)


def lost_sales_file():
    a = losing("sales_per_minute")
    m = a["sales_per_minute"]["missing"]
    check(m and all(x["why"] == "units_sold" for x in m), f"missing: {m}")
    check(a["summary"]["revenue"] is None and a["summary"]["missing_windows"] == len(m), a["summary"])
    disagreeing(a, ("sales_by_city", "sales_by_channel"), len(m))


def lost_funnel_file():
    a = losing("funnel")
    f, s = a["funnel"], a["summary"]
    m = f.get("missing") or []
    check(m and f["missing_windows"] == len(m) and all(x["why"] == "views" and x["views"] > 0 for x in m),
          f"funnel missing: {m}")
    check(all(f[c] is None for c in ("viewed", "carted", "purchased", "view_to_purchase_rate")), f"funnel totals: {f}")
    check(s["funnel_missing_windows"] == len(m) and all(s[c] is None for c in ("viewed", "carted", "purchased", "conversion")),
          f"summary: {s}")
    check(s["missing_windows"] == 0 and s["revenue"] is not None, "the sales are whole")
    disagreeing(a)


def lost_every_funnel_file():
    """Every funnel file lost: category_activity's files state the funnel horizon H (pipeline.h
    PIPELINE_KV_FUNNEL_HORIZON, here 5 min), so every minute it counts views in that ends at or
    before its latest end minus H is missing (before: no funnel file, no bound, nothing said:
    it read as a young lake). The last H of the range stay unflagged (not final yet, as far as
    the lake can tell: docs/dashboard.md's limits)."""
    import pyarrow.parquet as pq
    root = os.path.join(TMP, "lost-every-funnel")
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(lake(), root)
    cat = sorted(glob.glob(os.path.join(root, "category_activity", "date=*", "*.parquet")))
    meta = {k.decode(): v.decode() for k, v in (pq.read_metadata(cat[-1]).metadata or {}).items()}
    check(meta.get("ecom.funnel_horizon_us") == str(5 * 60 * 10**6), f"the category file states H: {meta}")
    views, end = {}, None
    for f in cat:
        t = pq.read_table(f, columns=["window_start", "window_end", "views"]).to_pylist()
        for r in t:
            we = r["window_end"].replace(tzinfo=None)
            end = we if end is None or we > end else end
            views[r["window_start"].replace(tzinfo=None)] = views.get(r["window_start"].replace(tzinfo=None), 0) + r["views"]
    bound = end - dt.timedelta(minutes=5)
    want = sorted(ws for ws, v in views.items() if v > 0 and ws + dt.timedelta(minutes=1) <= bound)
    for f in glob.glob(os.path.join(root, "funnel", "date=*", "*.parquet")):
        os.remove(f)
    a = answers(root)
    m = a["funnel"].get("missing") or []
    got = sorted(dt.datetime.strptime(x["window_start"], "%Y-%m-%dT%H:%M:%S.%fZ") for x in m)
    check(len(want) >= 20 and got == want, f"missing {len(got)} minutes, want the {len(want)} up to {bound}: {m[:3]}")
    check(all(x["why"] == "views" and x["views"] == views[g] for x, g in zip(sorted(m, key=lambda x: x["window_start"]), got)),
          f"each names category_activity's views: {m[:3]}")
    s = a["summary"]
    check(s["funnel_missing_windows"] == len(want) and s["conversion"] is None, f"summary: {s}")


def hostile_horizon_ignored():
    """A footer whose ecom.funnel_horizon_us is no horizon ecom writes (negative, past the most a
    stream can have, not a number, an overflow) states none: the check keeps the funnel's own
    bound (nothing said with every funnel file gone), no crash. The same rewrite with a real
    horizon flags the minutes, so the rewritten files are read."""
    import pyarrow.parquet as pq
    for v, flagged in (("300000000", True), ("-300000000", False), ("94867200000001", False), ("5m", False),
                       ("99999999999999999999999", False), ("", False)):
        root = os.path.join(TMP, "hostile-horizon")
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(lake(), root)
        for f in glob.glob(os.path.join(root, "funnel", "date=*", "*.parquet")):
            os.remove(f)
        for f in glob.glob(os.path.join(root, "category_activity", "date=*", "*.parquet")):
            t = pq.read_table(f)
            t = t.drop_columns([c for c in ("date",) if c in t.column_names])
            pq.write_table(t.replace_schema_metadata({"ecom.funnel_horizon_us": v}), f + ".tmp")
            os.replace(f + ".tmp", f)
        m = answers(root)["funnel"].get("missing") or []
        check(bool(m) == flagged, f"horizon {v!r}: {len(m)} minutes missing, want {'some' if flagged else 'none'}")


def lost_category_file():
    a = losing("category_activity")
    disagreeing(a, ("category_activity", "product_activity", "top_products"))


def lost_product_file():
    a = losing("product_activity")
    disagreeing(a, ("category_activity", "product_activity", "top_products"))


def lost_city_and_channel_files():
    for t in ("sales_by_city", "sales_by_channel"):
        disagreeing(losing(t), (t,))


case(intact_says_nothing)
case(lost_sales_file)
case(lost_funnel_file)
case(lost_every_funnel_file)
case(hostile_horizon_ignored)
case(lost_category_file)
case(lost_product_file)
case(lost_city_and_channel_files)
suite.exit()
