#!/usr/bin/env bash
# bench_hdfs.sh — the lake on HDFS (WebHDFS on loopback: one NameNode + one DataNode from
# tests/services/hdfs.sh) against local disk, peers in the same invocation, medians of RUNS:
#   1. `ecom stream --input FILE --out ROOT` of the same NDJSON to a local directory and to
#      hdfs:// for each --commit-interval in INTERVALS: wall time, MB/s of Parquet written,
#      rows/s (rows written to all tables), epochs, HTTP requests per epoch, HDFS/local ratio;
#      on two clusters: "stock" (Hadoop's defaults) and "tuned" (the DataNode's internal HDFS
#      client retries its completeFile after 20 ms instead of 400 ms, see docs/hdfs.md);
#   2. `ecom load` and `ecom cat` of the same input (raw tables only);
#   3. dashboard read latency: `ecom dash` over a local root and over an HDFS root holding the
#      same tables (bench/hdfs_dash_latency.py: first request after start, first request after a
#      new generation, cached answers; medians and p90, HDFS/local ratio).
#   bench/run.sh hdfs      (EVENTS=400000 RUNS=3 INTERVALS="200ms 1s 5s" SAMPLES=30 STARTS=6
#                           CONFIGS="stock tuned" PARTS="stream load dash" select and size it)
set -euo pipefail
: "${REPO:?run through bench/run.sh}"
EVENTS=${EVENTS:-400000}
RUNS=${RUNS:-3}
INTERVALS=${INTERVALS:-200ms 1s 5s}
CONFIGS=${CONFIGS:-stock tuned}
PARTS=${PARTS:-stream load dash}
SAMPLES=${SAMPLES:-30}
STARTS=${STARTS:-6}
export HADOOP_USER_NAME=${HADOOP_USER_NAME:-ecom}
H="bash $REPO/tests/services/hdfs.sh"
T=$(mktemp -d /tmp/ecom-bench-hdfs.XXXXXX)
trap 'rm -rf "$T"' EXIT
TUNED_CONF="dfs.client.block.write.locateFollowingBlock.initial.delay.ms=20"

# A day of events (5 events/s of event time from midnight: ~22 h for 400k), so the dashboard's
# last=24h reads a day of minute windows.
"$ECOM_OPT" gen --count "$EVENTS" --start 2026-11-25T00:00:00Z --rate 5 --seed 11 --out "$T/ev.ndjson" 2>/dev/null
MB=$(du -m "$T/ev.ndjson" | cut -f1)
echo "input: $EVENTS events, $MB MB of NDJSON; medians of $RUNS runs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# Bytes of committed Parquet under a local root / an HDFS path (GETCONTENTSUMMARY of each table).
local_bytes() { find "$1" -name '*.parquet' ! -name '.*' -printf '%s\n' | awk '{s+=$1} END {print s+0}'; }
hdfs_bytes() {
  local addr=$1 path=$2 sum=0 t n
  for t in views cart orders rejected sales_per_minute category_activity top_products sales_by_city funnel; do
    n=$(curl -s "http://$addr/webhdfs/v1$path/$t?op=GETCONTENTSUMMARY&user.name=$HADOOP_USER_NAME" |
        sed -n 's/.*"length":\([0-9]*\).*/\1/p')
    sum=$((sum + ${n:-0}))
  done
  echo "$sum"
}
# Rows in every table of a root (the same for every run of one input: epochs do not change results).
rows_of() {
  local root=$1 sum=0 t n
  for t in views cart orders rejected sales_per_minute category_activity top_products sales_by_city funnel; do
    n=$("$ECOM_OPT" cat "$root/$t" --format csv 2>/dev/null | wc -l)
    [ "$n" -gt 0 ] && n=$((n - 1))
    sum=$((sum + n))
  done
  echo "$sum"
}
epochs_of() { sed -n 's/.* \([0-9]*\) epochs.*/\1/p' "$1" | tail -1; }

restart_hdfs() {  # restart_hdfs CONFIG: a fresh cluster with that configuration; prints its address
  $H stop >/dev/null 2>&1 || true
  if [ "$1" = tuned ]; then ECOM_HDFS_CONF=$TUNED_CONF $H ensure 2>/dev/null; else $H ensure 2>/dev/null; fi
}

bench_stream() {
  local cfg=$1 addr=$2 ci i t0 lw hw le he reqs rows lb hb
  echo
  echo "== ecom stream --input (all 9 tables), cluster: $cfg; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%-9s %-5s %9s %9s %11s %7s %9s %9s   %s\n' interval root "wall ms" "MB/s" "rows/s" epochs "req/epoch" "slow PUTs" "HDFS/local"
  for ci in $INTERVALS; do
    local lw=() hw=() le=() he=() rq=() slow=()
    for i in $(seq "$RUNS"); do
      rm -rf "$T/sl"
      t0=$(now_ms); "$ECOM_OPT" stream --input "$T/ev.ndjson" --out "$T/sl" --commit-interval "$ci" 2>"$T/l.err" >/dev/null
      lw+=($(($(now_ms) - t0))); le+=("$(epochs_of "$T/l.err")")
      local p="/s-$cfg-$ci-$i"
      t0=$(now_ms)
      ECOM_WEBHDFS_TRACE=1 "$ECOM_OPT" stream --input "$T/ev.ndjson" --out "hdfs://$addr$p" --commit-interval "$ci" \
        2>"$T/h.err" >/dev/null
      hw+=($(($(now_ms) - t0))); he+=("$(epochs_of "$T/h.err")")
      rq+=("$(grep -c '^webhdfs: ' "$T/h.err")")
      # uploads to the DataNode that took over 300 ms: the completeFile wait (docs/hdfs.md)
      slow+=("$(grep '^webhdfs: PUT .*op=CREATE.* -> 201 in' "$T/h.err" | awk '$(NF-1) > 300' | wc -l)")
      hb=$(hdfs_bytes "$addr" "$p")
    done
    lb=$(local_bytes "$T/sl")
    rows=$(rows_of "$T/sl")
    local LW HW LE HE RQ SL
    LW=$(printf '%s\n' "${lw[@]}" | median) HW=$(printf '%s\n' "${hw[@]}" | median)
    LE=$(printf '%s\n' "${le[@]}" | median) HE=$(printf '%s\n' "${he[@]}" | median)
    RQ=$(printf '%s\n' "${rq[@]}" | median) SL=$(printf '%s\n' "${slow[@]}" | median)
    printf '%-9s %-5s %9d %9.1f %11.0f %7d %9s %9s\n' "$ci" local "$LW" \
      "$(awk -v b="$lb" -v t="$LW" 'BEGIN {print b / 1048576 / (t / 1000)}')" \
      "$(awk -v r="$rows" -v t="$LW" 'BEGIN {print r / (t / 1000)}')" "$LE" - -
    printf '%-9s %-5s %9d %9.1f %11.0f %7d %9s %9s   %sx\n' "$ci" HDFS "$HW" \
      "$(awk -v b="$hb" -v t="$HW" 'BEGIN {print b / 1048576 / (t / 1000)}')" \
      "$(awk -v r="$rows" -v t="$HW" 'BEGIN {print r / (t / 1000)}')" "$HE" \
      "$(awk -v q="$RQ" -v e="$HE" 'BEGIN {printf "%.0f", q / (e ? e : 1)}')" "$SL" "$(ratio "$HW" "$LW")"
  done
  echo "(Parquet: local $(awk -v b="$lb" 'BEGIN {printf "%.1f", b / 1048576}') MB, HDFS $(awk -v b="$hb" 'BEGIN {printf "%.1f", b / 1048576}') MB in the last runs; $rows rows in all tables; rows/s = those rows / wall time;"
  echo " req/epoch = WebHDFS requests of the HDFS run / its epochs; slow PUTs = uploads to the DataNode over 300 ms per run)"
}

bench_load() {
  local addr=$1 i t0
  local lw=() hw=() lr=() hr=()
  for i in $(seq "$RUNS"); do
    rm -rf "$T/local"
    t0=$(now_ms); "$ECOM_OPT" load --input "$T/ev.ndjson" --out "$T/local" >/dev/null 2>&1; lw+=($(($(now_ms) - t0)))
    t0=$(now_ms); "$ECOM_OPT" load --input "$T/ev.ndjson" --out "hdfs://$addr/bench$i" >/dev/null 2>&1; hw+=($(($(now_ms) - t0)))
    t0=$(now_ms); "$ECOM_OPT" cat "$T/local/views" --columns event_id --limit 1000 >/dev/null; lr+=($(($(now_ms) - t0)))
    t0=$(now_ms); "$ECOM_OPT" cat "hdfs://$addr/bench$i/views" --columns event_id --limit 1000 >/dev/null; hr+=($(($(now_ms) - t0)))
  done
  local LW HW LR HR BYTES
  LW=$(printf '%s\n' "${lw[@]}" | median) HW=$(printf '%s\n' "${hw[@]}" | median)
  LR=$(printf '%s\n' "${lr[@]}" | median) HR=$(printf '%s\n' "${hr[@]}" | median)
  BYTES=$(du -sb "$T/local" | cut -f1)
  echo
  echo "== ecom load (raw tables, $((BYTES / 1024 / 1024)) MB of Parquet) and ecom cat; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  printf 'ecom load  local: %6d ms (%7.0f events/s)\n' "$LW" "$(echo "$EVENTS * 1000 / $LW" | bc -l)"
  printf 'ecom load  HDFS : %6d ms (%7.0f events/s)   HDFS/local = %s\n' "$HW" "$(echo "$EVENTS * 1000 / $HW" | bc -l)" "$(ratio "$HW" "$LW")"
  printf 'ecom cat views --columns event_id --limit 1000  local: %d ms  HDFS: %d ms   HDFS/local = %s\n' "$LR" "$HR" "$(ratio "$HR" "$LR")"
}

bench_dash() {
  local addr=$1
  # Both roots from one epoch each (--commit-interval 1h: the input ends first), so they hold
  # the same files; checked by name and size.
  rm -rf "$T/dl"
  "$ECOM_OPT" stream --input "$T/ev.ndjson" --out "$T/dl" --commit-interval 1h --quiet
  "$ECOM_OPT" stream --input "$T/ev.ndjson" --out "hdfs://$addr/dash" --commit-interval 1h --quiet
  local a b
  a=$(cd "$T/dl" && find . -name '*.parquet' ! -path './_ecom/*' -printf '%P %s\n' | sort)
  b=$(curl -s "http://$addr/webhdfs/v1/dash?op=GETCONTENTSUMMARY&user.name=$HADOOP_USER_NAME" | sed -n 's/.*"fileCount":\([0-9]*\).*/\1/p')
  echo
  echo "== ecom dash over the same tables ($(echo "$a" | wc -l) Parquet files locally, $b files on HDFS incl. _ecom); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$PY" "$REPO/bench/hdfs_dash_latency.py" "$ECOM_OPT" "$T/dl" "$addr" /dash "$SAMPLES" "$STARTS"
}

for cfg in $CONFIGS; do
  ADDR=$(restart_hdfs "$cfg")
  # Warm-up (not timed): a fresh NameNode/DataNode JVM is several times slower on its first requests.
  "$ECOM_OPT" stream --input "$T/ev.ndjson" --out "hdfs://$ADDR/warmup" --commit-interval 1s --quiet
  echo
  echo "=== cluster: $cfg ($([ "$cfg" = tuned ] && echo "$TUNED_CONF" || echo "Hadoop defaults")) at $ADDR"
  [[ " $PARTS " == *" stream "* ]] && bench_stream "$cfg" "$ADDR"
  if [ "$cfg" = "${CONFIGS%% *}" ]; then
    [[ " $PARTS " == *" load "* ]] && bench_load "$ADDR"
    [[ " $PARTS " == *" dash "* ]] && bench_dash "$ADDR"
  fi
done
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
