"""`ecom load` into date-partitioned tables, read back as users would: DuckDB
read_parquet('ROOT/views/**/*.parquet', hive_partitioning=1), pyarrow.dataset on ROOT, and
`ecom cat ROOT/TABLE`; every value compared with the input events. Also: rejected lines with
reasons, replays overwrite (no duplicates), rolling by rows, deterministic names, no leftovers.
Prints PASS/FAIL per case."""
import datetime
import decimal
import glob
import json
import os
import random
import subprocess
import sys
import uuid

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

ECOM = os.environ["ECOM"]
TMP = os.environ["TEST_TMP"]
failed = False

CITIES = [("Quito", "Pichincha", -0.1807, -78.4678), ("Guayaquil", "Guayas", -2.1708, -79.9224),
          ("Cuenca", "Azuay", -2.9001, -79.0059), ("Ambato", "Tungurahua", -1.2491, -78.6168)]
PRODUCTS = [("P0001", "Samsung Galaxy A15 128GB", "electronics", 17999),
            ("P0002", "Café de Loja — 500 g", "food", 899),
            ("P0003", "Muñeca \"Ñaña\" 日本", "toys", 2450),
            ("P0004", "Libro: El Principito", "books", 1200)]


def case(name):
    def deco(fn):
        global failed
        try:
            fn()
            print("PASS", name, flush=True)
        except Exception as e:  # noqa: BLE001
            failed = True
            print("FAIL", name, "-", repr(e)[:2000], flush=True)
        return fn
    return deco


def money(c):
    return "%d.%02d" % (c // 100, c % 100)


def dec(cents):
    """Cents -> the decimal.Decimal DuckDB and pyarrow return for DECIMAL(18,2)."""
    return decimal.Decimal(cents).scaleb(-2)


def make_events(n, seed):
    rnd = random.Random(seed)
    base = datetime.datetime(2026, 11, 23, 20, 0, tzinfo=datetime.timezone.utc)
    evs = []
    for i in range(n):
        t = base + datetime.timedelta(milliseconds=rnd.randint(0, 3 * 86400 * 1000))
        city = rnd.choice(CITIES)
        online = rnd.random() < 0.6
        e = {"event_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
             "event_type": rnd.choice(["page_view"] * 5 + ["add_to_cart", "remove_from_cart", "purchase"]),
             "timestamp": t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000),
             "user_id": "U%06d" % rnd.randint(0, 999999), "session_id": "S%08x" % rnd.randint(0, 2**32 - 1),
             "store_id": "ST000" if online else "ST%03d" % rnd.randint(1, 20),
             "store_type": "online" if online else "physical_store",
             "city": city[0], "province": city[1], "location": {"lat": city[2], "lon": city[3]}}
        if online:
            e["device"] = rnd.choice(["mobile", "desktop", "tablet"])
        if e["event_type"] == "purchase":
            items = []
            for _ in range(rnd.randint(1, 12)):
                p = rnd.choice(PRODUCTS)
                items.append({"product_id": p[0], "product_name": p[1], "category": p[2],
                              "quantity": rnd.randint(1, 5), "unit_price": p[3]})
            e["order_id"] = "O%010x" % rnd.getrandbits(40)
            e["total"] = sum(it["quantity"] * it["unit_price"] for it in items)
            e["currency"] = "USD"
            e["payment_method"] = rnd.choice(["credit_card", "cash", "paypal"])
            e["items"] = items
        else:
            p = rnd.choice(PRODUCTS)
            e.update(product_id=p[0], product_name=p[1], category=p[2], price=p[3])
            if e["event_type"] != "page_view":
                e["quantity"] = rnd.randint(1, 9)
        evs.append(e)
    return evs


def to_line(e):
    """JSON with money as decimals (prices are held as cents in the dicts)."""
    e = dict(e)
    s = json.dumps(e, ensure_ascii=False)
    # money fields are written as decimals with two digits
    if "price" in e:
        s = s.replace('"price": %d' % e["price"], '"price": %s' % money(e["price"]))
    if "total" in e:
        s = s.replace('"total": %d' % e["total"], '"total": %s' % money(e["total"]))
        for it in e["items"]:
            s = s.replace('"unit_price": %d}' % it["unit_price"], '"unit_price": %s}' % money(it["unit_price"]))
    return s


EVENTS = make_events(4000, 7)
BAD = [b'{"event_type": "page_view"', b'not json at all', b'{"event_type":"click"}',
       b'{"event_id":"x\xff\xfe","event_type":"page_view"}', b'[1,2,3]']
ROOT = os.path.join(TMP, "lake")
INPUT = os.path.join(TMP, "events.ndjson")
with open(INPUT, "wb") as f:
    for i, e in enumerate(EVENTS):
        f.write(to_line(e).encode() + b"\n")
        if i % 800 == 3:
            f.write(BAD[(i // 800) % len(BAD)] + b"\n")
        if i % 1000 == 9:
            f.write(b"\n")


def load(*args):
    p = subprocess.run([ECOM, "load", "--input", INPUT, "--out", ROOT, *args], capture_output=True, timeout=600)
    assert p.returncode == 0, p.stderr.decode()[-1000:]
    return p.stderr.decode()


def ts_us(s):
    t = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    return (t - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(microseconds=1)


def table_of(e):
    return {"page_view": "views", "add_to_cart": "cart", "remove_from_cart": "cart", "purchase": "orders"}[e["event_type"]]


@case("load_counts_and_layout")
def _():
    msg = load("--max-rows", "300")
    assert "rejected 5" in msg, msg
    for t in ["views", "cart", "orders", "rejected"]:
        files = sorted(glob.glob(os.path.join(ROOT, t, "date=*", "*.parquet")))
        assert files, t
        for f in files:
            assert os.path.basename(f).startswith("part-load-") and f.endswith(".parquet"), f
    assert not glob.glob(os.path.join(ROOT, "**", ".*"), recursive=True), "tmp files left"
    views = sorted(glob.glob(os.path.join(ROOT, "views", "date=2026-11-24", "*.parquet")))
    assert len(views) >= 2 and views[0].endswith("-00000.parquet") and views[1].endswith("-00001.parquet"), views


def expected(table):
    out = {}
    for e in EVENTS:
        if table_of(e) == table:
            out[e["event_id"]] = e
    return out


@case("duckdb_hive_reads_every_value")
def _():
    con = duckdb.connect()
    for table in ["views", "cart", "orders"]:
        want = expected(table)
        q = ("select * exclude (timestamp), epoch_us(timestamp) as ts_us"
             " from read_parquet('%s/%s/**/*.parquet', hive_partitioning=1)" % (ROOT, table))
        cur = con.execute(q)
        cols = [c[0] for c in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
        assert len(rows) == len(want), (table, len(rows), len(want))
        for r in rows:
            e = want[r["event_id"]]
            assert r["event_type"] == e["event_type"] and r["ts_us"] == ts_us(e["timestamp"])
            assert str(r["date"]) == e["timestamp"][:10], (r["date"], e["timestamp"])
            for k in ["user_id", "session_id", "store_id", "store_type", "city", "province"]:
                assert r[k] == e[k], (k, r[k], e[k])
            assert r["location"] == e["location"] and r["device"] == e.get("device")
            if table == "orders":
                assert r["order_id"] == e["order_id"] and r["total"] == dec(e["total"])
                assert r["currency"] == "USD" and r["payment_method"] == e["payment_method"]
                got = [(i["product_id"], i["product_name"], i["category"], i["quantity"], i["unit_price"])
                       for i in r["items"]]
                assert got == [(i["product_id"], i["product_name"], i["category"], i["quantity"],
                                dec(i["unit_price"])) for i in e["items"]], (got, e["items"])
            else:
                assert r["product_id"] == e["product_id"] and r["product_name"] == e["product_name"]
                assert r["price"] == dec(e["price"]) and r["category"] == e["category"]
                if table == "cart":
                    assert r["quantity"] == e["quantity"]


@case("raw_schema_event_names_and_decimals")
def _():
    """pyarrow sees the event's field names and nesting, and money as decimal128(18, 2)."""
    D = pa.decimal128(18, 2)
    common = ["event_id", "event_type", "timestamp", "user_id", "session_id", "store_id", "store_type", "city",
              "province", "location", "device"]
    want = {"views": common + ["product_id", "product_name", "category", "price"],
            "cart": common + ["product_id", "product_name", "category", "price", "quantity"],
            "orders": common + ["order_id", "items", "total", "currency", "payment_method"]}
    for table, names in want.items():
        sch = ds.dataset(os.path.join(ROOT, table), format="parquet").schema
        assert sch.names == names, (table, sch.names)
        assert sch.field("timestamp").type == pa.timestamp("us", tz="UTC"), sch
        assert sch.field("location").type == pa.struct([pa.field("lat", pa.float64(), nullable=False),
                                                        pa.field("lon", pa.float64(), nullable=False)]), sch
        if table == "orders":
            assert sch.field("total").type == D, sch
            el = sch.field("items").type.value_type
            assert [f.name for f in el] == ["product_id", "product_name", "category", "quantity", "unit_price"], el
            assert el.field("unit_price").type == D, el
        else:
            assert sch.field("price").type == D, sch
    # SQL written against the events runs on the lake, and money sums are exact decimals
    con = duckdb.connect()
    got = con.execute("select sum(total), typeof(sum(total)) from read_parquet('%s/orders/**/*.parquet')"
                      % ROOT).fetchone()
    assert got[0] == dec(sum(e["total"] for e in expected("orders").values())) and got[1].startswith("DECIMAL"), got
    got = con.execute("select sum(u.unit_price * u.quantity) from (select unnest(items) as u from read_parquet("
                      "'%s/orders/**/*.parquet'))" % ROOT).fetchone()[0]
    assert got == dec(sum(e["total"] for e in expected("orders").values())), got


@case("pyarrow_dataset_on_root")
def _():
    for table in ["views", "orders"]:
        d = ds.dataset(os.path.join(ROOT, table), format="parquet", partitioning="hive")
        t = d.to_table()
        want = expected(table)
        assert t.num_rows == len(want)
        assert "date" in t.schema.names
        ids = set(t.column("event_id").to_pylist())
        assert ids == set(want)
    d = ds.dataset(ROOT + "/rejected", format="parquet", partitioning="hive")
    rej = d.to_table().to_pylist()
    assert len(rej) == 5, len(rej)
    assert {r["raw"] for r in rej} == set(BAD), {r["raw"] for r in rej}  # the bytes exactly
    assert all(r["reason"] for r in rej) and all(r["position"] > 0 for r in rej)
    previews = {r["raw_preview"] for r in rej}
    assert '{"event_id":"x\ufffd\ufffd","event_type":"page_view"}' in previews, previews  # valid UTF-8
    assert "not json at all" in previews, previews


@case("replay_overwrites_no_duplicates")
def _():
    before = sorted(glob.glob(os.path.join(ROOT, "**", "*.parquet"), recursive=True))
    load("--max-rows", "300")
    after = sorted(glob.glob(os.path.join(ROOT, "**", "*.parquet"), recursive=True))
    assert before == after, "file names changed on replay"
    n = duckdb.sql("select count(*) from read_parquet('%s/views/**/*.parquet', hive_partitioning=1)" % ROOT).fetchone()[0]
    assert n == len(expected("views")), n


@case("ecom_cat_table_where_date")
def _():
    p = subprocess.run([ECOM, "cat", os.path.join(ROOT, "orders"), "--where-date", "2026-11-24"],
                       capture_output=True, timeout=600)
    assert p.returncode == 0, p.stderr[-500:]
    rows = [json.loads(x, parse_float=decimal.Decimal) for x in p.stdout.decode().splitlines()]
    want = {k: v for k, v in expected("orders").items() if v["timestamp"][:10] == "2026-11-24"}
    assert len(rows) == len(want) and rows, (len(rows), len(want))
    for r in rows:
        e = want[r["event_id"]]
        assert r["date"] == "2026-11-24" and r["timestamp"][:23] == e["timestamp"][:23]
        assert [i["unit_price"] for i in r["items"]] == [dec(i["unit_price"]) for i in e["items"]]
        assert r["total"] == dec(e["total"])
    # the printed money is the exact decimal text
    line = p.stdout.decode().splitlines()[0]
    r = json.loads(line)
    assert ('"total":%s' % money(want[r["event_id"]]["total"])) in line, line
    p = subprocess.run([ECOM, "cat", os.path.join(ROOT, "views"), "--columns", "event_id,date", "--limit", "7",
                        "--format", "csv"], capture_output=True, timeout=600)
    lines = p.stdout.decode().splitlines()
    assert p.returncode == 0 and lines[0] == "event_id,date" and len(lines) == 8, lines[:3]


@case("bad_usage")
def _():
    p = subprocess.run([ECOM, "load", "--out", ROOT], capture_output=True, timeout=60)
    assert p.returncode == 2 and b"--input" in p.stderr
    p = subprocess.run([ECOM, "load", "--input", "/nonexistent", "--out", ROOT], capture_output=True, timeout=60)
    assert p.returncode == 1
    p = subprocess.run([ECOM, "cat", "/nonexistent"], capture_output=True, timeout=60)
    assert p.returncode == 1 and b"no such" in p.stderr
    p = subprocess.run([ECOM, "cat"], capture_output=True, timeout=60)
    assert p.returncode == 2


sys.exit(1 if failed else 0)
