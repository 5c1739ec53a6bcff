"""Incremental checkpoints (issue 14): a commit record names a chain, a full checkpoint per
partition then delta files (`ckpt_delta` lines). A run killed with SIGKILL while its newest
record names deltas (between a delta and the next full checkpoint) restarts from the full plus
every delta, and its tables equal an uninterrupted run. A delta file with a flipped byte, or
missing, is refused at restart by name (exit 1 at once, no retry loop), never used.
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ECOM, ECOM_OPT, TMP, Suite, run  # noqa: E402
from lakecmp import assert_same_tables  # noqa: E402

suite = Suite()
case = suite.case

INPUT = os.path.join(TMP, "chain_in.ndjson")
run([ECOM_OPT, "gen", "--seed", "31", "--users", "400", "--start", "2026-11-25T09:00:00Z", "--rate", "25",
     "--count", "60000", "--dup-frac", "0.01", "--bad-frac", "0.01", "--late-frac", "0.03", "--late-max", "60s",
     "--quiet", "--out", INPUT])
CLEAN = os.path.join(TMP, "chain_clean")
run([ECOM, "stream", "--input", INPUT, "--out", CLEAN, "--quiet"], timeout=300)
ARGS = ["stream", "--input", INPUT, "--quiet", "--commit-interval", "20ms", "--out"]


def newest_record(root):
    recs = sorted(glob.glob(os.path.join(root, "_ecom", "commits", "*.commit")))
    if not recs:
        return ""
    try:
        with open(recs[-1]) as f:
            return f.read()
    except FileNotFoundError:  # compacted between the listing and the open
        return ""


def deltas_of(rec):
    return re.findall(r"^ckpt_delta (\S+)$", rec, re.M)


def kill_when_deltas(root, want):
    """Starts a run and SIGKILLs it once its newest record names >= want deltas. Returns the
    record that was newest after the kill, or None if the run ended first."""
    p = subprocess.Popen([ECOM, *ARGS, root], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while p.poll() is None and time.monotonic() - t0 < 120:
        if len(deltas_of(newest_record(root))) >= want:
            p.send_signal(signal.SIGKILL)
            p.wait()
            return newest_record(root)
        time.sleep(0.002)
    if p.poll() is None:
        p.kill()
        p.wait()
        raise AssertionError("no record with deltas within 120 s")
    assert p.returncode == 0, f"stream exited {p.returncode}: {p.stderr.read()[-1500:]}"
    return None


def killed_between_delta_and_full_is_exactly_once():
    root = os.path.join(TMP, "chain_kill")
    kills, named = 0, []
    for want in (1, 3, 2, 4, 1):
        rec = kill_when_deltas(root, want)
        if rec is None:
            break
        kills += 1
        named.append(len(deltas_of(rec)))
        assert deltas_of(rec), "killed without deltas in the newest record: the test proves nothing"
        for path in deltas_of(rec) + re.findall(r"^ckpt \d+ (\S+)$", rec, re.M):
            assert os.path.isfile(os.path.join(root, path)), f"{path} named by the record is gone"
    assert kills >= 3, f"only {kills} kills: the run was too quick"
    run([ECOM, *ARGS, root], timeout=300)
    assert_same_tables(root, CLEAN)
    state = sorted(os.listdir(os.path.join(root, "_ecom", "state")))
    rec = newest_record(root)
    kept = set(os.path.basename(p) for p in deltas_of(rec) + re.findall(r"^ckpt \d+ (\S+)$", rec, re.M))
    assert set(state) == kept, f"state files beyond the chain the record names: {sorted(set(state) - kept)[:4]}"
    print(f"  {kills} kills with {named} deltas named, tables equal the uninterrupted run; state = the chain "
          f"({len(state)} files)")


def refused(root, what):
    r = subprocess.run([ECOM, *ARGS, root], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, f"{what}: exit {r.returncode}: {r.stderr[-800:]}"
    assert "retrying" not in r.stderr, f"{what}: retried instead of refusing: {r.stderr[-800:]}"
    return r.stderr


def corrupt_or_missing_delta_is_refused_by_name():
    base = os.path.join(TMP, "chain_bad")
    rec = kill_when_deltas(base, 2)
    assert rec is not None, "the run ended before two deltas"
    deltas = deltas_of(rec)
    # a flipped byte in each of three positions of the newest delta: header, middle, last byte
    path = deltas[-1]
    size = os.path.getsize(os.path.join(base, path))
    for at in (9, size // 2, size - 1):
        root = os.path.join(TMP, f"chain_flip{at}")
        shutil.copytree(base, root)
        with open(os.path.join(root, path), "r+b") as f:
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 0x10]))
        err = refused(root, f"byte {at} of {path} flipped")
        assert "corrupt checkpoint" in err and path in err, err[-800:]
    print(f"  flipped bytes of {path} ({size} bytes): {err.strip().splitlines()[-1][:200]}")
    # the first delta missing
    root = os.path.join(TMP, "chain_missing")
    shutil.copytree(base, root)
    os.remove(os.path.join(root, deltas[0]))
    err = refused(root, f"{deltas[0]} removed")
    assert f"checkpoint {deltas[0]} named by the commit log is missing" in err, err[-800:]
    # the intact copy resumes and ends equal to the uninterrupted run
    run([ECOM, *ARGS, base], timeout=300)
    assert_same_tables(base, CLEAN)


def last_line(stderr):
    m = re.search(r"checkpoints: (\d+) full \(.*?\), (\d+) delta", stderr)
    assert m, stderr[-800:]
    return int(m.group(1)), int(m.group(2))


def state_bytes(root):
    d = os.path.join(root, "_ecom", "state")
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def growing_state_writes_one_full_then_deltas():
    """A backfill whose funnel horizon (90 min) outlasts the input: the state only grows, and
    the deltas hold it once. Six restarts of one commit each (deterministic epochs): the first
    writes a full, the others deltas only (the first rule, a full once the deltas reach the
    last full's size, wrote fulls at doubling sizes: 3 of 6); the chain stays within 1.2x a
    full checkpoint of the same state (a second ROOT with --checkpoint-deltas 0 beside it).
    At the end of the input the flushed state is tiny: a full again. Both ROOTs end with the
    tables of an uninterrupted run."""
    src = os.path.join(TMP, "grow_in.ndjson")
    run([ECOM_OPT, "gen", "--seed", "5", "--users", "20000", "--start", "2026-11-25T09:00:00Z", "--rate", "5",
         "--count", "8000", "--dup-frac", "0.01", "--quiet", "--out", src])
    chain, fulls, clean = (os.path.join(TMP, n) for n in ("grow_chain", "grow_full", "grow_clean"))
    args = ["stream", "--input", src, "--commit-interval", "1h"]
    written = []
    for k in range(1, 7):
        r = run([ECOM, *args, "--out", chain, "--max-events", str(k * 1000)], timeout=120)
        written.append(last_line(r.stderr))
        run([ECOM, *args, "--out", fulls, "--max-events", str(k * 1000), "--checkpoint-deltas", "0"], timeout=120)
        assert state_bytes(chain) <= 1.2 * state_bytes(fulls), (k, state_bytes(chain), state_bytes(fulls))
    assert written == [(1, 0)] + [(0, 1)] * 5, f"(full, delta) per commit: {written}"
    assert last_line(run([ECOM, *args, "--out", chain], timeout=120).stderr) == (1, 0)
    run([ECOM, *args, "--out", fulls, "--checkpoint-deltas", "0"], timeout=120)
    run([ECOM, *args, "--out", clean, "--quiet"], timeout=120)
    assert_same_tables(chain, clean)
    assert_same_tables(fulls, clean)
    print(f"  (full, delta) per commit {written}; chain {state_bytes(chain)} bytes after the flush")


case(growing_state_writes_one_full_then_deltas)
case(killed_between_delta_and_full_is_exactly_once)
case(corrupt_or_missing_delta_is_refused_by_name)
suite.exit()
