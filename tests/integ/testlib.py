"""testlib — what every Python integration test shares: the environment tests/run.sh passes,
a case runner that prints PASS/FAIL per case and turns failures into the exit status, and a
subprocess helper whose failure message carries the command's stderr."""
import os
import subprocess
import sys
import time

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


def wait_for(cond, what, limit_s=60):
    """Polls cond() every 50 ms until it is true; raises naming `what` after limit_s seconds."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {limit_s} s waiting for {what}")


def run(args, timeout=900, **kw):
    """Runs a command to completion; raises with its stderr tail if it exits non-zero."""
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {r.returncode}: {r.stderr[-2000:]}")
    return r
