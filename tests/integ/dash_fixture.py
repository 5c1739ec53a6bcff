"""dash_fixture — writes metric tables (the columns of issue 4, as `ecom stream` writes them) with
pyarrow, for the dashboard's tests and benchmark before/besides a real stream run. Seeded, so a
run is reproducible; the numbers are random but consistent (orders <= views, etc.).

  dash_fixture.py ROOT --start 2026-11-24T00:00:00Z --minutes 1440 [--seed 1] [--money dollars|cents]
  dash_fixture.py ROOT --add-window      # commits the window after the latest one (its own file)

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
PRODUCTS = [("P%03d" % i, "%s item %d" % (CATS[i % len(CATS)], i), CATS[i % len(CATS)]) for i in range(40)]
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
    out = {t: [] for t in ("sales_per_minute", "category_activity", "top_products", "sales_by_city", "funnel")}
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
                              view_to_purchase_rate=purchased / viewed))
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
        "sales_by_city": [("province", pa.string()), ("city", pa.string()), ("store_type", pa.string()),
                          ("orders", pa.int64()), ("revenue", m)],
        "funnel": [("viewed", pa.int64()), ("carted", pa.int64()), ("purchased", pa.int64()),
                   ("view_to_cart_rate", pa.float64()), ("cart_to_purchase_rate", pa.float64()),
                   ("view_to_purchase_rate", pa.float64())],
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--start", default="2026-11-24T00:00:00Z")
    ap.add_argument("--minutes", type=int, default=1440)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--money", choices=["dollars", "cents"], default="dollars")
    ap.add_argument("--add-window", action="store_true")
    a = ap.parse_args()
    if a.add_window:
        ws = latest_end(a.root)
        write(a.root, ws, 1, a.seed, a.money, tag="add-%s" % ws.strftime("%H%M"))
        return
    start = dt.datetime.fromisoformat(a.start.replace("Z", "+00:00"))
    write(a.root, start, a.minutes, a.seed, a.money)


if __name__ == "__main__":
    main()
