#!/usr/bin/env bash
# bench/bench_stream_kafka.sh — `ecom stream` from the real broker (tests/services/kafka.sh: the
# pinned Apache Kafka, one KRaft node on loopback) against its peer in the same invocation:
# `ecom stream --input` over the same events as an NDJSON file (same generator, seed and flags).
#
# Per run: fresh topics (3 partitions), `ecom gen --brokers` produces EVENTS events into them,
# then `ecom stream --brokers ... --drain` reads every partition to its end, flushes every
# window, commits and exits. Rates are events per CPU-second of the stream process (user+sys;
# librdkafka's fetch threads included, the broker's JVM not); wall rates are printed too.
# Medians of RUNS runs, interleaved with the file runs.
#
#   bash bench/bench_stream_kafka.sh [EVENTS] [USERS] [RUNS]      (defaults 1000000 100000 3)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000} USERS=${2:-100000} RUNS=${3:-3}
E=./build/ecom
export ECOM_SERVICES_DIR=${ECOM_SERVICES_DIR:-/tmp/ecom-services-$(id -u)}
make -s build/ecom >/dev/null
TMP=$(mktemp -d /tmp/ecom-bench-stream-kafka.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
GEN=(--seed 1 --users "$USERS" --start 2026-11-25T00:00:00Z --rate 200 --count "$N" --quiet)

# timed OUTFILE CMD...: runs CMD, appends "<wall s> <cpu s> <peak RSS KiB>" to OUTFILE.
timed() {
  local out=$1 t0 t1; shift
  t0=$(date +%s%N)
  /usr/bin/time -f "%U %S %M" -o "$TMP/time" "$@" >/dev/null
  t1=$(date +%s%N)
  awk -v w="$(( t1 - t0 ))" '{printf "%.6f %.6f %d\n", w / 1e9, $1 + $2, $3}' "$TMP/time" >>"$out"
}

ADDR=$(bash tests/services/kafka.sh ensure)
"$E" gen "${GEN[@]}" --out "$TMP/events.ndjson"
echo "broker: Apache Kafka at $ADDR; $N events, $USERS users, $RUNS runs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$TMP/kafka"; : >"$TMP/file"
for r in $(seq "$RUNS"); do
  tag="bsk$$-$r"
  topics="$tag-views,$tag-cart,$tag-orders"
  "$E" broker --create-topics --brokers "$ADDR" --partitions 3 --topics "$topics" --quiet
  "$E" gen "${GEN[@]}" --brokers "$ADDR" --topic-views "$tag-views" --topic-cart "$tag-cart" \
    --topic-orders "$tag-orders" --timeout 60s
  rm -rf "$TMP/root"
  timed "$TMP/kafka" "$E" stream --brokers "$ADDR" --group "$tag" --topic-views "$tag-views" \
    --topic-cart "$tag-cart" --topic-orders "$tag-orders" --drain --out "$TMP/root" --quiet
  rows=$("$E" cat "$TMP/root/views" --columns event_id --format csv | wc -l)
  rm -rf "$TMP/root"
  timed "$TMP/file" "$E" stream --input "$TMP/events.ndjson" --out "$TMP/root" --quiet
  frows=$("$E" cat "$TMP/root/views" --columns event_id --format csv | wc -l)
  [ "$rows" = "$frows" ] || { echo "run $r: views rows differ: kafka $rows, file $frows" >&2; exit 1; }
  echo "  run $r: kafka $(tail -1 "$TMP/kafka" | cut -d' ' -f1-2) s, file $(tail -1 "$TMP/file" | cut -d' ' -f1-2) s (wall, cpu); views rows $rows"
done
kc=$(cut -d' ' -f2 "$TMP/kafka" | median); kw=$(cut -d' ' -f1 "$TMP/kafka" | median)
fc=$(cut -d' ' -f2 "$TMP/file" | median); fw=$(cut -d' ' -f1 "$TMP/file" | median)
km=$(cut -d' ' -f3 "$TMP/kafka" | sort -n | tail -1)
awk -v n="$N" -v kc="$kc" -v kw="$kw" -v fc="$fc" -v fw="$fw" -v km="$km" 'BEGIN {
  printf "events: %d (events/s, medians)                  per CPU-second      wall\n", n
  printf "  ecom stream --brokers (real Kafka, --drain): %12.0f %12.0f\n", n / kc, n / kw
  printf "  ecom stream --input (same events, peer):     %12.0f %12.0f\n", n / fc, n / fw
  printf "  kafka/file per CPU-second: %.2fx; peak RSS from Kafka %.1f MiB\n", fc / kc, km / 1024
}'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
