"""`ecom run` smoke test: the whole pipeline in one process. Starts it on free ports with its
defaults (2 s epochs, 10 s lateness), waits (bounded polling) until the dashboard API serves a
committed minute window, sends SIGINT, and checks a clean exit 0, no hidden or partial files in
the lake outside _ecom, and that `ecom cat` reads the committed tables."""
import calendar
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

ECOM_OPT = os.environ.get("ECOM_OPT", "build/ecom")

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


STATUS_RE = r"stream status (http://127\.0\.0\.1:\d+/status)"


def start_run(exe, data, tag, extra):
    """Starts `exe run --out data --listen 127.0.0.1:0 extra...`, stdout and stderr in TMP/tag.*."""
    out_path, err_path = os.path.join(TMP, tag + ".out"), os.path.join(TMP, tag + ".err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        p = subprocess.Popen([exe, "run", "--out", data, "--listen", "127.0.0.1:0"] + extra, stdout=out, stderr=err)
    return p, out_path, err_path


def printed(p, out_path, pattern, limit_s=30):
    """The first group of pattern once the run prints it; None if it exits or limit_s passes."""
    def seen():
        if p.poll() is not None:
            return "exited"
        m = re.search(pattern, open(out_path).read())
        return m.group(1) if m else None
    got = wait_for(seen, limit_s, 0.1)
    return None if got == "exited" else got


def run_smoke(cs):
    data = os.path.join(TMP, "data")
    p, out_path, err_path = start_run(ECOM, data, "run", ["--rate", "50", "--users", "500", "--seed", "11"])
    try:
        base = printed(p, out_path, r"dashboard at (http://127\.0\.0\.1:\d+)/")
        if not base:
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


def run_once(data, tag, min_records, extra=(), before_stop=None):
    """Starts ecom run on data, waits until the stream has read min_records, calls
    before_stop(dashboard URL) if given, stops it with SIGINT; returns the number of events the
    generator reports."""
    p, out_path, err_path = start_run(ECOM, data, tag, ["--rate", "100", "--users", "300", "--seed", tag, *extra])
    try:
        url = printed(p, out_path, STATUS_RE)
        assert url, "no stream status URL: %s" % open(err_path).read()[-1000:]

        def enough():
            j = get_json(url)
            return j and j.get("counters", {}).get("records", 0) >= min_records
        assert wait_for(enough, 60), "the stream read fewer than %d records in 60 s" % min_records
        if before_stop:
            before_stop(re.search(r"dashboard at (http://127\.0\.0\.1:\d+)/", open(out_path).read()).group(1))
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=60) == 0, open(err_path).read()[-1000:]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    m = re.search(r"stopped cleanly \((\d+) events generated\)", open(out_path).read())
    assert m, open(out_path).read()
    return int(m.group(1))


def input_starts(data, suffix=".start"):
    """The marks of where each run's fresh input began (lake.h: _ecom/starts/<us>.start), or with
    suffix ".stop" where its data ended (pipeline.h fresh_input), in s: the single ones and those
    each start folds into _ecom/starts/marks ("start <us>" / "stop <us>" lines)."""
    d = os.path.join(data, "_ecom", "starts")
    if not os.path.isdir(d):
        return []
    marks = {int(f[:20]) for f in os.listdir(d) if f.endswith(suffix)}
    if os.path.exists(os.path.join(d, "marks")):
        lines = open(os.path.join(d, "marks")).read().splitlines()
        assert lines[0] == "ecom-marks 1", lines[:1]
        marks |= {int(l.split()[1]) for l in lines[1:] if l.split()[0] == suffix[1:]}
    return sorted(m / 1e6 for m in marks)


def stop_window_is_partial(data, base):
    """On the restarted run's dashboard, the minute the first run stopped in (open in the second
    run, which restored it, or committed by it) is partial, saying why: it holds only what came
    before that stop ("start_stop" when the restart fell in the same minute)."""
    stops = input_starts(data, ".stop")
    assert len(stops) == 1, "the first run's stop mark: %s" % stops
    stop = stops[0]

    def row():
        a = get_json(base + "/api/sales_per_minute?last=1h") or {}
        rows = a.get("rows", []) + a.get("no_orders", [])
        return next((r for r in rows if window_s(r["window_start"]) <= stop < window_s(r["window_end"])), None)
    r = wait_for(row, 30)
    assert r and r["partial"] is True and r.get("partial_why") in ("stop", "start_stop"), \
        "the first run's stop minute (stop %.3f): %s" % (stop, r)


def restart_window_is_partial(data, base):
    """In the restarted run, the minute its new broker began in is partial on the dashboard (it
    holds only what came after the restart), like the lake's first minute."""
    starts = input_starts(data)
    assert len(starts) == 2, "marks of the two runs' starts: %s" % starts
    start = starts[-1]

    def row():
        rows = (get_json(base + "/api/sales_per_minute?last=1h") or {}).get("rows") or []
        return next((r for r in rows if window_s(r["window_start"]) <= start < window_s(r["window_end"])), None)
    r = wait_for(row, 30)
    assert r and r["partial"] is True, "the restart's minute (start %.3f): %s" % (start, r)


def window_s(t):
    """Seconds since the epoch of the API's "2026-12-01T23:44:00.000Z"."""
    return calendar.timegm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) + int(t[20:23]) / 1e3


def run_restart_keeps_every_event(cs):
    """Two runs on the same --out, each with a new embedded broker: every generated event is in the
    raw tables once (none left in the broker at Ctrl-C, none skipped by stale offsets); each run
    marks where its input began, and the restart's minute is partial on its dashboard (before: only
    the lake's first minute was, so a restart in a later minute looked like a whole quiet minute);
    each run marks where its data ended, and the first run's stop minute is partial, "stop" (before:
    it looked whole)."""
    data = os.path.join(TMP, "data2")
    try:
        t0 = time.time()
        n = run_once(data, "7", 300)
        t1 = time.time()
        n += run_once(data, "8", 300, before_stop=lambda base: (restart_window_is_partial(data, base),
                                                                stop_window_is_partial(data, base)))
        starts, stops = input_starts(data), input_starts(data, ".stop")
        assert len(starts) == 2 and t0 <= starts[0] <= t1 <= starts[1] <= time.time(), \
            "starts %s, runs %.3f-%.3f-%.3f" % (starts, t0, t1, time.time())
        assert len(stops) == 2 and starts[0] < stops[0] <= t1 and starts[1] < stops[1] <= time.time(), \
            "stops %s, starts %s" % (stops, starts)
        left = sorted(os.listdir(os.path.join(data, "_ecom", "starts")))
        assert len(left) == 2 and left[0].endswith(".stop") and left[1] == "marks", \
            "each start folds the marks (its own too): only the last stop is left single: %s" % left
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


def run_on_a_loaded_root_needs_allow_uncounted(cs):
    """ecom run's stream refuses a first start on a ROOT ecom load filled (its metric tables would
    never count the loaded rows), like ecom stream, and takes the same --allow-uncounted (before:
    ecom run had no such flag, so such a ROOT could not be run at all: exit 2, unknown flag)."""
    data, events = os.path.join(TMP, "loaded"), os.path.join(TMP, "loaded.ndjson")
    subprocess.run([ECOM, "gen", "--out", events, "--seed", "5", "--users", "50", "--count", "200", "--start",
                    "2026-11-25T00:00:00Z"], check=True, capture_output=True, timeout=60)
    subprocess.run([ECOM, "load", "--input", events, "--out", data], check=True, capture_output=True, timeout=60)
    p, out_path, err_path = start_run(ECOM, data, "refused", ["--rate", "100", "--users", "300"])
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        rc = None
    err = open(err_path).read()
    cs.check(rc == 1 and "ecom load's" in err and "--allow-uncounted" in err,
             "a run on a loaded ROOT: rc %r, %s" % (rc, err[-1000:]))
    commits = os.path.join(data, "_ecom", "commits")

    def records():
        return [f for f in os.listdir(commits) if f.endswith(".commit")] if os.path.isdir(commits) else []
    cs.check(not records(), "the refused run committed %s" % records())
    try:
        n = run_once(data, "9", 100, ["--allow-uncounted"])
    except AssertionError as e:
        cs.check(False, "with --allow-uncounted: %s" % e)
        return
    cs.check(n >= 100 and records(), "with --allow-uncounted: %d events, records %s" % (n, records()))


def cpu_seconds(pid):
    """user + sys CPU time of process pid so far (all its threads), from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# What `ecom run` may spend with no page open, in CPU-seconds per minute (optimised build, default
# 50 events/s), and how often its stream may publish /status then. Measured (docs/benchmarks.md,
# "Latency"): 5.0-7.4 CPU-s and 20 publishes a second when the dashboard followed every publish
# with nobody watching; 3-4 CPU-s and about 5 a second since it does not. The CPU budget is a
# backstop against a gross regression on a loaded box; the publish rate is the mechanism.
IDLE_CPU_PER_MIN = 5.4
IDLE_PUBLISH_PER_S = 10
IDLE_WINDOW_S = 15


def status_version(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.headers.get("X-Ecom-Status-Version") or 0)
    except (OSError, ValueError):
        return 0


def run_idle_cpu(cs):
    """`ecom run` with no browser: its CPU time over IDLE_WINDOW_S (after the stream has read its
    first events) stays under the budget, while the pipeline goes on reading events."""
    data = os.path.join(TMP, "data-idle")
    p, out_path, err_path = start_run(ECOM_OPT, data, "idle", ["--seed", "5", "--quiet"])
    try:
        url = printed(p, out_path, STATUS_RE)
        if not url:
            cs.check(False, "no stream status URL: %s" % open(err_path).read()[-1000:])
            return

        def records():
            j = get_json(url)
            return j and j.get("counters", {}).get("records", 0)
        r0 = wait_for(records, 30, 0.2)
        if not r0:
            cs.check(False, "the stream read no event in 30 s")
            return
        c0, t0, v0 = cpu_seconds(p.pid), time.monotonic(), status_version(url)
        time.sleep(IDLE_WINDOW_S)  # the measurement window, not a readiness wait
        c1, t1, v1 = cpu_seconds(p.pid), time.monotonic(), status_version(url)
        r1 = records() or 0
        per_min = (c1 - c0) * 60 / (t1 - t0)
        pubs = (v1 - v0) / (t1 - t0)
        print("  idle ecom run: %.2f CPU-s in %.1f s = %.2f CPU-s per minute (budget %.1f); %.1f status publishes/s; "
              "%d events read; load %s" % (c1 - c0, t1 - t0, per_min, IDLE_CPU_PER_MIN, pubs, r1 - r0,
                                           open("/proc/loadavg").read().split()[0]))
        cs.check(r1 > r0, "the stream read no event during the window (%d -> %d)" % (r0, r1))
        cs.check(v0 > 0 and pubs < IDLE_PUBLISH_PER_S, "%.1f status publishes per second with no page open (at most %d)"
                 % (pubs, IDLE_PUBLISH_PER_S))
        cs.check(per_min < IDLE_CPU_PER_MIN, "idle ecom run used %.2f CPU-s per minute (budget %.1f)"
                 % (per_min, IDLE_CPU_PER_MIN))
        p.send_signal(signal.SIGINT)
        cs.check(p.wait(timeout=60) == 0, "exit: %s" % open(err_path).read()[-1000:])
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


if __name__ == "__main__":
    cs = Cases()
    cs.run(run_bad_usage)
    cs.run(run_smoke)
    cs.run(run_restart_keeps_every_event)
    cs.run(run_on_a_loaded_root_needs_allow_uncounted)
    cs.run(run_idle_cpu)
    sys.exit(1 if cs.failed else 0)
