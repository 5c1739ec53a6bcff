"""ecom stream against a real Apache Kafka broker (KRaft, started by tests/services/kafka.sh).

`ecom gen` writes the same seeded events to Kafka (3 partitions per topic) and to an NDJSON
file. `ecom stream --drain` over Kafka must produce exactly the tables `ecom stream --input`
produces from the file (and those are checked against the DuckDB oracle in
test_stream_oracle.py); a run killed with SIGKILL at random moments and restarted must end with
the same tables (restarts alternate one thread and --threads 2), and so must a --threads 2
run; the group's committed offsets must reach the end of every partition.
"""
import json
import os
import random
import re
import shutil
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


def kafka_evidence(acks_path):
    """What explains a lost message (issue 11, finding 9: twice the first 3 messages of a
    just-created topic were missing although gen had every delivery acknowledged): gen's
    acknowledged count per topic, the broker's end offset per partition, and for every event gen
    saw acknowledged but the broker does not hold, its event id with the topic, partition and
    offset Kafka acknowledged it at, and what the broker holds at that offset."""
    acked = {}
    with open(acks_path, encoding="utf-8") as f:
        for line in f:
            t, p, o, eid = line.rstrip("\n").split("\t")
            acked[(t, int(p), int(o))] = eid
    c = KafkaConsumer(bootstrap_servers=ADDR)
    tps = [TopicPartition(t, p) for t in TOPICS for p in range(3)]
    ends = c.end_offsets(tps)
    c.close()
    held = {}
    for t in TOPICS:  # kcat (lz4, which the venv's kafka-python cannot decode), exactly end-offset messages
        n = sum(ends[tp] for tp in tps if tp.topic == t)
        if n == 0:
            continue
        out = subprocess.run(["kcat", "-C", "-b", ADDR, "-t", t, "-o", "beginning", "-c", str(n), "-q",
                              "-f", "%p\\t%o\\t%s\\n"], capture_output=True, timeout=120).stdout
        for line in out.decode("utf-8", "replace").splitlines():
            parts = line.split("\t", 2)
            if len(parts) < 3 or not parts[0].isdigit() or not parts[1].isdigit():
                continue  # the rest of a (--bad-frac) value that held a newline
            p, o, v = parts
            m = re.search(r'"event_id":"([^"]*)"', v)
            held[(t, int(p), int(o))] = m.group(1) if m else ""
    lines = ["  gen acknowledged per topic: " + ", ".join(
        f"{t}={sum(1 for k in acked if k[0] == t)}" for t in TOPICS)]
    lines.append("  broker end offsets: " + ", ".join(f"{tp.topic}[{tp.partition}]={ends[tp]}" for tp in tps))
    missing = [(k, eid) for k, eid in sorted(acked.items()) if held.get(k, "<none>") != eid]
    lines.append(f"  acknowledged but not held as acknowledged: {len(missing)}")
    for (t, p, o), eid in missing[:20]:
        lines.append(f"    {eid} acknowledged at {t}[{p}]@{o}; the broker holds {held.get((t, p, o), 'nothing')} there")
    return lines


def setup_topics_and_events():
    # ecom's own topic creation: it returns once the broker shows every partition with a leader
    run([ECOM_OPT, "broker", "--create-topics", "--brokers", ADDR, "--partitions", "3", "--topics", ",".join(TOPICS)])
    acks = os.path.join(TMP, "acks.tsv")
    g = run([ECOM_OPT, "gen", "--brokers", ADDR, *TOPIC_FLAGS, "--out", NDJSON, "--seed", "23", "--users", "300",
             "--start", "2026-11-25T12:00:00Z", "--rate", "20", "--count", "30000", "--ack-log", acks,
             "--dup-frac", "0.02", "--bad-frac", "0.01", "--late-frac", "0.05", "--late-max", "60s"])
    # The topics must hold every line gen wrote to the file (gen exited 0: every delivery was
    # acknowledged): counted by the broker's log end offsets, independently of ecom.
    c = KafkaConsumer(bootstrap_servers=ADDR)
    held = sum(c.end_offsets([TopicPartition(t, p) for t in TOPICS for p in range(3)]).values())
    c.close()
    with open(NDJSON, "rb") as f:
        lines = sum(1 for _ in f)
    # keep what explains a mismatch (finding 9), in the log and in tests/artifacts;
    # ECOM_KAFKA_EVIDENCE=1 prints it always (to check the evidence itself)
    if held != lines or os.environ.get("ECOM_KAFKA_EVIDENCE") == "1":
        ev = [f"  gen: {[x for x in g.stderr.splitlines() if 'done:' in x][-1:]}"] + kafka_evidence(acks)
        print("\n".join(ev))
        art = os.path.join(REPO, "tests", "artifacts")
        os.makedirs(art, exist_ok=True)
        with open(os.path.join(art, "stream_kafka_missing.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(ev) + "\n")
        shutil.copy(acks, os.path.join(art, "stream_kafka_acks.tsv"))
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


def kafka_threads_match_file():
    """--threads 2 (workers parse and encode, one thread runs the engine in arrival order) over
    the same topics: the tables equal the one-thread Kafka run's, row for row."""
    root = os.path.join(TMP, "kafka_threads_root")
    run([ECOM, "stream", "--brokers", ADDR, *TOPIC_FLAGS, "--group", f"g3_{SUFFIX}", "--drain", "--threads", "2",
         "--out", root, "--idle-timeout", "0"])
    a, b = rows(os.path.join(TMP, "kafka_root")), rows(root)
    for t in a:
        assert a[t] == b[t], f"{t}: --threads 2 differs from one thread ({len(b[t])} vs {len(a[t])} rows)"
    # rejected rows name their topic:partition and offset (a batch mixes partitions)
    q = "SELECT source, position, reason FROM read_parquet('%s/rejected/**/*.parquet') ORDER BY ALL"
    con = duckdb.connect()
    want, got = con.execute(q % os.path.join(TMP, "kafka_root")).fetchall(), con.execute(q % root).fetchall()
    assert len({s for s, _, _ in want}) > 1, f"rejected rows of one source only: {want[:3]}"
    assert got == want, f"rejected sources differ: {sorted(set(got) ^ set(want))[:3]}"


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
    for attempt in range(30):
        # every other run with worker threads: a lake written by both restarts from either
        threads = ["--threads", "2"] if attempt % 2 else []
        p = subprocess.Popen([ECOM_OPT, "stream", "--brokers", ADDR, *TOPIC_FLAGS, "--group", group, "--drain",
                              "--out", root, "--quiet", "--commit-interval", "100ms", "--idle-timeout", "0",
                              *threads], stderr=subprocess.PIPE, text=True)
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
case(kafka_threads_match_file)
case(kafka_kill9_restart_is_exactly_once)
suite.exit()
