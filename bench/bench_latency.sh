#!/usr/bin/env bash
# bench/bench_latency.sh — latency of `ecom run` (embedded broker, generator at 50 events/s,
# stream, dashboard), measured from event creation (the generator stamps each event with the wall
# clock when it creates it; same machine, same clock) to what a viewer sees:
#   - provisional: headless Chromium (Debian's, playwright-core) on the dashboard page; for every
#     Server-Sent Event and every finished page refresh, now minus the stream's newest_event_at
#     in it (the age of the newest event shown), and the same against the previous update's
#     newest event (an upper bound for the oldest event first shown by this update);
#   - finals: /api/sales_per_minute polled every 100 ms; for each window, when its row first
#     has final: true, minus (window end + lateness) — the moment the watermark passes it.
# Runs DURATION seconds (a final sample per minute window). With BENCH_PEER=/path/to/ecom (an
# older build) the finals of that binary are measured too, interleaved in the same invocation
# (its page has no push, so only its finals are compared).
#
#   bash bench/bench_latency.sh [DURATION]           (default 330)
#   BENCH_PEER=/tmp/base/build/ecom BENCH_RUNS=1 bash bench/bench_latency.sh 330
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-330}
RUNS=${BENCH_RUNS:-1}
make -s build/ecom >/dev/null
[ -d src/dash/web/node_modules/playwright-core ] || bash scripts/setup.d/web.sh
TMP=$(mktemp -d /tmp/ecom-bench-latency.XXXXXX)
RUN_PID=
cleanup() { [ -n "$RUN_PID" ] && kill -INT "$RUN_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

# one BIN LABEL: runs `BIN run` for DUR seconds with the measuring page attached.
one() {
  local bin=$1 label=$2 dir="$TMP/$2.$RANDOM" url=
  mkdir -p "$dir"
  "$bin" run --out "$dir/data" --listen 127.0.0.1:0 --quiet >"$dir/run.out" 2>"$dir/run.err" &
  RUN_PID=$!
  for _ in $(seq 1 100); do   # bounded wait for the URL line
    url=$(grep -o 'http://127.0.0.1:[0-9]*/' "$dir/run.out" | head -1 || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "ecom run did not start: $(cat "$dir/run.err")"; exit 1; }
  REPO=$PWD DASH_URL=$url DURATION=$DUR LABEL=$label LATENESS_S=10 node bench/bench_latency.mjs
  kill -INT "$RUN_PID"
  wait "$RUN_PID" || true
  RUN_PID=
}

echo "bench_latency: ecom run, ${DUR} s per run, $RUNS run(s); load average: $(cut -d' ' -f1-3 /proc/loadavg) (a shared box)"
for r in $(seq "$RUNS"); do
  one ./build/ecom ecom
  [ -n "${BENCH_PEER:-}" ] && one "$BENCH_PEER" peer
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
