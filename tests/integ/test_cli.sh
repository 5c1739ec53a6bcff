# CLI ground: help, version, unknown commands and flags get clear errors and exit code 2.
. "$(dirname "$0")/lib.sh"

cli_help() {
  local out; out=$("$ECOM" help) || fail "ecom help exited non-zero"
  for c in gen broker stream load cat schema dash run; do expect_contains "$out" "$c"; done
  expect_eq "$("$ECOM" --version | head -1)" "ecom $(cat "$REPO/VERSION")" "version"
}

# ecom must run a librdkafka that can SCRAM-authenticate against Kafka 4.x (>= 2.6.1), and say
# which: the version line comes from the loaded library (rd_kafka_version_str()).
cli_librdkafka() {
  local v; v=$("$ECOM" --version | sed -n 's/^librdkafka //p')
  [ -n "$v" ] || fail "ecom --version names no librdkafka"
  [ "$(printf '%s\n2.6.1\n' "$v" | sort -V | head -1)" = 2.6.1 ] || fail "librdkafka $v is older than 2.6.1"
  ldd "$ECOM" | grep -q "librdkafka.so.1 => $ECOM_CACHE/librdkafka-" ||
    pkg-config --atleast-version=2.6.1 rdkafka || fail "ecom loads $(ldd "$ECOM" | grep rdkafka)"
}

cli_errors() {
  expect_rc 2 "$ECOM"
  expect_rc 2 "$ECOM" no-such-command
  expect_contains "$LAST_ERR" "unknown command"
}

# Wrong local paths exit 1 with a message naming the path (issue 11 finding 8): never an empty
# answer that looks like an empty lake.
cli_missing_paths() {
  local nope=$TEST_TMP/nope
  expect_rc 1 "$ECOM" cat "$nope/views"
  expect_contains "$LAST_ERR" "$nope/views: no such file or directory" "cat"
  expect_rc 1 "$ECOM" schema "$nope/x.parquet"
  expect_contains "$LAST_ERR" "$nope/x.parquet" "schema"
  expect_rc 1 "$ECOM" load --input "$nope/ev.ndjson" --out "$TEST_TMP/lake"
  expect_contains "$LAST_ERR" "$nope/ev.ndjson" "load"
  expect_rc 1 timeout 20 "$ECOM" dash --data "$nope" --listen 127.0.0.1:0
  expect_contains "$LAST_ERR" "$nope: no such directory" "dash"
  touch "$TEST_TMP/afile"
  expect_rc 1 timeout 20 "$ECOM" dash --data "$TEST_TMP/afile" --listen 127.0.0.1:0
  expect_contains "$LAST_ERR" "not a directory" "dash on a file"
}

case_run cli_help
case_run cli_librdkafka
case_run cli_errors
case_run cli_missing_paths
suite_end
