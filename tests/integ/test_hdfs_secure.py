"""test_hdfs_secure — ecom on a Kerberized, HTTPS-only HDFS (tests/services/hdfs_secure.sh: an MIT
KDC with the realm ECOM.TEST, a NameNode + DataNode in Hadoop's secure mode with SPNEGO on WebHDFS,
SASL data transfer protection and block access tokens, certificates from a CA made at test time).

  - `ecom load`, `stream`, `cat` and `dash` over swebhdfs:// with --hdfs-auth kerberos (a keytab, or
    kinit's ticket cache) and --hdfs-ca give what the same commands give on local disk;
  - no ticket, a keytab without the principal, a stale keytab, an expired ticket, no Kerberos at all:
    exit 1 at once with a message naming what to fix;
  - an untrusted certificate (no --hdfs-ca, or another CA) is refused, naming --hdfs-ca;
  - a run longer than its principal's ticket lifetime (10 s) logs in again from the keytab, and
    one longer than a renewable ticket of kinit's (8 s) renews it, and neither fails (the KDC's
    log counts the logins and renewals);
  - the request trace never shows a delegation token."""
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashlib import Cases, Dash  # noqa: E402
from testlib import sh  # noqa: E402

ECOM, ECOM_OPT = os.environ["ECOM"], os.environ.get("ECOM_OPT", os.environ["ECOM"])
TMP, REPO = os.environ["TEST_TMP"], os.environ["REPO"]
SEC = ["bash", os.path.join(REPO, "tests/services/hdfs_secure.sh")]
TABLES = ["views", "cart", "orders", "rejected", "sales_per_minute", "category_activity", "top_products",
          "sales_by_city", "funnel"]
RAW = ["views", "cart", "orders", "rejected"]
PID = os.getpid()


ADDR = sh(*SEC, "ensure", timeout=400).stdout.strip()
SD = os.path.join(os.environ["ECOM_SERVICES_DIR"], "hdfs_secure")
os.environ["KRB5_CONFIG"] = os.path.join(SD, "krb5.conf")       # the test realm, for ecom and kinit
os.environ["KRB5CCNAME"] = "FILE:" + os.path.join(TMP, "none.cc")  # no ticket unless a case makes one
CA = os.path.join(SD, "ca.pem")
KT = ["--hdfs-auth", "kerberos", "--hdfs-keytab", os.path.join(SD, "ecom.keytab"), "--hdfs-principal",
      "ecom@ECOM.TEST", "--hdfs-ca", CA]
BASE = "swebhdfs://%s" % ADDR


def gen(name, count, seed):
    path = os.path.join(TMP, name)
    sh(ECOM_OPT, "gen", "--seed", str(seed), "--start", "2026-11-25T23:58:30Z", "--rate", "100", "--count",
       str(count), "--dup-frac", "0.02", "--bad-frac", "0.01", "--late-frac", "0.02", "--out", path)
    return path


def cat(root, table, opts=(), env=None):
    cols = ["--columns", "source,position,reason,raw"] if table == "rejected" else []
    out = sh(ECOM_OPT, "cat", root + "/" + table, "--format", "csv", *cols, *opts, env=env).stdout.splitlines()
    return out[:1] + sorted(out[1:])


def compare(c, local, remote, opts, tables, env=None, what=""):
    for t in tables:
        a, b = cat(local, t), cat(remote, t, opts, env)
        c.check(len(a) > 1, "table %s of the local run is empty" % t)
        c.check(a == b, "%stable %s: secured HDFS (%d lines) differs from local (%d lines)" % (what, t, len(b), len(a)))


def kinit(cache, keytab="ecom.keytab", principal="ecom@ECOM.TEST", life=None):
    args = ["kinit"] + (["-l", life] if life else []) + ["-kt", os.path.join(SD, keytab), principal]
    sh(*args, env={"KRB5CCNAME": "FILE:" + cache})


def load_and_cat_equal_unsecured(c):
    """ecom load with a keytab; ecom cat with the keytab and with kinit's ticket cache."""
    ev = gen("ev-load.ndjson", 5000, 31)
    local, root = os.path.join(TMP, "load-local"), "%s/load-%d" % (BASE, PID)
    sh(ECOM_OPT, "load", "--input", ev, "--out", local)
    r = sh(ECOM, "load", "--input", ev, "--out", root, *KT, env={"ECOM_WEBHDFS_TRACE": "1"})
    trace = [l for l in r.stderr.splitlines() if l.startswith("webhdfs: ")]
    c.check(any("delegation=***" in l for l in trace), "no DataNode redirect with a delegation token in the trace")
    c.check(not [l for l in trace if re.search(r"delegation=(?!\*\*\*)", l)], "a delegation token shown in the trace")
    c.check(all(l.split()[2].startswith("https://") for l in trace), "a request not over HTTPS")
    compare(c, local, root, KT, RAW, what="keytab: ")
    cache = os.path.join(TMP, "ecom.cc")
    kinit(cache)
    compare(c, local, root, ["--hdfs-auth", "kerberos", "--hdfs-ca", CA], RAW, env={"KRB5CCNAME": "FILE:" + cache},
            what="ticket cache: ")
    print("  load: %d requests over HTTPS with SPNEGO; cat with a keytab and with kinit's cache agree" % len(trace))


def stream_and_dash_equal_unsecured(c):
    ev = gen("ev-stream.ndjson", 20000, 32)
    local, root = os.path.join(TMP, "stream-local"), "%s/stream-%d" % (BASE, PID)
    sh(ECOM_OPT, "stream", "--input", ev, "--out", local, "--quiet")
    t0 = time.monotonic()
    sh(ECOM, "stream", "--input", ev, "--out", root, "--quiet", *KT, timeout=300)
    print("  stream 20000 events to the secured HDFS: %.1f s (sanitized binary)" % (time.monotonic() - t0))
    compare(c, local, root, KT, TABLES)
    answers = {}
    for name, data, args in (("local", local, []), ("secured", root, KT)):
        d = Dash(data, *args)
        try:
            for path in ("/api/summary", "/api/sales_per_minute", "/api/funnel", "/api/top_products"):
                st, body = d.get_json(path)
                c.eq(st, 200, "%s %s status" % (name, path))
                if isinstance(body, dict):
                    body.pop("generation", None)   # names the files' mtimes: differs by design
                answers.setdefault(path, {})[name] = body
        finally:
            rc, err = d.stop()
            c.eq(rc, 0, "%s dash exit code (%s)" % (name, err[-300:]))
    for path, a in answers.items():
        c.check(a.get("local") not in (None, {}, []), "%s: empty local answer" % path)
        c.eq(a.get("secured"), a.get("local"), "%s over the secured HDFS vs local" % path)


def expect_fail(c, what, args, env, want, fast=30):
    """The command fails at once with the messages in want. "At once" is checked by what the
    client did, not by the wall clock: no "(after N attempts" note (webhdfs adds it to an error
    it retried); the wall bound only guards against a hang and leaves a loaded box room."""
    t0 = time.monotonic()
    r = sh(ECOM, "cat", "%s/load-%d/orders" % (BASE, PID), *args, check=False, env=env)
    secs = time.monotonic() - t0
    msg = r.stderr.strip()
    c.eq(r.returncode, 1, "%s: exit code (%s)" % (what, msg))
    for w in want:
        c.check(w in msg, "%s: %r not in the message: %s" % (what, w, msg))
    c.check("attempts" not in msg, "%s: retried: %s" % (what, msg))
    c.check(secs < fast, "%s: took %.1f s" % (what, secs))
    c.check("AddressSanitizer" not in msg and "runtime error" not in msg, "%s: sanitizer: %s" % (what, msg))
    print("  %s (%.1f s): %s" % (what, secs, msg[:400]))


def auth_errors_are_clear(c):
    nocache = {"KRB5CCNAME": "FILE:" + os.path.join(TMP, "nosuch.cc")}
    expect_fail(c, "no ticket", ["--hdfs-auth", "kerberos", "--hdfs-ca", CA], nocache,
                ["no Kerberos ticket", "kinit", "--hdfs-keytab"])
    expect_fail(c, "keytab without the principal", ["--hdfs-auth", "kerberos", "--hdfs-keytab",
                os.path.join(SD, "other.keytab"), "--hdfs-principal", "ecom", "--hdfs-ca", CA], None,
                ["other.keytab", "ecom@ECOM.TEST", "--hdfs-keytab", "--hdfs-principal"])
    expect_fail(c, "stale keytab", ["--hdfs-auth", "kerberos", "--hdfs-keytab", os.path.join(SD, "stale.keytab"),
                "--hdfs-principal", "stale", "--hdfs-ca", CA], None, ["stale.keytab", "--hdfs-keytab"])
    cache = os.path.join(TMP, "short.cc")
    kinit(cache, life="2s")
    env = {"KRB5CCNAME": "FILE:" + cache}
    deadline = time.monotonic() + 15   # bounded: until klist -s says the ticket has expired
    while sh("klist", "-s", check=False, env=env).returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    expect_fail(c, "expired ticket", ["--hdfs-auth", "kerberos", "--hdfs-ca", CA], env,
                ["expired at", "kinit"])
    expect_fail(c, "no Kerberos", ["--hdfs-user", "ecom", "--hdfs-ca", CA], None,
                ["401", "--hdfs-auth kerberos"])
    r = sh(ECOM, "cat", BASE + "/x", "--hdfs-keytab", os.path.join(SD, "ecom.keytab"), check=False)
    c.eq(r.returncode, 2, "keytab without --hdfs-principal: exit code")
    c.check("--hdfs-principal" in r.stderr, "usage message: %s" % r.stderr)


def untrusted_certificate_refused(c):
    other = os.path.join(TMP, "other-ca.pem")
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=another CA",
       "-keyout", os.path.join(TMP, "other-ca.key"), "-out", other)
    kt = KT[:-2]
    expect_fail(c, "no --hdfs-ca", kt, None, ["not trusted", "--hdfs-ca"])
    expect_fail(c, "another CA", kt + ["--hdfs-ca", other], None, ["not trusted", "--hdfs-ca", "right CA file"])
    expect_fail(c, "missing CA file", kt + ["--hdfs-ca", os.path.join(TMP, "nosuch.pem")], None,
                ["--hdfs-ca", "nosuch.pem"])


def feed(p, lines, secs):
    """Writes lines to p's stdin evenly over about secs seconds, then closes it."""
    step = max(1, len(lines) * 2 // (secs * 10))
    try:
        for i in range(0, len(lines), step):
            p.stdin.write(b"".join(lines[i:i + step]))
            p.stdin.flush()
            time.sleep(0.2)
        p.stdin.close()
    except (BrokenPipeError, ValueError):
        pass


def kdc_issued(log, req, who):
    """Tickets for the ticket-granting service the KDC issued to who by req: "AS_REQ" (logins
    that had the key) or "TGS_REQ" (renewals)."""
    return sum(1 for l in open(log, errors="replace") if req in l and "ISSUE" in l and "%s for krbtgt/" % who in l)


def long_stream(c, name, opts, env=None):
    """A stream of 3000 events fed over about 25 s with options opts; its tables must equal a
    local run's. Returns the run's seconds."""
    ev = gen("ev-%s.ndjson" % name, 3000, 33)
    local, root = os.path.join(TMP, name + "-local"), "%s/%s-%d" % (BASE, name, PID)
    with open(ev, "rb") as f:
        sh(ECOM_OPT, "stream", "--input", "-", "--out", local, "--quiet", stdin=f)
    logname = os.path.join(TMP, "stream-%s.log" % name)
    log = open(logname, "w")
    t0 = time.monotonic()
    p = subprocess.Popen([ECOM, "stream", "--input", "-", "--out", root, "--commit-interval", "1s", *opts],
                         stdin=subprocess.PIPE, stdout=log, stderr=log, env={**os.environ, **(env or {})})
    feeder = threading.Thread(target=feed, args=(p, open(ev, "rb").readlines(), 25), daemon=True)
    feeder.start()
    try:
        rc = p.wait(timeout=240)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        log.close()
    secs = time.monotonic() - t0
    text = open(logname, errors="replace").read()
    c.eq(rc, 0, "stream exit code (%s)" % text[-400:])
    c.check("storage error" not in text, "storage errors during the run: %s" %
            [l for l in text.splitlines() if "storage error" in l][:2])
    c.check(secs > 22, "the run lasted only %.1f s (not past two ticket lifetimes)" % secs)
    compare(c, local, root, KT, TABLES)   # read back as ecom@ from its keytab
    return secs


KDCLOG = os.path.join(SD, "logs", "kdc-events.log")


def keytab_login_renewed_on_long_run(c):
    """brief@'s tickets live 10 s; a stream of over 22 s logs in again from the keytab before
    each runs out (brief@ requires preauthentication: only logins with the key get tickets)."""
    before = kdc_issued(KDCLOG, "AS_REQ", "brief@ECOM.TEST")
    secs = long_stream(c, "longkt", ["--hdfs-auth", "kerberos", "--hdfs-keytab", os.path.join(SD, "brief.keytab"),
                                     "--hdfs-principal", "brief@ECOM.TEST", "--hdfs-ca", CA])
    logins = kdc_issued(KDCLOG, "AS_REQ", "brief@ECOM.TEST") - before
    c.check(logins >= 3, "only %d keytab logins in a %.0f s run with 10 s tickets" % (logins, secs))
    print("  %.0f s run with 10 s tickets: %d logins from the keytab (KDC log), no storage error" % (secs, logins))


def ticket_cache_renewed_on_long_run(c):
    """kinit -l 8s -r 10m: a stream of over 22 s renews the ticket in the user's cache (TGS
    requests for krbtgt, as kinit -R) and never fails."""
    cache = os.path.join(TMP, "renew.cc")
    sh("kinit", "-l", "8s", "-r", "10m", "-kt", os.path.join(SD, "ecom.keytab"), "ecom@ECOM.TEST",
       env={"KRB5CCNAME": "FILE:" + cache})
    before = kdc_issued(KDCLOG, "TGS_REQ", "ecom@ECOM.TEST")
    secs = long_stream(c, "longcc", ["--hdfs-auth", "kerberos", "--hdfs-ca", CA], env={"KRB5CCNAME": "FILE:" + cache})
    renewals = kdc_issued(KDCLOG, "TGS_REQ", "ecom@ECOM.TEST") - before
    c.check(renewals >= 3, "only %d renewals in a %.0f s run with 8 s tickets" % (renewals, secs))
    k = sh("klist", env={"KRB5CCNAME": "FILE:" + cache}).stdout
    print("  %.0f s run with 8 s renewable tickets from kinit: %d renewals (KDC log); cache now: %s" %
          (secs, renewals, " ".join(l.strip() for l in k.splitlines() if "krbtgt" in l)))


cases = Cases()
for case in (load_and_cat_equal_unsecured, stream_and_dash_equal_unsecured, auth_errors_are_clear,
             untrusted_certificate_refused, keytab_login_renewed_on_long_run, ticket_cache_renewed_on_long_run):
    if len(sys.argv) < 2 or case.__name__ in sys.argv[1:]:
        cases.run(case)
sys.exit(1 if cases.failed else 0)
