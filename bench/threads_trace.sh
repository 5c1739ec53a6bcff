#!/usr/bin/env bash
# bench/threads_trace.sh — one `ecom stream --threads N` run under `perf record -a` (scheduler
# switches plus uprobes on the long steps: a row group's flush, the engine's final flush, a
# table's close, the checkpoint, the commit barrier and the closes), then where each thread
# waited (bench/threads_offcpu.py). Needs root (perf probe). The probes are removed at the end.
#
#   bash bench/threads_trace.sh [BINARY] [N] [EVENTS] [--timeline]   (defaults build/ecom 2 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
T=${2:-2} N=${3:-1000000}
TMP=$(mktemp -d /tmp/ecom-threads-trace.XXXXXX)
G=ecomtrace$$
trap 'perf probe -q -d "$G:*" 2>/dev/null || true; rm -rf "$TMP"' EXIT
B=$TMP/ecomtr$$ # a copy under a name of its own: other ecom processes on the box are not counted
cp "${1:-build/ecom}" "$B"
"$B" gen --seed 1 --users 50000 --start 2026-11-25T00:00:00Z --rate 200 --count "$N" --quiet \
  --dup-frac 0.01 --bad-frac 0.001 --out "$TMP/events.ndjson"
for f in flush_rowgroup stream_engine_flush lake_table_close ckpt_write workers_drain workers_close_tables; do
  perf probe -q -x "$B" -a "$G:$f=$f" -a "$G:${f}_r=$f%return"
done
perf record -q -a -o "$TMP/perf.data" -e "$G:*" -e sched:sched_switch -- \
  "$B" stream --input "$TMP/events.ndjson" --out "$TMP/root" --quiet --threads "$T"
perf script -i "$TMP/perf.data" -F tid,time,event,trace 2>/dev/null >"$TMP/trace.txt"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/threads_offcpu.py "$TMP/trace.txt" "ecomtr$$" ${4:-}
