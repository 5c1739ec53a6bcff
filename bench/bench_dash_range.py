"""bench_dash_range — latency of one 24 h answer, one request at a time on a keep-alive
connection: (a) from the answer cache (the same range again) and (b) computed from the warm
row-group cache (a different 24 h range each request: every answer merges ~470k
product_activity rows). Peer: DuckDB, the same aggregation over the same files, in the same
run. Prints medians and p90 in ms, and the server's CPU time (user + sys, from /proc) per
computed answer: the figure that does not depend on how loaded the machine is.
usage: bench_dash_range.py URL LAKE DASH_PID"""
import os
import calendar
import http.client
import random
import statistics
import sys
import time
import urllib.parse

import duckdb

url, lake, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])


def cpu_ms():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")

u = urllib.parse.urlparse(url)
con = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
DAY0 = calendar.timegm((2026, 11, 25, 0, 0, 0))   # the lake holds 2026-11-24 and 2026-11-25


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def get(path, want_rows=True):
    t0 = time.perf_counter()
    con.request("GET", path)
    r = con.getresponse()
    body = r.read()
    ms = (time.perf_counter() - t0) * 1000
    assert r.status == 200, (path, r.status)
    assert not want_rows or b'"rows":[]' not in body, ("empty answer", path)
    return ms


def stats(xs):
    xs = sorted(xs)
    return "%7.2f %7.2f" % (statistics.median(xs), xs[int(len(xs) * 0.9)])


rng = random.Random(7)
get("/api/product_activity?from=2026-11-24T00:00:00Z&to=2026-11-26T00:00:00Z")   # decode every row group once
SQL = {
    "top_products": """SELECT product_id, sum(views) v FROM read_parquet('{l}/product_activity/*/*.parquet')
                       WHERE window_start >= ? AND window_start < ? GROUP BY 1 ORDER BY v DESC, 1 LIMIT 10""",
    "top_products_by_revenue": """SELECT product_id, sum(revenue) v FROM read_parquet('{l}/product_activity/*/*.parquet')
                       WHERE window_start >= ? AND window_start < ? GROUP BY 1 ORDER BY v DESC, 1 LIMIT 10""",
    "category_activity": """SELECT category, sum(views) v, sum(adds), sum(removes), sum(units_sold), sum(revenue)
                       FROM read_parquet('{l}/category_activity/*/*.parquet') WHERE window_start >= ? AND window_start < ?
                       GROUP BY 1 ORDER BY v DESC""",
    "summary": """SELECT sum(orders), sum(revenue), (SELECT sum(purchased) / sum(viewed) FROM read_parquet('{l}/funnel/*/*.parquet')
                  WHERE window_start >= $1 AND window_start < $2) FROM read_parquet('{l}/sales_per_minute/*/*.parquet')
                  WHERE window_start >= $1 AND window_start < $2""",
}
db = duckdb.connect()
db.execute("SET TimeZone='UTC'")
print("%-24s | %-15s | %-15s | %-9s | %-15s | %s" % ("24 h answer", "cached p50 p90", "computed p50 p90", "CPU/answer",
                                                     "DuckDB p50 p90", "DuckDB/computed"))
for api in ["top_products", "top_products_by_revenue", "category_activity", "summary", "sales_per_minute"]:
    q = "/api/%s?from=%s&to=%s" % (api, iso(DAY0 - 43200), iso(DAY0 + 43200))
    get(q)
    cached = [get(q) for _ in range(200)]
    computed, duck, cpu = [], [], 0.0
    for i in range(200):
        a = DAY0 - 86400 + rng.randint(0, 1439) * 60
        c0 = cpu_ms()
        computed.append(get("/api/%s?from=%s&to=%s" % (api, iso(a), iso(a + 86400))))
        cpu += cpu_ms() - c0
        if api in SQL and i < 15:
            sql = SQL[api].format(l=lake)
            t0 = time.perf_counter()
            db.execute(sql, [iso(a), iso(a + 86400)]).fetchall()
            duck.append((time.perf_counter() - t0) * 1000)
    ratio = "%.0fx" % (statistics.median(duck) / statistics.median(computed)) if duck else "-"
    print("%-24s | %s | %s | %9.2f | %s | %s" % (api, stats(cached), stats(computed), cpu / 200,
                                                 stats(duck) if duck else "      -       -", ratio))
