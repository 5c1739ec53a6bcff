#!/usr/bin/env bash
# bench/bench_gen.sh — `ecom gen` into NDJSON (/dev/null) and the event parser's parse-only rate
# on the same data, against a Python peer (bench/peer_gen.py: the seed's approach, stdlib json).
# Median of 5 runs each. Rates are given per second of wall time and per second of CPU time
# (user+sys of the process: the per-core figure, meaningful on a shared machine).
#
#   bash bench/bench_gen.sh            (or: make bench)
#   BENCH_N=2000000 BENCH_PEER_N=100000 bash bench/bench_gen.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_N:-1000000}
PN=${BENCH_PEER_N:-50000}
RUNS=${BENCH_RUNS:-5}
PY=${PY:-${ECOM_CACHE:-$HOME/.cache/ecom}/venv/bin/python}
[ -x "$PY" ] || PY=python3
make -s build/ecom >/dev/null
mkdir -p build/bench
cc -O2 -std=c17 -D_GNU_SOURCE -Isrc bench/parse_rate.c build/libecom.a -o build/bench/parse_rate -lm
TMP=$(mktemp -d /tmp/ecom-bench-gen.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# runs CMD..., prints "<wall seconds> <cpu seconds>"
timed() {
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f "%U %S" -o "$TMP/time" "$@" >/dev/null
  t1=$(date +%s%N)
  awk -v w="$(( t1 - t0 ))" '{printf "%.6f %.6f\n", w / 1e9, $1 + $2}' "$TMP/time"
}

echo "ecom gen: $N events into NDJSON (/dev/null), $RUNS runs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$TMP/gw"; : >"$TMP/gc"
for _ in $(seq "$RUNS"); do
  read -r w c < <(timed ./build/ecom gen --start 2026-11-25T09:00:00Z --count "$N" --seed 1 --quiet --out /dev/null)
  awk -v n="$N" -v w="$w" 'BEGIN {printf "%.0f\n", n / w}' >>"$TMP/gw"
  awk -v n="$N" -v c="$c" 'BEGIN {printf "%.0f\n", n / c}' >>"$TMP/gc"
done
gen_w=$(median <"$TMP/gw"); gen_c=$(median <"$TMP/gc")

./build/ecom gen --start 2026-11-25T09:00:00Z --count "$N" --seed 1 --quiet --out "$TMP/events.ndjson"
read -r parse_w parse_c mbs acc rej < <(./build/bench/parse_rate "$TMP/events.ndjson" "$RUNS")

echo "peer: bench/peer_gen.py, $PN events, $RUNS runs ($("$PY" --version 2>&1))"
: >"$TMP/pw"; : >"$TMP/pc"
for _ in $(seq "$RUNS"); do
  read -r w c < <(timed "$PY" bench/peer_gen.py "$PN" /dev/null)
  awk -v n="$PN" -v w="$w" 'BEGIN {printf "%.0f\n", n / w}' >>"$TMP/pw"
  awk -v n="$PN" -v c="$c" 'BEGIN {printf "%.0f\n", n / c}' >>"$TMP/pc"
done
peer_w=$(median <"$TMP/pw"); peer_c=$(median <"$TMP/pc")
head -n "$PN" "$TMP/events.ndjson" >"$TMP/peer-parse.ndjson"
: >"$TMP/pp"
for _ in $(seq "$RUNS"); do "$PY" bench/peer_gen.py --parse "$TMP/peer-parse.ndjson" >>"$TMP/pp"; done
peer_parse=$(median <"$TMP/pp")

printf '\n%-44s %14s %14s\n' "" "events/s wall" "events/s cpu"
printf '%-44s %14s %14s\n' "ecom gen -> NDJSON" "$gen_w" "$gen_c"
printf '%-44s %14s %14s\n' "peer_gen.py (json.dumps) -> NDJSON" "$peer_w" "$peer_c"
printf '%-44s %14s %14s\n' "event_parse (validating), same data" "$parse_w" "$parse_c"
printf '%-44s %14s %14s\n' "python json.loads (no validation), same data" "$peer_parse" "-"
awk -v a="$gen_c" -v b="$peer_c" -v c="$parse_w" -v d="$peer_parse" -v e="$gen_w" -v f="$peer_w" 'BEGIN {
  printf "\nratio gen: %.1fx the Python peer (cpu), %.1fx (wall)\n", a / b, e / f
  printf "ratio parse: %.1fx json.loads (wall, same process conditions)\n", c / d }'
echo "parse: $acc accepted, $rej rejected, $mbs MB/s wall"
