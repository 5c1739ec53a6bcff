"""Late is not lost: with events up to 10x the allowed lateness late (`gen --late-frac 0.05
--late-max 20m`, lateness 2 min), the metric tables summed over the whole run (every row,
correction rows included) hold exactly the orders, revenue, views and adds of the raw tables,
read back with DuckDB. Before correction rows, late events were in the raw tables only (a
200k-event run: 1,220 orders in sales_per_minute against 1,238 in orders).

Also: correction rows exist and are marked (correction = true), and a run stopped and resumed
twice (--max-events, commits every 20 ms) gives the same exact sums (corrections pending at a
commit are in the checkpoint).
"""
import os
import sys

import duckdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ECOM, ECOM_OPT, TMP, Suite, run  # noqa: E402

suite = Suite()
case = suite.case
EVENTS = os.path.join(TMP, "late.ndjson")


def gen():
    if not os.path.exists(EVENTS):
        run([ECOM_OPT, "gen", "--seed", "21", "--users", "600", "--start", "2026-11-25T09:00:00Z", "--rate", "40",
             "--count", "60000", "--quiet", "--late-frac", "0.05", "--late-max", "20m", "--out", EVENTS])


def glob(root, table):
    return f"read_parquet('{root}/{table}/**/*.parquet', hive_partitioning=1)"


def cols(con, root, table):
    return {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {glob(root, table)}").fetchall()}


def raw_truth(con, root):
    """Orders, revenue (cents), views and adds of the raw tables, whatever their money columns."""
    oc = cols(con, root, "orders")
    money = "total_cents" if "total_cents" in oc else "CAST(round(total * 100) AS BIGINT)"
    orders, cents = con.execute(f"SELECT count(*), sum({money}) FROM {glob(root, 'orders')}").fetchone()
    views = con.execute(f"SELECT count(*) FROM {glob(root, 'views')}").fetchone()[0]
    adds = con.execute(f"SELECT count(*) FROM {glob(root, 'cart')} WHERE event_type = 'add_to_cart'").fetchone()[0]
    return {"orders": orders, "revenue": cents, "views": views, "adds": adds}


def metric_sums(con, root):
    """The same four numbers from every metric table that holds them."""
    out = {}
    for t, exprs in (("sales_per_minute", ("orders", "revenue")), ("sales_by_city", ("orders", "revenue")),
                     ("sales_by_channel", ("orders", "revenue")),
                     ("category_activity", ("views", "adds", "revenue")),
                     ("product_activity", ("views", "adds", "revenue"))):
        sel = ", ".join(f"sum(CAST(round({e} * 100) AS BIGINT))" if e == "revenue" else f"sum({e})" for e in exprs)
        vals = con.execute(f"SELECT {sel} FROM {glob(root, t)}").fetchone()
        for e, v in zip(exprs, vals):
            out[f"{t}.{e}"] = v
    return out


def check_sums(root):
    con = duckdb.connect()
    truth = raw_truth(con, root)
    got = metric_sums(con, root)
    bad = {k: (v, truth[k.split(".")[1]]) for k, v in got.items() if v != truth[k.split(".")[1]]}
    assert not bad, f"metric sums differ from the raw tables (got, raw): {bad}"
    n_corr = con.execute(f"SELECT count(*) FROM {glob(root, 'sales_per_minute')} WHERE correction").fetchone()[0]
    return truth, n_corr


def late_events_are_corrected():
    gen()
    root = os.path.join(TMP, "r_late")
    run([ECOM, "stream", "--input", EVENTS, "--out", root, "--quiet"])
    truth, n_corr = check_sums(root)
    assert n_corr > 5, f"only {n_corr} correction rows in sales_per_minute"
    con = duckdb.connect()
    late = con.execute(f"SELECT count(*) FROM {glob(root, 'product_activity')} WHERE correction").fetchone()[0]
    assert late > 0
    print(f"  {truth['orders']} orders, {n_corr} sales correction rows, {late} product correction rows")


def late_events_survive_restarts():
    """Small commit intervals and a stop after part of the input, then resume: same sums."""
    gen()
    root = os.path.join(TMP, "r_late_resume")
    for k in (15000, 40000):
        run([ECOM_OPT, "stream", "--input", EVENTS, "--out", root, "--quiet", "--commit-interval", "20ms",
             "--max-events", str(k)])
    run([ECOM_OPT, "stream", "--input", EVENTS, "--out", root, "--quiet", "--commit-interval", "20ms"])
    check_sums(root)


def money_is_decimal_in_every_metric_table():
    """Every money column of every metric table is DECIMAL(18,2) (pyarrow and DuckDB agree), rates
    DOUBLE, `correction` BOOLEAN; avg_ticket is revenue / orders rounded half away from zero."""
    import pyarrow.parquet as pq
    root = os.path.join(TMP, "r_late")
    con = duckdb.connect()
    money = {"revenue", "avg_ticket"}
    for t in ("sales_per_minute", "category_activity", "product_activity", "top_products",
              "top_products_by_revenue", "sales_by_city", "sales_by_channel", "funnel"):
        types = dict((r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {glob(root, t)}").fetchall())
        for c, ty in types.items():
            if c in money:
                assert ty == "DECIMAL(18,2)", f"{t}.{c}: {ty}"
            if c.endswith("_rate"):
                assert ty == "DOUBLE", f"{t}.{c}: {ty}"
        if not t.startswith("top_"):
            assert types.get("correction") == "BOOLEAN", f"{t}: {types}"
        f = next(os.path.join(d, x) for d, _, fs in os.walk(os.path.join(root, t)) for x in fs if x.endswith(".parquet"))
        sch = pq.read_schema(f)
        for c in money & set(sch.names):
            assert str(sch.field(c).type) == "decimal128(18, 2)", f"pyarrow {t}.{c}: {sch.field(c).type}"
    bad = con.execute(f"""SELECT count(*) FROM {glob(root, 'sales_by_channel')}
        WHERE avg_ticket <> CAST(sign(revenue) * floor(abs(revenue) * 100 / orders + 0.5) / 100 AS DECIMAL(18,2))""").fetchone()[0]
    assert bad == 0, f"{bad} avg_ticket values not rounded half away from zero"


case(late_events_are_corrected)
case(money_is_decimal_in_every_metric_table)
case(late_events_survive_restarts)
suite.exit()
