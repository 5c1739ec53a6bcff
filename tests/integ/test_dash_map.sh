# The map view of the sales-by-city card in headless Chromium (tests/integ/test_dash_map.mjs),
# over a lake the real binaries wrote: `ecom gen` (every city of the geography, Galápagos
# included) -> `ecom stream --input`; `ecom dash` is the sanitized binary. Screenshots go to
# tests/artifacts/dashboard-map*.png.
set -u
: "${ECOM:?run through tests/run.sh}"
WEB="$REPO/src/dash/web"
[ -d "$WEB/node_modules/playwright-core" ] || bash "$REPO/scripts/setup.d/web.sh" || { echo "FAIL map_setup"; exit 1; }
LAKE="$TEST_TMP/lake"
"$ECOM_OPT" gen --seed 5 --users 2000 --start 2026-11-24T00:00:00Z --rate 40 --duration 2h --out "$TEST_TMP/ev.ndjson" --quiet &&
  "$ECOM_OPT" stream --input "$TEST_TMP/ev.ndjson" --out "$LAKE" --quiet || { echo "FAIL map_lake"; exit 1; }
out="$TEST_TMP/dash.out"
"$ECOM" dash --data "$LAKE" --listen 127.0.0.1:0 >"$out" 2>"$out.err" &
pid=$!
url=
for _ in $(seq 1 100); do   # bounded wait for the "serving" line
  url=$(sed -n 's/.*serving \(http[^ ]*\) .*/\1/p' "$out")
  [ -n "$url" ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
rc=0
if [ -n "$url" ]; then
  DASH_URL=$url SHOT="$REPO/tests/artifacts/dashboard-map.png" node "$REPO/tests/integ/test_dash_map.mjs" || rc=1
else
  echo "  ecom dash did not start: $(cat "$out.err")"; echo "FAIL map_start"; rc=1
fi
kill -TERM $pid 2>/dev/null
wait $pid || { echo "FAIL dash_exit"; rc=1; }
exit $rc
