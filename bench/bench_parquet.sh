#!/usr/bin/env bash
# bench_parquet.sh — ecom's Parquet writer/reader against pyarrow, same rows, same codec, same run.
#
#   bash bench/bench_parquet.sh [ROWS_VIEWS] [ROWS_ORDERS] [RUNS]
#
# Rows: synthetic `views` (14 columns incl. a struct) and `orders` (17 leaves incl. a LIST of
# STRUCT) made by build/pqtool. ecom: write + full decode of every column (pqtool bench).
# pyarrow: write_table of the same rows (read back from ecom's file, untimed) and
# read_table(use_threads=False). Times are CPU seconds of the process (per-core cost; the
# machine may be shared), medians of RUNS runs. MB/s counts the uncompressed value bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS_V=${1:-1000000}
ROWS_O=${2:-300000}
RUNS=${3:-3}
PY=${PY:-${ECOM_CACHE:-$HOME/.cache/ecom}/venv/bin/python}
make -s build/pqtool
OUT=$(mktemp -d /tmp/ecom-bench-pq.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

median() { tr ',' '\n' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-7s %-6s %9s | %12s %8s | %12s %8s | %12s %8s | %12s %8s | %6s %6s\n' table codec rows \
  "ecom w r/s" "MB/s" "pyarrow w r/s" "MB/s" "ecom r r/s" "MB/s" "pyarrow r r/s" "MB/s" "w x" "r x"
for spec in "views $ROWS_V" "orders $ROWS_O"; do
  set -- $spec
  table=$1 rows=$2
  for codec in zstd snappy; do
    ew="" er="" raw=0
    for _ in $(seq "$RUNS"); do
      line=$(./build/pqtool bench "$table" "$rows" "$OUT/ecom.parquet" "$codec")
      raw=$(sed -n 's/.*raw_bytes=\([0-9]*\).*/\1/p' <<<"$line")
      ew+="$(sed -n 's/.*write_secs=\([0-9.]*\).*/\1/p' <<<"$line"),"
      er+="$(sed -n 's/.*read_secs=\([0-9.]*\).*/\1/p' <<<"$line"),"
    done
    peer=$("$PY" bench/bench_parquet.py "$OUT/ecom.parquet" "$OUT/pa.parquet" "$codec" "$RUNS")
    pw=$(sed -n 's/.*write_secs=\([0-9.,]*\).*/\1/p' <<<"$peer")
    pr=$(sed -n 's/.*read_secs=\([0-9.,]*\).*/\1/p' <<<"$peer")
    ewm=$(echo "${ew%,}" | median) erm=$(echo "${er%,}" | median)
    pwm=$(echo "$pw" | median) prm=$(echo "$pr" | median)
    awk -v t="$table" -v c="$codec" -v n="$rows" -v raw="$raw" -v ew="$ewm" -v er="$erm" -v pw="$pwm" -v pr="$prm" \
      -v es="$(stat -c %s "$OUT/ecom.parquet")" -v ps="$(stat -c %s "$OUT/pa.parquet")" 'BEGIN {
        printf "%-7s %-6s %9d | %12.0f %8.1f | %12.0f %8.1f | %12.0f %8.1f | %12.0f %8.1f | %5.2fx %5.2fx\n",
          t, c, n, n/ew, raw/ew/1e6, n/pw, raw/pw/1e6, n/er, raw/er/1e6, n/pr, raw/pr/1e6, pw/ew, pr/er
        printf "        file sizes: ecom %.1f MB, pyarrow %.1f MB\n", es/1e6, ps/1e6 }'
  done
done
echo "(w x / r x: ecom speed over pyarrow, >1 means ecom is faster; CPU-time medians of $RUNS runs)"
