#!/usr/bin/env bash
# bench/bench_scaleout.sh — the cost of the scale-out layout for one instance: `ecom stream
# --drain` of the same Kafka topics (real broker, tests/services/kafka.sh) in the single-instance
# layout (the peer) and with --scale-out (per-partition records, files and PARTIAL tables), in
# the same invocation. Rates are events per CPU-second (user+sys: the per-core cost on a shared
# machine), medians of RUNS runs; also the files each layout commits.
#
#   bash bench/bench_scaleout.sh [EVENTS] [PARTITIONS] [RUNS] [COMMIT_INTERVAL]
#   (defaults 300000 4 3 5s)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300000} P=${2:-4} RUNS=${3:-3} CI=${4:-5s}
E=./build/ecom
[ -x "$E" ] || make -s build/ecom
ADDR=$(bash tests/services/kafka.sh ensure)
TMP=$(mktemp -d /tmp/ecom-bench-scaleout.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
S=$(date +%s%N | tail -c 9)
TOPICS="bv_$S,bc_$S,bo_$S"
TF=(--topic-views "bv_$S" --topic-cart "bc_$S" --topic-orders "bo_$S")
"$E" broker --create-topics --brokers "$ADDR" --partitions "$P" --topics "$TOPICS" --quiet
"$E" gen --brokers "$ADDR" "${TF[@]}" --seed 1 --users 50000 --start 2026-11-25T00:00:00Z --rate 200 \
  --count "$N" --quiet --dup-frac 0.01 --bad-frac 0.001
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# one_run LABEL FLAGS...: appends "events/cpu-s files" to $TMP/LABEL.txt
one_run() {
  local label=$1; shift
  local root="$TMP/root-$label-$RANDOM"
  /usr/bin/time -f "%U %S %e" -o "$TMP/t" "$E" stream --brokers "$ADDR" "${TF[@]}" --drain --quiet \
    --idle-timeout 0 --commit-interval "$CI" --group "g-$label-$RANDOM" --out "$root" "$@"
  read -r u s e <"$TMP/t"
  local files
  files=$(find "$root" -name '*.parquet' | wc -l)
  echo "$(awk -v n="$N" -v u="$u" -v s="$s" 'BEGIN {print n / (u + s)}') $files $e" >>"$TMP/$label.txt"
  rm -rf "$root"
}
: >"$TMP/single.txt"
: >"$TMP/scaleout.txt"
for r in $(seq "$RUNS"); do   # interleaved, so machine load hits both alike
  one_run single
  one_run scaleout --scale-out
done
s1=$(cut -d' ' -f1 "$TMP/single.txt" | median)
s2=$(cut -d' ' -f1 "$TMP/scaleout.txt" | median)
f1=$(cut -d' ' -f2 "$TMP/single.txt" | median)
f2=$(cut -d' ' -f2 "$TMP/scaleout.txt" | median)
printf 'events %s, %s partitions, commit interval %s, %s runs, load average %s\n' "$N" "$P" "$CI" "$RUNS" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  single-instance layout: %.0f events/s per core, %s files\n' "$s1" "$f1"
printf '  --scale-out (1 instance): %.0f events/s per core, %s files\n' "$s2" "$f2"
awk -v a="$s2" -v b="$s1" 'BEGIN {printf "  ratio scale-out / single: %.2f\n", a / b}'
