"""lakecmp — compares every table of two lakes written by `ecom stream` (DuckDB's own Parquet
reader), leaving out the columns that differ between any two runs by design."""
import glob
import os

import duckdb

TABLES = ["sales_per_minute", "category_activity", "top_products", "sales_by_city", "funnel",
          "views", "cart", "orders", "rejected"]

# Columns holding the processing clock (when a row was ingested, and a rejected row's date
# partition, which is the processing day) differ between any two runs; a rejected row's source
# names the input path, which differs for the FIFO run.
WALL_CLOCK = {"ingest_ts", "ingested_at", "processed_at"}


def table_rows(root):
    """Every table's rows (wall-clock columns left out), sorted, as reprs."""
    con = duckdb.connect()
    res = {}
    for table in TABLES:
        p = os.path.join(root, table)
        if not glob.glob(f"{p}/**/*.parquet", recursive=True):
            res[table] = []
            continue
        rel = f"read_parquet('{p}/**/*.parquet', hive_partitioning=1)"
        names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()]
        drop = WALL_CLOCK | ({"date", "source"} if table == "rejected" else set())
        cols = ", ".join(f'"{n}"' for n in names if n not in drop)
        res[table] = sorted(map(repr, con.execute(f"SELECT {cols} FROM {rel}").fetchall()))
    return res


def assert_same_tables(got_root, want_root, min_views=1000):
    got, want = table_rows(got_root), table_rows(want_root)
    for table in TABLES:
        g, w = got[table], want[table]
        assert len(g) == len(w), f"{table}: {len(g)} rows, uninterrupted run {len(w)}"
        assert g == w, f"{table}: same count ({len(g)}) but other contents; first differing row: " + \
            next(f"{a} vs {b}" for a, b in zip(g, w) if a != b)
    assert len(want["views"]) > min_views, "too few rows for a meaningful comparison"
