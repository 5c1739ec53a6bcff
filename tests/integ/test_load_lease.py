"""`ecom load` and ROOT's writer lease: what last session's lease left open (docs/reliability.md,
"Concurrent writers and zombies").

- A part the load rolls over at --max-rows is published only while the lease is still the load's:
  once another writer has taken ROOT (a newer lease generation), the load stops, "fenced", and
  publishes nothing more (before: rolled parts were renamed into place without a check).
- A load fed by a pipe that stays silent longer than its lease still renews it (the reader polls
  with the heartbeat as its timeout), so no second writer takes ROOT from a live load (before: the
  lease expired while the load sat in getline, and a second writer took ROOT).
- The holder of the lease sweeps what crashed writers leave: put_if_absent temporaries older than
  the lease timeout (a fresh one, maybe a live writer's, stays) and, for a load, the unpublished
  parts of a load killed with SIGKILL (before: they stayed forever).
- A load into a ROOT that `ecom stream` wrote is refused, naming the conflict (its metric tables
  would never count the loaded rows), unless --allow-uncounted (before: loaded silently).
"""
import glob
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ECOM, ECOM_OPT, TMP, Suite, run, wait_for  # noqa: E402

suite = Suite()
case = suite.case

SMALL = os.path.join(TMP, "small.ndjson")
run([ECOM_OPT, "gen", "--seed", "31", "--users", "200", "--start", "2026-11-25T09:00:00Z", "--rate", "25",
     "--count", "3000", "--quiet", "--out", SMALL])
with open(SMALL, "rb") as _f:
    LINES = _f.readlines()


def lease_holder_pid(root):
    files = sorted(glob.glob(os.path.join(root, "_ecom", "lease", "*.lease")))
    if not files:
        return None
    try:
        with open(files[-1]) as f:
            held = dict(line.split(" ", 1) for line in f.read().splitlines()[1:])
        return int(held["pid"]) if held.get("timeout") != "0" else None
    except (OSError, ValueError, KeyError):
        return None  # being rewritten: ask again


def published(root, stem):
    return glob.glob(os.path.join(root, "*", "date=*", f"part-{stem}-*.parquet"))


def unpublished(root, stem):
    return glob.glob(os.path.join(root, "*", "date=*", f".part-{stem}-*.tmp"))


def start_load(root, stem, *extra):
    return subprocess.Popen([ECOM, "load", "--input", "-", "--stem", stem, "--out", root, *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(p, timeout=60):
    try:
        p.stdin.close()
    except BrokenPipeError:
        pass  # it ended already (refused): its exit code and stderr say why
    err = p.stderr.read().decode(errors="replace")
    return p.wait(timeout=timeout), err


def plant(path, age_s):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("x")
    t = time.time() - age_s
    os.utime(path, (t, t))


def rolled_part_of_a_fenced_load_is_not_published():
    """A load holds ROOT (30 s lease: no heartbeat during the test); another writer takes ROOT
    over (its generation-2 lease file appears, as a take-over creates it); then the load's input
    crosses --max-rows. The rolled part must not be published: the load exits 1, fenced."""
    root = os.path.join(TMP, "fence")
    load = start_load(root, "z", "--max-rows", "20")
    try:
        wait_for(lambda: lease_holder_pid(root) == load.pid or load.poll() is not None, "the load's lease")
        now = int(time.time() * 1e6)
        with open(os.path.join(root, "_ecom", "lease", "%020d.lease" % 2), "w") as f:
            f.write(f"ecom-lease 1\ngeneration 2\nhost elsewhere.example\npid 4242\nsince {now}\nrenewed {now}\n"
                    f"timeout 30000000\n")
        try:
            load.stdin.write(b"".join(LINES[:120]))  # ~30 kB: fits in the pipe at once
            load.stdin.flush()
        except BrokenPipeError:
            pass
        rc, err = finish(load)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    assert rc == 1 and "fenced" in err and "generation 1 is no longer ours" in err, f"{rc}: {err[-600:]}"
    assert not published(root, "z"), f"a fenced load published {published(root, 'z')}"
    print(f"  {err.strip()[:240]}")


def stopped(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


def zombie_paused_between_its_check_and_its_rename_publishes_nothing():
    """The fence is a check, then the rename: a load frozen between the two (the fault hook stops
    it right before renaming its first rolled views part, after its lease check) past its 1 s
    lease; a second load takes ROOT over (--wait: the frozen pid is alive, so until the expiry)
    and, at take-over, deletes the unpublished part; the zombie resumes: its rename finds nothing,
    it exits 1, fenced, and no part of it is published."""
    root = os.path.join(TMP, "zombie")
    env = dict(os.environ, ECOM_TEST_STORAGE_FAULTS="prefix=views/,match=part-z-00000,from=2,stop")
    load = subprocess.Popen([ECOM, "load", "--input", "-", "--stem", "z", "--out", root, "--max-rows", "20",
                             "--lease-timeout", "1s"], env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        load.stdin.write(b"".join(LINES[:40]))
        load.stdin.flush()
        wait_for(lambda: stopped(load.pid) or load.poll() is not None, "the load frozen before its rename")
        assert load.poll() is None, load.stderr.read()[-600:]
        r = run([ECOM, "load", "--input", SMALL, "--stem", "k2", "--out", root, "--wait", "30s"], timeout=120)
        assert "3000 lines" in r.stderr, r.stderr
        assert not unpublished(root, "z"), f"the take-over kept the zombie's part: {unpublished(root, 'z')}"
        load.send_signal(signal.SIGCONT)
        rc, err = finish(load)
    finally:
        if load.poll() is None:
            load.send_signal(signal.SIGCONT)
            load.kill()
            load.wait()
    assert rc == 1 and "fenced" in err, f"{rc}: {err[-600:]}"
    assert not published(root, "z"), f"a zombie published {published(root, 'z')}"
    assert published(root, "k2")
    print(f"  {err.strip().splitlines()[-1][:240]}")


def silent_stdin_keeps_the_lease():
    """A load with a 1 s lease gets 10 lines, then nothing for 2.5 s: a second writer must still
    be refused naming it, and the load ends normally with its 10 lines when its input closes."""
    root = os.path.join(TMP, "silent")
    load = start_load(root, "s", "--lease-timeout", "1s")
    try:
        load.stdin.write(b"".join(LINES[:10]))
        load.stdin.flush()
        wait_for(lambda: lease_holder_pid(root) == load.pid or load.poll() is not None, "the load's lease")
        time.sleep(2.5)  # the condition under test: a pipe silent for longer than the lease
        r = subprocess.run([ECOM, "load", "--input", "/dev/null", "--out", root], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 1 and f"pid {load.pid} since" in r.stderr, \
            f"a second load on a ROOT a live load holds: exit {r.returncode} {r.stderr[-400:]}"
        rc, err = finish(load)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    assert rc == 0 and "10 lines" in err, f"{rc}: {err[-600:]}"
    assert published(root, "s")


def stale_temporaries_are_swept_fresh_ones_kept():
    """A load killed with SIGKILL leaves its open part (hidden); crashed put_if_absent calls leave
    private temporaries beside the lease and the records. The next load (the dead pid's lease is
    void at once) sweeps the part and the temporaries older than its lease timeout; a fresh
    temporary and a hidden file of another shape stay. `ecom stream` sweeps its lease directory
    the same way when it takes ROOT."""
    root = os.path.join(TMP, "sweep")
    load = start_load(root, "k")
    try:
        load.stdin.write(b"".join(LINES[:200]))
        load.stdin.flush()
        wait_for(lambda: unpublished(root, "k") or load.poll() is not None, "the load's open part")
    finally:
        load.kill()
        load.wait()
    debris = unpublished(root, "k")
    assert debris, "the killed load left no open part: the test proves nothing"
    lease_dir, commit_dir = os.path.join(root, "_ecom", "lease"), os.path.join(root, "_ecom", "commits")
    stale = [os.path.join(lease_dir, ".%020d.lease.4242-0123456789abcdef.tmp" % 5),
             os.path.join(commit_dir, ".%020d.commit.4242-00000000000000ff.tmp" % 3)]
    fresh = [os.path.join(lease_dir, ".%020d.lease.4243-0123456789abcdee.tmp" % 6),
             os.path.join(commit_dir, ".%020d.commit.4243-00000000000000fe.tmp" % 4)]
    other = os.path.join(lease_dir, ".notes.tmp")
    for p in stale:
        plant(p, 3600)
    for p in fresh:
        plant(p, 0)
    plant(other, 3600)
    r = run([ECOM, "load", "--input", SMALL, "--stem", "k2", "--out", root], timeout=120)
    assert "3000 lines" in r.stderr, r.stderr
    left = [p for p in stale + debris if os.path.exists(p)]
    assert not left, f"left after the next load took ROOT: {left}"
    assert all(os.path.exists(p) for p in fresh + [other]), "a fresh temporary (or another file) was deleted"

    root2 = os.path.join(TMP, "sweep_stream")
    lease_dir = os.path.join(root2, "_ecom", "lease")
    plant(stale[0].replace(root, root2), 3600)
    plant(fresh[0].replace(root, root2), 0)
    run([ECOM, "stream", "--input", SMALL, "--out", root2, "--quiet"], timeout=120)
    assert not os.path.exists(stale[0].replace(root, root2)), "the stream kept a stale temporary"
    assert os.path.exists(fresh[0].replace(root, root2)), "the stream deleted a fresh temporary"


def load_into_a_streamed_root_is_refused():
    """A ROOT `ecom stream` wrote: a load is refused in one line naming the commit log and the
    way out, and writes nothing; with --allow-uncounted it loads and says its rows are uncounted."""
    root = os.path.join(TMP, "streamed")
    run([ECOM, "stream", "--input", SMALL, "--out", root, "--quiet"], timeout=120)
    r = subprocess.run([ECOM, "load", "--input", SMALL, "--out", root], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, f"load into a streamed ROOT exited {r.returncode}: {r.stderr[-400:]}"
    for w in ("ROOT holds metric tables", "_ecom/commits holds record", "never in its metrics",
              "ecom stream --input", "--allow-uncounted"):
        assert w in r.stderr, (w, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not glob.glob(os.path.join(root, "**", "*part-load-*"), recursive=True)
    print(f"  {r.stderr.strip()[:300]}")
    r = run([ECOM, "load", "--input", SMALL, "--out", root, "--allow-uncounted"], timeout=120)
    assert "--allow-uncounted: ecom stream wrote it" in r.stderr and "will not count these rows" in r.stderr, r.stderr
    assert glob.glob(os.path.join(root, "views", "date=*", "part-load-*.parquet"))
    r = run([ECOM, "load", "--input", SMALL, "--out", os.path.join(TMP, "fresh_root")], timeout=120)
    assert "allow-uncounted" not in r.stderr, r.stderr


def stream_on_a_loaded_root_is_refused():
    """The other order: a stream's first start on a ROOT a load filled is refused in one line naming
    a loaded part, and writes no table file; with --allow-uncounted it starts; once it has a commit
    log, a restart needs no flag."""
    root = os.path.join(TMP, "loaded")
    run([ECOM, "load", "--input", SMALL, "--out", root], timeout=120)
    tables = lambda: sorted(glob.glob(os.path.join(root, "*", "date=*", "*")))  # noqa: E731
    before = tables()
    r = subprocess.run([ECOM, "stream", "--input", SMALL, "--out", root, "--quiet"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1, f"stream on a loaded ROOT exited {r.returncode}: {r.stderr[-400:]}"
    for w in ("raw tables hold rows no ecom stream wrote", "part-load-", "never count them", "--allow-uncounted"):
        assert w in r.stderr, (w, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert tables() == before, f"a refused stream wrote {set(tables()) - set(before)}"
    print(f"  {r.stderr.strip()[:300]}")
    run([ECOM, "stream", "--input", SMALL, "--out", root, "--quiet", "--allow-uncounted"], timeout=120)
    assert glob.glob(os.path.join(root, "sales_per_minute", "date=*", "*.parquet"))
    run([ECOM, "stream", "--input", SMALL, "--out", root, "--quiet"], timeout=120)


case(rolled_part_of_a_fenced_load_is_not_published)
case(zombie_paused_between_its_check_and_its_rename_publishes_nothing)
case(silent_stdin_keeps_the_lease)
case(stale_temporaries_are_swept_fresh_ones_kept)
case(load_into_a_streamed_root_is_refused)
case(stream_on_a_loaded_root_is_refused)
suite.exit()
