"""ecom stream against an independent oracle.

The oracle is Python (validation, dedup) + DuckDB SQL (every metric and the funnel) over the
NDJSON that `ecom gen` wrote; it shares no code with ecom. The tables `ecom stream --input`
writes are read back with DuckDB's own Parquet reader and must match exactly (money to the
cent), for in-order input, input shuffled within the lateness, duplicates and invalid lines
mixed in, and a run killed with SIGKILL at random moments and restarted.
"""
import json
import os
import random
import re
import sys
import time

import duckdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ECOM, ECOM_OPT, TMP, Suite, kill9_until_done, run  # noqa: E402

TABLES = ["sales_per_minute", "category_activity", "product_activity", "top_products", "top_products_by_revenue",
          "sales_by_city", "sales_by_channel", "funnel"]
suite = Suite()
case = suite.case


def gen(path, *extra):
    run([ECOM_OPT, "gen", "--seed", "11", "--users", "400", "--start", "2026-11-25T09:00:00Z",
         "--rate", "25", "--count", "40000", "--quiet", "--out", path, *extra])


# ---- the oracle: validation and dedup in Python ----
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
STR_COMMON = ["event_id", "user_id", "session_id", "store_id", "city", "province"]


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def validate(line):
    """Returns the event dict if valid, else None. Written from the schema in docs/events.md."""
    try:
        e = json.loads(line)
    except ValueError:
        return None
    if not isinstance(e, dict):
        return None
    t = e.get("event_type")
    if t not in ("page_view", "add_to_cart", "remove_from_cart", "purchase"):
        return None
    for f in STR_COMMON:
        if not isinstance(e.get(f), str):
            return None
    if e.get("store_type") not in ("online", "physical_store"):
        return None
    ts = e.get("timestamp")
    if not isinstance(ts, str) or not TS_RE.match(ts) or not "2000" <= ts[:4] <= "2099":
        return None  # the schema calls times outside 2000-2099 absurd
    loc = e.get("location")
    if not isinstance(loc, dict) or not is_num(loc.get("lat")) or not is_num(loc.get("lon")):
        return None
    if t == "purchase":
        items = e.get("items")
        if not isinstance(e.get("order_id"), str) or not isinstance(items, list) or not items:
            return None
        cents = 0
        for it in items:
            if not isinstance(it, dict):
                return None
            for f in ("product_id", "product_name", "category"):
                if not isinstance(it.get(f), str):
                    return None
            q, up = it.get("quantity"), it.get("unit_price")
            if not isinstance(q, int) or isinstance(q, bool) or q <= 0 or not is_num(up) or up < 0:
                return None
            cents += q * round(up * 100)
        if not is_num(e.get("total")) or round(e["total"] * 100) != cents:
            return None
    else:
        for f in ("product_id", "product_name", "category"):
            if not isinstance(e.get(f), str):
                return None
        if not is_num(e.get("price")) or e["price"] < 0:
            return None
        if t != "page_view":
            q = e.get("quantity")
            if not isinstance(q, int) or isinstance(q, bool) or q <= 0:
                return None
    return e


def oracle(ndjson, workdir):
    """Valid, deduplicated events -> DuckDB; returns (con, n_rejected)."""
    seen, rejected, out = set(), 0, []
    with open(ndjson, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            e = validate(line)
            if e is None:
                rejected += 1
                continue
            if e["event_id"] in seen:
                continue
            seen.add(e["event_id"])
            out.append(line if line.endswith("\n") else line + "\n")
    valid = os.path.join(workdir, "valid.ndjson")
    with open(valid, "w", encoding="utf-8") as f:
        f.writelines(out)
    con = duckdb.connect()
    con.execute(f"""
        CREATE TABLE ev AS SELECT *, CAST(replace("timestamp", 'Z', '') AS TIMESTAMP) AS ts
        FROM read_json('{valid}', format='newline_delimited', columns={{
          'event_type': 'VARCHAR', 'event_id': 'VARCHAR', 'timestamp': 'VARCHAR', 'user_id': 'VARCHAR',
          'store_type': 'VARCHAR', 'device': 'VARCHAR', 'city': 'VARCHAR', 'province': 'VARCHAR', 'product_id': 'VARCHAR',
          'product_name': 'VARCHAR', 'category': 'VARCHAR', 'price': 'DOUBLE', 'quantity': 'BIGINT',
          'total': 'DOUBLE',
          'items': 'STRUCT(product_id VARCHAR, product_name VARCHAR, category VARCHAR, quantity BIGINT, unit_price DOUBLE)[]'
        }})""")
    con.execute("""CREATE MACRO w(t) AS epoch_us(time_bucket(INTERVAL 1 minute, t))""")
    con.execute("""CREATE TABLE items AS SELECT ts, user_id, u.product_id, u.product_name, u.category, u.quantity,
                   CAST(round(u.unit_price * 100) AS BIGINT) AS cents
                   FROM (SELECT ts, user_id, unnest(items) AS u FROM ev WHERE event_type = 'purchase')""")
    return con, rejected


ORACLE_SQL = {
    "sales_per_minute": """
        SELECT w(ts), count(*), sum(list_sum(list_transform(items, x -> x.quantity))),
               sum(CAST(round(total * 100) AS BIGINT))
        FROM ev WHERE event_type = 'purchase' GROUP BY ALL""",
    "category_activity": """
        WITH a AS (
          SELECT w(ts) AS wi, category,
                 count(*) FILTER (WHERE event_type = 'page_view') AS views,
                 count(*) FILTER (WHERE event_type = 'add_to_cart') AS adds,
                 count(*) FILTER (WHERE event_type = 'remove_from_cart') AS removes,
                 0 AS units, 0 AS cents
          FROM ev WHERE event_type <> 'purchase' GROUP BY ALL
          UNION ALL
          SELECT w(ts), category, 0, 0, 0, sum(quantity), sum(quantity * cents) FROM items GROUP BY ALL)
        SELECT wi, category, sum(views), sum(adds), sum(removes), sum(units), sum(cents) FROM a GROUP BY ALL""",
    "product_activity": """
        WITH a AS (
          SELECT w(ts) AS wi, product_id, product_name AS name, category AS cat,
                 count(*) FILTER (WHERE event_type = 'page_view') AS views,
                 count(*) FILTER (WHERE event_type = 'add_to_cart') AS adds, 0 AS units, 0 AS cents
          FROM ev WHERE event_type IN ('page_view', 'add_to_cart') GROUP BY ALL
          UNION ALL
          SELECT w(ts), product_id, product_name, category, 0, 0, sum(quantity), sum(quantity * cents)
          FROM items GROUP BY ALL)
        SELECT wi, product_id, min(name), min(cat), sum(views), sum(adds), sum(units), sum(cents)
        FROM a GROUP BY wi, product_id""",
    "top_products": """
        SELECT wi, rk, product_id, views FROM (
          SELECT wi, product_id, views,
                 row_number() OVER (PARTITION BY wi ORDER BY views DESC, product_id ASC) AS rk
          FROM (SELECT w(ts) AS wi, product_id, count(*) AS views FROM ev
                WHERE event_type = 'page_view' GROUP BY ALL))
        WHERE rk <= 10""",
    "top_products_by_revenue": """
        SELECT wi, rk, product_id, cents FROM (
          SELECT wi, product_id, cents,
                 row_number() OVER (PARTITION BY wi ORDER BY cents DESC, product_id ASC) AS rk
          FROM (SELECT w(ts) AS wi, product_id, sum(quantity * cents) AS cents FROM items GROUP BY ALL)
          WHERE cents > 0)
        WHERE rk <= 10""",
    "sales_by_channel": """
        SELECT wi, store_type, device, n, cents,
               CAST(sign(cents) * floor(abs(cents) / n + 0.5) AS BIGINT) FROM (
          SELECT w(ts) AS wi, store_type, coalesce(device, 'none') AS device, count(*) AS n,
                 sum(CAST(round(total * 100) AS BIGINT)) AS cents
          FROM ev WHERE event_type = 'purchase' GROUP BY ALL)""",
    "sales_by_city": """
        SELECT w(ts), province, city, store_type, count(*), sum(CAST(round(total * 100) AS BIGINT))
        FROM ev WHERE event_type = 'purchase' GROUP BY ALL""",
    "funnel": """
        WITH v AS (SELECT user_id, product_id, w(ts) AS wi, min(ts) AS t0 FROM ev
                   WHERE event_type = 'page_view' GROUP BY ALL),
             a AS (SELECT user_id, product_id, ts FROM ev WHERE event_type = 'add_to_cart'),
             c AS (SELECT v.wi, v.user_id, v.product_id,
                     EXISTS (SELECT 1 FROM a WHERE a.user_id = v.user_id AND a.product_id = v.product_id
                             AND a.ts BETWEEN v.t0 AND v.t0 + INTERVAL 30 minute) AS carted,
                     EXISTS (SELECT 1 FROM a JOIN items p ON p.user_id = a.user_id AND p.product_id = a.product_id
                             AND p.ts BETWEEN a.ts AND a.ts + INTERVAL 60 minute
                             WHERE a.user_id = v.user_id AND a.product_id = v.product_id
                             AND a.ts BETWEEN v.t0 AND v.t0 + INTERVAL 30 minute) AS purchased
                   FROM v)
        SELECT wi, count(*), sum(carted::INT), sum(purchased::INT), sum((carted AND NOT purchased)::INT)
        FROM c GROUP BY ALL""",
}

# Metric tables are sums on read: every row of a (window, key), corrections included, is summed
# (cents() reads money the same whether it is DECIMAL(18,2) or DOUBLE dollars).
ECOM_SQL = {
    "sales_per_minute": """SELECT epoch_us(window_start), sum(orders), sum(items), sum(cents(revenue))
                           FROM t GROUP BY ALL""",
    "category_activity": """SELECT epoch_us(window_start), category, sum(views), sum(adds), sum(removes),
                            sum(units_sold), sum(cents(revenue)) FROM t GROUP BY ALL""",
    "product_activity": """SELECT epoch_us(window_start), product_id, min(product_name), min(category), sum(views),
                           sum(adds), sum(units_sold), sum(cents(revenue)) FROM t GROUP BY ALL""",
    "top_products": "SELECT epoch_us(window_start), rank, product_id, views FROM t",
    "top_products_by_revenue": "SELECT epoch_us(window_start), rank, product_id, cents(revenue) FROM t",
    "sales_by_city": """SELECT epoch_us(window_start), province, city, store_type, sum(orders),
                        sum(cents(revenue)) FROM t GROUP BY ALL""",
    # avg_ticket of a final row (no corrections in these runs: disorder stays within the lateness)
    "sales_by_channel": """SELECT epoch_us(window_start), store_type, device, sum(orders), sum(cents(revenue)),
                           max(cents(avg_ticket)) FROM t GROUP BY ALL""",
    "funnel": """SELECT epoch_us(window_start), sum(viewed), sum(carted), sum(purchased), sum(abandoned)
                 FROM t GROUP BY ALL""",
}


def ecom_rows(con, root, table):
    glob = os.path.join(root, table, "**", "*.parquet")
    con.execute("CREATE OR REPLACE MACRO cents(x) AS CAST(round(x * 100) AS BIGINT)")
    con.execute(f"CREATE OR REPLACE VIEW t AS SELECT * FROM read_parquet('{glob}', hive_partitioning=1)")
    return sorted(tuple(r) for r in con.execute(ECOM_SQL[table]).fetchall())


def compare(name, got, want):
    if got == want:
        return
    gs, ws = set(got), set(want)
    raise AssertionError(f"{name}: {len(got)} rows vs oracle {len(want)}; only in ecom: {sorted(gs - ws)[:3]}; "
                         f"only in oracle: {sorted(ws - gs)[:3]}")


def check_against_oracle(ndjson, root):
    con, rejected = oracle(ndjson, os.path.dirname(root))
    for table in TABLES:
        want = sorted(tuple(r) for r in con.execute(ORACLE_SQL[table]).fetchall())
        compare(table, ecom_rows(con, root, table), want)
    for table, where in (("views", "event_type = 'page_view'"),
                         ("cart", "event_type IN ('add_to_cart', 'remove_from_cart')"),
                         ("orders", "event_type = 'purchase'")):
        want = con.execute(f"SELECT count(*) FROM ev WHERE {where}").fetchone()[0]
        got = con.execute(f"SELECT count(*) FROM read_parquet('{root}/{table}/**/*.parquet', hive_partitioning=1)"
                          ).fetchone()[0]
        assert got == want, f"raw table {table}: {got} rows, oracle {want}"
    got_rej = 0
    if os.path.isdir(os.path.join(root, "rejected")):
        got_rej = con.execute(f"SELECT count(*) FROM read_parquet('{root}/rejected/**/*.parquet')").fetchone()[0]
    assert got_rej == rejected, f"rejected: {got_rej}, oracle {rejected}"
    n = con.execute(f"SELECT count(*) FROM read_parquet('{root}/sales_per_minute/**/*.parquet')").fetchone()[0]
    assert n >= 20, f"too few sales windows ({n}) for a meaningful comparison"


def stream(ndjson, root, *extra, binary=ECOM):
    return run([binary, "stream", "--input", ndjson, "--out", root, "--quiet", *extra])


def hidden_files(root):
    out = []
    for d, _, files in os.walk(root):
        if "/_ecom" in d:
            continue
        out += [os.path.join(d, f) for f in files if f.startswith(".")]
    return out


def all_rows(root):
    con = duckdb.connect()
    res = {}
    for table in TABLES + ["views", "cart", "orders", "rejected"]:
        p = os.path.join(root, table)
        if not os.path.isdir(p):
            res[table] = []
            continue
        cols = "* EXCLUDE (ingested_at)" if table == "rejected" and _has_col(con, p, "ingested_at") else "*"
        res[table] = sorted(map(repr, con.execute(
            f"SELECT {cols} FROM read_parquet('{p}/**/*.parquet', hive_partitioning=1)").fetchall()))
    return res


def _has_col(con, p, col):
    names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{p}/**/*.parquet')").fetchall()]
    return col in names


PLAIN = os.path.join(TMP, "plain.ndjson")
FAULTY = os.path.join(TMP, "faulty.ndjson")


def stream_in_order_matches_oracle():
    gen(PLAIN)
    root = os.path.join(TMP, "r_plain")
    stream(PLAIN, root)
    check_against_oracle(PLAIN, root)
    assert not hidden_files(root), f"hidden files left: {hidden_files(root)[:3]}"


def stream_faults_match_oracle():
    gen(FAULTY, "--dup-frac", "0.02", "--bad-frac", "0.01", "--late-frac", "0.05", "--late-max", "60s")
    root = os.path.join(TMP, "r_faulty")
    stream(FAULTY, root)
    check_against_oracle(FAULTY, root)


def stream_shuffled_within_lateness_is_identical():
    """Reorders lines by (event time + U(0, 60 s)): disorder stays within the 2 min lateness."""
    rng = random.Random(5)
    keyed, last = [], 0.0
    with open(FAULTY, encoding="utf-8") as f:
        for i, line in enumerate(f):
            m = re.search(r'"timestamp":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z"', line)
            if m:
                last = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S"))
            keyed.append((last + rng.uniform(0, 60), i, line))
    keyed.sort()
    shuffled = os.path.join(TMP, "shuffled.ndjson")
    with open(shuffled, "w", encoding="utf-8") as f:
        f.writelines(k[2] for k in keyed)
    root = os.path.join(TMP, "r_shuffled")
    stream(shuffled, root)
    check_against_oracle(shuffled, root)
    a, b = all_rows(os.path.join(TMP, "r_faulty")), all_rows(root)
    for t in TABLES:
        assert a[t] == b[t], f"{t} differs between in-order and shuffled input"


def stream_kill9_restart_is_exactly_once():
    """SIGKILL at random moments, restart each time; the final tables equal an uninterrupted run."""
    root = os.path.join(TMP, "r_kill")
    args = [ECOM_OPT, "stream", "--input", FAULTY, "--quiet", "--commit-interval", "20ms", "--out"]
    t0 = time.monotonic()
    run(args + [os.path.join(TMP, "r_timing")])
    full = time.monotonic() - t0  # kill moments are drawn within an uninterrupted run's length
    kills = kill9_until_done(args, root, full, seed=9)
    ref = all_rows(os.path.join(TMP, "r_timing"))  # the uninterrupted run, same flags
    got = all_rows(root)
    for t in ref:
        if t == "rejected":
            assert len(ref[t]) == len(got[t]), f"rejected: {len(got[t])} rows vs {len(ref[t])}"
            continue
        assert ref[t] == got[t], f"{t}: {len(got[t])} rows after {kills} kills vs {len(ref[t])} uninterrupted"
    assert not hidden_files(root), f"hidden files left: {hidden_files(root)[:3]}"
    commits = os.listdir(os.path.join(root, "_ecom", "commits"))
    assert len(commits) == 1, f"commit log not compact: {commits}"
    print(f"  {kills} kills, final tables identical")


def documented_read_queries_reproduce_single_layout():
    """The merge queries of docs/stream.md over a single instance's tables (no corrections in
    this run) return them unchanged, and their ranked queries give the ranked tables."""
    doc = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "stream.md")).read()
    block = doc.split("<!-- merge-queries -->", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    qs = {m.group(1): m.group(2) for m in re.finditer(r"^-- (\w+)\n(.*?;)", block, re.S | re.M)}
    assert set(qs) == set(TABLES), f"docs/stream.md queries: {sorted(qs)}"
    root = os.path.join(TMP, "r_plain")
    con = duckdb.connect()
    for t in TABLES:
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{root}/{t}/**/*.parquet', hive_partitioning=1)")
    for t in TABLES:
        cols = ", ".join(r[0] for r in con.execute(f"DESCRIBE {t}").fetchall() if r[0] not in ("correction", "date"))
        want = sorted(con.execute(f"SELECT {cols} FROM {t}").fetchall())
        got = sorted(con.execute(f"SELECT {cols} FROM ({qs[t].rstrip(';')})").fetchall())
        assert len(want) >= 10 and got == want, f"{t}: query gives {len(got)} rows, table {len(want)}"


case(stream_in_order_matches_oracle)
case(documented_read_queries_reproduce_single_layout)
case(stream_faults_match_oracle)
case(stream_shuffled_within_lateness_is_identical)
case(stream_kill9_restart_is_exactly_once)
suite.exit()
