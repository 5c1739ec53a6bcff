"""ecom dash under a connection flood, with real sockets (issue 11, finding 5).

flood: 2,000 slowloris connections from 127.0.0.2-9 (250 per address) each send a partial request
and then one more header line every 0.5 s (so an idle timeout never fires); a connection the
server closes is opened again at once, so the flood stays at 2,000 for the whole attack. The
attacker is a separate process (its work must not slow the prober's clock). Meanwhile the
operator probes GET /api/health from 127.0.0.1 every 50 ms on fresh connections: every probe must
be answered, p99 within 100 ms (scaled by the host's load average); after the attacker closes, the first answer must come at once.
one_address: 300 partial connections from 127.0.0.1 itself do not lock the operator out.
reserve: with every ordinary slot taken, other addresses are refused and the operator answered.
utf8 / nul: error bodies are valid UTF-8 JSON; a raw or encoded NUL / control character in the
path is a 400 (never served as the truncated path), a request line without a URI is refused.

Bounded: fixed connection counts, an attack of ATTACK_S seconds, every wait capped.
Run by hand against another binary: ECOM=path/to/ecom $PY tests/integ/test_dash_flood.py"""
import http.client
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from dashlib import Cases, Dash  # noqa: E402

TMP = os.environ.get("TEST_TMP", "/tmp")
FLOOD = 2000                 # slowloris connections
SOURCES = ["127.0.0.%d" % i for i in range(2, 10)]
ATTACK_S = 12.0              # past two header deadlines (5 s by default)
PROBE_EVERY_S = 0.05
PROBE_TIMEOUT_S = 2.0
AFTER_CAP_S = 40.0           # the old server needed 30.2 s


def raise_fd_limit():
    """Each socket is an fd: the flood needs more than the usual soft limit of 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def partial_conn(host, port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    s.bind((src, 0))
    s.connect((host, port))
    s.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")   # no blank line: the request never ends
    s.setblocking(False)
    return s


def attacker(host, port, n, seconds):
    """The attacker process: holds n partial requests for `seconds`, re-opening each one the
    server closes. Prints 'ready' once all are open, then one JSON line of figures, and closes
    everything on exit ('closed' line right after the close)."""
    raise_fd_limit()
    os.nice(10)   # a real attacker's CPU is not ours: let it not take the server's or the prober's
    sel = selectors.DefaultSelector()
    opened = {}
    fails = 0

    def open_one(i):
        nonlocal fails
        try:
            s = partial_conn(host, port, SOURCES[i % len(SOURCES)])
        except OSError:
            fails += 1
            return
        opened[s] = (i, time.monotonic())
        sel.register(s, selectors.EVENT_READ)

    for i in range(n):
        open_one(i)
    print("ready %d" % len(opened), flush=True)
    end = time.monotonic() + seconds
    next_trickle = time.monotonic() + 0.5
    closed_by_server, lifetimes, min_open = 0, [], len(opened)
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                continue   # an error answer: the close follows
            i, t0 = opened.pop(s)
            sel.unregister(s)
            s.close()
            closed_by_server += 1
            lifetimes.append(time.monotonic() - t0)
            open_one(i)
        min_open = min(min_open, len(opened))
        if time.monotonic() >= next_trickle:
            next_trickle += 0.5
            for s in list(opened):
                try:
                    s.send(b"X-a: b\r\n")
                except OSError:
                    pass   # the close shows up as readable
    lifetimes.sort()
    print(json.dumps({"closed_by_server": closed_by_server, "min_open": min_open, "connect_failures": fails,
                      "max_lifetime_s": round(lifetimes[-1], 2) if lifetimes else None}), flush=True)
    for s in list(opened):
        s.close()
    print("closed %.6f" % time.monotonic(), flush=True)


def probe(host, port):
    """One GET /api/health on a fresh connection from 127.0.0.1: (seconds, status or None)."""
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection(host, port, timeout=PROBE_TIMEOUT_S, source_address=("127.0.0.1", 0))
        c.request("GET", "/api/health")
        r = c.getresponse()
        r.read()
        c.close()
        return time.monotonic() - t0, r.status
    except (OSError, http.client.HTTPException):
        return time.monotonic() - t0, None


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def run_flood(d):
    """Runs the attack against d while probing; returns the figures."""
    atk = subprocess.Popen([sys.executable, __file__, "--attack", d.host, str(d.port), str(FLOOD), str(ATTACK_S)],
                           stdout=subprocess.PIPE, text=True)
    try:
        ready = atk.stdout.readline().split()
        lat, failed = [], 0
        while atk.poll() is None:
            dt, st = probe(d.host, d.port)
            if st == 200:
                lat.append(dt)
            else:
                failed += 1
            time.sleep(max(0.0, PROBE_EVERY_S - dt))
            if failed + len(lat) > ATTACK_S / PROBE_EVERY_S + 50:
                break   # cap: the attacker overran its time
        figures = json.loads(atk.stdout.readline() or "{}")
        closed_line = atk.stdout.readline().split()
    finally:
        if atk.poll() is None:
            atk.kill()
        atk.wait(timeout=30)
    closed_at = float(closed_line[1]) if len(closed_line) == 2 else time.monotonic()
    first = None
    while time.monotonic() - closed_at < AFTER_CAP_S:
        dt, st = probe(d.host, d.port)
        if st == 200:
            first = time.monotonic() - closed_at
            break
        time.sleep(0.05)
    figures.update({"ready": ready, "probes_ok": len(lat), "probes_failed": failed,
                    "p50_ms": round(pct(lat, 50) * 1000, 1) if lat else None,
                    "p99_ms": round(pct(lat, 99) * 1000, 1) if lat else None,
                    "first_answer_after_close_s": round(first, 3) if first is not None else None})
    return figures


def flood(t):
    d = Dash(os.path.join(TMP, "empty"))
    try:
        f = run_flood(d)
        print("  flood figures:", json.dumps(f), flush=True)
        t.eq(f["ready"], ["ready", str(FLOOD)], "the attacker held its connections")
        t.eq(f["probes_failed"], 0, "probes failed during the attack")
        t.check(f["probes_ok"] >= 50, "probes answered during the attack: %d" % f["probes_ok"])
        # The goal is 100 ms p99 (measured 5.5-12.1 ms niced at load 6-8: docs/reliability.md). A
        # test on a shared 2-core host is no benchmark: the bound grows with the load average, so a
        # busy CI machine is not taken for a starved server (the old server answered 0 probes).
        bound = 100 * max(1.0, os.getloadavg()[0] / 2)
        t.check(f["p99_ms"] is not None and f["p99_ms"] <= bound,
                "p99 during the attack %s ms (bound %.0f ms at load %.1f)" % (f["p99_ms"], bound, os.getloadavg()[0]))
        t.check(f.get("closed_by_server", 0) >= FLOOD, "partial requests closed by the server: %s"
                % f.get("closed_by_server"))
        # deadline 5 s, + up to 1 s: the server spreads 2,000 expiries over 10 ticks of 100 ms
        t.check(f.get("max_lifetime_s") is not None and f["max_lifetime_s"] <= 5 + 2,
                "a partial request lived %s s (deadline 5 s)" % f.get("max_lifetime_s"))
        t.check(f.get("min_open", 0) >= FLOOD * 0.9, "the flood stayed open: at least %s" % f.get("min_open"))
        a = f["first_answer_after_close_s"]
        t.check(a is not None and a <= 1.0, "first answer %s s after the attacker closed" % a)
    finally:
        rc, err = d.stop()
    t.eq(rc, 0, "clean exit")
    t.check("AddressSanitizer" not in err and "runtime error" not in err, "sanitizers quiet: " + err[-500:])


def one_address(t):
    """Partial requests from the operator's own address (past the per-address limit, 256) do
    not lock the operator out."""
    d = Dash(os.path.join(TMP, "empty"))
    socks = []
    try:
        for _ in range(300):
            socks.append(partial_conn(d.host, d.port, "127.0.0.1"))
        res = [probe(d.host, d.port) for _ in range(20)]
        t.eq([st for _, st in res], [200] * 20, "operator probes with 300 partial requests from 127.0.0.1")
    finally:
        for s in socks:
            s.close()
        rc, err = d.stop()
    t.eq(rc, 0, "clean exit")


def reserve(t):
    """With all ordinary slots taken (--max-connections 64: 56 ordinary, 8 kept for the operator),
    another address is refused and the operator is still answered."""
    d = Dash(os.path.join(TMP, "empty"), "--max-connections", "64", "--header-timeout", "60")
    socks = []
    try:
        for i in range(100):
            socks.append(partial_conn(d.host, d.port, SOURCES[i % len(SOURCES)]))
        # refused ones are closed by the server at once: watch for closes during a 1.5 s window
        # (the header deadline, 60 s here, closes none of the accepted ones meanwhile)
        sel = selectors.DefaultSelector()
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        dead = 0
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            for key, _ in sel.select(timeout=0.1):
                sel.unregister(key.fileobj)
                try:
                    gone = key.fileobj.recv(100) == b""
                except OSError:
                    gone = True
                dead += gone
        t.eq(dead, 100 - 56, "ordinary connections refused past the operator's reserve")
        res = [probe(d.host, d.port)[1] for _ in range(8)]
        t.eq(res, [200] * 8, "operator probes with every ordinary slot taken")
    finally:
        for s in socks:
            s.close()
        rc, err = d.stop()
    t.eq(rc, 0, "clean exit")


def raw(d, data):
    """Sends raw bytes, returns (status line, body bytes) of the answer (b"" if none)."""
    s = socket.create_connection((d.host, d.port), timeout=5)
    try:
        s.sendall(data)
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            got += chunk
            if b"\r\n\r\n" in got:
                head, _, body = got.partition(b"\r\n\r\n")
                n = [int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length:")]
                if n and len(body) >= n[0]:
                    break
        head, _, body = got.partition(b"\r\n\r\n")
        return head.split(b"\r\n")[0], body
    finally:
        s.close()


def utf8(t):
    d = Dash(os.path.join(TMP, "empty"))
    try:
        for what, req in [("encoded key", b"GET /api/health?%ff%fe=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                          ("raw key", b"GET /api/health?\xff\xc3(=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                          ("encoded value", b"GET /api/summary?last=%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                          ("truncated sequence", b"GET /api/summary?x%e2%82=1 HTTP/1.1\r\nHost: x\r\n"
                                                 b"Connection: close\r\n\r\n")]:
            line, body = raw(d, req)
            t.check(line.startswith(b"HTTP/1.1 400"), what + ": status %r" % line)
            try:
                j = json.loads(body.decode("utf-8"))
                t.check(isinstance(j.get("error"), str), what + ": error member")
            except (UnicodeDecodeError, ValueError) as e:
                t.check(False, what + ": body %r is not UTF-8 JSON (%s)" % (body[:80], e))
        st, j = d.get_json("/api/health")
        t.eq(st, 200, "still serving")
    finally:
        rc, err = d.stop()
    t.eq(rc, 0, "clean exit")
    t.check("AddressSanitizer" not in err and "runtime error" not in err, "sanitizers quiet: " + err[-500:])


def nul(t):
    d = Dash(os.path.join(TMP, "empty"))
    try:
        for what, path in [("raw NUL", b"/api/health\x00junk"), ("raw NUL at the end", b"/api/health\x00"),
                           ("raw NUL in the query", b"/api/health?last=1h\x00x"), ("encoded NUL", b"/api/health%00"),
                           ("raw control", b"/api/he\x01alth"), ("encoded escape", b"/api/health%1b"),
                           ("raw DEL", b"/api/health\x7f"), ("raw tab", b"/api/\thealth")]:
            line, body = raw(d, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            t.check(line.startswith(b"HTTP/1.1 400"), what + ": status %r" % line)
            try:
                json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                t.check(False, what + ": body %r is not UTF-8 JSON" % body[:80])
        line, body = raw(d, b"GET \r\n\r\n")   # no URI at all
        t.check(not line.startswith(b"HTTP/1.1 2"), "a request line without a URI is not served: %r" % line)
        st, j = d.get_json("/api/health")
        t.eq(st, 200, "still serving")
    finally:
        rc, err = d.stop()
    t.eq(rc, 0, "clean exit")
    t.check("AddressSanitizer" not in err and "runtime error" not in err, "sanitizers quiet: " + err[-500:])


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "--attack":
        attacker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
        return
    os.makedirs(os.path.join(TMP, "empty"), exist_ok=True)
    fds = raise_fd_limit()
    if fds < FLOOD + 200:
        print("FAIL flood (the test process may open only %d files)" % fds)
        sys.exit(1)
    t = Cases()
    names = sys.argv[1:] or ["nul", "utf8", "one_address", "reserve", "flood"]
    for fn in [nul, utf8, one_address, reserve, flood]:
        if fn.__name__ in names:
            t.run(fn)
    sys.exit(1 if t.failed else 0)


if __name__ == "__main__":
    main()
