#!/usr/bin/env bash
# bench/bench_stream_ab.sh — `ecom stream --input FILE` of two builds in the same invocation
# (e.g. a branch against main), runs interleaved A B A B ... on the same NDJSON so that both
# meet the same machine load. Rates are events per CPU-second (user+sys), medians of RUNS runs.
#
#   bash bench/bench_stream_ab.sh ECOM_A ECOM_B [EVENTS] [USERS] [RUNS]   (defaults 300000 50000 5)
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1 B=$2 N=${3:-300000} USERS=${4:-50000} RUNS=${5:-5}
TMP=$(mktemp -d /tmp/ecom-bench-ab.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$A" gen --seed 1 --users "$USERS" --start 2026-11-25T00:00:00Z --rate 200 --count "$N" --quiet \
  --dup-frac 0.01 --bad-frac 0.001 --out "$TMP/events.ndjson"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
one() { # binary, output list
  rm -rf "$TMP/root"
  /usr/bin/time -f "%U %S" -o "$TMP/t" "$1" stream --input "$TMP/events.ndjson" --out "$TMP/root" --quiet
  read -r u s <"$TMP/t"
  awk -v n="$N" -v u="$u" -v s="$s" 'BEGIN {print n / (u + s)}' >>"$2"
}
: >"$TMP/a" && : >"$TMP/b"
for _ in $(seq "$RUNS"); do one "$A" "$TMP/a"; one "$B" "$TMP/b"; done
a=$(median <"$TMP/a") b=$(median <"$TMP/b")
awk -v n="$N" -v a="$a" -v b="$b" -v A="$A" -v B="$B" -v la="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
  printf "events: %d (events per CPU-second, medians; load average %s)\n", n, la
  printf "  A %-40s %12.0f\n  B %-40s %12.0f   B/A = %.3f\n", A, a, B, b, b / a
}'
