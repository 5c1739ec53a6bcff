"""ecom stream against a real Apache Kafka broker (KRaft, started by tests/services/kafka.sh).

`ecom gen` writes the same seeded events to Kafka (3 partitions per topic) and to an NDJSON
file. `ecom stream --drain` over Kafka must produce exactly the tables `ecom stream --input`
produces from the file (and those are checked against the DuckDB oracle in
test_stream_oracle.py); a run killed with SIGKILL at random moments and restarted must end with
the same tables; the group's committed offsets must reach the end of every partition.
"""
import os
import random
import signal
import subprocess
import sys
import uuid

import duckdb
from kafka import KafkaConsumer, TopicPartition

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ECOM, ECOM_OPT, TMP, Suite, run  # noqa: E402

REPO = os.environ["REPO"]
TABLES = ["sales_per_minute", "category_activity", "product_activity", "top_products", "top_products_by_revenue",
          "sales_by_city", "sales_by_channel", "funnel"]
suite = Suite()
case = suite.case


ADDR = subprocess.run(["bash", f"{REPO}/tests/services/kafka.sh", "ensure"], capture_output=True, text=True,
                      check=True).stdout.strip()
SUFFIX = uuid.uuid4().hex[:8]
TOPICS = [f"pv_{SUFFIX}", f"ce_{SUFFIX}", f"or_{SUFFIX}"]
TOPIC_FLAGS = ["--topic-views", TOPICS[0], "--topic-cart", TOPICS[1], "--topic-orders", TOPICS[2]]
NDJSON = os.path.join(TMP, "events.ndjson")


def rows(root):
    con = duckdb.connect()
    out = {}
    for t in TABLES + ["views", "cart", "orders", "rejected"]:
        p = os.path.join(root, t)
        if not os.path.isdir(p):
            out[t] = []
            continue
        if t == "rejected":
            out[t] = con.execute(f"SELECT count(*) FROM read_parquet('{p}/**/*.parquet')").fetchone()
            continue
        sel = "SELECT * FROM read_parquet('%s/**/*.parquet', hive_partitioning=1)" % p
        if t in ("views", "cart", "orders"):  # processing-time columns differ between runs
            names = [r[0] for r in con.execute(f"DESCRIBE {sel}").fetchall()]
            keep = [n for n in names if n not in ("ingested_at", "processed_at")]
            sel = f"SELECT {', '.join(keep)} FROM read_parquet('{p}/**/*.parquet', hive_partitioning=1)"
        out[t] = sorted(map(repr, con.execute(sel).fetchall()))
    return out


def setup_topics_and_events():
    # ecom's own topic creation: it returns once the broker shows every partition with a leader
    run([ECOM_OPT, "broker", "--create-topics", "--brokers", ADDR, "--partitions", "3", "--topics", ",".join(TOPICS)])
    run([ECOM_OPT, "gen", "--brokers", ADDR, *TOPIC_FLAGS, "--out", NDJSON, "--seed", "23", "--users", "300",
         "--start", "2026-11-25T12:00:00Z", "--rate", "20", "--count", "30000", "--quiet",
         "--dup-frac", "0.02", "--bad-frac", "0.01", "--late-frac", "0.05", "--late-max", "60s"])
    # The topics must hold every line gen wrote to the file (gen exited 0: every delivery was
    # acknowledged): counted by the broker's log end offsets, independently of ecom.
    c = KafkaConsumer(bootstrap_servers=ADDR)
    held = sum(c.end_offsets([TopicPartition(t, p) for t in TOPICS for p in range(3)]).values())
    c.close()
    with open(NDJSON, "rb") as f:
        lines = sum(1 for _ in f)
    assert held == lines, f"the topics hold {held} messages, gen wrote {lines} lines to the file"


def kafka_matches_file():
    setup_topics_and_events()
    froot, kroot = os.path.join(TMP, "file_root"), os.path.join(TMP, "kafka_root")
    # --idle-timeout 0: idleness is processing-time driven (not reproducible by design); this test
    # checks event-time results, so no source may go idle while a loaded machine stalls the job.
    # Without --quiet each run ends with its counters ("stream: done: ... late ... duplicates"),
    # printed on a mismatch.
    f = run([ECOM, "stream", "--input", NDJSON, "--out", froot, "--idle-timeout", "0"])
    k = run([ECOM, "stream", "--brokers", ADDR, *TOPIC_FLAGS, "--group", f"g1_{SUFFIX}", "--drain",
             "--out", kroot, "--idle-timeout", "0"])
    a, b = rows(froot), rows(kroot)
    differ = [t for t in a if a[t] != b[t]]
    if differ:  # say enough to tell missing input from a different late/duplicate verdict
        done = lambda r: [x for x in r.stderr.splitlines() if "done:" in x][-1:]
        print(f"  file run:  {done(f)}\n  Kafka run: {done(k)}\n  tables that differ: {differ}")
        for t in differ:
            if t == "rejected":  # a count, not rows
                print(f"  rejected: {a[t][0]} rows in the file run, {b[t][0]} in the Kafka run")
                continue
            only_f, only_k = sorted(set(a[t]) - set(b[t])), sorted(set(b[t]) - set(a[t]))
            print(f"  {t}: {len(only_f)} rows only in the file run, {len(only_k)} only in the Kafka run")
            for x in only_f[:3]:
                print(f"    file:  {x[:300]}")
            for x in only_k[:3]:
                print(f"    Kafka: {x[:300]}")
    for t in a:
        assert a[t] == b[t], f"{t}: Kafka run differs from file run ({len(b[t])} vs {len(a[t])} rows)"
    assert len(a["sales_per_minute"]) >= 20, "too few windows to compare"


def committed_offsets_reach_the_end():
    c = KafkaConsumer(bootstrap_servers=ADDR, group_id=f"g1_{SUFFIX}", enable_auto_commit=False)
    tps = [TopicPartition(t, p) for t in TOPICS for p in range(3)]
    ends = c.end_offsets(tps)
    for tp in tps:
        got = c.committed(tp)
        assert got == ends[tp], f"{tp}: committed {got}, end {ends[tp]}"
    c.close()


def kafka_kill9_restart_is_exactly_once():
    root = os.path.join(TMP, "kill_root")
    group = f"g2_{SUFFIX}"
    rng = random.Random(3)
    kills = 0
    for _ in range(30):
        p = subprocess.Popen([ECOM_OPT, "stream", "--brokers", ADDR, *TOPIC_FLAGS, "--group", group, "--drain",
                              "--out", root, "--quiet", "--commit-interval", "100ms", "--idle-timeout", "0"],
                             stderr=subprocess.PIPE, text=True)
        try:
            p.wait(timeout=rng.uniform(1.0, 4.0))
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
            continue
        assert p.returncode == 0, f"stream exited {p.returncode}: {p.stderr.read()[-1500:]}"
        break
    else:
        run([ECOM_OPT, "stream", "--brokers", ADDR, *TOPIC_FLAGS, "--group", group, "--drain", "--out", root,
             "--quiet", "--idle-timeout", "0"])
    assert kills >= 2, f"only {kills} kills happened"
    a, b = rows(os.path.join(TMP, "kafka_root")), rows(root)
    for t in a:
        assert a[t] == b[t], f"{t}: after {kills} kills {len(b[t])} rows vs {len(a[t])} uninterrupted"
    print(f"  {kills} kills, identical tables")


case(kafka_matches_file)
case(committed_offsets_reach_the_end)
case(kafka_kill9_restart_is_exactly_once)
suite.exit()
