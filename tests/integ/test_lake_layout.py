"""Lake layout versions: a writer records ROOT/_ecom/lake_version (layout 2 + the partitions'
zone) and refuses a ROOT it would turn into a mix: one written by layout 1 (tables or stream
state but no version file: raw `ts` / `price_cents`, DOUBLE money), one from a newer layout,
a corrupt version file, or one partitioned in another zone; the message names the layout
versions (or zones) and nothing is written. Readers keep reading layout 1: `ecom cat` prints
the old columns and filters `--where-date` on `ts`. The migration recipe of docs/parquet.md
turns the layout-1 raw table into layout 2 that `ecom load` then accepts."""
import os
import subprocess

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from testlib import ECOM, TMP, Suite, run

S = Suite()
EVENT = ('{"event_id":"db26b56d-1838-405c-877a-fa6f95596d4f","event_type":"page_view",'
         '"timestamp":"2026-11-25T09:30:00.006Z","user_id":"U003955","session_id":"S8527567b1e15",'
         '"store_id":"ST000","store_type":"online","city":"Esmeraldas","province":"Esmeraldas",'
         '"location":{"lat":0.9682,"lon":-79.6517},"device":"mobile","product_id":"P0134",'
         '"product_name":"Columbia Rain Jacket","category":"fashion","price":93.49}\n')
INPUT = os.path.join(TMP, "one.ndjson")
with open(INPUT, "w") as f:
    f.write(EVENT)


def files(root):
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, _, fs in os.walk(root) for n in fs)


def layout1_root(name):
    """A ROOT as layout 1 left it: views with ts / price_cents, a stream commit directory."""
    root = os.path.join(TMP, name)
    part = os.path.join(root, "views", "date=2026-11-25")
    os.makedirs(part)
    t = pa.table({"event_id": ["e1", "e2", "e3"], "event_type": ["page_view"] * 3,
                  "ts": pa.array([1795599000006000, 1795647600000000, 1795512600000000], pa.timestamp("us", tz="UTC")),
                  "product_id": ["P0134", "P0001", "P0002"], "price_cents": pa.array([9349, 17999, 100], pa.int64())})
    pq.write_table(t.slice(0, 2), os.path.join(part, "part-e000000000001-00000.parquet"))  # both on 11-25
    pq.write_table(t, os.path.join(root, "loose.parquet"))  # a file outside partitions, e3 on 11-24
    return root


def writers(root, *extra):
    return [[ECOM, "load", "--input", INPUT, "--out", root, *extra],
            [ECOM, "stream", "--input", INPUT, "--out", root, "--quiet", *extra]]


def refused(root, words, *extra):
    before = files(root)
    for cmd in writers(root, *extra):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert r.returncode == 1, (cmd[1], r.returncode, r.stderr[-400:])
        for w in words:
            assert w in r.stderr, (cmd[1], w, r.stderr[-400:])
        assert files(root) == before, f"{cmd[1]} wrote into a refused ROOT: {set(files(root)) - set(before)}"


@S.case
def fresh_root_records_layout_2_and_zone():
    root = os.path.join(TMP, "fresh")
    run(writers(root)[0])
    with open(os.path.join(root, "_ecom", "lake_version")) as f:
        assert f.read() == "ecom-lake 2\ntime-zone UTC\n"
    # the stream adds to what load wrote: same layout, same zone (the load's rows are in no metric:
    # the stream says so unless allowed, test_load_lease)
    run(writers(root)[1] + ["--allow-uncounted"])
    # the layout accepts a load again; the stream's commit log refuses it unless its rows may go
    # uncounted (test_load_lease)
    run(writers(root)[0] + ["--allow-uncounted"])
    root = os.path.join(TMP, "fresh_ec")
    run(writers(root, "--time-zone", "America/Guayaquil")[1])
    with open(os.path.join(root, "_ecom", "lake_version")) as f:
        assert f.read() == "ecom-lake 2\ntime-zone America/Guayaquil\n"


@S.case
def layout_1_root_is_refused_by_writers_and_read_by_cat():
    root = layout1_root("old")
    refused(root, ["lake layout 1", "lake layout 2", "new --out"])
    lines = run([ECOM, "cat", os.path.join(root, "views"), "--where-date", "2026-11-25"]).stdout.splitlines()
    assert len(lines) == 2 and '"ts":"2026-11-25T09:30:00.006000Z"' in lines[0] and '"price_cents":9349' in lines[0], \
        lines
    # outside partitions --where-date filters on the layout-1 `ts` column
    lines = run([ECOM, "cat", os.path.join(root, "loose.parquet"), "--where-date", "2026-11-25"]).stdout.splitlines()
    assert [x[:17] for x in lines] == ['{"event_id":"e1",', '{"event_id":"e2",'], lines
    # a stream's commit state alone also marks layout 1
    root = os.path.join(TMP, "old_state")
    os.makedirs(os.path.join(root, "_ecom", "commits"))
    refused(root, ["lake layout 1"])


@S.case
def newer_corrupt_or_other_zone_is_refused():
    for name, text, words in [("newer", "ecom-lake 3\ntime-zone UTC\n", ["lake layout 3", "lake layout 2"]),
                              ("corrupt", "ecom-lake two\n", ["corrupt"])]:
        root = os.path.join(TMP, name)
        os.makedirs(os.path.join(root, "_ecom"))
        with open(os.path.join(root, "_ecom", "lake_version"), "w") as f:
            f.write(text)
        refused(root, words)
    root = os.path.join(TMP, "fresh")
    refused(root, ["dates in UTC", "--time-zone America/Guayaquil"], "--time-zone", "America/Guayaquil")


REVERSE = {  # test-only: today's layout-2 tables written back as layout 1 had them
    "views": """SELECT event_id, event_type, "timestamp" AS ts, user_id, session_id, store_id, store_type, city,
                province, location, device, product_id, product_name, category,
                CAST(price * 100 AS BIGINT) AS price_cents, date FROM {src}""",
    "cart": """SELECT event_id, event_type, "timestamp" AS ts, user_id, session_id, store_id, store_type, city,
               province, location, device, product_id, product_name, category,
               CAST(price * 100 AS BIGINT) AS price_cents, quantity, date FROM {src}""",
    "orders": """SELECT event_id, event_type, "timestamp" AS ts, user_id, session_id, store_id, store_type, city,
                 province, location, device, order_id, currency, payment_method,
                 CAST(total * 100 AS BIGINT) AS total_cents,
                 list_transform(items, i -> struct_pack(product_id := i.product_id, product_name := i.product_name,
                     category := i.category, quantity := i.quantity,
                     unit_price_cents := CAST(i.unit_price * 100 AS BIGINT))) AS items, date FROM {src}""",
    "rejected": "SELECT ingest_ts, source, position AS line, reason, raw_preview AS raw, date FROM {src}",
}


def docs_recipe():
    """The ```sql block of docs/parquet.md's migration section, as the docs give it."""
    with open(os.path.join(os.environ["REPO"], "docs", "parquet.md")) as f:
        text = f.read()
    sec = text[text.index("## Lake layout versions and migration"):]
    return sec[sec.index("```sql") + 6:sec.index("```", sec.index("```sql") + 6)]


@S.case
def migration_recipe_turns_layout_1_into_layout_2():
    """A layout-1 ROOT (today's load written back in the old shape) is refused; the docs'
    DuckDB recipe migrates it; the result equals what `ecom load` writes today, and writers
    accept it."""
    events = os.path.join(TMP, "gen.ndjson")
    run([ECOM, "gen", "--seed", "3", "--start", "2026-11-25T23:50:00Z", "--rate", "50", "--count", "30000",
         "--bad-frac", "0.02", "--quiet", "--out", events])
    now, old, new = (os.path.join(TMP, n) for n in ("m_now", "m_old", "m_new"))
    run([ECOM, "load", "--input", events, "--out", now])
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    os.makedirs(old)
    for t, q in REVERSE.items():
        src = f"read_parquet('{now}/{t}/**/*.parquet', hive_partitioning = 1)"
        con.execute(f"COPY ({q.format(src=src)}) TO '{old}/{t}' (FORMAT parquet, PARTITION_BY (date))")
    refused(old, ["lake layout 1", "lake layout 2"])
    os.makedirs(os.path.join(new, "_ecom"))
    con.execute(docs_recipe().replace("OLD", old).replace("NEW", new))
    with open(os.path.join(new, "_ecom", "lake_version"), "w") as f:
        f.write("ecom-lake 2\ntime-zone UTC\n")
    for t in ("views", "cart", "orders"):
        q = "SELECT * FROM read_parquet('%s/" + t + "/**/*.parquet', hive_partitioning = 1) ORDER BY event_id"
        a, b = con.execute(q % now), None
        ta, ra = [d[1] for d in a.description], a.fetchall()
        b = con.execute(q % new)
        tb, rb = [d[1] for d in b.description], b.fetchall()
        assert [d[0] for d in a.description] == [d[0] for d in b.description], t
        assert ta == tb, (t, ta, tb)
        diff = next(((x, y) for x, y in zip(ra, rb) if x != y), None)
        assert len(ra) > 2 and ra == rb, f"{t}: migrated rows differ ({len(ra)} vs {len(rb)}): {str(diff)[:1500]}"
    q = ("SELECT position, source, reason, raw_preview, raw FROM read_parquet('%s/rejected/**/*.parquet') "
         "ORDER BY position")
    a, b = con.execute(q % now).fetchall(), con.execute(q % new).fetchall()
    assert len(a) > 10 and [r[:3] for r in a] == [r[:3] for r in b], "rejected differs"
    # layout 1 kept the cleaned text (here: today's preview): raw is its bytes, the preview its first 256 chars
    assert all(y[4] == x[3].encode() and y[3] == x[3][:256] for x, y in zip(a, b)), "migrated raw / preview"
    run(writers(new)[0])  # a writer accepts the migrated ROOT


S.exit()
