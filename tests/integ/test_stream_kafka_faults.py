"""ecom stream --brokers --drain under storage faults (real Kafka broker): every table equals an
uninterrupted run. Faults come from the test-only storage wrapper (src/pipeline/faults.c,
ECOM_TEST_STORAGE_FAULTS); after a failed epoch the job rolls back and rejoins the group at the
committed offsets.
"""
import os
import re
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ECOM, ECOM_OPT, TMP, Suite, run  # noqa: E402
from lakecmp import assert_same_tables  # noqa: E402

REPO = os.environ["REPO"]
suite = Suite()
case = suite.case
ADDR = subprocess.run(["bash", f"{REPO}/tests/services/kafka.sh", "ensure"], capture_output=True, text=True,
                      check=True).stdout.strip()
SUFFIX = uuid.uuid4().hex[:8]
TOPICS = [f"fpv_{SUFFIX}", f"fce_{SUFFIX}", f"for_{SUFFIX}"]
TOPIC_FLAGS = ["--topic-views", TOPICS[0], "--topic-cart", TOPICS[1], "--topic-orders", TOPICS[2]]
SWEEP_CALLS = [2, 4, 8, 12, 18, 26]  # bound: 6 runs (each a group join and a drain, ~10 s)

run([ECOM_OPT, "broker", "--create-topics", "--brokers", ADDR, "--partitions", "3", "--topics", ",".join(TOPICS)])
run([ECOM_OPT, "gen", "--brokers", ADDR, *TOPIC_FLAGS, "--seed", "29", "--users", "200",
     "--start", "2026-11-25T12:00:00Z", "--rate", "20", "--count", "8000", "--quiet",
     "--dup-frac", "0.02", "--bad-frac", "0.01"])
# 10 ms epochs: librdkafka 2.8 drains the 8,000 events in well under 100 ms, which left one epoch
ARGS = ["--brokers", ADDR, *TOPIC_FLAGS, "--drain", "--idle-timeout", "0", "--commit-interval", "10ms"]


def stream(name, faults=None):
    """A --drain run in its own group and ROOT; returns (root, result)."""
    env = dict(os.environ)
    env.pop("ECOM_TEST_STORAGE_FAULTS", None)
    if faults:
        env["ECOM_TEST_STORAGE_FAULTS"] = faults
    root = os.path.join(TMP, name)
    r = run([ECOM, "stream", *ARGS, "--group", f"{name}_{SUFFIX}", "--out", root], env=env, timeout=300)
    return root, r


CLEAN, CLEAN_RUN = stream("clean", faults="from=1000000000,reads,report")


def commits_fail_after_some_epochs():
    root, r = stream("mid", faults="prefix=_ecom/commits,from=5,count=3")
    assert "injected storage fault" in r.stderr, f"no fault was injected: {r.stderr[-800:]}"
    assert_same_tables(root, CLEAN, min_views=1000)


def first_storage_call_fails():
    """The very first call (recovery at start) fails: retried, not fatal."""
    root, r = stream("start", faults="from=1,count=1,reads")
    assert "injected storage fault (call 1" in r.stderr, f"no fault was injected: {r.stderr[-800:]}"
    assert_same_tables(root, CLEAN, min_views=1000)


def sampled_storage_calls_fail():
    m = re.search(r"storage faults: (\d+) calls counted", CLEAN_RUN.stderr)
    assert m, f"no call count reported: {CLEAN_RUN.stderr[-500:]}"
    total = int(m.group(1))
    # How many calls a run makes depends on its timing (epochs are cut by processing time: 31 to
    # 200 calls seen), so the sample covers the calls every run makes: recovery at start, the
    # first epoch's files, its commit, the next epochs.
    injected, counts = 0, []
    for n in SWEEP_CALLS:
        root, r = stream(f"sweep{n}", faults=f"from={n},count=1,reads,report")
        injected += "1 failed" in r.stderr
        counts += [int(x) for x in re.findall(r"storage faults: (\d+) calls counted", r.stderr)]
        try:
            assert_same_tables(root, CLEAN, min_views=1000)
        except AssertionError as e:
            raise AssertionError(f"failing storage call {n}: {e}") from None
    assert injected == len(SWEEP_CALLS), f"only {injected} of {len(SWEEP_CALLS)} runs met their fault (calls: {counts})"
    print(f"  sweep: calls {SWEEP_CALLS} of about {total}, {injected} with a failed call, all tables equal")


case(commits_fail_after_some_epochs)
case(first_storage_call_fails)
case(sampled_storage_calls_fail)
suite.exit()
