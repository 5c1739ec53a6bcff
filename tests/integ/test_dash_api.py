"""ecom dash's numbers against DuckDB: for several ranges, every API answer equals what DuckDB
computes with SQL over the same committed Parquet tables (money to the cent). Also: partitions and
row groups outside the range are not decoded, a newly committed window shows up without a
restart, money stored as dollars (DOUBLE) or cents (INT64) reads the same, uncommitted (hidden)
files are ignored, and a corrupt file gives a 503 with a message, not a crash."""
import datetime as dt
import os
import subprocess
import sys
import time

import duckdb

sys.path.insert(0, os.path.dirname(__file__))
from dashlib import Cases, Dash  # noqa: E402

TMP = os.environ.get("TEST_TMP", "/tmp")
HERE = os.path.dirname(__file__)
PY = sys.executable
START = "2026-11-23T20:00:00Z"   # a day of minute windows across two date partitions


def fixture(root, *args):
    subprocess.run([PY, os.path.join(HERE, "dash_fixture.py"), root, "--start", START, "--minutes", "1440", *args],
                   check=True)


def iso(t):
    if isinstance(t, int):   # epoch microseconds from DuckDB
        t = dt.datetime.fromtimestamp(t / 1e6, dt.timezone.utc)
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def us(t):
    return int(t.timestamp() * 1e6)


class Oracle:
    def __init__(self, root, money):
        self.db = duckdb.connect()
        self.db.execute("SET TimeZone='UTC'")
        self.root = root
        self.div = 100.0 if money == "cents" else 1.0

    def t(self, table):
        return "read_parquet('%s/%s/*/*.parquet', hive_partitioning=false)" % (self.root, table)

    def q(self, sql, *params):
        return self.db.execute(sql, params).fetchall()

    def latest_end(self):
        m = max(self.q("SELECT epoch_us(max(window_end)) FROM " + self.t(t))[0][0] for t in
                ("sales_per_minute", "category_activity", "sales_by_city", "funnel"))
        return dt.datetime.fromtimestamp(m / 1e6, dt.timezone.utc)

    def money(self, v):
        return None if v is None else round(float(v) / self.div, 2)   # DECIMAL(18,2) reads as Decimal


def compare(t, d, o, query, frm, to):
    w = "epoch_us(window_start) >= ? AND epoch_us(window_start) < ?"
    frm_t, to_t = frm, to
    frm, to = us(frm), us(to)
    # sales per minute
    st, j = d.get_json("/api/sales_per_minute?" + query)
    t.eq(st, 200, query + " sales status")
    want = o.q("SELECT epoch_us(window_start), epoch_us(window_end), sum(orders), sum(items), sum(revenue) FROM %s WHERE %s "
               "GROUP BY 1, 2 ORDER BY 1" % (o.t("sales_per_minute"), w), frm, to)
    got = [(r["window_start"], r["window_end"], r["orders"], r["items"], r["revenue"]) for r in j["rows"]]
    t.eq(got, [(iso(a), iso(b), c, e, o.money(f)) for a, b, c, e, f in want], query + " sales rows")
    t.check(all(r["avg_ticket"] is None or abs(r["avg_ticket"] - r["revenue"] / r["orders"]) < 0.006 for r in j["rows"]),
            query + " avg ticket")
    # summary
    st, j = d.get_json("/api/summary?" + query)
    (orders, items, rev), = o.q("SELECT coalesce(sum(orders),0), coalesce(sum(items),0), coalesce(sum(revenue),0) "
                                "FROM %s WHERE %s" % (o.t("sales_per_minute"), w), frm, to)
    (viewed, purchased), = o.q("SELECT coalesce(sum(viewed),0), coalesce(sum(purchased),0) FROM %s WHERE %s"
                               % (o.t("funnel"), w), frm, to)
    t.eq((j["orders"], j["items"], j["revenue"]), (orders, items, o.money(rev)), query + " summary sums")
    want_ticket = round(o.money(rev) / orders, 2) if orders else None
    t.check((j["avg_ticket"] is None and want_ticket is None) or abs(j["avg_ticket"] - want_ticket) < 0.006,
            "%s avg ticket %r vs %r" % (query, j["avg_ticket"], want_ticket))
    t.eq((j["viewed"], j["purchased"]), (viewed, purchased), query + " summary funnel")
    t.check((j["conversion"] is None and not viewed) or abs(j["conversion"] - purchased / viewed) < 1e-5,
            query + " conversion")
    t.eq((j["from"], j["to"]), (iso(frm_t), iso(to_t)), query + " range echoed")
    # category activity
    st, j = d.get_json("/api/category_activity?" + query)
    want = o.q("SELECT category, sum(views) v, sum(adds), sum(removes), sum(units_sold), sum(revenue) FROM %s "
               "WHERE %s GROUP BY 1 ORDER BY v DESC, category" % (o.t("category_activity"), w), frm, to)
    got = [(r["category"], r["views"], r["adds"], r["removes"], r["units_sold"], r["revenue"]) for r in j["rows"]]
    t.eq(got, [(a, b, c, e, f, o.money(g)) for a, b, c, e, f, g in want], query + " categories")
    # top products: views summed over the range's windows of product_activity, top 10, ties by product_id
    st, j = d.get_json("/api/top_products?" + query)
    has_pa = os.path.isdir(os.path.join(o.root, "product_activity"))   # the stream writes it with the catalog
    want = [] if not has_pa else o.q("SELECT product_id, sum(views) v FROM %s WHERE %s GROUP BY 1 ORDER BY v DESC, product_id LIMIT 10"
               % (o.t("product_activity"), w), frm, to)
    t.eq([(r["product_id"], r["views"]) for r in j["rows"]], want, query + " top products")
    t.eq([r["rank"] for r in j["rows"]], list(range(1, len(want) + 1)), query + " ranks")
    # sales by city
    st, j = d.get_json("/api/sales_by_city?" + query)
    want = o.q("SELECT province, city, store_type, sum(orders) n, sum(revenue) FROM %s WHERE %s GROUP BY 1, 2, 3 "
               "ORDER BY n DESC, province, city, store_type LIMIT 100" % (o.t("sales_by_city"), w), frm, to)
    t.eq([(r["province"], r["city"], r["store_type"], r["orders"], r["revenue"]) for r in j["rows"]],
         [(a, b, c, e, o.money(f)) for a, b, c, e, f in want], query + " cities")
    # funnel
    st, j = d.get_json("/api/funnel?" + query)
    (v, c, p, n), = o.q("SELECT coalesce(sum(viewed),0), coalesce(sum(carted),0), coalesce(sum(purchased),0), "
                        "count(DISTINCT window_start) "
                        "FROM %s WHERE %s" % (o.t("funnel"), w), frm, to)
    t.eq((j["viewed"], j["carted"], j["purchased"], j["windows"]), (v, c, p, n), query + " funnel")
    if v:
        t.check(abs(j["view_to_cart_rate"] - c / v) < 1e-5, query + " view->cart rate")
    if c:
        t.check(abs(j["cart_to_purchase_rate"] - p / c) < 1e-5, query + " cart->purchase rate")


def ranges(o):
    end = o.latest_end()
    out = []
    for last, delta in [("15m", 15), ("1h", 60), ("24h", 1440), ("90s", 1.5)]:
        out.append(("last=" + last, end - dt.timedelta(minutes=delta), end))
    out.append(("", end - dt.timedelta(minutes=60), end))   # the default range
    a = dt.datetime(2026, 11, 23, 22, 7, 30, tzinfo=dt.timezone.utc)
    b = dt.datetime(2026, 11, 24, 3, 41, 0, tzinfo=dt.timezone.utc)   # across midnight, mid row group
    out.append(("from=2026-11-23T22:07:30Z&to=2026-11-24T03:41:00Z", a, b))
    a2 = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    out.append(("from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z", a2, a2 + dt.timedelta(days=1)))  # no data
    return out


def numbers_dollars(t):
    root = os.path.join(TMP, "lake-dollars")
    fixture(root, "--money", "dollars")
    o = Oracle(root, "dollars")
    d = Dash(root)
    try:
        for q, frm, to in ranges(o):
            compare(t, d, o, q, frm, to)
    finally:
        rc, err = d.stop()
    t.eq(rc, 0, "clean exit")
    t.check("AddressSanitizer" not in err and "runtime error" not in err, "sanitizers: " + err[-400:])


def numbers_from_stream(t):
    """The same comparison on tables written by a seeded `ecom gen` + `ecom stream` run."""
    root = os.path.join(TMP, "lake-stream")
    ecom = os.environ["ECOM"]
    events = os.path.join(TMP, "stream-events.ndjson")
    subprocess.run([ecom, "gen", "--seed", "5", "--users", "800", "--start", START, "--rate", "2",
                    "--count", "100000", "--quiet", "--dup-frac", "0.01", "--bad-frac", "0.005",
                    "--out", events], check=True)
    subprocess.run([ecom, "stream", "--input", events, "--out", root, "--quiet"], check=True)
    o = Oracle(root, "dollars")
    d = Dash(root)
    try:
        for q, frm, to in ranges(o):
            compare(t, d, o, q, frm, to)
    finally:
        rc, err = d.stop()
    t.eq(rc, 0, "clean exit")


def numbers_cents(t):
    root = os.path.join(TMP, "lake-cents")
    fixture(root, "--money", "cents", "--seed", "7")
    o = Oracle(root, "cents")
    d = Dash(root)
    try:
        for q, frm, to in ranges(o)[:3]:
            compare(t, d, o, q, frm, to)
    finally:
        d.stop()


def pruning_and_refresh(t):
    root = os.path.join(TMP, "lake-refresh")
    fixture(root, "--seed", "3")
    d = Dash(root, "--poll", "100ms")
    try:
        st, j = d.get_json("/api/sales_per_minute?last=15m")
        t.eq(len(j["rows"]), 15, "15 windows")
        st, h = d.get_json("/api/health")
        reads = h["tables"]["reads"]
        # 24 files x 4 row groups per table and day; a 15-minute range needs 1 or 2 row groups of
        # each table the answer reads: sales_per_minute, and category_activity and the funnel for
        # the minutes without a sales row (src/dash/gaps.c).
        t.check(reads["row_groups_decoded"] <= 6, "row groups decoded for 15 min: %r" % reads)
        st, j = d.get_json("/api/sales_per_minute?from=2026-11-24T10:00:00Z&to=2026-11-24T10:30:00Z")
        st, h2 = d.get_json("/api/health")
        t.check(h2["tables"]["reads"]["row_groups_decoded"] - reads["row_groups_decoded"] <= 6,
                "row groups decoded for 30 min: %r" % h2["tables"]["reads"])
        gen = j["generation"]
        last = (d.get_json("/api/sales_per_minute?last=15m")[1])["rows"][-1]["window_start"]
        # an uncommitted (hidden) file changes nothing
        hidden = os.path.join(root, "sales_per_minute", "date=2026-11-24", ".part-x.parquet.tmp")
        open(hidden, "wb").write(b"PAR1 partial")
        subprocess.run([PY, os.path.join(HERE, "dash_fixture.py"), root, "--add-window", "--seed", "4"], check=True)
        deadline = time.time() + 10
        new_last = last
        while time.time() < deadline and new_last == last:   # bounded: the poll interval is 100 ms
            new_last = d.get_json("/api/sales_per_minute?last=15m")[1]["rows"][-1]["window_start"]
            time.sleep(0.05)
        t.check(new_last > last, "new window visible: %s -> %s" % (last, new_last))
        st, j = d.get_json("/api/sales_per_minute?last=15m")
        t.check(j["generation"] != gen, "generation changed")
        t.eq(len(j["rows"]), 15, "still 15 windows")
    finally:
        rc, err = d.stop()
    t.eq(rc, 0, "clean exit")


def corrupt_file(t):
    root = os.path.join(TMP, "lake-corrupt")
    part = os.path.join(root, "funnel", "date=2026-11-24")
    os.makedirs(part, exist_ok=True)
    with open(os.path.join(part, "part-bad.parquet"), "wb") as f:
        f.write(b"PAR1" + os.urandom(3000) + b"\x10\x00\x00\x00PAR1")
    d = Dash(root)
    try:
        st, h, body = d.request("GET", "/api/funnel")
        t.eq(st, 503, "corrupt file status")
        t.check(b"cannot read the lake" in body, "message: %r" % body[:200])
        st, h, body = d.request("GET", "/")
        t.eq(st, 200, "page still served")
    finally:
        rc, err = d.stop()
    t.eq(rc, 0, "clean exit")
    t.check("AddressSanitizer" not in err and "runtime error" not in err, "sanitizers: " + err[-400:])


if __name__ == "__main__":
    c = Cases()
    for fn in [numbers_dollars, numbers_cents, numbers_from_stream, pruning_and_refresh, corrupt_file]:
        c.run(fn)
    sys.exit(1 if c.failed else 0)
