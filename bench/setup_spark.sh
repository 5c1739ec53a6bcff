#!/usr/bin/env bash
# bench/setup_spark.sh — the Spark peer of bench/bench_spark.sh: pyspark (bench/requirements-spark.txt)
# in a venv of its own, $ECOM_CACHE/venv-spark, so that `make test` and the test venv never carry
# it. Idempotent: does nothing when the venv already has the pinned version. Java comes from the
# machine (Spark 4 needs >= 17; Debian: openjdk-17-jre-headless, already installed for Kafka).
set -euo pipefail
cd "$(dirname "$0")/.."
ECOM_CACHE=${ECOM_CACHE:-$HOME/.cache/ecom}
V=$ECOM_CACHE/venv-spark
REQ=bench/requirements-spark.txt
want=$(grep -v '^#' "$REQ" | tr -d ' ')
if [ -x "$V/bin/python" ] && "$V/bin/pip" freeze 2>/dev/null | grep -qx "$want"; then exit 0; fi
echo "bench/setup_spark.sh: installing $want into $V (once)"
python3 -m venv "$V"
"$V/bin/pip" install -q -r "$REQ"
