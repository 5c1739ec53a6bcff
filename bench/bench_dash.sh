#!/usr/bin/env bash
# bench_dash.sh — `ecom dash` under load: wrk at 50 connections against every API on a day of
# minute windows (1440 windows x 7 metric tables, written by tests/integ/dash_fixture.py), p50/p99
# and requests/s; cached answers (the same range, as the page asks) and uncached ones (a random
# range per request, every answer computed). Peer: DuckDB running the same aggregation over the
# same files, once per query, in the same invocation. Then the page's first contentful paint in
# headless Chromium (median of 5 fresh loads). Goals (issue 5): p99 < 20 ms, first paint < 1 s.
#
#   bash bench/bench_dash.sh            (or: make bench, which runs every bench/bench_*.sh)
#   DURATION=10s CONNS=50 bash bench/bench_dash.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
PY=${PY:-$ECOM_CACHE/venv/bin/python}
ECOM_OPT=${ECOM_OPT:-$REPO/build/ecom}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-50}
command -v wrk >/dev/null || { echo "bench_dash: wrk is not installed (scripts/setup.sh installs it)"; exit 1; }
[ -x "$ECOM_OPT" ] || make -s build/ecom
WORK=$(mktemp -d /tmp/ecom-dash-bench.XXXXXX)
DASH_PID=
cleanup() { [ -n "$DASH_PID" ] && kill "$DASH_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"$PY" tests/integ/dash_fixture.py "$WORK/lake" --start 2026-11-24T00:00:00Z --minutes 1440
"$ECOM_OPT" dash --data "$WORK/lake" --listen 127.0.0.1:0 >"$WORK/dash.out" 2>"$WORK/dash.err" &
DASH_PID=$!
URL=
for _ in $(seq 1 100); do
  URL=$(sed -n 's/.*serving \(http[^ ]*\) .*/\1/p' "$WORK/dash.out"); [ -n "$URL" ] && break; sleep 0.1
done
[ -n "$URL" ] || { echo "bench_dash: ecom dash did not start: $(cat "$WORK/dash.err")"; exit 1; }

# A wrk script that asks for a random 1..24 h range of the day on every request (no cache hits).
cat >"$WORK/random.lua" <<'LUA'
math.randomseed(42)
request = function()
  local from = math.random(0, 1380)
  local len = math.random(60, 1440 - from)
  local function ts(m) return string.format("2026-11-24T%02d:%02d:00Z", m // 60, m % 60) end
  local to = from + len
  local t = to >= 1440 and "2026-11-25T00:00:00Z" or ts(to)
  return wrk.format("GET", wrk.path .. "?from=" .. ts(from) .. "&to=" .. t)
end
LUA

# wrk_run PATH [SCRIPT]: prints "p50_ms p99_ms req_per_s non2xx".
wrk_run() {
  local out
  if [ -n "${2:-}" ]; then out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$2" "$URL${1#/}" 2>&1)
  else out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$URL${1#/}" 2>&1); fi
  "$PY" - "$out" <<'PYX'
import re, sys
o = sys.argv[1]
def ms(tag):
    m = re.search(r"^\s*" + tag + r"%\s+([\d.]+)(us|ms|s)\s*$", o, re.M)
    if not m: return float("nan")
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = re.search(r"Requests/sec:\s+([\d.]+)", o)
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", o)
print("%.3f %.3f %.0f %s" % (ms("50"), ms("99"), float(rps.group(1)) if rps else 0, bad.group(1) if bad else 0))
PYX
}

# DuckDB's time for the same aggregation (median of 7), in ms: the peer.
duck_ms() {
  "$PY" - "$WORK/lake" "$1" <<'PYX'
import statistics, sys, time, duckdb
root, api = sys.argv[1], sys.argv[2]
t = lambda n: "read_parquet('%s/%s/*/*.parquet')" % (root, n)
w = "window_start >= TIMESTAMPTZ '2026-11-24 00:00:00+00' AND window_start < TIMESTAMPTZ '2026-11-25 00:00:00+00'"
sql = {
 "sales_per_minute": "SELECT epoch_us(window_start), sum(orders), sum(items), sum(revenue) FROM %s WHERE %s GROUP BY 1 ORDER BY 1" % (t("sales_per_minute"), w),
 "category_activity": "SELECT category, sum(views) v, sum(adds), sum(removes), sum(units_sold), sum(revenue) FROM %s WHERE %s GROUP BY 1 ORDER BY v DESC" % (t("category_activity"), w),
 "top_products": "SELECT product_id, sum(views) v FROM %s WHERE %s GROUP BY 1 ORDER BY v DESC, 1 LIMIT 10" % (t("product_activity"), w),
 "top_products_by_revenue": "SELECT product_id, sum(revenue) v FROM %s WHERE %s GROUP BY 1 ORDER BY v DESC, 1 LIMIT 10" % (t("product_activity"), w),
 "sales_by_channel": "SELECT store_type, device, sum(orders) n, sum(revenue) FROM %s WHERE %s GROUP BY 1, 2 ORDER BY n DESC" % (t("sales_by_channel"), w),
 "sales_by_city": "SELECT province, city, store_type, sum(orders) n, sum(revenue) FROM %s WHERE %s GROUP BY 1, 2, 3 ORDER BY n DESC" % (t("sales_by_city"), w),
 "funnel": "SELECT sum(viewed), sum(carted), sum(purchased) FROM %s WHERE %s" % (t("funnel"), w),
 "summary": "SELECT sum(orders), sum(revenue), (SELECT sum(purchased)/sum(viewed) FROM %s WHERE %s) FROM %s WHERE %s" % (t("funnel"), w, t("sales_per_minute"), w),
}.get(api)
if not sql:
    print("nan"); sys.exit()
db = duckdb.connect()
db.execute(sql).fetchall()
ts = []
for _ in range(7):
    t0 = time.perf_counter(); db.execute(sql).fetchall(); ts.append((time.perf_counter() - t0) * 1000)
print("%.3f" % statistics.median(ts))
PYX
}

echo "ecom dash on a day of minute windows; wrk -t2 -c$CONNS -d$DURATION; times in ms; $(nproc) cores, shared box"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-18s | %8s %8s %9s | %8s %8s %9s | %9s %8s\n' api "p50" "p99" "req/s" "p50" "p99" "req/s" "duckdb" "ratio"
printf '%-18s | %-27s | %-27s | %-18s\n' "" "cached (last=24h)" "uncached (random range)" "peer: same query"
for api in sales_per_minute category_activity top_products top_products_by_revenue sales_by_city sales_by_channel funnel summary health places; do
  curl -sf "${URL}api/$api?last=24h" >/dev/null || curl -sf "${URL}api/$api" >/dev/null
  q="api/$api?last=24h"; [ "$api" = health ] || [ "$api" = places ] && q="api/$api"
  read -r p50 p99 rps bad < <(wrk_run "$q")
  if [ "$api" = health ] || [ "$api" = places ]; then u50=-; u99=-; urps=-; d=nan
  else read -r u50 u99 urps ubad < <(wrk_run "api/$api" "$WORK/random.lua"); d=$(duck_ms "$api"); fi
  ratio=$("$PY" -c "import math,sys; d=float('$d'); u='$u50'; print('-' if math.isnan(d) or u=='-' else '%.1fx' % (d/float(u)))")
  printf '%-18s | %8s %8s %9s | %8s %8s %9s | %9s %8s\n' "$api" "$p50" "$p99" "$rps" "$u50" "$u99" "$urps" "$d" "$ratio"
  [ "${bad:-0}" = 0 ] || echo "  ($bad non-2xx answers)"
done
echo "(ratio = DuckDB time for the query / ecom's uncached p50 under load: >1 means ecom answers faster)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# One 24 h answer at a time over two days with the generator's 327 products (~470k
# product_activity rows a day): answer cache vs computed from the warm row-group cache.
"$PY" tests/integ/dash_fixture.py "$WORK/lake2" --start 2026-11-24T00:00:00Z --minutes 2880 --products 327
"$ECOM_OPT" dash --data "$WORK/lake2" --listen 127.0.0.1:0 >"$WORK/dash2.out" 2>"$WORK/dash2.err" &
DASH2_PID=$!
URL2=
for _ in $(seq 1 100); do
  URL2=$(sed -n 's/.*serving \(http[^ ]*\) .*/\1/p' "$WORK/dash2.out"); [ -n "$URL2" ] && break; sleep 0.1
done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" bench/bench_dash_range.py "$URL2" "$WORK/lake2" "$DASH2_PID"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
kill "$DASH2_PID"; wait "$DASH2_PID" 2>/dev/null || true

# First contentful paint of the page in headless Chromium, median of 5 fresh contexts.
if [ -d src/dash/web/node_modules/playwright-core ]; then
  DASH_URL=$URL node - <<'JS'
const { createRequire } = require("node:module");
const req = createRequire(process.cwd() + "/src/dash/web/package.json");
const { chromium } = req("playwright-core");
(async () => {
  const b = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox",
    "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run",
    "--disable-component-update", "--disable-sync"] });
  const fcp = [], ready = [], map = [];
  for (let i = 0; i < 5; i++) {
    const ctx = await b.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await ctx.newPage();
    const t0 = Date.now();
    await p.goto(process.env.DASH_URL, { waitUntil: "load" });
    await p.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 1, null, { timeout: 10000 });
    ready.push(Date.now() - t0);
    await p.waitForSelector(".citymap svg circle", { timeout: 10000 });   // the map view (map.js)
    map.push(Date.now() - t0);
    fcp.push(await p.evaluate(() => (performance.getEntriesByName("first-contentful-paint")[0] || {}).startTime));
    await ctx.close();
  }
  await b.close();
  const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
  console.log("page: first contentful paint median %s ms (runs: %s); all charts filled median %s ms; map drawn median %s ms",
    med(fcp).toFixed(0), fcp.map((x) => x.toFixed(0)).join(" "), med(ready), med(map));
})();
JS
else
  echo "page: playwright-core not installed (scripts/setup.d/web.sh), first paint not measured"
fi
