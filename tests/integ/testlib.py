"""testlib — what every Python integration test shares: the environment tests/run.sh passes,
a case runner that prints PASS/FAIL per case and turns failures into the exit status, a
subprocess helper whose failure message carries the command's stderr, and the pieces the
stream tests with a --listen port share (a free port, a GET, a bounded wait, a scale-out
instance) and the kill -9 restart loop."""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ECOM = os.environ.get("ECOM", "build/san/ecom")          # sanitizer build: behaviour
ECOM_OPT = os.environ.get("ECOM_OPT", ECOM)               # optimized build: volume
TMP = os.environ.get("TEST_TMP", "/tmp")


def parquet_testing_dir():
    """apache/parquet-testing (the Apache Parquet project's cross-implementation files, with its
    licence): $ECOM_PARQUET_TESTING, else shared/parquet-testing beside the project (a parent of
    the clone or worktree), else /work/shared/parquet-testing (this workplace's layout, for a
    clone made elsewhere). None when absent: the caller says SKIP or fails, never passes."""
    env = os.environ.get("ECOM_PARQUET_TESTING")
    if env:
        return env if os.path.isdir(os.path.join(env, "data")) else None
    d = os.path.abspath(os.environ.get("REPO", "."))
    cands = []
    for _ in range(4):
        d = os.path.dirname(d)
        cands.append(os.path.join(d, "shared", "parquet-testing"))
    cands.append("/work/shared/parquet-testing")
    return next((c for c in cands if os.path.isdir(os.path.join(c, "data"))), None)


class Suite:
    """Runs argument-less case functions; any exception fails that case only."""
    def __init__(self):
        self.failures = 0

    def case(self, fn):
        try:
            fn()
            print(f"PASS {fn.__name__}", flush=True)
        except Exception as e:  # a failed check or a crash of the system under test
            self.failures += 1
            print(f"  {type(e).__name__}: {e}")
            print(f"FAIL {fn.__name__}", flush=True)

    def exit(self):
        sys.exit(1 if self.failures else 0)


def run(args, timeout=900, **kw):
    """Runs a command to completion; raises with its stderr tail if it exits non-zero."""
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {r.returncode}: {r.stderr[-2000:]}")
    return r


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (for --listen)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sh(*args, timeout=120, check=True, env=None, stdin=None):
    """Runs args to completion (env: variables added to the environment), its output as text
    (bytes that are not UTF-8 replaced); with check, raises with its stderr tail when it exits
    non-zero. The HDFS tests run ecom and the service scripts with it."""
    r = subprocess.run(list(args), capture_output=True, timeout=timeout, stdin=stdin,
                       env=None if env is None else {**os.environ, **env})
    r.stdout, r.stderr = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    if check and r.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(args[:4]), r.returncode, r.stderr[-600:]))
    return r


def http_get(port, path, timeout=5):
    """The body of GET http://127.0.0.1:PORT/PATH as text; raises when it cannot be had (an
    HTTPError for a status >= 400; http_text is the lenient one)."""
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
        return r.read().decode()


def start_listening_stream(args, logname, stdin=None, env=None):
    """Starts `ecom stream ARGS --listen 127.0.0.1:PORT` on a port free_port() found (stdin, env:
    as for Popen). That port is free only when looked at: another process's outgoing connection
    may take it before the stream binds, and the stream then exits 1 at once ("cannot listen
    on"); then another port is tried (5 in all). Before this retry a fault test waited for
    /status until its timeout in that case ("timed out waiting for two committed epochs", seen
    once). Returns (process, port, log file)."""
    for _ in range(5):
        port = free_port()
        log = open(logname, "w")
        p = subprocess.Popen([ECOM, "stream", *args, "--listen", "127.0.0.1:%d" % port], stdout=log, stderr=log,
                             stdin=stdin, env=env)
        # Either the status server answers (the port is ours) or the process has exited.
        deadline = time.monotonic() + 60
        while p.poll() is None and time.monotonic() < deadline:
            try:
                http_get(port, "/metrics")
                return p, port, log
            except urllib.error.HTTPError:   # 503 "starting": it answers, the port is its own
                return p, port, log
            except Exception:
                time.sleep(0.05)
        if p.poll() is None:
            p.kill()
            p.wait()
            log.close()
            raise RuntimeError("ecom stream --listen 127.0.0.1:%d does not answer after 60 s" % port)
        log.close()
        text = open(logname).read()
        if "cannot listen on" not in text:
            raise RuntimeError("stream exited %d at start: %s" % (p.returncode, text[-600:]))
        print("  port %d was taken before the stream bound it: another port" % port)
    raise RuntimeError("no free port for --listen in 5 tries")


def http_text(url, timeout=5):
    """The body of GET url as text, or None when it cannot be had (not listening yet, gone)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode()
    except OSError:
        return None


def wait_for(pred, what, timeout=60, procs=()):
    """Polls pred() until it is true (and returns its value), within timeout seconds; fails
    fast with the log of any of procs (ScaleOutInstance) that exited meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        for p in procs:
            if p.proc.poll() is not None:
                raise AssertionError(f"{p.name} exited {p.proc.returncode} while waiting for {what}: {p.log()}")
        time.sleep(0.1)
    raise AssertionError(f"timed out ({timeout}s) waiting for {what}")


def thread_dump(pid, limit=6000):
    """Where each thread of a running process waits, for the message of a hang guard: its name,
    state, kernel wait channel and system call (/proc), and, when gdb happens to be installed
    (not a test dependency), every thread's backtrace."""
    lines = []
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        d = f"/proc/{pid}/task/{tid}"
        try:
            comm = open(f"{d}/comm").read().strip()
            state = open(f"{d}/stat").read().rsplit(")", 1)[1].split()[0]
            wchan = open(f"{d}/wchan").read().strip()
            call = open(f"{d}/syscall").read().split()[0]
        except OSError as e:
            comm, state, wchan, call = "?", "?", str(e), "?"
        lines.append(f"{tid} {comm} {state} wchan={wchan} syscall={call}")
    gdb = shutil.which("gdb")
    if gdb:
        r = subprocess.run([gdb, "-p", str(pid), "-batch", "-ex", "thread apply all bt 12"], capture_output=True,
                           text=True, timeout=60)
        lines.append("\n".join(l for l in r.stdout.splitlines() if l.startswith(("#", "Thread"))))
    return "\n".join(lines)[-limit:]


class ScaleOutInstance:
    """One `ecom stream --scale-out` instance (args: the shared flags; group and root: its
    consumer group and --out), with /status on a free port and stderr kept in TMP/<name>.err.
    started, a list, collects every instance so that a test can kill them all when it fails."""
    def __init__(self, name, args, group, root, *extra, started=None):
        self.name = name
        self.port = free_port()
        self.err_path = os.path.join(TMP, f"{name}.err")
        self.last_error = None
        if started is not None:
            started.append(self)
        self.proc = subprocess.Popen([ECOM, "stream", *args, "--scale-out", "--group", group, "--out", root,
                                      "--listen", f"127.0.0.1:{self.port}", *extra],
                                     stderr=open(self.err_path, "w"), stdout=subprocess.DEVNULL)

    def log(self):
        return open(self.err_path).read()[-3000:]

    def status(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=10) as r:
                return json.loads(r.read())
        except (OSError, ValueError) as e:
            self.last_error = e
            return None

    def owned(self):
        """The partitions it owns now, None when /status does not answer."""
        s = self.status()
        return {p["partition"] for p in s["partitions"] if p["assigned"]} if s else None

    def epochs(self):
        s = self.status()
        return s["counters"]["epochs"] if s else 0

    def stop(self, sig=signal.SIGTERM, expect=0):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=120)
        if expect is not None:
            assert rc == expect, f"{self.name} exited {rc}: {self.log()}"


def kill9_until_done(args, root, full_s, seed, min_kills=3, max_kills=60):
    """Runs args + [root] to completion, SIGKILLing each attempt at a random moment within
    0.05-0.25 x full_s (an uninterrupted run's length) and restarting it; returns the kills.
    full_s comes from a timing run, and a loaded box can make that run slower than the ones
    that follow, so a run may finish before min_kills: the scenario then starts again on a
    fresh root with moments half as long (at most 4 rounds), so that restarts are tested
    whatever the box's speed. After max_kills the last attempt runs to its end."""
    rng = random.Random(seed)
    for _ in range(4):
        shutil.rmtree(root, ignore_errors=True)
        kills = 0
        while True:
            p = subprocess.Popen(args + [root], stderr=subprocess.PIPE, text=True)
            try:
                p.wait(timeout=rng.uniform(0.05, 0.25) * full_s if kills < max_kills else 600)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)
                p.wait()
                kills += 1
                continue
            err = p.stderr.read()
            assert p.returncode == 0, f"stream exited {p.returncode}: {err[-1500:]}"
            break
        if kills >= min_kills:
            return kills
        full_s /= 2
    raise AssertionError(f"only {kills} kills happened even at moments within {full_s * 0.5:.3f} s: "
                         "the run was too quick to test restarts")
