#!/usr/bin/env bash
# bench_stream_engine.sh — events/s of the stream engine (src/stream) on generated events, against
# the parse-only limit of the same NDJSON in the same run (the peer).
#
#   bash bench/bench_stream_engine.sh [EVENTS] [USERS] [EV_PER_EVENT_S] [PARTITIONS] [RUNS]
#
# Builds bench/stream_engine_rate.c against build/libecom.a (make first), runs it RUNS times
# (default 5) and prints the median of each figure. One core: the engine is single-threaded;
# times are thread CPU time, so other load on the machine disturbs them less (caches still shared).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-600000} USERS=${2:-100000} RATE=${3:-50} PARTS=${4:-1} RUNS=${5:-5}
make -s build/libecom.a
OUT=${TMPDIR:-/tmp}/ecom-bench-stream-engine.$$
trap 'rm -f "$OUT"' EXIT
cc -std=c17 -D_GNU_SOURCE -O2 -g -Isrc -Itests/unit bench/stream_engine_rate.c build/libecom.a \
   $(pkg-config --libs rdkafka libzstd snappy libmicrohttpd libcurl 2>/dev/null) -lpthread -lm -o "$OUT"
echo "stream engine: $N events, $USERS users, $RATE events per event-time second, $PARTS partition(s), median of $RUNS runs"
for i in $(seq "$RUNS"); do "$OUT" "$N" "$USERS" "$RATE" "$PARTS" 1; done | awk '
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
