"""`ecom stream --threads N`: N threads (the job's and N - 1 workers) parse and encode the raw
tables while the job's thread runs the engine in input order (src/pipeline/workers.c). Every
table of a run with N threads must hold exactly the rows of the one-thread run on the same input:
DuckDB EXCEPT ALL both ways over every table of the lake (only `ingest_ts`, the wall clock of a
rejected row, is left out), for N = 2, 3 and 0 (the cores available), with one epoch and with
many commits (barriers), from a file and from a pipe, with escaped strings, with lines longer
than the file source's read block, after a storage error in a worker (rollback and retry), and
after SIGKILLs and restarts."""
import json
import os
import subprocess
import sys
import time

import duckdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ECOM, ECOM_OPT, TMP, Suite, kill9_until_done, run  # noqa: E402

suite = Suite()
case = suite.case

# Late events beyond the 2m lateness (correction rows, late counts), duplicates, bad lines.
LATE = os.path.join(TMP, "late.ndjson")
# Late only within the lateness: the output does not depend on where the commits fall, so
# runs with commits every few ms are comparable.
SOFT = os.path.join(TMP, "soft.ndjson")


def gen(path, late_max):
    run([ECOM_OPT, "gen", "--seed", "17", "--users", "300", "--start", "2026-11-25T09:00:00Z", "--rate", "30",
         "--count", "30000", "--quiet", "--dup-frac", "0.02", "--bad-frac", "0.01", "--late-frac", "0.05",
         "--late-max", late_max, "--out", path])


def stream(src, root, *extra, binary=ECOM, stdin=None, env=None):
    return run([binary, "stream", "--input", src, "--out", root, "--quiet", *extra], stdin=stdin, env=env)


def tables(root):
    return sorted(d for d in os.listdir(root)
                  if not d.startswith(("_", ".")) and os.path.isdir(os.path.join(root, d)))


def hidden_files(root):
    return [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
            if f.startswith(".") and "_ecom" not in d]


def assert_same_lake(got, want):
    """Every table of both lakes: the same rows as multisets (EXCEPT ALL both ways)."""
    assert tables(got) == tables(want), f"tables {tables(got)} vs {tables(want)}"
    con = duckdb.connect()
    total = 0
    for t in tables(want):
        g = f"read_parquet('{got}/{t}/**/*.parquet', hive_partitioning=1)"
        w = f"read_parquet('{want}/{t}/**/*.parquet', hive_partitioning=1)"
        cols = ", ".join(f'"{r[0]}"' for r in con.execute(f"DESCRIBE SELECT * FROM {w}").fetchall()
                         if r[0] != "ingest_ts")
        n = con.execute(f"SELECT count(*) FROM {w}").fetchone()[0]
        extra = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {g} EXCEPT ALL SELECT {cols} FROM {w})").fetchone()[0]
        lost = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {w} EXCEPT ALL SELECT {cols} FROM {g})").fetchone()[0]
        assert extra == 0 and lost == 0, f"{t}: {extra} rows not in the one-thread run, {lost} missing (of {n})"
        total += n
    assert total > 20000, f"only {total} rows: not a meaningful comparison"
    assert not hidden_files(got), f"hidden files left: {hidden_files(got)[:3]}"


def one_thread(src, name, *extra):
    root = os.path.join(TMP, name)
    if not os.path.isdir(root):
        stream(src, root, "--threads", "1", *extra)
    return root


def n_threads_equal_one_thread():
    """One epoch (advances only every 4096 records, as one thread): late events beyond the
    lateness make correction rows, so the metric tables depend on the engine's exact order."""
    gen(LATE, "5m")
    want = one_thread(LATE, "late_1", "--commit-interval", "1h")
    con = duckdb.connect()
    corr = con.execute(f"SELECT count(*) FROM read_parquet('{want}/category_activity/**/*.parquet') "
                       "WHERE correction").fetchone()[0]
    assert corr > 0, "no correction rows: the input has no late events to test"
    for n in (2, 3):
        got = os.path.join(TMP, f"late_{n}")
        stream(LATE, got, "--commit-interval", "1h", "--threads", str(n))
        names = os.listdir(os.path.join(got, "views", "date=2026-11-25"))
        # whichever thread is free writes a batch (the job's thread only when it would wait)
        writers = {f.split("-w")[1][0] for f in names}
        assert writers and writers <= {str(w) for w in range(n)}, f"files: {names}"
        assert_same_lake(got, want)


def many_commits_equal_one_thread():
    """A commit every 30 ms is a barrier across the workers each time."""
    gen(SOFT, "60s")
    want = one_thread(SOFT, "soft_1")
    got = os.path.join(TMP, "soft_2")
    stream(SOFT, got, "--commit-interval", "30ms", "--threads", "2")
    assert len(os.listdir(os.path.join(got, "views", "date=2026-11-25"))) > 2, "too few commits to test"
    assert_same_lake(got, want)


def pipe_equal_one_thread():
    want = one_thread(SOFT, "soft_1")
    got = os.path.join(TMP, "pipe_2")
    with open(SOFT, "rb") as f:
        stream("-", got, "--threads", "2", stdin=f)
    con = duckdb.connect()
    # a rejected row names its input: "-" here, the path in the file run
    src = con.execute(f"SELECT DISTINCT source FROM read_parquet('{got}/rejected/**/*.parquet')").fetchall()
    assert src == [("-",)], src
    os.rename(os.path.join(got, "rejected"), os.path.join(TMP, "pipe_rejected"))
    os.rename(os.path.join(want, "rejected"), os.path.join(TMP, "soft_rejected"))
    try:
        assert_same_lake(got, want)
    finally:
        os.rename(os.path.join(TMP, "soft_rejected"), os.path.join(want, "rejected"))


def escape_strings(obj):
    """JSON text of obj with the first character of every string value written as \\uXXXX
    (the same strings once parsed, but decoded into the parser's arena, not views into the line)."""
    if isinstance(obj, dict):
        return "{" + ",".join(json.dumps(k) + ":" + escape_strings(v) for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ",".join(escape_strings(v) for v in obj) + "]"
    if isinstance(obj, str) and obj and ord(obj[0]) < 0x10000:
        return '"\\u%04x' % ord(obj[0]) + json.dumps(obj[1:])[1:]
    return json.dumps(obj)


def escaped_strings_equal_one_thread():
    """Every other valid line with escaped strings (and orders' items): a parsed event's views
    into its thread's parser are moved to the batch before the parser's next line (workers.c
    event_keep); without that, N threads would write other threads' or later lines' strings."""
    src = os.path.join(TMP, "escaped.ndjson")
    with open(SOFT) as f, open(src, "w") as out:
        for i, line in enumerate(f):
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            out.write(escape_strings(obj) + "\n" if i % 2 == 0 and isinstance(obj, dict) else line)
    want = one_thread(src, "escaped_1")
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*) FROM read_parquet('{want}/orders/**/*.parquet')").fetchone()[0]
    assert n > 100, f"only {n} orders: the items are not tested"
    for n in (2, 3):
        got = os.path.join(TMP, f"escaped_{n}")
        stream(src, got, "--threads", str(n))
        assert_same_lake(got, want)
    # the escapes were decoded: the same views as the unescaped input's
    soft = one_thread(SOFT, "soft_1")
    q = "SELECT count(*) FROM read_parquet('{}/views/**/*.parquet') WHERE city = 'Guayaquil'"
    assert con.execute(q.format(want)).fetchone()[0] == con.execute(q.format(soft)).fetchone()[0] > 0


def long_lines_equal_one_thread():
    """Lines longer than the file source's 1 MiB read block among ordinary ones: the block a
    batch holds (the slots keep the source's block instead of copying it: source_ops.hold) is
    never refilled; the reader goes on in another, growing it for a long line."""
    src = os.path.join(TMP, "long.ndjson")
    with open(SOFT) as f, open(src, "w") as out:
        for i, line in enumerate(f):
            out.write(line)
            if i % 7000 == 3500:  # 1.5, 2.5, 3.5 and 4.5 MiB: rejected rows that keep their text
                out.write('{"event_type":"page_view","pad":"' + "x" * ((i // 7000) * (1 << 20) + (3 << 19)) + '"}\n')
    want = one_thread(src, "long_1")
    con = duckdb.connect()
    q = f"SELECT count(*) FROM read_parquet('{want}/rejected/**/*.parquet') WHERE octet_length(raw) > 1000000"
    assert con.execute(q).fetchone()[0] == 4, "the long lines are not in the one-thread run"
    for n in (2, 3):
        got = os.path.join(TMP, f"long_{n}")
        stream(src, got, "--threads", str(n), "--commit-interval", "50ms")
        assert_same_lake(got, want)


def worker_storage_error_is_retried():
    """The first two part files each worker creates under views/ fail: the epoch rolls back, is
    read again, and the tables equal the clean run's."""
    want = one_thread(SOFT, "soft_1")
    got = os.path.join(TMP, "fault_2")
    env = dict(os.environ, ECOM_TEST_STORAGE_FAULTS="prefix=views,count=2")
    r = subprocess.run([ECOM, "stream", "--input", SOFT, "--out", got, "--threads", "2",
                        "--commit-interval", "50ms"], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-1500:]
    assert "injected storage fault" in r.stderr, "no fault was injected: the test tests nothing"
    assert_same_lake(got, want)


def kill9_restart_is_exactly_once():
    """SIGKILL at random moments of a 2-thread run, restarted each time: the final tables equal
    the uninterrupted one-thread run's."""
    want = one_thread(SOFT, "soft_1")
    root = os.path.join(TMP, "kill_2")
    # The lease file is written whole (storage_put_if_absent: a private temporary, then link), so a
    # kill at any moment leaves either no lease or a whole one of a dead pid: every restart must run.
    args = [ECOM_OPT, "stream", "--input", SOFT, "--quiet", "--commit-interval", "20ms", "--threads", "2",
            "--out"]
    t0 = time.monotonic()
    run(args + [os.path.join(TMP, "kill_timing")])
    full = time.monotonic() - t0
    kills = kill9_until_done(args, root, full, seed=5)
    assert_same_lake(root, want)
    commits = os.listdir(os.path.join(root, "_ecom", "commits"))
    assert len(commits) == 1, f"commit log not compact: {commits}"
    print(f"  {kills} kills, every restart ran, final tables identical")


def threads_0_is_the_cores_available():
    """--threads 0: as many threads as the process's affinity mask has cores (one core: the
    one-thread loop, no -w<k> files); the tables equal one thread's either way."""
    want = one_thread(SOFT, "soft_1")
    one = os.path.join(TMP, "auto_1core")
    run(["taskset", "-c", str(min(os.sched_getaffinity(0))), ECOM, "stream", "--input", SOFT, "--out", one,
         "--quiet", "--threads", "0"])
    names = os.listdir(os.path.join(one, "views", "date=2026-11-25"))
    assert names and not any("-w" in f for f in names), f"one core, yet worker files: {names}"
    got = os.path.join(TMP, "auto_all")
    stream(SOFT, got, "--threads", "0")
    cores = len(os.sched_getaffinity(0))
    writers = {f.split("-w")[1][0] for f in os.listdir(os.path.join(got, "views", "date=2026-11-25")) if "-w" in f}
    assert (cores == 1) == (not writers), f"{cores} cores, writers {writers}"
    assert_same_lake(got, want)


def default_is_the_cores_available():
    """No --threads: the cores of the affinity mask (with more than one, worker files -w<k>);
    --threads 1 keeps the one-thread loop (no -w files). The tables equal either way."""
    want = one_thread(SOFT, "soft_1")
    names = os.listdir(os.path.join(want, "views", "date=2026-11-25"))
    assert names and not any("-w" in f for f in names), f"--threads 1, yet worker files: {names}"
    got = os.path.join(TMP, "default")
    stream(SOFT, got)
    cores = len(os.sched_getaffinity(0))
    writers = {f.split("-w")[1][0] for f in os.listdir(os.path.join(got, "views", "date=2026-11-25")) if "-w" in f}
    assert (cores > 1) == bool(writers), f"{cores} cores, writers {writers}: the default is not the cores"
    assert_same_lake(got, want)


def trickle_has_one_writer():
    """A live trickle (a pipe, a line every few ms, 200 ms epochs): each epoch's rows go to one
    thread's files, as with one thread. Before the barrier's rule (workers_all_busy), the job's
    thread took the epoch's last write while the worker was waking up for it, and nearly every
    epoch had a file per thread per raw table. The job's thread may still write beside a busy
    worker, so a few w0 files are allowed, not one per epoch."""
    lines = open(SOFT, "rb").read().splitlines(keepends=True)[:1200]
    root = os.path.join(TMP, "trickle")
    p = subprocess.Popen([ECOM_OPT, "stream", "--input", "-", "--out", root, "--quiet", "--commit-interval",
                          "200ms", "--threads", "2"], stdin=subprocess.PIPE)
    for i, line in enumerate(lines):
        p.stdin.write(line)
        p.stdin.flush()
        if i % 4 == 0:
            time.sleep(0.01)  # the input's pace (a producer's trickle), not a wait for readiness
    p.stdin.close()
    assert p.wait(timeout=120) == 0
    files = [f for d, _, fs in os.walk(os.path.join(root, "views")) for f in fs if f.endswith(".parquet")]
    epochs = {f.split("-g")[0] for f in files}
    by = {w: sum(1 for f in files if f"-w{w}-" in f) for w in (0, 1)}
    assert len(epochs) >= 10, f"only {len(epochs)} epochs: not a trickle"
    assert by[0] <= max(3, len(epochs) // 4), f"{by} files by thread over {len(epochs)} epochs: two writers"


def bad_thread_counts_refused():
    for args in (["--threads", "-1"], ["--threads", "65"]):
        r = subprocess.run([ECOM, "stream", "--input", SOFT, "--out", os.path.join(TMP, "bad"), *args],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
    r = subprocess.run([ECOM, "stream", "--brokers", "127.0.0.1:1", "--scale-out", "--threads", "2", "--out",
                        os.path.join(TMP, "bad")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--threads" in r.stderr, (r.returncode, r.stderr)


case(n_threads_equal_one_thread)
case(many_commits_equal_one_thread)
case(escaped_strings_equal_one_thread)
case(pipe_equal_one_thread)
case(long_lines_equal_one_thread)
case(worker_storage_error_is_retried)
case(kill9_restart_is_exactly_once)
case(threads_0_is_the_cores_available)
case(default_is_the_cores_available)
case(trickle_has_one_writer)
case(bad_thread_counts_refused)
suite.exit()
