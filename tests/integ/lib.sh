# tests/integ/lib.sh — sourced by shell tests. Each case is a function; `case_run NAME` runs it
# and prints PASS/FAIL NAME for tests/run.sh. Inside a case, `ok COND-MESSAGE` style helpers
# record a failure and the case goes on; a case fails if any helper failed.
set -u
: "${ECOM:?run through tests/run.sh}"
_case_failed=0
_suite_failed=0

fail() { echo "  check failed: $*"; _case_failed=1; }
expect_eq() { [ "$1" == "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; }
expect_ge() { [ "$1" -ge "$2" ] 2>/dev/null || fail "${3:-value}: expected >= $2, got '$1'"; }
expect_le() { [ "$1" -le "$2" ] 2>/dev/null || fail "${3:-value}: expected <= $2, got '$1'"; }
expect_contains() { grep -qF -- "$2" <<<"$1" || fail "${3:-output}: expected to contain '$2', got: $(head -c 300 <<<"$1")"; }
# expect_rc EXPECTED CMD...: runs CMD, checks its exit code; its stderr is kept in $LAST_ERR.
expect_rc() {
  local want=$1; shift
  LAST_ERR=$("$@" 2>&1 >/dev/null); local rc=$?
  [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want; stderr: $(head -c 300 <<<"$LAST_ERR")"
}

case_run() {
  _case_failed=0
  "$1"
  if [ $_case_failed = 0 ]; then echo "PASS $1"; else echo "FAIL $1"; _suite_failed=1; fi
}
suite_end() { exit $_suite_failed; }
