# The dashboard page in headless Chromium (tests/integ/test_dash_browser.mjs): on an empty lake
# (an empty but working page) and on a lake holding a day of minute windows. Screenshots go to
# tests/artifacts/dashboard*.png.
set -u
: "${ECOM:?run through tests/run.sh}"
WEB="$REPO/src/dash/web"
if [ ! -d "$WEB/node_modules/playwright-core" ]; then
  echo "  playwright-core is not installed: running scripts/setup.d/web.sh"
  bash "$REPO/scripts/setup.d/web.sh" || { echo "FAIL browser_setup"; exit 1; }
fi
ART="$REPO/tests/artifacts"
mkdir -p "$ART"
rc=0
. "$REPO/tests/integ/dash_lib.sh"   # start_dash, stop_dash, start_fake

mkdir -p "$TEST_TMP/empty"
if start_dash "$TEST_TMP/empty"; then
  DASH_URL=$DASH_URL DASH_MODE=empty SHOT="$ART/dashboard-empty.png" node "$REPO/tests/integ/test_dash_browser.mjs" || rc=1
  stop_dash
else
  echo "FAIL start_empty"; rc=1
fi
# A lake with a day of minute windows; the test commits one more window while the page is open.
LAKE="$TEST_TMP/lake"
if "$PY" "$REPO/tests/integ/dash_fixture.py" "$LAKE" --start 2026-11-24T00:00:00Z --minutes 1440 && start_dash "$LAKE"; then
  DASH_URL=$DASH_URL DASH_MODE=data SHOT="$ART/dashboard.png" \
    DASH_ADD_WINDOW="'$PY' '$REPO/tests/integ/dash_fixture.py' '$LAKE' --add-window --seed 9" \
    node "$REPO/tests/integ/test_dash_browser.mjs" || rc=1
  stop_dash
else
  echo "FAIL start_data"; rc=1
fi
# The page over a stream's open windows only (a fake /status, schema 2): provisional at once.
start_fake
mkdir -p "$TEST_TMP/empty2"
if [ -n "$FAKE_URL" ] && start_dash "$TEST_TMP/empty2" --stream "$FAKE_URL"; then
  DASH_URL=$DASH_URL DASH_MODE=run RUN_T0=$(date +%s%3N) SHOT="$ART/dashboard-provisional.png" \
    node "$REPO/tests/integ/test_dash_browser.mjs" || rc=1
  stop_dash
else
  echo "FAIL start_fake_stream"; rc=1
fi
kill $FAKE_PID 2>/dev/null; wait $FAKE_PID 2>/dev/null

# The page's charts and controls (tests/integ/test_dash_page.mjs): a lake with two blocks of minutes
# and a gap between them, plus a fake stream whose open minute follows the second block.
# The lake's first minute (09:00, where the data begins) is partial, and so is 10:19 (a run
# stopped inside it: a .stop mark); 10:40 is a lone minute.
TLAKE="$TEST_TMP/time-lake"
start_fake --at 2026-11-24T11:30:00Z
if [ -n "$FAKE_URL" ] &&
   "$PY" "$REPO/tests/integ/dash_fixture.py" "$TLAKE" --start 2026-11-24T09:00:00Z --minutes 1 --seed 3 &&
   "$PY" "$REPO/tests/integ/dash_fixture.py" "$TLAKE" --start 2026-11-24T10:00:00Z --minutes 20 &&
   "$PY" "$REPO/tests/integ/dash_fixture.py" "$TLAKE" --start 2026-11-24T10:40:00Z --minutes 1 --seed 4 &&
   "$PY" "$REPO/tests/integ/dash_fixture.py" "$TLAKE" --start 2026-11-24T11:10:00Z --minutes 20 --seed 2 &&
   mkdir -p "$TLAKE/_ecom/starts" &&   # an `ecom run` stopped at 10:19:30 (its clean-stop mark)
   : >"$TLAKE/_ecom/starts/$(printf %020d $(( $(date -d 2026-11-24T10:19:30Z +%s) * 1000000 ))).stop" &&
   start_dash "$TLAKE" --stream "$FAKE_URL"; then
  DASH_URL=$DASH_URL ART="$ART" node "$REPO/tests/integ/test_dash_page.mjs" || rc=1
  stop_dash
else
  echo "FAIL start_time_page"; rc=1
fi
kill $FAKE_PID 2>/dev/null; wait $FAKE_PID 2>/dev/null

# `ecom run` (broker, generator, stream, dashboard): the funnel is provisional from the first minute.
RUN_OUT="$TEST_TMP/run.out"
RUN_T0=$(date +%s%3N)
"$ECOM" run --out "$TEST_TMP/run-data" --listen 127.0.0.1:0 --rate 50 --users 500 --seed 11 >"$RUN_OUT" 2>"$RUN_OUT.err" &
RUN_PID=$!
RUN_URL=
for _ in $(seq 1 300); do   # bounded wait for the "dashboard at" line
  RUN_URL=$(sed -n 's/.*dashboard at \(http[^ ]*\/\).*/\1/p' "$RUN_OUT" | head -1)
  [ -n "$RUN_URL" ] && break
  kill -0 $RUN_PID 2>/dev/null || break
  sleep 0.1
done
if [ -n "$RUN_URL" ]; then
  DASH_URL=$RUN_URL DASH_MODE=run RUN_T0=$RUN_T0 SHOT="$ART/dashboard-run.png" \
    node "$REPO/tests/integ/test_dash_browser.mjs" || rc=1
else
  echo "  ecom run printed no dashboard URL: $(tail -c 1500 "$RUN_OUT.err")"; echo "FAIL start_run"; rc=1
fi
kill -INT $RUN_PID 2>/dev/null
wait $RUN_PID || { echo "FAIL run_exit"; rc=1; }
exit $rc
