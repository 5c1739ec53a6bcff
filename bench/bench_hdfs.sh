#!/usr/bin/env bash
# bench_hdfs.sh — `ecom load` of the same NDJSON input to local disk and to HDFS on loopback
# (WebHDFS, one NameNode + one DataNode from tests/services/hdfs.sh), and `ecom cat` of the
# loaded views table back from each. Prints medians of RUNS runs and the HDFS/local ratios.
#   bench/run.sh hdfs        (EVENTS=200000 RUNS=3 by default)
set -euo pipefail
: "${REPO:?run through bench/run.sh}"
EVENTS=${EVENTS:-200000}
RUNS=${RUNS:-3}
H="bash $REPO/tests/services/hdfs.sh"
T=$(mktemp -d /tmp/ecom-bench-hdfs.XXXXXX)
trap 'rm -rf "$T"' EXIT
ADDR=$($H ensure)
"$ECOM_OPT" gen --count "$EVENTS" --start 2026-11-25T08:00:00Z --seed 11 --out "$T/ev.ndjson" 2>/dev/null
MB=$(du -m "$T/ev.ndjson" | cut -f1)

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

lw=() hw=() lr=() hr=()
for i in $(seq "$RUNS"); do
  rm -rf "$T/local"
  t0=$(now_ms); "$ECOM_OPT" load --input "$T/ev.ndjson" --out "$T/local" >/dev/null 2>&1; lw+=($(($(now_ms) - t0)))
  t0=$(now_ms); "$ECOM_OPT" load --input "$T/ev.ndjson" --out "hdfs://$ADDR/bench$i" >/dev/null 2>&1; hw+=($(($(now_ms) - t0)))
  t0=$(now_ms); "$ECOM_OPT" cat "$T/local/views" --columns event_id --limit 1000 >/dev/null; lr+=($(($(now_ms) - t0)))
  t0=$(now_ms); "$ECOM_OPT" cat "hdfs://$ADDR/bench$i/views" --columns event_id --limit 1000 >/dev/null; hr+=($(($(now_ms) - t0)))
done
LW=$(printf '%s\n' "${lw[@]}" | median) HW=$(printf '%s\n' "${hw[@]}" | median)
LR=$(printf '%s\n' "${lr[@]}" | median) HR=$(printf '%s\n' "${hr[@]}" | median)
BYTES=$(du -sb "$T/local" | cut -f1)
echo "input: $EVENTS events ($MB MB NDJSON) -> $((BYTES / 1024 / 1024)) MB of Parquet; medians of $RUNS runs"
printf 'ecom load  local: %6d ms (%7.0f events/s)\n' "$LW" "$(echo "$EVENTS * 1000 / $LW" | bc -l)"
printf 'ecom load  HDFS : %6d ms (%7.0f events/s)   HDFS/local = %.2f\n' "$HW" "$(echo "$EVENTS * 1000 / $HW" | bc -l)" "$(echo "$HW / $LW" | bc -l)"
printf 'ecom cat views --columns event_id --limit 1000  local: %d ms  HDFS: %d ms   HDFS/local = %.2f\n' "$LR" "$HR" "$(echo "$HR / $LR" | bc -l)"
