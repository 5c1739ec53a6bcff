"""Every input line lands in exactly one counted outcome (issue 11, finding 4): ok (by type),
late, duplicate, rejected, blank add up to records, in the commit record (so across a restart),
in /status and in /metrics, for file, stdin and Kafka input. Before, blank lines were counted
as records but in no outcome (and not in the commit record), a copy of an event re-stamped 61 s
later was counted twice, and the same event_id with other content was dropped silently.

The input: seeded `ecom gen` events plus, at known places, blank lines, invalid lines, exact
copies, copies re-stamped 61 s later (duplicates), copies with other content (conflicting
duplicates: rejected with a reason), events dated 2099 (rejected: --max-future) and events an
hour old (late).
"""
import glob
import json
import os
import re
import subprocess
import sys
import time
import uuid

import duckdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ECOM, ECOM_OPT, TMP, Suite, run, free_port, http_text  # noqa: E402

suite = Suite()
case = suite.case
REPO = os.environ.get("REPO", ".")
N_BLANK, N_BAD, N_DUP, N_RESTAMP, N_CONFLICT, N_FUTURE, N_LATE = 30, 20, 20, 10, 10, 5, 12


def shifted(line, seconds=0, year=None):
    ev = json.loads(line)
    t = ev["timestamp"]
    if year:
        ev["timestamp"] = f"{year}" + t[4:]
    else:
        import datetime
        d = datetime.datetime.fromisoformat(t.replace("Z", "+00:00")) + datetime.timedelta(seconds=seconds)
        ev["timestamp"] = d.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return ev


def build_input():
    """The lines and the expected counts of each outcome."""
    base = os.path.join(TMP, "outcomes_base.ndjson")
    run([ECOM_OPT, "gen", "--seed", "31", "--users", "200", "--start", "2026-11-25T09:00:00Z", "--rate", "10",
         "--count", "6000", "--quiet", "--out", base])
    src = open(base, encoding="utf-8").read().splitlines()
    out, k = [], 0
    for i, line in enumerate(src):
        out.append(line)
        if i < 200 or i % 50:
            continue
        if k < N_BLANK:
            out.append("" if k % 2 else "   ")
        if k < N_BAD:
            out.append('{"event_type": "page_view", broken')
        if k < N_DUP:
            out.append(line)
        elif k < N_DUP + N_RESTAMP:
            out.append(json.dumps(shifted(line, 61)))
        elif k < N_DUP + N_RESTAMP + N_CONFLICT:
            ev = json.loads(line)
            ev["user_id"] = ev["user_id"] + "-other"
            out.append(json.dumps(ev))
        if k < N_FUTURE:
            ev = shifted(line, year=2099)
            ev["event_id"] = str(uuid.UUID(int=0xF0000000 + k))
            out.append(json.dumps(ev))
        if 2000 < i and k - 40 < N_LATE and k >= 40:
            ev = shifted(line, -3600)
            ev["event_id"] = str(uuid.UUID(int=0xE0000000 + k))
            out.append(json.dumps(ev))
        k += 1
    want = {"blank": N_BLANK, "duplicates": N_DUP + N_RESTAMP, "rejected": N_BAD + N_CONFLICT + N_FUTURE,
            "late": N_LATE, "records": len(out)}
    assert k >= 40 + N_LATE, k
    return out, want


LINES, WANT = build_input()
ALL = os.path.join(TMP, "outcomes.ndjson")
with open(ALL, "w", encoding="utf-8") as f:
    f.write("\n".join(LINES) + "\n")
OK_TYPES = ["page_view", "add_to_cart", "remove_from_cart", "purchase"]


def commit_counts(root):
    """records and counters of the newest commit record."""
    recs = sorted(glob.glob(f"{root}/_ecom/commits/*.commit"))
    assert recs, f"no commit record under {root}"
    text = open(recs[-1]).read()
    c = dict(records=int(re.search(r"^records (\d+)$", text, re.M).group(1)))
    v = list(map(int, re.search(r"^counters ([\d ]+)$", text, re.M).group(1).split()))
    c.update(zip(OK_TYPES + ["duplicates", "late", "rejected"], v))
    m = re.search(r"^blank (\d+)$", text, re.M)
    assert m, "the commit record has no blank line"
    c["blank"] = int(m.group(1))
    return c


def check_adds_up(c, what):
    total = sum(c[t] for t in OK_TYPES) + c["duplicates"] + c["late"] + c["rejected"] + c["blank"]
    assert total == c["records"], f"{what}: outcomes add up to {total}, records {c['records']}: {c}"


def check_exact(c, what, keys=("blank", "duplicates", "rejected", "late", "records")):
    bad = {k: (c[k], WANT[k]) for k in keys if c[k] != WANT[k]}
    assert not bad, f"{what}: (got, want) {bad}"


def rejected_reasons(root):
    rel = f"read_parquet('{root}/rejected/**/*.parquet', hive_partitioning=1)"
    return [r[0] for r in duckdb.connect().execute(f"SELECT reason FROM {rel}").fetchall()]


def file_input_adds_up_across_a_restart():
    root = os.path.join(TMP, "r_file")
    half = os.path.join(TMP, "outcomes_half.ndjson")
    cut = len(LINES) // 2
    with open(half, "w", encoding="utf-8") as f:
        f.write("\n".join(LINES[:cut]) + "\n")
    # the first run stops after half of the lines (a stop commits); the second resumes the file
    run([ECOM, "stream", "--input", ALL, "--out", root, "--quiet", "--max-events", str(cut)])
    c1 = commit_counts(root)
    assert c1["records"] == cut, c1
    check_adds_up(c1, "first run")
    run([ECOM, "stream", "--input", ALL, "--out", root, "--quiet"])
    c = commit_counts(root)
    check_adds_up(c, "after the restart")
    check_exact(c, "after the restart")
    print(f"  file, after a restart at record {cut}: {c}")
    reasons = rejected_reasons(root)
    assert sum(r.startswith("conflicting duplicate of event_id ") for r in reasons) == N_CONFLICT, reasons
    assert sum("more than 5m0s ahead of" in r for r in reasons) == N_FUTURE, reasons
    # the raw tables hold each accepted event once: copies (exact or re-stamped) are not written
    con = duckdb.connect()
    ids = con.execute(f"SELECT count(*), count(DISTINCT event_id) FROM read_parquet('{root}/views/**/*.parquet')"
                      ).fetchone()
    assert ids[0] == ids[1], f"views: {ids[0]} rows, {ids[1]} distinct ids"


def stdin_status_and_metrics_add_up():
    root, port = os.path.join(TMP, "r_stdin"), free_port()
    p = subprocess.Popen([ECOM, "stream", "--input", "-", "--out", root, "--quiet", "--listen", f"127.0.0.1:{port}",
                          "--commit-interval", "200ms"], stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        p.stdin.write("\n".join(LINES) + "\n")
        p.stdin.flush()
        st = None
        for _ in range(600):  # bounded: 60 s; a blank line trickles in so the job publishes
            t = http_text(f"http://127.0.0.1:{port}/status")
            if t and t.startswith("{") and json.loads(t)["counters"]["records"] >= len(LINES):
                st = json.loads(t)
                break
            p.stdin.write("\n")
            p.stdin.flush()
            time.sleep(0.1)
        assert st, "timed out waiting for /status to count every line"
        c = st["counters"]
        check_adds_up(c, "/status")
        assert c["duplicates"] == WANT["duplicates"] and c["rejected"] == WANT["rejected"], c
        assert c["blank"] >= N_BLANK and c["future"] == N_FUTURE and c["conflicts"] == N_CONFLICT, c
        m = http_text(f"http://127.0.0.1:{port}/metrics")
        val = {}
        for line in m.splitlines():
            mm = re.match(r'^ecom_stream_(records_total|events_total\{type="(\w+)",outcome="(\w+)"\}) (\d+)$', line)
            if mm:
                val[(mm.group(2), mm.group(3)) if mm.group(2) else "records"] = int(mm.group(4))
        outcomes = sum(v for k, v in val.items() if k != "records")
        assert val.get(("any", "blank")) is not None, m
        # /metrics is published with /status (one snapshot): it adds up to the same records
        assert outcomes == val["records"], f"/metrics outcomes {outcomes} vs records {val['records']}: {val}"
        assert 'ecom_stream_rejected_reason_total{reason="future"} %d' % N_FUTURE in m, m
    finally:
        p.stdin.close()
        rc = p.wait(timeout=120)
    assert rc == 0, p.stderr.read()[-1500:]
    check_adds_up(commit_counts(root), "stdin commit record")


def kafka_input_adds_up():
    addr = subprocess.run(["bash", f"{REPO}/tests/services/kafka.sh", "ensure"], capture_output=True, text=True,
                          check=True).stdout.strip()
    from kafka import KafkaProducer
    sfx = uuid.uuid4().hex[:8]
    topics = [f"opv_{sfx}", f"oce_{sfx}", f"oor_{sfx}"]
    run([ECOM_OPT, "broker", "--create-topics", "--brokers", addr, "--partitions", "1", "--topics", ",".join(topics)])
    prod = KafkaProducer(bootstrap_servers=addr, acks="all", linger_ms=5)
    topic_of = {"page_view": 0, "add_to_cart": 1, "remove_from_cart": 1, "purchase": 2}
    for line in LINES:
        t = 0
        m = re.search(r'"event_type":\s*"(\w+)"', line)
        if m and m.group(1) in topic_of:
            t = topic_of[m.group(1)]
        prod.send(topics[t], line.encode(), partition=0)
    prod.flush(timeout=60)
    prod.close()
    root = os.path.join(TMP, "r_kafka")
    run([ECOM, "stream", "--brokers", addr, "--topic-views", topics[0], "--topic-cart", topics[1], "--topic-orders",
         topics[2], "--drain", "--idle-timeout", "0", "--group", f"og_{sfx}", "--out", root, "--quiet"])
    recs = sorted(glob.glob(f"{root}/_ecom/commits/*.commit"))
    text = open(recs[-1]).read()
    c = dict(records=int(re.search(r"^records (\d+)$", text, re.M).group(1)))
    v = list(map(int, re.search(r"^counters ([\d ]+)$", text, re.M).group(1).split()))
    c.update(zip(OK_TYPES + ["duplicates", "late", "rejected"], v))
    c["blank"] = int(re.search(r"^blank (\d+)$", text, re.M).group(1))
    check_adds_up(c, "Kafka")
    # the three topics are read at their own speeds: which events are late may differ from a
    # file, but every other outcome is exact
    check_exact(c, "Kafka", ("blank", "duplicates", "rejected", "records"))


case(file_input_adds_up_across_a_restart)
case(stdin_status_and_metrics_add_up)
case(kafka_input_adds_up)
suite.exit()
