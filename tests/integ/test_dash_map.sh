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
. "$REPO/tests/integ/dash_lib.sh"   # start_dash, stop_dash
# A folder that is not a lake (the banner case): a few files and folders, no table.
NOTLAKE="$TEST_TMP/home"
mkdir -p "$NOTLAKE/Documents" "$NOTLAKE/music" && echo hi >"$NOTLAKE/notes.txt"
rc=0
start_dash "$NOTLAKE"; pid2=$DASH_PID; url2=$DASH_URL
start_dash "$LAKE"; pid=$DASH_PID; url=$DASH_URL
if [ -n "$url" ] && [ -n "$url2" ]; then
  DASH_URL=$url NOTLAKE_URL=$url2 SHOT="$REPO/tests/artifacts/dashboard-map.png" \
    node "$REPO/tests/integ/test_dash_map.mjs" || rc=1
else
  echo "FAIL map_start"; rc=1
fi
for p in $pid $pid2; do stop_dash "$p"; done
exit $rc
