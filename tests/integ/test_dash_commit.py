"""test_dash_commit — what the dashboard shows while a commit is being published (docs/dashboard.md
"While a commit is published").

`ecom stream` writes an epoch's commit record (the commit point) and then renames its staged files
(`.part-....parquet.tmp`) into the date partitions one by one, so a poll of `ecom dash` between two
renames lists some of a committed epoch's files and not others. Before, such a poll answered
from the files it happened to list: a minute whose sales file was not renamed yet while its
category_activity file was read "No data" (missing, units sold), the sales totals null, and the
funnel of a day without its file was short. The half-published moment is made here
deterministically: a lake the current binary wrote, then some files its newest record names moved
back to their staged names (exactly what a reader sees between the record and those renames; also
what a stream killed between two renames leaves until its next start).

  - half_published_reads_staged: the answers (sales, summary, funnel, a keyed table) equal the
    complete lake's, the same generation, no missing minute; /api/health names the record and how
    many of its files are still staged.
  - renamed_while_serving: a staged file renamed into place after the poll that listed it (and
    before a range reads its row groups) is read at its final name: the same numbers.
  - stream_stopped_between_renames: the real writer, `ecom stream` stopped (SIGSTOP, by the test
    storage's `stop` fault) right before it renames its funnel files (after its record and its
    sales, category, ... renames): the answers equal those after it goes on and exits.
  - commit_during_listing: a commit that begins while the dashboard lists the tables (the
    dashboard stopped, by the same fault, right before it lists sales_per_minute, after it read
    the commit log; meanwhile the stream, stepped one storage call at a time, writes its next
    record and renames its sales file, and stops before its category_activity rename): the
    commit log moved, so the poll lists again and answers from the whole commit.
  - lost_is_not_staged: a file the record names that is neither staged nor published is lost, and
    the answers say so as before ("No data" with why), never the complete numbers.
"""
import os
import shutil
import signal
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from dashlib import Dash  # noqa: E402
from testlib import ECOM_OPT, TMP, Suite, run  # noqa: E402

START = "2026-11-23T23:47:23Z"
FROM, TO = "2026-11-23T23:00:00.000Z", "2026-11-24T01:00:00.000Z"
STATE = {}
APIS = ["/api/sales_per_minute", "/api/summary", "/api/funnel", "/api/category_activity", "/api/sales_by_city"]


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def lake():
    if "lake" not in STATE:
        root = os.path.join(TMP, "lake")
        ev = os.path.join(TMP, "ev.ndjson")
        run([ECOM_OPT, "gen", "--seed", "7", "--users", "400", "--start", START, "--rate", "15", "--duration", "25m",
             "--out", ev, "--quiet"])
        run([ECOM_OPT, "stream", "--input", ev, "--out", root, "--quiet"])
        STATE["lake"] = root
    return STATE["lake"]


def newest_record(root):
    d = os.path.join(root, "_ecom", "commits")
    name = sorted(n for n in os.listdir(d) if n.endswith(".commit"))[-1]
    renames = []
    for line in open(os.path.join(d, name)):
        if line.startswith("rename "):
            _, a, b = line.split()
            renames.append((a, b))
    return "_ecom/commits/" + name, renames


def unpublish(root, tables, date="2026-11-24"):
    """Moves the files of `tables` on `date` that the newest record names back to their staged
    names (the record stays): the moment between the record and those renames."""
    rec, renames = newest_record(root)
    moved = []
    for a, b in renames:
        if b.split("/")[0] in tables and ("/date=%s/" % date) in b:
            os.rename(os.path.join(root, b), os.path.join(root, a))
            moved.append((a, b))
    check(len(moved) == len(tables), "the record names one file per table on %s: %r" % (date, moved))
    return rec, moved


def answers(d, extra=""):
    out = {}
    for api in APIS:
        st, j = d.get_json("%s?from=%s&to=%s%s" % (api, FROM, TO, extra))
        check(st == 200, "%s: %s %r" % (api, st, j))
        out[api] = j
    return out


def stopped_clean(d):
    rc, err = d.stop()
    check(rc == 0 and "AddressSanitizer" not in err and "runtime error" not in err, "dash exit %s: %s" % (rc, err[-800:]))


def answers_of(root, *args):
    """The answers of a fresh Dash over root, which then must stop cleanly."""
    d = Dash(root, *args)
    try:
        return answers(d)
    finally:
        stopped_clean(d)


def complete_answers():
    if "complete" not in STATE:
        STATE["complete"] = answers_of(lake())
        s = STATE["complete"]["/api/sales_per_minute"]
        check(s["missing_windows"] == 0 and s["orders"] and s["orders"] > 0, "the complete lake: %r" % s["orders"])
    return STATE["complete"]


def copy(name):
    root = os.path.join(TMP, name)
    shutil.copytree(lake(), root)
    return root


def half_published_reads_staged():
    want = complete_answers()
    root = copy("half")
    rec, moved = unpublish(root, ["sales_per_minute", "funnel", "sales_by_city"])
    d = Dash(root)
    try:
        got = answers(d)
        for api in APIS:
            check(got[api] == want[api], "%s while %s is half published differs from the complete lake's:\n got %r\nwant %r"
                  % (api, rec, {k: got[api].get(k) for k in ("orders", "revenue", "viewed", "missing_windows", "total_rows")},
                     {k: want[api].get(k) for k in ("orders", "revenue", "viewed", "missing_windows", "total_rows")}))
        st, h = d.get_json("/api/health")
        pub = h["tables"].get("publishing")
        check(st == 200 and pub == [{"record": rec, "staged": len(moved)}], "health names the record: %r" % (pub,))
    finally:
        stopped_clean(d)
    for a, b in moved:   # published: nothing staged is said any more
        os.rename(os.path.join(root, a), os.path.join(root, b))
    d = Dash(root)
    try:
        st, h = d.get_json("/api/health")
        check("publishing" not in h["tables"], "nothing staged: %r" % h["tables"].get("publishing"))
    finally:
        stopped_clean(d)


def renamed_while_serving():
    want = complete_answers()
    root = copy("renamed")
    rec, moved = unpublish(root, ["sales_per_minute", "category_activity"])
    d = Dash(root, "--poll", "1h")   # one listing: the poll sees the staged names
    try:
        st, j = d.get_json("/api/health")
        check(st == 200 and j["tables"].get("publishing"), "staged files listed: %r" % (j["tables"].get("publishing"),))
        for a, b in moved:   # the stream finishes its renames after that poll
            os.rename(os.path.join(root, a), os.path.join(root, b))
        got = answers(d)
        for api in APIS:
            check(got[api] == want[api], "%s after the renames differs: got %r want %r" %
                  (api, got[api].get("orders"), want[api].get("orders")))
    finally:
        stopped_clean(d)


def stream_stopped_between_renames():
    lake()
    root = os.path.join(TMP, "stopped")
    env = {**os.environ, "ECOM_TEST_STORAGE_FAULTS": "prefix=funnel/,match=/part-e,from=1,count=1,stop"}
    p = subprocess.Popen([ECOM_OPT, "stream", "--input", os.path.join(TMP, "ev.ndjson"), "--out", root, "--quiet"],
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = p.stderr.readline()   # printed right before it stops itself
        check("storage faults: stopping before call 1 on funnel/" in line, "the stream stops at the funnel: %r" % line)
        rec, renames = newest_record(root)
        staged = [b for a, b in renames if os.path.exists(os.path.join(root, a))]
        check(any(b.startswith("funnel/") for b in staged) and not any(b.startswith("sales_per_minute/") for b in staged),
              "the funnel staged, the sales published: %r" % staged)
        during = answers_of(root)
    finally:
        os.kill(p.pid, signal.SIGCONT)
        rc = p.wait(timeout=120)
    check(rc == 0, "the stream went on and exited %s" % rc)
    after = answers_of(root)
    compare(during, after, "while the stream is stopped between its renames")


def stopped(pid):
    """Blocks until the child pid has stopped itself (SIGSTOP); False when it exited instead."""
    _, st = os.waitpid(pid, os.WUNTRACED)
    return os.WIFSTOPPED(st)


class Stepper:
    """`ecom stream` stopping before every storage call it makes (the `stop` fault on all of
    them), resumed one call at a time."""
    def __init__(self, args):
        env = {**os.environ, "ECOM_TEST_STORAGE_FAULTS": "from=1,count=1000000,stop"}
        self.p = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env)
        self.exited = False

    def next_call(self):
        """Waits for the next stop; its line ("storage faults: stopping before call N on PATH"), or
        None when the stream exited."""
        while True:
            line = self.p.stderr.readline()
            if not line:
                return None
            if line.startswith("storage faults: stopping"):
                if not stopped(self.p.pid):
                    self.exited = True
                    return None
                return line

    def resume(self):
        os.kill(self.p.pid, signal.SIGCONT)

    def finish(self):
        while not self.exited:
            self.resume()
            if self.next_call() is None:
                break
        self.p.stderr.close()
        try:
            self.p.wait(timeout=60)
        except ChildProcessError:
            pass


def commit_during_listing():
    root = os.path.join(TMP, "during")
    ev = os.path.join(TMP, "ev.ndjson")
    lake()
    lines = open(ev).readlines()
    part = os.path.join(TMP, "during.ndjson")
    with open(part, "w") as f:   # the first run: 60 % of the input, one commit
        f.writelines(lines[:len(lines) * 6 // 10])
    run([ECOM_OPT, "stream", "--input", part, "--out", root, "--quiet"])
    shutil.copy(ev, part)        # then the whole file: the next run commits the rest
    s = Stepper([ECOM_OPT, "stream", "--input", part, "--out", root, "--quiet"])
    d = None
    try:
        line = s.next_call()
        while line is not None and "on _ecom/commits/00000000000000000003.commit" not in line:
            s.resume()
            line = s.next_call()
        check(line is not None, "the stream stops before its record 3")
        d = Dash(root, "--poll", "1h", env={"ECOM_TEST_STORAGE_FAULTS": "prefix=sales_per_minute,reads,count=1,stop"})
        got = {}
        t = threading.Thread(target=lambda: got.update(first=d.get_json("/api/health")))
        t.start()
        line = d.proc.stderr.readline()
        check("stopping before call 1 on sales_per_minute" in line and stopped(d.proc.pid),
              "the dashboard stops before it lists sales_per_minute: %r" % line)
        s.resume()   # record 3, then its renames up to category_activity's
        line = s.next_call()
        while line is not None and "on category_activity/" not in line:
            s.resume()
            line = s.next_call()
        check(line is not None and os.path.exists(os.path.join(root, "_ecom/commits/00000000000000000003.commit")),
              "the stream stops before renaming its category_activity file, after its record")
        os.kill(d.proc.pid, signal.SIGCONT)
        t.join(60)
        during = answers(d)
        check(got.get("first", (0,))[0] == 200, "health: %r" % (got.get("first"),))
    finally:
        if d:
            os.kill(d.proc.pid, signal.SIGCONT)
            stopped_clean(d)
        s.finish()
    after = answers_of(root)
    compare(during, after, "while a commit began during the listing")


def compare(during, after, what):
    bad = []
    for api in APIS:
        diff = sorted(k for k in set(during[api]) | set(after[api]) if during[api].get(k) != after[api].get(k))
        if diff:
            bad.append("%s differs in %s: got %.200r want %.200r" % (api, diff, [during[api].get(k) for k in diff],
                                                                    [after[api].get(k) for k in diff]))
    check(not bad, what + ":\n  " + "\n  ".join(bad))


def lost_is_not_staged():
    complete_answers()
    root = copy("lost")
    rec, moved = unpublish(root, ["sales_per_minute"])
    for a, _ in moved:
        os.remove(os.path.join(root, a))
    s = answers_of(root)["/api/sales_per_minute"]
    check(s["missing_windows"] > 0 and s["orders"] is None and
          all(m["why"] == "units_sold" for m in s["missing"]), "a lost sales file is no data with why: %r %r" %
          (s["missing_windows"], s["orders"]))


if __name__ == "__main__":
    s = Suite()
    for fn in (half_published_reads_staged, renamed_while_serving, stream_stopped_between_renames, commit_during_listing,
               lost_is_not_staged):
        s.case(fn)
    s.exit()
