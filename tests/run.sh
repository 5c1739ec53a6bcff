#!/usr/bin/env bash
# tests/run.sh — runs every test and ends with one line "N passed, N failed".
#
#   tests/run.sh [FILTER]     only tests whose file name contains FILTER
#
# A test is an executable that prints "PASS name" / "FAIL name" lines (one per case); one that
# prints none counts as one case, passed if it exits 0. "SKIP name: reason" lines (a missing
# optional input) are listed and counted apart, never as a pass. Kinds:
#   build/san/tests/test_*     C unit tests (ASan + UBSan)
#   tests/integ/test_*.sh      shell tests (run with bash)
#   tests/integ/test_*.py      Python tests (run with the setup's venv: pyarrow, duckdb, ...)
# Every test gets this environment:
#   ECOM      the sanitized ecom binary (ASan + UBSan), absolute path
#   ECOM_OPT  the optimised binary (for tests that move a lot of data)
#   PY        the venv's python;   REPO the repo root;   TEST_TMP a fresh temp dir for that test
#   ECOM_CACHE, and whatever services export (see tests/services/)
# Services (a real Kafka broker, a real HDFS) are started on demand by the tests through
# tests/services/<name>.sh ensure, and all stopped here at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
export REPO ECOM="$REPO/build/san/ecom" ECOM_OPT="$REPO/build/ecom"
export ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
export PY="$ECOM_CACHE/venv/bin/python"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
FILTER=${1:-}
ART="$REPO/tests/artifacts"
mkdir -p "$ART"
RUN_TMP=$(mktemp -d /tmp/ecom-tests.XXXXXX)
export ECOM_SERVICES_DIR="$RUN_TMP/services"
mkdir -p "$ECOM_SERVICES_DIR"

stop_services() {
  for s in tests/services/*.sh; do
    [ -e "$s" ] && bash "$s" stop >/dev/null 2>&1
  done
  rm -rf "$RUN_TMP"
}
trap stop_services EXIT

passed=0 failed=0 skipped=0
failed_names=() skipped_names=()

run_one() {
  local name=$1; shift
  local out="$ART/$name.log"
  export TEST_TMP="$RUN_TMP/$name"
  mkdir -p "$TEST_TMP"
  local t0=$SECONDS
  timeout --kill-after=10 "${ECOM_TEST_TIMEOUT:-900}" "$@" >"$out" 2>&1
  local rc=$?
  local p f
  p=$(grep -c '^PASS ' "$out")
  f=$(grep -c '^FAIL ' "$out")
  local sk
  sk=$(grep -c '^SKIP ' "$out")
  if [ "$sk" != 0 ]; then
    skipped=$((skipped + sk)); skipped_names+=("$name")
    grep '^SKIP ' "$out" | sed 's/^/    /'
  fi
  if [ "$p" = 0 ] && [ "$f" = 0 ] && [ "$sk" != 0 ] && [ $rc = 0 ]; then
    :   # skipped with a reason: neither passed nor failed
  elif [ "$p" = 0 ] && [ "$f" = 0 ]; then
    if [ $rc = 0 ]; then p=1; else f=1; fi
  elif [ $rc != 0 ] && [ "$f" = 0 ]; then
    f=1   # it crashed or exited non-zero after its passes: that is a failure too
    echo "FAIL $name (exit code $rc)" >>"$out"
  fi
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$f" != 0 ]; then
    failed_names+=("$name")
    printf '%-40s FAIL (%d passed, %d failed, %ds) — log: %s\n' "$name" "$p" "$f" $((SECONDS - t0)) "$out"
    grep -E '^FAIL |check failed|ERROR|Error|error:' "$out" | head -20 | sed 's/^/    /'
  else
    printf '%-40s ok   (%d passed, %ds)\n' "$name" "$p" $((SECONDS - t0))
  fi
}

for t in build/san/tests/test_*; do
  [ -x "$t" ] || continue
  n=$(basename "$t")
  [[ -z "$FILTER" || "$n" == *"$FILTER"* ]] || continue
  run_one "$n" "$t"
done
for t in tests/integ/test_*.sh tests/integ/test_*.py; do
  [ -e "$t" ] || continue
  n=$(basename "$t"); n=${n%.*}
  [[ -z "$FILTER" || "$n" == *"$FILTER"* ]] || continue
  case $t in
    *.sh) run_one "$n" bash "$t" ;;
    *.py) run_one "$n" "$PY" "$t" ;;
  esac
done

[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
[ ${#skipped_names[@]} -gt 0 ] && echo "skipped ($skipped): ${skipped_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
