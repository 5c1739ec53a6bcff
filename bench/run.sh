#!/usr/bin/env bash
# bench/run.sh — runs every benchmark (bench/bench_*.sh), or those whose name contains $1.
# Each benchmark prints its figures and a ratio against a peer run in the same invocation.
# Results are not tests: nothing here fails a build. See docs/benchmarks.md.
set -uo pipefail
cd "$(dirname "$0")/.."
export REPO=$(pwd) ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
export PY="$ECOM_CACHE/venv/bin/python" ECOM_OPT="$REPO/build/ecom"
export ECOM_SERVICES_DIR=$(mktemp -d /tmp/ecom-bench.XXXXXX)
trap 'for s in tests/services/*.sh; do [ -e "$s" ] && bash "$s" stop >/dev/null 2>&1; done; rm -rf "$ECOM_SERVICES_DIR"' EXIT
for b in bench/bench_*.sh; do
  [ -e "$b" ] || continue
  [[ -z "${1:-}" || "$b" == *"$1"* ]] || continue
  echo "=== $b"
  bash "$b" || echo "(benchmark $b exited with $?)"
done
