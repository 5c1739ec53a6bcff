#!/usr/bin/env bash
# bench_cat.sh — `ecom cat` on a 1M-row file of ecom's lake (views) vs pyarrow read_table +
# to_pylist + json and vs DuckDB COPY TO JSON, per CPU-second, interleaved in the same run.
#
#   bash bench/bench_cat.sh [ROWS] [RUNS]
#
# The file: `ecom gen` (simulated clock, one day) -> `ecom load --max-rows ROWS`, whose first
# views part holds exactly ROWS rows (zstd, ecom's writer). The comparison: bench/bench_cat.py.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
RUNS=${2:-3}
PY=${PY:-${ECOM_CACHE:-$HOME/.cache/ecom}/venv/bin/python}
make -s build/ecom
OUT=$(mktemp -d /tmp/ecom-bench-cat.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
# ~92% of the generated events are page views: 1.1x ROWS events fill one views part.
./build/ecom gen --start 2026-11-25T00:00:00Z --rate 200 --seed 1 --quiet --count $((ROWS * 110 / 100)) \
  --out "$OUT/events.ndjson"
./build/ecom load --input "$OUT/events.ndjson" --out "$OUT/lake" --max-rows "$ROWS" >/dev/null
FILE=$(ls "$OUT"/lake/views/date=*/part-*-00000.parquet | head -1)
"$PY" bench/bench_cat.py ./build/ecom "$FILE" "$RUNS"
