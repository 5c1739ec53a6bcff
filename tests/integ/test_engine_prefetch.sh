# The engine's prefetches are in the optimized binary ($ECOM_OPT, the one that ships and is
# benchmarked). GCC 12 took a static inline wrapper whose only effect is __builtin_prefetch for
# a pure function and deleted its call when it was not inlined early: the dedup table's
# prefetch (st_dedup_prefetch) was missing from stream_engine_process_from, and its cache
# miss was ~9% of a run (docs/benchmarks.md, "Per-core speed, fifth pass"). Nothing else can
# see a lost prefetch: the output is the same, only slower.
. "$(dirname "$0")/lib.sh"

# The number of prefetch instructions in function $1 of $ECOM_OPT.
prefetches_in() {
  objdump -d --no-show-raw-insn "$ECOM_OPT" |
    awk -v f="<$1>:" '$2 == f {on = 1; next} on && /^$/ {exit} on && /\tprefetch/ {n++} END {print n + 0}'
}

process_from_prefetches_dedup_and_pair() {
  [ -x "$ECOM_OPT" ] || { fail "no optimized build at $ECOM_OPT (make build/ecom)"; return; }
  # one for the dedup slot, one for the pair slot (and no fewer: the call can vanish silently)
  expect_ge "$(prefetches_in stream_engine_process_from)" 2 "prefetch instructions in stream_engine_process_from"
}

case_run process_from_prefetches_dedup_and_pair
suite_end
