"""hdfs_dash_latency.py — read latency of `ecom dash` over an HDFS root vs a local root holding the
same tables (called by bench/bench_hdfs.sh; the two dashboards run side by side and every sample is
taken on both, local then HDFS, so they share the machine's load).

  python bench/hdfs_dash_latency.py ECOM LOCAL_ROOT HDFS_ADDR HDFS_PATH [SAMPLES] [STARTS]

Measures, per endpoint (the page's queries, last=24h):
  start  the first request after `ecom dash` starts (lists the lake, reads every footer and row
         group it needs from storage): STARTS fresh processes;
  cold   the first request after a new generation: before each sample a copy of one committed
         sales_per_minute file is added under a new name (on HDFS through WebHDFS), and the request
         comes after the poll interval, so the dashboard re-lists every table, opens the new file
         and recomputes (row groups of unchanged files stay decoded); the answer's `generation`
         is checked to have changed;
  warm   the same request again (a cached answer).
Prints medians and p90 in ms and the HDFS/local ratio of the medians."""
import http.client
import os
import shutil
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integ"))
from dashlib import Dash  # noqa: E402

ECOM, LOCAL, ADDR, HPATH = sys.argv[1:5]
SAMPLES = int(sys.argv[5]) if len(sys.argv) > 5 else 30
STARTS = int(sys.argv[6]) if len(sys.argv) > 6 else 5
USER = os.environ.get("HADOOP_USER_NAME") or "ecom"
POLL_S = 0.5            # ecom dash --poll (its default), passed explicitly below
ENDPOINTS = ["summary", "sales_per_minute", "top_products", "funnel"]
WARM_PER_COLD = 5


def get(d, api):
    t0 = time.perf_counter()
    st, body = d.get_json("/api/%s?last=24h" % api)
    ms = (time.perf_counter() - t0) * 1000
    if st != 200:
        raise RuntimeError("%s /api/%s: HTTP %d %r" % (d.url, api, st, body))
    return ms, body.get("generation")


def hdfs_put(path, data):
    """WebHDFS two-step CREATE: the NameNode's 307, then the bytes to the DataNode."""
    host, port = ADDR.split(":")
    q = urllib.parse.urlencode({"op": "CREATE", "overwrite": "true", "user.name": USER})
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request("PUT", "/webhdfs/v1%s?%s" % (urllib.parse.quote(path), q), headers={"Content-Length": "0"})
    r = c.getresponse()
    r.read()
    loc = r.getheader("Location")
    c.close()
    if r.status != 307 or not loc:
        raise RuntimeError("CREATE %s: HTTP %d" % (path, r.status))
    u = urllib.parse.urlsplit(loc)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("PUT", u.path + "?" + u.query, body=data, headers={"Content-Type": "application/octet-stream"})
    r = c.getresponse()
    r.read()
    c.close()
    if r.status != 201:
        raise RuntimeError("CREATE %s on the DataNode: HTTP %d" % (path, r.status))


def pick_seed_file():
    """The smallest committed sales_per_minute file of the local root, and its partition."""
    best = None
    for d, _, fs in os.walk(os.path.join(LOCAL, "sales_per_minute")):
        for f in fs:
            if f.endswith(".parquet") and not f.startswith((".", "_")):
                p = os.path.join(d, f)
                if best is None or os.path.getsize(p) < os.path.getsize(best):
                    best = p
    if not best:
        raise RuntimeError("no sales_per_minute file under " + LOCAL)
    return best


def new_generation(seed, part, i):
    """The same bytes under a new committed name on both roots (the lake gains a file)."""
    name = "part-zbench-%05d.parquet" % i
    shutil.copyfile(seed, os.path.join(LOCAL, "sales_per_minute", part, name))
    with open(seed, "rb") as f:
        hdfs_put("%s/sales_per_minute/%s/%s" % (HPATH, part, name), f.read())


def stats(xs):
    xs = sorted(xs)
    return statistics.median(xs), xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]


def main():
    roots = {"local": LOCAL, "hdfs": "hdfs://%s%s" % (ADDR, HPATH)}
    args = ["--poll", "%dms" % int(POLL_S * 1000), "--hdfs-user", USER]
    res = {(k, api, e): [] for k in roots for api in ENDPOINTS for e in ("start", "cold", "warm")}
    # start: fresh processes, the first request of each endpoint in turn.
    for s in range(STARTS):
        api = ENDPOINTS[s % len(ENDPOINTS)]
        for k, root in roots.items():
            d = Dash(root, *args, binary=ECOM)
            try:
                res[(k, api, "start")].append(get(d, api)[0])
            finally:
                d.stop()
    dashes = {k: Dash(root, *args, binary=ECOM) for k, root in roots.items()}
    try:
        for k in dashes:
            for api in ENDPOINTS:
                get(dashes[k], api)
        seed = pick_seed_file()
        part = os.path.basename(os.path.dirname(seed))
        stale = 0
        for i in range(SAMPLES * len(ENDPOINTS)):
            api = ENDPOINTS[i % len(ENDPOINTS)]
            before = {k: get(d, api)[1] for k, d in dashes.items()}
            new_generation(seed, part, i)
            time.sleep(POLL_S + 0.1)   # pacing: the next request is past the poll interval
            for k, d in dashes.items():
                ms, gen = get(d, api)
                if gen == before[k]:
                    stale += 1          # not a new generation: not a cold sample
                    continue
                res[(k, api, "cold")].append(ms)
                for _ in range(WARM_PER_COLD):
                    res[(k, api, "warm")].append(get(d, api)[0])
    finally:
        for d in dashes.values():
            d.stop()
    print("dashboard latency, last=24h, ms: median / p90 (samples); ratio = HDFS median / local median")
    print("%-17s %-6s %22s %22s %7s" % ("endpoint", "kind", "local", "HDFS", "ratio"))
    allr = {}
    for api in ENDPOINTS:
        for e in ("start", "cold", "warm"):
            a, b = res[("local", api, e)], res[("hdfs", api, e)]
            if not a or not b:
                continue
            (am, ap), (bm, bp) = stats(a), stats(b)
            print("%-17s %-6s %9.2f / %6.2f (%3d) %9.2f / %6.2f (%3d) %6.2fx" %
                  (api, e, am, ap, len(a), bm, bp, len(b), bm / am))
            allr.setdefault(e, ([], []))
            allr[e][0].extend(a)
            allr[e][1].extend(b)
    for e, (a, b) in allr.items():
        (am, ap), (bm, bp) = stats(a), stats(b)
        print("%-17s %-6s %9.2f / %6.2f (%3d) %9.2f / %6.2f (%3d) %6.2fx" %
              ("all endpoints", e, am, ap, len(a), bm, bp, len(b), bm / am))
    if stale:
        print("(%d requests after a new file still saw the old generation: left out)" % stale)


main()
