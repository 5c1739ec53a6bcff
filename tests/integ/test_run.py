"""`ecom run` smoke test: the whole pipeline in one process. Starts it on free ports with its
defaults (2 s epochs, 10 s lateness), waits (bounded polling) until the dashboard API serves a
committed minute window, sends SIGINT, and checks a clean exit 0, no hidden or partial files in
the lake outside _ecom, and that `ecom cat` reads the committed tables."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashlib import ECOM, Cases  # noqa: E402

TMP = os.environ.get("TEST_TMP", "/tmp/ecom-test-run")
os.makedirs(TMP, exist_ok=True)


def wait_for(pred, limit_s, step_s=0.5):
    """Polls pred() until it returns a true value or limit_s passes; returns the value or None."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step_s)
    return None


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def run_smoke(cs):
    data = os.path.join(TMP, "data")
    out_path, err_path = os.path.join(TMP, "run.out"), os.path.join(TMP, "run.err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        p = subprocess.Popen([ECOM, "run", "--out", data, "--listen", "127.0.0.1:0", "--rate", "50",
                              "--users", "500", "--seed", "11"], stdout=out, stderr=err)
    try:
        def url_line():
            if p.poll() is not None:
                return "exited"
            m = re.search(r"dashboard at (http://127\.0\.0\.1:\d+)/", open(out_path).read())
            return m.group(1) if m else None
        base = wait_for(url_line, 30, 0.1)
        if not base or base == "exited":
            cs.check(False, "no dashboard URL printed: %r %s" % (open(out_path).read(), open(err_path).read()[-2000:]))
            return
        t0 = time.monotonic()

        def committed_sales():
            if p.poll() is not None:
                return "exited"
            j = get_json(base + "/api/sales_per_minute?last=1h")
            rows = (j or {}).get("rows") or []
            # committed: final rows (open windows of the stream are in the answer too, final: false)
            return rows if any(r.get("orders", 0) > 0 and r.get("final", True) for r in rows) else None
        rows = wait_for(committed_sales, 110)
        if not rows or rows == "exited":
            cs.check(False, "no committed sales window within 110 s: %s" % open(err_path).read()[-2000:])
            return
        print("  first committed window after %.1f s: %s" % (time.monotonic() - t0, rows[0]))
        summary = get_json(base + "/api/summary?last=1h")
        if not summary or not isinstance(summary, dict):
            cs.check(False, "/api/summary: %r" % summary)
        health = get_json(base + "/api/health")
        if health is None:
            cs.check(False, "/api/health did not answer JSON")
        p.send_signal(signal.SIGINT)
        try:
            rc = p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            cs.check(False, "ecom run did not exit within 60 s of SIGINT")
            return
        if rc != 0:
            cs.check(False, "exit code %d: %s" % (rc, open(err_path).read()[-2000:]))
        if "stopped cleanly" not in open(out_path).read():
            cs.check(False, "no 'stopped cleanly' line: %r" % open(out_path).read())
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()

    leftovers = []
    for d, dirs, files in os.walk(data):
        rel = os.path.relpath(d, data)
        if rel == "_ecom" or rel.startswith("_ecom" + os.sep):
            continue
        for f in files + dirs:
            if f.startswith(".") or f.endswith(".tmp"):
                leftovers.append(os.path.join(rel, f))
    if leftovers:
        cs.check(False, "hidden/partial files left: %s" % leftovers[:10])
    parquet = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(data, "sales_per_minute")) for f in fs
               if f.endswith(".parquet")]
    if not parquet:
        cs.check(False, "no sales_per_minute parquet file")
    c = subprocess.run([ECOM, "cat", os.path.join(data, "sales_per_minute")], capture_output=True, text=True,
                       timeout=60)
    if c.returncode != 0 or "window_start" not in c.stdout + c.stderr and not c.stdout.strip():
        cs.check(False, "ecom cat sales_per_minute: rc %d %s" % (c.returncode, c.stderr[-500:]))
    v = subprocess.run([ECOM, "cat", os.path.join(data, "views")], capture_output=True, text=True, timeout=60)
    if v.returncode != 0 or len(v.stdout.splitlines()) < 10:
        cs.check(False, "ecom cat views: rc %d, %d lines %s" % (v.returncode, len(v.stdout.splitlines()), v.stderr[-500:]))


def run_bad_usage(cs):
    for args in (["--rate", "0"], ["--nope"], ["--commit-interval", "0s"]):
        r = subprocess.run([ECOM, "run", *args], capture_output=True, text=True, timeout=30)
        if r.returncode != 2 or "ecom run:" not in r.stderr:
            cs.check(False, "%s: rc %d %r" % (args, r.returncode, r.stderr))
    r = subprocess.run([ECOM, "run", "--help"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0 or "usage: ecom run" not in r.stdout:
        cs.check(False, "--help: rc %d" % r.returncode)


def run_once(data, tag, min_records):
    """Starts ecom run on data, waits until the stream has read min_records, stops it with SIGINT;
    returns the number of events the generator reports."""
    out_path, err_path = os.path.join(TMP, tag + ".out"), os.path.join(TMP, tag + ".err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        p = subprocess.Popen([ECOM, "run", "--out", data, "--listen", "127.0.0.1:0", "--rate", "100",
                              "--users", "300", "--seed", tag], stdout=out, stderr=err)
    try:
        def status_url():
            if p.poll() is not None:
                return "exited"
            m = re.search(r"stream status (http://127\.0\.0\.1:\d+/status)", open(out_path).read())
            return m.group(1) if m else None
        url = wait_for(status_url, 30, 0.1)
        assert url and url != "exited", "no stream status URL: %s" % open(err_path).read()[-1000:]

        def enough():
            j = get_json(url)
            return j and j.get("counters", {}).get("records", 0) >= min_records
        assert wait_for(enough, 60), "the stream read fewer than %d records in 60 s" % min_records
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=60) == 0, open(err_path).read()[-1000:]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    m = re.search(r"stopped cleanly \((\d+) events generated\)", open(out_path).read())
    assert m, open(out_path).read()
    return int(m.group(1))


def run_restart_keeps_every_event(cs):
    """Two runs on the same --out, each with a new embedded broker: every generated event is in the
    raw tables once (none left in the broker at Ctrl-C, none skipped by stale offsets)."""
    data = os.path.join(TMP, "data2")
    try:
        n = run_once(data, "7", 300) + run_once(data, "8", 300)
    except AssertionError as e:
        cs.check(False, str(e))
        return
    rows = 0
    for t in ("views", "cart", "orders", "rejected"):
        if os.path.isdir(os.path.join(data, t)):
            c = subprocess.run([ECOM, "cat", os.path.join(data, t)], capture_output=True, text=True, timeout=120)
            rows += len(c.stdout.splitlines())
    print("  %d events generated in two runs, %d rows in the raw tables" % (n, rows))
    cs.check(rows == n, "raw rows %d != generated events %d" % (rows, n))


if __name__ == "__main__":
    cs = Cases()
    cs.run(run_bad_usage)
    cs.run(run_smoke)
    cs.run(run_restart_keeps_every_event)
    sys.exit(1 if cs.failed else 0)
