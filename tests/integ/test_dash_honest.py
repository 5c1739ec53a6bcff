"""test_dash_honest — a viewer of `ecom dash` must never see a wrong number, lose an event, or
wonder why (docs/dashboard.md "Columns a file does not have", "Where the data begins").

One lake written by the current binary (`ecom gen` from 23:47:23, across midnight, with late
events, so correction rows; then `ecom stream --input`), and cases over it:
  - old_lake_columns_unknown: the lake as an older ecom wrote it — one funnel file rewritten by
    pyarrow without `abandoned` / `abandonment_rate`, one sales_by_channel file without `revenue`,
    one sales_per_minute file without `orders`, the sales_by_city files of one day without
    `revenue` (the map).
    The API says null (per window, per key, and in totals over a range where only some windows
    lack it, with how many), never 0; the known numbers still equal DuckDB's.
  - money_written_by_another_tool: revenue as pyarrow writes DECIMAL (FIXED_LEN_BYTE_ARRAY), also
    at scale 4, reads as the same cents as DuckDB.
  - first_minute_partial: the window the lake's first event falls in is `partial`, `data_from`
    says where the data begins; before a fresh stream's first commit, its open minute is.
  - ranges_equal_duckdb: totals and rows over 30 random ranges (crossing midnight, with the
    correction rows of the late events) equal DuckDB over the lake's own metric Parquet files.
  - page_shows_unknown: in Chromium (test_dash_unknown.mjs) the page shows "—" with the reason,
    never 0, and draws the partial first minute apart.
  - hostile_names_are_text: product and city names with markup, quotes, control characters and
    unicode (and names that are words the page translates) are exact in the API and shown as
    text, exactly, in Chromium (test_dash_names.mjs).
  - scale_out_partition_behind: a window one scale-out partition has committed and another still
    has open is provisional with both parts, each counted once.
  - sse_disconnect_is_quiet: an /api/stream client leaving is no error line on stderr.
  - row_without_window_refused: a sales_per_minute file another tool rewrote with one row's
    window_start null is refused by name (503), not summed without that row.
"""
import datetime as dt
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time

import duckdb
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(__file__))
from dashlib import Dash, FakeStream  # noqa: E402
from testlib import ECOM_OPT, TMP, Suite, run  # noqa: E402

START = "2026-11-23T23:47:23Z"   # mid-minute: the first minute holds only its last 37 s
FROM, TO = "2026-11-23T23:00:00.000Z", "2026-11-24T01:00:00.000Z"   # begins before the data
REPO = os.environ.get("REPO", os.getcwd())
STATE = {}


def lake():
    """The lake, written once by the current binary."""
    if "lake" not in STATE:
        root = os.path.join(TMP, "lake")
        ev = os.path.join(TMP, "ev.ndjson")
        run([ECOM_OPT, "gen", "--seed", "7", "--users", "400", "--start", START, "--rate", "15", "--duration", "25m",
             "--late-frac", "0.05", "--late-max", "10m", "--out", ev, "--quiet"])
        run([ECOM_OPT, "stream", "--input", ev, "--out", root, "--quiet"])
        STATE["lake"] = root
    return STATE["lake"]


def files(root, table, date=None):
    d = os.path.join(root, table)
    return sorted(os.path.join(d, p, f) for p in os.listdir(d) if p.startswith("date=") and (not date or p == "date=" + date)
                  for f in os.listdir(os.path.join(d, p)) if f.endswith(".parquet"))


def drop_columns(path, cols):
    """Rewrites one committed file without cols, as a writer that never had them (by rename)."""
    t = pq.read_table(path)
    t = t.drop_columns([c for c in cols if c in t.column_names])
    for c in cols:
        assert c not in t.column_names
    pq.write_table(t.drop_columns([c for c in ("date",) if c in t.column_names]), path + ".tmp")
    os.replace(path + ".tmp", path)


def old_lake():
    """A copy of the lake as an older ecom wrote part of it."""
    if "old" not in STATE:
        root = os.path.join(TMP, "old-lake")
        shutil.copytree(lake(), root)
        STATE["funnel_old"] = files(root, "funnel", "2026-11-23")
        STATE["channel_old"] = files(root, "sales_by_channel", "2026-11-24")
        STATE["sales_old"] = files(root, "sales_per_minute", "2026-11-23")
        STATE["city_old"] = files(root, "sales_by_city", "2026-11-23")
        for f in STATE["sales_old"]:
            drop_columns(f, ["orders", "avg_ticket"])
        for f in STATE["funnel_old"]:
            drop_columns(f, ["abandoned", "abandonment_rate"])
        for f in STATE["channel_old"]:
            drop_columns(f, ["revenue", "avg_ticket"])
        for f in STATE["city_old"]:
            drop_columns(f, ["revenue"])
        STATE["old"] = root
    return STATE["old"]


def us(iso):
    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1_000_000)


def cents(x):
    return None if x is None else int(round(x * 100))


def db_over(paths):
    """DuckDB over parquet paths (a list), window_start as epoch us."""
    return duckdb.connect().execute(
        "SELECT epoch_us(window_start) AS ws, * EXCLUDE (window_start) FROM read_parquet(%r, union_by_name=true)" %
        paths).fetch_arrow_table()


def sql(q, **tables):
    con = duckdb.connect()
    for k, v in tables.items():
        con.register(k, v)
    return con.execute(q).fetchall()


def get(d, path):
    st, j = d.get_json(path)
    assert st == 200, (path, st, j)
    return j


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def stopped_clean(d):
    rc, err = d.stop()
    check(rc == 0 and "AddressSanitizer" not in err and "runtime error" not in err, "dash exit %s: %s" % (rc, err[-800:]))
    return err


def old_lake_columns_unknown():
    root = old_lake()
    d = Dash(root)
    try:
        old = db_over(STATE["funnel_old"])
        old_ws = {r[0] for r in sql("SELECT DISTINCT ws FROM t", t=old)}
        check(old_ws, "the rewritten funnel file has windows")
        f = get(d, "/api/funnel?from=%s&to=%s" % (FROM, TO))
        for r in f["rows"]:
            ws = us(r["window_start"])
            if ws in old_ws:
                check(r["abandoned"] is None and r["abandonment_rate"] is None, "not 0 but null: %r" % r)
                check(r["not_recorded"] == ["abandoned", "abandonment_rate"], "why: %r" % r)
            else:
                check(isinstance(r["abandoned"], int) and "not_recorded" not in r, "a known window: %r" % r)
            check(isinstance(r["viewed"], int) and isinstance(r["carted"], int), "the other columns are known: %r" % r)
        check(f["abandoned"] is None and f["abandonment_rate"] is None, "a range's total with unknown parts is no "
              "number: %r %r" % (f["abandoned"], f["abandonment_rate"]))
        check(f["not_recorded"] == {"abandoned": len(old_ws), "abandonment_rate": len(old_ws)} and
              f["windows"] > len(old_ws), "N of M windows: %r of %r" % (f["not_recorded"], f["windows"]))
        # a range of windows that all have the column: the exact total (DuckDB over the same files)
        g = get(d, "/api/funnel?from=2026-11-24T00:00:00Z&to=%s" % TO)
        new = db_over(files(root, "funnel", "2026-11-24"))
        (ab, ca), = sql("SELECT sum(abandoned), sum(carted) FROM t", t=new)
        check(g["abandoned"] == ab and g["not_recorded"] == {} and abs(g["abandonment_rate"] - ab / ca) < 1e-5,
              "known range: %r want %r" % (g["abandoned"], ab))
        # a keyed metric without a money column: null per key that has an unknown part
        ch = db_over(files(root, "sales_by_channel"))
        c = get(d, "/api/sales_by_channel?from=%s&to=%s" % (FROM, TO))
        want = {(k[0], k[1]): (k[2], k[3]) for k in sql(
            "SELECT store_type, device, sum(orders)::BIGINT, bool_or(revenue IS NULL) FROM t GROUP BY 1, 2", t=ch)}
        check(len(c["rows"]) == len(want), "keys %d want %d" % (len(c["rows"]), len(want)))
        nunk = 0
        for r in c["rows"]:
            orders, unknown = want[(r["store_type"], r["device"])]
            check(r["orders"] == orders, "orders of %r want %r" % (r, orders))
            if unknown:
                nunk += 1
                check(r["revenue"] is None and r["avg_ticket"] is None and r["not_recorded"] == ["revenue", "avg_ticket"],
                      "revenue not recorded: %r" % r)
        check(nunk > 0 and c["not_recorded"] == {"revenue": nunk, "avg_ticket": nunk}, "keys unknown %d: %r" %
              (nunk, c["not_recorded"]))
        # the KPIs: orders (and so the average ticket) unknown over the range, revenue known
        sales_ws = {r[0] for r in sql("SELECT DISTINCT ws FROM t", t=db_over(STATE["sales_old"]))}
        s = get(d, "/api/summary?from=%s&to=%s" % (FROM, TO))
        check(s["orders"] is None and s["avg_ticket"] is None and isinstance(s["revenue"], float) and
              s["not_recorded"] == {"orders": len(sales_ws), "avg_ticket": len(sales_ws)} and s["windows"] > len(sales_ws),
              "summary: %r" % s)
        s = get(d, "/api/summary?from=2026-11-24T00:00:00Z&to=%s" % TO)
        check(s["not_recorded"] == {} and isinstance(s["revenue"], float), "a range of new minutes: %r" % s)
    finally:
        stopped_clean(d)


def money_written_by_another_tool():
    """Money as pyarrow writes a DECIMAL by default (FIXED_LEN_BYTE_ARRAY), and at scale 4: the
    same cents as DuckDB reads (read as 0, and at scale 4 as 100x, before)."""
    import pyarrow as pa
    root = os.path.join(TMP, "tool-lake")
    shutil.copytree(lake(), root)
    for table, typ in (("sales_per_minute", pa.decimal128(20, 4)), ("category_activity", pa.decimal128(18, 2))):
        for f in files(root, table):
            t = pq.read_table(f)
            t = t.drop_columns([c for c in ("date",) if c in t.column_names])
            i = t.column_names.index("revenue")
            t = t.set_column(i, pa.field("revenue", typ, nullable=False), t.column("revenue").cast(typ))
            pq.write_table(t, f + ".tmp", store_decimal_as_integer=False)
            os.replace(f + ".tmp", f)
    d = Dash(root)
    try:
        for table, api in (("sales_per_minute", "sales_per_minute"), ("category_activity", "category_activity")):
            (rev,), = sql("SELECT sum(revenue) FROM t WHERE ws >= %d AND ws < %d" % (us(FROM), us(TO)),
                          t=db_over(files(root, table)))
            a = get(d, "/api/%s?from=%s&to=%s&limit=100" % (api, FROM, TO))
            got = a["revenue"] if "revenue" in a else sum(cents(r["revenue"]) for r in a["rows"]) / 100
            check(cents(got) == cents(float(rev)) and a.get("not_recorded") == {}, "%s revenue %r want %r (%r)" %
                  (table, got, rev, a.get("not_recorded")))
    finally:
        stopped_clean(d)


def first_minute_partial():
    d = Dash(lake())
    try:
        first = "2026-11-23T23:47:00.000Z"
        for api in ("sales_per_minute", "funnel"):
            a = get(d, "/api/%s?from=%s&to=%s" % (api, FROM, TO))
            check(a["data_from"] == first, api + " data_from " + a["data_from"])
            part = [r["window_start"] for r in a["rows"] if r["partial"]]
            check(part == [first], api + " partial rows %r" % part)
        s = get(d, "/api/summary?last=15m")
        check(s["data_from"] == first, "summary data_from %r" % s["data_from"])
        k = get(d, "/api/category_activity?from=%s&to=%s" % (FROM, TO))
        check(k["data_from"] == first, "keyed data_from %r" % k["data_from"])
    finally:
        stopped_clean(d)


def rand_ranges(n, seed):
    lo, hi = us("2026-11-23T23:40:00Z"), us("2026-11-24T00:20:00Z")
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a = lo + rng.randrange(0, (hi - lo) // 60_000_000) * 60_000_000
        b = a + rng.choice([1, 2, 5, 13, 30, 45]) * 60_000_000 + rng.choice([0, 0, 17_000_000])   # some end mid-minute
        out.append((a, b))
    out.append((us("2026-11-23T23:59:00Z"), us("2026-11-24T00:01:00Z")))   # across midnight
    return out


def iso(u):
    return dt.datetime.fromtimestamp(u / 1e6, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ranges_equal_duckdb():
    root = lake()
    t = {m: db_over(files(root, m)) for m in ("sales_per_minute", "funnel", "category_activity", "sales_by_channel",
                                              "product_activity")}
    ncorr, = sql("SELECT count(*) FROM t WHERE correction", t=t["sales_per_minute"])[0]
    check(ncorr > 0, "the lake has correction rows (late events)")
    d = Dash(root)
    errors = []
    try:
        for a, b in rand_ranges(30, 5):
            q = "from=%s&to=%s" % (iso(a), iso(b))
            r = "ws >= %d AND ws < %d" % (a, b)
            s = get(d, "/api/sales_per_minute?" + q)
            (o, i, rev), = sql("SELECT coalesce(sum(orders),0), coalesce(sum(items),0), coalesce(sum(revenue),0) "
                               "FROM t WHERE " + r, t=t["sales_per_minute"])
            if (s["orders"], s["items"], cents(s["revenue"])) != (o, i, cents(float(rev))):
                errors.append("%s sales %r want %r" % (q, (s["orders"], s["items"], s["revenue"]), (o, i, rev)))
            rows = sql("SELECT ws, sum(orders), sum(revenue) FROM t WHERE %s GROUP BY 1 ORDER BY 1" % r,
                       t=t["sales_per_minute"])
            got = [(us(x["window_start"]), x["orders"], cents(x["revenue"])) for x in s["rows"]]
            if got != [(w, n, cents(float(v))) for w, n, v in rows]:
                errors.append("%s sales rows differ" % q)
            f = get(d, "/api/funnel?" + q)
            want = sql("SELECT coalesce(sum(viewed),0), coalesce(sum(carted),0), coalesce(sum(purchased),0), "
                       "coalesce(sum(abandoned),0) FROM t WHERE " + r, t=t["funnel"])[0]
            if (f["viewed"], f["carted"], f["purchased"], f["abandoned"]) != tuple(want):
                errors.append("%s funnel %r want %r" % (q, (f["viewed"], f["carted"], f["purchased"]), want))
            c = get(d, "/api/category_activity?%s&limit=100" % q)
            want = sql("SELECT category, sum(views), sum(adds), sum(removes), sum(units_sold), sum(revenue) FROM t "
                       "WHERE %s GROUP BY 1 ORDER BY 2 DESC, 1" % r, t=t["category_activity"])
            got = [(x["category"], x["views"], x["adds"], x["removes"], x["units_sold"], cents(x["revenue"]))
                   for x in c["rows"]]
            if got != [(k, v, ad, rm, u, cents(float(m))) for k, v, ad, rm, u, m in want]:
                errors.append("%s categories differ" % q)
            p = get(d, "/api/top_products?" + q)
            want = sql("SELECT product_id, sum(views) FROM t WHERE %s GROUP BY 1 HAVING sum(views) > 0 "
                       "ORDER BY 2 DESC, 1 LIMIT 10" % r, t=t["product_activity"])
            if [(x["product_id"], x["views"]) for x in p["rows"]] != [tuple(w) for w in want]:
                errors.append("%s top products differ" % q)
    finally:
        stopped_clean(d)
    check(not errors, "%d differences: %s" % (len(errors), " | ".join(errors[:6])))


def page_shows_unknown():
    d = Dash(old_lake())
    try:
        env = {**os.environ, "DASH_URL": d.url + "/", "RANGE": "from=%s&to=%s" % (FROM, TO)}
        r = subprocess.run(["node", os.path.join(REPO, "tests/integ/test_dash_unknown.mjs")], env=env,
                           capture_output=True, text=True, timeout=180)
        sys.stdout.write(r.stdout)   # its own PASS/FAIL lines, counted by tests/run.sh
        check(r.returncode == 0, "test_dash_unknown.mjs exited %d: %s" % (r.returncode, r.stderr[-1500:]))
    finally:
        stopped_clean(d)


# Names as the data may hold them (an event's product name or city is anyone's text): markup,
# quotes, a backslash, a control character, unicode beyond the BMP, a line separator, and words
# the page translates when they are a category or a channel.
HOSTILE = ['<img src=x onerror="window.__pwned=1">Bad "quoted" \'name\' & <b>bold</b> \\ \x01 ü 中文 😀 \u2028 end',
           "none", "books", '=HYPERLINK("http://x.invalid","y")']
HOSTILE_CITY = '</td><script>window.__pwned=2</script>Qu"ito & <i>Co</i>'


def rename_values(path, col, mapping):
    """Rewrites one committed file with col's values renamed by mapping (by rename)."""
    import pyarrow as pa
    t = pq.read_table(path)
    t = t.drop_columns([c for c in ("date",) if c in t.column_names])
    i = t.column_names.index(col)
    vals = [mapping.get(v, v) for v in t.column(col).to_pylist()]
    t = t.set_column(i, t.schema.field(i), pa.array(vals, t.schema.field(i).type))
    pq.write_table(t, path + ".tmp")
    os.replace(path + ".tmp", path)


def hostile_names_are_text():
    """Product and city names with markup, quotes and unicode: the API gives them exactly (valid
    JSON), the page shows them as text, exactly, never as markup, and never translated."""
    root = os.path.join(TMP, "hostile-lake")
    shutil.copytree(lake(), root)
    pa_files = files(root, "product_activity")
    top = [r[0] for r in sql("SELECT product_id, sum(views) v FROM t WHERE ws >= %d AND ws < %d GROUP BY 1 "
                             "ORDER BY v DESC, 1 LIMIT %d" % (us(FROM), us(TO), len(HOSTILE)), t=db_over(pa_files))]
    names = dict(zip(top, HOSTILE))
    ids = {r[0]: r[1] for r in sql("SELECT DISTINCT product_id, product_name FROM t", t=db_over(pa_files))}
    for f in pa_files:
        rename_values(f, "product_name", {ids[p]: n for p, n in names.items()})
    city_files = files(root, "sales_by_city")
    (city,), = sql("SELECT city FROM t GROUP BY 1 ORDER BY sum(orders) DESC, 1 LIMIT 1", t=db_over(city_files))
    for f in city_files:
        rename_values(f, "city", {city: HOSTILE_CITY})
    d = Dash(root)
    try:
        q = "from=%s&to=%s" % (FROM, TO)
        got = {r["product_id"]: r["product_name"] for r in get(d, "/api/top_products?" + q)["rows"]}
        check(all(got.get(p) == n for p, n in names.items()), "API names: %r" % [got.get(p) for p in names])
        cities = [r["city"] for r in get(d, "/api/sales_by_city?%s&limit=100" % q)["rows"]]
        check(HOSTILE_CITY in cities, "API city: %r" % cities[:3])
        env = {**os.environ, "DASH_URL": d.url + "/", "RANGE": q, "NAMES": json.dumps(HOSTILE), "CITY": HOSTILE_CITY}
        r = subprocess.run(["node", os.path.join(REPO, "tests/integ/test_dash_names.mjs")], env=env,
                           capture_output=True, text=True, timeout=180)
        sys.stdout.write(r.stdout)   # its own PASS/FAIL lines
        check(r.returncode == 0, "test_dash_names.mjs exited %d: %s" % (r.returncode, r.stderr[-1500:]))
    finally:
        stopped_clean(d)


def scale_out_partition_behind():
    """Scale-out: partitions commit at different times. Partition 0 has committed 09:01 while
    partition 1's 09:01 is still open (it has committed only 09:00): the open part is added, the
    window is provisional — not 09:01 "final" with partition 0's orders alone (left out before,
    because the window ended by the metric's latest committed end). A status listing
    partition 0's 09:01 a moment after its commit still counts it once."""
    import pyarrow as pa
    root = os.path.join(TMP, "scaleout-lake")
    part = os.path.join(root, "sales_per_minute", "date=2026-11-25")
    os.makedirs(part, exist_ok=True)
    ts = lambda iso: dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    money = pa.decimal128(18, 2)
    schema = pa.schema([("window_start", pa.timestamp("us", "UTC")), ("window_end", pa.timestamp("us", "UTC")),
                        ("orders", pa.int64()), ("items", pa.int64()), ("revenue", money), ("avg_ticket", money),
                        ("correction", pa.bool_()), ("partition", pa.int32())])
    import decimal
    for name, p, ws, we, orders, rev in (("part-p0000-s3-0.parquet", 0, "2026-11-25T09:01:00Z", "2026-11-25T09:02:00Z", 5, "50.00"),
                                         ("part-p0001-s2-0.parquet", 1, "2026-11-25T09:00:00Z", "2026-11-25T09:01:00Z", 3, "30.00")):
        t = pa.table([[ts(ws)], [ts(we)], [orders], [orders], [decimal.Decimal(rev)], [decimal.Decimal("10.00")], [False], [p]],
                     schema=schema)
        pq.write_table(t, os.path.join(part, "." + name + ".tmp"))
        os.replace(os.path.join(part, "." + name + ".tmp"), os.path.join(part, name))
    w = {"window_start": "2026-11-25T09:01:00.000Z", "window_end": "2026-11-25T09:02:00.000Z",
         "final_at": "2026-11-25T09:02:00.000Z"}
    status = {"schema": 2, "watermark": "2026-11-25T09:01:30.000Z", "layout": "scale-out",
              "open_windows": {"sales_per_minute": [dict(w, partition=1, orders=4, items=4, revenue=40.0, avg_ticket=10.0),
                                                    dict(w, partition=0, orders=5, items=5, revenue=50.0, avg_ticket=10.0)]}}
    fake = FakeStream()
    fake.body = json.dumps(status).encode()
    d = Dash(root, "--stream", fake.url + "/")
    try:
        a = get(d, "/api/sales_per_minute?from=2026-11-25T09:00:00Z&to=2026-11-25T09:05:00Z")
        got = [(r["window_start"], r["orders"], r["revenue"], r["final"]) for r in a["rows"]]
        check(got == [("2026-11-25T09:00:00.000Z", 3, 30.0, True), ("2026-11-25T09:01:00.000Z", 9, 90.0, False)],
              "partition 1's open part added, partition 0's counted once: %r" % got)
        check(a["orders"] == 12 and a["provisional_windows"] == 1, "totals %r, provisional %r" %
              (a["orders"], a["provisional_windows"]))
    finally:
        stopped_clean(d)
        fake.close()


def sse_read_events(port, n, timeout=15):
    """Opens /api/stream, reads n pushes (events or keepalive comments: one per status fetch of
    the feed) within timeout seconds in all, closes the socket; returns how many came, how the
    read ended ("enough", "eof", "timeout") and the bytes, so that a failure says what came."""
    deadline = time.monotonic() + timeout
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
    buf, end = b"", "enough"
    pushes = lambda: buf.count(b"data: ") + buf.count(b": keepalive")
    while pushes() < n:
        left = deadline - time.monotonic()
        if left <= 0:
            end = "timeout"
            break
        s.settimeout(left)
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            end = "timeout"
            break
        if not chunk:
            end = "eof"
            break
        buf += chunk
    s.close()
    return pushes(), end, buf


def sse_disconnect_is_quiet():
    fake = subprocess.Popen([sys.executable, os.path.join(REPO, "tests/integ/dash_fake_status.py")],
                            stdout=subprocess.PIPE, text=True)
    try:
        url = fake.stdout.readline().split()[-1]
        d = Dash(lake(), "--stream", url)
        try:
            # three pages that are closed after their first event, then a client that stays for 4
            # pushes: by then every closed one has been pushed to
            got = [sse_read_events(d.port, 1) for _ in range(3)] + [sse_read_events(d.port, 4)]
        finally:
            err = stopped_clean(d)
        for i, (n, end, buf) in enumerate(got):
            want = 1 if i < 3 else 4
            check(n >= want, "client %d: %d of %d pushes (%s) after %r; dash stderr: %s"
                  % (i + 1, n, want, end, buf[-400:], err[-800:]))
        check("Failed to send" not in err and "chunked" not in err, "a normal disconnect logged: " + err[-600:])
    finally:
        fake.kill()
        fake.wait()


def row_without_window_refused():
    """A row whose window_start is null cannot be placed: the answer is a 503 naming the file and
    the row, never totals without it (before, the row was skipped: revenue lower than the file's)."""
    import pyarrow as pa
    root = os.path.join(TMP, "nowindow-lake")
    shutil.copytree(lake(), root)
    f = files(root, "sales_per_minute")[0]
    t = pq.read_table(f)
    t = t.drop_columns([c for c in ("date",) if c in t.column_names])
    i = t.column_names.index("window_start")
    col = t.column("window_start").to_pylist()
    col[0] = None
    t = t.set_column(i, pa.field("window_start", t.schema.field("window_start").type, nullable=True),
                     pa.array(col, type=t.schema.field("window_start").type))
    pq.write_table(t, f + ".tmp")
    os.replace(f + ".tmp", f)
    d = Dash(root)
    try:
        for api in ("/api/sales_per_minute?from=%s&to=%s" % (FROM, TO), "/api/summary?from=%s&to=%s" % (FROM, TO)):
            st, j = d.get_json(api)
            msg = j.get("error", "") if isinstance(j, dict) else ""
            check(st == 503 and os.path.basename(f) in msg and "no window_start" in msg,
                  "%s: want a 503 naming %s's row without window_start, got %s %r" % (api, os.path.basename(f), st, j))
    finally:
        stopped_clean(d)


def fresh_stream_first_minute_partial():
    """Before its first commit, a fresh stream's open minute is where the data begins: partial."""
    fake = subprocess.Popen([sys.executable, os.path.join(REPO, "tests/integ/dash_fake_status.py")],
                            stdout=subprocess.PIPE, text=True)
    empty = os.path.join(TMP, "empty-lake")
    os.makedirs(empty, exist_ok=True)
    try:
        url = fake.stdout.readline().split()[-1]
        d = Dash(empty, "--stream", url)
        try:
            a = get(d, "/api/sales_per_minute?last=15m")
            check(len(a["rows"]) == 1 and a["rows"][0]["final"] is False and a["rows"][0]["partial"] is True and
                  a["data_from"] == a["rows"][0]["window_start"], "open and partial: %r" % a["rows"])
        finally:
            stopped_clean(d)
    finally:
        fake.kill()
        fake.wait()


if __name__ == "__main__":
    s = Suite()
    for fn in (old_lake_columns_unknown, money_written_by_another_tool, first_minute_partial, fresh_stream_first_minute_partial, ranges_equal_duckdb,
               page_shows_unknown, hostile_names_are_text, scale_out_partition_behind, sse_disconnect_is_quiet,
               row_without_window_refused):
        s.case(fn)
    s.exit()
