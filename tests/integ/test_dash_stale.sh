# The page when the numbers stop (tests/integ/test_dash_stale.mjs, headless Chromium): over a lake
# whose newest window is minutes old and a fake stream status (dash_fake_status.py) that first
# answers, then is killed, then the lake cannot be read. The header must say how old the newest
# data is and, when the numbers have stopped, why — never draw the stopped numbers as live.
set -u
: "${ECOM:?run through tests/run.sh}"
. "$REPO/tests/integ/dash_lib.sh"   # start_dash, stop_dash, start_fake
rc=0
LAKE="$TEST_TMP/lake"
START=$(date -u -d '-30 min' +%Y-%m-%dT%H:%M:00Z)   # 25 minutes ending 5 minutes ago
"$PY" "$REPO/tests/integ/dash_fixture.py" "$LAKE" --start "$START" --minutes 25 || { echo "FAIL fixture"; exit 1; }

# A stream that answers (Kafka reachable), then dies while the page is open.
start_fake --kafka-ok
if [ -n "$FAKE_URL" ] && start_dash "$LAKE" --stream "$FAKE_URL"; then
  DASH_URL=$DASH_URL FAKE_PID=$FAKE_PID LAKE=$LAKE MODE=stream node "$REPO/tests/integ/test_dash_stale.mjs" || rc=1
  stop_dash
else
  echo "FAIL start_stream"; rc=1
fi
kill $FAKE_PID 2>/dev/null; wait $FAKE_PID 2>/dev/null

# A stream that answers but cannot reach its broker (the fake's default).
start_fake
if [ -n "$FAKE_URL" ] && start_dash "$LAKE" --stream "$FAKE_URL"; then
  DASH_URL=$DASH_URL MODE=kafka node "$REPO/tests/integ/test_dash_stale.mjs" || rc=1
  stop_dash
else
  echo "FAIL start_kafka"; rc=1
fi
kill $FAKE_PID 2>/dev/null; wait $FAKE_PID 2>/dev/null

# No stream: the age only (nothing is expected to move), then a lake that cannot be read, then
# the dashboard itself stopped (the test sends it SIGTERM; stop_dash still checks its exit 0).
if start_dash "$LAKE"; then
  DASH_URL=$DASH_URL DASH_PID=$DASH_PID LAKE=$LAKE MODE=tables node "$REPO/tests/integ/test_dash_stale.mjs" || rc=1
  stop_dash
else
  echo "FAIL start_tables"; rc=1
fi
# Windows stamped in the future (a producer's clock ahead, within the stream's --max-future):
# their age is "ahead of the dashboard's clock", never "0 s".
FLAKE="$TEST_TMP/future-lake"
FSTART=$(date -u -d '+3 min' +%Y-%m-%dT%H:%M:00Z)
if "$PY" "$REPO/tests/integ/dash_fixture.py" "$FLAKE" --start "$FSTART" --minutes 2 && start_dash "$FLAKE"; then
  DASH_URL=$DASH_URL MODE=future node "$REPO/tests/integ/test_dash_stale.mjs" || rc=1
  stop_dash
else
  echo "FAIL start_future"; rc=1
fi
# Quiet minutes: a lake the real binary wrote from sparse traffic (most minutes have views but
# no order, so no sales_per_minute row): those minutes are a known 0, not a gap of "no data".
QLAKE="$TEST_TMP/quiet-lake"
if "$ECOM_OPT" gen --seed 3 --users 50 --start 2026-11-23T10:00:00Z --rate 0.3 --duration 30m --out "$TEST_TMP/quiet.ndjson" --quiet &&
   "$ECOM_OPT" stream --input "$TEST_TMP/quiet.ndjson" --out "$QLAKE" --quiet && start_dash "$QLAKE"; then
  DASH_URL=$DASH_URL MODE=quiet node "$REPO/tests/integ/test_dash_stale.mjs" || rc=1
  stop_dash
else
  echo "FAIL start_quiet"; rc=1
fi
# The same lake with its sales_per_minute file lost (deleted), then unreadable (its bytes
# garbled): the minutes the other tables recorded orders in are "no data" with why, never $0.
for mode in lost unreadable; do
  L="$TEST_TMP/$mode-lake"
  cp -r "$QLAKE" "$L" || { echo "FAIL copy_$mode"; rc=1; continue; }
  for f in "$L"/sales_per_minute/date=*/*.parquet; do
    if [ $mode = lost ]; then rm "$f"; else head -c 4096 /dev/urandom >"$f"; fi
  done
  if start_dash "$L"; then
    DASH_URL=$DASH_URL MODE=$mode node "$REPO/tests/integ/test_dash_stale.mjs" || rc=1
    stop_dash
  else
    echo "FAIL start_$mode"; rc=1
  fi
done
exit $rc
