"""ecom stream --scale-out: several instances in one consumer group, against the real Kafka broker.

`ecom gen` produces a seeded stream into topics with 4 partitions, paced (--speedup) so that it
is still producing while the instances come and go:
  A starts; once A has committed, B joins (rebalance); A is killed with SIGKILL (its partitions
  move to B after the session timeout); A2 joins (rebalance); once the generator is done B and
  A2 are stopped with SIGTERM (commit on revoke); a --drain instance takes every partition over
  from the per-partition records and flushes.
Beside it (a thread, second group and ROOT, same topics): two instances, one of them killed
  with SIGKILL and restarted 6 times, each time once every partition has committed since the
  last kill; then a --drain instance. Its ROOT must give the same results too.
Then, against one single-instance (MERGED) --drain run over the same topics:
  - every raw event is in the scale-out ROOT exactly once (same rows, no duplicate event_id);
  - the documented DuckDB merge queries (read from docs/stream.md, so the docs are what is
    tested) over the partial tables give exactly the single instance's tables (revenue to the
    cent, rates and averages bit for bit);
  - ecom dash answers every API call on the scale-out ROOT exactly as on the single one;
  - the drain instance's final counters equal the single run's (counters are cumulative across
    owners);
  - the two layouts refuse to mix on one ROOT.
Readiness is read from each instance's /status and from the commit records, never from sleeps.
"""
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import duckdb

sys.path.insert(0, os.path.dirname(__file__))
from dashlib import Dash  # noqa: E402
from testlib import ScaleOutInstance, Suite, wait_for  # noqa: E402

ECOM = os.environ["ECOM"]
REPO = os.environ["REPO"]
TMP = os.environ["TEST_TMP"]
TABLES = ["sales_per_minute", "category_activity", "product_activity", "top_products", "top_products_by_revenue",
          "sales_by_city", "sales_by_channel", "funnel"]
RANKED = ("top_products", "top_products_by_revenue")  # single layout only: derived by the merge queries
NPART = 4
suite = Suite()
case = suite.case


def run(args, timeout=300):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {r.returncode}: {r.stderr[-2000:]}")
    return r


ADDR = subprocess.run(["bash", f"{REPO}/tests/services/kafka.sh", "ensure"], capture_output=True, text=True,
                      check=True).stdout.strip()
SUFFIX = uuid.uuid4().hex[:8]
TOPICS = [f"pv_{SUFFIX}", f"ce_{SUFFIX}", f"or_{SUFFIX}"]
TOPIC_FLAGS = ["--topic-views", TOPICS[0], "--topic-cart", TOPICS[1], "--topic-orders", TOPICS[2]]
GROUP = f"so_{SUFFIX}"
SROOT, MROOT = os.path.join(TMP, "scaleout_root"), os.path.join(TMP, "single_root")
# --idle-timeout 0: idleness is processing-time driven (not reproducible by design), this test
# checks event-time results; a short commit interval gives many records to take over from.
# The default lateness (2m) is above the generator's --late-max 60s: no event is beyond the
# lateness. Which events beyond it are late depends on how far the consumer has read each of the
# three topics of a partition when they arrive (watermark alignment takes the slowest topic), in
# one instance as in several, so only results within the lateness are reproducible run to run.
COMMON = ["--brokers", ADDR, *TOPIC_FLAGS, "--idle-timeout", "0", "--commit-interval", "300ms"]


STARTED = []   # every instance, killed at exit if the test failed halfway


def Instance(name, *extra, group=GROUP, root=SROOT):
    return ScaleOutInstance(name, COMMON, group, root, *extra, started=STARTED)


def records(root=SROOT):
    """Partition -> newest committed seq in a scale-out ROOT."""
    out = {}
    d = os.path.join(root, "_ecom", "parts")
    for p in os.listdir(d) if os.path.isdir(d) else []:
        seqs = [int(n[:20]) for n in os.listdir(os.path.join(d, p)) if n.endswith(".commit")]
        if seqs:
            out[int(p[1:])] = max(seqs)
    return out


def produce_async():
    # ecom's own topic creation: it returns once the broker shows every partition with a leader
    subprocess.run([ECOM, "broker", "--create-topics", "--brokers", ADDR, "--partitions", str(NPART),
                    "--topics", ",".join(TOPICS)], check=True, capture_output=True, timeout=60)
    # ~24 minutes of event time at 40x real time: still producing while instances come and go
    return subprocess.Popen([ECOM, "gen", "--brokers", ADDR, *TOPIC_FLAGS, "--seed", "41", "--users", "400",
                             "--start", "2026-11-25T09:00:00Z", "--rate", "16", "--count", "24000",
                             "--speedup", "40", "--quiet", "--dup-frac", "0.02", "--bad-frac", "0.01",
                             "--late-frac", "0.05", "--late-max", "60s"], stderr=subprocess.PIPE, text=True)


DONE = {}


def shared(x, y):
    """Both instances own partitions, none twice, all of them together."""
    ox, oy = x.owned(), y.owned()
    return ox and oy and not (ox & oy) and len(ox | oy) == NPART


def scale_out_with_rebalances():
    gen = produce_async()
    KILL["thread"] = threading.Thread(target=kill9_loop, daemon=True)
    KILL["thread"].start()
    a = Instance("A", "--quiet")
    # seq 0 of each partition is A's claim at take-over (commit.c), seq 1 its first commit
    wait_for(lambda: len(records()) == NPART and min(records().values()) >= 1 and a.epochs() >= 2,
             "A's first commits", 60, [a])
    owned = a.owned()
    assert owned == set(range(NPART)), f"A alone should own every partition, owns {owned} ({a.last_error})"
    st = a.status()
    assert st and st["layout"] == "scale-out", f"/status layout: {st and st.get('layout')}"
    assert st["schema"] == 2 and set(st["open_windows"]) >= {"sales_per_minute", "product_activity", "funnel"}
    assert all(0 <= w["partition"] < NPART for rows in st["open_windows"].values() for w in rows), \
        "provisional rows without partition"
    b = Instance("B", "--quiet")
    # rebalance 1: the group splits the partitions between A and B, each resumes from records
    wait_for(lambda: shared(a, b), "A and B to share the partitions", 90, [a, b])
    before = records()  # + 1: the new owner's claim at take-over; + 2: its first commit
    wait_for(lambda: all(records().get(p, -1) > before[p] + 1 for p in range(NPART)), "commits after rebalance 1",
             60, [a, b])
    assert gen.poll() is None, "the generator finished before the kill: make it slower"
    a.stop(signal.SIGKILL, expect=None)   # A dies mid-epoch: B takes A's partitions after the session timeout
    wait_for(lambda: b.owned() == set(range(NPART)), "B to own every partition after A's death", 90, [b])
    a2 = Instance("A2", "--quiet")
    wait_for(lambda: shared(a2, b), "A2 and B to share the partitions", 90, [a2, b])
    _, gen_err = gen.communicate(timeout=180)
    KILL["gen_done"].set()
    KILL["gen_end"] = time.monotonic()
    assert gen.returncode == 0, f"gen exited {gen.returncode}: {gen_err[-1500:]}"
    b.stop()                              # graceful: B commits its partitions on revoke
    wait_for(lambda: a2.owned() == set(range(NPART)), "A2 to own every partition after B left", 90, [a2])
    a2.stop()
    d = Instance("D", "--drain")          # takes everything over from the records and flushes
    rc = d.proc.wait(timeout=240)
    assert rc == 0, f"drain instance exited {rc}: {d.log()}"
    r = run([ECOM, "stream", *COMMON, "--group", f"single_{SUFFIX}", "--drain", "--out", MROOT], timeout=300)
    DONE["single"] = r
    DONE["drain_log"] = d.log()


def raw_rows(con, root, t):
    p = os.path.join(root, t)
    sel = f"SELECT * FROM read_parquet('{p}/**/*.parquet', hive_partitioning=1)"
    names = [r[0] for r in con.execute(f"DESCRIBE {sel}").fetchall()]
    keep = [n for n in names if n not in ("ingested_at", "processed_at")]
    return sorted(map(repr, con.execute(f"SELECT {', '.join(keep)} FROM read_parquet('{p}/**/*.parquet', "
                                        f"hive_partitioning=1)").fetchall()))


def raw_events_exactly_once(SROOT=SROOT):
    con = duckdb.connect()
    for t in ("views", "cart", "orders"):
        a, b = raw_rows(con, MROOT, t), raw_rows(con, SROOT, t)
        assert len(a) > 1000 or t != "views", f"too few {t}"
        assert a == b, f"{t}: scale-out {len(b)} rows, single instance {len(a)}"
        dup = con.execute(f"SELECT count(*) - count(DISTINCT event_id) FROM read_parquet('{SROOT}/{t}/**/*.parquet')"
                          ).fetchone()[0]
        assert dup == 0, f"{t}: {dup} events twice"
    rej = [con.execute(f"SELECT count(*) FROM read_parquet('{r}/rejected/**/*.parquet')").fetchone()[0]
           for r in (MROOT, SROOT)]
    assert rej[0] == rej[1] and rej[0] > 0, f"rejected: single {rej[0]}, scale-out {rej[1]}"
    # no debris, and the logs are compact: one record per partition and the checkpoint chain it
    # names (a full checkpoint and the deltas after it), nothing else
    hidden = [os.path.join(d, f) for d, _, fs in os.walk(SROOT) for f in fs if f.startswith(".part-")]
    assert not hidden, f"uncommitted files left: {hidden[:3]}"
    for p in range(NPART):
        pdir = os.path.join(SROOT, "_ecom", "parts", "p%04d" % p)
        names = sorted(os.listdir(pdir))
        recs = [n for n in names if n.endswith(".commit")]
        assert len(recs) == 1 and "lease" in names, f"partition {p}: {names}"
        with open(os.path.join(pdir, recs[0])) as f:
            rec = f.read()
        chain = {os.path.basename(x) for x in re.findall(r"^ckpt(?:_delta| \d+) (\S+)$", rec, re.M)}
        assert set(names) - {"lease", recs[0]} == chain and any(n.endswith(".ckpt") for n in chain), \
            f"partition {p}: {names}, the record names {sorted(chain)}"
        leases = os.listdir(os.path.join(SROOT, "_ecom", "parts", "p%04d" % p, "lease"))
        assert len(leases) == 1 and leases[0].endswith(".lease"), f"partition {p}'s leases: {leases}"


def merge_queries():
    """The merge queries of docs/stream.md: '-- <table>' comment, then the query up to ';'."""
    doc = open(os.path.join(REPO, "docs", "stream.md")).read()
    block = doc.split("<!-- merge-queries -->", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    out = {}
    for m in re.finditer(r"^-- (\w+)\n(.*?;)", block, re.S | re.M):
        out[m.group(1)] = m.group(2)
    assert set(out) == set(TABLES), f"docs/stream.md merge queries: {sorted(out)}"
    return out


PRODUCT = "product_id, product_name, category, views, adds, units_sold, revenue"
COLS = {
    "sales_per_minute": "window_start, window_end, orders, items, revenue, avg_ticket",
    "category_activity": "window_start, window_end, category, views, adds, removes, units_sold, revenue",
    "product_activity": f"window_start, window_end, {PRODUCT}",
    "top_products": f"window_start, window_end, rank, {PRODUCT}",
    "top_products_by_revenue": f"window_start, window_end, rank, {PRODUCT}",
    "sales_by_city": "window_start, window_end, province, city, store_type, orders, revenue",
    "sales_by_channel": "window_start, window_end, store_type, device, orders, revenue, avg_ticket",
    "funnel": "window_start, window_end, viewed, carted, purchased, view_to_cart_rate, cart_to_purchase_rate, "
              "view_to_purchase_rate",
}


def documented_merge_equals_single_instance(SROOT=SROOT):
    queries = merge_queries()
    single, scaled = duckdb.connect(), duckdb.connect()
    tables = os.listdir(SROOT)
    assert "product_activity" in tables and not set(RANKED) & set(tables), f"scale-out tables: {tables}"
    for t in TABLES:
        if os.path.isdir(os.path.join(SROOT, t)):
            scaled.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{SROOT}/{t}/**/*.parquet', "
                           f"hive_partitioning=1)")
    for t in TABLES:
        single.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{MROOT}/{t}/**/*.parquet', "
                       f"hive_partitioning=1)")
    parts = scaled.execute("SELECT count(DISTINCT partition) FROM sales_per_minute").fetchone()[0]
    assert parts == NPART, f"partial rows of {parts} partitions"
    for t in TABLES:
        want = sorted(single.execute(f"SELECT {COLS[t]} FROM {t}").fetchall())
        got = sorted(scaled.execute(f"SELECT {COLS[t]} FROM ({queries[t].rstrip(';')})").fetchall())
        assert len(want) >= 10, f"{t}: too few rows ({len(want)})"
        assert got == want, f"{t}: merged partial rows differ ({len(got)} vs {len(want)} rows); first " \
                            f"difference {next(((g, w) for g, w in zip(got, want) if g != w), None)}"
        # the same queries over the single instance's tables return them unchanged
        if t in RANKED:
            continue
        again = sorted(single.execute(f"SELECT {COLS[t]} FROM ({queries[t].rstrip(';')})").fetchall())
        assert again == want, f"{t}: the merge query changes MERGED rows"


def dashboard_equals_single_instance():
    paths = ["/api/sales_per_minute", "/api/category_activity", "/api/top_products", "/api/sales_by_city",
             "/api/funnel", "/api/summary"]
    con = duckdb.connect()
    lo, hi = con.execute(f"SELECT epoch_us(min(window_start)), epoch_us(max(window_end)) FROM "
                         f"read_parquet('{MROOT}/sales_per_minute/**/*.parquet')").fetchone()

    def iso(u):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(u // 1000000))
    mid = lo + (hi - lo) // 3 // 60000000 * 60000000
    queries = ["", "?last=10m", f"?from={iso(lo)}&to={iso(hi)}", f"?from={iso(mid)}&to={iso(hi)}&limit=5"]
    d1, d2 = Dash(MROOT), Dash(SROOT)
    try:
        n = 0
        for p in paths:
            for q in queries:
                s1, j1 = d1.get_json(p + q)
                s2, j2 = d2.get_json(p + q)
                assert s1 == 200 and s2 == 200, f"{p}{q}: status {s1} / {s2}"
                j1.pop("generation", None)   # a hash of the file listing: differs by design
                j2.pop("generation", None)
                assert j1 == j2, f"{p}{q}: dashboard differs\n single {json.dumps(j1)[:600]}\n" \
                                 f" scaled {json.dumps(j2)[:600]}"
                n += len(json.dumps(j1))
        assert n > 5000, "answers too small to mean anything"
    finally:
        for d in (d1, d2):
            rc, err = d.stop()
            assert rc == 0, f"dash exited {rc}: {err[-1500:]}"


def final_counters_are_cumulative():
    """The drain instance's final counters cover every partition's whole history (restored from
    the records it took over), so they equal those of the single instance that read it all."""
    pat = r"stream: done: (\d+) records, (\d+) rejected, (\d+) late, (\d+) duplicates"
    m1 = re.search(pat, DONE["single"].stderr)
    m2 = re.search(pat, DONE["drain_log"])
    assert m1 and m2, f"no final counters: {DONE['single'].stderr[-500:]} / {DONE['drain_log'][-500:]}"
    assert m1.groups() == m2.groups(), f"single instance {m1.group(0)}; scale-out drain {m2.group(0)}"
    con = duckdb.connect()
    rej = con.execute(f"SELECT count(*) FROM read_parquet('{SROOT}/rejected/**/*.parquet')").fetchone()[0]
    assert int(m2.group(2)) == rej and rej > 0, f"{m2.group(0)}; the rejected table holds {rej}"
    assert int(m2.group(4)) > 0, f"no duplicates counted: {m2.group(0)}"


def single_instance_counters_survive_restart():
    """A restart of the single-instance layout continues the counters of its commit log (they
    are in the records): the final line counts the log's whole history, not the process's."""
    r = run([ECOM, "stream", *COMMON, "--group", f"single_{SUFFIX}", "--drain", "--out", MROOT], timeout=300)
    pat = r"stream: done: (\d+) records, (\d+) rejected, (\d+) late, (\d+) duplicates"
    m1, m2 = re.search(pat, DONE["single"].stderr), re.search(pat, r.stderr)
    assert m1 and m2 and m1.groups() == m2.groups(), f"first run: {m1 and m1.group(0)}; restart: {m2 and m2.group(0)}"


SROOT2 = os.path.join(TMP, "kill_root")


KILL = {"error": None, "kills": 0, "gen_done": threading.Event()}


def kill9_loop():
    """Runs in a thread beside scale_out_with_rebalances, over the same topics while they are
    being produced, in a second group and ROOT: two instances P and Q; 6 times, once every
    partition has committed two records newer than at the last kill (a take-over's claim and a
    commit: so the killed instance's
    partitions were taken over, and the new owner is working), one of them is killed with
    SIGKILL at a random moment and restarted. Then, once the generator is done, both stop and a
    --drain instance finishes."""
    try:
        rng = random.Random(11)
        group = f"so2_{SUFFIX}"
        live = {n: Instance(f"{n}0", "--quiet", group=group, root=SROOT2) for n in "PQ"}
        for i in range(1, 7):
            last = records(SROOT2)
            wait_for(lambda: all(records(SROOT2).get(p, -1) > last.get(p, -1) + 1 for p in range(NPART)),
                     f"every partition to commit before kill {i}", 120, list(live.values()))
            try:
                live["P"].proc.wait(timeout=rng.uniform(0.0, 1.5))   # a random kill moment, not readiness
            except subprocess.TimeoutExpired:
                pass
            n = rng.choice("PQ")
            live[n].stop(signal.SIGKILL, expect=None)
            KILL["kills"] += 1
            KILL.setdefault("at", []).append(time.monotonic())
            live[n] = Instance(f"{n}{i}", "--quiet", group=group, root=SROOT2)
        KILL["gen_done"].wait(timeout=300)
        for x in live.values():   # SIGTERM once its handler is installed (/status answers by then)
            wait_for(lambda: x.status(), f"{x.name}'s /status", 60, [x])
            x.stop()
        d = Instance("D2", "--drain", group=group, root=SROOT2)
        rc = d.proc.wait(timeout=240)
        assert rc == 0, f"drain instance exited {rc}: {d.log()}"
    except Exception as e:   # reported by kill9_loop_then_drain
        KILL["error"] = e


def kill9_loop_then_drain():
    KILL["thread"].join(timeout=600)
    assert not KILL["thread"].is_alive(), "the kill loop did not finish"
    if KILL["error"]:
        raise KILL["error"]
    assert KILL["kills"] == 6, f"{KILL['kills']} kills"
    during = sum(t < KILL.get("gen_end", 0) for t in KILL["at"])
    print(f"  {KILL['kills']} kills ({during} while the generator was producing), newest seqs {records(SROOT2)}")


def kill9_raw_events_exactly_once():
    raw_events_exactly_once(SROOT2)


def kill9_documented_merge_equals_single_instance():
    documented_merge_equals_single_instance(SROOT2)


def layouts_refuse_to_mix():
    r = subprocess.run([ECOM, "stream", *COMMON, "--group", f"x_{SUFFIX}", "--drain", "--out", SROOT],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "scale-out" in r.stderr, f"MERGED on a scale-out ROOT: {r.returncode} {r.stderr}"
    r = subprocess.run([ECOM, "stream", *COMMON, "--scale-out", "--group", f"y_{SUFFIX}", "--drain", "--out", MROOT],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "single-instance" in r.stderr, \
        f"scale-out on a single-instance ROOT: {r.returncode} {r.stderr}"


try:
    case(scale_out_with_rebalances)
    KILL["gen_done"].set()   # even if the case failed before the generator finished
    if suite.failures == 0:
        case(raw_events_exactly_once)
        case(documented_merge_equals_single_instance)
        case(dashboard_equals_single_instance)
        case(final_counters_are_cumulative)
        case(single_instance_counters_survive_restart)
        case(layouts_refuse_to_mix)
        case(kill9_loop_then_drain)
        if suite.failures == 0:
            case(kill9_raw_events_exactly_once)
            case(kill9_documented_merge_equals_single_instance)
finally:
    for i in STARTED:   # whatever a failed case left running
        if i.proc.poll() is None:
            i.proc.kill()
            i.proc.wait()
suite.exit()
