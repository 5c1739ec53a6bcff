# dash_lib.sh — what the dashboard's shell tests share (sourced by test_dash_browser.sh and
# test_dash_map.sh): start `ecom dash` on a free port and wait for its URL (bounded), stop it
# and check its exit, start the fake stream status. Needs ECOM, PY, REPO and TEST_TMP.

# start_dash ROOT [ARGS...]: `ecom dash --data ROOT ARGS` on a free port; sets DASH_PID, DASH_URL
# and DASH_ERR (its stderr file). Returns 1 (with its stderr said) when it did not start.
start_dash() {
  local root=$1; shift
  local out="$TEST_TMP/dash.$RANDOM.out"
  DASH_ERR="$out.err"
  "$ECOM" dash --data "$root" --listen 127.0.0.1:0 --poll 200ms "$@" >"$out" 2>"$DASH_ERR" &
  DASH_PID=$!
  DASH_URL=
  for _ in $(seq 1 100); do   # bounded wait for the "serving" line
    DASH_URL=$(sed -n 's/.*serving \(http[^ ]*\) .*/\1/p' "$out")
    [ -n "$DASH_URL" ] && return 0
    kill -0 $DASH_PID 2>/dev/null || break
    sleep 0.1
  done
  echo "  ecom dash did not start: $(cat "$DASH_ERR")"
  return 1
}

# stop_dash [PID]: SIGTERM, then its exit status must be 0 (else "FAIL dash_exit" and rc=1).
stop_dash() {
  local pid=${1:-$DASH_PID}
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"
  local st=$?
  [ $st = 0 ] || { echo "FAIL dash_exit (status $st)"; rc=1; }
}

# start_fake [ARGS...]: tests/integ/dash_fake_status.py ARGS; sets FAKE_PID and FAKE_URL (empty
# when it did not start within 10 s).
start_fake() {
  local out="$TEST_TMP/fake.$RANDOM.out"
  "$PY" "$REPO/tests/integ/dash_fake_status.py" "$@" >"$out" 2>&1 &
  FAKE_PID=$!
  FAKE_URL=
  for _ in $(seq 1 100); do   # bounded wait for the "listening" line
    FAKE_URL=$(sed -n 's/^listening \(http.*\)/\1/p' "$out")
    [ -n "$FAKE_URL" ] && return 0
    sleep 0.1
  done
  return 1
}
