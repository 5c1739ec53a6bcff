# CLI ground: help, version, unknown commands and flags get clear errors and exit code 2.
. "$(dirname "$0")/lib.sh"

cli_help() {
  local out; out=$("$ECOM" help) || fail "ecom help exited non-zero"
  for c in gen broker stream load cat schema dash run; do expect_contains "$out" "$c"; done
  expect_eq "$("$ECOM" --version)" "ecom $(cat "$REPO/VERSION")" "version"
}

cli_errors() {
  expect_rc 2 "$ECOM"
  expect_rc 2 "$ECOM" no-such-command
  expect_contains "$LAST_ERR" "unknown command"
}

case_run cli_help
case_run cli_errors
suite_end
