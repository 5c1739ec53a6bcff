#!/usr/bin/env bash
# bench/bench_stream_ab.sh — `ecom stream --input FILE` of two builds in the same invocation
# (e.g. a branch against main), runs interleaved A B A B ... on the same NDJSON so that both
# meet the same machine load. Rates are events per CPU-second (user+sys) and per wall-clock
# second, medians of RUNS runs, and the best (least disturbed) CPU rate; minor page faults
# (medians: a count, so firm where CPU time is noisy); the load average before and after.
#
#   bash bench/bench_stream_ab.sh ECOM_A ECOM_B [EVENTS] [USERS] [RUNS]   (defaults 300000 50000 5)
# BENCH_THREADS=N: both builds with --threads N (default 1: a per-core A/B).
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1 B=$2 N=${3:-300000} USERS=${4:-50000} RUNS=${5:-5} THREADS=${BENCH_THREADS:-1}
TMP=$(mktemp -d /tmp/ecom-bench-ab.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$A" gen --seed 1 --users "$USERS" --start 2026-11-25T00:00:00Z --rate 200 --count "$N" --quiet \
  --dup-frac 0.01 --bad-frac 0.001 --out "$TMP/events.ndjson"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
one() { # binary, output list
  rm -rf "$TMP/root"
  /usr/bin/time -f "%U %S %e %R" -o "$TMP/t" "$1" stream --input "$TMP/events.ndjson" --out "$TMP/root" --quiet \
    --threads "$THREADS"
  read -r u s e f <"$TMP/t"
  awk -v n="$N" -v u="$u" -v s="$s" 'BEGIN {print n / (u + s)}' >>"$2"
  awk -v n="$N" -v e="$e" 'BEGIN {print n / (e > 0 ? e : 0.01)}' >>"$2.wall"
  echo "$f" >>"$2.faults"
}
la0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$TMP/a" && : >"$TMP/b" && : >"$TMP/a.wall" && : >"$TMP/b.wall" && : >"$TMP/a.faults" && : >"$TMP/b.faults"
for _ in $(seq "$RUNS"); do one "$A" "$TMP/a"; one "$B" "$TMP/b"; done
a=$(median <"$TMP/a") b=$(median <"$TMP/b") aw=$(median <"$TMP/a.wall") bw=$(median <"$TMP/b.wall")
am=$(sort -g "$TMP/a" | tail -1) bm=$(sort -g "$TMP/b" | tail -1)
af=$(median <"$TMP/a.faults") bf=$(median <"$TMP/b.faults")
awk -v n="$N" -v a="$a" -v b="$b" -v aw="$aw" -v bw="$bw" -v am="$am" -v bm="$bm" -v af="$af" -v bf="$bf" \
    -v A="$A" -v B="$B" -v la0="$la0" -v la="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
  printf "events: %d, medians of interleaved runs; load average %s before, %s after\n", n, la0, la
  printf "    %-40s %14s %14s %14s %10s\n", "", "ev/CPU-s", "best CPU", "ev/wall-s", "faults"
  printf "  A %-40s %14.0f %14.0f %14.0f %10d\n  B %-40s %14.0f %14.0f %14.0f %10d\n", A, a, am, aw, af, B, b, bm, bw, bf
  printf "  B/A: CPU %.3f (best %.3f), wall %.3f, faults %.3f\n", b / a, bm / am, bw / aw, bf / af
}'
