#!/usr/bin/env bash
# bench/bench_ckpt.sh — what the engine checkpoint costs `ecom stream` per commit interval:
# full checkpoints at every commit (--checkpoint-deltas 0, the behaviour before incremental
# checkpoints) against the default chain (a full, then deltas), same build, interleaved
# A B A B ... on the same NDJSON, for each commit interval. The checkpoint's share is the CPU
# time of the checkpoint writes (the "checkpoints: ... s CPU" of the run's last line) over the
# run's user + sys time; medians of RUNS runs. OLD (optional): another build (e.g. main) run in
# the same rotation with its own defaults, for its total CPU time.
#
#   bash bench/bench_ckpt.sh [EVENTS] [RUNS] [INTERVALS] [OLD]   (defaults 1000000 3 "500ms 5s")
#
# Two inputs: "backfill" streams the file as fast as it reads (as bench_stream.sh); "live" feeds
# the first 90% at once and the rest paced at PACE lines/s (default 20000) through a FIFO, so
# most epochs are steady-state epochs of a large state with few events each (what a live
# stream's 500 ms epochs look like).
# Epochs end by the clock, so how many checkpoints a run writes, and of what, varies with the
# load. The "fixed" rows do not: a run to 40% of the input with one commit (one full checkpoint
# of that state), then a restart to 80% (one delta of the 40% in between), for each build;
# they give each piece's bytes and CPU seconds, comparable across builds on a loaded box.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000} RUNS=${2:-3} INTERVALS=${3:-"500ms 5s"} OLD=${4:-} PACE=${PACE:-20000}
NEW=${ECOM_OPT:-build/ecom}
TMP=$(mktemp -d /tmp/ecom-bench-ckpt.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$NEW" gen --seed 1 --users 100000 --start 2026-11-25T00:00:00Z --rate 200 --count "$N" --quiet \
  --dup-frac 0.01 --bad-frac 0.001 --out "$TMP/events.ndjson"
HEAD=$((N * 9 / 10))

feed() { # the "live" input: 90% at once, then PACE lines per second
  python3 - "$TMP/events.ndjson" "$HEAD" "$PACE" <<'EOF'
import sys, time
path, head, pace = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = sys.stdout.buffer
with open(path, "rb") as f:
    for i, line in enumerate(f):
        if i >= head and (i - head) % (pace // 10) == 0:
            out.flush()
            time.sleep(0.1)
        out.write(line)
EOF
}

# one run: label, input kind, interval, binary, extra flags -> "label kind interval cpu ckpt_cpu"
one() {
  local label=$1 kind=$2 ci=$3 bin=$4
  shift 4
  rm -rf "$TMP/root"
  if [ "$kind" = backfill ]; then
    /usr/bin/time -f "%U %S" -o "$TMP/t" nice "$bin" stream --input "$TMP/events.ndjson" --out "$TMP/root" \
      --commit-interval "$ci" "$@" 2>"$TMP/err" >/dev/null
  else
    feed | /usr/bin/time -f "%U %S" -o "$TMP/t" nice "$bin" stream --input - --out "$TMP/root" \
      --commit-interval "$ci" "$@" 2>"$TMP/err" >/dev/null
  fi
  read -r u s <"$TMP/t"
  local ck
  ck=$(sed -n 's/.*checkpoints: .* \([0-9.]*\) s CPU$/\1/p' "$TMP/err" | tail -1)
  echo "$label $kind $ci $(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}') ${ck:--}" >>"$TMP/res"
}

: >"$TMP/res"
for kind in backfill live; do
  for ci in $INTERVALS; do
    for _ in $(seq "$RUNS"); do
      one full "$kind" "$ci" "$NEW" --checkpoint-deltas 0
      one chain "$kind" "$ci" "$NEW"
      [ -n "$OLD" ] && one old "$kind" "$ci" "$OLD"
    done
  done
done
# the "fixed" cut: label, binary -> "label full_MiB full_cpu delta_MiB delta_cpu"
fixed() {
  local label=$1 bin=$2
  rm -rf "$TMP/root"
  nice "$bin" stream --input "$TMP/events.ndjson" --out "$TMP/root" --commit-interval 1h \
    --max-events $((N * 4 / 10)) 2>"$TMP/err" >/dev/null
  local f d
  f=$(sed -n 's/.*checkpoints: 1 full (\([0-9.]*\) MiB), 0 delta .* \([0-9.]*\) s CPU$/\1 \2/p' "$TMP/err" | tail -1)
  nice "$bin" stream --input "$TMP/events.ndjson" --out "$TMP/root" --commit-interval 1h \
    --max-events $((N * 8 / 10)) 2>"$TMP/err" >/dev/null
  d=$(sed -n 's/.*checkpoints: 0 full .*, 1 delta (\([0-9.]*\) MiB), \([0-9.]*\) s CPU$/\1 \2/p' "$TMP/err" | tail -1)
  echo "$label ${f:-- -} ${d:-- -}" >>"$TMP/fixed"
}
: >"$TMP/fixed"
for _ in $(seq "$RUNS"); do
  fixed new "$NEW"
  [ -n "$OLD" ] && fixed old "$OLD"
done

echo "events: $N, $RUNS runs each, load average $(cut -d' ' -f1-3 /proc/loadavg) (2 shared cores)"
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }
echo "input    interval  mode   CPU s  checkpoint CPU s  checkpoint share   (medians)"
for kind in backfill live; do
  for ci in $INTERVALS; do
    for label in full chain old; do
      sel() { awk -v l="$label" -v k="$kind" -v c="$ci" '$1 == l && $2 == k && $3 == c' "$TMP/res"; }
      [ -n "$(sel)" ] || continue
      cpu=$(sel | awk '{print $4}' | median)
      ck=$(sel | awk '$5 != "-" {print $5}' | median)
      sh=$(sel | awk '$5 != "-" {print 100 * $5 / $4}' | median)
      printf "%-8s %-9s %-6s %6.2f  %16s  %15s\n" "$kind" "$ci" "$label" "$cpu" "$ck" "${sh}%"
    done
  done
done
echo "fixed cut (one full of 40% of the input, then one delta of the next 40%; medians):"
echo "build  full MiB  full CPU s  delta MiB  delta CPU s"
for label in new old; do
  sel() { awk -v l="$label" '$1 == l' "$TMP/fixed"; }
  [ -n "$(sel)" ] || continue
  printf "%-6s %8s  %10s  %9s  %11s\n" "$label" "$(sel | awk '{print $2}' | median)" "$(sel | awk '{print $3}' | median)" \
    "$(sel | awk '{print $4}' | median)" "$(sel | awk '{print $5}' | median)"
done
