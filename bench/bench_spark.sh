#!/usr/bin/env bash
# bench/bench_spark.sh — `ecom stream` against the seed's engine, Apache Spark Structured
# Streaming (pyspark, local[2]), on the same generated events in the same invocation.
#
# Both get the same NDJSON (ecom gen, 1% re-sent duplicates, no invalid lines: validation rules
# differ between the two; plus one page view an hour after the last event, so that the watermark
# passes every real window in Spark's append mode too). ecom reads it as one file; Spark reads it
# as FILES files, one micro-batch each (bench/spark_stream.py: 1 minute windows, 2 minute
# watermark, dedup by event_id, append mode, trigger availableNow). The funnel join runs as
# Spark SQL over the same events (why: spark_stream.py's header). Printed: events per CPU-second
# (user+sys of the whole process tree), wall time and peak RSS of each run, and whether
# sales_per_minute, category_activity and funnel agree row for row over the real windows.
#
#   bash bench/bench_spark.sh [EVENTS] [USERS] [FILES]      (defaults 100000 20000 5)
#
# Needs Java >= 17 (the machine's) and pyspark in its own venv, $ECOM_CACHE/venv-spark, which
# bench/setup_spark.sh makes on first use (from PyPI; never needed by `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000} USERS=${2:-20000} FILES=${3:-5}
ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
PY=${PY:-$ECOM_CACHE/venv/bin/python}
E=./build/ecom
[ -x "$E" ] || make -s build/ecom
bash bench/setup_spark.sh || { echo "skipped: no pyspark (bench/setup_spark.sh failed)"; exit 0; }
SPARK_VENV=$ECOM_CACHE/venv-spark
JAVA=$(command -v java || true)
if [ -z "$JAVA" ]; then echo "skipped: no java on PATH (Spark needs Java >= 17)"; exit 0; fi
export JAVA_HOME=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$JAVA")")")}
export SPARK_HOME=$("$SPARK_VENV/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
export PYSPARK_PYTHON=$SPARK_VENV/bin/python
TMP=$(mktemp -d /tmp/ecom-bench-spark.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

"$E" gen --seed 1 --users "$USERS" --start 2026-11-25T00:00:00Z --rate 200 --count "$N" --quiet \
  --dup-frac 0.01 --bad-frac 0 --out "$TMP/events.ndjson"
# The sentinel: the last page view again, an hour later, with an id of its own.
"$PY" - "$TMP/events.ndjson" <<'PY'
import datetime, json, sys
path = sys.argv[1]
last = None
with open(path) as f:
    for line in f:
        e = json.loads(line)
        if e["event_type"] == "page_view":
            last = e
t = datetime.datetime.fromisoformat(last["timestamp"].replace("Z", "+00:00")) + datetime.timedelta(hours=1)
last.update(event_id="00000000-0000-4000-8000-000000000000", timestamp=t.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
with open(path, "a") as f:
    f.write(json.dumps(last, separators=(",", ":")) + "\n")
PY
mkdir -p "$TMP/in"
split -n "l/$FILES" -d -a 3 --additional-suffix=.json "$TMP/events.ndjson" "$TMP/in/part-"

timed() { # label, command...: appends "label wall cpu rss_kib" to $TMP/times
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$TMP/t" "$@" >"$TMP/$label.log" 2>&1 || {
    echo "$label failed:"; tail -20 "$TMP/$label.log"; exit 1; }
  read -r e u s m <"$TMP/t"
  echo "$label $e $(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}') $m" >>"$TMP/times"
}
: >"$TMP/times"
la0=$(cut -d' ' -f1-3 /proc/loadavg)
timed ecom "$E" stream --input "$TMP/events.ndjson" --out "$TMP/ecom" --quiet
SUBMIT=("$SPARK_VENV/bin/spark-submit" --master 'local[2]' --driver-memory 2g bench/spark_stream.py)
timed spark_stream "${SUBMIT[@]}" stream "$TMP/in" "$TMP/spark"
timed spark_funnel "${SUBMIT[@]}" funnel "$TMP/in" "$TMP/spark"
la1=$(cut -d' ' -f1-3 /proc/loadavg)

"$PY" - "$TMP" "$N" "$TMP/times" "$la0" "$la1" "$FILES" <<'PY'
import sys
import duckdb
tmp, n, times, la0, la1, files = sys.argv[1], int(sys.argv[2]) + 1, sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
t = {l.split()[0]: [float(x) for x in l.split()[1:]] for l in open(times)}
con = duckdb.connect()
E = lambda tab: f"read_parquet('{tmp}/ecom/{tab}/**/*.parquet', hive_partitioning=false)"
S = f"read_parquet('{tmp}/spark/stream/*.parquet')"
F = f"read_parquet('{tmp}/spark/funnel/*.parquet')"
# the real windows: those before the sentinel's
last = con.execute(f"SELECT max(window_start) FROM {E('funnel')}").fetchone()[0]
real = f"window_start < TIMESTAMPTZ '{last.isoformat()}'"
pairs = {
    "sales_per_minute": (
        f"SELECT epoch_us(window_start) w, sum(orders), sum(items), sum(CAST(revenue * 100 AS BIGINT)) FROM {E('sales_per_minute')} WHERE {real} GROUP BY ALL",
        f"SELECT epoch_us(window_start) w, sum(orders), sum(items), sum(cents) FROM {S} WHERE category = '' AND {real} GROUP BY ALL"),
    "category_activity": (
        f"SELECT epoch_us(window_start) w, category, sum(views), sum(adds), sum(removes), sum(units_sold), sum(CAST(revenue * 100 AS BIGINT)) FROM {E('category_activity')} WHERE {real} GROUP BY ALL",
        f"SELECT epoch_us(window_start) w, category, sum(views), sum(adds), sum(removes), sum(units), sum(cents) FROM {S} WHERE category <> '' AND {real} GROUP BY ALL"),
    "funnel": (
        f"SELECT epoch_us(window_start) w, sum(viewed), sum(carted), sum(purchased) FROM {E('funnel')} WHERE {real} GROUP BY ALL",
        f"SELECT epoch_us(window_start) w, viewed, carted, purchased FROM {F} WHERE {real}"),
}
agree = []
for name, (qe, qs) in pairs.items():
    ne = con.execute(f"SELECT count(*) FROM ({qe})").fetchone()[0]
    d1 = con.execute(f"SELECT count(*) FROM ({qe} EXCEPT ALL {qs})").fetchone()[0]
    d2 = con.execute(f"SELECT count(*) FROM ({qs} EXCEPT ALL {qe})").fetchone()[0]
    agree.append(f"{name}: " + (f"agree ({ne} rows)" if ne and not d1 and not d2 else
                                f"DIFFER ({d1} ecom rows not in Spark's, {d2} Spark rows not in ecom's, of {ne})"))
print(f"events: {n} (incl. 1 sentinel), Spark in {files} micro-batches; load average {la0} before, {la1} after")
print(f"  {'':34s} {'events/CPU-s':>13s} {'CPU s':>8s} {'wall s':>8s} {'peak RSS':>10s}")
def row(label, k):
    wall, cpu, rss = t[k]
    print(f"  {label:34s} {n / cpu:13,.0f} {cpu:8.2f} {wall:8.2f} {rss / 1024:7.0f} MiB")
row("ecom stream --input (all tables)", "ecom")
row("Spark Structured Streaming", "spark_stream")
row("Spark SQL funnel (batch)", "spark_funnel")
sc = t["spark_stream"][1] + t["spark_funnel"][1]
print(f"  Spark (both) / ecom CPU: {sc / t['ecom'][1]:.0f}x; Structured Streaming alone: "
      f"{t['spark_stream'][1] / t['ecom'][1]:.0f}x; wall: {(t['spark_stream'][0] + t['spark_funnel'][0]) / t['ecom'][0]:.0f}x")
for a in agree:
    print("  " + a)
PY
