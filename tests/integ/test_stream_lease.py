"""Single writer per lake root (issue 11 finding 2): the writer lease in ROOT/_ecom/lease.

A first `ecom stream` is fed through a FIFO at a steady pace, so that it is busy committing
when a second `ecom stream` on the same --out starts: the second must exit 1 naming the first
(host, pid, since, expiry) and leave ROOT untouched (before the lease, the two corrupted each
other: "rename ... No such file or directory", "committed file ... is missing"). Then the first
is killed with SIGKILL: on the same host its pid is gone, so a restart takes over at once, with
the next generation; its tables equal an uninterrupted run. A holder on another host (its pid
cannot be probed) is waited for until its lease expires.
"""
import glob
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ECOM, ECOM_OPT, TMP, Suite, run, wait_for  # noqa: E402
from lakecmp import assert_same_tables  # noqa: E402

suite = Suite()
case = suite.case

LEASE_TIMEOUT_S = 3


def gen(path, count):
    run([ECOM_OPT, "gen", "--seed", "29", "--users", "300", "--start", "2026-11-25T09:00:00Z", "--rate", "25",
         "--count", str(count), "--dup-frac", "0.01", "--bad-frac", "0.01", "--quiet", "--out", path])


INPUT = os.path.join(TMP, "lease_in.ndjson")
gen(INPUT, 100000)
CLEAN = os.path.join(TMP, "lease_clean")
run([ECOM, "stream", "--input", INPUT, "--out", CLEAN, "--quiet"], timeout=300)
SMALL = os.path.join(TMP, "lease_small.ndjson")
gen(SMALL, 3000)
SMALL_CLEAN = os.path.join(TMP, "lease_small_clean")
run([ECOM, "stream", "--input", SMALL, "--out", SMALL_CLEAN, "--quiet"], timeout=120)


def records(root):
    return sorted(glob.glob(os.path.join(root, "_ecom", "commits", "*.commit")))


def lease_file(root):
    files = sorted(glob.glob(os.path.join(root, "_ecom", "lease", "*.lease")))
    assert files, f"no lease file under {root}/_ecom/lease"
    with open(files[-1]) as f:
        return dict(line.split(" ", 1) for line in f.read().splitlines()[1:])


def feeder(fifo, stop, path=INPUT, lines=2000, pause_s=0.05):
    """Writes path into the FIFO `lines` lines at a time, paced, until the input ends or stop."""
    with open(path, "rb") as src, open(fifo, "wb") as out:
        while not stop.is_set():
            chunk = b"".join(src.readline() for _ in range(lines))
            if not chunk:
                break
            try:
                out.write(chunk)
                out.flush()
            except BrokenPipeError:
                break
            time.sleep(pause_s)  # pacing the input, not waiting for a state


def second_writer_refused_then_takeover_after_kill():
    root = os.path.join(TMP, "lease_root")
    fifo = os.path.join(TMP, "lease.fifo")
    os.mkfifo(fifo)
    first = subprocess.Popen([ECOM, "stream", "--input", fifo, "--out", root, "--commit-interval", "200ms",
                              "--lease-timeout", f"{LEASE_TIMEOUT_S}s", "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()
    t = threading.Thread(target=feeder, args=(fifo, stop), daemon=True)
    t.start()
    try:
        wait_for(lambda: len(records(root)) > 0 or first.poll() is not None, "the first writer's first commit")
        assert first.poll() is None, f"the first writer ended early: {first.stderr.read()[-800:]}"
        before = records(root)
        second = subprocess.run([ECOM, "stream", "--input", INPUT, "--out", root, "--quiet"],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 1, f"second writer exited {second.returncode}: {second.stderr[-800:]}"
        assert first.poll() is None, "the first writer ended while the second ran: the test proves nothing"
        err = second.stderr
        assert "another writer holds ROOT" in err and f"pid {first.pid} since" in err, err
        assert f"host {os.uname().nodename}" in err and "lease generation 1, expires in" in err, err
        print(f"  refused: {err.strip()[:300]}")
        # The first goes on committing after the refusal.
        wait_for(lambda: records(root) != before, "a commit of the first writer after the refusal", 30)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = time.time()
    finally:
        stop.set()
        if first.poll() is None:
            first.kill()
            first.wait()
        try:  # unblock the feeder's open() if the stream never opened the FIFO
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            pass
        t.join(10)
    held = lease_file(root)
    assert time.time() < (int(held["renewed"]) + int(held["timeout"])) / 1e6, "the lease expired already"
    taken = run([ECOM, "stream", "--input", INPUT, "--out", root, "--quiet"], timeout=300)
    print(f"  taken over {time.time() - killed_at:.1f} s after SIGKILL (dead pid on this host; "
          f"lease timeout {LEASE_TIMEOUT_S} s)")
    assert lease_file(root)["generation"] == "2", lease_file(root)
    with open(records(root)[-1]) as f:
        rec = f.read()
    assert re.search(r"^generation 2$", rec, re.M), rec[:400]
    assert "fenced" not in taken.stderr
    assert_same_tables(root, CLEAN)


def holder_on_another_host_is_waited_for():
    """A crashed writer on another host: refused until its lease expires, then taken over."""
    root = os.path.join(TMP, "lease_remote")
    small, want = SMALL, SMALL_CLEAN
    d = os.path.join(root, "_ecom", "lease")
    os.makedirs(d)
    now = int(time.time() * 1e6)
    with open(os.path.join(d, "%020d.lease" % 1), "w") as f:
        f.write(f"ecom-lease 1\ngeneration 1\nhost elsewhere.example\npid 4242\nsince {now}\n"
                f"renewed {now}\ntimeout {LEASE_TIMEOUT_S * 1000000}\n")
    r = subprocess.run([ECOM, "stream", "--input", small, "--out", root, "--quiet"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "host elsewhere.example pid 4242 since" in r.stderr, \
        f"exited {r.returncode}: {r.stderr[-800:]}"
    wait = now / 1e6 + LEASE_TIMEOUT_S - time.time()
    if wait > 0:
        time.sleep(wait + 0.05)  # a deadline, not a readiness check: the lease's expiry time
    run([ECOM, "stream", "--input", small, "--out", root, "--quiet"], timeout=120)
    assert lease_file(root)["generation"] == "2", lease_file(root)
    assert_same_tables(root, want, min_views=100)


def clean_exit_releases_the_lease():
    """A writer that ends normally marks its lease expired: the next one starts at once."""
    root = os.path.join(TMP, "lease_release")
    small = SMALL
    run([ECOM, "stream", "--input", small, "--out", root, "--quiet"], timeout=120)
    assert lease_file(root)["timeout"] == "0", lease_file(root)
    run([ECOM, "stream", "--input", small, "--out", root, "--quiet"], timeout=120)
    assert lease_file(root)["generation"] == "2", lease_file(root)


def second_ecom_run_refused():
    """The issue's reproduction: a second `ecom run` on the --out of a running one."""
    root = os.path.join(TMP, "lease_run")
    first = subprocess.Popen([ECOM, "run", "--out", root, "--listen", "127.0.0.1:0", "--quiet", "--seed", "3"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(records(root)) > 0 or first.poll() is not None, "the first run's first commit", 90)
        assert first.poll() is None, f"the first run ended: {first.stderr.read()[-800:]}"
        second = subprocess.run([ECOM, "run", "--out", root, "--listen", "127.0.0.1:0", "--quiet"],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 1 and f"another writer holds ROOT: host {os.uname().nodename} pid " \
            f"{first.pid} since" in second.stderr, f"second run exited {second.returncode}: {second.stderr[-800:]}"
        before = records(root)
        wait_for(lambda: records(root) != before, "a commit of the first run after the refusal", 30)
    finally:
        first.send_signal(signal.SIGINT)
        try:
            first.wait(timeout=60)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait()
    err = first.stderr.read()
    assert first.returncode == 0, f"the first run exited {first.returncode}: {err[-800:]}"
    assert "No such file" not in err and "missing" not in err, err[-800:]


def record_gens(root):
    """{record number: its generation} of every commit record under root."""
    out = {}
    for path in records(root):
        with open(path) as f:
            m = re.search(r"^generation (\d+)$", f.read(), re.M)
        out[int(os.path.basename(path)[:20])] = int(m.group(1)) if m else 0
    return out


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def zombie_paused_at_its_commit_point_is_refused():
    """The fence is a compare-and-swap: a writer frozen after its lease check, right before it
    writes commit record 1 (the fault hook's `stop`: SIGSTOP at that storage call), outlives its
    lease; a second writer takes ROOT over and commits all the input; the zombie resumes. Its
    record must be refused (exit 1, "fenced"), the log must hold only the survivor's records, and
    the tables must equal an uninterrupted run, also after one more restart. Before, the zombie
    wrote record 1 over the survivor's (the check and the write were two calls) and the next
    start redid renames of files the survivor had swept."""
    root = os.path.join(TMP, "lease_zombie")
    fifo = os.path.join(TMP, "lease_zombie.fifo")
    os.mkfifo(fifo)
    env = dict(os.environ, ECOM_TEST_STORAGE_FAULTS="match=00000000000000000001.commit,stop")
    zombie = subprocess.Popen([ECOM, "stream", "--input", fifo, "--out", root, "--commit-interval", "200ms",
                               "--lease-timeout", "1s", "--quiet"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()
    t = threading.Thread(target=feeder, args=(fifo, stop, SMALL, 300, 0.1), daemon=True)
    t.start()
    try:
        wait_for(lambda: zombie.poll() is not None or proc_state(zombie.pid) == "T", "the zombie's pause", 90)
        assert zombie.poll() is None, f"the zombie ended: {zombie.stderr.read()[-800:]}"
        held = lease_file(root)
        wait = (int(held["renewed"]) + int(held["timeout"])) / 1e6 - time.time()
        if wait > 0:
            time.sleep(wait + 0.05)  # a deadline, not a readiness check: the lease's expiry time
        survivor = run([ECOM, "stream", "--input", SMALL, "--out", root, "--quiet"], timeout=120)
        assert "fenced" not in survivor.stderr, survivor.stderr[-800:]
        gen = int(lease_file(root)["generation"])
        assert gen == 2, lease_file(root)
        before = record_gens(root)
    finally:
        stop.set()
        zombie.send_signal(signal.SIGCONT)
        try:
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            pass
    try:
        rc = zombie.wait(timeout=60)
    finally:
        if zombie.poll() is None:
            zombie.kill()
            zombie.wait()
        t.join(10)
    err = zombie.stderr.read()
    assert rc == 1 and "fenced" in err, f"the zombie exited {rc}: {err[-800:]}"
    print(f"  zombie: {[l for l in err.splitlines() if 'fenced' in l][-1][:240]}")
    after = record_gens(root)
    assert after == before and set(after.values()) == {gen}, (before, after)
    assert_same_tables(root, SMALL_CLEAN, min_views=100)
    again = run([ECOM, "stream", "--input", SMALL, "--out", root, "--quiet"], timeout=120)
    assert "missing" not in again.stderr, again.stderr[-800:]
    assert_same_tables(root, SMALL_CLEAN, min_views=100)


def lease_holder_pid(root):
    try:
        held = lease_file(root)
    except (AssertionError, OSError, ValueError):
        return None
    return int(held["pid"]) if held.get("timeout") != "0" else None


def load_files(root):
    return glob.glob(os.path.join(root, "**", "*part-bf*"), recursive=True) + \
        glob.glob(os.path.join(root, "**", "*part-load-*"), recursive=True)


def load_and_stream_exclude_each_other():
    """`ecom load` takes ROOT's writer lease for its duration: a load on a ROOT a stream is
    writing is refused naming the stream, and leaves ROOT untouched (before: it wrote its parts
    beside the stream's, which never counted them, and whose recovery swept a load's hidden
    parts); a stream or a second load on a ROOT a load is writing is refused naming the load;
    the load's heartbeat keeps its 1 s lease while it reads for longer; a second load with
    --wait starts when the first ends."""
    root = os.path.join(TMP, "lease_load")
    fifo = os.path.join(TMP, "lease_load.fifo")
    os.mkfifo(fifo)
    stream = subprocess.Popen([ECOM, "stream", "--input", fifo, "--out", root, "--commit-interval", "200ms",
                               "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()
    t = threading.Thread(target=feeder, args=(fifo, stop, SMALL, 200, 0.2), daemon=True)
    t.start()
    try:  # record 0 is the stream's claim of ROOT at start, record 1 its first epoch
        wait_for(lambda: max(record_gens(root), default=-1) >= 1 or stream.poll() is not None,
                 "the stream's first commit")
        assert stream.poll() is None, f"the stream ended early: {stream.stderr.read()[-800:]}"
        r = subprocess.run([ECOM, "load", "--input", SMALL, "--out", root], capture_output=True, text=True,
                           timeout=120)
        assert stream.poll() is None, "the stream ended while the load ran: the test proves nothing"
        assert r.returncode == 1, f"load exited {r.returncode}: {r.stderr[-800:]}"
        assert f"another writer holds ROOT: host {os.uname().nodename} pid {stream.pid} since" in r.stderr, r.stderr
        assert "--wait" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not load_files(root), load_files(root)
        print(f"  load refused: {r.stderr.strip()[:260]}")
    finally:
        t.join(60)  # the feeder ends with the input: the stream commits and exits
        stop.set()
    assert stream.wait(timeout=120) == 0, stream.stderr.read()[-800:]
    assert_same_tables(root, SMALL_CLEAN, min_views=100)
    # ROOT is the stream's now: a load into it must say its rows go uncounted (test_load_lease)
    load = subprocess.Popen([ECOM, "load", "--input", "-", "--stem", "bf", "--out", root, "--lease-timeout", "1s",
                             "--allow-uncounted"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    waiter = None
    try:
        with open(INPUT, "rb") as src:
            lines = src.readlines()[:12000]
        load.stdin.write(b"".join(lines[:1100]))
        load.stdin.flush()
        wait_for(lambda: lease_holder_pid(root) == load.pid or load.poll() is not None, "the load's lease")
        for cmd in ([ECOM, "stream", "--input", SMALL, "--out", root, "--quiet"],
                    [ECOM, "load", "--input", SMALL, "--out", root]):
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            assert r.returncode == 1 and f"pid {load.pid} since" in r.stderr, f"{cmd[1]}: {r.returncode} {r.stderr}"
        t0 = time.monotonic()
        for i in range(1100, len(lines), 1100):  # 2 s of input: twice the lease timeout
            load.stdin.write(b"".join(lines[i:i + 1100]))
            load.stdin.flush()
            time.sleep(0.2)  # pacing the input, not waiting for a state
        assert time.monotonic() - t0 > 1.5
        r = subprocess.run([ECOM, "stream", "--input", SMALL, "--out", root, "--quiet"], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 1 and f"pid {load.pid} since" in r.stderr, f"after 2 s: {r.returncode} {r.stderr}"
        waiter = subprocess.Popen([ECOM, "load", "--input", SMALL, "--out", root, "--wait", "60s", "--allow-uncounted"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        load.stdin.close()
        assert load.wait(timeout=120) == 0, load.stderr.read()[-800:]
        err = waiter.communicate(timeout=120)[1]
        assert waiter.returncode == 0 and "3000 lines" in err, f"the waiting load: {waiter.returncode} {err}"
    finally:
        for p in (load, waiter):
            if p and p.poll() is None:
                p.kill()
                p.wait()
    assert lease_file(root)["timeout"] == "0"
    assert load_files(root)


case(second_writer_refused_then_takeover_after_kill)
case(second_ecom_run_refused)
case(holder_on_another_host_is_waited_for)
case(clean_exit_releases_the_lease)
case(zombie_paused_at_its_commit_point_is_refused)
case(load_and_stream_exclude_each_other)
suite.exit()
