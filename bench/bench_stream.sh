#!/usr/bin/env bash
# bench/bench_stream.sh — `ecom stream --input FILE` with every table written (raw + metrics,
# exactly-once commits) against two peers in the same invocation:
#   parse-only: bench/parse_rate (event_parse over the same NDJSON, doing nothing else): the limit;
#   DuckDB:     the same five metric tables computed in SQL from the same NDJSON (threads=1 for a
#               per-core comparison; the oracle queries of tests/integ/test_stream_oracle.py).
# Rates are events per CPU-second (user+sys of the process: the per-core cost on a shared
# machine), medians of RUNS runs. Peak RSS of ecom stream is reported too.
#
#   bash bench/bench_stream.sh [EVENTS] [USERS] [RUNS]      (defaults 1000000 100000 3)
# BENCH_THREADS=N: ecom stream --threads N (default 1: per core, as the peers; `ecom stream`'s own
# default is the cores available, bench/bench_stream_threads.sh compares the two).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000} USERS=${2:-100000} RUNS=${3:-3} THREADS=${BENCH_THREADS:-1}
PY=${PY:-${ECOM_CACHE:-$HOME/.cache/ecom}/venv/bin/python}
E=./build/ecom
[ -x "$E" ] || make -s build/ecom
mkdir -p build/bench
cc -O2 -std=c17 -D_GNU_SOURCE -Isrc bench/parse_rate.c build/libecom.a -o build/bench/parse_rate -lm
TMP=$(mktemp -d /tmp/ecom-bench-stream.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
"$E" gen --seed 1 --users "$USERS" --start 2026-11-25T00:00:00Z --rate 200 --count "$N" --quiet \
  --dup-frac 0.01 --bad-frac 0.001 --out "$TMP/events.ndjson"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

read -r _ parse_cpu _ _ _ < <(./build/bench/parse_rate "$TMP/events.ndjson" "$RUNS")

: >"$TMP/ecom.txt"
for r in $(seq "$RUNS"); do
  rm -rf "$TMP/root"
  /usr/bin/time -f "%U %S %M" -o "$TMP/t" "$E" stream --input "$TMP/events.ndjson" --out "$TMP/root" --quiet \
    --threads "$THREADS"
  read -r u s m <"$TMP/t"
  echo "$(awk -v n="$N" -v u="$u" -v s="$s" 'BEGIN {print n / (u + s)}') $m" >>"$TMP/ecom.txt"
done
ecom_cpu=$(cut -d' ' -f1 "$TMP/ecom.txt" | median)
ecom_rss=$(cut -d' ' -f2 "$TMP/ecom.txt" | sort -n | tail -1)

duck_cpu=$("$PY" - "$TMP/events.ndjson" "$N" "$RUNS" <<'PY'
import os, sys, time, statistics
sys.path.insert(0, "tests/integ")
import duckdb
path, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cols = """{'event_type':'VARCHAR','event_id':'VARCHAR','timestamp':'VARCHAR','user_id':'VARCHAR',
 'store_type':'VARCHAR','city':'VARCHAR','province':'VARCHAR','product_id':'VARCHAR','product_name':'VARCHAR',
 'category':'VARCHAR','price':'DOUBLE','quantity':'BIGINT','total':'DOUBLE',
 'items':'STRUCT(product_id VARCHAR, product_name VARCHAR, category VARCHAR, quantity BIGINT, unit_price DOUBLE)[]'}"""
q = [
 f"CREATE TABLE ev AS SELECT DISTINCT ON (event_id) *, CAST(replace(\"timestamp\",'Z','') AS TIMESTAMP) ts FROM read_json('{path}', format='newline_delimited', ignore_errors=true, columns={cols}) WHERE event_type IS NOT NULL",
 "CREATE TABLE items AS SELECT ts, user_id, u.product_id, u.category, u.quantity, CAST(round(u.unit_price*100) AS BIGINT) cents FROM (SELECT ts, user_id, unnest(items) u FROM ev WHERE event_type='purchase')",
 "SELECT time_bucket(INTERVAL 1 minute, ts), count(*), sum(CAST(round(total*100) AS BIGINT)) FROM ev WHERE event_type='purchase' GROUP BY ALL",
 "SELECT time_bucket(INTERVAL 1 minute, ts), category, count(*) FILTER (WHERE event_type='page_view'), count(*) FILTER (WHERE event_type='add_to_cart'), count(*) FILTER (WHERE event_type='remove_from_cart') FROM ev GROUP BY ALL",
 "SELECT time_bucket(INTERVAL 1 minute, ts), category, sum(quantity), sum(quantity*cents) FROM items GROUP BY ALL",
 "SELECT * FROM (SELECT w, product_id, v, row_number() OVER (PARTITION BY w ORDER BY v DESC, product_id) rk FROM (SELECT time_bucket(INTERVAL 1 minute, ts) w, product_id, count(*) v FROM ev WHERE event_type='page_view' GROUP BY ALL)) WHERE rk<=10",
 "SELECT time_bucket(INTERVAL 1 minute, ts), province, city, store_type, count(*), sum(total) FROM ev WHERE event_type='purchase' GROUP BY ALL",
 """WITH v AS (SELECT user_id, product_id, time_bucket(INTERVAL 1 minute, ts) wi, min(ts) t0 FROM ev WHERE event_type='page_view' GROUP BY ALL),
    a AS (SELECT user_id, product_id, ts FROM ev WHERE event_type='add_to_cart'),
    c AS (SELECT v.wi, v.user_id, v.product_id, bool_or(a.ts IS NOT NULL) carted,
                 bool_or(p.ts IS NOT NULL) bought
          FROM v LEFT JOIN a ON a.user_id=v.user_id AND a.product_id=v.product_id AND a.ts BETWEEN v.t0 AND v.t0 + INTERVAL 30 minute
          LEFT JOIN items p ON p.user_id=a.user_id AND p.product_id=a.product_id AND p.ts BETWEEN a.ts AND a.ts + INTERVAL 60 minute
          GROUP BY ALL)
    SELECT wi, count(*), sum(carted::INT), sum(bought::INT) FROM c GROUP BY wi""",
]
rates = []
for _ in range(runs):
    con = duckdb.connect()
    con.execute("SET threads=1")
    t0 = time.process_time()
    for s in q:
        con.execute(s).fetchall()
    rates.append(n / (time.process_time() - t0))
    con.close()
print(round(statistics.median(rates)))
PY
)
awk -v n="$N" -v u="$USERS" -v e="$ecom_cpu" -v p="$parse_cpu" -v d="$duck_cpu" -v m="$ecom_rss" 'BEGIN {
  printf "events: %d, users: %d (events per CPU-second, medians)\n", n, u
  printf "  ecom stream --input (all tables):  %12.0f\n", e
  printf "  parse-only limit (peer):           %12.0f   ecom/parse-only = %.2fx slower\n", p, p / e
  printf "  DuckDB, same metrics (threads=1):  %12.0f   ecom/DuckDB = %.2fx\n", d, e / d
  printf "  ecom stream peak RSS:              %9.1f MiB\n", m / 1024
}'
