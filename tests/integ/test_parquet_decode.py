"""The reader's page/column layer against pyarrow: what pq_reader_read_column delivers
(definition and repetition levels, packed values) for every codec and encoding, at any depth
of repetition, compared with the levels that pyarrow's own values shred into (Dremel, from
the file's schema tree); every bad_data/ file a clean error; unsupported codecs named.

Oracle: pyarrow's read_table().to_pylist() per row group, shredded here into (def, rep,
value) per leaf column. The column layer is seen through `pqtool columns` (tests/tools/pqtool.c).
Files: apache/parquet-testing (../shared/parquet-testing, as test_parquet_interop.py finds
it) and files pyarrow writes in the test with each codec and encoding.

Run by tests/run.sh with the venv python ($PY); prints PASS/FAIL per case."""
import datetime
import decimal
import json
import math
import os
import random
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq

from testlib import ECOM, TMP, Suite, parquet_testing_dir

REPO = os.environ["REPO"]
PQTOOL = os.path.join(REPO, "build/san/pqtool")
SAN_MARKS = ("runtime error", "AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer")


CORPUS = parquet_testing_dir()


def columns(path):
    """Runs `pqtool columns`; returns (nodes, [chunk dicts]) or raises with its stderr."""
    r = subprocess.run([PQTOOL, "columns", path], capture_output=True, text=True, timeout=300)
    assert not any(m in r.stderr for m in SAN_MARKS), f"{path}: sanitizer report: {r.stderr[-1500:]}"
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    if r.returncode != 0 and not lines:
        raise AssertionError(f"{path}: pqtool exited {r.returncode}: {r.stderr[-500:]}")
    return lines[0]["nodes"], lines[1:]


# ---- the oracle: Dremel shredding of pyarrow's values along the parquet schema tree ----

class Shredder:
    """Turns pyarrow's python values into per-leaf (def, rep, value) lists, walking the
    parquet schema tree the way arrow maps it: a LIST group (or a MAP, whose python value is a
    list of (key, value) tuples) passes its list to its repeated child; a repeated group under
    a LIST with one child not named `array` / `<list>_tuple` is the 3-level form (its item is the
    element's value); anything else is a struct (a dict by field name)."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.kids = {i: [] for i in range(-1, len(nodes))}
        for i, n in enumerate(nodes):
            self.kids[n["parent"]].append(i)
        self.leaves = {}

    def leaves_under(self, i):
        if self.nodes[i]["leaf"] >= 0:
            return [self.nodes[i]["leaf"]]
        return [x for c in self.kids[i] for x in self.leaves_under(c)]

    def emit_null(self, i, d, r):
        for leaf in self.leaves_under(i):
            self.out[leaf].append((d, r, None))

    def three_level(self, i):
        n, kids = self.nodes[i], self.kids[i]
        p = n["parent"]
        if n["rep"] != 2 or p < 0 or not self.nodes[p]["list"] or len(kids) != 1:
            return False
        return n["name"] not in ("array", self.nodes[p]["name"] + "_tuple")

    def child_value(self, i, v, c, pos):
        if isinstance(v, list):                 # LIST / MAP group: its list goes to the repeated child
            return v
        if isinstance(v, tuple):                # a map entry: key, value by position
            return v[pos] if pos < len(v) else None
        if self.three_level(i) or (not isinstance(v, dict) and len(self.kids[i]) == 1):
            return v                            # 3-level list item, or a key-only map's key
        return v[self.nodes[c]["name"]] if v is not None else None

    def visit(self, i, v, d, r):
        n = self.nodes[i]
        if n["leaf"] >= 0:
            self.out[n["leaf"]].append((d, r, v))
            return
        for pos, c in enumerate(self.kids[i]):
            self.field(c, self.child_value(i, v, c, pos), d, r)

    def field(self, c, v, d, r):
        n = self.nodes[c]
        if n["rep"] == 0:
            self.visit(c, v, d, r)
        elif n["rep"] == 1:
            if v is None:
                self.emit_null(c, d, r)
            else:
                self.visit(c, v, d + 1, r)
        else:
            if not v:
                self.emit_null(c, d, r)
            else:
                for k, item in enumerate(v):
                    self.visit(c, item, d + 1, r if k == 0 else self.max_rep(c))

    def max_rep(self, i):
        r = 0
        while i >= 0:
            r += self.nodes[i]["rep"] == 2
            i = self.nodes[i]["parent"]
        return r

    def shred(self, rows):
        nleaves = sum(1 for n in self.nodes if n["leaf"] >= 0)
        self.out = {leaf: [] for leaf in range(nleaves)}
        for row in rows:
            for c in self.kids[-1]:
                self.field(c, row.get(self.nodes[c]["name"]), 0, 0)
        return self.out


def same_value(ours, ref):
    """ours: pqtool's physical value; ref: pyarrow's logical one. True when they agree, or when
    ref is a logical type the column layer does not convert (dates, times, decimals, float16)."""
    if isinstance(ref, bool):
        return ours == int(ref)
    if isinstance(ref, int):
        if not isinstance(ours, int):
            return True                        # e.g. FLOAT16 (2 raw bytes) shown by pyarrow as float
        return ours % (1 << 64) == ref % (1 << 64) or ours % (1 << 32) == ref % (1 << 32)
    if isinstance(ref, float):
        if isinstance(ours, str) and ours in ("nan", "inf", "-inf"):
            return math.isnan(ref) if ours == "nan" else ref == float(ours)
        return not isinstance(ours, (int, float)) or ours == ref
    if isinstance(ref, str):
        return ours == ref.encode().hex()
    if isinstance(ref, bytes):
        return ours == ref.hex()
    return True                                # datetime, date, time, Decimal, uuid: the value layer's


def physical(t):
    """The arrow type with dates, times and timestamps as their stored integers (what the
    column layer delivers; also keeps pyarrow from refusing out-of-range datetimes)."""
    if pa.types.is_timestamp(t) or pa.types.is_date64(t) or pa.types.is_time64(t) or pa.types.is_duration(t):
        return pa.int64()
    if pa.types.is_date32(t) or pa.types.is_time32(t):
        return pa.int32()
    if pa.types.is_map(t):
        return pa.map_(physical(t.key_type), physical(t.item_type))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(pa.field(t.value_field.name, physical(t.value_type), t.value_field.nullable))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, physical(f.type), f.nullable) for f in t])
    return t


def rows_of(table):
    schema = pa.schema([pa.field(f.name, physical(f.type), f.nullable) for f in table.schema])
    return table.cast(schema).to_pylist()


def compare_file(path, check_values=True):
    """Compares every chunk of path with the shredded pyarrow values; returns a problem or None."""
    nodes, chunks = columns(path)
    err = [c for c in chunks if "error" in c]
    if err:
        return f"refused: {err[0]['error']}"
    pf = pq.ParquetFile(path)
    sh = Shredder(nodes)
    for g in range(pf.num_row_groups):
        want = sh.shred(rows_of(pf.read_row_group(g)))
        for c in (c for c in chunks if c["rg"] == g):
            leaf, exp = c["leaf"], want[c["leaf"]]
            if c["max_def"] and [e[0] for e in exp] != c["def"]:
                return f"rg {g} leaf {leaf}: def levels differ"
            if c["max_rep"] and [e[1] for e in exp] != c["rep"]:
                return f"rg {g} leaf {leaf}: rep levels differ {c['rep'][:20]} vs {[e[1] for e in exp][:20]}"
            if c["n"] != len(exp):
                return f"rg {g} leaf {leaf}: {c['n']} entries, pyarrow {len(exp)}"
            present = [e[2] for e in exp if e[0] == c["max_def"]]
            if len(present) != len(c["values"]):
                return f"rg {g} leaf {leaf}: {len(c['values'])} values, pyarrow {len(present)}"
            if check_values and nodes[c["node"]]["phys"] != 3:   # INT96: microseconds here, ns in pyarrow
                for k, (a, b) in enumerate(zip(c["values"], present)):
                    if not same_value(a, b):
                        return f"rg {g} leaf {leaf} value {k}: {a!r} vs pyarrow {b!r}"
    return None


# ---- cases ----

# Files pyarrow itself cannot read, or reads differently from their content, with the reason.
PYARROW_CANNOT = {
    "large_string_map.brotli.parquet": "pyarrow: nested data conversions not implemented for chunked arrays",
    "incorrect_map_schema.parquet": "pyarrow: map keys must be annotated as required",
}
# Deep repetition: the files of issue 15 ("lists of lists, maps of lists") plus the legacy shapes.
DEEP = ["nested_lists.snappy.parquet", "nested_maps.snappy.parquet", "nonnullable.impala.parquet",
        "nullable.impala.parquet", "old_list_structure.parquet", "repeated_no_annotation.parquet",
        "repeated_primitive_no_list.parquet", "map_no_value.parquet", "list_columns.parquet",
        "null_list.parquet", "nested_structs.rust.parquet"]


def need_corpus():
    if CORPUS is None:
        raise AssertionError("apache/parquet-testing not found at ../shared/parquet-testing (SKIP is not a pass)")


def case_deep_repetition_levels():
    """Every leaf of the deeply nested corpus files: levels and values equal pyarrow's shredded."""
    need_corpus()
    for f in DEEP:
        problem = compare_file(os.path.join(CORPUS, "data", f))
        assert problem is None, f"{f}: {problem}"


def case_corpus_columns():
    """Every other readable corpus file: each column chunk equals pyarrow's, or the file is
    refused naming a feature (encryption, a page over the limit)."""
    need_corpus()
    data = os.path.join(CORPUS, "data")
    files = sorted(os.path.join(data, f) for f in os.listdir(data) if f.endswith(".parquet"))
    for sub in (os.path.join(data, "geospatial"), os.path.join(CORPUS, "shredded_variant")):
        files += sorted(os.path.join(sub, f) for f in os.listdir(sub) if f.endswith(".parquet"))
    equal, refused = 0, []
    for path in files:
        name = os.path.basename(path)
        if name in PYARROW_CANNOT:
            continue
        problem = compare_file(path)
        if problem and problem.startswith("refused"):
            refused.append(f"{name}: {problem}")
        else:
            assert problem is None, f"{name}: {problem}"
            equal += 1
    print(f"  {equal} files equal at the column level; refused: {refused or 'none'}")
    assert not refused, refused


def case_bad_data_clean_errors():
    """Every bad_data/ file: exit 1 from `ecom cat` (sanitizer build) with a message, no
    sanitizer report, no hang; pqtool columns the same at the column layer. A bad_data file that
    pyarrow reads (ARROW-GH-43605: bit width 0 is legal) must then read as pyarrow does."""
    need_corpus()
    bad = os.path.join(CORPUS, "bad_data")
    for f in sorted(x for x in os.listdir(bad) if x.endswith(".parquet")):
        path = os.path.join(bad, f)
        r = subprocess.run([ECOM, "cat", path], capture_output=True, text=True, timeout=120)
        assert not any(m in r.stderr for m in SAN_MARKS), f"{f}: {r.stderr[-1500:]}"
        try:
            ref = pq.read_table(path).to_pylist()
        except Exception:
            ref = None
        if ref is None:
            assert r.returncode == 1 and r.stderr.strip(), f"{f}: exit {r.returncode}, stderr {r.stderr!r}"
        else:
            assert r.returncode == 0 and len(r.stdout.splitlines()) == len(ref), f"{f}: {r.stderr[-300:]}"
            assert compare_file(path) is None, f"{f}: {compare_file(path)}"


def sample_table(n=1500, seed=7):
    """Flat columns of every physical type the encodings apply to, with nulls, plus a list of
    lists, a map of lists and a list of structs (repetition up to 3 levels)."""
    rnd = random.Random(seed)
    words = ["", "a", "ab", "abc", "quito", "quitumbe", "guayaquil", "guayas", "\u00f1and\u00fa", "x" * 300]

    def maybe(v):
        return None if rnd.random() < 0.15 else v
    cols = {
        "s": [maybe(rnd.choice(words) + str(rnd.randint(0, 50))) for _ in range(n)],
        "b": [maybe(bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 12)))) for _ in range(n)],
        "fx": [maybe(bytes(rnd.randrange(256) for _ in range(5))) for _ in range(n)],
        "i": [maybe(rnd.randint(-2**31, 2**31 - 1)) for _ in range(n)],
        "l": [maybe(rnd.randint(-2**63, 2**63 - 1)) for _ in range(n)],
        "f": [maybe(rnd.choice([rnd.uniform(-1e6, 1e6), 0.0, -0.0, float("inf"), float("nan")])) for _ in range(n)],
        "d": [maybe(rnd.gauss(0, 1e100)) for _ in range(n)],
        "ll": [maybe([maybe([maybe(rnd.randint(0, 9)) for _ in range(rnd.randint(0, 3))])
                      for _ in range(rnd.randint(0, 3))]) for _ in range(n)],
        "ml": [maybe([(rnd.choice(words), maybe([rnd.randint(0, 9) for _ in range(rnd.randint(0, 2))]))
                      for _ in range(rnd.randint(0, 3))]) for _ in range(n)],
        "ls": [maybe([maybe({"k": rnd.choice(words), "v": maybe(rnd.random())}) for _ in range(rnd.randint(0, 3))])
               for _ in range(n)],
    }
    types = {"s": pa.string(), "b": pa.binary(), "fx": pa.binary(5), "i": pa.int32(), "l": pa.int64(),
             "f": pa.float32(), "d": pa.float64(), "ll": pa.list_(pa.list_(pa.int32())),
             "ml": pa.map_(pa.string(), pa.list_(pa.int64())),
             "ls": pa.list_(pa.struct([("k", pa.string()), ("v", pa.float64())]))}
    return pa.table({k: pa.array(v, type=types[k]) for k, v in cols.items()})


def chunk_encodings(path):
    md = pq.ParquetFile(path).metadata
    out = {}
    for g in range(md.num_row_groups):
        for c in range(md.num_columns):
            cc = md.row_group(g).column(c)
            out.setdefault(cc.path_in_schema, set()).update(cc.encodings)
            out[cc.path_in_schema].add(cc.compression)
    return out


# pyarrow's "lz4" writes LZ4_RAW (codec 7, which its metadata calls "LZ4"); the Hadoop-framed
# codec 5 comes from the corpus (hadoop_lz4_compressed*.parquet, non_hadoop_lz4_compressed.parquet)
# and tests/unit/test_parquet.c.
WRITTEN_AS = {"gzip": "GZIP", "brotli": "BROTLI", "lz4": "LZ4", "zstd": "ZSTD", "snappy": "SNAPPY",
              "none": "UNCOMPRESSED"}


def case_codecs_pyarrow():
    """pyarrow writes the sample with every codec it has (GZIP, BROTLI, LZ4_RAW, ZSTD, SNAPPY,
    none), data pages v1 and v2, small pages; every chunk equals pyarrow's values."""
    t = sample_table()
    for codec in WRITTEN_AS:
        for v in ("1.0", "2.0"):
            path = os.path.join(TMP, f"codec-{codec}-{v}.parquet")
            pq.write_table(t, path, compression=codec, data_page_version=v, data_page_size=4096,
                           row_group_size=600)
            md = pq.ParquetFile(path).metadata
            got = {md.row_group(0).column(c).compression for c in range(md.num_columns)}
            assert got == {WRITTEN_AS[codec]}, f"{codec}: pyarrow wrote {got}"
            problem = compare_file(path)
            assert problem is None, f"{codec} v{v}: {problem}"


def case_encodings_pyarrow():
    """pyarrow writes DELTA_BYTE_ARRAY (strings, binaries, fixed-length), DELTA_LENGTH_BYTE_ARRAY,
    BYTE_STREAM_SPLIT (FLOAT, DOUBLE, INT32, INT64, FIXED_LEN_BYTE_ARRAY) and DELTA_BINARY_PACKED,
    with nulls, on many small pages (prefixes span pages), v1 and v2; the metadata proves each
    encoding is in the file and every chunk equals pyarrow's values."""
    t = sample_table()
    plans = [
        {"s": "DELTA_BYTE_ARRAY", "b": "DELTA_BYTE_ARRAY", "fx": "DELTA_BYTE_ARRAY", "i": "BYTE_STREAM_SPLIT",
         "l": "BYTE_STREAM_SPLIT", "f": "BYTE_STREAM_SPLIT", "d": "BYTE_STREAM_SPLIT"},
        {"s": "DELTA_LENGTH_BYTE_ARRAY", "b": "DELTA_LENGTH_BYTE_ARRAY", "fx": "BYTE_STREAM_SPLIT",
         "i": "DELTA_BINARY_PACKED", "l": "DELTA_BINARY_PACKED", "f": "PLAIN", "d": "PLAIN"},
    ]
    for k, plan in enumerate(plans):
        for v in ("1.0", "2.0"):
            path = os.path.join(TMP, f"enc-{k}-{v}.parquet")
            pq.write_table(t, path, use_dictionary=False, column_encoding=plan, data_page_version=v,
                           data_page_size=2048, compression="zstd")
            encs = chunk_encodings(path)
            for col, enc in plan.items():
                assert enc in encs[col], f"{col}: pyarrow wrote {encs[col]}, not {enc}"
            problem = compare_file(path)
            assert problem is None, f"plan {k} v{v}: {problem}"


def patch_codec(src, dst, codec):
    """Rewrites the codec of the single column `x` in src's footer (ColumnMetaData field 4 after
    path_in_schema ["x"]: compact-protocol bytes 19 18 01 'x' 15 <zigzag codec>)."""
    data = bytearray(open(src, "rb").read())
    pat = b"\x19\x18\x01x\x15\x00"
    at = data.find(pat)
    assert at > 0 and data.find(pat, at + 1) < 0, "codec field not found exactly once"
    data[at + 5] = codec * 2
    open(dst, "wb").write(data)


def case_unsupported_named():
    """A codec the reader lacks is named in the error (LZO), an undefined one by number."""
    src = os.path.join(TMP, "plain.parquet")
    pq.write_table(pa.table({"x": pa.array([1, 2, 3], pa.int64())}), src, compression="none")
    for codec, want in ((3, "unsupported codec LZO"), (9, "unknown codec 9")):
        dst = os.path.join(TMP, f"codec{codec}.parquet")
        patch_codec(src, dst, codec)
        r = subprocess.run([ECOM, "cat", dst], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and want in r.stderr, f"codec {codec}: exit {r.returncode}: {r.stderr!r}"


if __name__ == "__main__":
    s = Suite()
    for fn in (case_deep_repetition_levels, case_corpus_columns, case_bad_data_clean_errors, case_codecs_pyarrow,
               case_encodings_pyarrow, case_unsupported_named):
        s.case(fn)
    s.exit()
