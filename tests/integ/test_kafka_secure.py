"""ecom against the secured listeners of the real Kafka broker (tests/services/kafka.sh):
SASL_SSL with SCRAM-SHA-512, SASL_SSL with PLAIN, and SSL with client certificates (mTLS),
all with a CA and certificates made at the broker's start. Settings reach librdkafka through
ECOM_KAFKA_CONF, as a user's would.

1. `ecom gen -> ecom stream -> lake` through each secured listener gives exactly the tables of
   the same run over PLAINTEXT (same seed, own topics per listener).
2. The usual mistakes — a wrong password, an untrusted CA, no client certificate, a plain
   client on a TLS port, a TLS client on the plain port, an unreadable ssl.ca.location — each
   end `gen`, `stream` and `broker --create-topics` with exit 1 and one line that names the
   setting to fix, well before the --timeout (librdkafka alone retries until it runs out).
"""
import os
import subprocess
import sys
import time
import uuid

import duckdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ECOM, ECOM_OPT, TMP, Suite, run  # noqa: E402

REPO = os.environ["REPO"]
SVC = os.path.join(REPO, "tests/services/kafka.sh")
TABLES = ["sales_per_minute", "category_activity", "top_products", "sales_by_city", "funnel",
          "views", "cart", "orders"]
suite = Suite()
case = suite.case

subprocess.run(["bash", SVC, "ensure"], capture_output=True, text=True, check=True)
ENV = dict(line.split("=", 1) for line in
           subprocess.run(["bash", SVC, "env"], capture_output=True, text=True, check=True).stdout.split("\n") if "=" in line)
ENV = {k: v.strip("'") for k, v in ENV.items()}
SUFFIX = uuid.uuid4().hex[:8]

CA, OTHER_CA = ENV["KAFKA_CA"], ENV["KAFKA_OTHER_CA"]
SCRAM = {"addr": ENV["KAFKA_SCRAM_ADDR"], "conf": [
    "security.protocol=SASL_SSL", "sasl.mechanism=SCRAM-SHA-512", f"sasl.username={ENV['KAFKA_SCRAM_USER']}",
    f"sasl.password={ENV['KAFKA_SCRAM_PASSWORD']}", f"ssl.ca.location={CA}"]}
PLAIN = {"addr": ENV["KAFKA_PLAIN_ADDR"], "conf": [
    "security.protocol=SASL_SSL", "sasl.mechanism=PLAIN", f"sasl.username={ENV['KAFKA_PLAIN_USER']}",
    f"sasl.password={ENV['KAFKA_PLAIN_PASSWORD']}", f"ssl.ca.location={CA}"]}
MTLS = {"addr": ENV["KAFKA_MTLS_ADDR"], "conf": [
    "security.protocol=SSL", f"ssl.ca.location={CA}", f"ssl.certificate.location={ENV['KAFKA_CLIENT_CERT']}",
    f"ssl.key.location={ENV['KAFKA_CLIENT_KEY']}"]}
PLAINTEXT = {"addr": ENV["KAFKA_ADDR"], "conf": []}


def env_with(conf):
    e = dict(os.environ)
    e["ECOM_KAFKA_CONF"] = ";".join(conf)
    return e


def rows(root):
    con = duckdb.connect()
    out = {}
    for t in TABLES:
        p = os.path.join(root, t)
        if not os.path.isdir(p):
            out[t] = []
            continue
        sel = f"SELECT * FROM read_parquet('{p}/**/*.parquet', hive_partitioning=1)"
        names = [r[0] for r in con.execute(f"DESCRIBE {sel}").fetchall()]
        keep = [n for n in names if n not in ("ingested_at", "processed_at")]  # processing time
        sel = f"SELECT {', '.join(keep)} FROM read_parquet('{p}/**/*.parquet', hive_partitioning=1)"
        out[t] = sorted(map(repr, con.execute(sel).fetchall()))
    return out


def pipeline(name, listener):
    """Topics created, events produced and the stream drained, all through one listener."""
    topics = [f"{t}_{name}_{SUFFIX}" for t in ("pv", "ce", "or")]
    flags = ["--topic-views", topics[0], "--topic-cart", topics[1], "--topic-orders", topics[2]]
    env, addr = env_with(listener["conf"]), listener["addr"]
    run([ECOM, "broker", "--create-topics", "--brokers", addr, "--partitions", "3", "--topics", ",".join(topics),
         "--quiet"], env=env)
    run([ECOM_OPT, "gen", "--brokers", addr, *flags, "--seed", "41", "--users", "200",
         "--start", "2026-11-25T12:00:00Z", "--rate", "20", "--count", "6000", "--quiet"], env=env)
    root = os.path.join(TMP, f"lake_{name}")
    run([ECOM, "stream", "--brokers", addr, *flags, "--group", f"g_{name}_{SUFFIX}", "--drain", "--out", root,
         "--idle-timeout", "0", "--quiet"], env=env)
    return rows(root)


BASE = {}


def plaintext_baseline():
    BASE.update(pipeline("plaintext", PLAINTEXT))
    assert len(BASE["sales_per_minute"]) >= 5, "too few windows to compare"
    assert len(BASE["views"]) > 1000, f"only {len(BASE['views'])} views"


def same_tables(name, listener):
    assert BASE, "no PLAINTEXT baseline"
    got = pipeline(name, listener)
    for t in TABLES:
        assert got[t] == BASE[t], f"{name}: {t} differs from PLAINTEXT ({len(got[t])} vs {len(BASE[t])} rows)"


def sasl_ssl_scram_equals_plaintext():
    same_tables("scram", SCRAM)


def sasl_ssl_plain_equals_plaintext():
    same_tables("plain", PLAIN)


def mtls_equals_plaintext():
    same_tables("mtls", MTLS)


# ---- mistakes: exit 1, one line naming the setting, fast ----
TIMEOUT_S = 20
FAST_S = 6  # a SASL failure costs the broker's failed-authentication delay plus TLS: ~1.5 s here


def with_conf(listener, **repl):
    """listener's settings with some replaced (value None: removed)."""
    repl = {k.replace("_", "."): v for k, v in repl.items()}
    conf = [c for c in listener["conf"] if c.split("=", 1)[0] not in repl]
    return conf + [f"{k}={v}" for k, v in repl.items() if v is not None]


def expect_clear_error(addr, conf, must_name, cmd="gen"):
    argv = {
        "gen": [ECOM, "gen", "--brokers", addr, "--count", "10", "--start", "2026-01-01T00:00:00Z", "--quiet",
                "--timeout", f"{TIMEOUT_S}s"],
        "stream": [ECOM, "stream", "--brokers", addr, "--group", f"gerr_{SUFFIX}", "--drain", "--quiet",
                   "--out", os.path.join(TMP, "lake_err"), "--timeout", f"{TIMEOUT_S}s"],
        "broker": [ECOM, "broker", "--create-topics", "--brokers", addr, "--topics", f"e1_{SUFFIX},e2_{SUFFIX},e3_{SUFFIX}",
                   "--timeout", f"{TIMEOUT_S}s"],
    }[cmd]
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S + 30, env=env_with(conf))
    took = time.monotonic() - t0
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == 1, f"{cmd}: exit {r.returncode}, stderr: {r.stderr[-800:]}"
    assert len(lines) == 1, f"{cmd}: {len(lines)} lines on stderr: {r.stderr[-800:]}"
    for word in must_name:
        assert word in lines[0], f"{cmd}: the message does not name {word}: {lines[0]}"
    assert took < FAST_S, f"{cmd}: took {took:.1f} s (time limit {TIMEOUT_S} s): {lines[0]}"
    for secret in (ENV["KAFKA_SCRAM_PASSWORD"], ENV["KAFKA_PLAIN_PASSWORD"], "not-the-password"):
        assert secret not in lines[0], f"{cmd}: the message shows a password: {lines[0]}"
    print(f"  {cmd} {took:.1f}s: {lines[0][:160]}")


def wrong_password_names_sasl_password():
    for cmd in ("gen", "stream", "broker"):
        expect_clear_error(SCRAM["addr"], with_conf(SCRAM, sasl_password="not-the-password"),
                           ["sasl.password", "sasl.username"], cmd)
    expect_clear_error(PLAIN["addr"], with_conf(PLAIN, sasl_password="not-the-password"), ["sasl.password"])


def wrong_mechanism_names_sasl_mechanism():
    expect_clear_error(PLAIN["addr"], with_conf(PLAIN, sasl_mechanism="SCRAM-SHA-512"), ["sasl.mechanism"])


def username_without_mechanism_names_sasl_mechanism():
    expect_clear_error(SCRAM["addr"], with_conf(SCRAM, sasl_mechanism=None), ["set sasl.mechanism=", "SCRAM-SHA-512"])


def untrusted_ca_names_ssl_ca_location():
    for cmd in ("gen", "stream"):
        expect_clear_error(SCRAM["addr"], with_conf(SCRAM, ssl_ca_location=OTHER_CA), ["ssl.ca.location", OTHER_CA], cmd)
    expect_clear_error(MTLS["addr"], with_conf(MTLS, ssl_ca_location=OTHER_CA), ["ssl.ca.location"])


def missing_client_certificate_names_ssl_certificate_location():
    for cmd in ("gen", "stream", "broker"):
        expect_clear_error(MTLS["addr"], with_conf(MTLS, ssl_certificate_location=None, ssl_key_location=None),
                           ["ssl.certificate.location", "ssl.key.location"], cmd)


def client_certificate_of_another_ca_is_named():
    cert = ENV["KAFKA_OTHER_CLIENT_CERT"]
    expect_clear_error(MTLS["addr"], with_conf(MTLS, ssl_certificate_location=cert,
                                               ssl_key_location=ENV["KAFKA_OTHER_CLIENT_KEY"]),
                       ["ssl.certificate.location", cert])


def plaintext_client_on_tls_port_names_security_protocol():
    for cmd in ("gen", "stream"):
        expect_clear_error(MTLS["addr"], [], ["security.protocol"], cmd)
    expect_clear_error(SCRAM["addr"], [], ["security.protocol"])


def tls_client_on_plaintext_port_names_security_protocol():
    expect_clear_error(PLAINTEXT["addr"], ["security.protocol=SSL", f"ssl.ca.location={CA}"], ["security.protocol"])


def unreadable_ca_file_names_setting_and_path():
    bad = os.path.join(TMP, "no-such-dir", "ca.pem")
    for cmd in ("gen", "stream", "broker"):
        expect_clear_error(MTLS["addr"], with_conf(MTLS, ssl_ca_location=bad),
                           ["ssl.ca.location", bad, "cannot read"], cmd)
    notpem = os.path.join(TMP, "not-a-ca.pem")
    with open(notpem, "w") as f:
        f.write("not a certificate\n")
    expect_clear_error(MTLS["addr"], with_conf(MTLS, ssl_ca_location=notpem), ["ssl.ca.location", notpem])


case(plaintext_baseline)
case(sasl_ssl_scram_equals_plaintext)
case(sasl_ssl_plain_equals_plaintext)
case(mtls_equals_plaintext)
case(wrong_password_names_sasl_password)
case(wrong_mechanism_names_sasl_mechanism)
case(username_without_mechanism_names_sasl_mechanism)
case(untrusted_ca_names_ssl_ca_location)
case(missing_client_certificate_names_ssl_certificate_location)
case(client_certificate_of_another_ca_is_named)
case(plaintext_client_on_tls_port_names_security_protocol)
case(tls_client_on_plaintext_port_names_security_protocol)
case(unreadable_ca_file_names_setting_and_path)
suite.exit()
