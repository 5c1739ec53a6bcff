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

case_run cli_help
case_run cli_librdkafka
case_run cli_errors
suite_end
