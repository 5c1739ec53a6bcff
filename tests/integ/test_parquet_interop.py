"""Parquet interop proof: files written by ecom are read by pyarrow and DuckDB with every value
compared; files written by pyarrow and DuckDB (several page versions, codecs, encodings) are read
by `ecom cat` with every value compared. Shapes: all leaf types with nulls, unicode, extreme
numbers, empty and large strings, many row groups, a struct, a list of structs.

Run by tests/run.sh with the venv python ($PY); prints PASS/FAIL per case."""
import datetime
import json
import math
import os
import random
import subprocess
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import testlib

ECOM = os.environ["ECOM"]
REPO = os.environ["REPO"]
TMP = os.environ["TEST_TMP"]
PQTOOL = os.path.join(REPO, "build/san/pqtool")
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
failed = False

SCHEMA = [
    {"name": "id", "type": "int64"},
    {"name": "b", "type": "bool", "optional": True},
    {"name": "i32", "type": "int32", "optional": True},
    {"name": "i64", "type": "int64", "optional": True},
    {"name": "f64", "type": "double", "optional": True},
    {"name": "s", "type": "string", "optional": True},
    {"name": "d", "type": "date", "optional": True},
    {"name": "ts", "type": "timestamp", "optional": True},
    {"name": "loc", "type": "struct", "optional": True, "fields": [
        {"name": "lat", "type": "double"}, {"name": "lon", "type": "double", "optional": True}]},
    {"name": "items", "type": "list", "optional": True, "fields": [
        {"name": "pid", "type": "string"}, {"name": "q", "type": "int32", "optional": True}]},
]

ARROW_SCHEMA = pa.schema([
    pa.field("id", pa.int64(), nullable=False),
    ("b", pa.bool_()), ("i32", pa.int32()), ("i64", pa.int64()), ("f64", pa.float64()),
    ("s", pa.string()), ("d", pa.date32()), ("ts", pa.timestamp("us", tz="UTC")),
    ("loc", pa.struct([pa.field("lat", pa.float64(), nullable=False), ("lon", pa.float64())])),
    ("items", pa.list_(pa.struct([pa.field("pid", pa.string(), nullable=False), ("q", pa.int32())]))),
])

WORDS = ["", "a", "Quito", "ñandú", "日本語テキスト", "emoji 🛒🎉", "tab\there", "quote\"back\\slash",
         "line\nbreak", "nul\x00byte", "ctrl\x01\x1f", "x" * 300]
FLOATS = [0.0, -0.0, 1.5, -2.25, 1e308, -1e308, 5e-324, 2.2250738585072014e-308, 0.1, 1 / 3,
          float("inf"), float("-inf"), float("nan"), 123456789.123456789]


def case(name):
    def deco(fn):
        global failed
        try:
            fn()
            print("PASS", name, flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure as a FAIL line
            failed = True
            print("FAIL", name, "-", repr(e)[:2000], flush=True)
        return fn
    return deco


def make_rows(n, seed):
    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        def opt(v, p=0.15):
            return None if rnd.random() < p else v
        s = rnd.choice(WORDS) + (str(rnd.randint(0, 50)) if rnd.random() < 0.5 else "")
        if i % 997 == 5:
            s = "L" * 150000 + "ü"          # large strings
        items = None
        r = rnd.random()
        if r < 0.1:
            items = None
        elif r < 0.2:
            items = []
        else:
            items = []
            for k in range(rnd.randint(1, 8)):
                if rnd.random() < 0.05:
                    items.append(None)
                else:
                    items.append({"pid": "P%04d" % rnd.randint(0, 3000) if k % 3 else rnd.choice(WORDS),
                                  "q": opt(rnd.randint(-5, 2**31 - 1), 0.2)})
        rows.append({
            "id": i,
            "b": opt(rnd.random() < 0.5),
            "i32": opt(rnd.choice([0, 1, -1, 2**31 - 1, -2**31, rnd.randint(-1000, 1000)])),
            "i64": opt(rnd.choice([0, 2**63 - 1, -2**63, rnd.randint(-10**15, 10**15), rnd.randint(0, 20)])),
            "f64": opt(rnd.choice(FLOATS) if rnd.random() < 0.5 else rnd.uniform(-1e6, 1e6)),
            "s": opt(s),
            "d": opt(rnd.choice([0, -1, 20000, 2932896, -719162, rnd.randint(19000, 21000)])),
            "ts": opt(rnd.choice([0, -1, 1764000000123456, 253402300799999999, -62135596800000000,
                                  1764000000000000 + rnd.randint(0, 10**12)])),
            "loc": opt({"lat": rnd.uniform(-90, 90), "lon": opt(rnd.uniform(-180, 180))}),
            "items": items,
        })
    return rows


def float_eq(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


def to_arrow_value(row):
    """Python row (ints for date/ts) -> the values pyarrow returns from to_pylist()."""
    r = dict(row)
    if r["d"] is not None:
        r["d"] = datetime.date(1970, 1, 1) + datetime.timedelta(days=r["d"])
    if r["ts"] is not None:
        r["ts"] = EPOCH + datetime.timedelta(microseconds=r["ts"])
    return r


def compare_rows(got, want, label):
    assert len(got) == len(want), "%s: %d rows, want %d" % (label, len(got), len(want))
    for i, (g, w) in enumerate(zip(got, want)):
        for k in w:
            gv, wv = g[k], w[k]
            if k == "f64":
                ok = float_eq(gv, wv)
            elif k == "loc" and gv is not None and wv is not None:
                ok = gv["lat"] == wv["lat"] and float_eq(gv["lon"], wv["lon"])
            else:
                ok = gv == wv
            assert ok, "%s row %d col %s: got %r want %r" % (label, i, k, str(gv)[:200], str(wv)[:200])


def ecom_write(rows, path, *opts):
    src = os.path.join(TMP, "in.ndjson")
    sch = os.path.join(TMP, "schema.json")
    with open(sch, "w") as f:
        json.dump(SCHEMA, f)
    with open(src, "w") as f:
        for r in rows:
            r2 = dict(r)
            v = r2["f64"]
            if v is not None and (math.isnan(v) or math.isinf(v) or (v == 0 and math.copysign(1, v) < 0)):
                r2["f64"] = "nan" if math.isnan(v) else "inf" if v > 0 else "-inf" if math.isinf(v) else "-0"
            f.write(json.dumps(r2) + "\n")
    subprocess.run([PQTOOL, "write", sch, src, path, *opts], check=True, timeout=600)


def duck_rows(path):
    # timestamps as epoch micros (avoid pytz), dates as date, nested as python structures
    con = duckdb.connect()
    q = ("select id, b, i32, i64, f64, s, d, epoch_us(ts) as ts, loc, items from read_parquet('%s') order by id"
         % path)
    cur = con.execute(q)
    cols = [c[0] for c in cur.description]
    out = []
    for t in cur.fetchall():
        r = dict(zip(cols, t))
        if r["d"] is not None:
            r["d"] = (r["d"] - datetime.date(1970, 1, 1)).days
        out.append(r)
    return out


ROWS = make_rows(3000, 1)


@case("ecom_writes_pyarrow_reads")
def _():
    for codec, extra in [("zstd", []), ("snappy", ["--no-dict"]), ("none", ["--dict-max", "2000"])]:
        path = os.path.join(TMP, "ecom_%s.parquet" % codec)
        ecom_write(ROWS, path, "--codec", codec, "--rg-bytes", "200000", "--page-bytes", "8192", "--batch", "37", *extra)
        f = pq.ParquetFile(path)
        assert f.metadata.num_row_groups > 3, "expected many row groups"
        assert f.metadata.created_by == "ecom version test"
        assert f.schema_arrow.metadata[b"ecom.test"] == b"pqtool"
        t = f.read()
        assert t.schema.equals(ARROW_SCHEMA, check_metadata=False), str(t.schema)
        compare_rows(t.to_pylist(), [to_arrow_value(r) for r in ROWS], "pyarrow/" + codec)
        # statistics are present and right for a flat column
        for g in range(f.metadata.num_row_groups):
            st = f.metadata.row_group(g).column(0).statistics
            ids = [r["id"] for r in t.slice(0).to_pylist()]
            assert st.has_min_max and st.min <= st.max and st.min in ids
        mn = f.metadata.row_group(0).column(0).statistics.min
        assert mn == 0, mn
        # min/max/null_count of dictionary-encoded and plain columns match the data
        for g in range(f.metadata.num_row_groups):
            part = f.read_row_group(g).to_pylist()
            for ci, name in [(2, "i32"), (3, "i64"), (5, "s")]:
                st = f.metadata.row_group(g).column(ci).statistics
                vals = [r[name] for r in part if r[name] is not None]
                assert st.null_count == len(part) - len(vals), (name, g)
                if name == "s" and max(len(v.encode()) for v in vals) > 256:
                    continue
                assert st.has_min_max and st.min == min(vals) and st.max == max(vals), (name, g, st.min, st.max)


@case("ecom_writes_duckdb_reads")
def _():
    path = os.path.join(TMP, "ecom_zstd.parquet")
    got = duck_rows(path)
    want = [dict(r) for r in ROWS]
    compare_rows(got, want, "duckdb")


def ecom_cat(path, *args):
    p = subprocess.run([ECOM, "cat", path, *args], capture_output=True, timeout=600)
    assert p.returncode == 0, p.stderr.decode()[:500]
    return [json.loads(line) for line in p.stdout.decode("utf-8").splitlines()]


def to_cat_value(row):
    """Python row -> what `ecom cat` prints (JSON)."""
    r = dict(row)
    if r["d"] is not None:
        r["d"] = (datetime.date(1970, 1, 1) + datetime.timedelta(days=r["d"])).isoformat()
    if r["ts"] is not None:
        t = EPOCH + datetime.timedelta(microseconds=r["ts"])
        r["ts"] = t.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % t.microsecond
        if t.year < 1000:
            r["ts"] = "%04d" % t.year + r["ts"][r["ts"].index("-"):]
    v = r["f64"]
    if v is not None and (math.isnan(v) or math.isinf(v)):   # docs/parquet.md: strings, not null
        r["f64"] = "NaN" if math.isnan(v) else "Infinity" if v > 0 else "-Infinity"
    return r


def compare_cat(got, rows, label):
    want = [to_cat_value(r) for r in rows]
    assert len(got) == len(want), "%s: %d rows, want %d" % (label, len(got), len(want))
    for i, (g, w) in enumerate(zip(got, want)):
        assert list(g.keys()) == list(w.keys()), "%s: keys %s" % (label, list(g.keys()))
        for k in w:
            gv, wv = g[k], w[k]
            ok = (gv == wv) if not isinstance(wv, float) else (isinstance(gv, (int, float)) and float(gv) == wv)
            assert ok, "%s row %d col %s: got %r want %r" % (label, i, k, str(gv)[:200], str(wv)[:200])


def arrow_table(rows):
    return pa.Table.from_pylist([to_arrow_value(r) for r in rows], schema=ARROW_SCHEMA)


@case("pyarrow_writes_ecom_reads")
def _():
    t = arrow_table(ROWS)
    variants = [
        dict(compression="snappy", row_group_size=700),
        dict(compression="zstd", data_page_version="2.0", row_group_size=1000),
        dict(compression="none", use_dictionary=False),
        dict(compression="snappy", version="1.0"),   # legacy PLAIN_DICTIONARY
        dict(compression="zstd", data_page_size=4096, write_statistics=False),
    ]
    for i, kw in enumerate(variants):
        path = os.path.join(TMP, "pa_%d.parquet" % i)
        pq.write_table(t, path, **kw)
        compare_cat(ecom_cat(path), ROWS, "pyarrow %s" % kw)


@case("duckdb_writes_ecom_reads")
def _():
    t = arrow_table(ROWS)  # noqa: F841 - referenced by the DuckDB query
    for codec in ["zstd", "snappy", "uncompressed"]:
        path = os.path.join(TMP, "duck_%s.parquet" % codec)
        duckdb.sql("copy (select * from t order by id) to '%s' (format parquet, compression %s, row_group_size 1000)"
                   % (path, codec))
        compare_cat(ecom_cat(path), ROWS, "duckdb " + codec)


@case("ecom_cat_roundtrip_and_projection")
def _():
    path = os.path.join(TMP, "ecom_snappy.parquet")
    compare_cat(ecom_cat(path), ROWS, "ecom->ecom")
    got = ecom_cat(path, "--columns", "items,id", "--limit", "5")
    assert len(got) == 5 and list(got[0].keys()) == ["items", "id"], got[0]
    p = subprocess.run([ECOM, "cat", path, "--format", "csv", "--columns", "id,s", "--limit", "50"],
                       capture_output=True, timeout=60)
    assert p.returncode == 0
    import csv
    csv.field_size_limit(10**8)
    import io
    rd = list(csv.reader(io.StringIO(p.stdout.decode("utf-8"), newline="")))
    assert rd[0] == ["id", "s"]
    for r, w in zip(rd[1:], ROWS[:50]):
        assert r[0] == str(w["id"]) and r[1] == (w["s"] or ""), (r, w["s"])
    p = subprocess.run([ECOM, "schema", path], capture_output=True, timeout=60)
    assert p.returncode == 0 and b"optional group items (LIST)" in p.stdout, p.stdout[:500]


@case("hostile_files_error_cleanly")
def _():
    good = open(os.path.join(TMP, "ecom_zstd.parquet"), "rb").read()
    rnd = random.Random(5)
    for i in range(30):
        b = bytearray(good)
        if i < 10:
            b = b[: rnd.randint(0, len(b) - 1)]
        else:
            for _ in range(8):
                pos = len(b) - 1 - rnd.randint(8, 3000) if i % 2 else rnd.randint(0, len(b) - 1)
                b[pos] = rnd.randint(0, 255)
        path = os.path.join(TMP, "bad.parquet")
        open(path, "wb").write(b)
        p = subprocess.run([ECOM, "cat", path], capture_output=True, timeout=120)
        assert p.returncode in (0, 1), "exit %d: %s" % (p.returncode, p.stderr[-500:])
        assert b"AddressSanitizer" not in p.stderr and b"runtime error" not in p.stderr, p.stderr[-1000:]


DEC_SCHEMA = [
    {"name": "id", "type": "int64"},
    {"name": "price", "type": "decimal", "precision": 18, "scale": 2},
    {"name": "total", "type": "decimal", "precision": 18, "scale": 2, "optional": True},
    {"name": "items", "type": "list", "optional": True, "fields": [
        {"name": "unit_price", "type": "decimal", "precision": 18, "scale": 2}]},
    {"name": "raw", "type": "binary"},
]
DEC_CENTS = [0, 1, -1, 5, -5, 1234, -1234, 100, 99999, 10**17 + 3, 999999999999999999, -999999999999999999]


def dec_rows():
    import decimal
    rows = []
    for i in range(3000):
        c = DEC_CENTS[i % len(DEC_CENTS)] if i < 100 else (i * 7919) % 10**9 - 5 * 10**8
        rows.append({"id": i, "price": c, "total": None if i % 7 == 3 else -c,
                     "items": None if i % 11 == 0 else [{"unit_price": c}, {"unit_price": i}],
                     "raw": bytes((i + k) % 256 for k in range(i % 300))})
    q = decimal.Decimal("0.01")

    def d(c):
        return None if c is None else (decimal.Decimal(c) * q).quantize(q)
    want = [{"id": r["id"], "price": d(r["price"]), "total": d(r["total"]),
             "items": None if r["items"] is None else [{"unit_price": d(x["unit_price"])} for x in r["items"]],
             "raw": r["raw"]} for r in rows]
    return rows, want


def ecom_write_dec(rows, path):
    src = os.path.join(TMP, "dec.ndjson")
    sch = os.path.join(TMP, "dec_schema.json")
    with open(sch, "w") as f:
        json.dump(DEC_SCHEMA, f)
    with open(src, "w") as f:
        for r in rows:
            f.write(json.dumps(dict(r, raw=r["raw"].hex())) + "\n")
    subprocess.run([PQTOOL, "write", sch, src, path, "--rg-bytes", "20000"], check=True, timeout=600)


@case("decimal_binary_pyarrow_and_duckdb_read_exact")
def _():
    rows, want = dec_rows()
    path = os.path.join(TMP, "ecom_decimal.parquet")
    ecom_write_dec(rows, path)
    t = pq.read_table(path)
    for name in ("price", "total"):
        assert t.schema.field(name).type == pa.decimal128(18, 2), t.schema
    assert t.schema.field("items").type.value_type.field("unit_price").type == pa.decimal128(18, 2), t.schema
    assert t.schema.field("raw").type == pa.binary(), t.schema
    col = pq.ParquetFile(path).metadata.schema.column(1)
    assert col.physical_type == "INT64" and col.converted_type == "DECIMAL", (col.physical_type, col.converted_type)
    assert str(col.logical_type) == "Decimal(precision=18, scale=2)", col.logical_type
    got = t.to_pylist()
    assert got == want, next((g, w) for g, w in zip(got, want) if g != w)
    con = duckdb.connect()
    cur = con.execute("select id, price, total, items, raw from read_parquet('%s') order by id" % path)
    types = {d[0]: str(d[1]) for d in cur.description}
    assert types["price"] == "DECIMAL(18,2)" and types["total"] == "DECIMAL(18,2)", types
    dgot = [dict(zip(["id", "price", "total", "items", "raw"], r)) for r in cur.fetchall()]
    assert dgot == want, next((g, w) for g, w in zip(dgot, want) if g != w)
    s = con.execute("select sum(price)::varchar, typeof(sum(price)) from read_parquet('%s')" % path).fetchone()
    assert s[0] == str(sum(w["price"] for w in want)), s


@case("decimal_ecom_cat_and_schema_exact")
def _():
    rows, want = dec_rows()
    path = os.path.join(TMP, "ecom_decimal.parquet")
    p = subprocess.run([ECOM, "cat", path, "--columns", "id,price,total,items"], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr[-500:]
    lines = p.stdout.decode().splitlines()
    assert len(lines) == len(want)
    # the printed text is the exact decimal (parsed as Decimal, not float)
    import decimal
    for line, w in zip(lines, want):
        g = json.loads(line, parse_float=decimal.Decimal, parse_int=decimal.Decimal)
        assert g["price"] == w["price"] and str(g["price"]) == str(w["price"]), (line, w)
        assert g["total"] == w["total"], (line, w)
    assert lines[5] == '{"id":5,"price":12.34,"total":-12.34,"items":[{"unit_price":12.34},{"unit_price":0.05}]}', \
        lines[5]
    p = subprocess.run([ECOM, "schema", path], capture_output=True, timeout=60)
    assert p.returncode == 0 and b"required int64 price (DECIMAL(18,2));" in p.stdout, p.stdout[:800]
    assert b"required binary raw;" in p.stdout, p.stdout[:800]


@case("pyarrow_and_duckdb_decimals_ecom_reads_exact")
def _():
    """Decimals written by others on every physical type: INT32/INT64 (pyarrow
    store_decimal_as_integer), FIXED_LEN_BYTE_ARRAY (pyarrow's default, up to 38 digits), and
    DuckDB's own; `ecom cat` prints each value exactly."""
    import decimal
    decimal.getcontext().prec = 60
    vals = [decimal.Decimal(x) for x in ["0.00", "1.00", "-1.00", "12.34", "-0.05", "99.99", "-99.99"]]
    big = [decimal.Decimal(x) for x in ["12345678901234567890123.45", "-12345678901234567890123.45", "0.01",
                                        "99999999999999999999999999999999999.999", "-0.001"]]
    cases = [(pa.decimal128(4, 2), vals, dict(store_decimal_as_integer=True)),
             (pa.decimal128(18, 2), vals, dict(store_decimal_as_integer=True)),
             (pa.decimal128(9, 2), vals, {}),
             (pa.decimal128(38, 3), big, {})]
    for i, (typ, vs, kw) in enumerate(cases):
        path = os.path.join(TMP, "pa_dec_%d.parquet" % i)
        pq.write_table(pa.table({"v": pa.array(vs + [None], type=typ)}), path, **kw)
        got = [json.loads(x, parse_float=decimal.Decimal, parse_int=decimal.Decimal)["v"]
               for x in subprocess.run([ECOM, "cat", path], capture_output=True, check=True,
                                       timeout=60).stdout.decode().splitlines()]
        want = [None if v is None else v.quantize(decimal.Decimal(1).scaleb(-typ.scale)) for v in vs + [None]]
        assert [None if g is None else str(g) for g in got] == [None if w is None else str(w) for w in want], \
            (typ, got, want)
    path = os.path.join(TMP, "duck_dec.parquet")
    duckdb.sql("copy (select 1234.56::decimal(18,2) as a, -0.07::decimal(4,2) as b, 12.5::decimal(38,1) as c)"
               " to '%s' (format parquet)" % path)
    out = subprocess.run([ECOM, "cat", path], capture_output=True, check=True, timeout=60).stdout.decode().strip()
    assert out == '{"a":1234.56,"b":-0.07,"c":12.5}', out


@case("parquet_testing_decimal_files_read_exact")
def _():
    """apache/parquet-testing's decimal files (when the shared checkout is present)."""
    root = testlib.parquet_testing_dir()
    if root is None:
        print("SKIP parquet_testing_decimal_files_read_exact: apache/parquet-testing not found")
        return
    data = os.path.join(root, "data")
    for name in ["int32_decimal", "int64_decimal", "fixed_length_decimal", "fixed_length_decimal_legacy",
                 "byte_array_decimal"]:
        path = os.path.join(data, name + ".parquet")
        want = ['{"value":%s}' % v for v in pq.read_table(path).column(0).to_pylist()]
        got = subprocess.run([ECOM, "cat", path], capture_output=True, check=True, timeout=60).stdout.decode()
        assert got.splitlines() == want, (name, got[:200])


sys.exit(1 if failed else 0)
