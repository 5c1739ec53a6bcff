# test_hdfs_lake.sh — the lake read from a real HDFS: Parquet tables put there by Hadoop's own
# FsShell (an independent client) read back by `ecom cat hdfs://...` give exactly what the same
# tables give from local disk (the reader's footer and column-chunk range reads go through
# WebHDFS OPEN with offset/length). Plus the clear, bounded failure of an unreachable NameNode.
source "$(dirname "$0")/lib.sh"
H="bash $REPO/tests/services/hdfs.sh"
L=$TEST_TMP/lake
HROOT=/lake-$$

make_lake() {
  mkdir -p "$L/t/date=2026-11-25" "$L/n/date=2026-11-26" "$L/big/date=2026-11-25" "$L/big/date=2026-11-26"
  cp "$REPO/tests/fixtures/parquet/pyarrow_v2_zstd.parquet" "$L/t/date=2026-11-25/part-0.parquet"
  cp "$REPO/tests/fixtures/parquet/ecom_nested_zstd.parquet" "$L/n/date=2026-11-26/part-0.parquet"
  # A bigger table: 2 partitions x 40k rows in row groups of 10k, so the reader seeks.
  "$PY" - "$L/big" <<'PY' || return 1
import sys, pyarrow as pa, pyarrow.parquet as pq
root = sys.argv[1]
for k, day in enumerate(["2026-11-25", "2026-11-26"]):
    n = 40_000
    base = 1764028800_000000 + k * 86_400_000_000
    t = pa.table({
        "id": pa.array(range(k * n, (k + 1) * n), pa.int64()),
        "s": pa.array([f"user-{i % 977}-é" if i % 13 else None for i in range(n)], pa.string()),
        "ts": pa.array([base + i * 700_000 for i in range(n)], pa.timestamp("us", tz="UTC")),
        "f": pa.array([i * 0.25 for i in range(n)], pa.float64()),
    })
    pq.write_table(t, f"{root}/date={day}/part-0.parquet", row_group_size=10_000, compression="zstd")
PY
}

setup_hdfs() {
  ADDR=$($H ensure) || { fail "hdfs.sh ensure failed"; return 1; }
  make_lake || { fail "could not make the local lake"; return 1; }
  $H fs -mkdir -p "$HROOT" 2>/dev/null || { fail "FsShell -mkdir"; return 1; }
  $H fs -put "$L/t" "$L/n" "$L/big" "$HROOT/" 2>/dev/null || { fail "FsShell -put"; return 1; }
  U="hdfs://$ADDR$HROOT"
}

cat_over_hdfs_matches_local() {
  setup_hdfs || return
  local ls
  ls=$($H fs -ls -R "$HROOT" 2>/dev/null)
  expect_contains "$ls" "$HROOT/big/date=2026-11-26/part-0.parquet" "FsShell -ls -R"
  local tbl args a b t0 tl th
  for tbl in t n big; do
    for args in "" "--format csv" "--columns id,ts --limit 1000" "--where-date 2026-11-26"; do
      [ "$tbl" != big ] && [ "$args" = "--columns id,ts --limit 1000" ] && continue
      # shellcheck disable=SC2086
      a=$("$ECOM_OPT" cat "$L/$tbl" $args 2>&1) || fail "local cat $tbl $args: $a"
      # shellcheck disable=SC2086
      b=$("$ECOM" cat "$U/$tbl" $args 2>&1) || fail "hdfs cat $tbl $args: $(head -c 300 <<<"$b")"
      [ "$a" == "$b" ] || fail "ecom cat $tbl $args: HDFS differs from local ($(wc -l <<<"$a") vs $(wc -l <<<"$b") lines)"
    done
  done
  expect_eq "$("$ECOM_OPT" cat "$U/big" | wc -l)" 80000 "rows of big read from HDFS"
  t0=$(date +%s%N); "$ECOM_OPT" cat "$L/big" >/dev/null; tl=$((($(date +%s%N) - t0) / 1000000))
  t0=$(date +%s%N); "$ECOM_OPT" cat "$U/big" >/dev/null; th=$((($(date +%s%N) - t0) / 1000000))
  echo "  ecom cat big (80k rows): local ${tl} ms, HDFS ${th} ms"
}

cat_unreachable_namenode_clear_error() {
  local port t0 secs
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  t0=$SECONDS
  expect_rc 1 "$ECOM" cat "hdfs://127.0.0.1:$port/lake/views"
  secs=$((SECONDS - t0))
  echo "  $LAST_ERR (${secs}s)"
  expect_contains "$LAST_ERR" "webhdfs GETFILESTATUS /lake/views" "error names the operation and path"
  expect_contains "$LAST_ERR" "127.0.0.1" "error names the address"
  expect_le "$secs" 15 "seconds to fail"
}

# ecom load straight to HDFS: the layout FsShell sees equals the local run's, no temporary file
# is left, ecom cat agrees, and the files fetched back (FsShell -get) read in pyarrow.dataset and
# DuckDB exactly as the local run's files do.
load_to_hdfs_matches_local() {
  [ -n "${ADDR:-}" ] || ADDR=$($H ensure) || { fail "hdfs.sh ensure failed"; return; }
  local ev=$TEST_TMP/ev.ndjson L2=$TEST_TMP/loadlocal R=/load-$$ out
  "$ECOM_OPT" gen --count 20000 --start 2026-11-25T23:58:30Z --seed 7 --bad-frac 0.01 --out "$ev" 2>/dev/null ||
    { fail "ecom gen"; return; }
  out=$("$ECOM_OPT" load --input "$ev" --out "$L2" --max-rows 3000 2>&1) || { fail "local load: $out"; return; }
  out=$("$ECOM" load --input "$ev" --out "hdfs://$ADDR$R" --max-rows 3000 2>&1) || { fail "hdfs load: $out"; return; }
  local want got
  want=$(cd "$L2" && find . -type f | sed 's|^\./||' | sort)
  got=$($H fs -ls -R "$R" 2>/dev/null | awk '$1 !~ /^d/ {print $NF}' | sed "s|^$R/||" | sort)
  expect_ge "$(grep -c 'parquet$' <<<"$want")" 8 "parquet files of the local load"
  [ "$want" == "$got" ] || fail "layout on HDFS differs from local: $(diff <(echo "$want") <(echo "$got") | head -10)"
  # the only '_' files are the lake's layout version (_ecom/lake_version, docs/parquet.md) and
  # the writer lease the load held, released at its end (docs/reliability.md)
  grep -qx '_ecom/lake_version' <<<"$got" || fail "no _ecom/lake_version on HDFS"
  grep -qx '_ecom/lease/00000000000000000001.lease' <<<"$got" || fail "no lease file of the load on HDFS"
  $H fs -cat "$R/_ecom/lease/00000000000000000001.lease" 2>/dev/null | grep -qx 'timeout 0' ||
    fail "the load's lease on HDFS was not released"
  got=$(grep -vxE '_ecom/lake_version|_ecom/lease/[0-9]{20}\.lease' <<<"$got")
  grep -qE '(^|/)[._]' <<<"$got" && fail "hidden/temporary files left on HDFS: $(grep -E '(^|/)[._]' <<<"$got" | head -3)"
  local t a b
  # rejected.ingest_ts is the wall clock of each load: every other column must agree.
  local cols
  for t in views cart orders rejected; do
    cols=(); [ $t = rejected ] && cols=(--columns source,position,reason,raw)
    a=$("$ECOM_OPT" cat "$L2/$t" "${cols[@]}" 2>&1) || fail "local cat $t"
    b=$("$ECOM_OPT" cat "hdfs://$ADDR$R/$t" "${cols[@]}" 2>&1) || fail "hdfs cat $t: $(head -c 200 <<<"$b")"
    [ "$a" == "$b" ] || fail "ecom cat $t differs between HDFS and local"
  done
  mkdir -p "$TEST_TMP/fetched"
  $H fs -get "$R" "$TEST_TMP/fetched/" 2>/dev/null || { fail "FsShell -get"; return; }
  out=$("$PY" - "$L2" "$TEST_TMP/fetched/${R#/}" <<'PY' 2>&1
import sys, duckdb, pyarrow.dataset as ds
local, fetched = sys.argv[1], sys.argv[2]
for t in ["views", "cart", "orders", "rejected"]:
    a = ds.dataset(f"{local}/{t}", format="parquet", partitioning="hive").to_table()
    b = ds.dataset(f"{fetched}/{t}", format="parquet", partitioning="hive").to_table()
    if "ingest_ts" in a.column_names:   # wall clock of each load
        a, b = a.drop_columns(["ingest_ts"]), b.drop_columns(["ingest_ts"])
    key = [c for c in a.column_names if c in ("event_id", "position")][:1] or a.column_names[:1]
    a, b = a.sort_by([(key[0], "ascending")]), b.sort_by([(key[0], "ascending")])
    assert a.num_rows > 0, t
    assert a.equals(b), f"pyarrow: {t} differs"
    q = "select count(*), count(distinct date) from read_parquet('{}/%s/**/*.parquet', hive_partitioning=1)" % t
    da, db = duckdb.sql(q.format(local)).fetchall(), duckdb.sql(q.format(fetched)).fetchall()
    assert da == db, f"duckdb: {t} {da} vs {db}"
    print(t, a.num_rows, "rows", da)
PY
) || fail "pyarrow/DuckDB on fetched files: $out"
  echo "$out" | sed 's/^/  /'
}

# A missing HDFS path is an error naming it, not an empty table (issue 11 finding 8: `ecom cat
# hdfs://nn/nope/views` printed nothing and exited 0); a file URI reads that one file.
missing_hdfs_path_clear_error() {
  [ -n "${U:-}" ] || setup_hdfs || return
  expect_rc 1 "$ECOM" cat "$U/nope/views"
  expect_contains "$LAST_ERR" "$U/nope/views: no such file or directory" "cat names the missing path"
  expect_rc 1 "$ECOM" schema "$U/nope/views"
  expect_contains "$LAST_ERR" "nope/views" "schema names the missing path"
  expect_rc 1 timeout 20 "$ECOM" dash --data "$U/nope" --listen 127.0.0.1:0
  expect_contains "$LAST_ERR" "$U/nope: no such directory" "dash names the missing root"
  local a b
  a=$("$ECOM_OPT" cat "$L/t/date=2026-11-25/part-0.parquet" 2>&1) || fail "local cat of one file"
  b=$("$ECOM" cat "$U/t/date=2026-11-25/part-0.parquet" 2>&1) || fail "hdfs cat of one file: $(head -c 300 <<<"$b")"
  [ -n "$a" ] && [ "$a" == "$b" ] || fail "one file read over HDFS differs from local"
  a=$("$ECOM_OPT" schema "$L/n/date=2026-11-26/part-0.parquet" 2>&1) || fail "local schema of one file"
  b=$("$ECOM" schema "$U/n/date=2026-11-26/part-0.parquet" 2>&1) || fail "hdfs schema of one file: $(head -c 300 <<<"$b")"
  [ -n "$a" ] && [ "$a" == "$b" ] || fail "schema of one file over HDFS differs from local"
  # a lake root on HDFS: its tables listed, exit 2, no rows of several tables mixed
  expect_rc 2 "$ECOM" cat "$U"
  expect_contains "$LAST_ERR" "holds several tables (big, n, t)" "cat of an HDFS lake root lists its tables"
  expect_rc 2 "$ECOM" schema "$U"
}

case_run cat_over_hdfs_matches_local
case_run missing_hdfs_path_clear_error
case_run load_to_hdfs_matches_local
case_run cat_unreachable_namenode_clear_error
suite_end
