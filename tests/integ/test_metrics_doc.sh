# `ecom metrics`: the catalog printed as text and as Markdown, and docs/stream.md holds exactly
# the Markdown output between its two marker comments (the docs' table of metrics cannot drift
# from the catalog).
. "$(dirname "$0")/lib.sh"
DOC="$(dirname "$0")/../../docs/stream.md"

metrics_usage() {
  expect_rc 0 "$ECOM" metrics --help
  expect_rc 2 "$ECOM" metrics --bogus
  expect_contains "$LAST_ERR" "ecom metrics:"
  expect_rc 2 "$ECOM" metrics extra-arg
  local out
  out=$("$ECOM" metrics) || fail "ecom metrics"
  for t in sales_per_minute category_activity product_activity sales_by_city sales_by_channel funnel \
           top_products top_products_by_revenue; do
    expect_contains "$out" "$t"
  done
}

metrics_doc_matches_catalog() {
  "$ECOM" metrics --markdown >"$TEST_TMP/want.md" || fail "ecom metrics --markdown"
  sed -n '/^<!-- metrics-catalog:begin/,/^<!-- metrics-catalog:end/p' "$DOC" | sed '1d;$d' >"$TEST_TMP/got.md"
  expect_ge "$(wc -l <"$TEST_TMP/want.md")" 40 "lines of the catalog"
  diff -u "$TEST_TMP/want.md" "$TEST_TMP/got.md" >"$TEST_TMP/diff" || fail "docs/stream.md differs from 'ecom metrics --markdown': $(head -c 600 "$TEST_TMP/diff")"
}

case_run metrics_usage
case_run metrics_doc_matches_catalog
suite_end
