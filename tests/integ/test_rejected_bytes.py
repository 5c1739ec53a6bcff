"""The `rejected` table keeps every rejected record's bytes exactly, through both ingest
commands (`ecom load` and `ecom stream --input`, one ingest path): every byte 0x00-0xFF,
overlong and surrogate sequences, code points past U+10FFFF, embedded NULs, a 10 MB line,
CR LF endings. DuckDB and pyarrow read the table back: `raw` (BINARY) equals the input line,
`raw_preview` is valid UTF-8 of at most 1 KiB built by the documented rule (each byte that does
not start a valid UTF-8 sequence becomes U+FFFD), every reason is set, blank lines are counted
and not stored, and the rejected row's date follows the one rule of lake.h (the record's own
"timestamp" field, else the ingest date). Before this change `ecom stream` wrote the bytes into
a STRING column and DuckDB refused the file ("Invalid string encoding found in Parquet file")."""
import datetime
import glob
import os
import random
import re

import duckdb
import pyarrow.dataset as ds

from testlib import ECOM, TMP, Suite, run

S = Suite()
VALID = (b'{"event_id":"db26b56d-1838-405c-877a-fa6f95596d4f","event_type":"page_view",'
         b'"timestamp":"2026-11-25T09:30:00.006Z","user_id":"U003955","session_id":"S8527567b1e15",'
         b'"store_id":"ST000","store_type":"online","city":"Esmeraldas","province":"Esmeraldas",'
         b'"location":{"lat":0.9682,"lon":-79.6517},"device":"mobile","product_id":"P0134",'
         b'"product_name":"Columbia Rain Jacket","category":"fashion","price":93.49}')


def bad_records():
    """(record bytes without the line ending, the ending) of every rejected record."""
    recs = [bytes(b for b in range(256) if b != 0x0A)]                       # every byte but LF
    recs += [b"X" + bytes([b]) + b"Y" for b in range(256) if b != 0x0A]       # each byte alone
    recs += [b'{"event_type":"page_view","x":"' + s + b'"}' for s in (
        b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xe0\x9f\xbf", b"\xf0\x80\x80\xaf",   # overlong
        b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\xaf\xbf\xed\xb0\x80",                     # surrogates
        b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff", b"\xfe\xff",                    # > U+10FFFF
        b"\x80", b"\xe2\x82", b"\xf0\x9f\x98",                                             # stray, cut
        b"\xe2\x82\xac\xf0\x9f\x9b\x92")]                                                  # valid, for once
    recs += [b'{"event_type":"page_view"\x00}', VALID[:40] + b"\x00" + VALID[40:], b"\x00" * 50,
             VALID.replace(b"Esmeraldas", b"Esm\x00eraldas", 1)]
    recs += [b'{"timestamp":"2026-11-20T10:00:00.000Z","event_type":"nope"}']  # dated by its timestamp
    big = random.Random(7).randbytes(10 * 1024 * 1024)
    recs.append(big.replace(b"\n", b"\xff"))                                   # a 10 MB line
    out = [(r, b"\n") for r in recs]
    out.append((b"\xff\xfe crlf", b"\r\n"))
    return out


RECORDS = bad_records()
BLANKS = [b"", b"   ", b"\t \r"]
INPUT = os.path.join(TMP, "bytes.ndjson")
with open(INPUT, "wb") as f:
    for i, (r, end) in enumerate(RECORDS):
        if i % 50 == 0:
            f.write(VALID + b"\n")
        f.write(r + end)
    for b in BLANKS:
        f.write(b + b"\n")
    f.write(VALID + b"\n")


def preview(b, limit=1024):
    """The documented preview rule, written independently of the C code."""
    out, i = bytearray(), 0
    while i < len(b):
        c = b[i]
        n = 1 if c < 0x80 else 2 if 0xC2 <= c <= 0xDF else 3 if 0xE0 <= c <= 0xEF else 4 if 0xF0 <= c <= 0xF4 else 0
        seq = b[i:i + n] if n else b""
        try:
            ok = n > 0 and len(seq) == n and len(seq.decode("utf-8")) == 1
        except UnicodeDecodeError:
            ok = False
        w = seq if ok else "\ufffd".encode()
        if len(out) + len(w) > limit:
            break
        out += w
        i += n if ok else 1
    return out.decode("utf-8")


def own_date(raw):
    """The UTC date of the record's own first "timestamp" field, if it parses; else None."""
    m = re.search(rb'"timestamp"[ \t:]*"([^"]*)"', raw)
    try:
        t = datetime.datetime.fromisoformat(m.group(1).decode().replace("Z", "+00:00")) if m else None
    except ValueError:
        return None
    return t.astimezone(datetime.timezone.utc).date() if t else None


def check_root(root, label):
    path = glob.glob(os.path.join(root, "rejected", "date=*", "*.parquet"))
    assert path, f"{label}: no rejected files"
    want = {}
    pos = 0
    with open(INPUT, "rb") as f:
        for line in f:
            pos += 1
            body = line[:-1]
            if body.endswith(b"\r"):
                body = body[:-1]
            if body.strip(b" \t\r") and body != VALID:
                want[pos] = body
    con = duckdb.connect()
    rows = con.execute(f"SELECT position, raw, raw_preview, reason, source, date FROM read_parquet("
                       f"'{root}/rejected/**/*.parquet', hive_partitioning=1) ORDER BY position").fetchall()
    assert len(rows) == len(want), f"{label}: {len(rows)} rejected rows, want {len(want)}"
    assert con.execute(f"SELECT typeof(raw), typeof(raw_preview) FROM read_parquet('{root}/rejected/**/*.parquet') "
                       "LIMIT 1").fetchone() == ("BLOB", "VARCHAR"), label
    today = datetime.datetime.now(datetime.timezone.utc).date()
    for p, raw, prev, reason, source, date in rows:
        assert raw == want[p], f"{label}: position {p}: raw of {len(raw)} bytes differs from the input line"
        assert prev == preview(want[p]), f"{label}: position {p}: preview {prev[:80]!r}"
        assert len(prev.encode("utf-8")) <= 1024 and reason and source == INPUT, (label, p, reason, source)
        d = own_date(raw)
        assert date == d if d else abs((date - today).days) <= 1, (label, p, date, d)
    # pyarrow: the same bytes (BINARY -> bytes), the preview decodes as UTF-8 (pyarrow validates)
    t = ds.dataset(os.path.join(root, "rejected"), format="parquet", partitioning="hive").to_table()
    got = {r["position"]: r["raw"] for r in t.select(["position", "raw"]).to_pylist()}
    assert got == want, f"{label}: pyarrow sees other bytes"
    assert str(t.schema.field("raw").type) == "binary" and str(t.schema.field("raw_preview").type) == "string"
    t.column("raw_preview").to_pylist()
    # the valid line, repeated: every copy loaded; the stream drops the duplicates of its event_id
    n = con.execute(f"SELECT count(*) FROM read_parquet('{root}/views/**/*.parquet')").fetchone()[0]
    assert n == (len(RECORDS) // 50 + 2 if label == "load" else 1), f"{label}: {n} views"


@S.case
def load_keeps_rejected_bytes_exactly():
    root = os.path.join(TMP, "load")
    r = run([ECOM, "load", "--input", INPUT, "--out", root])
    assert f"rejected {len(RECORDS)}, blank {len(BLANKS)}" in r.stderr, r.stderr
    check_root(root, "load")


@S.case
def stream_keeps_rejected_bytes_exactly():
    root = os.path.join(TMP, "stream")
    r = run([ECOM, "stream", "--input", INPUT, "--out", root])
    assert f"{len(RECORDS)} rejected" in r.stderr and f"{len(BLANKS)} blank" in r.stderr, r.stderr[-500:]
    check_root(root, "stream")


@S.case
def both_commands_write_the_same_rejected_rows():
    con = duckdb.connect()
    q = "SELECT position, raw, raw_preview, reason, date FROM read_parquet('%s/rejected/**/*.parquet', " \
        "hive_partitioning=1) ORDER BY position"
    a = con.execute(q % os.path.join(TMP, "load")).fetchall()
    b = con.execute(q % os.path.join(TMP, "stream")).fetchall()
    assert a == b, "ecom load and ecom stream disagree on the rejected rows"


S.exit()
