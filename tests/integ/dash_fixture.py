"""dash_fixture — writes metric tables (the columns of issue 4, as `ecom stream` writes them) with
pyarrow, for the dashboard's tests and benchmark before/besides a real stream run. Seeded, so a
run is reproducible; the numbers are random but consistent (orders <= views, etc.).

  dash_fixture.py ROOT --start 2026-11-24T00:00:00Z --minutes 1440 [--seed 1] [--money dollars|cents]
  dash_fixture.py ROOT --add-window      # commits the window after the latest one (its own file)
  dash_fixture.py ROOT --from-raw LAKE [--partitions N] [--correction-pct P]
      # the catalog's metric tables (src/metrics/metrics.c: product_activity, sales_by_channel,
      # DECIMAL(18,2) money, `correction` and `partition` columns) computed with DuckDB from the
      # raw tables (views, cart, orders) that `ecom stream` wrote into LAKE; rows split over N
      # partitions (by user, the scale-out layout's shape) and P% of the events moved into
      # correction rows written in their own files, as late events are. RAW names the raw columns.

Layout: ROOT/<table>/date=YYYY-MM-DD/part-<hour>.parquet, row groups of 15 windows, written as
.tmp then renamed (the lake's commit protocol)."""
import argparse
import datetime as dt
import glob
import os
import random

import pyarrow as pa
import pyarrow.parquet as pq

CATS = ["Electrónica", "Ropa", "Hogar", "Deportes", "Juguetes", "Libros", "Belleza", "Alimentos"]
def make_products(n):
    return [("P%03d" % i, "%s item %d" % (CATS[i % len(CATS)], i), CATS[i % len(CATS)]) for i in range(n)]


PRODUCTS = make_products(40)   # --products N changes it (327: the generator's catalog size)
CITIES = [("Pichincha", "Quito"), ("Guayas", "Guayaquil"), ("Azuay", "Cuenca"), ("Manabí", "Manta"),
          ("Manabí", "Portoviejo"), ("Tungurahua", "Ambato"), ("Loja", "Loja"), ("El Oro", "Machala"),
          ("Imbabura", "Ibarra"), ("Santo Domingo de los Tsáchilas", "Santo Domingo")]
TS = pa.timestamp("us", tz="UTC")


def money_type(money):
    return pa.int64() if money == "cents" else pa.float64()


def money_val(cents, money):
    return cents if money == "cents" else round(cents / 100.0, 2)


def window_rows(ws, rng, money):
    """The rows of every table for the window starting at ws (a datetime)."""
    we = ws + dt.timedelta(minutes=1)
    out = {t: [] for t in ("sales_per_minute", "category_activity", "top_products", "product_activity",
                           "sales_by_city", "sales_by_channel", "funnel")}
    views = {p[0]: rng.randint(0, 30) for p in PRODUCTS}
    orders = rng.randint(1, 20)
    items = orders + rng.randint(0, orders)
    revenue = sum(rng.randint(500, 25000) for _ in range(orders))
    out["sales_per_minute"].append(dict(window_start=ws, window_end=we, orders=orders, items=items,
                                        revenue=money_val(revenue, money), avg_ticket=money_val(revenue // orders, money)))
    left = revenue
    for i, c in enumerate(CATS):
        cv = sum(v for (pid, _, pc), v in zip(PRODUCTS, views.values()) if pc == c)
        rev = left if i == len(CATS) - 1 else rng.randint(0, left // 2)
        left -= rev
        out["category_activity"].append(dict(window_start=ws, window_end=we, category=c, views=cv,
                                              adds=rng.randint(0, max(1, cv // 4)), removes=rng.randint(0, 3),
                                              units_sold=rng.randint(0, 6), revenue=money_val(rev, money)))
    ranked = sorted(PRODUCTS, key=lambda p: (-views[p[0]], p[0]))[:10]
    for r, (pid, name, cat) in enumerate(ranked, 1):
        out["top_products"].append(dict(window_start=ws, window_end=we, rank=r, product_id=pid, product_name=name,
                                        category=cat, views=views[pid]))
    for pid, name, cat in PRODUCTS:
        if views[pid]:
            units = rng.randint(0, 2)
            out["product_activity"].append(dict(window_start=ws, window_end=we, product_id=pid, product_name=name,
                                                category=cat, views=views[pid], adds=rng.randint(0, 3), units_sold=units,
                                                revenue=money_val(units * rng.randint(500, 9000), money)))
    out["sales_by_channel"].append(dict(window_start=ws, window_end=we, store_type="online", device="mobile",
                                        orders=orders, revenue=money_val(revenue, money),
                                        avg_ticket=money_val(revenue // orders, money)))
    left_o, left_r = orders, revenue
    for i, (prov, city) in enumerate(rng.sample(CITIES, 4)):
        o = left_o if i == 3 else rng.randint(0, left_o)
        r = left_r if i == 3 else rng.randint(0, left_r)
        left_o -= o
        left_r -= r
        out["sales_by_city"].append(dict(window_start=ws, window_end=we, province=prov, city=city,
                                         store_type=rng.choice(["online", "physical_store"]), orders=o,
                                         revenue=money_val(r, money)))
    viewed = rng.randint(50, 200)
    carted = rng.randint(0, viewed // 3)
    purchased = rng.randint(0, carted)
    out["funnel"].append(dict(window_start=ws, window_end=we, viewed=viewed, carted=carted, purchased=purchased,
                              view_to_cart_rate=carted / viewed, cart_to_purchase_rate=purchased / carted if carted else 0.0,
                              view_to_purchase_rate=purchased / viewed, abandoned=carted - purchased,
                              abandonment_rate=(carted - purchased) / carted if carted else 0.0))
    return out


def schema(table, money):
    m = money_type(money)
    base = [("window_start", TS), ("window_end", TS)]
    cols = {
        "sales_per_minute": [("orders", pa.int64()), ("items", pa.int64()), ("revenue", m), ("avg_ticket", m)],
        "category_activity": [("category", pa.string()), ("views", pa.int64()), ("adds", pa.int64()),
                              ("removes", pa.int64()), ("units_sold", pa.int64()), ("revenue", m)],
        "top_products": [("rank", pa.int32()), ("product_id", pa.string()), ("product_name", pa.string()),
                         ("category", pa.string()), ("views", pa.int64())],
        "product_activity": [("product_id", pa.string()), ("product_name", pa.string()), ("category", pa.string()),
                             ("views", pa.int64()), ("adds", pa.int64()), ("units_sold", pa.int64()), ("revenue", m)],
        "sales_by_channel": [("store_type", pa.string()), ("device", pa.string()), ("orders", pa.int64()),
                             ("revenue", m), ("avg_ticket", m)],
        "sales_by_city": [("province", pa.string()), ("city", pa.string()), ("store_type", pa.string()),
                          ("orders", pa.int64()), ("revenue", m)],
        "funnel": [("viewed", pa.int64()), ("carted", pa.int64()), ("purchased", pa.int64()),
                   ("view_to_cart_rate", pa.float64()), ("cart_to_purchase_rate", pa.float64()),
                   ("view_to_purchase_rate", pa.float64()), ("abandoned", pa.int64()),
                   ("abandonment_rate", pa.float64())],
    }[table]
    return pa.schema(base + cols)


def commit(root, table, day, name, rows, money, rows_per_group):
    d = os.path.join(root, table, "date=" + day)
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, "." + name + ".tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=schema(table, money)), tmp, row_group_size=rows_per_group)
    os.rename(tmp, os.path.join(d, name))


def write(root, start, minutes, seed, money, tag="part"):
    rng = random.Random(seed)
    buckets = {}   # (table, day, hour) -> rows
    for k in range(minutes):
        ws = start + dt.timedelta(minutes=k)
        for table, rows in window_rows(ws, rng, money).items():
            buckets.setdefault((table, ws.strftime("%Y-%m-%d"), ws.strftime("%H")), []).extend(rows)
    for (table, day, hour), rows in sorted(buckets.items()):
        per_window = max(1, len(rows) // max(1, len({r["window_start"] for r in rows})))
        commit(root, table, day, "%s-%s-%s.parquet" % (tag, hour, seed), rows, money, per_window * 15)


def latest_end(root):
    files = glob.glob(os.path.join(root, "sales_per_minute", "date=*", "*.parquet"))
    return max(pq.read_table(f, columns=["window_end"]).column(0).to_pylist()[-1] for f in files)


# The raw tables' column names (the ingest helper renames them: ts -> timestamp, price_cents ->
# price DECIMAL, total_cents -> total, items[].unit_price_cents -> items[].unit_price): SQL
# expressions giving the event time and money in cents, picked by the columns present.
RAW = {
    "ts":        {"ts": "ts", "price": "price_cents", "total": "total_cents", "unit": "x.unit_price_cents"},
    "timestamp": {"ts": "\"timestamp\"", "price": "CAST(round(price * 100) AS BIGINT)",
                  "total": "CAST(round(total * 100) AS BIGINT)", "unit": "CAST(round(x.unit_price * 100) AS BIGINT)"},
}


def raw_views(con, lake):
    """Creates views v (page views), c (cart events), o (orders), li (order lines) over LAKE's raw
    tables with canonical columns: t (timestamp), cents, and the event's own names."""
    import duckdb  # noqa: F401  (only this mode needs it)
    g = lambda t: "read_parquet('%s/%s/*/*.parquet', hive_partitioning=false, union_by_name=true)" % (lake, t)
    cols = [r[0] for r in con.execute("DESCRIBE SELECT * FROM " + g("views")).fetchall()]
    m = RAW["timestamp" if "timestamp" in cols else "ts"]
    con.execute("SET TimeZone='UTC'")
    con.execute("CREATE OR REPLACE VIEW v AS SELECT *, %s AS t FROM %s" % (m["ts"], g("views")))
    con.execute("CREATE OR REPLACE VIEW c AS SELECT *, %s AS t FROM %s" % (m["ts"], g("cart")))
    con.execute("CREATE OR REPLACE VIEW o AS SELECT *, %s AS t, %s AS cents FROM %s" % (m["ts"], m["total"], g("orders")))
    con.execute("CREATE OR REPLACE VIEW li AS SELECT event_id, user_id, t, x.product_id, x.product_name, x.category, "
                "x.quantity, %s AS unit FROM (SELECT event_id, user_id, t, unnest(items) AS x FROM o)" % m["unit"])
    return m


# Per-window catalog metrics from the raw views; {part} and {corr} filter the events of one
# (partition, correction) slice. Money leaves as DECIMAL(18,2) (Parquet INT64 DECIMAL).
def W(t):
    return "time_bucket(INTERVAL 1 minute, %s)" % t


FROM_RAW_SQL = {
    "sales_per_minute": """
        SELECT {w} AS window_start, {w} + INTERVAL 1 minute AS window_end, count(*) AS orders,
               sum((SELECT sum(x.quantity) FROM unnest(items) AS u(x)))::BIGINT AS items,
               (sum(cents) / 100)::DECIMAL(18,2) AS revenue,
               (round(sum(cents) / count(*)) / 100)::DECIMAL(18,2) AS avg_ticket
        FROM o WHERE {slice} GROUP BY 1, 2""",
    "category_activity": """
        WITH a AS (SELECT t, category, 1 AS views, 0 AS adds, 0 AS removes, 0 AS units, 0 AS cents, event_id, user_id FROM v
                   UNION ALL SELECT t, category, 0, CASE WHEN event_type = 'add_to_cart' THEN 1 ELSE 0 END,
                          CASE WHEN event_type = 'remove_from_cart' THEN 1 ELSE 0 END, 0, 0, event_id, user_id FROM c
                   UNION ALL SELECT t, category, 0, 0, 0, quantity, quantity * unit, event_id, user_id FROM li)
        SELECT {w} AS window_start, {w} + INTERVAL 1 minute AS window_end, category, sum(views)::BIGINT AS views,
               sum(adds)::BIGINT AS adds, sum(removes)::BIGINT AS removes, sum(units)::BIGINT AS units_sold,
               (sum(cents) / 100)::DECIMAL(18,2) AS revenue
        FROM a WHERE {slice} GROUP BY ALL""",
    "product_activity": """
        WITH a AS (SELECT t, product_id, product_name, category, 1 AS views, 0 AS adds, 0 AS units, 0 AS cents, event_id, user_id FROM v
                   UNION ALL SELECT t, product_id, product_name, category, 0, 1, 0, 0, event_id, user_id FROM c
                          WHERE event_type = 'add_to_cart'
                   UNION ALL SELECT t, product_id, product_name, category, 0, 0, quantity, quantity * unit, event_id, user_id FROM li)
        SELECT {w} AS window_start, {w} + INTERVAL 1 minute AS window_end, product_id, min(product_name) AS product_name,
               min(category) AS category, sum(views)::BIGINT AS views, sum(adds)::BIGINT AS adds,
               sum(units)::BIGINT AS units_sold, (sum(cents) / 100)::DECIMAL(18,2) AS revenue
        FROM a WHERE {slice} GROUP BY 1, 2, 3""",
    "sales_by_city": """
        SELECT {w} AS window_start, {w} + INTERVAL 1 minute AS window_end, province, city, store_type,
               count(*) AS orders, (sum(cents) / 100)::DECIMAL(18,2) AS revenue
        FROM o WHERE {slice} GROUP BY ALL""",
    "sales_by_channel": """
        SELECT {w} AS window_start, {w} + INTERVAL 1 minute AS window_end, store_type,
               coalesce(device, 'none') AS device, count(*) AS orders, (sum(cents) / 100)::DECIMAL(18,2) AS revenue,
               (round(sum(cents) / count(*)) / 100)::DECIMAL(18,2) AS avg_ticket
        FROM o WHERE {slice} GROUP BY ALL""",
    "funnel": """
        WITH vv AS (SELECT user_id, product_id, {w} AS wi, min(t) AS t0 FROM v GROUP BY ALL),
             a AS (SELECT user_id, product_id, t FROM c WHERE event_type = 'add_to_cart'),
             p AS (SELECT vv.wi, vv.user_id, vv.product_id,
                     EXISTS (SELECT 1 FROM a WHERE a.user_id = vv.user_id AND a.product_id = vv.product_id
                             AND a.t BETWEEN vv.t0 AND vv.t0 + INTERVAL 30 minute) AS carted,
                     EXISTS (SELECT 1 FROM a JOIN li ON li.user_id = a.user_id AND li.product_id = a.product_id
                             AND li.t BETWEEN a.t AND a.t + INTERVAL 60 minute
                             WHERE a.user_id = vv.user_id AND a.product_id = vv.product_id
                             AND a.t BETWEEN vv.t0 AND vv.t0 + INTERVAL 30 minute) AS purchased
                   FROM vv),
             f AS (SELECT wi, user_id, product_id || user_id AS event_id, carted, purchased FROM p)
        SELECT wi AS window_start, wi + INTERVAL 1 minute AS window_end, count(*) AS viewed,
               sum(carted::INT)::BIGINT AS carted, sum(purchased::INT)::BIGINT AS purchased,
               sum(carted::INT) / count(*) AS view_to_cart_rate,
               CASE WHEN sum(carted::INT) > 0 THEN sum(purchased::INT) / sum(carted::INT) ELSE 0 END AS cart_to_purchase_rate,
               sum(purchased::INT) / count(*) AS view_to_purchase_rate,
               sum((carted AND NOT purchased)::INT)::BIGINT AS abandoned,
               CASE WHEN sum(carted::INT) > 0 THEN sum((carted AND NOT purchased)::INT) / sum(carted::INT) ELSE 0 END
                 AS abandonment_rate
        FROM f WHERE {slice} GROUP BY 1, 2""",
}


def from_raw(root, lake, partitions, correction_pct):
    import duckdb
    con = duckdb.connect()
    raw_views(con, lake)
    slices = [(p, corr) for p in range(partitions) for corr in (False, True)]
    for table, sql in FROM_RAW_SQL.items():
        for p, corr in slices:
            cond = "(hash(user_id) %% %d) = %d" % (partitions, p)
            cond += " AND (hash(event_id) %% 100) %s %d" % ("<" if corr else ">=", correction_pct)
            body = sql.format(w=W("t"), slice=cond)
            extra = ", %s AS correction" % ("true" if corr else "false")
            if partitions > 1:
                extra += ", %d::INT AS partition" % p
            for day, in con.execute("SELECT DISTINCT strftime(window_start, '%%Y-%%m-%%d') FROM (%s)" % body).fetchall():
                d = os.path.join(root, table, "date=" + day)
                os.makedirs(d, exist_ok=True)
                name = "part-p%d-%s.parquet" % (p, "corr" if corr else "main")
                tmp = os.path.join(d, "." + name + ".tmp")
                con.execute("COPY (SELECT * %s FROM (%s) WHERE strftime(window_start, '%%Y-%%m-%%d') = '%s' "
                            "ORDER BY window_start) TO '%s' (FORMAT parquet, ROW_GROUP_SIZE 2048)" % (extra, body, day, tmp))
                os.rename(tmp, os.path.join(d, name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--start", default="2026-11-24T00:00:00Z")
    ap.add_argument("--minutes", type=int, default=1440)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--money", choices=["dollars", "cents"], default="dollars")
    ap.add_argument("--add-window", action="store_true")
    ap.add_argument("--products", type=int, default=40)
    ap.add_argument("--from-raw")
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--correction-pct", type=int, default=0)
    a = ap.parse_args()
    global PRODUCTS
    PRODUCTS = make_products(a.products)
    if a.from_raw:
        from_raw(a.root, a.from_raw, a.partitions, a.correction_pct)
        return
    if a.add_window:
        ws = latest_end(a.root)
        write(a.root, ws, 1, a.seed, a.money, tag="add-%s" % ws.strftime("%H%M"))
        return
    start = dt.datetime.fromisoformat(a.start.replace("Z", "+00:00"))
    write(a.root, start, a.minutes, a.seed, a.money)


if __name__ == "__main__":
    main()
