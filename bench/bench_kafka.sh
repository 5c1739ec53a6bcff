#!/usr/bin/env bash
# bench/bench_kafka.sh — `ecom gen` into a real Apache Kafka broker on loopback (tests/services/
# kafka.sh: the pinned Kafka, single KRaft node) against the peer bench/peer_kafka_python.py
# (kafka-python, the seed's approach: comparable events, same broker, same topics and key,
# acks=all, idempotent), in the same run. Median of RUNS runs each; rates per second of wall time
# (delivery included: both sides flush and check every delivery) and per CPU-second of the
# producing process (user+sys). The broker (a JVM on the same cores) is measured apart, from
# /proc/PID/stat around each ecom gen run: with both CPU figures, "box bound" is what the
# machine's cores could do at best if gen and the broker had them to themselves
# (cores / (gen + broker CPU-seconds per event)).
#
#   bash bench/bench_kafka.sh          (or: make bench)
#   BENCH_N=2000000 BENCH_PEER_N=20000 BENCH_RUNS=3 bash bench/bench_kafka.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_N:-2000000}
PN=${BENCH_PEER_N:-20000}
RUNS=${BENCH_RUNS:-3}
PY=${PY:-${ECOM_CACHE:-$HOME/.cache/ecom}/venv/bin/python}
export ECOM_SERVICES_DIR=${ECOM_SERVICES_DIR:-/tmp/ecom-services-$(id -u)}
make -s build/ecom >/dev/null
TMP=$(mktemp -d /tmp/ecom-bench-kafka.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# timed CMD...: runs it, prints "<wall seconds> <cpu seconds>"; fails if CMD fails.
timed() {
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f "%U %S" -o "$TMP/time" "$@" >"$TMP/out"
  t1=$(date +%s%N)
  awk -v w="$(( t1 - t0 ))" '{printf "%.6f %.6f\n", w / 1e9, $1 + $2}' "$TMP/time"
}

ADDR=$(bash tests/services/kafka.sh ensure)
BPID=$(cat "$ECOM_SERVICES_DIR/kafka/pid")
TICK=$(getconf CLK_TCK)
# CPU ticks (user+sys) the broker's JVM has used so far
broker_ticks() { awk '{print $14 + $15}' "/proc/$BPID/stat"; }
./build/ecom broker --create-topics --brokers "$ADDR" --partitions 3 >/dev/null
echo "broker: Apache Kafka at $ADDR (tests/services/kafka.sh); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ecom gen: $N events, peer: $PN events, $RUNS runs each, interleaved"
: >"$TMP/ew"; : >"$TMP/ec"; : >"$TMP/pw"; : >"$TMP/pc"; : >"$TMP/bc"; : >"$TMP/bb"
for r in $(seq "$RUNS"); do
  b0=$(broker_ticks)
  read -r w c < <(timed ./build/ecom gen --brokers "$ADDR" --start 2026-11-25T09:00:00Z --count "$N" \
                    --seed "$r" --quiet --timeout 60s)
  bt=$(( $(broker_ticks) - b0 ))
  awk -v n="$N" -v w="$w" 'BEGIN {printf "%.0f\n", n / w}' >>"$TMP/ew"
  awk -v n="$N" -v c="$c" 'BEGIN {printf "%.0f\n", n / c}' >>"$TMP/ec"
  awk -v n="$N" -v t="$bt" -v k="$TICK" 'BEGIN {printf "%.0f\n", (t > 0 ? n / (t / k) : 0)}' >>"$TMP/bc"
  awk -v n="$N" -v c="$c" -v t="$bt" -v k="$TICK" -v cores="$(nproc)" \
    'BEGIN {printf "%.0f\n", cores * n / (c + t / k)}' >>"$TMP/bb"
  echo "  run $r: ecom gen $(tail -1 "$TMP/ew") events/s wall; gen ${c} CPU-s, broker $(awk -v t="$bt" -v k="$TICK" 'BEGIN {printf "%.2f", t / k}') CPU-s; load $(cut -d' ' -f1 /proc/loadavg)"
  read -r w c < <(timed "$PY" bench/peer_kafka_python.py --brokers "$ADDR" --count "$PN" --seed "$r")
  awk -v n="$PN" -v w="$w" 'BEGIN {printf "%.0f\n", n / w}' >>"$TMP/pw"
  awk -v n="$PN" -v c="$c" 'BEGIN {printf "%.0f\n", n / c}' >>"$TMP/pc"
  echo "  run $r: peer $(tail -1 "$TMP/pw") events/s ($(cat "$TMP/out"))"
done
ew=$(median <"$TMP/ew"); ec=$(median <"$TMP/ec"); pw=$(median <"$TMP/pw"); pc=$(median <"$TMP/pc")
bc=$(median <"$TMP/bc"); bb=$(median <"$TMP/bb")
printf '\n%-40s %14s %14s\n' "" "events/s wall" "events/s cpu"
printf '%-40s %14s %14s\n' "ecom gen -> Kafka (acks=all)" "$ew" "$ec"
printf '%-40s %14s %14s\n' "  the broker (JVM) during ecom gen" "-" "$bc"
printf '%-40s %14s %14s\n' "  box bound: $(nproc) cores / (gen + broker)" "$bb" "-"
printf '%-40s %14s %14s\n' "peer_kafka_python.py -> Kafka" "$pw" "$pc"
awk -v a="$ew" -v b="$pw" -v c="$ec" -v d="$pc" \
  'BEGIN {printf "ratio ecom/peer: %.1fx wall, %.1fx cpu (goals: >= 300000 events/s, >= 20x)\n", a / b, c / d}'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
