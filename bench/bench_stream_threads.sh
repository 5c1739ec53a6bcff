#!/usr/bin/env bash
# bench/bench_stream_threads.sh — `ecom stream --input FILE` with every table written, one thread
# against --threads N (N threads in all, default 2), runs interleaved 1 N 1 N ... on the same NDJSON so that both
# meet the same machine load. Prints medians of RUNS runs: wall-clock events/s, events per
# CPU-second (user+sys), context switches per run, their ratios N/1, and the load average before
# and after (the box may be shared: the wall figure means something only when the load is below
# the core count).
#
#   bash bench/bench_stream_threads.sh [EVENTS] [USERS] [RUNS] [N]   (defaults 1000000 50000 5 2)
#
# ECOM_OPT=BINARY benches another build. ECOM_PEER=BINARY adds that build's --threads N to every
# round (1 N peer-N 1 N peer-N ...), e.g. main's build against a branch's, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
E=${ECOM_OPT:-build/ecom}
P=${ECOM_PEER:-}
N=${1:-1000000} USERS=${2:-50000} RUNS=${3:-5} T=${4:-2}
TMP=$(mktemp -d /tmp/ecom-bench-threads.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$E" gen --seed 1 --users "$USERS" --start 2026-11-25T00:00:00Z --rate 200 --count "$N" --quiet \
  --dup-frac 0.01 --bad-frac 0.001 --out "$TMP/events.ndjson"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
one() { # binary, threads, output prefix
  rm -rf "$TMP/root"
  /usr/bin/time -f "%e %U %S %c %w" -o "$TMP/t" "$1" stream --input "$TMP/events.ndjson" --out "$TMP/root" --quiet \
    --threads "$2"
  read -r w u s ci cv <"$TMP/t"
  awk -v n="$N" -v w="$w" 'BEGIN {print n / w}' >>"$3.wall"
  awk -v n="$N" -v u="$u" -v s="$s" 'BEGIN {print n / (u + s)}' >>"$3.cpu"
  echo $((ci + cv)) >>"$3.cs"
}
la0=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$RUNS"); do
  one "$E" 1 "$TMP/a"
  one "$E" "$T" "$TMP/b"
  if [ -n "$P" ]; then one "$P" "$T" "$TMP/p"; fi
done
la1=$(cut -d' ' -f1-3 /proc/loadavg)
aw=$(median <"$TMP/a.wall") ac=$(median <"$TMP/a.cpu") bw=$(median <"$TMP/b.wall") bc=$(median <"$TMP/b.cpu")
acs=$(median <"$TMP/a.cs") bcs=$(median <"$TMP/b.cs")
pw=0 pc=0 pcs=0
if [ -n "$P" ]; then pw=$(median <"$TMP/p.wall") pc=$(median <"$TMP/p.cpu") pcs=$(median <"$TMP/p.cs"); fi
awk -v n="$N" -v t="$T" -v aw="$aw" -v ac="$ac" -v bw="$bw" -v bc="$bc" -v acs="$acs" -v bcs="$bcs" \
  -v pw="$pw" -v pc="$pc" -v pcs="$pcs" -v la0="$la0" -v la1="$la1" -v c="$(nproc)" 'BEGIN {
  printf "events: %d, %d runs each, interleaved; %d cores; load average before %s, after %s\n", n, '"$RUNS"', c, la0, la1
  printf "  %-14s %14s %18s %18s\n", "", "wall events/s", "events/CPU-second", "context switches"
  printf "  %-14s %14.0f %18.0f %18d\n", "1 thread", aw, ac, acs
  printf "  %-14s %14.0f %18.0f %18d\n", t " threads", bw, bc, bcs
  printf "  %-14s %14.3f %18.3f\n", "ratio", bw / aw, bc / ac
  if (pw > 0) {
    printf "  %-14s %14.0f %18.0f %18d\n", "peer " t " thr.", pw, pc, pcs
    printf "  %-14s %14.3f %18.3f\n", "peer ratio", pw / aw, pc / ac
  }
}'
