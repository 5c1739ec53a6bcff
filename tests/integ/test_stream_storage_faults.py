"""ecom stream --input under storage faults: every table equals an uninterrupted run.

Faults are injected by the test-only storage wrapper (src/pipeline/faults.c, enabled by
ECOM_TEST_STORAGE_FAULTS): the tests run as root, for whom a chmod'ed directory stays writable.
Issue 11 finding 1: a storage error before the first commit used to lose input, because the
file was re-positioned after recovery only when the committed offset was > 0.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ECOM, ECOM_OPT, TMP, Suite, run  # noqa: E402
from lakecmp import assert_same_tables  # noqa: E402

suite = Suite()
case = suite.case


def gen(path, count):
    run([ECOM_OPT, "gen", "--seed", "23", "--users", "300", "--start", "2026-11-25T09:00:00Z", "--rate", "25",
         "--count", str(count), "--dup-frac", "0.01", "--bad-frac", "0.01", "--quiet", "--out", path])


def stream(ndjson, root, *extra, faults=None):
    env = dict(os.environ)
    env.pop("ECOM_TEST_STORAGE_FAULTS", None)
    if faults:
        env["ECOM_TEST_STORAGE_FAULTS"] = faults
    return run([ECOM, "stream", "--input", ndjson, "--out", root, *extra], env=env, timeout=300)


SHORT = os.path.join(TMP, "short.ndjson")
gen(SHORT, 20000)
CLEAN = os.path.join(TMP, "r_clean")
stream(SHORT, CLEAN, "--quiet")


def commit_dir_unwritable_mid_input():
    """Epochs of 20 ms: the first commits fail while most of the input is still unread."""
    root = os.path.join(TMP, "r_mid")
    r = stream(SHORT, root, "--commit-interval", "20ms", faults="prefix=_ecom/commits,count=4")
    assert "injected storage fault" in r.stderr, f"no fault was injected: {r.stderr[-800:]}"
    assert_same_tables(root, CLEAN)


def first_commit_at_end_of_input_fails():
    """Default 5 s epochs on a short input: the first commit is the one at end of input."""
    root = os.path.join(TMP, "r_end")
    r = stream(SHORT, root, faults="prefix=_ecom/commits,count=2")
    assert r.stderr.count("injected storage fault") >= 2, f"faults not injected: {r.stderr[-800:]}"
    assert_same_tables(root, CLEAN)


def data_file_write_fails_mid_input():
    """A data file of the second epoch cannot be created: that epoch is redone from its start."""
    root = os.path.join(TMP, "r_data")
    r = stream(SHORT, root, "--commit-interval", "20ms", faults="prefix=views,from=3,count=2")
    assert "injected storage fault" in r.stderr, f"no fault was injected: {r.stderr[-800:]}"
    assert_same_tables(root, CLEAN)


def stream_fifo(name, ndjson, *extra, faults=None):
    """Streams ndjson through a FIFO (which cannot seek) into ROOT name; returns (root, result)."""
    fifo = os.path.join(TMP, name + ".fifo")
    os.mkfifo(fifo)
    root = os.path.join(TMP, name)
    writer = subprocess.Popen(["sh", "-c", f"cat '{ndjson}' > '{fifo}'"])
    try:
        r = stream(fifo, root, *extra, faults=faults)
    finally:
        writer.kill()
        writer.wait()
    return root, r


def fifo_input_is_read_whole():
    """A pipe cannot seek: the first positioning at byte 0 must not try to."""
    root, _ = stream_fifo("r_fifo", SHORT, "--quiet", "--commit-interval", "50ms")
    assert_same_tables(root, CLEAN)


def fifo_storage_errors_after_commits_are_retried():
    """Commits 3-5 fail after two have succeeded: the pipe's uncommitted lines are replayed."""
    root, r = stream_fifo("r_fifo_mid", SHORT, "--commit-interval", "20ms",
                          faults="prefix=_ecom/commits,from=5,count=3")
    assert "injected storage fault" in r.stderr, f"no fault was injected: {r.stderr[-800:]}"
    assert_same_tables(root, CLEAN)


LONG = os.path.join(TMP, "long.ndjson")


def fifo_first_commit_fails_after_spill():
    """The whole input (more than the in-memory limit of uncommitted lines, so they are spilled
    to a temporary file) is read before the first commit, which fails: all of it is replayed."""
    gen(LONG, 60000)
    assert os.path.getsize(LONG) > 16 << 20, "input smaller than the spill limit"
    want = os.path.join(TMP, "r_long_clean")
    stream(LONG, want, "--quiet")
    root, r = stream_fifo("r_fifo_end", LONG, "--commit-interval", "1h", faults="prefix=_ecom/commits,count=2")
    assert r.stderr.count("injected storage fault") >= 2, f"faults not injected: {r.stderr[-800:]}"
    assert_same_tables(root, want)


SWEEP_RUNS = 24  # bound: runs of the sweep below (each ~1 s)


def every_storage_call_may_fail():
    """Fails the Nth storage call (reads included) of a multi-epoch run, for N sampled evenly
    over every call the run makes (issue 11: fault injection at every step of an epoch)."""
    small = os.path.join(TMP, "small.ndjson")
    gen(small, 8000)
    want = os.path.join(TMP, "r_small_clean")
    # One thread: the sweep numbers one storage connection's calls, and each worker thread has
    # a connection (and a fault plan) of its own (a worker's failure: test_stream_threads).
    args = ("--commit-interval", "10ms", "--threads", "1")
    r = stream(small, want, *args, faults="from=1000000000,reads,report")
    m = re.search(r"storage faults: (\d+) calls counted, 0 failed", r.stderr)
    assert m, f"no call count reported: {r.stderr[-500:]}"
    total = int(m.group(1))
    assert total > 50, f"only {total} storage calls: too few epochs for a sweep"
    # Epochs are cut by processing time, so runs make different numbers of calls: a late N may
    # fall after a run's last call (then nothing fails, and the tables must still be equal).
    ns = sorted({1 + (total - 1) * k // (SWEEP_RUNS - 1) for k in range(SWEEP_RUNS)})
    injected = 0
    for n in ns:
        root = os.path.join(TMP, f"r_sweep_{n}")
        r = stream(small, root, *args, faults=f"from={n},count=1,reads,report")
        injected += "1 failed" in r.stderr
        try:
            assert_same_tables(root, want, min_views=100)
        except AssertionError as e:
            raise AssertionError(f"failing storage call {n} of {total}: {e}") from None
    assert injected >= len(ns) // 2, f"only {injected} of {len(ns)} runs met their fault"
    print(f"  sweep: {len(ns)} runs over {total} calls, {injected} with a failed call, all tables equal")


case(fifo_input_is_read_whole)
case(fifo_storage_errors_after_commits_are_retried)
case(fifo_first_commit_fails_after_spill)
case(commit_dir_unwritable_mid_input)
case(first_commit_at_end_of_input_fails)
case(data_file_write_fails_mid_input)
case(every_storage_call_may_fail)
suite.exit()
