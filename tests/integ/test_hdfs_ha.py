"""test_hdfs_ha — HA NameNodes (--hdfs-namenodes) on a real HA HDFS (tests/services/hdfs_ha.sh: two
NameNodes, one JournalNode, one DataNode, manual failover with Hadoop's own haadmin).

  - the standby listed first, or a dead address listed first: ecom moves to the active NameNode
    (a StandbyException / a refused connection is a failover, not an error) and reads and writes
    what it would through the active one alone;
  - `ecom stream` to hdfs://ecomns with a graceful failover (haadmin -failover nn1 nn2) in the middle:
    epochs go on committing with no storage error; then the active NameNode is killed and the other
    made active: the stream resumes; every table equals an uninterrupted local run.
Tables are compared with `ecom cat --format csv` sorted (rejected without its wall-clock ingest_ts)."""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import free_port, http_get, sh, start_listening_stream, wait_for  # noqa: E402
from dashlib import Cases  # noqa: E402

ECOM, ECOM_OPT = os.environ["ECOM"], os.environ.get("ECOM_OPT", os.environ["ECOM"])
TMP, REPO = os.environ["TEST_TMP"], os.environ["REPO"]
HA = ["bash", os.path.join(REPO, "tests/services/hdfs_ha.sh")]
TABLES = ["views", "cart", "orders", "rejected", "sales_per_minute", "category_activity", "top_products",
          "sales_by_city", "funnel"]
PID = os.getpid()


NN1, NN2 = sh(*HA, "ensure", timeout=400).stdout.strip().split(",")
NNS = "%s,%s" % (NN1, NN2)
HOPT = ["--hdfs-namenodes", NNS, "--hdfs-user", "ecom"]


def gen(name, count, seed, rate="100"):
    path = os.path.join(TMP, name)
    sh(ECOM_OPT, "gen", "--seed", str(seed), "--start", "2026-11-25T23:58:30Z", "--rate", rate, "--count",
       str(count), "--dup-frac", "0.02", "--bad-frac", "0.01", "--late-frac", "0.02", "--out", path)
    return path


def cat(root, table, hopts=()):
    cols = ["--columns", "source,position,reason,raw"] if table == "rejected" else []
    out = sh(ECOM_OPT, "cat", root + "/" + table, "--format", "csv", *cols, *hopts).stdout.splitlines()
    return out[:1] + sorted(out[1:])


def compare_tables(c, local, remote, hopts, tables=TABLES):
    for t in tables:
        a, b = cat(local, t), cat(remote, t, hopts)
        c.check(len(a) > 1, "table %s of the local run is empty" % t)
        c.check(a == b, "table %s: HDFS (%d lines) differs from local (%d lines)" % (t, len(b), len(a)))


def standby_or_dead_first_moves_to_active(c):
    """The list's first NameNode is the standby (then a closed port): the first request of each
    kind meets a StandbyException (a refused connection) and moves on; load and cat agree with a
    local run, and the trace shows the move."""
    make_active("nn1")
    ev = gen("ev-first.ndjson", 3000, 5)
    local = os.path.join(TMP, "first-local")
    sh(ECOM_OPT, "load", "--input", ev, "--out", local)
    for name, order in (("standby", "%s,%s" % (NN2, NN1)), ("dead", "127.0.0.1:%d,%s" % (free_port(), NN1))):
        root = "hdfs://ecomns/first-%s-%d" % (name, PID)
        hopts = ["--hdfs-namenodes", order, "--hdfs-user", "ecom"]
        r = sh(ECOM, "load", "--input", ev, "--out", root, *hopts, env={"ECOM_WEBHDFS_TRACE": "1"})
        lines = [l for l in r.stderr.splitlines() if l.startswith("webhdfs: ")]
        first = order.split(",")[0]
        c.check(lines and first in lines[0], "%s first: the first request did not go to %s: %s" %
                (name, first, lines[:1]))
        want = " -> 403 " if name == "standby" else "(transport error)"
        c.check(any(first in l and want in l for l in lines), "%s first: no %r from %s in the trace" %
                (name, want.strip(), first))
        c.check(any(NN1 in l and (" -> 200 " in l or " -> 201 " in l) for l in lines),
                "%s first: nothing succeeded at the active %s" % (name, NN1))
        print("  %s first: %d requests, %d to %s" % (name, len(lines), sum(first in l for l in lines), first))
        compare_tables(c, local, root, hopts, tables=["views", "cart", "orders", "rejected"])


def bad_namenodes_list_is_usage_error(c):
    r = sh(ECOM, "cat", "hdfs://ecomns/x", "--hdfs-namenodes", "nohostport", check=False)
    c.eq(r.returncode, 1, "exit code of a bad --hdfs-namenodes")
    c.check("--hdfs-namenodes" in r.stderr and "HOST:PORT" in r.stderr, "message: %s" % r.stderr.strip())
    print("  " + r.stderr.strip())


def feed(p, lines, gate):
    """Writes lines (bytes: some are not UTF-8 on purpose) to p's stdin: the first fifth at once,
    then ~2000 lines/s until gate is set (so the stream keeps committing epochs through the
    faults, and still has input after them), the last tenth only once gate is set (at most
    300 s), then closes stdin."""
    n, i = len(lines), 0
    try:
        while i < n:
            if i >= n // 5 and not gate.is_set():
                if i >= n * 9 // 10:
                    gate.wait(300)
                else:
                    time.sleep(0.05)
            k = 100 if i >= n // 5 and not gate.is_set() else 5000
            p.stdin.write(b"".join(lines[i:i + k]))
            p.stdin.flush()
            i += k
        p.stdin.close()
    except (BrokenPipeError, ValueError):
        pass


def make_active(nn):
    """Puts the cluster back to `nn` active (a case before may have failed over)."""
    other = "nn2" if nn == "nn1" else "nn1"
    if sh(*HA, "active").stdout.strip() != nn:
        sh(*HA, "haadmin", "-failover", other, nn, timeout=120)


def failover_mid_stream(c):
    make_active("nn1")
    ev = gen("ev-ha.ndjson", 100000, 21, rate="300")
    local, root = os.path.join(TMP, "ha-local"), "hdfs://ecomns/ha-%d" % PID
    # Both runs read stdin (the rejected table names its source).
    with open(ev, "rb") as f:
        subprocess.run([ECOM_OPT, "stream", "--input", "-", "--out", local, "--quiet"], stdin=f, check=True,
                       capture_output=True, timeout=300)
    logname = os.path.join(TMP, "stream-ha.log")
    t0 = time.monotonic()
    p, port, log = start_listening_stream(["--input", "-", "--out", root, "--commit-interval", "200ms", *HOPT], logname,
                                          stdin=subprocess.PIPE, env={**os.environ, "ECOM_WEBHDFS_TRACE": "1"})
    gate = threading.Event()
    feeder = threading.Thread(target=feed, args=(p, open(ev, "rb").readlines(), gate), daemon=True)
    feeder.start()
    killed = None
    try:
        def counters():
            try:
                return json.loads(http_get(port, "/status"))["counters"]
            except Exception:
                return None

        def epochs_at_least(n):
            def f():
                if p.poll() is not None:
                    raise RuntimeError("stream exited %d early: %s" % (p.returncode, open(logname).read()[-600:]))
                v = counters()
                return v if v and v.get("epochs", 0) >= n else None
            return f
        s = wait_for(epochs_at_least(2), "two committed epochs", 120)
        e0, err0 = s["epochs"], s.get("storage_errors", 0)
        t1 = time.monotonic()
        sh(*HA, "haadmin", "-failover", "nn1", "nn2", timeout=120)
        c.eq(sh(*HA, "active").stdout.strip(), "nn2", "active NameNode after haadmin -failover nn1 nn2")
        s = wait_for(epochs_at_least(e0 + 3), "three more epochs after the failover", 120)
        c.check(p.poll() is None, "stream ended during the graceful failover (too little input)")
        c.eq(s.get("storage_errors", 0), err0, "storage errors over a graceful failover (moves are retries)")
        print("  graceful failover nn1 -> nn2 after %d epochs (%.1f s): %d epochs %.1f s later, storage_errors %d" %
              (e0, t1 - t0, s["epochs"], time.monotonic() - t1, s.get("storage_errors", 0)))
        # The active one dies; the survivor is made active (it cannot fence a dead peer: forced).
        e1 = s["epochs"]
        sh(*HA, "stop-nn", "nn2")
        killed = "nn2"
        t2 = time.monotonic()
        sh(*HA, "haadmin", "-transitionToActive", "--forceactive", "nn1", timeout=120)
        c.eq(sh(*HA, "active").stdout.strip(), "nn1", "active NameNode after nn2 died")
        t3 = time.monotonic()
        wait_for(epochs_at_least(e1 + 2), "two more epochs after nn1 took over", 120)
        gate.set()
        rc = p.wait(timeout=300)
        c.eq(rc, 0, "stream exit code")
        print("  nn2 killed after %d epochs, nn1 forced active %.1f s later, epochs again %.1f s after that; "
              "whole run %.1f s" % (e1, t3 - t2, time.monotonic() - t3, time.monotonic() - t0))
    finally:
        gate.set()
        if p.poll() is None:
            p.kill()
            p.wait()
        log.close()
        if killed:
            sh(*HA, "start-nn", killed, timeout=180, check=False)
    text = open(logname).read()
    c.check("AddressSanitizer" not in text and "runtime error" not in text, "sanitizer report: %s" % text[-800:])
    # The trace shows both moves: nn1 refusing as standby after the graceful failover, and nn2
    # refusing connections once dead.
    trace = [l for l in text.splitlines() if l.startswith("webhdfs: ")]
    standby = [l for l in trace if NN1 in l and " -> 403 " in l]
    dead = [l for l in trace if NN2 in l and "(transport error)" in l]
    c.check(standby, "no StandbyException (403) from nn1 in the trace after the failover")
    c.check(dead, "no refused request to the dead nn2 in the trace")
    print("  trace: %d requests, %d answered StandbyException by nn1, %d refused by the dead nn2" %
          (len(trace), len(standby), len(dead)))
    errs = [l for l in text.splitlines() if "storage error" in l]
    print("  storage errors reported: %d%s" % (len(errs), (" (first: %s)" % errs[0][:240]) if errs else ""))
    compare_tables(c, local, root, HOPT)


cases = Cases()
for case in (standby_or_dead_first_moves_to_active, bad_namenodes_list_is_usage_error, failover_mid_stream):
    if len(sys.argv) < 2 or case.__name__ in sys.argv[1:]:
        cases.run(case)
sys.exit(1 if cases.failed else 0)
