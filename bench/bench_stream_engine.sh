#!/usr/bin/env bash
# bench_stream_engine.sh — events/s of the stream engine (src/stream) on generated events, against
# the parse-only limit of the same NDJSON in the same run (the peer).
#
#   bash bench/bench_stream_engine.sh [EVENTS] [USERS] [EV_PER_EVENT_S] [PARTITIONS] [RUNS]
#   bash bench/bench_stream_engine.sh gen [EVENTS] [USERS] [PARTITIONS] [RUNS]
#
# The first form uses the unit tests' generator (in the driver); the second feeds the driver
# NDJSON from `ecom gen --start` (the real simulator: catalog, sessions, realistic funnel).
#
# Builds bench/stream_engine_rate.c against build/libecom.a (make first), runs it RUNS times
# (default 5) and prints the median of each figure. One core: the engine is single-threaded;
# times are thread CPU time, so other load on the machine disturbs them less (caches still shared).
set -euo pipefail
cd "$(dirname "$0")/.."
GEN=0
if [ "${1:-}" = gen ]; then GEN=1; shift; N=${1:-600000} USERS=${2:-100000} PARTS=${3:-1} RUNS=${4:-5} RATE=
else N=${1:-600000} USERS=${2:-100000} RATE=${3:-50} PARTS=${4:-1} RUNS=${5:-5}; fi
make -s build/libecom.a build/ecom
OUT=${TMPDIR:-/tmp}/ecom-bench-stream-engine.$$
DATA=$OUT.ndjson
trap 'rm -f "$OUT" "$DATA"' EXIT
cc -std=c17 -D_GNU_SOURCE -O2 -g -Isrc -Itests/unit bench/stream_engine_rate.c build/libecom.a \
   $(pkg-config --libs rdkafka libzstd snappy libmicrohttpd libcurl 2>/dev/null) -lpthread -lm -o "$OUT"
if [ $GEN = 1 ]; then
  ./build/ecom gen --start 2026-11-25T00:00:00Z --count "$N" --users "$USERS" --seed 1 --quiet --out "$DATA"
  echo "stream engine: $N events from ecom gen, $USERS users, $PARTS partition(s), median of $RUNS runs"
  ARGS=("$DATA" "$PARTS" 1)
else
  echo "stream engine: $N events, $USERS users, $RATE events per event-time second, $PARTS partition(s), median of $RUNS runs"
  ARGS=("$N" "$USERS" "$RATE" "$PARTS" 1)
fi
for i in $(seq "$RUNS"); do "$OUT" "${ARGS[@]}"; done | awk '
  { for (k = 1; k <= NF; k++) v[k, NR] = $k; n = NR; nf = NF }
  function med(k,   a, i, j, t) {
    for (i = 1; i <= n; i++) a[i] = v[k, i]
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  END {
    printf "  parse-only (peer)        %12.0f events/s\n", med(1)
    printf "  parse + engine           %12.0f events/s\n", med(2)
    printf "  engine alone (pre-parsed) %12.0f events/s\n", med(3)
    printf "  ratio (parse+engine) time / parse-only time: %.2fx   (goal for the whole command: <= 3x)\n", med(4)
    printf "  peak state entries %d, rows emitted %d, late %d, duplicates %d\n", med(5), med(6), med(7), med(8)
  }'
