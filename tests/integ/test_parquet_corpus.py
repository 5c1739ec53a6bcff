"""test_parquet_corpus — `ecom cat` (sanitizer build) on every file of apache/parquet-testing, compared
value by value with pyarrow's read_table(...).to_pylist() through the NDJSON mapping of
docs/parquet.md ("What `ecom cat` prints").

Outcome per file (the table printed at the end, then the counts):
  equal     exit 0, every row and value equal to pyarrow's
  refused   exit 1, the message names the unsupported feature (FEATURES below)
  error     exit 1, clean: only for bad_data/ files and for files pyarrow cannot read either
Anything else fails: a wrong value or row count with exit 0 (diff), a refusal that names no feature
(unnamed), output when pyarrow refuses the file (unverified), a sanitizer report, another exit code
(crash), or no answer within PER_FILE_S (hang).

The corpus is the read-only checkout ../shared/parquet-testing (found from the repo upward, or
$ECOM_PARQUET_TESTING); when it is absent the test prints SKIP with the reason (tests/run.sh
counts and lists skips), never a silent pass."""
import base64
import concurrent.futures
import datetime
import decimal
import glob
import json
import math
import os
import re
import struct
import subprocess
import sys
import time
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

from testlib import ECOM, TMP, Suite, parquet_testing_dir

REPO = os.environ.get("REPO", os.getcwd())
PER_FILE_S = 120
# A refusal names what is not supported: a codec or an encoding by name, encryption, a type.
FEATURES = [
    r"unsupported codec LZO\b",
    r"unsupported (dictionary page )?encoding \w+( for \w+)?\b",
    r"deprecated BIT_PACKED levels are not supported",
    r"encrypted (parquet )?files are not supported",
    r"INT96 timestamps with nanoseconds are not supported",
    r"DECIMAL\(\d+,\d+\) on physical type \w+ .*is not supported",
    r"a page of \d+ bytes passes the reader's limit",
]
SANITIZER = re.compile(r"runtime error:|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer")


def find_corpus():
    return parquet_testing_dir()


# ---- pyarrow value -> the NDJSON value `ecom cat` prints (docs/parquet.md) ----

def raw_type(t):
    """The type with temporal leaves as their integers (to_pylist cannot hold nanoseconds or
    years past 9999), everything else unchanged."""
    if pa.types.is_timestamp(t) or pa.types.is_time64(t) or pa.types.is_date64(t):
        return pa.int64()
    if pa.types.is_time32(t) or pa.types.is_date32(t):
        return pa.int32()
    if isinstance(t, pa.BaseExtensionType):
        return raw_type(t.storage_type)
    if pa.types.is_map(t):
        return pa.map_(pa.field(t.key_field.name, raw_type(t.key_type), False),
                       pa.field(t.item_field.name, raw_type(t.item_type), t.item_field.nullable))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, raw_type(f.type), f.nullable) for f in t])
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        mk = pa.list_ if pa.types.is_list(t) else pa.large_list
        return mk(pa.field(t.value_field.name, raw_type(t.value_type), t.value_field.nullable))
    return t


def civil(days):
    d = datetime.date(1970, 1, 1).toordinal() + days
    if 1 <= d <= datetime.date.max.toordinal():
        return datetime.date.fromordinal(d).isoformat()
    # proleptic Gregorian outside Python's range (years < 1 or > 9999): Hinnant's algorithm
    z = days + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    dd = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (m <= 2)
    return ("%04d" % y if 0 <= y <= 9999 else "%+05d" % y) + "-%02d-%02d" % (m, dd)


UNIT = {"s": 1, "ms": 1000, "us": 10**6, "ns": 10**9}


def fmt_ts(v, unit, tz):
    per = UNIT[unit]
    sec, frac = divmod(v, per)
    days, sod = divmod(sec, 86400)
    digits = 9 if unit == "ns" else 6
    f = frac * (10**digits // per)
    return "%sT%02d:%02d:%02d.%0*d%s" % (civil(days), sod // 3600, sod // 60 % 60, sod % 60, digits, f,
                                         "Z" if tz else "")


def fmt_time(v, unit):
    per = UNIT[unit]
    sec, frac = divmod(v, per)
    digits = 9 if unit == "ns" else 6
    return "%02d:%02d:%02d.%0*d" % (sec // 3600, sec // 60 % 60, sec % 60, digits, frac * (10**digits // per))


def fmt_float(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def expect(t, v):
    """Python value as json.loads gives back what `ecom cat` must print for pyarrow type t."""
    if v is None:
        return None
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name == "arrow.uuid":
            return str(uuid.UUID(bytes=v if isinstance(v, bytes) else v.bytes))
        return expect(t.storage_type, v)
    if pa.types.is_floating(t):
        return fmt_float(v)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return base64.b64encode(v).decode()
    if pa.types.is_date32(t):
        return civil(v)
    if pa.types.is_timestamp(t):
        return fmt_ts(v, t.unit, t.tz is not None)
    if pa.types.is_time32(t) or pa.types.is_time64(t):
        return fmt_time(v, t.unit)
    if pa.types.is_map(t):
        if v and isinstance(v[0], tuple):
            return [{"key": expect(t.key_type, k), "value": expect(t.item_type, x)} for k, x in v]
        return v
    if pa.types.is_struct(t):
        return {f.name: expect(f.type, v[f.name]) for f in t}
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return [expect(t.value_type, x) for x in v]
    return v   # bool, int, decimal.Decimal, str


def same(t, want, got, path):
    """Raises AssertionError naming the first difference between want (expect()) and got (json)."""
    if isinstance(t, pa.BaseExtensionType) and t.extension_name != "arrow.uuid":
        t = t.storage_type
    def fail(why):
        raise AssertionError("%s: %s (pyarrow %r, ecom %r)" % (path, why, want, got))
    if want is None or got is None:
        if want is not got:
            fail("null differs")
        return
    if pa.types.is_floating(t):
        if isinstance(want, str) or isinstance(got, str):
            if want != got:
                fail("special float differs")
            return
        if not isinstance(got, (decimal.Decimal, int)):
            fail("not a number")
        fmt = {16: "<e", 32: "<f", 64: "<d"}[t.bit_width]
        if struct.pack(fmt, float(got)) != struct.pack(fmt, want):
            fail("float differs")
        return
    if pa.types.is_decimal(t):
        if not isinstance(got, (decimal.Decimal, int)) or decimal.Decimal(got) != want or \
                decimal.Decimal(got).as_tuple().exponent != want.as_tuple().exponent:
            fail("decimal differs (value or scale)")
        return
    if pa.types.is_boolean(t) or pa.types.is_integer(t):
        if type(got) is not type(want) or got != want:
            fail("differs")
        return
    if pa.types.is_struct(t):
        if not isinstance(got, dict) or list(got) != [f.name for f in t]:
            fail("struct fields differ")
        for f in t:
            same(f.type, want[f.name], got[f.name], path + "." + f.name)
        return
    if pa.types.is_map(t) and want and isinstance(want[0], dict):
        if not isinstance(got, list) or len(got) != len(want):
            fail("map size differs")
        for i, (w, g) in enumerate(zip(want, got)):
            if not isinstance(g, dict) or list(g) != ["key", "value"]:
                fail("map entry is not {key, value}")
            same(t.key_type, w["key"], g["key"], "%s[%d].key" % (path, i))
            same(t.item_type, w["value"], g["value"], "%s[%d].value" % (path, i))
        return
    if pa.types.is_map(t):
        t = pa.list_(t.key_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        if not isinstance(got, list) or len(got) != len(want):
            fail("list length differs")
        for i, (w, g) in enumerate(zip(want, got)):
            same(t.value_type, w, g, "%s[%d]" % (path, i))
        return
    if want != got:
        fail("differs")


def documented_int96(path):
    """The microseconds a file's .md documents for its INT96 column ("As microseconds since the
    epoch, they correspond to: ``` a, b, null ```"), or None."""
    md = path[:-len(".parquet")] + ".md"
    if not os.path.exists(md):
        return None
    m = re.search(r"As microseconds since the epoch[^`]*```\s*([^`]*)```", open(md).read())
    if not m:
        return None
    return [None if v.strip() == "null" else int(v) for v in m.group(1).split(",")]


def reference(path):
    """(schema, rows as expect() values) from pyarrow, or (None, error text). INT96 is read to
    the microsecond (ecom's precision; pyarrow's default nanoseconds overflow past 2262), and
    where pyarrow's value overflows even so (Spark's year 290000), the file's own .md is the
    reference."""
    try:
        table = pq.read_table(path, coerce_int96_timestamp_unit="us")
        schema = table.schema
        raw = table.cast(pa.schema([pa.field(f.name, raw_type(f.type), f.nullable) for f in schema]))
        rows = raw.to_pylist()
    except Exception as e:  # noqa: BLE001 - any pyarrow refusal: the file has no reference
        return None, "%s: %s" % (type(e).__name__, str(e)[:160])
    doc = documented_int96(path)
    if doc is not None and len(schema) == 1 and len(doc) == len(rows):
        for r, v in zip(rows, doc):
            r[schema.names[0]] = v
    return schema, [{f.name: expect(f.type, r[f.name]) for f in schema} for r in rows]


NEG_ZERO = decimal.Decimal("-0")   # "-0" is a float's negative zero: json's int() would drop the sign


def compare(schema, want, out):
    lines = out.split("\n")[:-1] if out else []     # not splitlines(): U+2028 is not a row break
    if len(lines) != len(want):
        raise AssertionError("%d rows, pyarrow %d" % (len(lines), len(want)))
    for i, (line, w) in enumerate(zip(lines, want)):
        got = json.loads(line, parse_float=decimal.Decimal, parse_int=lambda t: NEG_ZERO if t == "-0" else int(t))
        if list(got) != schema.names:
            raise AssertionError("row %d: columns %s, pyarrow %s" % (i, list(got)[:8], schema.names[:8]))
        for f in schema:
            same(f.type, w[f.name], got[f.name], "row %d %s" % (i, f.name))


def classify(rel, path):
    """(outcome, detail, ok) for one file."""
    bad = rel.startswith("bad_data/")
    schema, want = reference(path)
    t0 = time.monotonic()
    try:
        r = subprocess.run([ECOM, "cat", path], capture_output=True, timeout=PER_FILE_S)
    except subprocess.TimeoutExpired:
        return "hang", "no answer in %d s" % PER_FILE_S, False
    secs = time.monotonic() - t0
    err = r.stderr.decode(errors="replace")
    first = (err.strip().splitlines() or [""])[0][:160]
    if SANITIZER.search(err):
        return "sanitizer", first, False
    if r.returncode == 0:
        if schema is None:
            return "unverified", "exit 0 but pyarrow: " + want, False
        try:
            compare(schema, want, r.stdout.decode())
        except (AssertionError, ValueError) as e:
            return "diff", str(e)[:300], False
        return "equal", "%d rows, %.1f s" % (len(want), secs), True
    if r.returncode != 1:
        return "crash", "exit %d: %s" % (r.returncode, first), False
    if any(re.search(f, err) for f in FEATURES):
        return "refused", first, True
    if bad or schema is None:
        return "error", first + ("" if bad else " | pyarrow: " + want), True
    return "unnamed", first, False


def corpus_files(root):
    files = []
    for pat in ("data/**/*.parquet", "data/*.parquet.encrypted", "bad_data/*.parquet", "shredded_variant/*.parquet"):
        files += glob.glob(os.path.join(root, pat), recursive=True)
    return sorted(os.path.relpath(f, root) for f in set(files))


suite = Suite()
ROOT = find_corpus()


def corpus():
    files = corpus_files(ROOT)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:   # the CI box has 2 cores
        outcomes = list(pool.map(lambda rel: classify(rel, os.path.join(ROOT, rel)), files))
    results = []
    for rel, (outcome, detail, ok) in zip(files, outcomes):
        results.append((rel, outcome, detail, ok))
        print("%-58s %-10s %s" % (rel, outcome, detail), flush=True)
    counts = {}
    for _, o, _, _ in results:
        counts[o] = counts.get(o, 0) + 1
    print("counts: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())) + " (of %d files)" % len(results))
    bad = [(rel, o) for rel, o, _, ok in results if not ok]
    assert len(results) > 200, "only %d files found under %s" % (len(results), ROOT)
    assert not bad, "%d files with a wrong outcome: %s" % (len(bad), bad[:20])


def logical_types_written_by_pyarrow():
    """Types the corpus lacks or has few of, written by pyarrow, through the same comparison."""
    u = [uuid.UUID(int=i * 0x1234567890abcdef1234567890abcdef % 2**128).bytes for i in range(5)]
    t = pa.table({
        "uuid": pa.array(u[:4] + [None], pa.uuid()),
        "t_ms": pa.array([0, 1, 86399999, 45296789, None], pa.time32("ms")),
        "t_us": pa.array([0, 1, 86399999999, 45296789012, None], pa.time64("us")),
        "t_ns": pa.array([0, 1, 86399999999999, 45296789012345, None], pa.time64("ns")),
        "ts_ns_utc": pa.array([0, -1, 1764000000123456789, -2**63 + 1, None], pa.timestamp("ns", "UTC")),
        "ts_ns": pa.array([0, 1, 1764000000123456789, 2**63 - 1, None], pa.timestamp("ns")),
        "ts_ms": pa.array([0, -1, 1764000000123, 253402300799999, None], pa.timestamp("ms")),
        "u32": pa.array([0, 1, 2**32 - 1, 2**31, None], pa.uint32()),
        "u64": pa.array([0, 1, 2**64 - 1, 2**63, None], pa.uint64()),
        "i8": pa.array([0, -128, 127, -1, None], pa.int8()),
        "f32": pa.array([0.1, -0.0, float("nan"), float("-inf"), None], pa.float32()),
        "f16": pa.array([0.1, -0.0, float("nan"), 65504.0, None], pa.float16()),
        "bin": pa.array([b"", b"\xff\xfe\x00", b"abc", bytes(range(256)), None], pa.binary()),
        "dec": pa.array([decimal.Decimal("-1.00"), decimal.Decimal("0.01"), decimal.Decimal("99999999999999999999999999999999999.99"),
                         decimal.Decimal("0.00"), None], pa.decimal128(37, 2)),
        "ll": pa.array([[[1, None], [], None], None, [], [[2**62]], [None]], pa.list_(pa.list_(pa.int64()))),
        "ml": pa.array([[("a", [1, 2]), ("b", None)], None, [], [("c", [])], [("d", [None])]],
                       pa.map_(pa.string(), pa.list_(pa.int32()))),
        "ms": pa.array([[(1, {"x": 1.5, "y": ["p"]})], [(2, None)], None, [], [(3, {"x": None, "y": None})]],
                       pa.map_(pa.int32(), pa.struct([("x", pa.float64()), ("y", pa.list_(pa.string()))]))),
    })
    for version, dpv in (("2.6", "1.0"), ("2.6", "2.0")):
        path = os.path.join(TMP, "types_%s.parquet" % dpv)
        pq.write_table(t, path, version=version, data_page_version=dpv, row_group_size=3)
        outcome, detail, ok = classify("written/" + os.path.basename(path), path)
        assert outcome == "equal", (dpv, outcome, detail)
    r = subprocess.run([ECOM, "cat", path, "--columns", "bin", "--binary", "hex"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = [json.loads(x)["bin"] for x in r.stdout.decode().split("\n")[:-1]]
    assert got == ["", "fffe00", "616263", bytes(range(256)).hex(), None], got
    s = subprocess.run([ECOM, "schema", path], capture_output=True, timeout=60).stdout.decode()
    for ann in ("(UUID)", "(TIME(MILLIS,false))", "(TIMESTAMP(NANOS,true))", "(TIMESTAMP(NANOS,false))",
                "(INTEGER(32,false))", "(FLOAT16)", "(DECIMAL(37,2))", "(MAP)", "(LIST)", "RLE_DICTIONARY", "SNAPPY"):
        assert ann in s, (ann, s[:3000])


def lake_root_lists_tables():
    """A lake root is refused (exit 2) naming its tables, for cat and schema; a table reads."""
    root = os.path.join(TMP, "lake")
    for tbl, src in (("views", "binary.parquet"), ("orders", "list_columns.parquet")):
        d = os.path.join(root, tbl, "date=2026-11-25")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(ROOT, "data", src), "rb") as f, open(os.path.join(d, "part-0.parquet"), "wb") as o:
            o.write(f.read())
    for cmd in ("cat", "schema"):
        r = subprocess.run([ECOM, cmd, root], capture_output=True, timeout=60)
        assert r.returncode == 2 and r.stdout == b"", (cmd, r.returncode, r.stdout[:200])
        assert b"several tables (orders, views)" in r.stderr, r.stderr
    r = subprocess.run([ECOM, "cat", os.path.join(root, "views"), "--limit", "1"], capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stdout == b'{"foo":"AA==","date":"2026-11-25"}\n', (r.returncode, r.stdout, r.stderr)


def invalid_utf8_string_refused():
    """A STRING column whose bytes are not UTF-8 (other writers do not all check) is refused by
    name, never printed with U+FFFD in place of its bytes; a valid one beside it still reads."""
    path = os.path.join(TMP, "bad_utf8.parquet")
    bad = pa.array([b"ok", b"caf\xc3\xa9", b"\xff\xfe", b"\xed\xa0\x80"], pa.binary()).view(pa.string())
    pq.write_table(pa.table({"s": bad}), path)
    r = subprocess.run([ECOM, "cat", path], capture_output=True, timeout=60)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert b"not valid UTF-8" in r.stderr and b"corrupt" not in r.stderr, r.stderr
    assert b"\\ufffd" not in r.stdout, r.stdout
    r = subprocess.run([ECOM, "cat", path, "--limit", "2"], capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stdout == '{"s":"ok"}\n{"s":"café"}\n'.encode(), (r.returncode, r.stdout, r.stderr)


if ROOT is None:
    print("SKIP parquet_corpus: apache/parquet-testing not found (../shared/parquet-testing above %s, "
          "or $ECOM_PARQUET_TESTING)" % REPO)
    sys.exit(0)
suite.case(corpus)
suite.case(logical_types_written_by_pyarrow)
suite.case(lake_root_lists_tables)
suite.case(invalid_utf8_string_refused)
suite.exit()
