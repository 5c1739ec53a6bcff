#!/usr/bin/env bash
# bench/bench_stream_rss.sh — memory of `ecom stream --input` over a long run with many users:
# is the resident set flat after warm-up (state is evicted as windows close) and under 1 GiB?
#
# Generates EVENTS events of USERS users (default 10,000,000 events of 1,000,000 users; at 200
# events/s of event time that is ~14 h of event time, so windows and funnel pairs are opened and
# evicted many times over), streams them with every table written, samples VmRSS from
# /proc/PID/status every 0.2 s, and prints RSS at 10/25/50/75/100% of the events read (the
# input position from /proc/PID/fdinfo), the peak, and the growth from 25% to 100% (flat
# means within a few percent). CPU rate of the run is printed too.
#
#   bash bench/bench_stream_rss.sh [EVENTS] [USERS]      (defaults 10000000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000000} USERS=${2:-1000000}
E=./build/ecom
make -s build/ecom >/dev/null
TMP=$(mktemp -d /tmp/ecom-bench-stream-rss.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$E" gen --seed 1 --users "$USERS" --start 2026-11-25T00:00:00Z --rate 200 --count "$N" --quiet \
  --dup-frac 0.01 --bad-frac 0.001 --out "$TMP/events.ndjson"
SIZE=$(stat -c %s "$TMP/events.ndjson")
echo "events: $N, users: $USERS, input $(( SIZE >> 20 )) MiB; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "%U %S %M %e" -o "$TMP/time" "$E" stream --input "$TMP/events.ndjson" --out "$TMP/root" \
  --quiet &
TPID=$!
# the ecom process is the child of /usr/bin/time; bounded wait for it to appear
PID=
for _ in $(seq 100); do
  PID=$(pgrep -P "$TPID" || true)
  [ -n "$PID" ] && break
  sleep 0.05
done
[ -n "$PID" ] || { echo "ecom stream did not start" >&2; exit 1; }
# samples: "<input byte position> <VmRSS KiB>"
: >"$TMP/samples"
while kill -0 "$PID" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$PID/status" 2>/dev/null || true)
  pos=
  for fd in /proc/"$PID"/fd/*; do
    if [ "$(readlink "$fd" 2>/dev/null)" = "$TMP/events.ndjson" ]; then
      pos=$(awk '/^pos:/ {print $2}' "/proc/$PID/fdinfo/${fd##*/}" 2>/dev/null || true)
      break
    fi
  done
  [ -n "$rss" ] && [ -n "$pos" ] && echo "$pos $rss" >>"$TMP/samples"
  sleep 0.2
done
wait "$TPID"
read -r u s m e <"$TMP/time"
awk -v size="$SIZE" -v n="$N" -v u="$u" -v s="$s" -v m="$m" -v e="$e" '
  { pos[NR] = $1; rss[NR] = $2 }
  END {
    split("10 25 50 75 100", q, " ")
    printf "RSS at fraction of the input read (MiB):"
    for (i = 1; i <= 5; i++) {
      want = size * q[i] / 100; v = rss[NR]
      for (k = 1; k <= NR; k++) if (pos[k] >= want) { v = rss[k]; break }
      at[q[i]] = v
      printf "  %s%%: %.0f", q[i], v / 1024
    }
    printf "\npeak RSS: %.0f MiB (goal < 1024); growth 25%% -> 100%%: %+.1f%%\n", m / 1024, (at[100] / at[25] - 1) * 100
    printf "CPU: %.1f s user+sys, %.0f events per CPU-second; wall %.1f s; %d samples\n", u + s, n / (u + s), e, NR
  }' "$TMP/samples"
